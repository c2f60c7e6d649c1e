//! What a learned chain is, without burn: which stages run and their sizes ([`StageConfig`],
//! saved beside every checkpoint), their bounds, the sizes of the noise they draw, what each did
//! per image ([`StageStats`]), the resampling and blur kernels the forwards share, and the
//! trained weights as plain arrays ([`Weights`]) that the CPU forward (`fast`) and the GPU
//! forward (`gpu`) apply. The burn modules that learn them are in `model`; this file is what
//! every floor above may name without naming burn.

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
    /// Largest RMS of the background texture (images in [-1, 1]), measured on the borders of
    /// the real photos when training starts: the background may become as busy as the photos'
    /// own background, no busier.
    #[serde(default)]
    pub bg_texture: f32,
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
            bg_texture: 0.1,
        }
    }
}

/// Channel counts of the noise maps, so callers can make them.
pub const LIGHT_Z: usize = 8;
pub const BG_Z: usize = 8;
pub const DETAIL_Z: usize = 4;

/// Low-resolution side for a full side `n` and a downscale factor.
pub fn low(n: usize, factor: usize) -> usize {
    n.div_ceil(factor).max(1)
}

/// The size of an `h` × `w` image in training pixels, `scale` output pixels each.
pub fn train_size(h: usize, w: usize, scale: f32) -> (usize, usize) {
    let t = |n: usize| ((n as f32 / scale).round() as usize).max(1);
    (t(h), t(w))
}

/// Output pixels per training pixel of the images a chain is applied to, per kind of stage:
/// `maps` for the stages that make maps at the training size (lighting, background, detail),
/// `pixel` for the per-pixel ones (blur σ and sensor noise σ). A chain learned on whole renders at
/// the training resolution has both equal (height / resolution); one learned at the output's
/// scale (crops of renders made at the output size, `train.learn_at: output`) has `pixel` =
/// height / the size it rendered at, 1 at the output size it learned for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scales {
    pub maps: f32,
    pub pixel: f32,
}

impl Scales {
    /// Both scales `s`: a chain learned on whole renders.
    pub fn uniform(s: f32) -> Scales {
        Scales { maps: s, pixel: s }
    }
}

impl From<f32> for Scales {
    fn from(s: f32) -> Scales {
        Scales::uniform(s)
    }
}

/// Where a training crop lies in the render it was cut from (output pixels): its top-left
/// corner and the render's size. The whole-frame stages (lighting, the background's ramp and
/// texture) are made for the whole render and then cut, so they see the frame as they do when
/// applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub y: usize,
    pub x: usize,
    /// The render's (height, width).
    pub frame: (usize, usize),
}

/// The whole frame's size in training pixels (`maps` output pixels each) of images that are
/// crops at `windows` (their render's), or of images `own` training pixels that are their whole
/// frame: what the whole-frame maps (lighting, the background's ramp and texture) are made at.
pub fn frame_size(windows: Option<&[Window]>, own: (usize, usize), maps: f32) -> (usize, usize) {
    match windows.and_then(|v| v.first()) {
        Some(win) => train_size(win.frame.0, win.frame.1, maps),
        None => own,
    }
}

/// Per-stage statistics of one batch, for metrics and collapse checks.
#[derive(Debug, Clone, Default)]
pub struct StageStats {
    /// Per image: blur σ in training pixels, in [0, BLUR_MAX].
    pub blur: Vec<f32>,
    /// Per image: range (max − min) of the lighting scale maps.
    pub light_range: Vec<f32>,
    /// Per image: mean |background shift| (colour and ramp).
    pub bg_shift: Vec<f32>,
    /// Per image: RMS of the background texture.
    pub bg_texture: Vec<f32>,
    /// Per image: mean |detail|.
    pub detail: Vec<f32>,
    /// Sensor noise standard deviation (one learned value).
    pub noise: f32,
}

impl StageStats {
    /// The per-image values by name (the keys `generate --augment` writes in the manifest);
    /// a disabled stage's list is empty.
    pub fn per_image(&self) -> [(&'static str, &[f32]); 5] {
        [
            ("blur", &self.blur),
            ("light_range", &self.light_range),
            ("bg_shift", &self.bg_shift),
            ("bg_texture", &self.bg_texture),
            ("detail", &self.detail),
        ]
    }
}

/// Resampling matrix [out, in]: bilinear when enlarging (half-pixel centres, as
/// `align_corners = false`), area-weighted when shrinking (each output pixel averages the input
/// pixels it covers, so nothing aliases).
pub fn resample_matrix(n_in: usize, n_out: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; n_out * n_in];
    let scale = n_in as f32 / n_out as f32;
    if n_out >= n_in {
        for o in 0..n_out {
            let src = ((o as f32 + 0.5) * scale - 0.5).clamp(0.0, (n_in - 1) as f32);
            let i0 = src.floor() as usize;
            let i1 = (i0 + 1).min(n_in - 1);
            let f = src - i0 as f32;
            m[o * n_in + i0] += 1.0 - f;
            m[o * n_in + i1] += f;
        }
    } else {
        for o in 0..n_out {
            let (lo, hi) = (o as f32 * scale, (o + 1) as f32 * scale);
            let mut i = lo.floor() as usize;
            while (i as f32) < hi && i < n_in {
                let overlap = (hi.min(i as f32 + 1.0) - lo.max(i as f32)).max(0.0);
                m[o * n_in + i] += overlap / scale;
                i += 1;
            }
        }
    }
    m
}

/// The normalised Gaussian kernel of `sigma` and its radius (⌈3σ⌉, at least 1).
pub fn gaussian_kernel(sigma: f32) -> (usize, Vec<f32>) {
    let radius = ((3.0 * sigma).ceil() as usize).max(1);
    let k: Vec<f32> = (0..2 * radius + 1)
        .map(|i| (-((i as f32 - radius as f32).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    (radius, k.iter().map(|v| v / s).collect())
}

/// Largest learned blur σ, in training pixels.
pub const BLUR_MAX: f32 = 3.0;

/// The per-image scalars (blur level, noise level) are stored divided by this, so Adam's
/// step (about the learning rate) moves them as fast as it moves conv weights' effect.
pub const SCALAR_GAIN: f32 = 30.0;

/// Largest detail amplitude (images are in [-1, 1]).
pub const DETAIL_BOUND: f32 = 0.5;
/// Largest sensor noise standard deviation.
pub const NOISE_BOUND: f32 = 0.25;
/// Largest background colour offset, and largest ramp across the image.
pub const BG_SHIFT_BOUND: f32 = 2.0;
pub const BG_RAMP_BOUND: f32 = 1.0;
/// One stage of the chain. The forward runs blur, lighting, background, detail, noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Blur,
    Lighting,
    Background,
    Detail,
    Noise,
}

impl Stage {
    /// Every stage, in chain order.
    pub const ALL: [Stage; 5] = [
        Stage::Blur,
        Stage::Lighting,
        Stage::Background,
        Stage::Detail,
        Stage::Noise,
    ];

    /// The stage's name, as the config, the manifest and the messages write it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Blur => "blur",
            Stage::Lighting => "lighting",
            Stage::Background => "background",
            Stage::Detail => "detail",
            Stage::Noise => "noise",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which stages run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switches([bool; 5]);

impl Switches {
    /// The stages a config switches on.
    pub fn of(c: &StageConfig) -> Switches {
        Switches([c.blur, c.lighting, c.background, c.detail, c.noise])
    }

    /// Only `stage` on (`None`: none).
    pub fn only(stage: Option<Stage>) -> Switches {
        Switches(Stage::ALL.map(|s| Some(s) == stage))
    }

    pub fn on(self, stage: Stage) -> bool {
        self.0[stage as usize]
    }

    /// The same with `stage` switched off.
    pub fn without(self, stage: Stage) -> Switches {
        let mut f = self.0;
        f[stage as usize] = false;
        Switches(f)
    }

    /// The stages on, in chain order.
    pub fn enabled(self) -> Vec<Stage> {
        Stage::ALL.into_iter().filter(|s| self.on(*s)).collect()
    }
}

/// A 3 × 3 convolution (zero padding 1): weight [out][in][3][3], bias [out].
#[derive(Debug, Clone)]
pub struct Conv3 {
    pub c_in: usize,
    pub c_out: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// A dense layer: weight [in][out] (burn's layout: y = x W + b), bias [out].
#[derive(Debug, Clone)]
pub struct Dense {
    pub d_in: usize,
    pub d_out: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// The chain's weights and switches, read once from the burn module.
#[derive(Debug, Clone)]
pub struct Weights {
    pub channels: usize,
    pub flags: Switches,
    pub bg_bound: f32,
    /// Stored scalars (before [`SCALAR_GAIN`]).
    pub blur_a: f32,
    pub blur_c: f32,
    pub noise_level: f32,
    pub light1: Conv3,
    pub light2: Conv3,
    pub bg_color1: Dense,
    pub bg_color2: Dense,
    pub bg1: Conv3,
    pub bg2: Conv3,
    pub bg3: Conv3,
    pub bg4: Conv3,
    pub detail1: Conv3,
    pub detail2: Conv3,
}
