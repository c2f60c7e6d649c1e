//! Separable CMA-ES (Ros & Hansen 2008: the covariance matrix adaptation evolution strategy
//! with a diagonal covariance) over the box [0, 1]^d: draw a population around a mean, move the
//! mean to the weighted best half, adapt each coordinate's spread from the steps that paid, and
//! the overall step size from the length of the evolution path, so the search neither stalls far
//! from the optimum nor collapses before it gets there. Points outside the box are judged at the
//! nearest point inside it, and the step taken is the repaired one. Gradient-free (the renderer
//! is not differentiable and need not be), default settings from the paper, deterministic for a
//! seed. The caller judges a whole generation at once.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The starting step size, in units of the box's side.
const START_SIGMA: f64 = 0.3;
/// The step size never falls below this, so the search can still move late.
const MIN_SIGMA: f64 = 0.01;

/// One judged point.
#[derive(Debug, Clone)]
pub struct Judged {
    pub x: Vec<f64>,
    pub score: f64,
}

/// Population size for `dims` coordinates: twice CMA-ES's default 4 + 3 ln d (the objective is
/// noisy; measured on the known-scene test, the default population stopped farther from the
/// truth for the same budget), at least 12.
pub fn population(dims: usize) -> usize {
    let p = 2.0 * (4.0 + 3.0 * (dims.max(1) as f64).ln());
    (p.floor() as usize).max(12)
}

/// Minimises `judge` (which scores a whole generation, lower is better) from `start` over at
/// most `budget` judged points (at least one generation); `progress` sees each generation's
/// best-so-far. Returns the best point judged and every generation's best-so-far score. Long:
/// one update of the strategy's state, in the paper's order.
pub fn minimise(
    start: &[f64],
    budget: usize,
    seed: u64,
    mut judge: impl FnMut(&[Vec<f64>]) -> anyhow::Result<Vec<f64>>,
    mut progress: impl FnMut(usize, f64),
) -> anyhow::Result<(Judged, Vec<f64>)> {
    let d = start.len();
    let df = d as f64;
    let lambda = population(d);
    let mu = lambda / 2;
    let raw: Vec<f64> = (0..mu)
        .map(|i| ((mu as f64 + 0.5).ln() - ((i + 1) as f64).ln()).max(0.0))
        .collect();
    let total: f64 = raw.iter().sum();
    let w: Vec<f64> = raw.iter().map(|x| x / total).collect();
    let mu_eff = 1.0 / w.iter().map(|x| x * x).sum::<f64>();
    let c_sigma = (mu_eff + 2.0) / (df + mu_eff + 5.0);
    let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (df + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
    let c_c = (4.0 + mu_eff / df) / (df + 4.0 + 2.0 * mu_eff / df);
    // the separable variant's learning rates: (d + 2) / 3 times the full one's
    let sep = (df + 2.0) / 3.0;
    let c_1 = (sep * 2.0 / ((df + 1.3).powi(2) + mu_eff)).min(1.0);
    let c_mu = (sep * 2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((df + 2.0).powi(2) + mu_eff))
        .min(1.0 - c_1)
        .max(0.0);
    let chi = df.sqrt() * (1.0 - 1.0 / (4.0 * df) + 1.0 / (21.0 * df * df));

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut mean = start.to_vec();
    let mut sigma = START_SIGMA;
    let mut var = vec![1.0f64; d];
    let (mut p_sigma, mut p_c) = (vec![0.0; d], vec![0.0; d]);
    let mut best: Option<Judged> = None;
    let mut history = Vec::new();
    let (mut used, mut generation) = (0, 0);
    while used == 0 || used + lambda <= budget {
        // steps y = sqrt(C) z; the points judged are the steps repaired into the box
        let mut ys = Vec::with_capacity(lambda);
        let mut xs = Vec::with_capacity(lambda);
        for j in 0..lambda {
            let z: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
            // the mean itself is judged too: the search never loses sight of its centre
            let z = if j == 0 { vec![0.0; d] } else { z };
            let x: Vec<f64> = (0..d)
                .map(|k| (mean[k] + sigma * var[k].sqrt() * z[k]).clamp(0.0, 1.0))
                .collect();
            ys.push(
                (0..d)
                    .map(|k| (x[k] - mean[k]) / sigma)
                    .collect::<Vec<f64>>(),
            );
            xs.push(x);
        }
        let scores = judge(&xs)?;
        used += lambda;
        generation += 1;
        let mut order: Vec<usize> = (0..lambda).collect();
        order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
        if best.as_ref().is_none_or(|b| scores[order[0]] < b.score) {
            best = Some(Judged {
                x: xs[order[0]].clone(),
                score: scores[order[0]],
            });
        }
        let step: Vec<f64> = (0..d)
            .map(|k| (0..mu).map(|i| w[i] * ys[order[i]][k]).sum())
            .collect();
        for k in 0..d {
            mean[k] = (mean[k] + sigma * step[k]).clamp(0.0, 1.0);
            p_sigma[k] = (1.0 - c_sigma) * p_sigma[k]
                + (c_sigma * (2.0 - c_sigma) * mu_eff).sqrt() * step[k] / var[k].sqrt();
        }
        let ps_norm = p_sigma.iter().map(|x| x * x).sum::<f64>().sqrt();
        let h_sigma = ps_norm / (1.0 - (1.0 - c_sigma).powi(2 * generation)).sqrt()
            < (1.4 + 2.0 / (df + 1.0)) * chi;
        let h = if h_sigma { 1.0 } else { 0.0 };
        for k in 0..d {
            p_c[k] = (1.0 - c_c) * p_c[k] + h * (c_c * (2.0 - c_c) * mu_eff).sqrt() * step[k];
            let rank_mu: f64 = (0..mu).map(|i| w[i] * ys[order[i]][k].powi(2)).sum();
            var[k] = (1.0 - c_1 - c_mu) * var[k]
                + c_1 * (p_c[k].powi(2) + (1.0 - h) * c_c * (2.0 - c_c) * var[k])
                + c_mu * rank_mu;
            var[k] = var[k].clamp(1e-6, 4.0);
        }
        sigma = (sigma * ((c_sigma / d_sigma) * (ps_norm / chi - 1.0)).exp()).clamp(MIN_SIGMA, 0.5);
        let b = best.as_ref().map_or(f64::NAN, |b| b.score);
        history.push(b);
        progress(used, b);
    }
    Ok((best.expect("at least one generation is judged"), history))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_bowl_and_repeats_itself() {
        let target = [0.2, 0.9, 0.5, 0.05];
        let bowl = |xs: &[Vec<f64>]| -> anyhow::Result<Vec<f64>> {
            Ok(xs
                .iter()
                .map(|x| x.iter().zip(&target).map(|(a, b)| (a - b).powi(2)).sum())
                .collect())
        };
        let run = || minimise(&[0.5; 4], 400, 3, bowl, |_, _| {}).unwrap();
        let (best, history) = run();
        assert!(best.score < 1e-3, "{best:?}");
        assert!(history.windows(2).all(|w| w[1] <= w[0]), "{history:?}");
        assert_eq!(run().0.x, best.x, "same seed, same search");
        assert_eq!(population(4), 16);
    }
}
