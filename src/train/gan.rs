//! The adversarial loop: render a synthetic batch from the config, draw real crops, run the
//! chain, update the patch discriminator (non-saturating loss, half of its fakes from a history
//! buffer of older ones), then the chain (adversarial + L1 to the render + bound penalties).
//! Writes metrics, sample grids and atomic checkpoints; resumes from the last one.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::softplus;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::data::{from_chw, RealSet};
use super::ema::Ema;
use super::run::{grid, write_atomic, Metrics};
use crate::augment::infer::{self, batch_inputs, rgb_to_chw, RunInfo};
use crate::augment::model::{Chain, Discriminator, StageConfig, StageStats};
use crate::config::{Background, Config, InputError};
use crate::dataset::image_io;
use crate::render::{RenderContext, Renderer};
use crate::scene;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::DeviceKind;

/// Command-line choices for a training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Folder of real photos.
    pub real: PathBuf,
    /// Run folder.
    pub out: PathBuf,
    /// Overrides `train.steps`.
    pub steps: Option<u64>,
    /// Continue from the run folder's last checkpoint.
    pub resume: bool,
    /// auto | cpu | gpu.
    pub device: String,
    pub quiet: bool,
}

const D_WIDTH: usize = 32;
/// Averaging horizon of the generator weights `generate` applies, in steps.
const EMA_HORIZON: f32 = 200.0;
const METRIC_COLUMNS: [&str; 14] = [
    "step",
    "d_loss",
    "g_adv",
    "g_l1",
    "penalty",
    "blur_mean",
    "blur_std",
    "light_range_mean",
    "light_range_std",
    "detail_mean",
    "detail_std",
    "noise",
    "d_real",
    "step_seconds",
];

/// The device burn learns on. `auto` takes a hardware GPU when wgpu sees one, else the CPU
/// (flex); `gpu` insists on a hardware GPU; `wgpu` takes wgpu's default adapter even when it is
/// a software one (lavapipe), which exercises the GPU code path on any machine, slowly.
pub fn learning_device(choice: &str) -> Result<(Device, String)> {
    let hardware = || {
        crate::render::adapters()
            .into_iter()
            .find(|a| ["DiscreteGpu", "IntegratedGpu", "VirtualGpu"].contains(&a.kind.as_str()))
    };
    match choice {
        "cpu" => Ok((Device::flex(), "cpu (flex)".into())),
        "auto" => Ok(match hardware() {
            Some(a) => match probe(Device::wgpu(DeviceKind::DefaultDevice)) {
                Some(d) => (d, format!("gpu (wgpu: {})", a.name)),
                None => (
                    Device::flex(),
                    format!("cpu (flex; burn's wgpu backend failed on {})", a.name),
                ),
            },
            None => (Device::flex(), "cpu (flex; no GPU adapter)".into()),
        }),
        "gpu" => match hardware() {
            Some(a) => match probe(Device::wgpu(DeviceKind::DefaultDevice)) {
                Some(d) => Ok((d, format!("gpu (wgpu: {})", a.name))),
                None => bail!(
                    "--device gpu: burn's wgpu backend failed a test pass on {}; use --device cpu",
                    a.name
                ),
            },
            None => Err(InputError(format!(
                "--device gpu: wgpu sees no hardware GPU (adapters: {}); use --device cpu or auto",
                adapter_names()
            ))
            .into()),
        },
        "wgpu" => match probe(Device::wgpu(DeviceKind::DefaultDevice)) {
            Some(d) => Ok((d, format!("wgpu default adapter ({})", adapter_names()))),
            None => bail!(
                "--device wgpu: burn's wgpu backend failed a test pass on this machine's adapters ({}); use --device cpu",
                adapter_names()
            ),
        },
        other => {
            Err(InputError(format!("--device {other}: expected auto, cpu, gpu or wgpu")).into())
        }
    }
}

/// The device if a small forward and backward pass runs on it (a GPU whose driver burn's wgpu
/// backend cannot use panics there); `auto` then falls back to the CPU.
fn probe(device: Device) -> Option<Device> {
    let d = device.clone();
    let ok = std::panic::catch_unwind(move || {
        let ad = d.autodiff();
        let x = Tensor::<4>::ones([1, 1, 4, 4], &ad).require_grad();
        let k = Tensor::<4>::ones([1, 1, 3, 3], &ad);
        let y = conv2d(
            x.clone(),
            k,
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        );
        let g = y.sum().backward();
        x.grad(&g).is_some()
    });
    match ok {
        Ok(true) => Some(device),
        _ => None,
    }
}

fn adapter_names() -> String {
    let names: Vec<String> = crate::render::adapters()
        .into_iter()
        .map(|a| format!("{} [{}]", a.name, a.kind))
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

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
    t.into_data()
        .try_to_vec::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f32::NAN) as f64
}

/// Renders synthetic training images at the training resolution.
struct Synth<'a> {
    cfg: Config,
    renderer: Renderer<'a>,
    backgrounds: Option<image_io::Backgrounds>,
}

impl<'a> Synth<'a> {
    fn new(cfg: &Config, res: usize, ctx: &'a RenderContext) -> Result<Synth<'a>> {
        let mut c = cfg.clone();
        c.width = res as u32;
        c.height = res as u32;
        // a stream of scenes apart from any dataset's images
        c.seed = scene::mix(cfg.seed, 0x7EA1_7EA1);
        let backgrounds = match &c.background {
            Background::Images { files, .. } => {
                Some(image_io::load_backgrounds(files, 2 * res as u32))
            }
            _ => None,
        };
        let renderer = Renderer::new(
            &ctx.device,
            &ctx.queue,
            c.width,
            c.height,
            if c.antialias > 1 { 4 } else { 1 },
            false,
        );
        Ok(Synth {
            cfg: c,
            renderer,
            backgrounds,
        })
    }

    /// (images CHW in [-1, 1], coverage per image, seeds) for scene indices `first..first + n`.
    fn batch(
        &mut self,
        first: u64,
        n: usize,
        channels: usize,
    ) -> (Vec<f32>, Vec<Vec<f32>>, Vec<u64>) {
        let scenes: Vec<scene::Scene> = (first..first + n as u64)
            .map(|i| scene::sample(&self.cfg, i))
            .collect();
        let frames = self.renderer.render(&scenes);
        let (w, h) = (self.cfg.width, self.cfg.height);
        let mut x = Vec::new();
        let mut alphas = Vec::new();
        for (s, f) in scenes.iter().zip(&frames) {
            let rgb = image_io::finish(&s.background, self.backgrounds.as_ref(), &f.color, w, h);
            x.extend(rgb_to_chw(&rgb, channels, w as usize, h as usize));
            alphas.push(
                f.color
                    .chunks_exact(4)
                    .map(|p| p[3] as f32 / 255.0)
                    .collect(),
            );
        }
        (x, alphas, scenes.iter().map(|s| s.seed).collect())
    }
}

/// Runs (or resumes) a training.
pub fn train(cfg: &Config, opts: &TrainOptions) -> Result<()> {
    let spec = &cfg.train;
    let steps = opts.steps.unwrap_or(spec.steps);
    let res = spec.resolution;
    let c = spec.channels;
    let b = spec.batch;
    let (device, device_name) = learning_device(&opts.device)?;
    let real = RealSet::load(&opts.real, (res * 4) as u32)?;
    eprintln!(
        "rendergan: {} real images from {} ({} unreadable, {} other files skipped)",
        real.images.len(),
        real.dir.display(),
        real.unreadable.len(),
        real.not_images
    );
    for (f, why) in real.unreadable.iter().take(5) {
        eprintln!("rendergan:   skipped {}: {why}", f.display());
    }
    eprintln!("rendergan: learning on {device_name}");
    let device = device.autodiff();
    let stages = StageConfig {
        channels: c,
        blur: spec.blur,
        lighting: spec.lighting,
        background: spec.background,
        detail: spec.detail,
        noise: spec.noise,
        width: 8,
    };
    std::fs::create_dir_all(opts.out.join("samples"))
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let mut start = 0u64;
    device.seed(cfg.seed);
    let mut g = Chain::new(&stages, &device);
    let mut d = Discriminator::new(c, D_WIDTH, &device);
    let mut ema = Ema::new(&g, EMA_HORIZON);
    if opts.resume {
        let info = infer::read_run_info(&opts.out)?;
        if info.stages != stages || info.resolution != res {
            bail!(
                "--resume {}: the run was trained with {:?} at {}², the config now asks for {:?} at {}²; use a new -o folder",
                opts.out.display(),
                info.stages,
                info.resolution,
                stages,
                res
            );
        }
        infer::load_module(&mut g, &opts.out.join(infer::GENERATOR))?;
        start = info.step;
        ema = Ema::resume(&g, start, EMA_HORIZON);
        let raw = opts.out.join(infer::GENERATOR_TRAIN);
        if raw.is_file() {
            infer::load_module(&mut g, &raw)?;
        }
        infer::load_module(&mut d, &opts.out.join(infer::DISCRIMINATOR))?;
        eprintln!("rendergan: resuming {} at step {start}", opts.out.display());
    } else if opts.out.join(infer::RUN_INFO).exists() {
        bail!(
            "{} already holds a run; pass --resume to continue it or -o a new folder",
            opts.out.display()
        );
    }
    std::fs::copy(&cfg.file, opts.out.join("config.yaml"))
        .with_context(|| format!("cannot copy {}", cfg.file.display()))?;
    let ctx = RenderContext::new()?;
    let mut synth = Synth::new(cfg, res, &ctx)?;
    let mut opt_g = AdamConfig::new().with_beta_1(0.5).init();
    let mut opt_d = AdamConfig::new().with_beta_1(0.5).init();
    let mut metrics = Metrics::open(&opts.out, &METRIC_COLUMNS)?;
    let mut history: Vec<Vec<f32>> = Vec::new();
    let sample_len = c * res * res;
    for step in start..steps {
        let t0 = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(scene::mix(cfg.seed ^ 0x5EA1, step));
        let (x, alphas, seeds) = synth.batch(step * b as u64, b, c);
        let real_batch: Vec<f32> = (0..b)
            .flat_map(|_| real.crop(&mut rng, res as u32, &spec.real_crop, c))
            .collect();
        let render = Tensor::<4>::from_data(TensorData::new(x, [b, c, res, res]), &device);
        let real_t = Tensor::<4>::from_data(
            TensorData::new(real_batch.clone(), [b, c, res, res]),
            &device,
        );
        let (m, z) = batch_inputs(&seeds, &alphas, c, res, res, &device);
        let out = g.forward(render.clone(), m, &z);
        let fake = out.image();

        // discriminator: real vs. fakes, half of them from the history of older fakes
        let fake_now = fake.clone().detach();
        let fake_data = fake_now
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
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
        let d_real = d.forward(real_t);
        let d_fake = d.forward(fake_d);
        let d_real_mean = scalar(d_real.clone().mean());
        let loss_d = softplus(d_real.neg(), 1.0).mean() + softplus(d_fake, 1.0).mean();
        let d_loss = scalar(loss_d.clone());
        let grads = GradientsParams::from_grads(loss_d.backward(), &d);
        d = opt_d.step(spec.lr_d, d, grads);

        // chain: fool the discriminator, stay close to the render, stay inside the bounds
        let adv = softplus(d.forward(fake.clone()).neg(), 1.0).mean();
        let l1 = (out.content() - render).abs().mean();
        let (g_adv, g_l1, pen) = (
            scalar(adv.clone()),
            scalar(l1.clone()),
            scalar(out.penalty.clone()),
        );
        let loss_g = adv + l1.mul_scalar(spec.l1) + out.penalty.clone();
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
        let st: &StageStats = &out.stats;
        let (bm, bs) = mean_std(&st.blur);
        let (lm, ls) = mean_std(&st.light_range);
        let (dm, ds) = mean_std(&st.detail);
        let secs = t0.elapsed().as_secs_f64();
        metrics.row(&[
            done as f64,
            d_loss,
            g_adv,
            g_l1,
            pen,
            bm,
            bs,
            lm,
            ls,
            dm,
            ds,
            st.noise as f64,
            d_real_mean,
            secs,
        ])?;
        if !opts.quiet {
            eprintln!("step {done:>6}/{steps}  D {d_loss:.3}  G {g_adv:.3}  L1 {g_l1:.3}  blur {bm:.2}±{bs:.2}  noise {:.3}  {secs:.2} s/step", st.noise);
        }
        if done % spec.sample_every == 0 || done == steps {
            let rows = sample_rows(&out.stages, &real_batch, c, res, 8);
            grid(&rows).save(opts.out.join("samples").join(format!("step_{done:06}.png")))?;
        }
        if done % spec.checkpoint_every == 0 || done == steps {
            checkpoint(&opts.out, &g, &ema, &d, &stages, res, done, &cfg.file)?;
        }
    }
    if start >= steps {
        eprintln!(
            "rendergan: {} already at step {start} of {steps}; nothing to do",
            opts.out.display()
        );
    }
    Ok(())
}

/// Writes weights, then `run.json`, each atomically; `run.json` last so it never points at
/// weights that are not there yet.
#[allow(clippy::too_many_arguments)]
fn checkpoint(
    dir: &Path,
    g: &Chain,
    ema: &Ema,
    d: &Discriminator,
    stages: &StageConfig,
    res: usize,
    step: u64,
    config: &Path,
) -> Result<()> {
    write_atomic(&dir.join(infer::GENERATOR_TRAIN), &infer::module_bytes(g)?)?;
    write_atomic(
        &dir.join(infer::GENERATOR),
        &infer::module_bytes(&ema.apply(g))?,
    )?;
    write_atomic(&dir.join(infer::DISCRIMINATOR), &infer::module_bytes(d)?)?;
    let info = RunInfo {
        stages: stages.clone(),
        resolution: res,
        d_width: D_WIDTH,
        step,
        config: config.to_path_buf(),
    };
    write_atomic(
        &dir.join(infer::RUN_INFO),
        serde_json::to_string_pretty(&info)?.as_bytes(),
    )
}

/// Sample grid rows: the render, the image after each stage, and real crops.
fn sample_rows(
    stages: &[(&'static str, Tensor<4>)],
    real: &[f32],
    c: usize,
    res: usize,
    cols: usize,
) -> Vec<Vec<image::RgbImage>> {
    let n = c * res * res;
    let mut rows = Vec::new();
    for (_, t) in stages {
        let data = t
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
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
