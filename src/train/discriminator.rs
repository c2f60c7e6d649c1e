//! The discriminator: two patch discriminators, one on the image and one on it shrunk by half
//! (so one sees texture and the other the layout of a whole crop), each with spectrally
//! normalised strided convolutions, LeakyReLU 0.2, and a minibatch standard-deviation channel
//! before its head (a batch of near-identical fakes is easy to spot, which keeps the chain from
//! collapsing onto one look). Outputs maps of logits, one per overlapping patch.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2dConfig;
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, softplus};
use burn::tensor::module::{avg_pool2d, conv2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions};

/// A convolution whose weight is divided by its largest singular value (spectral
/// normalisation), estimated by power iteration on every call from a fixed start vector: no
/// state to carry, and only first-order gradients.
#[derive(Module, Debug)]
pub struct SnConv {
    weight: Param<Tensor<4>>,
    bias: Param<Tensor<1>>,
    stride: usize,
    padding: usize,
}

impl SnConv {
    fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        padding: usize,
        device: &Device,
    ) -> SnConv {
        let conv = Conv2dConfig::new([c_in, c_out], [k, k]).init(device);
        SnConv {
            weight: conv.weight,
            bias: Param::from_tensor(Tensor::zeros([c_out], device)),
            stride,
            padding,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let w = self.weight.val(); // [O, I, k, k]
        let [o, i, kh, kw] = w.dims();
        let mat = w.clone().reshape([o, i * kh * kw]); // [O, N]
        let fixed = mat.clone().detach();
        let mut u = Tensor::<2>::ones([o, 1], &w.device()).div_scalar((o as f32).sqrt()); // [O, 1]
        let mut v = Tensor::<2>::zeros([i * kh * kw, 1], &w.device());
        for _ in 0..4 {
            v = normalize(fixed.clone().transpose().matmul(u.clone())); // [N, 1]
            u = normalize(fixed.clone().matmul(v.clone())); // [O, 1]
        }
        let sigma = u.transpose().matmul(mat.matmul(v)).reshape([1, 1, 1, 1]); // [1,1,1,1]
        let w = w / sigma.add_scalar(1e-6);
        conv2d(
            x,
            w,
            Some(self.bias.val()),
            ConvOptions::new([self.stride; 2], [self.padding; 2], [1, 1], 1),
        )
    }
}

fn normalize(v: Tensor<2>) -> Tensor<2> {
    let n = v.clone().powf_scalar(2.0).sum().sqrt().add_scalar(1e-12); // [1]
    v / n.reshape([1, 1])
}

/// One patch discriminator: [B, C, H, W] → [B, 1, H/8, W/8] logits.
#[derive(Module, Debug)]
pub struct PatchD {
    c1: SnConv,
    c2: SnConv,
    c3: SnConv,
    out: SnConv,
}

impl PatchD {
    fn new(channels: usize, width: usize, device: &Device) -> PatchD {
        PatchD {
            c1: SnConv::new(channels, width, 4, 2, 1, device),
            c2: SnConv::new(width, 2 * width, 4, 2, 1, device),
            c3: SnConv::new(2 * width, 4 * width, 4, 2, 1, device),
            out: SnConv::new(4 * width + 1, 1, 3, 1, 1, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = leaky_relu(self.c1.forward(x), 0.2);
        let x = leaky_relu(self.c2.forward(x), 0.2);
        let x = leaky_relu(self.c3.forward(x), 0.2); // [B, 4w, H/8, W/8]
        self.out.forward(with_batch_std(x))
    }
}

/// Appends one channel holding the mean over features of the standard deviation over the
/// batch (ProGAN's minibatch-std).
fn with_batch_std(x: Tensor<4>) -> Tensor<4> {
    let [b, _, h, w] = x.dims();
    let mean = x.clone().mean_dim(0); // [1, C, h, w]
    let std = (x.clone() - mean)
        .powf_scalar(2.0)
        .mean_dim(0)
        .add_scalar(1e-8)
        .sqrt()
        .mean(); // [1]
    let channel = std.reshape([1, 1, 1, 1]).expand([b, 1, h, w]); // [B, 1, h, w]
    Tensor::cat(vec![x, channel], 1)
}

/// The discriminator: a patch discriminator at full size and one at half size.
#[derive(Module, Debug)]
pub struct Discriminator {
    full: PatchD,
    half: PatchD,
}

impl Discriminator {
    /// Its random weights are drawn inside [`drawing`](crate::augment::model::drawing).
    pub fn new(channels: usize, width: usize, device: &Device) -> Discriminator {
        crate::augment::model::drawing(None, || {
            let d = Discriminator {
                full: PatchD::new(channels, width, device),
                half: PatchD::new(channels, width, device),
            };
            crate::augment::model::materialize(&d);
            d
        })
    }

    /// Logit maps at full and half size.
    pub fn forward(&self, x: Tensor<4>) -> [Tensor<4>; 2] {
        let small = avg_pool2d(x.clone(), AvgPoolOptions::new([2, 2]));
        [self.full.forward(x), self.half.forward(small)]
    }
}

/// The discriminator's non-saturating loss: real patches towards 1, fake ones towards 0,
/// averaged over both scales.
pub fn d_loss(real: [Tensor<4>; 2], fake: [Tensor<4>; 2]) -> Tensor<1> {
    let [r0, r1] = real;
    let [f0, f1] = fake;
    let one = |r: Tensor<4>, f: Tensor<4>| softplus(r.neg(), 1.0).mean() + softplus(f, 1.0).mean();
    (one(r0, f0) + one(r1, f1)).mul_scalar(0.5)
}

/// The chain's non-saturating loss: its patches towards real, at both scales.
pub fn g_loss(fake: [Tensor<4>; 2]) -> Tensor<1> {
    let [f0, f1] = fake;
    (softplus(f0.neg(), 1.0).mean() + softplus(f1.neg(), 1.0).mean()).mul_scalar(0.5)
}

/// Mean logit over patches and scales, for metrics.
pub fn mean_logit(maps: &[Tensor<4>; 2]) -> f64 {
    let m = (maps[0].clone().mean() + maps[1].clone().mean()).mul_scalar(0.5);
    crate::augment::model::first_value(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_scales_give_patch_maps_and_the_batch_std_sees_collapse() {
        let device = Device::flex();
        let d = Discriminator::new(3, 8, &device);
        let x = Tensor::<4>::random(
            [4, 3, 32, 32],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let [full, half] = d.forward(x.clone());
        assert_eq!(full.dims(), [4, 1, 4, 4]);
        assert_eq!(half.dims(), [4, 1, 2, 2]);
        // the extra channel is zero for a batch of one image repeated, positive otherwise
        let same = x.clone().narrow(0, 0, 1).expand([4, 3, 32, 32]);
        let std_of = |t: Tensor<4>| {
            let c = with_batch_std(t);
            let [_, ch, _, _] = c.dims();
            c.narrow(1, ch - 1, 1)
                .mean()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()[0]
        };
        assert!(std_of(same) < 1e-3);
        assert!(std_of(x) > 0.1);
    }
}
