//! The adversarial loop: render a synthetic batch from the config, draw real crops, run the
//! chain, update the discriminator on differentiably augmented real and generated images
//! (non-saturating loss, half of its fakes from a history buffer of older ones), then the chain
//! (adversarial + L1 to the render + bound penalties). Before the first step it checks that the
//! real crops and the renders show the same kind of content, and measures the texture of the
//! photos' borders (the background stage's bound). Every `train.probe_every` steps it measures
//! held-out realism and keeps the best averaged chain; it ends with a verdict.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, OptimizerRecord};
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::device::learning_device;
use super::diffaug::diff_augment;
use super::discriminator::{d_loss, g_loss, mean_logit, Discriminator};
use super::ema::Ema;
use super::keep::{self, Keep};
use super::probe::{Best, Collapse, Measured, Outcome, Probe, Score, Verdict, PROBE_IMAGES};
use super::samples::{caption, grid, stack};
use super::synth::Synth;
use crate::augment::infer::{self, batch_inputs};
use crate::augment::model::{first_value, values, Chain};
use crate::augment::stages::{Scales, StageConfig, StageStats};
use crate::config::Config;
use crate::dataset::run_folder::{
    self as rf, write_atomic, Metrics, RunInfo, ADAM_D, ADAM_G, GENERATOR_BEST, HISTORY, RUN_FORMAT,
};
use crate::eval::content;
use crate::pixels::chw::from_chw;
use crate::pixels::photos::RealSet;
use crate::scene::{self, seed};

/// Command-line choices for a training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Folder of real photos.
    pub real: std::path::PathBuf,
    /// Run folder.
    pub out: std::path::PathBuf,
    /// Overrides `train.steps`.
    pub steps: Option<u64>,
    /// Continue from the run folder's last checkpoint.
    pub resume: bool,
    pub device: super::device::LearnOn,
    pub quiet: bool,
    /// Measure held-out realism, keep the best checkpoint and end with a verdict (off only for
    /// `bench --train`, which times steps).
    pub probe: bool,
}

const D_WIDTH: usize = 32;
/// Averaging horizon of the generator weights `generate` applies, in steps.
const EMA_HORIZON: f32 = 200.0;
const METRIC_COLUMNS: [&str; 20] = [
    "step",
    "d_loss",
    "g_adv",
    "g_l1",
    "penalty",
    "blur_mean",
    "blur_std",
    "light_range_mean",
    "light_range_std",
    "bg_shift_mean",
    "bg_shift_std",
    "bg_texture_mean",
    "detail_mean",
    "detail_std",
    "noise",
    "d_real",
    "d_fake",
    "realism",
    "realism_std",
    "step_seconds",
];

fn mean_std(v: &[f32]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let n = v.len() as f64;
    let m = v.iter().map(|x| *x as f64).sum::<f64>() / n;
    let var = v.iter().map(|x| (*x as f64 - m).powi(2)).sum::<f64>() / n;
    (m, var.sqrt())
}

fn scalar(t: Tensor<1>) -> f64 {
    first_value(t)
}

/// The background stage's texture bound: the median over photos of their border texture, each
/// photo resized so that a typical training crop (`crop` × its shorter side) spans `res` pixels.
fn border_bound(real: &RealSet, res: usize, crop: f64) -> f32 {
    let mut v: Vec<f64> = real
        .images
        .iter()
        .map(|im| {
            let f = res as f64 / (crop * im.width().min(im.height()) as f64);
            let (w, h) = (
                ((im.width() as f64 * f).round() as u32).max(1),
                ((im.height() as f64 * f).round() as u32).max(1),
            );
            let small = image::imageops::resize(im, w, h, image::imageops::FilterType::Triangle);
            content::border_texture(&small)
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0) as f32
}

/// A status line on stderr.
fn say(line: &str) {
    eprintln!("rendergan: {line}");
}

/// Runs (or resumes) a training. Long because the step loop stays here: burn's optimisers take
/// the models by value and hand them back, so the chain, discriminator, optimisers, average and
/// history live in this one frame; setup, resuming, metrics rows, sample pages, checkpoints and
/// the verdict are their own functions.
pub fn train(cfg: &Config, opts: &TrainOptions) -> Result<()> {
    let spec = &cfg.train;
    let steps = opts.steps.unwrap_or(spec.steps);
    let (res, c, b) = (spec.resolution, spec.channels, spec.batch);
    let (device, device_name) = learning_device(opts.device)?;
    let (lo, hi) = spec.real_crop.range();
    let crop_mid = (lo + hi) / 2.0;
    // learning at the output's scale: crops of `render`² renders, each `share` of its render, so
    // a photo crop is `share` of what `real_crop` says a whole render shows
    let render = spec.render_size(cfg.height);
    let share = res as f64 / render as f64;
    let scales = Scales {
        maps: render as f32 / res as f32,
        pixel: 1.0,
    };
    let real = load_photos(&opts.real, photo_side(res, render, lo))?;
    say(&format!("learning on {device_name}"));
    if render > res {
        // renders are at most 4 × the training side: a taller output is learned at a share of
        // its scale, which the user can raise with train.resolution
        let at = if render as u32 == cfg.height {
            String::new()
        } else {
            format!(
                " (the output is {} px tall: {:.2} of its scale{})",
                cfg.height,
                render as f64 / cfg.height as f64,
                if res == 64 {
                    "; train.resolution: 128 learns nearer it, at ~4× the step's cost"
                } else {
                    ""
                }
            )
        };
        say(&format!(
            "learning at the output's scale: {res}² crops of {render}² renders, photo crops of \
             {:.0}–{:.0} % of a photo's shorter side{at}",
            100.0 * lo * share,
            100.0 * hi * share
        ));
    }
    let real_crop = |r: &mut ChaCha8Rng| spec.real_crop.sample(r) * share;
    for w in crate::eval::real_set_warnings(&real, crop_mid) {
        say(&format!("warning: {w}"));
    }
    let resumed = resumed_info(opts)?;
    std::fs::create_dir_all(opts.out.join(rf::SAMPLES))
        .with_context(|| format!("cannot create {}", opts.out.display()))?;

    let ctx = super::synth::open_device()?;
    let mut synth = Synth::new(cfg, (res, render), seed::TRAIN_SCENES, &ctx)?;
    // the busiest of a few crops, as the renders' windows are picked
    let tries = synth.candidates();
    let probe_renders = Synth::new(cfg, (res, render), seed::PROBE_SCENES, &ctx)?.many(
        0,
        PROBE_IMAGES,
        b.max(8),
        c,
    )?;
    let (train_set, held_set, disjoint) = real.holdout();

    // content: the photos and the renders should show the same kind of thing. Content is the
    // scene's (how many objects, how large, on what), so it is compared on whole frames at
    // whatever scale training learns: photo crops of `real_crop`, and the probe's scenes made at
    // SUPERSAMPLE × the compared side and shrunk as the photos are, as `fit` measures them (at
    // the output's scale the crops would mostly measure sharpness, the blur stage's work)
    let mut rng = ChaCha8Rng::seed_from_u64(seed::mix(cfg.seed, seed::CONTENT_CROPS));
    let crops: Vec<Vec<f32>> = (0..PROBE_IMAGES)
        .map(|_| train_set.crop(&mut rng, res as u32, |r| spec.real_crop.sample(r), c))
        .collect();
    let raw_images = probe_renders.split(c * res * res);
    let content_renders = Synth::supersampled(cfg, res, seed::PROBE_SCENES, &ctx)?.shrunk(
        0,
        PROBE_IMAGES,
        b.max(8),
        c,
    )?;
    let (real_content, synth_content) = (
        content::measure(&crops, c, res),
        content::measure(&content_renders, c, res),
    );
    for w in content::mismatch(&real_content, &synth_content, Some(crop_mid)) {
        say(&format!("warning: {w}"));
    }
    let probe = Probe::new(
        &held_set,
        disjoint,
        (real_crop, tries),
        probe_renders,
        (c, res, scales),
        cfg.seed,
    );

    let stages = stage_config(
        spec,
        &real,
        (res, render),
        crop_mid,
        resumed.as_ref(),
        &opts.out,
    )?;
    if stages.background {
        say(&format!(
            "background texture bound {:.3} (RMS the photos' borders show)",
            stages.bg_texture
        ));
    }

    let device = device.autodiff();
    let (mut g, mut d) = crate::augment::model::drawing(Some((&device, cfg.seed)), || {
        (
            Chain::new(&stages, &device),
            Discriminator::new(c, D_WIDTH, &device),
        )
    });
    let mut ema = Ema::new(&g, EMA_HORIZON);
    let mut start = 0u64;
    let mut checkpoint_dir = None;
    if let Some(info) = &resumed {
        let (step, ck) = resume_checkpoint(info, &opts.out, steps)?;
        start = step;
        infer::load_module(&mut g, &ck.join(rf::GENERATOR_EMA))?;
        ema = Ema::resume(&g, start, EMA_HORIZON);
        infer::load_module(&mut g, &ck.join(rf::GENERATOR_TRAIN))?;
        infer::load_module(&mut d, &ck.join(rf::DISCRIMINATOR))?;
        checkpoint_dir = Some(ck);
    }
    // the averaged chain with the best held-out realism so far (what generate applies)
    let mut best_bytes = match &checkpoint_dir {
        Some(ck) => std::fs::read(ck.join(rf::GENERATOR)).unwrap_or_default(),
        None => Vec::new(),
    };
    let mut outcome = match (&resumed, opts.probe) {
        (_, false) => None,
        (Some(_), true) => Some(Outcome::read(match &checkpoint_dir {
            Some(ck) if start < steps => ck,
            _ => &opts.out,
        })?),
        (None, true) => {
            let raw = probe.score(&raw_images, false, cfg.seed);
            let first = probe.score(&probe.apply(&g, &device), false, cfg.seed);
            best_bytes = infer::module_bytes(&g)?;
            write_atomic(&opts.out.join(rf::GENERATOR), &best_bytes)?;
            say(&format!(
                "held-out realism before training: raw renders {raw}, starting chain {first}"
            ));
            Some(Outcome {
                raw,
                best: Best {
                    step: 0,
                    score: first,
                },
                verdict: None,
            })
        }
    };
    std::fs::copy(&cfg.file, opts.out.join(rf::CONFIG_COPY))
        .with_context(|| format!("cannot copy {}", cfg.file.display()))?;
    let mut opt_g = AdamConfig::new().with_beta_1(0.5).init();
    let mut opt_d = AdamConfig::new().with_beta_1(0.5).init();
    let sample_len = c * res * res;
    let mut history: Vec<Vec<f32>> = Vec::new();
    if let Some(ck) = &checkpoint_dir {
        opt_g = load_optimizer(opt_g, &ck.join(ADAM_G))?;
        opt_d = load_optimizer(opt_d, &ck.join(ADAM_D))?;
        history = read_history(&ck.join(HISTORY), sample_len)?;
    }
    let mut metrics = Metrics::open(
        &opts.out,
        &METRIC_COLUMNS,
        resumed.is_some().then_some(start),
    )?;
    let mut last_score: Option<Score> = None;
    let raw_spread = opts.probe.then(|| probe.spread(&raw_images));
    let mut collapse = Collapse::default();
    for step in start..steps {
        let t0 = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(seed::mix(cfg.seed ^ seed::TRAIN_STEP, step));
        let batch = synth.batch(step * b as u64, b, c)?;
        let real_batch: Vec<f32> = (0..b)
            .flat_map(|_| {
                train_set
                    .crop_busiest(&mut rng, res as u32, real_crop, c, tries)
                    .1
            })
            .collect();
        let keep = Keep::new(&batch.images, &batch.ids, c, res, &device);
        let rendered =
            Tensor::<4>::from_data(TensorData::new(batch.images, [b, c, res, res]), &device);
        let real_t = Tensor::<4>::from_data(
            TensorData::new(real_batch.clone(), [b, c, res, res]),
            &device,
        );
        let (alpha, z) = batch_inputs(
            &batch.seeds,
            &batch.alphas,
            c,
            res,
            res,
            scales,
            Some(&batch.windows),
            &device,
        );
        let out = g.forward(rendered.clone(), alpha, &z, scales);
        let fake = out.image();

        // discriminator: real vs. fakes, half of them from the history of older fakes, both
        // through the same random differentiable augmentation
        let fake_now = fake.clone().detach();
        let fake_data = values(fake_now.clone());
        let fake_d = if history.len() >= b {
            let half = b / 2;
            let mut mixed: Vec<f32> = fake_data[..(b - half) * sample_len].to_vec();
            for _ in 0..half {
                mixed.extend_from_slice(&history[rng.gen_range(0..history.len())]);
            }
            Tensor::<4>::from_data(TensorData::new(mixed, [b, c, res, res]), &device)
        } else {
            fake_now
        };
        let d_real = d.forward(diff_augment(real_t, &mut rng));
        let d_fake = d.forward(diff_augment(fake_d, &mut rng));
        let (d_real_mean, d_fake_mean) = (mean_logit(&d_real), mean_logit(&d_fake));
        let loss_d = d_loss(d_real, d_fake);
        let d_loss_value = scalar(loss_d.clone());
        let grads = GradientsParams::from_grads(loss_d.backward(), &d);
        d = opt_d.step(spec.lr_d, d, grads);

        // chain: fool the discriminator, stay close to the render, stay inside the bounds,
        // keep the objects visible
        let adv = g_loss(d.forward(diff_augment(fake.clone(), &mut rng)));
        let l1 = (out.content() - rendered).abs().mean();
        let penalty = match &keep {
            Some(k) => out.penalty.clone() + k.charge(out.content()).mul_scalar(keep::WEIGHT),
            None => out.penalty.clone(),
        };
        let (g_adv, g_l1, pen) = (
            scalar(adv.clone()),
            scalar(l1.clone()),
            scalar(penalty.clone()),
        );
        let loss_g = adv + l1.mul_scalar(spec.l1) + penalty;
        let grads = GradientsParams::from_grads(loss_g.backward(), &g);
        g = opt_g.step(spec.lr_g, g, grads);
        ema.update(&g);

        for k in 0..b {
            let s = fake_data[k * sample_len..(k + 1) * sample_len].to_vec();
            if history.len() < spec.history {
                history.push(s);
            } else if spec.history > 0 {
                let i = rng.gen_range(0..spec.history);
                history[i] = s;
            }
        }
        let done = step + 1;
        let secs = t0.elapsed().as_secs_f64();
        let probed = done % spec.probe_every == 0 || done == steps;
        let mut realism = (f64::NAN, f64::NAN);
        let mut spread = None;
        if let (true, Some(o)) = (probed, outcome.as_mut()) {
            let avg = ema.apply(&g);
            let applied = probe.apply(&avg, &device);
            spread = raw_spread.map(|raw| (probe.spread(&applied), raw));
            let score = probe.score(&applied, false, cfg.seed ^ done);
            if score.key() < o.best.score.key() {
                best_bytes = infer::module_bytes(&avg)?;
                o.best = Best { step: done, score };
            }
            realism = (score.accuracy, score.std);
            last_score = Some(score);
        }
        let st: &StageStats = &out.stats;
        if probed {
            for w in collapse.check(st, spread, done) {
                say(&format!("warning: {w}"));
            }
        }
        metrics.row(&metric_row(
            done,
            [d_loss_value, g_adv, g_l1, pen],
            st,
            [d_real_mean, d_fake_mean],
            realism,
            secs,
        ))?;
        if !opts.quiet {
            let r = if probed {
                format!("  realism {:.2}±{:.2}", realism.0, realism.1)
            } else {
                String::new()
            };
            let (bm, bs) = mean_std(&st.blur);
            eprintln!("step {done:>6}/{steps}  D {d_loss_value:.3}  G {g_adv:.3}  L1 {g_l1:.3}  blur {bm:.2}±{bs:.2}  noise {:.3}{r}  {secs:.2} s/step", st.noise);
        }
        if done % spec.sample_every == 0 || done == steps {
            let text = match (&outcome, last_score) {
                (Some(o), Some(s)) => format!(
                    "STEP {done}  REALISM {:.2}  RAW {:.2}  BEST {:.2} AT {}",
                    s.accuracy, o.raw.accuracy, o.best.score.accuracy, o.best.step
                ),
                (Some(o), None) => format!("STEP {done}  RAW {:.2}", o.raw.accuracy),
                (None, _) => format!("STEP {done}"),
            };
            let rows = sample_rows(&out.stages, &real_batch, c, res, 8);
            write_sample_page(&opts.out, done, &rows, &text)?;
        }
        if probed || done % spec.checkpoint_every == 0 {
            checkpoint(
                &opts.out,
                Trained {
                    g: &g,
                    ema: &ema,
                    d: &d,
                    opt_g: &opt_g,
                    opt_d: &opt_d,
                    history: &history,
                },
                &stages,
                (res, render),
                done,
                &cfg.file,
                outcome.as_ref().map(|o| (o, best_bytes.as_slice())),
            )?;
        }
    }
    let Some(mut outcome) = outcome else {
        return Ok(());
    };
    if start >= steps && outcome.verdict.is_some() {
        say(&format!(
            "{} already at step {start} of {steps}; nothing to do",
            opts.out.display()
        ));
    } else {
        let verdict = judge(&opts.out, &stages, &probe, &outcome, &device, cfg.seed)?;
        if !verdict.helped() {
            hand_over_identity(&opts.out, &stages, &device)?;
        }
        outcome.verdict = Some(verdict);
        outcome.write(&opts.out)?;
    }
    if let Some(v) = &outcome.verdict {
        for line in v.lines() {
            say(&line);
        }
        // the best checkpoint is the most realistic, which a collapsed chain can be
        if let (true, Some(at)) = (v.helped(), collapse.spread_at) {
            if v.best_step >= at {
                say(&format!(
                    "warning: the chain handed over (step {}) is from after the collapse warned at step {at}: its images are far more alike than the raw renders; look at samples/, and consider --steps {} or a lower train.lr_g",
                    v.best_step,
                    (at / 2).max(1)
                ));
            }
        }
    }
    Ok(())
}

/// The newest checkpoint of the run in `out` to continue (its step and folder). When training
/// goes on past it, what `generate` applies is put back as it was at that checkpoint (a finished
/// run that handed over the identity competes against its best again).
fn resume_checkpoint(info: &RunInfo, out: &Path, steps: u64) -> Result<(u64, std::path::PathBuf)> {
    if info.format != RUN_FORMAT {
        return Err(crate::config::InputError(format!(
            "--resume {}: the run was made by another rendergan version (run format {}, this one trains {RUN_FORMAT}); use a new -o folder",
            out.display(),
            info.format
        ))
        .into());
    }
    let Some((step, ck)) = rf::latest_checkpoint(out)? else {
        return Err(crate::config::InputError(format!(
            "--resume {}: the run has no {}/ folder (made by an earlier rendergan, or stopped \
             before its first checkpoint); use a new -o folder",
            out.display(),
            rf::CHECKPOINTS
        ))
        .into());
    };
    if step < steps {
        // training on: what generate applies, and the outcome, as they were at the
        // checkpoint (a finished run that handed over the identity competes against its
        // best again)
        let applied = ck.join(rf::GENERATOR);
        let bytes = std::fs::read(&applied)
            .with_context(|| format!("cannot read {}", applied.display()))?;
        write_atomic(&out.join(rf::GENERATOR), &bytes)?;
        let aside = out.join(GENERATOR_BEST);
        if aside.is_file() {
            std::fs::remove_file(&aside)
                .with_context(|| format!("cannot remove {}", aside.display()))?;
        }
    }
    say(&format!("resuming {} at step {step}", out.display()));
    Ok((step, ck))
}

/// The shorter side photos are loaded at: enough for a crop of `lo` × `res` / `render` of it to
/// span `res` pixels without enlarging (within 4 × `res` and 4096).
fn photo_side(res: usize, render: usize, lo: f64) -> u32 {
    let need = (render as f64 / lo.max(0.05)).ceil() as usize;
    need.clamp(4 * res, 4096.max(4 * res)) as u32
}

/// The user's photos (shorter side at most `side`), with what was skipped said on stderr.
fn load_photos(dir: &Path, side: u32) -> Result<RealSet> {
    let real = RealSet::load(dir, side)?;
    say(&format!(
        "{} real images from {} ({} unreadable, {} other files skipped)",
        real.images.len(),
        real.dir.display(),
        real.unreadable.len(),
        real.not_images
    ));
    if let Some(skipped) = real.skipped() {
        say(&format!("warning: {skipped}"));
    }
    Ok(real)
}

/// The run info of the folder to continue (`--resume`), or `None` for a new run (refused when
/// the folder already holds one).
fn resumed_info(opts: &TrainOptions) -> Result<Option<RunInfo>> {
    Ok(if opts.resume {
        Some(rf::read_run_info(&opts.out)?)
    } else {
        if opts.out.join(rf::RUN_INFO).exists() {
            bail!(
                "{} already holds a run; pass --resume to continue it or -o a new folder",
                opts.out.display()
            );
        }
        None
    })
}

/// The stages to learn, from the config; the background's texture bound is measured on the
/// photos' borders, or kept from the run being resumed (whose settings must match).
fn stage_config(
    spec: &crate::config::TrainSpec,
    real: &RealSet,
    (res, render): (usize, usize),
    crop_mid: f64,
    resumed: Option<&RunInfo>,
    out: &Path,
) -> Result<StageConfig> {
    let c = spec.channels;
    let mut stages = StageConfig {
        channels: c,
        blur: spec.blur,
        lighting: spec.lighting,
        background: spec.background,
        detail: spec.detail,
        noise: spec.noise,
        width: 8,
        bg_texture: border_bound(real, res, crop_mid),
    };
    if let Some(info) = resumed {
        // the bound was measured when the run started; keep it
        let same = StageConfig {
            bg_texture: info.stages.bg_texture,
            ..stages.clone()
        };
        if info.stages == same && info.resolution == res && info.render_size() != render {
            // the same stages where they learn changed: a run of the former default (whole)
            let at = if info.render_size() == info.resolution {
                "whole"
            } else {
                "output"
            };
            return Err(crate::config::InputError(format!(
                "--resume {}: the run learned on crops of {}² renders, the config now asks for {}² (train.learn_at, whose default is output since 2026-12-07); pass --learn-at {at} to go on with the run, or use a new -o folder",
                out.display(),
                info.render_size(),
                render
            ))
            .into());
        }
        if info.stages != same || info.resolution != res || info.render_size() != render {
            bail!(
                "--resume {}: the run was trained with {:?} at {}² (crops of {}² renders), the config now asks for {:?} at {}² (crops of {}² renders); use a new -o folder",
                out.display(),
                info.stages,
                info.resolution,
                info.render_size(),
                same,
                res,
                render
            );
        }
        stages = same;
    }
    Ok(stages)
}

/// One metrics.csv row, in [`METRIC_COLUMNS`] order.
fn metric_row(
    step: u64,
    [d_loss, g_adv, g_l1, penalty]: [f64; 4],
    st: &StageStats,
    [d_real, d_fake]: [f64; 2],
    realism: (f64, f64),
    secs: f64,
) -> Vec<f64> {
    let (bm, bs) = mean_std(&st.blur);
    let (lm, ls) = mean_std(&st.light_range);
    let (sm, ss) = mean_std(&st.bg_shift);
    let (tm, _) = mean_std(&st.bg_texture);
    let (dm, ds) = mean_std(&st.detail);
    vec![
        step as f64,
        d_loss,
        g_adv,
        g_l1,
        penalty,
        bm,
        bs,
        lm,
        ls,
        sm,
        ss,
        tm,
        dm,
        ds,
        st.noise as f64,
        d_real,
        d_fake,
        realism.0,
        realism.1,
        secs,
    ]
}

/// Writes `samples/step_N.png`: the grid of `rows` with `text` below.
fn write_sample_page(
    dir: &Path,
    step: u64,
    rows: &[Vec<image::RgbImage>],
    text: &str,
) -> Result<()> {
    let tiles = grid(rows);
    let page = stack(&tiles, &caption(text, tiles.width()));
    let p = dir.join(rf::SAMPLES).join(format!("step_{step:06}.png"));
    page.save(&p)
        .with_context(|| format!("cannot write {}", p.display()))
}

/// Do no harm: a run whose learning did not help hands over a chain that changes nothing as
/// `generator.bpk`, and keeps its best learned weights aside as `generator_best.bpk`.
fn hand_over_identity(dir: &Path, stages: &StageConfig, device: &Device) -> Result<()> {
    std::fs::rename(dir.join(rf::GENERATOR), dir.join(GENERATOR_BEST))
        .with_context(|| format!("cannot move the best weights aside in {}", dir.display()))?;
    let identity = Chain::identity(stages, device);
    write_atomic(&dir.join(rf::GENERATOR), &infer::module_bytes(&identity)?)
}

/// The final, more thorough comparison of the applied checkpoint with the raw renders.
fn judge(
    dir: &Path,
    stages: &StageConfig,
    probe: &Probe,
    outcome: &Outcome,
    device: &Device,
    seed: u64,
) -> Result<Verdict> {
    let mut best = Chain::new(stages, device);
    infer::load_module(&mut best, &dir.join(rf::GENERATOR))?;
    let final_seed = seed ^ scene::seed::VERDICT;
    let raw = probe.score(&probe.raw(), true, final_seed);
    let measure = |chain: &Chain| {
        let images = probe.apply(chain, device);
        Measured {
            score: probe.score(&images, true, final_seed),
            safety: probe.safety(&images),
        }
    };
    let enabled = best.enabled();
    Ok(Verdict::judge(
        raw,
        measure(&best),
        outcome.best.step,
        probe,
        |stage| (enabled.len() > 1).then(|| measure(&best.without(stage))),
        &enabled,
    ))
}

/// What a checkpoint holds of the training state.
struct Trained<'a> {
    g: &'a Chain,
    ema: &'a Ema,
    d: &'a Discriminator,
    opt_g: &'a ModuleOptimizer,
    opt_d: &'a ModuleOptimizer,
    history: &'a [Vec<f32>],
}

/// Writes one checkpoint as a unit ([`rf::save_checkpoint`]): the current weights, their average
/// (what `--resume` continues), the discriminator, both optimisers' moments, the history of
/// fakes, the chain `generate` applies (`best`: the best probe's bytes; without a probe, the
/// average), the outcome and `run.json`. Then the run folder's own `generator.bpk`, `run.json`
/// and outcome are replaced by the checkpoint's, each atomically.
fn checkpoint(
    dir: &Path,
    t: Trained<'_>,
    stages: &StageConfig,
    (res, render): (usize, usize),
    step: u64,
    config: &Path,
    outcome: Option<(&Outcome, &[u8])>,
) -> Result<()> {
    let optim = |o: &ModuleOptimizer| -> Result<Vec<u8>> {
        Ok(o.to_record()
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("cannot serialise the optimiser: {e}"))?
            .to_vec())
    };
    let avg = infer::module_bytes(&t.ema.apply(t.g))?;
    let applied = outcome.map_or(avg.as_slice(), |(_, best)| best);
    let history: Vec<u8> = t
        .history
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let info = RunInfo {
        format: RUN_FORMAT,
        stages: stages.clone(),
        resolution: res,
        render,
        d_width: D_WIDTH,
        step,
        config: config.to_path_buf(),
    };
    let info = serde_json::to_string_pretty(&info)?;
    let outcome_json = outcome
        .map(|(o, _)| serde_json::to_string_pretty(o))
        .transpose()?;
    let (train, disc) = (infer::module_bytes(t.g)?, infer::module_bytes(t.d)?);
    let (adam_g, adam_d) = (optim(t.opt_g)?, optim(t.opt_d)?);
    let mut files: Vec<(&str, &[u8])> = vec![
        (rf::GENERATOR_TRAIN, &train),
        (rf::GENERATOR_EMA, &avg),
        (rf::DISCRIMINATOR, &disc),
        (ADAM_G, &adam_g),
        (ADAM_D, &adam_d),
        (HISTORY, &history),
        (rf::GENERATOR, applied),
        (rf::RUN_INFO, info.as_bytes()),
    ];
    if let Some(j) = &outcome_json {
        files.push((rf::OUTCOME, j.as_bytes()));
    }
    rf::save_checkpoint(dir, step, &files)?;
    write_atomic(&dir.join(rf::GENERATOR), applied)?;
    write_atomic(&dir.join(rf::RUN_INFO), info.as_bytes())?;
    if let Some(j) = &outcome_json {
        write_atomic(&dir.join(rf::OUTCOME), j.as_bytes())?;
    }
    Ok(())
}

/// Restores an optimiser's moments from a checkpoint file.
fn load_optimizer(o: ModuleOptimizer, path: &Path) -> Result<ModuleOptimizer> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let record = OptimizerRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| anyhow::anyhow!("{}: cannot load the optimiser: {e}", path.display()))?;
    Ok(o.load_record(record))
}

/// Reads the history of fakes (little-endian f32, `sample_len` values each) of a checkpoint.
fn read_history(path: &Path, sample_len: usize) -> Result<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(values
        .chunks_exact(sample_len.max(1))
        .map(|c| c.to_vec())
        .collect())
}

/// Sample grid rows: the render, the image after each stage, and real crops.
fn sample_rows(
    stages: &[(Option<crate::augment::stages::Stage>, Tensor<4>)],
    real: &[f32],
    c: usize,
    res: usize,
    cols: usize,
) -> Vec<Vec<image::RgbImage>> {
    let n = c * res * res;
    let mut rows = Vec::new();
    for (_, t) in stages {
        let data = values(t.clone());
        let k = (data.len() / n).min(cols);
        rows.push(
            (0..k)
                .map(|i| from_chw(&data[i * n..(i + 1) * n], c, res as u32, res as u32))
                .collect(),
        );
    }
    let k = (real.len() / n).min(cols);
    rows.push(
        (0..k)
            .map(|i| from_chw(&real[i * n..(i + 1) * n], c, res as u32, res as u32))
            .collect(),
    );
    rows
}
