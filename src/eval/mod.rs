//! Realism checks. `c2st` is a classifier two-sample test: a fresh small conv net learns to tell
//! two sets of images apart, and its accuracy on held-out images says how different they look
//! (0.5: indistinguishable). Training made augmentation work when real-vs-augmented is clearly
//! harder to separate than real-vs-raw-render.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, sigmoid, softplus};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Module, Debug)]
struct Probe {
    c1: Conv2d,
    c2: Conv2d,
    c3: Conv2d,
    head: Linear,
}

impl Probe {
    fn new(c: usize, device: &Device) -> Probe {
        let conv = |i, o| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Probe {
            c1: conv(c, 16),
            c2: conv(16, 32),
            c3: conv(32, 32),
            head: LinearConfig::new(32, 1).init(device),
        }
    }

    /// [B, C, H, W] → [B, 1] logits (global average pooling, so any size works).
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = leaky_relu(self.c1.forward(x), 0.2);
        let x = leaky_relu(self.c2.forward(x), 0.2);
        let x = leaky_relu(self.c3.forward(x), 0.2); // [B, 32, h, w]
        let [b, ch, _, _] = x.dims();
        let pooled = x
            .reshape([b as i32, ch as i32, -1])
            .mean_dim(2)
            .reshape([b, ch]); // [B, 32]
        self.head.forward(pooled)
    }
}

/// Held-out accuracy of a fresh classifier trained for `steps` to separate `a` from `b` (each a
/// list of CHW images of `c` × `res` × `res` in [-1, 1]); a quarter of each set is held out.
pub fn c2st(a: &[Vec<f32>], b: &[Vec<f32>], c: usize, res: usize, steps: usize, seed: u64) -> f64 {
    let device = Device::flex().autodiff();
    device.seed(seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let split = |v: &[Vec<f32>]| {
        let n_test = (v.len() / 4).max(1);
        (v[n_test..].to_vec(), v[..n_test].to_vec())
    };
    let (a_train, a_test) = split(a);
    let (b_train, b_test) = split(b);
    let mut model = Probe::new(c, &device);
    let mut opt = AdamConfig::new().init();
    let batch = 16usize;
    let tensor = |items: &[&Vec<f32>]| {
        let flat: Vec<f32> = items.iter().flat_map(|v| v.iter().copied()).collect();
        Tensor::<4>::from_data(TensorData::new(flat, [items.len(), c, res, res]), &device)
    };
    for _ in 0..steps {
        let mut items: Vec<(&Vec<f32>, f32)> = Vec::with_capacity(batch);
        for k in 0..batch {
            let (set, label) = if k % 2 == 0 {
                (&a_train, 1.0)
            } else {
                (&b_train, 0.0)
            };
            items.push((set.choose(&mut rng).expect("sets are not empty"), label));
        }
        let x = tensor(&items.iter().map(|i| i.0).collect::<Vec<_>>());
        let y = Tensor::<2>::from_data(
            TensorData::new(items.iter().map(|i| i.1).collect::<Vec<f32>>(), [batch, 1]),
            &device,
        );
        let logits = model.forward(x); // [B, 1]
                                       // binary cross-entropy with logits
        let loss = (softplus(logits.clone().neg(), 1.0) * y.clone()
            + softplus(logits, 1.0) * (y.neg() + 1.0))
            .mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(1e-3, model, grads);
    }
    let mut correct = 0usize;
    let mut total = 0usize;
    for (set, want) in [(&a_test, true), (&b_test, false)] {
        for chunk in set.chunks(batch) {
            let p = sigmoid(model.forward(tensor(&chunk.iter().collect::<Vec<_>>()).detach()));
            let v = p.into_data().try_to_vec::<f32>().unwrap_or_default();
            correct += v.iter().filter(|p| (**p > 0.5) == want).count();
            total += v.len();
        }
    }
    correct as f64 / total.max(1) as f64
}

/// C2ST accuracy between two image folders: `samples` random square crops (side `crop` × the
/// shorter side, resized to `res`) from each, a fresh classifier trained for `steps`. A folder
/// with an `images/` subfolder (a dataset) is read from there.
pub fn realism(
    real: &std::path::Path,
    images: &std::path::Path,
    res: usize,
    crop: f64,
    samples: usize,
    steps: usize,
    seed: u64,
) -> anyhow::Result<f64> {
    use crate::train::data::RealSet;
    let scale = crate::config::Dist::Const(crop);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |dir: &std::path::Path, flag: &str| -> anyhow::Result<Vec<Vec<f32>>> {
        // a dataset folder: only its images, not its masks, depth maps or previews
        let own = dir.join("images");
        let dir = if own.is_dir() { own } else { dir.to_path_buf() };
        let set = RealSet::load_flag(&dir, (res * 4) as u32, flag)?;
        Ok((0..samples.max(8))
            .map(|_| set.crop(&mut rng, res as u32, &scale, 3))
            .collect())
    };
    let a = draw(real, "--real")?;
    let b = draw(images, "--images")?;
    Ok(c2st(&a, &b, 3, res, steps, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_different_sets_and_not_identical_ones() {
        let res = 16;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        use rand::Rng;
        let make = |rng: &mut ChaCha8Rng, bright: f32| -> Vec<f32> {
            (0..res * res)
                .map(|_| bright + rng.gen_range(-0.3..0.3))
                .collect()
        };
        let a: Vec<Vec<f32>> = (0..64).map(|_| make(&mut rng, 0.3)).collect();
        let b: Vec<Vec<f32>> = (0..64).map(|_| make(&mut rng, -0.3)).collect();
        let same: Vec<Vec<f32>> = (0..64).map(|_| make(&mut rng, 0.3)).collect();
        assert!(c2st(&a, &b, 1, res, 60, 2) > 0.9);
        assert!(c2st(&a, &same, 1, res, 60, 2) < 0.75);
    }
}
