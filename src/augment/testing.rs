//! Test helpers shared by the forward passes' tests (`fast`, `gpu`): a chain whose every stage
//! acts, a batch of images with coverage, and burn's forward on that batch as the reference.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::Distribution;

use super::infer::batch_inputs;
use super::model::{values, Chain};
use super::stages::{StageConfig, StageStats};

/// Adds noise to every weight, so every stage (including the zero-initialised heads) acts,
/// and raises the 1-D parameters (the stored blur and noise scalars, ×30 when used, and the
/// biases) by 0.05: per-image blur σ of about 0.5–2.5 px and visible noise.
pub(crate) struct Shake;

impl ModuleMapper for Shake {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if D == 1 {
            p.map(|t| t.add_scalar(0.05))
        } else {
            p.map(|t| t.clone() + t.random_like(Distribution::Normal(0.0, 0.3)))
        }
    }
}

/// A fresh chain with `stages`, shaken ([`Shake`]) from burn's seed 3 on `device`.
pub(crate) fn shaken_chain(stages: &StageConfig, device: &Device) -> Chain {
    super::model::drawing(Some((device, 3)), || {
        Chain::new(stages, device).map(&mut Shake)
    })
}

/// A batch of `b` images with `c` channels (a pattern in [-0.9, 0.9]), their coverage (stripes
/// of 0, ¼, …, 1) and seeds.
pub(crate) struct Batch {
    pub images: Vec<Vec<f32>>,
    pub alphas: Vec<Vec<f32>>,
    pub seeds: Vec<u64>,
}

pub(crate) fn batch(b: usize, c: usize, (h, w): (usize, usize)) -> Batch {
    Batch {
        images: (0..b)
            .map(|k| {
                (0..c * h * w)
                    .map(|i| (((i * 7 + k * 13) % 97) as f32 / 48.5 - 1.0) * 0.9)
                    .collect()
            })
            .collect(),
        alphas: (0..b)
            .map(|k| (0..h * w).map(|p| ((p % w + k) % 5) as f32 / 4.0).collect())
            .collect(),
        seeds: (0..b as u64).map(|i| 40 + i).collect(),
    }
}

/// burn's forward of `chain` on `batch` at `scale`: the images, flattened, and the stats.
pub(crate) fn burn_forward(
    chain: &Chain,
    batch: &Batch,
    (h, w): (usize, usize),
    scale: impl Into<crate::augment::stages::Scales> + Copy,
    device: &Device,
) -> (Vec<f32>, StageStats) {
    let (b, c) = (batch.images.len(), chain.channels());
    let (a, z) = batch_inputs(&batch.seeds, &batch.alphas, c, w, h, scale, None, device);
    let flat: Vec<f32> = batch.images.iter().flatten().copied().collect();
    let x = Tensor::<4>::from_data(TensorData::new(flat, [b, c, h, w]), device);
    let out = chain.forward(x, a, &z, scale);
    (values(out.image()), out.stats)
}

/// Largest absolute difference between two equally long lists.
pub(crate) fn max_abs_difference<'a>(
    a: impl IntoIterator<Item = &'a f32>,
    b: impl IntoIterator<Item = &'a f32>,
) -> f32 {
    a.into_iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max)
}
