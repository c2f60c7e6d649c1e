//! The `generate` job: sample scenes per index, render them in batches on this thread, hand each
//! frame to a worker pool for labels, encoding and writing, and write the in-order files as the
//! results arrive. Memory stays bounded (a fixed number of frames in flight) whatever the count.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam_channel::bounded;
use indicatif::{ProgressBar, ProgressStyle};

use crate::augment::infer::{trained_weights, AugImage, AugmentOn, Augmenter, RunsOn};
use crate::augment::stages::StageStats;
use crate::config::{Background, Config, InputError};
use crate::labels::manifest::AugmentNote;
use crate::dataset::{self, DatasetWriter, StageTimes};
use crate::dataset::{journal, run_folder};
use crate::labels::contrast;
pub use crate::outdir::check_output;
use crate::outdir::{self, parent_of, sibling, swap_into_place, Sibling};
use crate::pixels::composite;
use crate::pixels::load::{self as image_load, Backgrounds};
use crate::render::{ColourPass, Frame, RenderContext, Renderer};
use crate::scene;

/// How a run is carried out (the config's own overrides, `-n`, `--seed`, `-o`, `--augment`,
/// go through `config::load_with` and its checks).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Worker threads for labels and encoding (default: [`default_threads`]).
    pub threads: Option<usize>,
    /// Replace an existing non-empty output folder.
    pub overwrite: bool,
    /// Render devices (default: 2 on a software rasteriser, 1 on a GPU).
    pub render_threads: Option<usize>,
    pub progress: bool,
    /// Where the trained chain runs.
    pub augment_on: AugmentOn,
    /// Continue the unfinished dataset a stopped run of the same config, seed and count left.
    pub resume: bool,
    /// Make only shard (index, total) of the run's images (`--shard i/n`).
    pub shard: Option<(u64, u64)>,
}

impl Options {
    /// A quiet run that replaces what is there (benchmarks, helper datasets).
    pub fn scratch() -> Options {
        Options {
            overwrite: true,
            ..Default::default()
        }
    }
}

/// The global image indices `first..end` that shard `shard` = (i, n) of a run makes: the run's
/// chunks of `batch` images dealt out in contiguous, near-equal runs, so every image keeps the
/// batch (and so the pixels) it has in a single-machine run. The whole run without a shard.
pub fn shard_span(cfg: &Config, shard: Option<(u64, u64)>) -> Result<(u64, u64)> {
    let Some((i, n)) = shard else {
        return Ok((0, cfg.count));
    };
    let b = cfg.batch.max(1) as u64;
    let chunks = cfg.count.div_ceil(b);
    if n == 0 || i >= n {
        return Err(InputError(format!(
            "--shard {i}/{n}: the index must be below the number of shards (0-based: 0/{n} … {}/{n})",
            n.saturating_sub(1)
        ))
        .into());
    }
    if n > chunks {
        return Err(InputError(format!(
            "--shard {i}/{n}: {} images in chunks of render.batch {b} make only {chunks} chunks, \
             the smallest unit a shard can take; use at most {chunks} shards",
            cfg.count
        ))
        .into());
    }
    let at = |k: u64| (k * chunks / n * b).min(cfg.count);
    Ok((at(i), at(i + 1)))
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
    /// Learned augmentation: wall time summed over render threads (on the render device) and
    /// workers (on the CPU).
    pub augment: Duration,
    /// Where the learned chain ran, when one was applied.
    pub augment_on: Option<RunsOn>,
    /// Summed over workers (CPU time, not wall time).
    pub stages: StageTimes,
}

impl Summary {
    pub fn images_per_second(&self) -> f64 {
        self.images as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// About how much memory a run of `cfg` needs at its peak, for large images (where it matters):
/// peak resident memory measured on lavapipe at 4096², 3 images, was 1.74 GB without
/// antialiasing and 2.79 GB with 4× (about 100 and 165 bytes per pixel); 8192², 1 image, 2.9 GB.
pub fn memory_estimate(cfg: &Config) -> u64 {
    let per_pixel: u64 = if cfg.antialias > 1 { 180 } else { 110 };
    (cfg.width as u64) * (cfg.height as u64) * per_pixel + (200 << 20)
}

/// The memory this machine has free now (Linux: MemAvailable), or `None` where it cannot be told.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuses, before anything is rendered, an image size this machine cannot hold in memory (by
/// [`memory_estimate`]; too large a size used to abort on allocation).
pub fn check_memory(cfg: &Config) -> Result<()> {
    let need = memory_estimate(cfg);
    if let Some(free) = available_memory() {
        if need > free {
            return Err(InputError(format!(
                "{}: image {}×{}{} needs about {:.1} GB of memory, and this machine has {:.1} GB \
                 free; make image.width/height smaller{}",
                cfg.file.display(),
                cfg.width,
                cfg.height,
                if cfg.antialias > 1 {
                    " with render.antialias: 4"
                } else {
                    ""
                },
                need as f64 / 1e9,
                free as f64 / 1e9,
                if cfg.antialias > 1 {
                    " or set render.antialias: 1"
                } else {
                    ""
                }
            ))
            .into());
        }
    }
    Ok(())
}

/// Worker threads when `--threads` is not given: `RAYON_NUM_THREADS` when it is a positive whole
/// number (the variable every rayon program and the learning code honour), else all cores.
pub fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// Runs the whole job on the given render devices (see [`open_devices`]). The dataset is
/// written into a hidden sibling folder and swapped in when complete; with `opts.resume` the
/// unfinished folder of a stopped run of the same config, seed and count is continued.
pub fn run(cfg: &Config, ctxs: &[RenderContext], opts: &Options) -> Result<Summary> {
    let start = Instant::now();
    let final_dir = cfg.output.dir.clone();
    check_output(&final_dir, opts.overwrite)?;
    let parent = parent_of(&final_dir);
    outdir::create_output_folder(parent)?;
    let pid = std::process::id();
    let work = sibling(&final_dir, Sibling::Partial, pid);
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("cannot remove {}", work.display()))?;
    }
    let span = shard_span(cfg, opts.shard)?;
    let done = adopt_unfinished(cfg, &final_dir, &work, opts, span)?;
    if done == 0 {
        outdir::create_output_folder(&work)?;
        journal::Stamp::of(cfg, opts.shard).write(&work)?;
    }
    let result = write_all(cfg, ctxs, opts, &work, &final_dir, span, done);
    match result {
        Ok(mut summary) => {
            journal::remove(&work)?;
            if let Some(shard) = opts.shard {
                dataset::shard::write(&work, cfg, shard, span)?;
            }
            swap_into_place(&work, &final_dir, pid)?;
            outdir::remove_stale_partials(&final_dir)?;
            summary.elapsed = start.elapsed();
            Ok(summary)
        }
        Err(e) => {
            let kept = journal::done(&work, span.0).0;
            if kept == 0 {
                let _ = std::fs::remove_dir_all(&work);
                return Err(e);
            }
            eprintln!(
                "rendergan: the {kept} images written so far are kept in {}; when the cause \
                 is outside the config (a full disk, a stop), run the same command with --resume \
                 to finish only the rest (a run without --resume starts over and removes them \
                 when it completes)",
                work.display()
            );
            Err(e)
        }
    }
}

/// With `resume`, moves the unfinished dataset of a stopped run of this same config, seed and
/// count (the one with most images) to `work` and returns how many images it holds; without,
/// says what stopped runs left. 0 when nothing is continued.
fn adopt_unfinished(
    cfg: &Config,
    final_dir: &Path,
    work: &Path,
    opts: &Options,
    (first, end): (u64, u64),
) -> Result<u64> {
    let resume = opts.resume;
    let stale = outdir::stale_partials(final_dir);
    if !resume {
        for (_, p) in &stale {
            eprintln!(
                "rendergan: {} holds {} images of a stopped run; this run starts over and \
                 removes it when it completes (run with --resume instead to continue it)",
                p.display(),
                journal::done(p, first).0
            );
        }
        return Ok(0);
    }
    let mut best: Option<(u64, u64, &Path)> = None;
    for (_, p) in &stale {
        if !journal::matches(p, cfg, opts.shard) {
            eprintln!(
                "rendergan: --resume: {} was made with another config, seed or count; not \
                 continued (it is removed when this run completes)",
                p.display()
            );
            continue;
        }
        let (n, bytes) = journal::done(p, first);
        if best.is_none_or(|(m, ..)| n > m) {
            best = Some((n, bytes, p));
        }
    }
    let Some((n, bytes, from)) = best else {
        eprintln!(
            "rendergan: --resume: no stopped run of this config, seed and count left an \
             unfinished dataset beside {}; starting from image 0",
            final_dir.display()
        );
        return Ok(0);
    };
    std::fs::rename(from, work).with_context(|| {
        format!(
            "cannot take over the unfinished dataset {} (as {})",
            from.display(),
            work.display()
        )
    })?;
    journal::truncate(work, bytes)?;
    eprintln!(
        "rendergan: --resume: {n} of {} images were done in {}; rendering the rest",
        end - first,
        from.display()
    );
    Ok(n)
}

/// The config's background photos, decoded once for all workers (unreadable ones are said and
/// skipped); `None` unless `background.images` is set.
fn backgrounds(cfg: &Config) -> Result<Option<Backgrounds>> {
    Ok(match &cfg.background {
        Background::Images { files, dir, .. } => {
            let b = image_load::load_backgrounds(files, 2 * cfg.width.max(cfg.height));
            for (f, why) in &b.skipped {
                eprintln!("rendergan: skipped background {}: {why}", f.display());
            }
            if b.images.is_empty() {
                return Err(InputError(format!(
                    "{}: background.images.dir: none of the {} files in {} could be read as an \
                     image (see the lines above); give a folder of png/jpg/bmp/tiff/webp photos",
                    cfg.file.display(),
                    files.len(),
                    dir.display()
                ))
                .into());
            }
            Some(b)
        }
        _ => None,
    })
}

/// The job in the unfinished folder `root`: render threads, label/encode workers and the in-order
/// writer run in one thread scope because they share the channels and the borrowed config;
/// rendering and the backgrounds are their own functions.
fn write_all(
    cfg: &Config,
    ctxs: &[RenderContext],
    opts: &Options,
    root: &Path,
    final_dir: &Path,
    (first, end): (u64, u64),
    done: u64,
) -> Result<Summary> {
    let threads = opts.threads.unwrap_or_else(default_threads).max(1);
    let bgs = backgrounds(cfg)?;
    dataset::create_layout(root, cfg)?;
    let mut writer = DatasetWriter::new(root, cfg, first, first + done)?;
    let samples = if cfg.antialias > 1 { 4 } else { 1 };
    let bar = progress_bar(end - first, opts.progress);
    let mut stages = StageTimes::default();
    let preview_n = cfg.output.preview as u64;
    let renderers = ctxs.len().max(1);
    let batch = cfg.batch.max(1);
    // what is rendered: everything but the whole chunks a resumed run's journal holds, except
    // the preview's (its tiles need the pixels); the journal's images are replayed in their
    // place. Chunks start at multiples of `batch` in every run: an image's edge pixels can
    // differ by a rounding with its place in the batch texture, so its batch must not change.
    let b = batch as u64;
    // (a shard starts at a chunk boundary, so its chunks are the single run's)
    let journal_chunks = first + done / b * b;
    let replay_from = (first + preview_n.min(end - first).div_ceil(b) * b).min(journal_chunks);
    let chunks = chunks(&[(first, replay_from), (journal_chunks, end)], b);
    let replay = |writer: &mut DatasetWriter| -> Result<()> {
        if writer.next_index() == replay_from && journal_chunks > replay_from {
            journal::replay(root, first, replay_from, journal_chunks, writer)?;
        }
        Ok(())
    };
    replay(&mut writer)?;
    // one trained chain per render device: on a GPU its batches run there, on the render
    // thread; on the CPU the workers apply it, one image each (`Augment::OnWorker`)
    let augmenters = augmenters(cfg, opts.augment_on, ctxs)?;
    let worker_augmenter = augmenters.iter().flatten().find(|a| a.on_cpu());
    let (work_tx, work_rx) = bounded::<Work>(2 * batch);
    let (done_tx, done_rx) = bounded::<(Result<dataset::Processed>, Duration)>(2 * batch + threads);
    let mut worker_augment = Duration::ZERO;
    let times = std::thread::scope(|s| -> Result<RenderTimes> {
        // render threads: thread r takes chunks r, r + R, ... of `batch` consecutive images
        let mut render_handles = Vec::new();
        for (r, (ctx, aug)) in ctxs.iter().zip(&augmenters).enumerate() {
            let work_tx = work_tx.clone();
            let bgs = bgs.as_ref();
            let chunks = &chunks;
            render_handles.push(s.spawn(move || {
                render_chunks(
                    cfg,
                    ctx,
                    aug.as_ref(),
                    samples,
                    chunks.iter().skip(r).step_by(renderers),
                    bgs,
                    &work_tx,
                )
            }));
        }
        drop(work_tx);
        for _ in 0..threads {
            let (work_rx, done_tx, bgs) = (work_rx.clone(), done_tx.clone(), bgs.as_ref());
            s.spawn(move || {
                for (sc, mut frame, job) in work_rx {
                    let t = Instant::now();
                    let note = match job {
                        Augment::None => Ok(None),
                        Augment::Done(note) => Ok(Some(note)),
                        Augment::OnWorker(max_sigma) => worker_augmenter
                            .ok_or_else(|| anyhow::anyhow!("internal: no CPU augmenter"))
                            .map(|aug| Some(augment_frame(aug, &sc, &mut frame, bgs, max_sigma))),
                    };
                    let spent = t.elapsed();
                    let r = note.and_then(|note| {
                        dataset::process(
                            cfg,
                            &sc,
                            &frame,
                            bgs,
                            root,
                            sc.index < first + preview_n,
                            note.as_ref(),
                        )
                    });
                    if done_tx.send((r, spent)).is_err() {
                        break;
                    }
                }
            });
        }
        drop((work_rx, done_tx));
        let mut result = Ok(());
        for (r, spent) in &done_rx {
            worker_augment += spent;
            let step = r.and_then(|p| {
                stages.labels += p.times.labels;
                stages.encode += p.times.encode;
                stages.write += p.times.write;
                writer.accept(p)?;
                replay(&mut writer)?;
                bar.set_position(writer.images);
                Ok(())
            });
            if step.is_err() {
                result = step;
                break;
            }
        }
        drop(done_rx);
        let mut times = RenderTimes::default();
        for h in render_handles {
            let t = h.join().expect("render threads do not panic")?;
            times.render += t.render;
            times.readback += t.readback;
            times.augment += t.augment;
            times.augment_on = times.augment_on.or(t.augment_on);
        }
        result.map(|_| times)
    })?;
    bar.finish_and_clear();
    if writer.images != end - first {
        bail!(
            "internal: wrote {} of {} images",
            writer.images,
            end - first
        );
    }
    let (images, annotations) = (writer.images, writer.annotations);
    writer.finish(cfg)?;
    Ok(Summary {
        dir: final_dir.to_path_buf(),
        images,
        annotations,
        elapsed: Duration::ZERO, // set by `run` once the dataset is in place
        threads,
        adapter: ctxs.first().map(|c| c.describe()).unwrap_or_default(),
        render: times.render,
        readback: times.readback,
        augment: times.augment + worker_augment,
        augment_on: times.augment_on,
        stages,
    })
}

/// The trained run the config applies, read once and made for each render device (see
/// [`Augmenter::on_device`]); `None`s without one.
fn augmenters(
    cfg: &Config,
    on: AugmentOn,
    ctxs: &[RenderContext],
) -> Result<Vec<Option<Augmenter>>> {
    let Some(dir) = cfg.augment.as_deref() else {
        return Ok(ctxs.iter().map(|_| None).collect());
    };
    let (info, bytes) = run_folder::read_applied(dir)?;
    let weights = trained_weights(&info.stages, bytes)?;
    ctxs.iter()
        .map(|ctx| Augmenter::on_device(&info.stages, info.resolution, &weights, on, ctx).map(Some))
        .collect()
}

/// What a render thread spent its time on, and where it augmented.
#[derive(Default)]
struct RenderTimes {
    render: Duration,
    readback: Duration,
    augment: Duration,
    augment_on: Option<RunsOn>,
}

/// One render device's share of the run: its chunks of images sampled, rendered in batches
/// that fit the coverage budget, augmented when a trained run is applied (where `augment_on`
/// says), and sent to the workers.
fn render_chunks<'c>(
    cfg: &Config,
    ctx: &RenderContext,
    augmenter: Option<&Augmenter>,
    samples: u32,
    chunks: impl Iterator<Item = &'c (u64, u64)>,
    bgs: Option<&Backgrounds>,
    work_tx: &crossbeam_channel::Sender<Work>,
) -> Result<RenderTimes> {
    let mut renderer = Renderer::new(
        &ctx.device,
        &ctx.queue,
        cfg.width,
        cfg.height,
        samples,
        cfg.output.normals,
        cfg.output.depth,
    );
    let mut augment_time = Duration::ZERO;
    let max_tiles = renderer.max_tiles();
    let max_batch = renderer.max_batch();
    'chunks: for &(lo, hi) in chunks {
        let mut pending: Vec<scene::Scene> = (lo..hi).map(|i| scene::sample(cfg, i)).collect();
        if let Some(sc) = pending.iter().find(|s| s.invalid.is_some()) {
            let why = sc.invalid.as_deref().unwrap_or_default();
            return Err(
                InputError(format!("{}: image {}: {why}", cfg.file.display(), sc.index)).into(),
            );
        }
        while !pending.is_empty() {
            // as many images as fit the coverage budget and the texture height
            let mut take = 0;
            let mut tiles = 0;
            for sc in &pending {
                if sc.instances.len() > max_tiles {
                    bail!(
                        "image {} has {} objects, more than the {max_tiles} this image size allows; lower objects[].count",
                        sc.index,
                        sc.instances.len()
                    );
                }
                if take > 0 && (tiles + sc.instances.len() > max_tiles || take == max_batch) {
                    break;
                }
                tiles += sc.instances.len();
                take += 1;
            }
            let rest = pending.split_off(take);
            let (frames, jobs): (Vec<Frame>, Vec<Augment>) = match augmenter {
                None => (
                    renderer.render(&pending)?,
                    pending.iter().map(|_| Augment::None).collect(),
                ),
                // on the CPU the workers augment, each image as in this batch
                Some(aug) if aug.on_cpu() => {
                    let seeds: Vec<u64> = pending.iter().map(|s| s.seed).collect();
                    let max_sigma = aug.max_sigma(&seeds);
                    (
                        renderer.render(&pending)?,
                        pending
                            .iter()
                            .map(|_| Augment::OnWorker(max_sigma))
                            .collect(),
                    )
                }
                Some(aug) => {
                    let (w, h) = (cfg.width as usize, cfg.height as usize);
                    let (frames, notes, spent) =
                        render_and_augment(&mut renderer, aug, &pending, bgs, (w, h))?;
                    augment_time += spent;
                    (frames, notes.into_iter().map(Augment::Done).collect())
                }
            };
            for ((sc, frame), job) in pending.into_iter().zip(frames).zip(jobs) {
                if work_tx.send((sc, frame, job)).is_err() {
                    break 'chunks; // the writer stopped; its error is reported
                }
            }
            pending = rest;
        }
    }
    Ok(RenderTimes {
        render: renderer.render_time,
        readback: renderer.readback_time,
        augment: augment_time,
        augment_on: augmenter.map(|a| a.runs_on()),
    })
}

/// The half-open index ranges `ranges` cut into chunks of at most `batch` images, in order.
fn chunks(ranges: &[(u64, u64)], batch: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for &(lo, hi) in ranges {
        let mut a = lo;
        while a < hi {
            out.push((a, (a + batch).min(hi)));
            a += batch;
        }
    }
    out
}

/// Renders a batch and applies the learned stages on the render device: between render and
/// readback when the batch fits the device in one part ([`Augmenter::fused`]: the background
/// is composited there and only finished images come back), else on the read-back frames
/// ([`augment_frames`]). Returns the frames, their notes, and the time spent on the stages
/// outside the device's batch (setting up, reading back their stats and contrasts); the
/// device's own time is in the renderer's.
fn render_and_augment(
    renderer: &mut Renderer<'_>,
    aug: &Augmenter,
    scenes: &[scene::Scene],
    bgs: Option<&Backgrounds>,
    (w, h): (usize, usize),
) -> Result<(Vec<Frame>, Vec<AugmentNote>, Duration)> {
    let t = Instant::now();
    let backgrounds: Vec<Vec<u8>> = scenes
        .iter()
        .map(|s| composite::background(&s.background, bgs, w as u32, h as u32))
        .collect();
    let seeds: Vec<u64> = scenes.iter().map(|s| s.seed).collect();
    if let Some(mut fused) = aug.fused(&backgrounds, &seeds, w, h)? {
        let mut spent = t.elapsed();
        let frames = renderer.render_with(scenes, Some(&mut fused as &mut dyn ColourPass))?;
        let t = Instant::now();
        let (st, before) = fused.finish()?;
        let notes = frames
            .iter()
            .zip(scenes)
            .zip(&before)
            .enumerate()
            .map(|(k, ((f, s), b))| {
                let n = s.instances.len();
                let before = contrast::ring_contrast(&f.ids, b, w, h, n);
                note(aug, &st, k, s, f, &composite::drop_alpha(&f.color), before)
            })
            .collect();
        spent += t.elapsed();
        return Ok((frames, notes, spent));
    }
    let mut spent = t.elapsed();
    let mut frames = renderer.render(scenes)?;
    let t = Instant::now();
    let notes = augment_frames(aug, scenes, &mut frames, bgs)?;
    spent += t.elapsed();
    Ok((frames, notes, spent))
}

/// Composites each frame's background and applies the learned stages to the batch; the frames
/// then carry finished RGB with alpha 255, and their labels are untouched. Returns per frame
/// what the stages did and each object's edge contrast before and after.
fn augment_frames(
    aug: &Augmenter,
    scenes: &[scene::Scene],
    frames: &mut [Frame],
    bgs: Option<&Backgrounds>,
) -> Result<Vec<AugmentNote>> {
    let Some(first) = frames.first() else {
        return Ok(Vec::new());
    };
    let (w, h) = (first.width as usize, first.height as usize);
    let (mut rgbs, mut alphas, mut before) = (Vec::new(), Vec::new(), Vec::new());
    for (s, f) in scenes.iter().zip(frames.iter()) {
        let (rgb, alpha) = chain_input(s, f, bgs);
        before.push(contrast::ring_contrast(
            &f.ids,
            &rgb,
            w,
            h,
            s.instances.len(),
        ));
        rgbs.push(rgb);
        alphas.push(alpha);
    }
    let mut items: Vec<AugImage<'_>> = rgbs
        .iter_mut()
        .zip(&alphas)
        .zip(scenes)
        .map(|((rgb, alpha), s)| AugImage {
            rgb: rgb.as_mut_slice(),
            alpha: alpha.as_slice(),
            seed: s.seed,
        })
        .collect();
    let st = aug.apply(&mut items, w, h)?;
    Ok(frames
        .iter_mut()
        .zip(&rgbs)
        .zip(scenes)
        .zip(before)
        .enumerate()
        .map(|(k, (((f, rgb), s), before))| chain_output(aug, &st, k, s, f, rgb, before))
        .collect())
}

/// One frame through the chain on the calling thread (a worker), as it would be in its render
/// batch, whose largest blur σ is `max_sigma`; see [`augment_frames`].
fn augment_frame(
    aug: &Augmenter,
    scene: &scene::Scene,
    frame: &mut Frame,
    bgs: Option<&Backgrounds>,
    max_sigma: f32,
) -> AugmentNote {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (mut rgb, alpha) = chain_input(scene, frame, bgs);
    let before = contrast::ring_contrast(&frame.ids, &rgb, w, h, scene.instances.len());
    let item = AugImage {
        rgb: rgb.as_mut_slice(),
        alpha: alpha.as_slice(),
        seed: scene.seed,
    };
    let st = aug.apply_one(item, w, h, max_sigma);
    chain_output(aug, &st, 0, scene, frame, &rgb, before)
}

/// What the chain takes of a frame: RGB with the background composited, and the coverage.
fn chain_input(
    scene: &scene::Scene,
    frame: &Frame,
    bgs: Option<&Backgrounds>,
) -> (Vec<u8>, Vec<u8>) {
    let (w, h) = (frame.width, frame.height);
    (
        composite::finish(&scene.background, bgs, &frame.color, w, h),
        composite::coverage(&frame.color).collect(),
    )
}

/// Puts augmented `rgb` into the frame (alpha 255) and returns its manifest note: image `k`'s
/// values in `st` and each object's contrast `before` and now.
fn chain_output(
    aug: &Augmenter,
    st: &StageStats,
    k: usize,
    scene: &scene::Scene,
    frame: &mut Frame,
    rgb: &[u8],
    before: Vec<Option<f32>>,
) -> AugmentNote {
    for (px, c) in frame.color.chunks_exact_mut(4).zip(rgb.chunks_exact(3)) {
        px.copy_from_slice(&[c[0], c[1], c[2], 255]);
    }
    note(aug, st, k, scene, frame, rgb, before)
}

/// The manifest note of a frame whose augmented pixels are `rgb`: image `k`'s values in `st`
/// and each object's contrast `before` and now.
fn note(
    aug: &Augmenter,
    st: &StageStats,
    k: usize,
    scene: &scene::Scene,
    frame: &Frame,
    rgb: &[u8],
    before: Vec<Option<f32>>,
) -> AugmentNote {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let after = contrast::ring_contrast(&frame.ids, rgb, w, h, scene.instances.len());
    let pick = |v: &[f32]| v.get(k).copied();
    AugmentNote {
        blur: pick(&st.blur),
        light_range: pick(&st.light_range),
        bg_shift: pick(&st.bg_shift),
        bg_texture: pick(&st.bg_texture),
        detail: pick(&st.detail),
        noise: aug.stages.noise.then_some(st.noise),
        contrast: before
            .iter()
            .zip(&after)
            .map(|(a, b)| Some([(*a)?, (*b)?]))
            .collect(),
    }
}

/// The learned stages' part in a worker's job.
enum Augment {
    /// No trained run is applied.
    None,
    /// The render thread applied them (on the render device) and says what they did.
    Done(AugmentNote),
    /// The worker applies them on the CPU, as in a batch whose largest blur σ is this.
    OnWorker(f32),
}

/// What a render thread hands a worker: the scene, its frame, and the learned stages' part.
type Work = (scene::Scene, Frame, Augment);

/// Opens the render devices: one on a GPU; on a software rasteriser one per two cores (each
/// device renders on its own queue thread, so they overlap).
pub fn open_devices(render_threads: Option<usize>) -> Result<Vec<RenderContext>> {
    let first = RenderContext::new()?;
    let n = render_threads
        .unwrap_or(if first.is_software() { 2 } else { 1 })
        .max(1);
    let mut ctxs = vec![first];
    for _ in 1..n {
        ctxs.push(RenderContext::new()?);
    }
    Ok(ctxs)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_estimate_grows_with_pixels_and_antialiasing() {
        let mut cfg = crate::config::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tiny.yaml"
        )))
        .unwrap();
        cfg.width = 8192;
        cfg.height = 8192;
        cfg.antialias = 1;
        let plain = memory_estimate(&cfg);
        cfg.antialias = 4;
        let aa = memory_estimate(&cfg);
        // the measured peaks: 2.9 GB for one 8192² image; more in flight with more images
        assert!((5e9..9e9).contains(&(plain as f64)), "{plain}");
        assert!(aa > plain && aa < 15_000_000_000, "{aa}");
        cfg.width = 64;
        cfg.height = 64;
        assert!(memory_estimate(&cfg) < 300 << 20);
        assert!(check_memory(&cfg).is_ok(), "a 64² config always fits");
    }
}
