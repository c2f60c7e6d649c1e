//! The `generate` job's schedule: render threads ([`render`]: scenes sampled per index, rendered
//! in batches, the learned stages on the render device where they run there) hand each image to
//! a pool of workers (composite, the learned stages on the CPU, labels, files:
//! `augment::apply`, `dataset::process`), and this thread writes the in-order files as the
//! results arrive. Memory stays bounded (a fixed number of images in flight) whatever the count.
//! Which images a run makes and taking over a stopped one: [`resume`]; what it needs of the
//! machine: [`memory`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use crossbeam_channel::bounded;
use indicatif::{ProgressBar, ProgressStyle};

mod memory;
mod render;
mod resume;

use crate::augment::apply;
use crate::augment::infer::{AugmentOn, Augmenter, RunsOn};
use crate::config::Config;
use crate::dataset::{self, journal, DatasetWriter, StageTimes};
pub use crate::outdir::check_output;
use crate::outdir::{self, parent_of, sibling, swap_into_place, Sibling};
use crate::pixels::composite::Composited;
use crate::pixels::load::Backgrounds;
use crate::render::{Frame, RenderContext};
pub use memory::{check_memory, default_threads, memory_estimate};
pub use render::open_devices;
use render::{Job, RenderTimes, Work};
pub use resume::shard_span;

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

/// What a run did and where its time went.
#[derive(Debug, Clone)]
pub struct Summary {
    pub dir: PathBuf,
    pub images: u64,
    /// Of those, images a stopped run had written and `--resume` kept.
    pub resumed: u64,
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
    /// Images this process made a second (a resumed run's kept images were made before it).
    pub fn images_per_second(&self) -> f64 {
        self.images.saturating_sub(self.resumed) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
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
    outdir::set_aside_own_partial(&final_dir)?;
    let span = shard_span(cfg, opts.shard)?;
    let done = resume::adopt_unfinished(cfg, &final_dir, &work, opts, span)?;
    if done == 0 {
        outdir::create_output_folder(&work)?;
        journal::Stamp::of(cfg, opts.shard).write(&work)?;
    }
    let result = write_all(cfg, ctxs, opts, &work, &final_dir, span, done);
    match result {
        Ok(mut summary) => {
            summary.resumed = done;
            journal::remove(&work)?;
            if let Some(shard) = opts.shard {
                dataset::shard::write(&work, cfg, shard, span)?;
            }
            swap_into_place(&work, &final_dir, pid)?;
            outdir::remove_stale_partials(&final_dir)?;
            // a shard's folders are its part of the run; merge checks the whole
            if opts.shard.is_none() {
                for w in dataset::anomaly::empty_folders(&final_dir) {
                    eprintln!("rendergan: warning: {w}");
                }
            }
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

/// The job in the unfinished folder `root`. Long: render threads, workers and the in-order
/// writer run in one thread scope because they share the channels, the writer and the
/// borrowed config; each thread's work is its own function.
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
    let bgs = render::backgrounds(cfg)?;
    dataset::create_layout(root, cfg)?;
    let mut writer = DatasetWriter::new(root, cfg, first, first + done)?;
    let bar = progress_bar(end - first, opts.progress);
    let preview_end = first + cfg.output.preview as u64;
    let batch = cfg.batch.max(1);
    // what is rendered: everything but the whole chunks a resumed run's journal holds, except
    // the preview's (its tiles need the pixels); the journal's images are replayed in their
    // place. Chunks start at multiples of `batch` in every run: an image's edge pixels can
    // differ by a rounding with its place in the batch texture, so its batch must not change.
    let b = batch as u64;
    // (a shard starts at a chunk boundary, so its chunks are the single run's)
    let journal_chunks = first + done / b * b;
    let replay_from = (first + (preview_end.min(end) - first).div_ceil(b) * b).min(journal_chunks);
    let chunks = render::chunks(&[(first, replay_from), (journal_chunks, end)], b);
    let replay = |writer: &mut DatasetWriter| -> Result<()> {
        if writer.next_index() == replay_from && journal_chunks > replay_from {
            journal::replay(root, first, replay_from, journal_chunks, writer)?;
        }
        Ok(())
    };
    replay(&mut writer)?;
    // one trained chain per render device: on a GPU its batches run there, on the render
    // thread; on the CPU the workers apply it, one image each
    let augmenters = render::augmenters(cfg, opts.augment_on, ctxs)?;
    let worker_augmenter = augmenters.iter().flatten().find(|a| a.on_cpu());
    let (work_tx, work_rx) = bounded::<Work>(2 * batch);
    let (done_tx, done_rx) = bounded::<Done>(2 * batch + threads);
    let (mut stages, mut worker_augment) = (StageTimes::default(), Duration::ZERO);
    let times = std::thread::scope(|s| -> Result<RenderTimes> {
        // render threads: thread r takes chunks r, r + R, ... of `batch` consecutive images
        let renderers = ctxs.len().max(1);
        let mut handles = Vec::new();
        for (r, (ctx, aug)) in ctxs.iter().zip(&augmenters).enumerate() {
            let (work_tx, bgs, chunks) = (work_tx.clone(), bgs.as_ref(), &chunks);
            let mine = chunks.iter().skip(r).step_by(renderers);
            handles.push(
                s.spawn(move || render::render_chunks(cfg, ctx, aug.as_ref(), mine, bgs, &work_tx)),
            );
        }
        drop(work_tx);
        for _ in 0..threads {
            let (work_rx, done_tx, bgs) = (work_rx.clone(), done_tx.clone(), bgs.as_ref());
            let place = Place { root, preview_end };
            s.spawn(move || worker(cfg, place, bgs, worker_augmenter, work_rx, done_tx));
        }
        drop((work_rx, done_tx));
        // the in-order writer, on this thread
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
        for h in handles {
            times.add(h.join().expect("render threads do not panic")?);
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
        resumed: 0,              // set by `run`, which adopted them
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

/// Where a worker writes: the unfinished dataset folder, and the first image index past the
/// preview's.
#[derive(Clone, Copy)]
struct Place<'a> {
    root: &'a Path,
    preview_end: u64,
}

/// What a worker sends the writer: an image's files written (or why not), and the time the
/// learned stages took on it.
type Done = (Result<dataset::Processed>, Duration);

/// A worker: each image from the render threads made whole ([`Job`]: composited over its
/// background and, with a chain on the CPU, augmented), then labelled and written.
fn worker(
    cfg: &Config,
    place: Place<'_>,
    bgs: Option<&Backgrounds>,
    augmenter: Option<&Augmenter>,
    work_rx: crossbeam_channel::Receiver<Work>,
    done_tx: crossbeam_channel::Sender<Done>,
) {
    for (sc, frame, job) in work_rx {
        let t = Instant::now();
        let composite =
            |f: &Frame| Composited::of(&sc.background, bgs, &f.color, f.width, f.height);
        let (image, note, spent) = match job {
            Job::Composite => (composite(&frame), None, Duration::ZERO),
            Job::Finished(image, note) => (image, Some(note), Duration::ZERO),
            Job::AugmentOnWorker(max_sigma) => {
                let mut image = composite(&frame);
                let aug = augmenter.expect("a chain on the CPU when a worker augments");
                let note = apply::one(aug, &sc, &frame, &mut image, max_sigma);
                (image, Some(note), t.elapsed())
            }
        };
        let composited = t.elapsed() - spent;
        let preview = sc.index < place.preview_end;
        let r = dataset::process(cfg, &sc, &frame, image, place.root, preview, note.as_ref()).map(
            |mut p| {
                // compositing is part of making the image file, as it always was
                p.times.encode += composited;
                p
            },
        );
        if done_tx.send((r, spent)).is_err() {
            break;
        }
    }
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
