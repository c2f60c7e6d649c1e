//! Applying a trained chain to rendered images: rebuild it from a run's stage settings, load its
//! weights (burnpack bytes; the run folder itself is `dataset::run_folder`), and run it on
//! batches of full-size renders on the CPU (flex), scaled so that a training pixel covers
//! `height / resolution` output pixels. Each image's noise comes
//! from its own seed, so the result is a pure function of (image, weights).

use std::path::Path;

use anyhow::{Context, Result};
use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot};

use super::image_noise_in;
use super::model::{Chain, NoiseInput};
use super::stages::{
    frame_size, low, train_size, Scales, StageConfig, StageStats, Window, BG_Z, DETAIL_Z, LIGHT_Z,
};
use crate::pixels::chw::{chw_to_rgb, rgb_to_chw};

/// Saves a module as burnpack bytes.
pub fn module_bytes<M: ModuleSnapshot>(m: &M) -> Result<Vec<u8>> {
    let mut store = BurnpackStore::from_bytes(None);
    m.save_into(&mut store)
        .map_err(|e| anyhow::anyhow!("cannot serialise the model: {e}"))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| anyhow::anyhow!("cannot serialise the model: {e}"))?;
    Ok(bytes.to_vec())
}

/// Loads burnpack bytes written by [`module_bytes`] from file `path` into `m`.
pub fn load_module<M: ModuleSnapshot>(m: &mut M, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    load_module_bytes(m, bytes).with_context(|| path.display().to_string())
}

/// Loads burnpack bytes written by [`module_bytes`] into `m`.
pub fn load_module_bytes<M: ModuleSnapshot>(m: &mut M, bytes: Vec<u8>) -> Result<()> {
    let mut store = BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(bytes)));
    m.load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("cannot load the weights: {e}"))?;
    Ok(())
}

/// Where a chain was applied: the CPU forward, or the render device's compute shaders (written
/// as "cpu" and "gpu" in bench's JSON line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunsOn {
    Cpu,
    Gpu,
}

/// Where `generate --augment` runs the chain (`--augment-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AugmentOn {
    /// The render device's compute shaders when it is a hardware GPU, else the CPU forward
    /// (on a software rasteriser such as lavapipe the CPU forward is the faster).
    #[default]
    Auto,
    /// The plain-Rust forward on the CPU cores.
    Cpu,
    /// The render device's compute shaders, whatever the device (on lavapipe this exercises
    /// the GPU path, more slowly than `cpu`).
    Gpu,
}

/// A trained chain ready to apply: the plain weights of the CPU forward, and the compute
/// forward on the render device when the chain runs there. burn's forward is the reference
/// both are tested against (`augment::fast::tests`, `augment::gpu::tests`).
pub struct Augmenter {
    pub stages: StageConfig,
    /// Side of the square training images.
    pub resolution: usize,
    /// Side of the renders training cut them from (`resolution` for whole-render learning).
    pub render: usize,
    weights: super::stages::Weights,
    gpu: Option<super::gpu::GpuChain>,
}

/// One image to augment: RGB8 pixels (background already composited), coverage, seed.
pub struct AugImage<'a> {
    pub rgb: &'a mut [u8],
    pub alpha: &'a [u8],
    pub seed: u64,
}

impl Augmenter {
    /// The chain with `weights` ([`trained_weights`] of a run), trained with `stages` at
    /// `resolution`² (crops of `render`² renders), applied where `on` says given the render device `ctx`: `auto` takes the
    /// device's compute shaders on a hardware GPU (and the CPU when they cannot be made there,
    /// saying why on stderr), `gpu` insists on them, `cpu` on the CPU forward.
    pub fn on_device(
        stages: &StageConfig,
        (resolution, render): (usize, usize),
        weights: &super::stages::Weights,
        on: AugmentOn,
        ctx: &crate::render::RenderContext,
    ) -> Result<Augmenter> {
        let gpu = match on {
            AugmentOn::Cpu => None,
            AugmentOn::Gpu => {
                static SAID: std::sync::Once = std::sync::Once::new();
                if ctx.is_software() {
                    SAID.call_once(|| {
                        eprintln!(
                        "rendergan: --augment-on gpu on {}, a software rasteriser: the compute \
                         shaders run on the CPU cores, about 20× slower than --augment-on cpu",
                        ctx.describe()
                    )
                    });
                }
                Some(super::gpu::GpuChain::new(&ctx.device, &ctx.queue, weights)?)
            }
            AugmentOn::Auto if ctx.is_software() => None,
            AugmentOn::Auto => match super::gpu::GpuChain::new(&ctx.device, &ctx.queue, weights) {
                Ok(g) => Some(g),
                Err(e) => {
                    eprintln!("rendergan: augmenting on the CPU: {e:#}");
                    None
                }
            },
        };
        Ok(Augmenter {
            weights: weights.clone(),
            gpu,
            stages: stages.clone(),
            resolution,
            render,
        })
    }

    /// Where [`apply`](Self::apply) runs.
    pub fn runs_on(&self) -> RunsOn {
        if self.on_cpu() {
            RunsOn::Cpu
        } else {
            RunsOn::Gpu
        }
    }

    /// Output pixels per training pixel for images `h` pixels high: the maps were learned for
    /// a whole frame of `resolution` training pixels, the per-pixel stages at `render` pixels a
    /// frame, so this is what keeps a stage's effect the same relative to the objects.
    pub fn scale(&self, h: usize) -> Scales {
        Scales {
            maps: h as f32 / self.resolution.max(1) as f32,
            pixel: h as f32 / self.render.max(1) as f32,
        }
    }

    /// Whether this chain runs on the CPU: then images can be augmented one at a time on any
    /// thread ([`apply_one`](Self::apply_one)).
    pub fn on_cpu(&self) -> bool {
        self.gpu.is_none()
    }

    /// The largest blur σ of a batch of images with these seeds (it sets each image's blur
    /// radius); what [`apply_one`](Self::apply_one) needs to give an image its batch's result.
    pub fn max_sigma(&self, seeds: &[u64]) -> f32 {
        self.weights.max_sigma(seeds)
    }

    /// Augments one image in place on the calling thread with the CPU forward, as
    /// [`apply`](Self::apply) does on the CPU in a batch whose largest blur σ is `max_sigma`.
    pub fn apply_one(&self, im: AugImage<'_>, w: usize, h: usize, max_sigma: f32) -> StageStats {
        let scale = self.scale(h);
        self.weights
            .apply_one(im.rgb, im.alpha, im.seed, (h, w), scale, max_sigma)
    }

    /// The chain set up to run on the render device between render and readback, for a
    /// batch of `w` × `h` images with these backgrounds (RGB8) and seeds; `None` when it runs
    /// on the CPU, or when the batch does not fit the device in one part (then
    /// [`apply`](Self::apply) on the read-back images).
    pub fn fused(
        &self,
        backgrounds: &[Vec<u8>],
        seeds: &[u64],
        w: usize,
        h: usize,
    ) -> Result<Option<super::gpu::Fused<'_>>> {
        let Some(chain) = &self.gpu else {
            return Ok(None);
        };
        let words = crate::render::padded_row(4 * w as u32) as usize / 4;
        chain.fused(backgrounds, seeds, (h, w), words, self.scale(h))
    }

    /// Augments images of one size in place (on the CPU, [`super::fast`], or the render device,
    /// [`super::gpu`]); returns what each stage did per image.
    pub fn apply(&self, images: &mut [AugImage<'_>], w: usize, h: usize) -> Result<StageStats> {
        use rayon::prelude::*;
        let c = self.stages.channels;
        let (mut x, alphas): (Vec<Vec<f32>>, Vec<Vec<f32>>) = images
            .par_iter()
            .map(|im| chain_floats(im, c, w, h))
            .unzip();
        let seeds: Vec<u64> = images.iter().map(|i| i.seed).collect();
        let scale = self.scale(h);
        let st = match &self.gpu {
            None => self.weights.apply(&mut x, &alphas, &seeds, (h, w), scale),
            Some(chain) => chain.apply(&mut x, &alphas, &seeds, (h, w), scale)?,
        };
        images
            .par_iter_mut()
            .zip(&x)
            .for_each(|(im, v)| chw_to_rgb(v, c, w, h, im.rgb));
        Ok(st)
    }
}

/// An image as the forwards take it: CHW floats in [-1, 1] and coverage in [0, 1].
fn chain_floats(im: &AugImage<'_>, c: usize, w: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    (
        rgb_to_chw(im.rgb, c, w, h),
        im.alpha.iter().map(|a| *a as f32 / 255.0).collect(),
    )
}

/// The plain weights of burnpack bytes `weights` (a run's `generator.bpk`) of a chain with
/// `stages`, as both forwards take them.
pub fn trained_weights(stages: &StageConfig, weights: Vec<u8>) -> Result<super::stages::Weights> {
    let mut chain = Chain::new(stages, &Device::flex());
    load_module_bytes(&mut chain, weights)?;
    Ok(chain.export())
}

/// Coverage and noise of a batch of `w` × `h` images as tensors on `device`: coverage
/// [B, 1, H, W] from `alphas` (row-major, in [0, 1]), noise maps made at the images' size in
/// training pixels (`scale.maps` output pixels each), sensor noise per output pixel. With
/// `windows` (the images are crops of larger renders, all of one size), the lighting and
/// background-texture noise is made for the whole render.
#[allow(clippy::too_many_arguments)]
pub fn batch_inputs(
    seeds: &[u64],
    alphas: &[Vec<f32>],
    c: usize,
    w: usize,
    h: usize,
    scale: impl Into<Scales>,
    windows: Option<&[Window]>,
    device: &Device,
) -> (Tensor<4>, NoiseInput) {
    let scale: Scales = scale.into();
    let b = seeds.len();
    let (ht, wt) = train_size(h, w, scale.maps);
    // crops that are their whole frame need no windows
    let windows = windows.filter(|v| v.iter().any(|win| win.frame != (h, w)));
    let (fh, fw) = frame_size(windows, (ht, wt), scale.maps);
    let mut alpha = Vec::with_capacity(b * w * h);
    let (mut blur, mut light, mut bgc, mut bg, mut det, mut pix) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for (seed, a) in seeds.iter().zip(alphas) {
        alpha.extend_from_slice(a);
        let n = image_noise_in(*seed, c, [wt, ht], [fw, fh], [w, h]);
        pix.extend(n.pixel());
        blur.push(n.blur);
        light.extend(n.lighting);
        bgc.extend(n.bg_color);
        bg.extend(n.background);
        det.extend(n.detail);
    }
    let t4 = |v: Vec<f32>, s: [usize; 4]| Tensor::<4>::from_data(TensorData::new(v, s), device);
    let z = NoiseInput {
        blur: Tensor::<2>::from_data(TensorData::new(blur, [b, 1]), device),
        lighting: t4(light, [b, LIGHT_Z, low(fh, 16), low(fw, 16)]),
        bg_color: Tensor::<2>::from_data(TensorData::new(bgc, [b, BG_Z]), device),
        background: t4(bg, [b, BG_Z, low(fh, 8), low(fw, 8)]),
        detail: t4(det, [b, DETAIL_Z, ht, wt]),
        pixel: t4(pix, [b, c, h, w]),
        windows: windows.map(<[Window]>::to_vec),
    };
    (t4(alpha, [b, 1, h, w]), z)
}
