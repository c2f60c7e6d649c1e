//! The classifier two-sample test: a fresh small conv net learns to tell two sets of images
//! apart, and its accuracy on images it did not train on says how different they look (0.5:
//! indistinguishable, 1.0: trivially different). Run over k folds, so every image is held out
//! once and the spread over folds says how much to trust a difference.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, sigmoid, softplus};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

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

/// What a C2ST found: accuracy on held-out images (mean and standard deviation over folds) and
/// the held-out binary cross-entropy (nats; higher = harder to tell apart, and still ranks sets
/// when every accuracy is 1.0).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct C2st {
    pub accuracy: f64,
    pub std: f64,
    pub loss: f64,
    pub folds: usize,
}

impl std::fmt::Display for C2st {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} ± {:.2}", self.accuracy, self.std)
    }
}

/// Held-out accuracy of a fresh classifier trained for `steps` (batch 16) to separate `a` from
/// `b` (each a list of CHW images of `c` × `res` × `res` in [-1, 1]); a quarter of each set is
/// held out.
pub fn c2st(a: &[Vec<f32>], b: &[Vec<f32>], c: usize, res: usize, steps: usize, seed: u64) -> f64 {
    let (a_test, a_train) = a.split_at((a.len() / 4).max(1).min(a.len() - 1));
    let (b_test, b_train) = b.split_at((b.len() / 4).max(1).min(b.len() - 1));
    let (acc, _) = fold(a_train, b_train, a_test, b_test, c, res, steps, seed);
    acc
}

/// One side of a two-sample test: its items, and for each the group it came from (crops of one
/// photo form a group: they share content, so they are held out together, and a classifier
/// cannot score by recognising a photo it trained on). `None`: every item its own group.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub items: &'a [Vec<f32>],
    pub groups: Option<&'a [usize]>,
}

impl<'a> Side<'a> {
    /// Items that are all independent.
    pub fn plain(items: &'a [Vec<f32>]) -> Side<'a> {
        Side {
            items,
            groups: None,
        }
    }

    /// The fold of each item: groups are shuffled by `rng` and dealt to folds in turn. With
    /// fewer groups than folds, items are dealt one by one (then crops of one photo do land
    /// in several folds; callers warn about such sets).
    pub fn folds(&self, folds: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        let n = self.items.len();
        let groups: Vec<usize> = match self.groups {
            Some(g) if g.iter().collect::<std::collections::BTreeSet<_>>().len() >= folds => {
                g.to_vec()
            }
            _ => (0..n).collect(),
        };
        let mut ids: Vec<usize> = groups.clone();
        ids.sort_unstable();
        ids.dedup();
        ids.shuffle(rng);
        let fold_of: std::collections::HashMap<usize, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, g)| (*g, i % folds))
            .collect();
        groups.iter().map(|g| fold_of[g]).collect()
    }
}

/// Splits both sides into (test, train) for fold `k`.
pub fn split_fold(items: &[Vec<f32>], fold: &[usize], k: usize) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut test = Vec::new();
    let mut train = Vec::new();
    for (x, f) in items.iter().zip(fold) {
        if *f == k {
            test.push(x.clone());
        } else {
            train.push(x.clone());
        }
    }
    (test, train)
}

/// [`c2st`] over `folds` folds: each part is held out once while a fresh classifier trains on
/// the rest (see [`Side`] for how items are dealt to folds).
pub fn c2st_folds(
    a: Side<'_>,
    b: Side<'_>,
    c: usize,
    res: usize,
    steps: usize,
    folds: usize,
    seed: u64,
) -> C2st {
    let folds = folds.clamp(2, a.items.len().min(b.items.len()).max(2));
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ crate::scene::seed::C2ST_FOLDS);
    let (fa, fb) = (a.folds(folds, &mut rng), b.folds(folds, &mut rng));
    let mut accs = Vec::new();
    let mut losses = Vec::new();
    for k in 0..folds {
        let (a_test, a_train) = split_fold(a.items, &fa, k);
        let (b_test, b_train) = split_fold(b.items, &fb, k);
        if a_test.is_empty() || b_test.is_empty() || a_train.is_empty() || b_train.is_empty() {
            continue;
        }
        let (acc, loss) = fold(
            &a_train,
            &b_train,
            &a_test,
            &b_test,
            c,
            res,
            steps,
            seed.wrapping_add(k as u64),
        );
        accs.push(acc);
        losses.push(loss);
    }
    let n = accs.len().max(1) as f64;
    let mean = accs.iter().sum::<f64>() / n;
    let var = accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n;
    C2st {
        accuracy: mean,
        std: var.sqrt(),
        loss: losses.iter().sum::<f64>() / n,
        folds: accs.len(),
    }
}

/// Trains one classifier on (a_train: label 1, b_train: label 0) and scores it on the test sets:
/// (accuracy, mean binary cross-entropy).
#[allow(clippy::too_many_arguments)]
fn fold(
    a_train: &[Vec<f32>],
    b_train: &[Vec<f32>],
    a_test: &[Vec<f32>],
    b_test: &[Vec<f32>],
    c: usize,
    res: usize,
    steps: usize,
    seed: u64,
) -> (f64, f64) {
    let device = Device::flex().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut model = crate::augment::model::drawing(Some((&device, seed)), || {
        let p = Probe::new(c, &device);
        crate::augment::model::materialize(&p);
        p
    });
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
                (a_train, 1.0)
            } else {
                (b_train, 0.0)
            };
            items.push((set.choose(&mut rng).expect("sets are not empty"), label));
        }
        let x = tensor(&items.iter().map(|i| i.0).collect::<Vec<_>>());
        let y = Tensor::<2>::from_data(
            TensorData::new(items.iter().map(|i| i.1).collect::<Vec<f32>>(), [batch, 1]),
            &device,
        );
        let logits = model.forward(x); // [B, 1]
        let loss = (softplus(logits.clone().neg(), 1.0) * y.clone()
            + softplus(logits, 1.0) * (y.neg() + 1.0))
            .mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(1e-3, model, grads);
    }
    let mut correct = 0usize;
    let mut total = 0usize;
    let mut loss = 0.0f64;
    for (set, want) in [(a_test, true), (b_test, false)] {
        for chunk in set.chunks(batch) {
            let p = sigmoid(model.forward(tensor(&chunk.iter().collect::<Vec<_>>()).detach()));
            let v = crate::augment::model::values(p);
            correct += v.iter().filter(|p| (**p > 0.5) == want).count();
            for p in &v {
                let q = if want { *p } else { 1.0 - *p };
                loss -= (q as f64).max(1e-6).ln();
            }
            total += v.len();
        }
    }
    (
        correct as f64 / total.max(1) as f64,
        loss / total.max(1) as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn sets(n: usize, res: usize, bright: [f32; 2], seed: u64) -> [Vec<Vec<f32>>; 2] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        bright.map(|b| {
            (0..n)
                .map(|_| {
                    (0..res * res)
                        .map(|_| b + rng.gen_range(-0.3..0.3))
                        .collect()
                })
                .collect()
        })
    }

    #[test]
    fn separates_different_sets_and_not_identical_ones() {
        let res = 16;
        let [a, b] = sets(64, res, [0.3, -0.3], 1);
        let [_, same] = sets(64, res, [0.3, 0.3], 2);
        assert!(c2st(&a, &b, 1, res, 60, 2) > 0.9);
        assert!(c2st(&a, &same, 1, res, 60, 2) < 0.75);
    }

    #[test]
    fn folds_rank_a_small_shift_between_none_and_a_large_one() {
        let res = 16;
        let [a, same] = sets(48, res, [0.0, 0.0], 3);
        let [_, near] = sets(48, res, [0.0, 0.02], 4);
        let [_, far] = sets(48, res, [0.0, 0.6], 5);
        let r = |b: &[Vec<f32>]| c2st_folds(Side::plain(&a), Side::plain(b), 1, res, 80, 4, 6);
        let (s, n, f) = (r(&same), r(&near), r(&far));
        eprintln!(
            "same {s} ({:.3}), near {n} ({:.3}), far {f} ({:.3})",
            s.loss, n.loss, f.loss
        );
        assert_eq!(f.folds, 4);
        assert!(s.accuracy < 0.7 && f.accuracy > 0.95, "{s} / {f}");
        // when accuracy saturates, the loss still orders the sets
        assert!(
            s.loss > n.loss && n.loss > f.loss,
            "{} {} {}",
            s.loss,
            n.loss,
            f.loss
        );
    }
}
