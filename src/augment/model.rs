//! The learned augmentation stages (RenderGAN, generalised to RGB and any size) as burn modules.
//! Every stage is bounded so it cannot move, hide or invent an object: blur only removes high
//! frequencies, lighting scales stay away from zero, the background changes only the share of a
//! pixel no object covers and only by a smooth colour shift plus a texture whose energy is capped
//! by what the real photos' borders show, details are high-passed and bounded, and noise has a
//! learned, bounded level.
//!
//! Scale: a chain learns either on renders of the whole scene at the training resolution
//! (`res`²), or at the output's scale: on `res`² crops of renders made at the output size, the
//! whole-frame maps (lighting, the background's colour ramp and texture) made for the whole
//! render and cut at the crop's [`Window`]. It is applied at any output size. `forward` takes
//! [`Scales`]: output pixels per training pixel for the maps (made at the training size and
//! resized) and for the per-pixel stages (blur σ, sensor noise σ), so what a stage does
//! relative to the objects is the same at every output resolution.
//! The discriminator lives in `train`; this module is what `generate --augment` needs.

use super::stages::{
    frame_size, gaussian_kernel, low, resample_matrix, train_size, Scales, Stage, StageConfig,
    StageStats, Switches, Window, BG_RAMP_BOUND, BG_SHIFT_BOUND, BG_Z, BLUR_MAX, DETAIL_BOUND,
    DETAIL_Z, LIGHT_Z, NOISE_BOUND, SCALAR_GAIN,
};
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, sigmoid};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// Noise the chain consumes; made from each image's own RNG, at the training-pixel size of the
/// image (see [`train_size`]).
pub struct NoiseInput {
    /// [B, 1] per-image scalar for the blur level.
    pub blur: Tensor<2>,
    /// [B, 8, h/16, w/16] for the lighting maps (h, w: the whole frame's when the images are
    /// crops of larger renders).
    pub lighting: Tensor<4>,
    /// [B, 8] for the background's colour shift and ramp.
    pub bg_color: Tensor<2>,
    /// [B, 8, h/8, w/8] for the background texture (h, w: the whole frame's, as lighting's).
    pub background: Tensor<4>,
    /// [B, 4, h, w] for the details.
    pub detail: Tensor<4>,
    /// [B, C, H, W] sensor noise per output pixel, standard normal.
    pub pixel: Tensor<4>,
    /// Where each image lies in its render when the images are crops of larger renders (the
    /// lighting noise is then made for the whole render); `None` when each image is its whole
    /// frame.
    pub windows: Option<Vec<Window>>,
}

/// Output of the chain: the image after each stage, the soft penalty, the stats.
pub struct ChainOutput {
    /// [B, C, H, W]: the render (`None`), then after every enabled stage, in chain order.
    pub stages: Vec<(Option<Stage>, Tensor<4>)>,
    pub penalty: Tensor<1>,
    pub stats: StageStats,
}

impl ChainOutput {
    /// The image before the sensor-noise stage: what the L1 self-regularisation compares with
    /// the render (zero-mean pixel noise changes no content, so it is not charged for).
    pub fn content(&self) -> Tensor<4> {
        let i = match self.stages.last() {
            Some((Some(Stage::Noise), _)) => self.stages.len() - 2,
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

/// A learned scalar whose effective value (after the `SCALAR_GAIN` the forward pass applies)
/// starts at `v`.
fn scalar(v: f32, device: &Device) -> Param<Tensor<1>> {
    Param::from_tensor(Tensor::<1>::from_data(
        TensorData::new(vec![v / SCALAR_GAIN], [1]),
        device,
    ))
}

fn conv(c_in: usize, c_out: usize, k: usize, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([c_in, c_out], [k, k])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
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

/// A linear layer with its weights and bias set to zero.
fn zero_linear(l: Linear) -> Linear {
    let w = l.weight.val().zeros_like();
    let b = l.bias.as_ref().map(|b| b.val().zeros_like());
    Linear {
        weight: Param::from_tensor(w),
        bias: b.map(Param::from_tensor),
    }
}

/// Resizes [B, C, h, w] to `size` as two matrix products (rows, then columns): bilinear up,
/// area down. Differentiable on every burn backend (the wgpu backend has no bilinear
/// `interpolate` backward) and faster on flex.
pub fn resize(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let [oh, ow] = size;
    if (h, w) == (oh, ow) {
        return x;
    }
    let device = x.device();
    let rx = Tensor::<2>::from_data(TensorData::new(resample_matrix(w, ow), [ow, w]), &device);
    let ry = Tensor::<2>::from_data(TensorData::new(resample_matrix(h, oh), [oh, h]), &device);
    let t = x.reshape([b * c * h, w]).matmul(rx.transpose()); // [BCh, W]
    let t = t
        .reshape([b * c, h, ow])
        .swap_dims(0, 1)
        .reshape([h, b * c * ow]); // [h, BCW]
    let t = ry.matmul(t); // [H, BCW]
    t.reshape([oh, b * c, ow])
        .swap_dims(0, 1)
        .reshape([b, c, oh, ow])
}

/// The part of each image's whole-frame map `m` [B, C, fh, fw] that the image covers: the map
/// resized to its render's size and cut at the image's window, as two small matrix products per
/// image (the rows and columns of [`resize`] the window needs). `size` is the images' [H, W].
fn windowed(m: Tensor<4>, windows: &[Window], [h, w]: [usize; 2]) -> Tensor<4> {
    let [_, c, fh, fw] = m.dims();
    let device = m.device();
    let parts: Vec<Tensor<4>> = windows
        .iter()
        .enumerate()
        .map(|(k, win)| {
            let (rh, rw) = win.frame;
            let ry = resample_matrix(fh, rh)[win.y * fh..(win.y + h) * fh].to_vec();
            let rx = resample_matrix(fw, rw)[win.x * fw..(win.x + w) * fw].to_vec();
            let ry = Tensor::<2>::from_data(TensorData::new(ry, [h, fh]), &device);
            let rx = Tensor::<2>::from_data(TensorData::new(rx, [w, fw]), &device);
            let t = m
                .clone()
                .narrow(0, k, 1)
                .reshape([c * fh, fw])
                .matmul(rx.transpose()); // [C·fh, W]
            let t = t.reshape([c, fh, w]).swap_dims(0, 1).reshape([fh, c * w]);
            ry.matmul(t) // [H, C·W]
                .reshape([h, c, w])
                .swap_dims(0, 1)
                .reshape([1, c, h, w])
        })
        .collect();
    Tensor::cat(parts, 0)
}

/// Gaussian blur with a fixed kernel (depthwise, separable), normalised at the borders by
/// blurring ones, so edges are not pulled towards zero.
pub fn gaussian_blur(x: Tensor<4>, sigma: f32) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let (radius, k) = gaussian_kernel(sigma);
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

/// Gaussian blur with a different, differentiable σ per image ([B, 1], pixels): kernels are
/// built from σ with tensor ops and applied as one grouped convolution over (image, channel).
/// The kernel reaches 3 σ of the largest σ in the batch.
fn blur_per_image(x: Tensor<4>, sigma: Tensor<2>, max_sigma: f32) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let device = x.device();
    let r = ((3.0 * max_sigma).ceil() as usize).max(1);
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

/// A tensor's values as f32 (empty when they cannot be read).
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default()
}

/// The first value of a tensor as f64 (NaN when there is none): a loss or a mean.
pub fn first_value<const D: usize>(t: Tensor<D>) -> f64 {
    values(t).first().copied().unwrap_or(f32::NAN) as f64
}

fn per_image_mean(x: Tensor<4>) -> Vec<f32> {
    let [b, _, _, _] = x.dims();
    values(x.reshape([b as i32, -1]).mean_dim(1))
}

/// Per-image RMS of [B, C, H, W] as [B, 1, 1, 1].
fn per_image_rms(x: Tensor<4>) -> Tensor<4> {
    let [b, _, _, _] = x.dims();
    x.powf_scalar(2.0)
        .reshape([b as i32, -1])
        .mean_dim(1)
        .add_scalar(1e-12)
        .sqrt()
        .reshape([b, 1, 1, 1])
}

/// The generator: the chain of bounded stages.
#[derive(Module, Debug)]
pub struct Chain {
    blur_a: Param<Tensor<1>>,
    blur_c: Param<Tensor<1>>,
    light1: Conv2d,
    light2: Conv2d,
    bg_color1: Linear,
    bg_color2: Linear,
    bg1: Conv2d,
    bg2: Conv2d,
    bg3: Conv2d,
    bg4: Conv2d,
    detail1: Conv2d,
    detail2: Conv2d,
    noise_level: Param<Tensor<1>>,
    channels: usize,
    #[module(skip)]
    flags: Switches,
    bg_bound: f32,
}

/// burn's flex backend draws every new parameter from one process-wide generator, which
/// `Device::seed` resets: a model made while another thread draws would get some of that
/// thread's numbers. Every model of this crate is made inside this: with `seed` the generator
/// is reset first, and the model is a pure function of the seed whatever runs beside it (tests
/// run in parallel threads of one process). Nested calls on one thread go straight through.
pub fn drawing<T>(seed: Option<(&Device, u64)>, make: impl FnOnce() -> T) -> T {
    use std::cell::Cell;
    use std::sync::Mutex;
    static GENERATOR: Mutex<()> = Mutex::new(());
    thread_local! {
        static HELD: Cell<bool> = const { Cell::new(false) };
    }
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            HELD.with(|h| h.set(false));
        }
    }
    let _held = (!HELD.with(Cell::get)).then(|| {
        let lock = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
        HELD.with(|h| h.set(true));
        (lock, Release)
    });
    if let Some((device, seed)) = seed {
        device.seed(seed);
    }
    make()
}

/// Draws a module's parameters now: burn makes a parameter's random values at its first use,
/// which would be outside [`drawing`] (and then depend on what other threads draw meanwhile).
pub fn materialize<M: Module>(m: &M) {
    struct Touch;
    impl burn::module::ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let _ = p.val();
        }
    }
    m.visit(&mut Touch);
}

impl Chain {
    /// A fresh chain, nearly the identity: lighting, background and detail start as the
    /// identity (their last layers are zero), blur and noise start faint; each moves only as far
    /// as the discriminator asks. Its random weights are drawn inside [`drawing`].
    pub fn new(cfg: &StageConfig, device: &Device) -> Chain {
        drawing(None, || {
            let chain = Chain::build(cfg, device);
            materialize(&chain);
            chain
        })
    }

    fn build(cfg: &StageConfig, device: &Device) -> Chain {
        let (c, w) = (cfg.channels, cfg.width);
        let scalar = |v: f32| scalar(v, device);
        Chain {
            // blur and noise start faint but not at nothing (σ 0.36 training px, noise 0.012):
            // from much fainter starts (σ 0.05) the blur did not learn at all in 400 steps on the
            // test domain
            blur_a: scalar(0.1),
            blur_c: scalar(-2.0),
            light1: conv(LIGHT_Z, w, 3, device),
            light2: zero(conv(w, 3, 3, device)),
            bg_color1: LinearConfig::new(BG_Z, w).init(device),
            bg_color2: zero_linear(LinearConfig::new(w, 3 * c).init(device)),
            bg1: conv(BG_Z, 2 * w, 3, device),
            bg2: conv(2 * w, 2 * w, 3, device),
            bg3: conv(2 * w, w, 3, device),
            bg4: zero(conv(w, c, 3, device)),
            detail1: conv(c + DETAIL_Z, w, 3, device),
            detail2: zero(conv(w, c, 3, device)),
            noise_level: scalar(-3.0),
            channels: c,
            flags: Switches::of(cfg),
            bg_bound: cfg.bg_texture.max(0.0),
        }
    }

    /// A chain that changes nothing: what a run hands over when learning did not help (every
    /// head at zero, blur and noise levels so low that σ is below 1e-8).
    pub fn identity(cfg: &StageConfig, device: &Device) -> Chain {
        Chain {
            blur_a: scalar(0.0, device),
            blur_c: scalar(-20.0, device),
            noise_level: scalar(-20.0, device),
            ..Chain::new(cfg, device)
        }
    }

    /// The identity chain but for a blur of `sigma` training px on every image (tests).
    #[cfg(test)]
    pub(crate) fn blurring(cfg: &StageConfig, sigma: f32, device: &Device) -> Chain {
        let p = sigma / BLUR_MAX;
        Chain {
            blur_c: scalar((p / (1.0 - p)).ln(), device),
            ..Chain::identity(cfg, device)
        }
    }

    /// The same chain with `stage` switched off: what the verdict
    /// compares to tell which stage hurts.
    pub fn without(&self, stage: Stage) -> Chain {
        let mut c = self.clone();
        c.flags = c.flags.without(stage);
        c
    }

    /// The stages that run.
    pub fn enabled(&self) -> Vec<Stage> {
        self.flags.enabled()
    }

    /// Runs the enabled stages on `x` [B, C, H, W] in [-1, 1]; `alpha` [B, 1, H, W] is the
    /// render's object coverage in [0, 1]; `scale` is output pixels per training pixel (1 in
    /// whole-frame training; `pixel` 1 and `maps` render / res on crops); `z` was made at the
    /// training-pixel size ([`train_size`]). Long: the stages in their fixed order (blur,
    /// lighting, background, detail, noise), each a few tensor ops.
    pub fn forward(
        &self,
        x: Tensor<4>,
        alpha: Tensor<4>,
        z: &NoiseInput,
        scale: impl Into<Scales>,
    ) -> ChainOutput {
        let scale: Scales = scale.into();
        let [b, _, h, w] = x.dims();
        let (ht, wt) = train_size(h, w, scale.maps);
        let windows = z.windows.as_deref();
        let (fh, fw) = frame_size(windows, (ht, wt), scale.maps);
        let to_image = |m: Tensor<4>| match windows {
            Some(v) => windowed(m, v, [h, w]),
            None => resize(m, [h, w]),
        };
        let device = x.device();
        let mut stats = StageStats::default();
        let mut penalty = Tensor::<1>::zeros([1], &device);
        let mut stages = vec![(None, x.clone())];
        let mut x = x;
        let blur = self.flags.on(Stage::Blur);
        let lighting = self.flags.on(Stage::Lighting);
        let background = self.flags.on(Stage::Background);
        let detail = self.flags.on(Stage::Detail);
        let noise = self.flags.on(Stage::Noise);
        if blur {
            // a learned Gaussian σ per image in [0, BLUR_MAX] training px: blurring only removes
            // high frequencies, and σ is what a camera's defocus or motion is measured in
            let (a, c) = (
                self.blur_a.val().mul_scalar(SCALAR_GAIN),
                self.blur_c.val().mul_scalar(SCALAR_GAIN),
            );
            let raw = z.blur.clone() * a.reshape([1, 1]) + c.reshape([1, 1]); // [B, 1]
            let sigma = sigmoid(raw).mul_scalar(BLUR_MAX); // [B, 1]
            stats.blur = values(sigma.clone());
            let max = stats.blur.iter().copied().fold(0.0f32, f32::max);
            x = blur_per_image(x, sigma.mul_scalar(scale.pixel), max * scale.pixel);
            stages.push((Some(Stage::Blur), x.clone()));
        }
        if lighting {
            let t = leaky_relu(self.light1.forward(z.lighting.clone()), 0.2); // [B, w, h/16, w/16]
            let raw = to_image(self.light2.forward(t)); // [B, 3, H, W]
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
            stats.light_range = values(range);
            stages.push((Some(Stage::Lighting), x.clone()));
        }
        if background {
            let (ramp, tex, shift_abs, tex_rms, pen) = self.background_change(z, (fh, fw));
            penalty = penalty + pen;
            stats.bg_shift = shift_abs;
            stats.bg_texture = tex_rms;
            // composited by coverage: a pixel an object half covers keeps its object half, and
            // a pure background pixel takes the whole change (no rim of the old background);
            // both parts are made for the whole frame, so a training crop gets the part of them
            // the whole output gets at its window
            let outside = alpha.neg() + 1.0; // [B, 1, H, W]
            x = x + to_image(ramp + tex) * outside;
            stages.push((Some(Stage::Background), x.clone()));
        }
        if detail {
            let small = resize(x.clone(), [ht, wt]); // [B, C, h, w]
            let t = Tensor::cat(vec![small, z.detail.clone()], 1); // [B, C + 4, h, w]
            let t = leaky_relu(self.detail1.forward(t), 0.2);
            // starts at nothing: the stage adds detail only as far as the discriminator asks
            let raw = self.detail2.forward(t).mul_scalar(0.1); // [B, C, h, w]
            penalty =
                penalty + out_of_bounds(raw.clone(), -DETAIL_BOUND, DETAIL_BOUND).mul_scalar(15.0);
            let d = raw.clamp(-DETAIL_BOUND, DETAIL_BOUND);
            // high-pass three times: what remains cannot shift the low frequencies that carry labels
            let mut hp = d;
            for _ in 0..3 {
                hp = hp.clone() - gaussian_blur(hp, 3.5);
            }
            stats.detail = per_image_mean(hp.clone().abs());
            x = x + resize(hp, [h, w]);
            stages.push((Some(Stage::Detail), x.clone()));
        }
        if noise {
            let sigma =
                sigmoid(self.noise_level.val().mul_scalar(SCALAR_GAIN)).mul_scalar(NOISE_BOUND); // [1]
            stats.noise = values(sigma.clone()).first().copied().unwrap_or(0.0);
            // independent per output pixel with σ × scale: averaged back over the `scale` ×
            // `scale` output pixels of one training pixel, it has the learned σ again, as a
            // photo's sensor noise does when it is shrunk
            x = x + z.pixel.clone() * sigma.mul_scalar(scale.pixel).reshape([1, 1, 1, 1]);
            stages.push((Some(Stage::Noise), x.clone()));
        }
        let last = stages.len() - 1;
        stages[last].1 = stages[last].1.clone().clamp(-1.0, 1.0);
        ChainOutput {
            stages,
            penalty,
            stats,
        }
    }

    /// The background's change, both parts for the whole frame at its training size
    /// `(fh, fw)`: a per-image colour offset and linear ramp (smooth by construction: it cannot
    /// draw anything object-like), and a texture with no smooth part whose per-image RMS is
    /// capped at the bound measured on the real photos' borders. Also per-image mean |shift|,
    /// texture RMS, and the bound penalty.
    #[allow(clippy::type_complexity)]
    fn background_change(
        &self,
        z: &NoiseInput,
        (fh, fw): (usize, usize),
    ) -> (Tensor<4>, Tensor<4>, Vec<f32>, Vec<f32>, Tensor<1>) {
        let c = self.channels;
        let device = z.bg_color.device();
        let [b, _] = z.bg_color.dims();
        let t = leaky_relu(self.bg_color1.forward(z.bg_color.clone()), 0.2); // [B, w]
        let p = self.bg_color2.forward(t); // [B, 3C]
        let offset = p.clone().narrow(1, 0, c).tanh().mul_scalar(BG_SHIFT_BOUND); // [B, C]
        let gx = p.clone().narrow(1, c, c).tanh().mul_scalar(BG_RAMP_BOUND);
        let gy = p.narrow(1, 2 * c, c).tanh().mul_scalar(BG_RAMP_BOUND);
        let coord =
            |n: usize| -> Vec<f32> { (0..n).map(|i| (i as f32 + 0.5) / n as f32 - 0.5).collect() };
        let u = Tensor::<4>::from_data(TensorData::new(coord(fw), [1, 1, 1, fw]), &device);
        let v = Tensor::<4>::from_data(TensorData::new(coord(fh), [1, 1, fh, 1]), &device);
        let shift = offset.reshape([b, c, 1, 1])
            + gx.reshape([b, c, 1, 1]) * u
            + gy.reshape([b, c, 1, 1]) * v; // [B, C, fh, fw]

        let t = leaky_relu(self.bg1.forward(z.background.clone()), 0.2); // [B, 2w, fh/8, fw/8]
        let t = resize(t, [low(fh, 4), low(fw, 4)]);
        let t = leaky_relu(self.bg2.forward(t), 0.2);
        let t = resize(t, [low(fh, 2), low(fw, 2)]);
        let t = leaky_relu(self.bg3.forward(t), 0.2);
        let t = self.bg4.forward(resize(t, [fh, fw])); // [B, C, fh, fw]
                                                       // texture only: its smooth part is the shift's business
        let hp = t.clone() - gaussian_blur(t, 2.0);
        let rms = per_image_rms(hp.clone()); // [B, 1, 1, 1]
        let over = (rms.clone() - self.bg_bound).clamp_min(0.0).mean();
        let factor = (rms.recip() * self.bg_bound).clamp_max(1.0); // [B, 1, 1, 1]
        let tex = hp * factor;
        let shift_abs = per_image_mean(shift.clone().abs());
        let tex_rms = values(per_image_rms(tex.clone()).reshape([b]));
        (shift, tex, shift_abs, tex_rms, over.mul_scalar(15.0))
    }

    /// Channels the chain was built for.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The weights as plain vectors, for the CPU forward of `generate --augment`.
    pub fn export(&self) -> super::stages::Weights {
        use super::stages::{Conv3, Dense, Weights};
        let conv = |c: &Conv2d| {
            let [o, i, _, _] = c.weight.val().dims();
            Conv3 {
                c_in: i,
                c_out: o,
                weight: values(c.weight.val()),
                bias: c.bias.as_ref().map_or(vec![0.0; o], |b| values(b.val())),
            }
        };
        let dense = |l: &Linear| {
            let [i, o] = l.weight.val().dims();
            Dense {
                d_in: i,
                d_out: o,
                weight: values(l.weight.val()),
                bias: l.bias.as_ref().map_or(vec![0.0; o], |b| values(b.val())),
            }
        };
        let scalar = |p: &Param<Tensor<1>>| first_value(p.val()) as f32;
        Weights {
            channels: self.channels,
            flags: self.flags,
            bg_bound: self.bg_bound,
            blur_a: scalar(&self.blur_a),
            blur_c: scalar(&self.blur_c),
            noise_level: scalar(&self.noise_level),
            light1: conv(&self.light1),
            light2: conv(&self.light2),
            bg_color1: dense(&self.bg_color1),
            bg_color2: dense(&self.bg_color2),
            bg1: conv(&self.bg1),
            bg2: conv(&self.bg2),
            bg3: conv(&self.bg3),
            bg4: conv(&self.bg4),
            detail1: conv(&self.detail1),
            detail2: conv(&self.detail2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::infer::batch_inputs;
    use burn::module::ModuleMapper;

    /// A square object in the middle of each image, over a smooth ramp, with its coverage.
    fn scene(b: usize, c: usize, h: usize, w: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
        let inside =
            |y: usize, x: usize| y * 4 >= h && y * 4 < 3 * h && x * 4 >= w && x * 4 < 3 * w;
        let alpha: Vec<f32> = (0..h * w)
            .map(|i| if inside(i / w, i % w) { 1.0 } else { 0.0 })
            .collect();
        let mut x = Vec::with_capacity(b * c * h * w);
        for k in 0..b * c {
            for i in 0..h * w {
                let (yy, xx) = (i / w, i % w);
                let v = if inside(yy, xx) {
                    0.6 * (((xx * 8 / w) + (yy * 8 / h)) % 2) as f32 - 0.3
                } else {
                    (xx as f32 / w as f32 - 0.5) * 0.8 + 0.1 * k as f32 - 0.2
                };
                x.push(v);
            }
        }
        (x, vec![alpha; b])
    }

    fn inputs(
        b: usize,
        c: usize,
        h: usize,
        w: usize,
        scale: f32,
        device: &Device,
    ) -> (Tensor<4>, Tensor<4>, NoiseInput) {
        let seeds: Vec<u64> = (0..b as u64).collect();
        let (x, alphas) = scene(b, c, h, w);
        let (a, z) = batch_inputs(&seeds, &alphas, c, w, h, scale, None, device);
        (
            Tensor::from_data(TensorData::new(x, [b, c, h, w]), device),
            a,
            z,
        )
    }

    fn only(stage: &str) -> StageConfig {
        StageConfig {
            channels: 3,
            blur: stage == "blur" || stage == "all",
            lighting: stage == "lighting" || stage == "all",
            background: stage == "background" || stage == "all",
            detail: stage == "detail" || stage == "all",
            noise: stage == "noise" || stage == "all",
            width: 8,
            bg_texture: 0.1,
        }
    }

    /// Moves every weight by a fixed pattern, so the zero-initialised heads do something.
    struct Jitter(f32);

    impl ModuleMapper for Jitter {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let shape = param.val().shape();
            let n = shape.num_elements();
            // scalars are stored divided by SCALAR_GAIN: keep their move small
            let amp = if n == 1 { 0.05 } else { 0.3 };
            self.0 += 1.0;
            let v: Vec<f32> = (0..n)
                .map(|i| ((i as f32 * 12.9898 + self.0 * 78.233).sin()) * amp)
                .collect();
            param.map(|t| {
                let d = Tensor::<D>::from_data(TensorData::new(v, shape), &t.device());
                t + d
            })
        }
    }

    fn trained_like(cfg: &StageConfig, device: &Device) -> Chain {
        drawing(Some((device, 7)), || {
            Chain::new(cfg, device).map(&mut Jitter(0.0))
        })
    }

    fn vec4(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn mean_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(p, q)| (p - q).abs()).sum::<f32>() / a.len() as f32
    }

    #[test]
    fn resizing_matches_burns_bilinear_interpolate_and_shrinks_by_area() {
        use burn::tensor::module::interpolate;
        use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
        let device = Device::flex();
        let v: Vec<f32> = (0..2 * 3 * 5 * 7).map(|i| ((i * 37) % 11) as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(v, [2, 3, 5, 7]), &device);
        let ours = vec4(resize(x.clone(), [20, 16]));
        let want = vec4(interpolate(
            x.clone(),
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
        // shrinking 4× averages each 4 × 4 block
        let v: Vec<f32> = (0..8 * 8).map(|i| (i % 8 + 8 * (i / 8)) as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(v.clone(), [1, 1, 8, 8]), &device);
        let small = vec4(resize(x, [2, 2]));
        let block = |by: usize, bx: usize| {
            (0..16)
                .map(|k| v[(by * 4 + k / 4) * 8 + bx * 4 + k % 4])
                .sum::<f32>()
                / 16.0
        };
        for (i, s) in small.iter().enumerate() {
            assert!((s - block(i / 2, i % 2)).abs() < 1e-4, "block {i}: {s}");
        }
    }

    #[test]
    fn fresh_background_detail_and_lighting_are_the_identity() {
        let device = Device::flex();
        let (x, a, z) = inputs(2, 3, 32, 32, 1.0, &device);
        for stage in ["background", "detail", "lighting"] {
            let out = Chain::new(&only(stage), &device).forward(x.clone(), a.clone(), &z, 1.0);
            let d = mean_abs_diff(&vec4(x.clone()), &vec4(out.image()));
            assert!(d < 1e-6, "a fresh {stage} stage changed the image by {d}");
        }
    }

    #[test]
    fn the_identity_chain_changes_nothing() {
        let device = Device::flex();
        let (x, a, z) = inputs(2, 3, 32, 32, 4.0, &device);
        let out = Chain::identity(&only("all"), &device).forward(x.clone(), a, &z, 4.0);
        let d = mean_abs_diff(&vec4(x), &vec4(out.image()));
        assert!(d < 1e-5, "the identity chain changed the image by {d}");
    }

    #[test]
    fn background_changes_only_pixels_outside_the_mask() {
        let device = Device::flex();
        let (x, a, z) = inputs(2, 3, 32, 32, 1.0, &device);
        let chain = trained_like(&only("background"), &device);
        let out = chain.forward(x.clone(), a.clone(), &z, 1.0);
        let (p, q, mask) = (vec4(x), vec4(out.image()), vec4(a));
        let hw = 32 * 32;
        let mut changed_outside = 0;
        for i in 0..p.len() {
            let mi = mask[(i / (3 * hw)) * hw + i % hw];
            if mi > 0.0 {
                assert_eq!(p[i], q[i], "pixel {i} under the object changed");
            } else if (p[i] - q[i]).abs() > 1e-4 {
                changed_outside += 1;
            }
        }
        assert!(
            changed_outside > 100,
            "the background stage changed the background"
        );
        for r in &out.stats.bg_texture {
            assert!(*r <= 0.1 + 1e-4, "texture RMS {r} above its bound 0.1");
        }
    }

    #[test]
    fn background_without_texture_budget_is_a_smooth_ramp() {
        let device = Device::flex();
        let (x, a, z) = inputs(1, 3, 32, 32, 1.0, &device);
        let mut cfg = only("background");
        cfg.bg_texture = 0.0;
        let out = trained_like(&cfg, &device).forward(x.clone(), a, &z, 1.0);
        let (p, q) = (vec4(x), vec4(out.image()));
        let d: Vec<f32> = p.iter().zip(&q).map(|(p, q)| q - p).collect();
        // rows 0..4 lie outside the object and its fade: the change there is planar (where
        // the final clamp to [-1, 1] leaves it)
        let (mut worst, mut checked) = (0.0f32, 0);
        for ch in 0..3 {
            for y in 0..4 {
                for xx in 1..31 {
                    let i = ch * 1024 + y * 32 + xx;
                    if q[i - 1..=i + 1].iter().any(|v| v.abs() > 0.999) {
                        continue;
                    }
                    checked += 1;
                    worst = worst.max((d[i - 1] - 2.0 * d[i] + d[i + 1]).abs());
                }
            }
        }
        assert!(checked > 150, "only {checked} of 360 pixels unclamped");
        assert!(worst < 1e-4, "second difference {worst}: not a ramp");
        assert!(d.iter().any(|v| v.abs() > 1e-3), "no change at all");
    }

    /// Correlation and RMS ratio of two changes to the same image.
    fn agreement(base: &[f32], a: &[f32], b: &[f32]) -> (f32, f32) {
        let da: Vec<f32> = a.iter().zip(base).map(|(x, y)| x - y).collect();
        let db: Vec<f32> = b.iter().zip(base).map(|(x, y)| x - y).collect();
        let dot = |p: &[f32], q: &[f32]| p.iter().zip(q).map(|(x, y)| x * y).sum::<f32>();
        let (aa, bb) = (dot(&da, &da), dot(&db, &db));
        (
            dot(&da, &db) / (aa * bb).sqrt().max(1e-12),
            (bb / aa.max(1e-12)).sqrt(),
        )
    }

    #[test]
    fn a_chain_does_the_same_relative_to_the_objects_at_any_output_size() {
        let device = Device::flex();
        let (big, a_big, z) = inputs(2, 3, 256, 256, 4.0, &device);
        let small = resize(big.clone(), [64, 64]);
        let a_small = resize(a_big.clone(), [64, 64]);
        let base = vec4(small.clone());
        let naive_z = inputs(2, 3, 256, 256, 1.0, &device).2;
        // the same maps (made at the training size from the same seeds), sensor noise per pixel
        let z_64 = inputs(2, 3, 64, 64, 1.0, &device).2;
        let scalar = |v: f32| scalar(v, &device);
        for stage in ["all"].into_iter().chain(Stage::ALL.map(Stage::name)) {
            let mut chain = trained_like(&only(stage), &device);
            // a blur of about 1.2 training px and noise of σ 0.05, whatever the jitter gave
            chain.blur_a = scalar(0.2);
            chain.blur_c = scalar(-0.4);
            chain.noise_level = scalar(-1.4);
            let at_64 = vec4(
                chain
                    .forward(small.clone(), a_small.clone(), &z_64, 1.0)
                    .image(),
            );
            let shrunk = |t: Tensor<4>| vec4(resize(t, [64, 64]));
            let at_256 = shrunk(chain.forward(big.clone(), a_big.clone(), &z, 4.0).image());
            // the same chain treating output pixels as training pixels
            let naive = shrunk(
                chain
                    .forward(big.clone(), a_big.clone(), &naive_z, 1.0)
                    .image(),
            );
            let (corr, ratio) = agreement(&base, &at_64, &at_256);
            let (corr_naive, ratio_naive) = agreement(&base, &at_64, &naive);
            eprintln!("{stage}: change at 256²↓ vs at 64²: correlation {corr:.3}, size {ratio:.2}; without scaling {corr_naive:.3}, {ratio_naive:.2}");
            // sensor noise is drawn per output pixel: only its level can agree
            let min_corr = if stage == "noise" { -1.0 } else { 0.85 };
            assert!(corr > min_corr && (0.7..1.3).contains(&ratio), "{stage}: applied at 256² and shrunk, the change differs from the one at 64²: correlation {corr}, size ratio {ratio}");
            assert!(
                corr_naive < corr - 0.1 || !(0.7..1.3).contains(&ratio_naive),
                "{stage}: the check cannot tell scaling apart"
            );
        }
    }

    /// A crop of `v` ([B, C, H, W] flattened, `h` × `w`) at `win`, `r` × `r`.
    fn crop_of(v: &[f32], bc: usize, (h, w): (usize, usize), win: Window, r: usize) -> Vec<f32> {
        (0..bc)
            .flat_map(|p| {
                (win.y..win.y + r).flat_map(move |y| {
                    let at = p * h * w + y * w + win.x;
                    v[at..at + r].to_vec()
                })
            })
            .collect()
    }

    #[test]
    fn a_crop_at_the_output_scale_gets_what_the_whole_output_gets_there() {
        // training at the output's scale: a 64² crop of a 256 × 192 render, the maps at 4
        // output px a training px, blur and noise in output px; the same chain on the whole output
        // must do the same inside the crop (blur σ in output px, the whole frame's lighting and
        // the background's ramp and texture cut at the window), and give the same noise level
        let device = Device::flex();
        let (b, c, (nh, nw), r) = (2, 3, (192, 256), 64);
        let s = Scales {
            maps: 4.0,
            pixel: 1.0,
        };
        let seeds: Vec<u64> = (0..b as u64).collect();
        let (x, alphas) = scene(b, c, nh, nw);
        let windows = [
            Window {
                y: 100,
                x: 36,
                frame: (nh, nw),
            },
            Window {
                y: 128,
                x: 192,
                frame: (nh, nw),
            },
        ];
        let mut cfg = only("all");
        cfg.detail = false;
        for stage in ["all", "noise"] {
            let mut chain = if stage == "all" {
                trained_like(&cfg, &device)
            } else {
                Chain::new(&only("noise"), &device)
            };
            chain.blur_a = scalar(0.2, &device);
            chain.blur_c = scalar(-0.4, &device);
            chain.noise_level = scalar(-1.4, &device);
            if stage == "all" {
                chain.flags = chain.flags.without(Stage::Noise);
            }
            let (a, z) = batch_inputs(&seeds, &alphas, c, nw, nh, s, None, &device);
            let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [b, c, nh, nw]), &device);
            let out = chain.forward(xt, a, &z, s);
            if stage == "all" {
                let tex = &out.stats.bg_texture;
                assert!(
                    tex.iter().all(|r| *r > 0.02),
                    "no background texture: {tex:?}"
                );
            }
            let whole = vec4(out.image());
            let (mut xs, mut crops, mut alpha_crops) = (Vec::new(), Vec::new(), Vec::new());
            for (k, win) in windows.iter().enumerate() {
                let plane = c * nh * nw;
                let one = |v: &[f32]| crop_of(&v[k * plane..(k + 1) * plane], c, (nh, nw), *win, r);
                xs.extend(one(&x));
                crops.extend(one(&whole));
                alpha_crops.push(crop_of(&alphas[k], 1, (nh, nw), *win, r));
            }
            let (a, z) = batch_inputs(&seeds, &alpha_crops, c, r, r, s, Some(&windows), &device);
            assert!(z.windows.is_some());
            let xt = Tensor::<4>::from_data(TensorData::new(xs.clone(), [b, c, r, r]), &device);
            let got = vec4(chain.forward(xt, a, &z, s).image());
            if stage == "noise" {
                let rms = |p: &[f32]| {
                    (p.iter().zip(&xs).map(|(p, q)| (p - q).powi(2)).sum::<f32>() / p.len() as f32)
                        .sqrt()
                };
                let (on_crop, on_whole) = (rms(&got), rms(&crops));
                eprintln!("noise: RMS {on_crop:.4} on the crop, {on_whole:.4} on the whole");
                assert!(
                    on_crop > 0.01 && (on_crop / on_whole - 1.0).abs() < 0.05,
                    "noise RMS {on_crop} on the crop, {on_whole} on the whole output"
                );
                continue;
            }
            // away from the crop's edges, where the blur sees what lies outside the crop
            let m = 12;
            let mut worst = 0.0f32;
            let mut moved = 0.0f32;
            for p in 0..b * c {
                for y in m..r - m {
                    for xx in m..r - m {
                        let i = p * r * r + y * r + xx;
                        worst = worst.max((got[i] - crops[i]).abs());
                        moved = moved.max((got[i] - xs[i]).abs());
                    }
                }
            }
            eprintln!("crop vs whole: max difference {worst:e}, largest change {moved:.3}");
            assert!(
                moved > 0.05,
                "the chain changed too little to tell: {moved}"
            );
            assert!(
                worst < 2e-3,
                "the crop's result differs from the whole output's by {worst}"
            );
        }
    }

    /// RMS and lag-`k` autocorrelation along rows of `d` ([P, r, r] planes), inside a margin.
    fn texture_stats(d: &[f32], r: usize, m: usize, k: usize) -> (f32, f32) {
        let (mut ss, mut cross, mut n) = (0.0f64, 0.0f64, 0usize);
        for plane in d.chunks_exact(r * r) {
            for y in m..r - m {
                for x in m..r - m - k {
                    let (a, b) = (plane[y * r + x] as f64, plane[y * r + x + k] as f64);
                    ss += a * a;
                    cross += a * b;
                    n += 1;
                }
            }
        }
        (
            (ss / n as f64).sqrt() as f32,
            (cross / ss.max(1e-12)) as f32,
        )
    }

    #[test]
    fn a_crops_detail_has_the_size_and_grain_of_the_whole_outputs() {
        // the detail is made from the image at the crop's own training size (4 output px a
        // training px, as on the whole output) and its own noise, so only its statistics can
        // agree: its size and grain in output pixels, on a crop and on the whole output
        let device = Device::flex();
        let (b, c, n, r) = (2, 3, 256, 64);
        let s = Scales {
            maps: 4.0,
            pixel: 1.0,
        };
        let seeds: Vec<u64> = (0..b as u64).collect();
        let (x, alphas) = scene(b, c, n, n);
        let chain = trained_like(&only("detail"), &device);
        let (a, z) = batch_inputs(&seeds, &alphas, c, n, n, s, None, &device);
        let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [b, c, n, n]), &device);
        let whole = vec4(chain.forward(xt, a, &z, s).image());
        let (mut xs, mut crops, mut alpha_crops, mut windows) = (vec![], vec![], vec![], vec![]);
        for k in 0..b {
            for (y, xx) in [(0, 0), (96, 160), (192, 40), (40, 192)] {
                let win = Window {
                    y,
                    x: xx,
                    frame: (n, n),
                };
                let one =
                    |v: &[f32]| crop_of(&v[k * c * n * n..(k + 1) * c * n * n], c, (n, n), win, r);
                xs.extend(one(&x));
                crops.extend(one(&whole));
                alpha_crops.push(crop_of(&alphas[k], 1, (n, n), win, r));
                windows.push(win);
            }
        }
        let seeds: Vec<u64> = (0..windows.len() as u64).map(|i| i / 4).collect();
        let (a, z) = batch_inputs(&seeds, &alpha_crops, c, r, r, s, Some(&windows), &device);
        let xt = Tensor::<4>::from_data(
            TensorData::new(xs.clone(), [windows.len(), c, r, r]),
            &device,
        );
        let got = vec4(chain.forward(xt, a, &z, s).image());
        let change = |v: &[f32]| v.iter().zip(&xs).map(|(p, q)| p - q).collect::<Vec<f32>>();
        for lag in [1, 4, 8] {
            let (rms_crop, ac_crop) = texture_stats(&change(&got), r, 8, lag);
            let (rms_whole, ac_whole) = texture_stats(&change(&crops), r, 8, lag);
            eprintln!(
                "detail lag {lag}: RMS crop {rms_crop:.4} whole {rms_whole:.4}; \
                 autocorrelation crop {ac_crop:.3} whole {ac_whole:.3}"
            );
            assert!(
                rms_whole > 0.01,
                "the detail did too little to tell: {rms_whole}"
            );
            assert!(
                (0.8..1.25).contains(&(rms_crop / rms_whole)),
                "detail RMS {rms_crop} on crops, {rms_whole} on the whole output"
            );
            assert!(
                (ac_crop - ac_whole).abs() < 0.1,
                "detail grain differs at lag {lag} px: autocorrelation {ac_crop} on crops, \
                 {ac_whole} on the whole output"
            );
        }
    }

    #[test]
    fn blur_keeps_the_mean_and_lowers_high_frequencies() {
        let device = Device::flex();
        let (x, a, z) = inputs(2, 3, 32, 32, 1.0, &device);
        let out = Chain::new(&only("blur"), &device).forward(x.clone(), a, &z, 1.0);
        let y = out.image();
        let diff = |t: Tensor<4>| {
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
        let (x, a, z) = inputs(2, 3, 32, 32, 1.0, &device);
        let lit = trained_like(&only("lighting"), &device).forward(x.clone(), a.clone(), &z, 1.0);
        // scales lie in [0.1, 1.9]: the range over a map is below 1.8
        assert!(lit.stats.light_range.iter().all(|r| (0.0..1.8).contains(r)));
        assert!(
            lit.stats.light_range.iter().any(|r| *r > 0.01),
            "lighting did nothing"
        );
        let det = trained_like(&only("detail"), &device).forward(x.clone(), a.clone(), &z, 1.0);
        let (p, q) = (vec4(x.clone()), vec4(det.image()));
        let max = p
            .iter()
            .zip(&q)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        // the high-pass of a clamped map is at most 2^3 × the bound
        assert!(
            max <= 8.0 * DETAIL_BOUND + 1e-4,
            "detail moved a pixel by {max}"
        );
        assert!(max > 1e-3, "detail did nothing");
        let noisy = Chain::new(&only("noise"), &device).forward(x, a, &z, 1.0);
        assert!(noisy.stats.noise > 0.0 && noisy.stats.noise <= NOISE_BOUND);
    }
}
