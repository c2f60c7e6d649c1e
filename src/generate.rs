//! The `generate` job: sample scenes per index, render them in batches on this thread, hand each
//! frame to a worker pool for labels, encoding and writing, and write the in-order files as the
//! results arrive. Memory stays bounded (a fixed number of frames in flight) whatever the count.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam_channel::bounded;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Background, Config};
use crate::dataset::{self, image_io, DatasetWriter, StageTimes};
use crate::render::{RenderContext, Renderer};
use crate::scene;

/// Command-line choices that override or add to the config.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub out: Option<PathBuf>,
    pub count: Option<u64>,
    pub seed: Option<u64>,
    /// Worker threads for labels and encoding (default: all cores).
    pub threads: Option<usize>,
    /// Replace an existing non-empty output folder.
    pub overwrite: bool,
    pub progress: bool,
}

/// What a run did and where its time went.
#[derive(Debug, Clone)]
pub struct Summary {
    pub dir: PathBuf,
    pub images: u64,
    pub annotations: u64,
    pub elapsed: Duration,
    pub threads: usize,
    pub adapter: String,
    pub render: Duration,
    pub readback: Duration,
    /// Summed over workers (CPU time, not wall time).
    pub stages: StageTimes,
}

impl Summary {
    pub fn images_per_second(&self) -> f64 {
        self.images as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Applies the CLI overrides to a loaded config.
pub fn apply(cfg: &mut Config, opts: &Options) {
    if let Some(n) = opts.count {
        cfg.count = n;
    }
    if let Some(s) = opts.seed {
        cfg.seed = s;
    }
    if let Some(o) = &opts.out {
        cfg.output.dir = o.clone();
    }
}

/// Checks the output folder before anything is rendered: an existing non-empty folder is kept
/// unless `--overwrite` was given.
pub fn check_output(dir: &Path, overwrite: bool) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("output path {} exists and is not a folder; pass -o with another path", dir.display());
    }
    let non_empty = dir.is_dir() && std::fs::read_dir(dir)?.next().is_some();
    if non_empty && !overwrite {
        bail!(
            "output folder {} already holds files; pass --overwrite to replace it (it is swapped only \
             after the new run completes) or -o to write elsewhere",
            dir.display()
        );
    }
    Ok(())
}

/// Runs the whole job.
pub fn run(cfg: &Config, ctx: &RenderContext, opts: &Options) -> Result<Summary> {
    let start = Instant::now();
    let final_dir = cfg.output.dir.clone();
    check_output(&final_dir, opts.overwrite)?;
    let parent = final_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let name = final_dir.file_name().and_then(|n| n.to_str()).unwrap_or("dataset");
    let work = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let result = write_all(cfg, ctx, opts, &work, &final_dir, start);
    match result {
        Ok(summary) => {
            swap_into_place(&work, &final_dir)?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            Err(e)
        }
    }
}

fn swap_into_place(work: &Path, final_dir: &Path) -> Result<()> {
    if final_dir.exists() {
        let trash = work.with_extension("old");
        std::fs::rename(final_dir, &trash).with_context(|| format!("cannot move the old {} aside", final_dir.display()))?;
        std::fs::rename(work, final_dir)?;
        std::fs::remove_dir_all(&trash)?;
    } else {
        std::fs::rename(work, final_dir).with_context(|| format!("cannot move the finished dataset to {}", final_dir.display()))?;
    }
    Ok(())
}

fn write_all(cfg: &Config, ctx: &RenderContext, opts: &Options, root: &Path, final_dir: &Path, start: Instant) -> Result<Summary> {
    let threads = opts.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let bgs = match &cfg.background {
        Background::Images { files, dir, .. } => {
            let b = image_io::load_backgrounds(files, 2 * cfg.width.max(cfg.height));
            for (f, why) in &b.skipped {
                eprintln!("rendergan: skipped background {}: {why}", f.display());
            }
            if b.images.is_empty() {
                bail!("background.images.dir: none of the {} files in {} could be read", files.len(), dir.display());
            }
            Some(b)
        }
        _ => None,
    };
    dataset::create_layout(root, cfg)?;
    let mut writer = DatasetWriter::new(root, cfg)?;
    let samples = if ctx_samples(cfg) { 4 } else { 1 };
    let mut renderer = Renderer::new(&ctx.device, &ctx.queue, cfg.width, cfg.height, samples, false);
    let max_tiles = renderer.max_tiles();
    let batch = cfg.batch.min(renderer.max_batch()).max(1);
    let bar = progress_bar(cfg.count, opts.progress);
    let in_flight_limit = 2 * threads + 2 * batch;
    let (tx, rx) = bounded::<Result<dataset::Processed>>(in_flight_limit + batch);
    let mut stages = StageTimes::default();
    let mut in_flight = 0usize;
    let preview_n = cfg.output.preview as u64;
    let accept = |r: Result<dataset::Processed>, writer: &mut DatasetWriter, stages: &mut StageTimes| -> Result<()> {
        let p = r?;
        stages.labels += p.times.labels;
        stages.encode += p.times.encode;
        stages.write += p.times.write;
        writer.accept(p)?;
        bar.set_position(writer.images);
        Ok(())
    };
    pool.in_place_scope(|s| -> Result<()> {
        let mut next = 0u64;
        while next < cfg.count {
            let mut scenes = Vec::with_capacity(batch);
            let mut tiles = 0;
            while next < cfg.count && scenes.len() < batch {
                let sc = scene::sample(cfg, next);
                if sc.instances.len() > max_tiles {
                    bail!(
                        "image {next} has {} objects, more than the {max_tiles} this image size allows; lower objects[].count",
                        sc.instances.len()
                    );
                }
                if !scenes.is_empty() && tiles + sc.instances.len() > max_tiles {
                    break;
                }
                tiles += sc.instances.len();
                scenes.push(sc);
                next += 1;
            }
            let frames = renderer.render(&scenes);
            for (sc, frame) in scenes.into_iter().zip(frames) {
                let tx = tx.clone();
                let bgs = bgs.as_ref();
                let want_preview = sc.index < preview_n;
                s.spawn(move |_| {
                    let r = dataset::process(cfg, &sc, &frame, bgs, root, want_preview);
                    let _ = tx.send(r);
                });
                in_flight += 1;
            }
            while let Ok(r) = rx.try_recv() {
                in_flight -= 1;
                accept(r, &mut writer, &mut stages)?;
            }
            while in_flight > in_flight_limit {
                let r = rx.recv().expect("workers hold senders until they finish");
                in_flight -= 1;
                accept(r, &mut writer, &mut stages)?;
            }
        }
        while in_flight > 0 {
            let r = rx.recv().expect("workers hold senders until they finish");
            in_flight -= 1;
            accept(r, &mut writer, &mut stages)?;
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    let (images, annotations) = (writer.images, writer.annotations);
    writer.finish(cfg, final_dir)?;
    Ok(Summary {
        dir: final_dir.to_path_buf(),
        images,
        annotations,
        elapsed: start.elapsed(),
        threads,
        adapter: ctx.describe(),
        render: renderer.render_time,
        readback: renderer.readback_time,
        stages,
    })
}

fn ctx_samples(cfg: &Config) -> bool {
    cfg.antialias > 1
}

fn progress_bar(count: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(count);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  ETA {eta}")
            .expect("the progress template is valid"),
    );
    bar
}
