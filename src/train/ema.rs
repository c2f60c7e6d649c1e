//! An exponential moving average of a module's float parameters (generator averaging, as in
//! ProGAN/StyleGAN): the adversarial game makes the chain's levels oscillate around their
//! target from step to step; the average sits at the centre, and is what `generate` applies.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// Float parameters of a module in visiting order, flattened.
struct Collect(Vec<Vec<f32>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(
            param
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default(),
        );
    }
}

/// Replaces the float parameters, in visiting order, by the given values.
struct Replace<'a> {
    values: &'a [Vec<f32>],
    next: usize,
}

impl ModuleMapper for Replace<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(v) = self.values.get(self.next) else {
            return param;
        };
        self.next += 1;
        param.map(|t| {
            if v.len() != t.shape().num_elements() {
                return t;
            }
            let data = TensorData::new(v.clone(), t.shape());
            Tensor::from_data(data, &t.device())
        })
    }
}

/// The running average.
pub struct Ema {
    values: Vec<Vec<f32>>,
    /// Updates so far, for the warm-up of the decay.
    updates: u64,
    /// Longest averaging horizon: decay ≤ 1 − 1/horizon.
    horizon: f32,
}

fn collect<M: Module>(m: &M) -> Vec<Vec<f32>> {
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

impl Ema {
    /// Starts the average at `m`'s current parameters.
    pub fn new<M: Module>(m: &M, horizon: f32) -> Ema {
        Ema {
            values: collect(m),
            updates: 0,
            horizon,
        }
    }

    /// Continues an average saved after `updates` updates (its values are `m`'s parameters).
    pub fn resume<M: Module>(m: &M, updates: u64, horizon: f32) -> Ema {
        Ema {
            values: collect(m),
            updates,
            horizon,
        }
    }

    /// Folds `m`'s current parameters in. The decay grows with the number of updates (a short
    /// run averages over its recent half, a long one over `horizon` steps).
    pub fn update<M: Module>(&mut self, m: &M) {
        self.updates += 1;
        let t = self.updates as f32;
        let decay = ((1.0 + t) / (10.0 + t)).min(1.0 - 1.0 / self.horizon);
        for (avg, cur) in self.values.iter_mut().zip(collect(m)) {
            if avg.len() != cur.len() {
                continue;
            }
            for (a, c) in avg.iter_mut().zip(cur) {
                *a = decay * *a + (1.0 - decay) * c;
            }
        }
    }

    /// A copy of `m` carrying the averaged parameters.
    pub fn apply<M: Module>(&self, m: &M) -> M {
        m.clone().map(&mut Replace {
            values: &self.values,
            next: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    #[test]
    fn average_lies_between_old_and_new_weights() {
        let device = Device::flex();
        let a: Linear = LinearConfig::new(3, 2).init(&device);
        let mut ema = Ema::new(&a, 100.0);
        let b = a.clone().map(&mut Replace {
            values: &collect(&a)
                .iter()
                .map(|v| v.iter().map(|x| x + 1.0).collect())
                .collect::<Vec<_>>(),
            next: 0,
        });
        ema.update(&b);
        let avg = collect(&ema.apply(&a));
        let (old, new) = (collect(&a), collect(&b));
        for ((x, o), n) in avg
            .iter()
            .flatten()
            .zip(old.iter().flatten())
            .zip(new.iter().flatten())
        {
            assert!(x > o && x < n, "{o} < {x} < {n} fails");
        }
        // the decay at the first update is 2/11: the average moved 9/11 of the way
        assert!((avg[0][0] - old[0][0] - 9.0 / 11.0).abs() < 1e-5);
    }
}
