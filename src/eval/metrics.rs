//! Two-sample statistics on feature vectors: KID (the unbiased squared MMD with the cubic
//! polynomial kernel, Bińkowski et al. 2018) and precision, recall, density and coverage on
//! k-nearest-neighbour balls (Kynkäänniemi et al. 2019; Naeem et al. 2020). Also each real
//! item's distance to the nearest generated one relative to its own neighbourhood radius: the
//! AnoGAN-style "how well can the generated set explain this photo" that ranks the photos the set
//! covers worst. Plain CPU code; the features come from [`super::features`].

use serde::Serialize;

/// Neighbours that set a ball's radius (Naeem et al. recommend 5).
pub const K: usize = 5;

/// The fidelity and diversity figures of a generated set against a real one.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Prdc {
    /// Fraction of generated items inside some real item's ball: do they look real?
    pub precision: f64,
    /// Fraction of real items inside some generated item's ball: is all of the real set made?
    pub recall: f64,
    /// Mean number of real balls a generated item falls in, over K (1 = as dense as real).
    pub density: f64,
    /// Fraction of real items whose own ball holds a generated item (robust to outliers).
    pub coverage: f64,
}

/// Squared Euclidean distance.
pub fn d2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = (*x - *y) as f64;
            d * d
        })
        .sum()
}

/// Standardises every feature by the mean and standard deviation of `reference` (so no feature
/// dominates the distances by its units), applied to each set given.
pub fn standardise(reference: &[Vec<f32>], sets: &mut [&mut Vec<Vec<f32>>]) {
    let Some(first) = reference.first() else {
        return;
    };
    let d = first.len();
    let (mean, sd) = moments(reference.iter().map(Vec::as_slice), d);
    for set in sets.iter_mut() {
        for v in set.iter_mut() {
            for j in 0..d {
                v[j] = ((v[j] as f64 - mean[j]) / sd[j]) as f32;
            }
        }
    }
}

/// The median of `v` (the upper one of an even count; NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// Per feature of `d`-long vectors: the mean and the standard deviation (at least 1e-6, so a
/// constant feature standardises to 0 rather than dividing by 0).
pub fn moments<'a>(
    items: impl Iterator<Item = &'a [f32]> + Clone,
    d: usize,
) -> (Vec<f64>, Vec<f64>) {
    let n = items.clone().count().max(1) as f64;
    let mut mean = vec![0.0f64; d];
    let mut var = vec![0.0f64; d];
    for v in items.clone() {
        for j in 0..d {
            mean[j] += v[j] as f64 / n;
        }
    }
    for v in items {
        for j in 0..d {
            var[j] += (v[j] as f64 - mean[j]).powi(2) / n;
        }
    }
    (mean, var.iter().map(|v| v.sqrt().max(1e-6)).collect())
}

/// Distance from each item of `a` to its k-th nearest other item of `a`.
pub fn knn_radii(a: &[Vec<f32>], k: usize) -> Vec<f64> {
    a.iter()
        .enumerate()
        .map(|(i, x)| {
            let mut ds: Vec<f64> = a
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, y)| d2(x, y))
                .collect();
            if ds.is_empty() {
                return 0.0;
            }
            let k = k.min(ds.len()).max(1);
            ds.select_nth_unstable_by(k - 1, f64::total_cmp);
            ds[k - 1].sqrt()
        })
        .collect()
}

/// For each item of `a`: the index of its nearest item in `b` and the distance.
pub fn nearest(a: &[Vec<f32>], b: &[Vec<f32>]) -> Vec<(usize, f64)> {
    a.iter()
        .map(|x| {
            b.iter()
                .enumerate()
                .map(|(j, y)| (j, d2(x, y)))
                .min_by(|p, q| p.1.total_cmp(&q.1))
                .map(|(j, d)| (j, d.sqrt()))
                .unwrap_or((0, f64::INFINITY))
        })
        .collect()
}

/// Precision, recall, density and coverage of `fake` against `real` (k-NN balls, [`K`]).
pub fn prdc(real: &[Vec<f32>], fake: &[Vec<f32>]) -> Prdc {
    let (rr, fr) = (knn_radii(real, K), knn_radii(fake, K));
    let mut in_real_balls = vec![0usize; fake.len()];
    let mut real_covered = vec![false; real.len()];
    let mut real_recalled = vec![false; real.len()];
    for (i, r) in real.iter().enumerate() {
        for (j, f) in fake.iter().enumerate() {
            let d = d2(r, f).sqrt();
            if d <= rr[i] {
                in_real_balls[j] += 1;
                real_covered[i] = true;
            }
            if d <= fr[j] {
                real_recalled[i] = true;
            }
        }
    }
    let frac = |v: &[bool]| v.iter().filter(|b| **b).count() as f64 / v.len().max(1) as f64;
    let m = fake.len().max(1) as f64;
    Prdc {
        precision: in_real_balls.iter().filter(|n| **n > 0).count() as f64 / m,
        recall: frac(&real_recalled),
        density: in_real_balls.iter().sum::<usize>() as f64 / (K as f64 * m),
        coverage: frac(&real_covered),
    }
}

/// KID: the unbiased squared MMD between `a` and `b` with the kernel (x·y / d + 1)³, averaged
/// over `subsets` random subsets of at most `size` items from each; returns (mean, std).
pub fn kid(a: &[Vec<f32>], b: &[Vec<f32>], subsets: usize, size: usize, seed: u64) -> (f64, f64) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let Some(first) = a.first() else {
        return (f64::NAN, f64::NAN);
    };
    let d = first.len() as f64;
    let k = |x: &[f32], y: &[f32]| -> f64 {
        let dot: f64 = x.iter().zip(y).map(|(p, q)| *p as f64 * *q as f64).sum();
        (dot / d + 1.0).powi(3)
    };
    let m = size.min(a.len()).min(b.len());
    if m < 2 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(subsets);
    for _ in 0..subsets.max(1) {
        let pick = |n: usize, rng: &mut rand_chacha::ChaCha8Rng| -> Vec<usize> {
            let mut idx: Vec<usize> = (0..n).collect();
            idx.shuffle(rng);
            idx.truncate(m);
            idx
        };
        let (ia, ib) = (pick(a.len(), &mut rng), pick(b.len(), &mut rng));
        let (mut kxx, mut kyy, mut kxy) = (0.0, 0.0, 0.0);
        for (p, &i) in ia.iter().enumerate() {
            for (q, &j) in ia.iter().enumerate() {
                if p != q {
                    kxx += k(&a[i], &a[j]);
                }
            }
            for &j in &ib {
                kxy += k(&a[i], &b[j]);
            }
        }
        for (p, &i) in ib.iter().enumerate() {
            for (q, &j) in ib.iter().enumerate() {
                if p != q {
                    kyy += k(&b[i], &b[j]);
                }
            }
        }
        let mf = m as f64;
        values.push(kxx / (mf * (mf - 1.0)) + kyy / (mf * (mf - 1.0)) - 2.0 * kxy / (mf * mf));
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// How far each real item is from the generated set, in units of the median k-NN radius of the
/// real items: ≤ 1 means some generated item is as close as real items typically are to each
/// other; large means nothing generated looks like it. Also the index of that nearest generated
/// item. One scale for all items (not each item's own radius), so a small group of photos of a
/// kind never generated ranks as uncovered even though its members are close to each other.
pub fn uncovered(real: &[Vec<f32>], fake: &[Vec<f32>]) -> Vec<(f64, usize)> {
    let radii = knn_radii(real, K);
    let scale = if radii.is_empty() { 1.0 } else { median(radii) };
    nearest(real, fake)
        .into_iter()
        .map(|(j, d)| (d / scale.max(1e-9), j))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn cloud(n: usize, d: usize, shift: f32, spread: f32, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let g = Normal::new(0.0f32, 1.0).unwrap();
        (0..n)
            .map(|_| {
                (0..d)
                    .map(|_| shift + spread * g.sample(&mut rng))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn kid_and_prdc_rank_same_shifted_and_far() {
        let real = cloud(200, 16, 0.0, 1.0, 1);
        let same = cloud(200, 16, 0.0, 1.0, 2);
        let near = cloud(200, 16, 0.3, 1.0, 3);
        let far = cloud(200, 16, 1.5, 1.0, 4);
        let (k0, k1, k2) = (
            kid(&real, &same, 10, 100, 5).0,
            kid(&real, &near, 10, 100, 5).0,
            kid(&real, &far, 10, 100, 5).0,
        );
        assert!(k0.abs() < 0.05 && k0 < k1 && k1 < k2, "{k0} {k1} {k2}");
        let (p0, p2) = (prdc(&real, &same), prdc(&real, &far));
        assert!(p0.coverage > 0.8 && p0.precision > 0.8, "{p0:?}");
        assert!(p2.coverage < 0.3 && p2.precision < 0.3, "{p2:?}");
    }

    #[test]
    fn a_collapsed_set_has_precision_but_no_coverage_or_recall() {
        let real = cloud(200, 8, 0.0, 1.0, 1);
        let collapsed = cloud(200, 8, 0.0, 0.05, 2);
        let p = prdc(&real, &collapsed);
        assert!(p.precision > 0.9, "{p:?}");
        assert!(p.coverage < 0.3 && p.recall < 0.3, "{p:?}");
    }

    #[test]
    fn real_items_of_a_kind_never_generated_are_the_least_covered() {
        let mut real = cloud(60, 8, 0.0, 1.0, 1);
        real.extend(cloud(4, 8, 6.0, 1.0, 2));
        let fake = cloud(200, 8, 0.0, 1.0, 3);
        let u = uncovered(&real, &fake);
        let mut order: Vec<usize> = (0..real.len()).collect();
        order.sort_by(|a, b| u[*b].0.total_cmp(&u[*a].0));
        let mut top: Vec<usize> = order[..4].to_vec();
        top.sort();
        assert_eq!(top, vec![60, 61, 62, 63], "{:?}", &u[56..]);
    }
}
