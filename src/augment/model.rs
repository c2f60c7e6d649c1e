//! The learned augmentation stages (RenderGAN, generalised to RGB and any size) as burn modules,
//! and the patch discriminator. Every stage is bounded so it cannot move, hide or invent an
//! object: blur only removes high frequencies, lighting scales stay away from zero, the
//! background is blended only where the soft mask says background, details are high-passed and
//! bounded, and noise has a learned, bounded level. All stages are fully convolutional and take
//! their randomness as input maps, so a model trained on crops applies to full-size renders.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, sigmoid};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use serde::{Deserialize, Serialize};

/// Which stages run, and the sizes that rebuild the model. Saved beside every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageConfig {
    /// 3 for RGB, 1 for grey.
    pub channels: usize,
    pub blur: bool,
    pub lighting: bool,
    pub background: bool,
    pub detail: bool,
    pub noise: bool,
    /// Width of the small conv nets.
    pub width: usize,
}

impl Default for StageConfig {
    fn default() -> Self {
        StageConfig {
            channels: 3,
            blur: true,
            lighting: true,
            background: true,
            detail: true,
            noise: true,
            width: 8,
        }
    }
}

/// Noise maps the chain consumes; made from each image's own RNG at inference.
pub struct NoiseInput {
    /// [B, 1] per-image scalar for the blur level.
    pub blur: Tensor<2>,
    /// [B, 8, H/16, W/16] for the lighting maps.
    pub lighting: Tensor<4>,
    /// [B, 8, H/8, W/8] for the background.
    pub background: Tensor<4>,
    /// [B, 4, H, W] for the details.
    pub detail: Tensor<4>,
    /// [B, C, H, W] sensor noise, standard normal.
    pub pixel: Tensor<4>,
}

/// Channel counts of the noise maps, so callers can make them.
pub const LIGHT_Z: usize = 8;
pub const BG_Z: usize = 8;
pub const DETAIL_Z: usize = 4;

/// Low-resolution side for a full side `n` and a downscale factor.
pub fn low(n: usize, factor: usize) -> usize {
    n.div_ceil(factor).max(1)
}

/// Per-stage statistics of one batch, for metrics and collapse checks.
#[derive(Debug, Clone, Default)]
pub struct StageStats {
    /// Per image: blur σ in pixels, in [0, BLUR_MAX].
    pub blur: Vec<f32>,
    /// Per image: range (max − min) of the lighting scale maps.
    pub light_range: Vec<f32>,
    /// Per image: mean |detail|.
    pub detail: Vec<f32>,
    /// Sensor noise standard deviation (one learned value).
    pub noise: f32,
}

/// Output of the chain: the image after each stage, the soft penalty, the stats.
pub struct ChainOutput {
    /// [B, C, H, W] after every enabled stage, in order (blur, lighting, background, detail, noise).
    pub stages: Vec<(&'static str, Tensor<4>)>,
    pub penalty: Tensor<1>,
    pub stats: StageStats,
}

impl ChainOutput {
    /// The image before the sensor-noise stage: what the L1 self-regularisation compares with
    /// the render (zero-mean pixel noise changes no content, so it is not charged for).
    pub fn content(&self) -> Tensor<4> {
        let i = match self.stages.last() {
            Some(("noise", _)) => self.stages.len() - 2,
            _ => self.stages.len() - 1,
        };
        self.stages[i].1.clone()
    }

    /// The final image.
    pub fn image(&self) -> Tensor<4> {
        self.stages
            .last()
            .expect("the chain always records its input")
            .1
            .clone()
    }
}

fn conv(c_in: usize, c_out: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    let p = k / 2;
    let pad = if stride == 1 {
        PaddingConfig2d::Explicit(p, p, p, p)
    } else {
        PaddingConfig2d::Explicit(1, 1, 1, 1)
    };
    Conv2dConfig::new([c_in, c_out], [k, k])
        .with_stride([stride, stride])
        .with_padding(pad)
        .init(device)
}

/// The same convolution with its weights and bias set to zero.
fn zero(c: Conv2d) -> Conv2d {
    let w = c.weight.val().zeros_like();
    let b = c.bias.as_ref().map(|b| b.val().zeros_like());
    Conv2d {
        weight: Param::from_tensor(w),
        bias: b.map(Param::from_tensor),
        ..c
    }
}

/// Bilinear resampling matrix [out, in] (half-pixel centres, as `align_corners = false`).
fn bilinear_matrix(n_in: usize, n_out: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; n_out * n_in];
    let scale = n_in as f32 / n_out as f32;
    for o in 0..n_out {
        let src = ((o as f32 + 0.5) * scale - 0.5).clamp(0.0, (n_in - 1) as f32);
        let i0 = src.floor() as usize;
        let i1 = (i0 + 1).min(n_in - 1);
        let f = src - i0 as f32;
        m[o * n_in + i0] += 1.0 - f;
        m[o * n_in + i1] += f;
    }
    m
}

/// Bilinear upsampling as two matrix products (rows, then columns): differentiable on every
/// burn backend (the wgpu backend has no bilinear `interpolate` backward) and faster on flex.
fn upsample(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let [oh, ow] = size;
    if (h, w) == (oh, ow) {
        return x;
    }
    let device = x.device();
    let rx = Tensor::<2>::from_data(TensorData::new(bilinear_matrix(w, ow), [ow, w]), &device);
    let ry = Tensor::<2>::from_data(TensorData::new(bilinear_matrix(h, oh), [oh, h]), &device);
    // columns: [B·C·h, w] × [w, W]
    let t = x.reshape([b * c * h, w]).matmul(rx.transpose()); // [BCh, W]
                                                              // rows: [h, ...] → [H, ...] as [H, h] × [h, B·C·W] after moving h to the front
    let t = t
        .reshape([b * c, h, ow])
        .swap_dims(0, 1)
        .reshape([h, b * c * ow]); // [h, BCW]
    let t = ry.matmul(t); // [H, BCW]
    t.reshape([oh, b * c, ow])
        .swap_dims(0, 1)
        .reshape([b, c, oh, ow])
}

/// Gaussian blur with a fixed kernel (depthwise, separable), normalised at the borders by
/// blurring ones, so edges are not pulled towards zero.
pub fn gaussian_blur(x: Tensor<4>, sigma: f32) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let radius = ((3.0 * sigma).ceil() as usize).max(1);
    let k: Vec<f32> = (0..2 * radius + 1)
        .map(|i| (-((i as f32 - radius as f32).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    let k: Vec<f32> = k.iter().map(|v| v / s).collect();
    let device = x.device();
    let n = k.len();
    // channels folded into the batch: a single-channel conv is faster than a grouped one
    let kx = Tensor::<4>::from_data(TensorData::new(k.clone(), [1, 1, 1, n]), &device);
    let ky = Tensor::<4>::from_data(TensorData::new(k, [1, 1, n, 1]), &device);
    let run = |t: Tensor<4>| {
        let t = conv2d(
            t,
            kx.clone(),
            None,
            ConvOptions::new([1, 1], [0, radius], [1, 1], 1),
        );
        conv2d(
            t,
            ky.clone(),
            None,
            ConvOptions::new([1, 1], [radius, 0], [1, 1], 1),
        )
    };
    let ones = Tensor::<4>::ones([1, 1, h, w], &device);
    (run(x.reshape([b * c, 1, h, w])) / run(ones)).reshape([b, c, h, w])
}

/// Largest learned blur σ in pixels.
pub const BLUR_MAX: f32 = 3.0;

/// Gaussian blur with a different, differentiable σ per image ([B, 1], pixels): kernels are
/// built from σ with tensor ops and applied as one grouped convolution over (image, channel).
fn blur_per_image(x: Tensor<4>, sigma: Tensor<2>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let device = x.device();
    let r = BLUR_MAX.ceil() as usize * 3;
    let k = 2 * r + 1;
    let t: Vec<f32> = (0..k).map(|i| (i as f32 - r as f32).powi(2)).collect();
    let t2 = Tensor::<2>::from_data(TensorData::new(t, [1, k]), &device); // [1, K]
    let var2 = sigma.powf_scalar(2.0).mul_scalar(2.0).add_scalar(1e-3); // [B, 1]
    let kern = (t2.neg() / var2).exp(); // [B, K]
    let kern = kern.clone() / kern.sum_dim(1); // [B, K], rows sum to 1
    let kern = kern
        .reshape([b, 1, k])
        .expand([b, c, k])
        .reshape([b * c, 1, 1, k]); // [BC, 1, 1, K]
    let groups = b * c;
    let run = |t: Tensor<4>, kern: &Tensor<4>| {
        let t = conv2d(
            t,
            kern.clone(),
            None,
            ConvOptions::new([1, 1], [0, r], [1, 1], groups),
        );
        conv2d(
            t,
            kern.clone().reshape([groups, 1, k, 1]),
            None,
            ConvOptions::new([1, 1], [r, 0], [1, 1], groups),
        )
    };
    let flat = x.reshape([1, groups, h, w]);
    let ones = Tensor::<4>::ones([1, groups, h, w], &device);
    (run(flat, &kern) / run(ones, &kern)).reshape([b, c, h, w])
}

/// Mean distance outside [lo, hi], RenderGAN's `InBounds` penalty before its weight.
fn out_of_bounds<const D: usize>(raw: Tensor<D>, lo: f32, hi: f32) -> Tensor<1> {
    let above = (raw.clone() - hi).clamp_min(0.0);
    let below = (raw.neg() + lo).clamp_min(0.0);
    (above + below).mean()
}

fn per_image_mean(x: Tensor<4>) -> Vec<f32> {
    let [b, _, _, _] = x.dims();
    x.reshape([b as i32, -1])
        .mean_dim(1)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

/// The generator: the chain of bounded stages.
#[derive(Module, Debug)]
pub struct Chain {
    blur_a: Param<Tensor<1>>,
    blur_c: Param<Tensor<1>>,
    light1: Conv2d,
    light2: Conv2d,
    bg1: Conv2d,
    bg2: Conv2d,
    bg3: Conv2d,
    bg4: Conv2d,
    detail1: Conv2d,
    detail2: Conv2d,
    noise_level: Param<Tensor<1>>,
    channels: usize,
    flags: [bool; 5],
}

/// The per-image scalars (blur level, noise level) are stored divided by this, so Adam's
/// step (about the learning rate) moves them as fast as it moves conv weights' effect.
pub const SCALAR_GAIN: f32 = 30.0;

/// Largest detail amplitude (images are in [-1, 1]).
pub const DETAIL_BOUND: f32 = 0.5;
/// Largest sensor noise standard deviation.
pub const NOISE_BOUND: f32 = 0.25;

impl Chain {
    /// A fresh chain; starts near identity (little blur, unit lighting, faint detail and noise).
    pub fn new(cfg: &StageConfig, device: &Device) -> Chain {
        let (c, w) = (cfg.channels, cfg.width);
        let scalar = |v: f32| {
            Param::from_tensor(Tensor::<1>::from_data(
                TensorData::new(vec![v], [1]),
                device,
            ))
        };
        Chain {
            blur_a: scalar(0.1 / SCALAR_GAIN),
            blur_c: scalar(-2.0 / SCALAR_GAIN),
            light1: conv(LIGHT_Z, w, 3, 1, device),
            // last layers start at zero: lighting starts as the identity (scales 1, shift 0)
            // and detail as nothing; each moves only as far as the discriminator asks
            light2: zero(conv(w, 3, 3, 1, device)),
            bg1: conv(BG_Z, 2 * w, 3, 1, device),
            bg2: conv(2 * w, 2 * w, 3, 1, device),
            bg3: conv(2 * w, w, 3, 1, device),
            bg4: conv(w, c, 3, 1, device),
            detail1: conv(c + DETAIL_Z, w, 3, 1, device),
            detail2: zero(conv(w, c, 3, 1, device)),
            noise_level: scalar(-3.0 / SCALAR_GAIN),
            channels: c,
            flags: [
                cfg.blur,
                cfg.lighting,
                cfg.background,
                cfg.detail,
                cfg.noise,
            ],
        }
    }

    /// Runs the enabled stages on `x` [B, C, H, W] in [-1, 1] with soft object mask `m`
    /// [B, 1, H, W] in [0, 1].
    pub fn forward(&self, x: Tensor<4>, m: Tensor<4>, z: &NoiseInput) -> ChainOutput {
        let [b, _, h, w] = x.dims();
        let device = x.device();
        let mut stats = StageStats::default();
        let mut penalty = Tensor::<1>::zeros([1], &device);
        let mut stages = vec![("render", x.clone())];
        let mut x = x;
        let [blur, lighting, background, detail, noise] = self.flags;
        if blur {
            // a learned Gaussian σ per image in [0, BLUR_MAX] px: blurring only removes high
            // frequencies, and σ is what a camera's defocus or motion is measured in
            let (a, c) = (
                self.blur_a.val().mul_scalar(SCALAR_GAIN),
                self.blur_c.val().mul_scalar(SCALAR_GAIN),
            );
            let raw = z.blur.clone() * a.reshape([1, 1]) + c.reshape([1, 1]); // [B, 1]
            let sigma = sigmoid(raw).mul_scalar(BLUR_MAX); // [B, 1]
            stats.blur = sigma
                .clone()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            x = blur_per_image(x, sigma);
            stages.push(("blur", x.clone()));
        }
        if lighting {
            let t = leaky_relu(self.light1.forward(z.lighting.clone()), 0.2); // [B, w, h/16, w/16]
            let raw = upsample(self.light2.forward(t), [h, w]); // [B, 3, H, W]
            penalty = penalty + out_of_bounds(raw.clone(), -3.0, 3.0).mul_scalar(15.0);
            let raw = raw.clamp(-3.0, 3.0);
            // scales in (0.1, 1.9]: never zero, so contrast between parts never flips
            let s_black = sigmoid(raw.clone().narrow(1, 0, 1))
                .mul_scalar(1.8)
                .add_scalar(0.1); // [B, 1, H, W]
            let s_white = sigmoid(raw.clone().narrow(1, 1, 1))
                .mul_scalar(1.8)
                .add_scalar(0.1);
            let shift = raw.narrow(1, 2, 1).tanh().mul_scalar(0.3);
            let dark = x.clone().lower_elem(0.0).float(); // [B, C, H, W]
            let scale = dark.clone() * s_black.clone() + (dark.neg() + 1.0) * s_white.clone();
            x = x * scale + shift;
            let both = Tensor::cat(vec![s_black, s_white], 1); // [B, 2, H, W]
            let flat = both.reshape([b as i32, -1]);
            let range = flat.clone().max_dim(1) - flat.min_dim(1); // [B, 1]
            stats.light_range = range.into_data().try_to_vec::<f32>().unwrap_or_default();
            stages.push(("lighting", x.clone()));
        }
        if background {
            let t = leaky_relu(self.bg1.forward(z.background.clone()), 0.2); // [B, 2w, H/8, W/8]
            let t = upsample(t, [low(h, 4), low(w, 4)]);
            let t = leaky_relu(self.bg2.forward(t), 0.2);
            let t = upsample(t, [low(h, 2), low(w, 2)]);
            let t = leaky_relu(self.bg3.forward(t), 0.2);
            let t = upsample(t, [h, w]);
            let bg = self.bg4.forward(t).tanh(); // [B, C, H, W]
            let inside = m.clone(); // [B, 1, H, W]
            x = x * inside.clone() + bg * (inside.neg() + 1.0);
            stages.push(("background", x.clone()));
        }
        if detail {
            let t = Tensor::cat(vec![x.clone(), z.detail.clone()], 1); // [B, C + 4, H, W]
            let t = leaky_relu(self.detail1.forward(t), 0.2);
            // starts faint: the stage adds detail only as far as the discriminator asks for it
            let raw = self.detail2.forward(t).mul_scalar(0.1); // [B, C, H, W]
            penalty =
                penalty + out_of_bounds(raw.clone(), -DETAIL_BOUND, DETAIL_BOUND).mul_scalar(15.0);
            let d = raw.clamp(-DETAIL_BOUND, DETAIL_BOUND);
            // high-pass three times: what remains cannot shift the low frequencies that carry labels
            let mut hp = d;
            for _ in 0..3 {
                hp = hp.clone() - gaussian_blur(hp, 3.5);
            }
            stats.detail = per_image_mean(hp.clone().abs());
            x = x + hp;
            stages.push(("detail", x.clone()));
        }
        if noise {
            let sigma =
                sigmoid(self.noise_level.val().mul_scalar(SCALAR_GAIN)).mul_scalar(NOISE_BOUND); // [1]
            stats.noise = sigma
                .clone()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_default()
                .first()
                .copied()
                .unwrap_or(0.0);
            x = x + z.pixel.clone() * sigma.reshape([1, 1, 1, 1]);
            stages.push(("noise", x.clone()));
        }
        let last = stages.len() - 1;
        stages[last].1 = stages[last].1.clone().clamp(-1.0, 1.0);
        ChainOutput {
            stages,
            penalty,
            stats,
        }
    }

    /// Channels the chain was built for.
    pub fn channels(&self) -> usize {
        self.channels
    }
}

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

/// Patch discriminator: strided spectrally normalised convs with LeakyReLU 0.2 and a 1-channel
/// map of logits, one per overlapping patch (SimGAN's local adversarial loss).
#[derive(Module, Debug)]
pub struct Discriminator {
    c1: SnConv,
    c2: SnConv,
    c3: SnConv,
    out: SnConv,
}

impl Discriminator {
    pub fn new(channels: usize, width: usize, device: &Device) -> Discriminator {
        Discriminator {
            c1: SnConv::new(channels, width, 4, 2, 1, device),
            c2: SnConv::new(width, 2 * width, 4, 2, 1, device),
            c3: SnConv::new(2 * width, 4 * width, 4, 2, 1, device),
            out: SnConv::new(4 * width, 1, 3, 1, 1, device),
        }
    }

    /// [B, C, H, W] → [B, 1, H/8, W/8] logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = leaky_relu(self.c1.forward(x), 0.2);
        let x = leaky_relu(self.c2.forward(x), 0.2);
        let x = leaky_relu(self.c3.forward(x), 0.2);
        self.out.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::infer::batch_inputs;

    fn inputs(
        b: usize,
        c: usize,
        h: usize,
        w: usize,
        device: &Device,
    ) -> (Tensor<4>, Tensor<4>, NoiseInput) {
        let seeds: Vec<u64> = (0..b as u64).collect();
        // a square object in the middle of each image
        let alpha: Vec<f32> = (0..h * w)
            .map(|i| {
                if (i / w) * 4 >= h
                    && (i / w) * 4 < 3 * h
                    && (i % w) * 4 >= w
                    && (i % w) * 4 < 3 * w
                {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let alphas = vec![alpha; b];
        let (m, z) = batch_inputs(&seeds, &alphas, c, w, h, device);
        let x: Vec<f32> = (0..b * c * h * w)
            .map(|i| ((i * 7919) % 200) as f32 / 100.0 - 1.0)
            .collect();
        (
            Tensor::from_data(TensorData::new(x, [b, c, h, w]), device),
            m,
            z,
        )
    }

    fn only(stage: &str) -> StageConfig {
        StageConfig {
            channels: 3,
            blur: stage == "blur",
            lighting: stage == "lighting",
            background: stage == "background",
            detail: stage == "detail",
            noise: stage == "noise",
            width: 8,
        }
    }

    fn vec4(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn upsampling_matches_burns_bilinear_interpolate() {
        use burn::tensor::module::interpolate;
        use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
        let device = Device::flex();
        let v: Vec<f32> = (0..2 * 3 * 5 * 7).map(|i| ((i * 37) % 11) as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(v, [2, 3, 5, 7]), &device);
        let ours = vec4(upsample(x.clone(), [20, 16]));
        let want = vec4(interpolate(
            x,
            InterpolateOptions::new(InterpolateMode::Bilinear)
                .with_output_size([20, 16])
                .with_align_corners(false),
        ));
        let worst = ours
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "differs from interpolate by {worst}");
    }

    #[test]
    fn background_changes_only_pixels_outside_the_mask() {
        let device = Device::flex();
        let (x, m, z) = inputs(2, 3, 32, 32, &device);
        let out = Chain::new(&only("background"), &device).forward(x.clone(), m.clone(), &z);
        let (a, b, mask) = (vec4(x), vec4(out.image()), vec4(m));
        let hw = 32 * 32;
        let mut changed_outside = 0;
        for i in 0..a.len() {
            let mi = mask[(i / (3 * hw)) * hw + i % hw];
            if mi == 1.0 {
                assert_eq!(a[i], b[i], "pixel {i} under the object changed");
            } else if mi == 0.0 && (a[i] - b[i]).abs() > 1e-4 {
                changed_outside += 1;
            }
        }
        assert!(
            changed_outside > 100,
            "the background stage replaced the background"
        );
    }

    #[test]
    fn blur_keeps_the_mean_and_lowers_high_frequencies() {
        let device = Device::flex();
        let (x, m, z) = inputs(2, 3, 32, 32, &device);
        let out = Chain::new(&only("blur"), &device).forward(x.clone(), m, &z);
        let y = out.image();
        let diff = |t: Tensor<4>| {
            // energy of horizontal differences: high frequencies
            let a = t.clone().narrow(3, 1, 31) - t.narrow(3, 0, 31);
            a.powf_scalar(2.0)
                .mean()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()[0]
        };
        assert!(diff(y.clone()) < diff(x.clone()));
        let (mx, my) = (
            x.mean().into_data().try_to_vec::<f32>().unwrap()[0],
            y.mean().into_data().try_to_vec::<f32>().unwrap()[0],
        );
        assert!((mx - my).abs() < 0.02, "mean {mx} → {my}");
        assert!(out.stats.blur.iter().all(|b| (0.0..=BLUR_MAX).contains(b)));
    }

    #[test]
    fn lighting_scales_stay_positive_and_detail_and_noise_stay_bounded() {
        let device = Device::flex();
        let (x, m, z) = inputs(2, 3, 32, 32, &device);
        let lit = Chain::new(&only("lighting"), &device).forward(x.clone(), m.clone(), &z);
        // scales lie in [0.1, 1.9]: the range over a map is below 1.8
        assert!(lit.stats.light_range.iter().all(|r| (0.0..1.8).contains(r)));
        let det = Chain::new(&only("detail"), &device).forward(x.clone(), m.clone(), &z);
        let (a, b) = (vec4(x.clone()), vec4(det.image()));
        let max = a
            .iter()
            .zip(&b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        // the high-pass of a clamped map is at most 2^3 × the bound
        assert!(
            max <= 8.0 * DETAIL_BOUND + 1e-4,
            "detail moved a pixel by {max}"
        );
        let noisy = Chain::new(&only("noise"), &device).forward(x, m, &z);
        assert!(noisy.stats.noise > 0.0 && noisy.stats.noise <= NOISE_BOUND);
    }
}
