//! A fixed embedding of images for fast realism checks: a randomly initialised conv net with a
//! fixed seed (no pretrained weights can be downloaded here, and random embeddings work for
//! two-sample statistics outside ImageNet: Naeem et al. 2020), whose per-channel spatial mean and
//! standard deviation at three scales describe colour, texture, sharpness and noise. A C2ST on
//! these features is a regularised logistic regression over k folds: a thousand times cheaper
//! than training a conv classifier, so training can measure held-out realism every few steps.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::c2st::{split_fold, C2st, Side};

/// Seed of the embedding's weights: fixed, so features are comparable across runs.
const EMBED_SEED: u64 = crate::scene::seed::FEATURE_EMBEDDING;
const WIDTHS: [usize; 3] = [32, 64, 64];

#[derive(Module, Debug)]
struct Embed {
    c1: Conv2d,
    c2: Conv2d,
    c3: Conv2d,
}

/// The fixed embedding for images of `channels` channels.
pub struct Features {
    net: Embed,
    channels: usize,
    device: Device,
}

fn stats(x: &Tensor<4>) -> Tensor<2> {
    let [b, c, _, _] = x.dims();
    let flat = x.clone().reshape([b as i32, c as i32, -1]); // [B, C, HW]
    let mean = flat.clone().mean_dim(2); // [B, C, 1]
    let std = (flat - mean.clone())
        .powf_scalar(2.0)
        .mean_dim(2)
        .add_scalar(1e-8)
        .sqrt(); // [B, C, 1]
    Tensor::cat(vec![mean.reshape([b, c]), std.reshape([b, c])], 1) // [B, 2C]
}

impl Features {
    pub fn new(channels: usize) -> Features {
        let device = Device::flex();
        let conv = |i, o| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(&device)
        };
        let net = crate::augment::model::drawing(Some((&device, EMBED_SEED)), || {
            let net = Embed {
                c1: conv(channels, WIDTHS[0]),
                c2: conv(WIDTHS[0], WIDTHS[1]),
                c3: conv(WIDTHS[1], WIDTHS[2]),
            };
            crate::augment::model::materialize(&net);
            net
        });
        Features {
            net,
            channels,
            device,
        }
    }

    /// Feature vectors of CHW images (`res` × `res`, in [-1, 1]).
    pub fn embed(&self, images: &[Vec<f32>], res: usize) -> Vec<Vec<f32>> {
        let c = self.channels;
        let pool = |t: Tensor<4>| avg_pool2d(t, AvgPoolOptions::new([2, 2]));
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(32) {
            let flat: Vec<f32> = chunk.iter().flat_map(|v| v.iter().copied()).collect();
            let x = Tensor::<4>::from_data(
                TensorData::new(flat, [chunk.len(), c, res, res]),
                &self.device,
            );
            let h1 = leaky_relu(self.net.c1.forward(x.clone()), 0.2); // [B, 32, r, r]
            let h2 = leaky_relu(self.net.c2.forward(pool(h1.clone())), 0.2); // [B, 64, r/2, r/2]
            let h3 = leaky_relu(self.net.c3.forward(pool(h2.clone())), 0.2); // [B, 64, r/4, r/4]
            let f = Tensor::cat(vec![stats(&x), stats(&h1), stats(&h2), stats(&h3)], 1);
            let [b, d] = f.dims();
            let v = crate::augment::model::values(f);
            out.extend((0..b).map(|i| v[i * d..(i + 1) * d].to_vec()));
        }
        out
    }
}

/// C2ST on feature vectors: `folds` folds (see [`Side`] for how items are dealt to them), each
/// a logistic regression (standardised features, L2 penalty) trained on the other folds and
/// scored on its own.
pub fn linear_c2st(a: Side<'_>, b: Side<'_>, folds: usize, seed: u64) -> C2st {
    let folds = folds.clamp(2, a.items.len().min(b.items.len()).max(2));
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ crate::scene::seed::FEATURE_PATCHES);
    let (fa, fb) = (a.folds(folds, &mut rng), b.folds(folds, &mut rng));
    let mut accs = Vec::new();
    let mut losses = Vec::new();
    for k in 0..folds {
        let (a_test, a_train) = split_fold(a.items, &fa, k);
        let (b_test, b_train) = split_fold(b.items, &fb, k);
        if a_test.is_empty() || b_test.is_empty() || a_train.is_empty() || b_train.is_empty() {
            continue;
        }
        let labelled = |p: &[Vec<f32>], q: &[Vec<f32>]| -> Vec<(Vec<f32>, f64)> {
            p.iter()
                .map(|v| (v.clone(), 1.0))
                .chain(q.iter().map(|v| (v.clone(), 0.0)))
                .collect()
        };
        let (acc, loss) = logistic(&labelled(&a_train, &b_train), &labelled(&a_test, &b_test));
        accs.push(acc);
        losses.push(loss);
    }
    let n = accs.len().max(1) as f64;
    let mean = accs.iter().sum::<f64>() / n;
    let var = accs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    C2st {
        accuracy: mean,
        std: var.sqrt(),
        loss: losses.iter().sum::<f64>() / n,
        folds: accs.len(),
    }
}

/// Fits on `train`, returns (accuracy, mean cross-entropy) on `test`.
fn logistic(train: &[(Vec<f32>, f64)], test: &[(Vec<f32>, f64)]) -> (f64, f64) {
    let d = train[0].0.len();
    let n = train.len() as f64;
    let (mean, sd) = super::metrics::moments(train.iter().map(|(x, _)| x.as_slice()), d);
    let z =
        |x: &Vec<f32>| -> Vec<f64> { (0..d).map(|j| (x[j] as f64 - mean[j]) / sd[j]).collect() };
    let xs: Vec<(Vec<f64>, f64)> = train.iter().map(|(x, y)| (z(x), *y)).collect();
    let (mut w, mut bias) = (vec![0.0f64; d], 0.0f64);
    // a strong L2 penalty: with a few hundred items and as many features, a weaker one lets the
    // classifier memorise items (measured: two sets of the same distribution scored 0.68 at
    // 0.05 and 0.59 at 0.5)
    let (l2, lr) = (0.5, 0.1 / 1.5);
    for _ in 0..300 {
        let mut gw = vec![0.0f64; d];
        let mut gb = 0.0;
        for (x, y) in &xs {
            let p = sigmoid(dot(&w, x) + bias);
            let e = p - y;
            for j in 0..d {
                gw[j] += e * x[j] / n;
            }
            gb += e / n;
        }
        for j in 0..d {
            w[j] -= lr * (gw[j] + l2 * w[j]);
        }
        bias -= lr * gb;
    }
    let mut correct = 0usize;
    let mut loss = 0.0;
    for (x, y) in test {
        let p = sigmoid(dot(&w, &z(x)) + bias);
        correct += ((p > 0.5) == (*y > 0.5)) as usize;
        let q = if *y > 0.5 { p } else { 1.0 - p };
        loss -= q.max(1e-6).ln();
    }
    (correct as f64 / test.len() as f64, loss / test.len() as f64)
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Smooth random images, optionally with added noise or blurred.
    fn images(n: usize, noise: f32, seed: u64) -> Vec<Vec<f32>> {
        let res = 32;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let (a, b, c) = (
                    rng.gen_range(-0.5..0.5),
                    rng.gen_range(0.0..6.0),
                    rng.gen_range(0.0..6.0),
                );
                (0..3 * res * res)
                    .map(|i| {
                        let (y, x) = ((i / res) % res, i % res);
                        a + 0.4 * ((x as f32 * 0.3 + b).sin() * (y as f32 * 0.2 + c).cos())
                            + noise * rng.gen_range(-1.0f32..1.0)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_feature_probe_ranks_none_a_little_and_much_noise() {
        let f = Features::new(3);
        let base = f.embed(&images(64, 0.0, 1), 32);
        let same = f.embed(&images(64, 0.0, 2), 32);
        let little = f.embed(&images(64, 0.03, 3), 32);
        let much = f.embed(&images(64, 0.3, 4), 32);
        let r = |o: &[Vec<f32>]| linear_c2st(Side::plain(&base), Side::plain(o), 4, 5);
        let (s, l, m) = (r(&same), r(&little), r(&much));
        eprintln!(
            "same {s} ({:.3}), little {l} ({:.3}), much {m} ({:.3})",
            s.loss, l.loss, m.loss
        );
        assert!(s.accuracy < 0.7, "{s}");
        assert!(m.accuracy > 0.95, "{m}");
        assert!(
            s.loss > l.loss && l.loss > m.loss,
            "{} {} {}",
            s.loss,
            l.loss,
            m.loss
        );
    }
}
