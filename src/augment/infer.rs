//! Applying a trained run to rendered images: rebuild the chain from the run's saved settings,
//! load its weights, and run it on batches of full-size renders on the CPU (flex), scaled so
//! that a training pixel covers `height / resolution` output pixels. Each image's noise comes
//! from its own seed, so the result is a pure function of (image, weights).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};

use super::image_noise;
use super::model::{low, train_size, Chain, NoiseInput, StageConfig, BG_Z, DETAIL_Z, LIGHT_Z};
use crate::config::InputError;
use crate::pixels::chw::{chw_to_rgb, rgb_to_chw};

/// What a run folder records about its training, enough to rebuild the models.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run folder's layout and model version ([`RUN_FORMAT`]); older runs cannot be applied.
    #[serde(default)]
    pub format: u32,
    pub stages: StageConfig,
    /// Side of the square training crops.
    pub resolution: usize,
    /// Discriminator width.
    pub d_width: usize,
    /// Steps completed when the checkpoint was written.
    pub step: u64,
    /// The config file training rendered from.
    pub config: PathBuf,
}

/// The run format this version writes and applies: 2 = scale-aware stages with the bounded
/// background (format 1, unnumbered, had a free background generator).
pub const RUN_FORMAT: u32 = 2;

/// File names inside a run folder.
pub const RUN_INFO: &str = "run.json";
/// The chain `generate` applies: the averaged weights at the checkpoint with the best held-out
/// realism.
pub const GENERATOR: &str = "generator.bpk";
/// The current running average of the trained weights, where `--resume` continues from.
pub const GENERATOR_EMA: &str = "generator_ema.bpk";
/// The chain's current training weights, where `--resume` continues from.
pub const GENERATOR_TRAIN: &str = "generator_train.bpk";
pub const DISCRIMINATOR: &str = "discriminator.bpk";

/// Reads `run.json` of a run folder.
pub fn read_run_info(dir: &Path) -> Result<RunInfo> {
    let p = dir.join(RUN_INFO);
    let Ok(text) = std::fs::read_to_string(&p) else {
        return Err(InputError(format!(
            "run folder {}: no {RUN_INFO} there; give the folder `rendergan train -o` wrote",
            dir.display()
        ))
        .into());
    };
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a rendergan run file", p.display()))
}

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

/// Loads burnpack bytes written by [`module_bytes`] into `m`.
pub fn load_module<M: ModuleSnapshot>(m: &mut M, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut store = BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(bytes)));
    m.load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("{}: cannot load the weights: {e}", path.display()))?;
    Ok(())
}

/// A trained chain ready to apply.
pub struct Augmenter {
    pub chain: Chain,
    pub info: RunInfo,
    device: Device,
}

/// One image to augment: RGB8 pixels (background already composited), coverage, seed.
pub struct AugImage<'a> {
    pub rgb: &'a mut [u8],
    pub alpha: &'a [u8],
    pub seed: u64,
}

impl Augmenter {
    /// Loads a run folder written by `rendergan train`.
    pub fn load(dir: &Path) -> Result<Augmenter> {
        let info = read_run_info(dir)?;
        if info.format != RUN_FORMAT {
            return Err(InputError(format!(
                "run folder {}: trained by another rendergan version (run format {}, this one applies {RUN_FORMAT}); train it again",
                dir.display(),
                info.format
            ))
            .into());
        }
        let device = Device::flex();
        let mut chain = Chain::new(&info.stages, &device);
        load_module(&mut chain, &dir.join(GENERATOR))?;
        Ok(Augmenter {
            chain,
            info,
            device,
        })
    }

    /// Output pixels per training pixel for images `h` pixels high: training rendered the whole
    /// scene at `resolution`², so this is what keeps a stage's effect the same relative to the
    /// objects.
    pub fn scale(&self, h: usize) -> f32 {
        h as f32 / self.info.resolution.max(1) as f32
    }

    /// Augments images of one size in place.
    pub fn apply(&self, images: &mut [AugImage<'_>], w: usize, h: usize) -> Result<()> {
        if images.is_empty() {
            return Ok(());
        }
        let c = self.info.stages.channels;
        let b = images.len();
        let mut x = Vec::with_capacity(b * c * w * h);
        let mut alphas = Vec::with_capacity(b);
        for im in images.iter() {
            x.extend(rgb_to_chw(im.rgb, c, w, h));
            alphas.push(
                im.alpha
                    .iter()
                    .map(|a| *a as f32 / 255.0)
                    .collect::<Vec<f32>>(),
            );
        }
        let seeds: Vec<u64> = images.iter().map(|i| i.seed).collect();
        let scale = self.scale(h);
        let (a, z) = batch_inputs(&seeds, &alphas, c, w, h, scale, &self.device);
        let xt = Tensor::<4>::from_data(TensorData::new(x, [b, c, h, w]), &self.device);
        let out = self.chain.forward(xt, a, &z, scale).image();
        let data = out
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading the augmented batch: {e:?}"))?;
        if data.len() != b * c * w * h {
            bail!(
                "internal: augmented batch has {} values, expected {}",
                data.len(),
                b * c * w * h
            );
        }
        for (k, im) in images.iter_mut().enumerate() {
            chw_to_rgb(&data[k * c * w * h..(k + 1) * c * w * h], c, w, h, im.rgb);
        }
        Ok(())
    }
}

/// Coverage and noise of a batch of `w` × `h` images as tensors on `device`: coverage
/// [B, 1, H, W] from `alphas` (row-major, in [0, 1]), noise maps made at the images' size in
/// training pixels (`scale` output pixels each), sensor noise per output pixel.
pub fn batch_inputs(
    seeds: &[u64],
    alphas: &[Vec<f32>],
    c: usize,
    w: usize,
    h: usize,
    scale: f32,
    device: &Device,
) -> (Tensor<4>, NoiseInput) {
    let b = seeds.len();
    let (ht, wt) = train_size(h, w, scale);
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
        let n = image_noise(*seed, c, wt, ht, [w, h]);
        blur.push(n.blur);
        light.extend(n.lighting);
        bgc.extend(n.bg_color);
        bg.extend(n.background);
        det.extend(n.detail);
        pix.extend(n.pixel);
    }
    let t4 = |v: Vec<f32>, s: [usize; 4]| Tensor::<4>::from_data(TensorData::new(v, s), device);
    let z = NoiseInput {
        blur: Tensor::<2>::from_data(TensorData::new(blur, [b, 1]), device),
        lighting: t4(light, [b, LIGHT_Z, low(ht, 16), low(wt, 16)]),
        bg_color: Tensor::<2>::from_data(TensorData::new(bgc, [b, BG_Z]), device),
        background: t4(bg, [b, BG_Z, low(ht, 8), low(wt, 8)]),
        detail: t4(det, [b, DETAIL_Z, ht, wt]),
        pixel: t4(pix, [b, c, h, w]),
    };
    (t4(alpha, [b, 1, h, w]), z)
}
