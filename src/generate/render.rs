//! The render threads' side of a run: each render device samples its chunks of images,
//! renders them in batches that fit, hands the learned stages to the render device where they
//! run there (`augment::apply`), and sends each image to the workers with what is left to do.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::augment::apply;
use crate::augment::infer::{trained_weights, AugmentOn, Augmenter, RunsOn};
use crate::config::{Background, Config, InputError};
use crate::dataset::run_folder;
use crate::labels::manifest::AugmentNote;
use crate::pixels::composite::Composited;
use crate::pixels::load::{self as image_load, Backgrounds};
use crate::render::{Frame, RenderContext, Renderer};
use crate::scene;

/// The config's background photos, decoded once for all workers (unreadable ones are said and
/// skipped); `None` unless `background.images` is set.
pub(super) fn backgrounds(cfg: &Config) -> Result<Option<Backgrounds>> {
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

/// The trained run the config applies, read once and made for each render device (see
/// [`Augmenter::on_device`]); `None`s without one.
pub(super) fn augmenters(
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
        .map(|ctx| {
            Augmenter::on_device(
                &info.stages,
                (info.resolution, info.render_size()),
                &weights,
                on,
                ctx,
            )
            .map(Some)
        })
        .collect()
}

/// What a render thread spent its time on, and where it augmented.
#[derive(Default)]
pub(super) struct RenderTimes {
    pub(super) render: Duration,
    pub(super) readback: Duration,
    pub(super) augment: Duration,
    pub(super) augment_on: Option<RunsOn>,
}

impl RenderTimes {
    /// Another render thread's times added to these.
    pub(super) fn add(&mut self, t: RenderTimes) {
        self.render += t.render;
        self.readback += t.readback;
        self.augment += t.augment;
        self.augment_on = self.augment_on.or(t.augment_on);
    }
}

/// One render device's share of the run: its chunks of images sampled, rendered in batches
/// that fit the coverage budget, augmented when a trained run is applied (where `augment_on`
/// says), and sent to the workers. Long: one loop over a device's chunks, each cut into batches
/// that fit, rendered one of three ways.
pub(super) fn render_chunks<'c>(
    cfg: &Config,
    ctx: &RenderContext,
    augmenter: Option<&Augmenter>,
    chunks: impl Iterator<Item = &'c (u64, u64)>,
    bgs: Option<&Backgrounds>,
    work_tx: &crossbeam_channel::Sender<Work>,
) -> Result<RenderTimes> {
    let mut renderer = Renderer::new(
        &ctx.device,
        &ctx.queue,
        cfg.width,
        cfg.height,
        if cfg.antialias > 1 { 4 } else { 1 },
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
            let (frames, jobs): (Vec<Frame>, Vec<Job>) = match augmenter {
                None => (
                    renderer.render(&pending)?,
                    pending.iter().map(|_| Job::Composite).collect(),
                ),
                // on the CPU the workers augment, each image as in this batch
                Some(aug) if aug.on_cpu() => {
                    let seeds: Vec<u64> = pending.iter().map(|s| s.seed).collect();
                    let max_sigma = aug.max_sigma(&seeds);
                    (
                        renderer.render(&pending)?,
                        pending
                            .iter()
                            .map(|_| Job::AugmentOnWorker(max_sigma))
                            .collect(),
                    )
                }
                Some(aug) => {
                    let (w, h) = (cfg.width as usize, cfg.height as usize);
                    let done =
                        apply::render_and_augment(&mut renderer, aug, &pending, bgs, (w, h))?;
                    augment_time += done.spent;
                    let jobs = done
                        .images
                        .into_iter()
                        .zip(done.notes)
                        .map(|(image, note)| Job::Finished(image, note))
                        .collect();
                    (done.frames, jobs)
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
pub(super) fn chunks(ranges: &[(u64, u64)], batch: u64) -> Vec<(u64, u64)> {
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

/// What the worker does with a rendered image before writing it.
pub(super) enum Job {
    /// Composite it over its background (no trained run is applied).
    Composite,
    /// Nothing: the render thread composited and augmented it on the render device.
    Finished(Composited, AugmentNote),
    /// Composite it and apply the learned stages on the CPU, as in a batch whose largest blur σ
    /// is this.
    AugmentOnWorker(f32),
}

/// What a render thread hands a worker: the scene, its render, and what is left to do.
pub(super) type Work = (scene::Scene, Frame, Job);

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
