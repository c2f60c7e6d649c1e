//! Separable CMA-ES (Ros & Hansen 2008: the covariance matrix adaptation evolution strategy
//! with a diagonal covariance) over the box [0, 1]^d: draw a population around a mean, move the
//! mean to the weighted best half, adapt each coordinate's spread from the steps that paid, and
//! the overall step size from the length of the evolution path, so the search neither stalls far
//! from the optimum nor collapses before it gets there. Points outside the box are judged at the
//! nearest point inside it, and the step taken is the repaired one. Gradient-free (the renderer
//! is not differentiable and need not be), default settings from the paper, deterministic for a
//! seed. The caller judges a whole generation at once and is handed the search's [`State`]
//! after each; a search resumed from a saved state goes on exactly as if it had never stopped.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// The starting step size, in units of the box's side.
const START_SIGMA: f64 = 0.3;
/// The step size never falls below this, so the search can still move late.
const MIN_SIGMA: f64 = 0.01;

/// One judged point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub x: Vec<f64>,
    pub score: f64,
}

/// Where a search stands after a generation: all it needs to go on (JSON keeps each f64
/// exactly: it writes the shortest text that reads back to the same bits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub mean: Vec<f64>,
    pub sigma: f64,
    /// The diagonal covariance.
    pub var: Vec<f64>,
    pub p_sigma: Vec<f64>,
    pub p_c: Vec<f64>,
    pub best: Option<Judged>,
    /// Every generation's best-so-far score.
    pub history: Vec<f64>,
    /// Points judged so far.
    pub used: usize,
    pub generation: i32,
    /// The draws' stream position (ChaCha's word position as its high and low 64 bits: JSON
    /// numbers hold 64 at most).
    pub stream: [u64; 2],
}

impl State {
    fn new(start: &[f64]) -> State {
        let d = start.len();
        State {
            mean: start.to_vec(),
            sigma: START_SIGMA,
            var: vec![1.0; d],
            p_sigma: vec![0.0; d],
            p_c: vec![0.0; d],
            best: None,
            history: Vec::new(),
            used: 0,
            generation: 0,
            stream: [0, 0],
        }
    }

    /// Whether a search with this `budget` and `dims` coordinates has judged all it will.
    pub fn finished(&self, budget: usize, dims: usize) -> bool {
        self.used >= points(budget, dims)
    }
}

/// How many points a search of `dims` coordinates judges for `budget`: whole generations, at
/// least one, as many as fit in the budget ([`minimise`]'s loop).
pub fn points(budget: usize, dims: usize) -> usize {
    let lambda = population(dims);
    lambda * (budget / lambda).max(1)
}

/// Population size for `dims` coordinates: twice CMA-ES's default 4 + 3 ln d (the objective is
/// noisy; measured on the known-scene test, the default population stopped farther from the
/// truth for the same budget), at least 12.
pub fn population(dims: usize) -> usize {
    let p = 2.0 * (4.0 + 3.0 * (dims.max(1) as f64).ln());
    (p.floor() as usize).max(12)
}

/// Minimises `judge` (which scores a whole generation, lower is better) from `start`, or from
/// `resume` (a state an earlier search of the same `start` and `seed` handed out), over at most
/// `budget` judged points (at least one generation); `progress` sees the state after each
/// generation (to show it, or to save it: its error stops the search). Returns the best point
/// judged and every generation's best-so-far score. Long: one update of the strategy's state,
/// in the paper's order.
pub fn minimise(
    start: &[f64],
    budget: usize,
    seed: u64,
    resume: Option<State>,
    mut judge: impl FnMut(&[Vec<f64>]) -> anyhow::Result<Vec<f64>>,
    mut progress: impl FnMut(&State) -> anyhow::Result<()>,
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

    let mut st = resume.unwrap_or_else(|| State::new(start));
    anyhow::ensure!(
        [&st.mean, &st.var, &st.p_sigma, &st.p_c]
            .iter()
            .all(|v| v.len() == d)
            && st.best.as_ref().is_none_or(|b| b.x.len() == d),
        "a saved search of {} coordinates cannot go on with {d}",
        st.mean.len()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_word_pos(((st.stream[0] as u128) << 64) | st.stream[1] as u128);
    while st.used == 0 || st.used + lambda <= budget {
        // steps y = sqrt(C) z; the points judged are the steps repaired into the box
        let mut ys = Vec::with_capacity(lambda);
        let mut xs = Vec::with_capacity(lambda);
        for j in 0..lambda {
            let z: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
            // the mean itself is judged too: the search never loses sight of its centre
            let z = if j == 0 { vec![0.0; d] } else { z };
            let x: Vec<f64> = (0..d)
                .map(|k| (st.mean[k] + st.sigma * st.var[k].sqrt() * z[k]).clamp(0.0, 1.0))
                .collect();
            ys.push(
                (0..d)
                    .map(|k| (x[k] - st.mean[k]) / st.sigma)
                    .collect::<Vec<f64>>(),
            );
            xs.push(x);
        }
        let scores = judge(&xs)?;
        st.used += lambda;
        st.generation += 1;
        let mut order: Vec<usize> = (0..lambda).collect();
        order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
        if st.best.as_ref().is_none_or(|b| scores[order[0]] < b.score) {
            st.best = Some(Judged {
                x: xs[order[0]].clone(),
                score: scores[order[0]],
            });
        }
        let step: Vec<f64> = (0..d)
            .map(|k| (0..mu).map(|i| w[i] * ys[order[i]][k]).sum())
            .collect();
        for (k, s) in step.iter().enumerate() {
            st.mean[k] = (st.mean[k] + st.sigma * s).clamp(0.0, 1.0);
            st.p_sigma[k] = (1.0 - c_sigma) * st.p_sigma[k]
                + (c_sigma * (2.0 - c_sigma) * mu_eff).sqrt() * s / st.var[k].sqrt();
        }
        let ps_norm = st.p_sigma.iter().map(|x| x * x).sum::<f64>().sqrt();
        let h_sigma = ps_norm / (1.0 - (1.0 - c_sigma).powi(2 * st.generation)).sqrt()
            < (1.4 + 2.0 / (df + 1.0)) * chi;
        let h = if h_sigma { 1.0 } else { 0.0 };
        for k in 0..d {
            st.p_c[k] = (1.0 - c_c) * st.p_c[k] + h * (c_c * (2.0 - c_c) * mu_eff).sqrt() * step[k];
            let rank_mu: f64 = (0..mu).map(|i| w[i] * ys[order[i]][k].powi(2)).sum();
            st.var[k] = (1.0 - c_1 - c_mu) * st.var[k]
                + c_1 * (st.p_c[k].powi(2) + (1.0 - h) * c_c * (2.0 - c_c) * st.var[k])
                + c_mu * rank_mu;
            st.var[k] = st.var[k].clamp(1e-6, 4.0);
        }
        st.sigma =
            (st.sigma * ((c_sigma / d_sigma) * (ps_norm / chi - 1.0)).exp()).clamp(MIN_SIGMA, 0.5);
        let b = st.best.as_ref().map_or(f64::NAN, |b| b.score);
        st.history.push(b);
        let pos = rng.get_word_pos();
        st.stream = [(pos >> 64) as u64, pos as u64];
        progress(&st)?;
    }
    Ok((
        st.best.expect("at least one generation is judged"),
        st.history,
    ))
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
        let run = || minimise(&[0.5; 4], 400, 3, None, bowl, |_| Ok(())).unwrap();
        let (best, history) = run();
        assert!(best.score < 1e-3, "{best:?}");
        assert!(history.windows(2).all(|w| w[1] <= w[0]), "{history:?}");
        assert_eq!(run().0.x, best.x, "same seed, same search");
        assert_eq!(population(4), 16);
    }

    #[test]
    fn a_search_stopped_and_resumed_from_its_saved_state_ends_where_an_unbroken_one_does() {
        let target = [0.7, 0.1, 0.4];
        let bowl = |xs: &[Vec<f64>]| -> anyhow::Result<Vec<f64>> {
            Ok(xs
                .iter()
                .map(|x| x.iter().zip(&target).map(|(a, b)| (a - b).powi(2)).sum())
                .collect())
        };
        let whole = minimise(&[0.5; 3], 300, 9, None, bowl, |_| Ok(())).unwrap();
        // stopped after its 5th generation: the state saved as JSON text, as fit keeps it
        let mut saved = String::new();
        let stopped = minimise(&[0.5; 3], 300, 9, None, bowl, |st| {
            saved = serde_json::to_string(st)?;
            anyhow::ensure!(st.generation < 5, "stopped");
            Ok(())
        });
        assert!(stopped.is_err());
        let state: State = serde_json::from_str(&saved).unwrap();
        assert_eq!((state.generation, state.history.len()), (5, 5));
        assert!(!state.finished(300, 3) && state.finished(state.used, 3));
        let resumed = minimise(&[0.5; 3], 300, 9, Some(state), bowl, |_| Ok(())).unwrap();
        assert_eq!(
            resumed, whole,
            "the same points, scores and history, bit for bit"
        );
        // a state of other dimensions is refused
        let three: State = serde_json::from_str(&saved).unwrap();
        assert!(minimise(&[0.5; 4], 300, 9, Some(three), bowl, |_| Ok(())).is_err());
    }
}
