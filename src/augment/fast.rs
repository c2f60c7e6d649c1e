//! The trained chain's forward pass for `generate --augment` in plain Rust on the CPU: the same
//! math as [`Chain::forward`](super::model::Chain::forward) (tested to agree within 1e-3), one
//! image per rayon task, no tensor allocations between ops. burn stays the trainer and the
//! reference; this is what a CPU-only machine applies, because burn's general kernels spent
//! most of their time on small ops and allocations (measured: 29 ms per 256² image against
//! this file's figure in docs/performance.md).
//!
//! Layout: CHW `f32` planes, row-major; sizes as (h, w).

use crate::augment::stages::Stage;
use rayon::prelude::*;

use super::stages::{
    gaussian_kernel, low, resample_matrix, train_size, Conv3, Dense, Scales, StageStats, Weights,
    BG_RAMP_BOUND, BG_SHIFT_BOUND, BLUR_MAX, DETAIL_BOUND, NOISE_BOUND, SCALAR_GAIN,
};
use super::{image_noise, ImageNoise};

fn leaky(v: f32) -> f32 {
    if v >= 0.0 {
        v
    } else {
        0.2 * v
    }
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// `out[p]` = `init` + Σ `w` × `src[off + p]` over `taps` (offset, weight), the terms added in
/// the taps' order: 32 outputs at a time held in registers while every tap is added, so a
/// many-tap sum loads its sources once and stores each output once. The one kernel of the
/// convolutions, blurs and resizes below.
#[inline(always)]
fn weighted_sum(out: &mut [f32], init: f32, src: &[f32], taps: &[(usize, f32)]) {
    const L: usize = 32;
    let n = out.len();
    let mut p = 0;
    while p + L <= n {
        let mut a = [init; L];
        for &(off, wv) in taps {
            let s = &src[off + p..off + p + L];
            for l in 0..L {
                a[l] += wv * s[l];
            }
        }
        out[p..p + L].copy_from_slice(&a);
        p += L;
    }
    for (q, o) in out.iter_mut().enumerate().skip(p) {
        let mut a = init;
        for &(off, wv) in taps {
            a += wv * src[off + q];
        }
        *o = a;
    }
}

/// e^x in plain arithmetic the compiler vectorises, for the per-pixel maps (libm's `expf` is a
/// call per value, and was the lighting stage's cost): reduction by ln 2 and Cephes' expf
/// polynomial; relative error below 1e-6 on [-87, 88] (test), inputs clamped there.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // adding and subtracting 1.5 × 2^23 rounds to the nearest integer without a call
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    // k as an integer from the shifted value's low bits: a float-to-int cast saturates, which
    // the compiler does one value at a time
    let ki = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.987_569_1e-4f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    (p * r * r + r + 1.0) * f32::from_bits(((ki + 127) << 23) as u32)
}

/// The lighting stage's per-pixel gain from its map value: sigmoid of the clamped value, into
/// [0.1, 1.9].
#[inline(always)]
fn light_gain(v: f32) -> f32 {
    1.8 / (1.0 + fast_exp(-v.clamp(-3.0, 3.0))) + 0.1
}

/// The lighting stage's per-pixel shift: tanh of the clamped value × 0.3.
#[inline(always)]
fn light_shift(v: f32) -> f32 {
    (1.0 - 2.0 / (fast_exp(2.0 * v.clamp(-3.0, 3.0)) + 1.0)) * 0.3
}

impl Conv3 {
    /// `x` [c_in][h][w] → [c_out][h][w], then `act` on every value. The input is copied into
    /// planes with a zero border, and each output plane is summed as one run of the padded
    /// width's rows (the two columns past each row's end are discarded) by [`weighted_sum`]; the
    /// terms are added in the same order as a direct convolution (bias, then channel by
    /// channel, tap by tap).
    #[inline(always)]
    fn run(&self, x: &[f32], h: usize, w: usize, act: fn(f32) -> f32) -> Vec<f32> {
        let n = h * w;
        let pw = w + 2;
        let pn = (h + 2) * pw;
        let mut padded = vec![0.0f32; self.c_in * pn];
        for (src, dst) in x.chunks_exact(n).zip(padded.chunks_exact_mut(pn)) {
            for (row, prow) in src.chunks_exact(w).zip(dst[pw..].chunks_exact_mut(pw)) {
                prow[1..=w].copy_from_slice(row);
            }
        }
        // the accumulator spans h rows of the padded width, less the last row's two extra
        let span = h * pw - 2;
        let mut acc = vec![0.0f32; span];
        let mut out = vec![0.0f32; self.c_out * n];
        let mut taps = Vec::with_capacity(9 * self.c_in);
        for o in 0..self.c_out {
            taps.clear();
            for i in 0..self.c_in {
                let k = &self.weight[(o * self.c_in + i) * 9..(o * self.c_in + i + 1) * 9];
                for ky in 0..3 {
                    for kx in 0..3 {
                        taps.push((i * pn + ky * pw + kx, k[ky * 3 + kx]));
                    }
                }
            }
            weighted_sum(&mut acc, self.bias[o], &padded, &taps);
            let plane = &mut out[o * n..(o + 1) * n];
            for (y, row) in plane.chunks_exact_mut(w).enumerate() {
                for (d, v) in row.iter_mut().zip(&acc[y * pw..y * pw + w]) {
                    *d = act(*v);
                }
            }
        }
        out
    }
}

impl Dense {
    pub(super) fn run(&self, x: &[f32]) -> Vec<f32> {
        (0..self.d_out)
            .map(|o| {
                self.bias[o]
                    + (0..self.d_in)
                        .map(|i| x[i] * self.weight[i * self.d_out + o])
                        .sum::<f32>()
            })
            .collect()
    }
}

/// A 1D resampling as taps: for each output index, (input index, weight) pairs.
pub(super) fn taps(n_in: usize, n_out: usize) -> Vec<Vec<(usize, f32)>> {
    let m = resample_matrix(n_in, n_out);
    (0..n_out)
        .map(|o| {
            (0..n_in)
                .filter(|i| m[o * n_in + i] != 0.0)
                .map(|i| (i, m[o * n_in + i]))
                .collect()
        })
        .collect()
}

/// [`taps`] with each input index times `stride`: the offsets of whole source rows, for the
/// column passes' [`weighted_sum`] over one plane.
fn row_taps(n_in: usize, n_out: usize, stride: usize) -> Vec<Vec<(usize, f32)>> {
    taps(n_in, n_out)
        .into_iter()
        .map(|t| t.into_iter().map(|(i, v)| (i * stride, v)).collect())
        .collect()
}

/// [`taps`] as one flat table, `k` taps per output (shorter lists padded with weight 0), so the
/// row pass reads two arrays instead of a list per output.
struct FlatTaps {
    n_in: usize,
    n_out: usize,
    k: usize,
    at: Vec<usize>,
    weight: Vec<f32>,
}

impl FlatTaps {
    fn new(n_in: usize, n_out: usize) -> FlatTaps {
        let t = taps(n_in, n_out);
        let k = t.iter().map(Vec::len).max().unwrap_or(0);
        let mut at = vec![0; k * n_out];
        let mut weight = vec![0.0; k * n_out];
        for (o, list) in t.iter().enumerate() {
            for (j, (i, v)) in list.iter().enumerate() {
                at[o * k + j] = *i;
                weight[o * k + j] = *v;
            }
        }
        FlatTaps {
            n_in,
            n_out,
            k,
            at,
            weight,
        }
    }

    /// Every row of `x` (rows of `n_in` values) resampled to `n_out` values.
    #[inline(always)]
    fn rows(&self, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; x.len() / self.n_in * self.n_out];
        for (src, dst) in x
            .chunks_exact(self.n_in)
            .zip(out.chunks_exact_mut(self.n_out))
        {
            self.row(src, dst);
        }
        out
    }

    /// `dst[o]` = Σ taps of `src` (one row resampled).
    #[inline(always)]
    fn row(&self, src: &[f32], dst: &mut [f32]) {
        let k = self.k;
        for ((d, at), wt) in dst
            .iter_mut()
            .zip(self.at.chunks_exact(k))
            .zip(self.weight.chunks_exact(k))
        {
            let mut acc = 0.0f32;
            for (i, v) in at.iter().zip(wt) {
                acc += src[*i] * v;
            }
            *d = acc;
        }
    }
}

/// Resizes `c` planes of (h, w) to (oh, ow) as the model's `resize` does (rows, then columns;
/// columns first when shrinking the height, so that the pass over the larger image is whole-row
/// multiply-adds and the per-value taps run on the smaller one: the same sums in another order).
#[inline(always)]
fn resize(x: &[f32], c: usize, (h, w): (usize, usize), (oh, ow): (usize, usize)) -> Vec<f32> {
    if (h, w) == (oh, ow) {
        return x.to_vec();
    }
    let tx = FlatTaps::new(w, ow);
    if oh < h {
        return tx.rows(&columns(x, c, (h, w), oh));
    }
    columns(&tx.rows(x), c, (h, ow), oh)
}

/// The column pass of a resize: `c` planes of (h, w) to (oh, w), each output row a sum of whole
/// source rows.
#[inline(always)]
fn columns(x: &[f32], c: usize, (h, w): (usize, usize), oh: usize) -> Vec<f32> {
    let ty = row_taps(h, oh, w);
    let mut out = vec![0.0f32; c * oh * w];
    for (plane, dst) in x.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * w)) {
        for (row, t) in dst.chunks_exact_mut(w).zip(&ty) {
            weighted_sum(row, 0.0, plane, t);
        }
    }
    out
}

/// [`resize`] of `c` planes of (h, w) to (oh, ow), one output row at a time: [`row`](Self::row)
/// gives row `y` of every plane side by side (`c` × `ow`), to use in place of the whole resized
/// planes (the same values, without them in memory).
struct Upsampled {
    mid: Vec<f32>,
    ty: Vec<Vec<(usize, f32)>>,
    h: usize,
    ow: usize,
}

impl Upsampled {
    #[inline(always)]
    fn new(x: &[f32], (h, w): (usize, usize), (oh, ow): (usize, usize)) -> Upsampled {
        Upsampled {
            mid: FlatTaps::new(w, ow).rows(x),
            ty: row_taps(h, oh, ow),
            h,
            ow,
        }
    }

    /// Row `y` of every plane into `rows` (`c` × `ow`).
    #[inline(always)]
    fn row(&self, y: usize, rows: &mut [f32]) {
        let plane = self.h * self.ow;
        for (row, src) in rows
            .chunks_exact_mut(self.ow)
            .zip(self.mid.chunks_exact(plane))
        {
            weighted_sum(row, 0.0, src, &self.ty[y]);
        }
    }
}

/// Separable blur of `c` planes with kernel `k` (odd length, zero padding), divided by the same
/// blur of ones, as the model's blurs are. Taps below 1e-9 of the largest are skipped (the
/// kernel's radius is set by the batch's largest σ, so a sharp image's kernel is mostly zeros).
#[inline(always)]
fn blur(x: &mut [f32], c: usize, (h, w): (usize, usize), k: &[f32]) {
    let r = k.len() / 2;
    let reach = reach(k);
    let k = &k[r - reach..=r + reach];
    let r = reach;
    let norm = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|i| {
                let lo = i.saturating_sub(r);
                let hi = (i + r).min(n - 1);
                (lo..=hi).map(|s| k[s + r - i]).sum()
            })
            .collect()
    };
    let (nx, ny) = (norm(w), norm(h));
    // rows: each row copied into one with r zeros either side, and summed tap by tap
    let mut padded = vec![0.0f32; w + 2 * r];
    let row_taps: Vec<(usize, f32)> = k.iter().copied().enumerate().collect();
    let mut mid = vec![0.0f32; h * w];
    let mut col_taps = Vec::with_capacity(k.len());
    for ch in 0..c {
        let plane = &mut x[ch * h * w..(ch + 1) * h * w];
        for (row, out) in plane.chunks_exact(w).zip(mid.chunks_exact_mut(w)) {
            padded[r..r + w].copy_from_slice(row);
            weighted_sum(out, 0.0, &padded, &row_taps);
        }
        // columns: each output row sums whole source rows
        for y in 0..h {
            let lo = y.saturating_sub(r);
            let hi = (y + r).min(h - 1);
            col_taps.clear();
            col_taps.extend((lo..=hi).map(|s| (s * w, k[s + r - y])));
            let out = &mut plane[y * w..(y + 1) * w];
            weighted_sum(out, 0.0, &mid, &col_taps);
            let inv = 1.0 / ny[y];
            for (d, n) in out.iter_mut().zip(&nx) {
                *d *= inv / n;
            }
        }
    }
}

/// How far from its centre the odd-length kernel `k` has taps above 1e-9 of its largest: the
/// blurs skip the rest.
pub(super) fn reach(k: &[f32]) -> usize {
    let r = k.len() / 2;
    let top = k.iter().copied().fold(0.0f32, f32::max);
    (0..=r).rev().find(|&d| k[r + d] > 1e-9 * top).unwrap_or(0)
}

/// The normalised blur kernel of an image with σ `sigma` (training pixels) in a batch whose
/// largest σ is `max_sigma`, at `scale` output pixels per training pixel: radius 3 σ of the
/// batch's largest, as the model's grouped convolution has.
pub(super) fn blur_kernel(sigma: f32, max_sigma: f32, scale: f32) -> Vec<f32> {
    let r = ((3.0 * max_sigma * scale).ceil() as usize).max(1);
    let var2 = 2.0 * (sigma * scale).powi(2) + 1e-3;
    let k: Vec<f32> = (0..2 * r + 1)
        .map(|i| (-((i as f32 - r as f32).powi(2)) / var2).exp())
        .collect();
    let s: f32 = k.iter().sum();
    k.iter().map(|v| v / s).collect()
}

/// The background's smooth shift [C][ht][wt] from its `ramp` (see [`Weights::bg_ramp`]).
pub(super) fn ramp_planes(ramp: &[f32], c: usize, (ht, wt): (usize, usize)) -> Vec<f32> {
    let nt = ht * wt;
    let mut shift = vec![0.0f32; c * nt];
    for ch in 0..c {
        let (offset, gx, gy) = (ramp[ch], ramp[c + ch], ramp[2 * c + ch]);
        for y in 0..ht {
            let v = (y as f32 + 0.5) / ht as f32 - 0.5;
            for xx in 0..wt {
                let u = (xx as f32 + 0.5) / wt as f32 - 0.5;
                shift[ch * nt + y * wt + xx] = offset + gx * u + gy * v;
            }
        }
    }
    shift
}

/// What one image's pass reports, as [`StageStats`] does per image.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ImageStats {
    pub blur: f32,
    pub light_range: f32,
    pub bg_shift: f32,
    pub bg_texture: f32,
    pub detail: f32,
}

impl Weights {
    /// The blur σ (training pixels) of an image with blur noise `z`.
    pub(super) fn sigma(&self, z: f32) -> f32 {
        sigmoid(z * self.blur_a * SCALAR_GAIN + self.blur_c * SCALAR_GAIN) * BLUR_MAX
    }

    /// Applies the chain to a batch of CHW images in place (`x[k]`, `alpha[k]` the coverage,
    /// `seeds[k]` the image's seed), `scale` output pixels per training pixel. Images are
    /// independent, except that the blur kernel's radius is 3 σ of the batch's largest σ, as in
    /// the model.
    pub fn apply(
        &self,
        x: &mut [Vec<f32>],
        alpha: &[Vec<f32>],
        seeds: &[u64],
        (h, w): (usize, usize),
        scale: impl Into<Scales>,
    ) -> StageStats {
        let scale: Scales = scale.into();
        let (ht, wt) = train_size(h, w, scale.maps);
        let (noise, max_sigma) = self.batch_noise(seeds, (h, w), scale);
        let stats: Vec<ImageStats> = x
            .par_iter_mut()
            .zip(alpha)
            .zip(&noise)
            .map(|((img, a), z)| self.one(img, a, z, (h, w), (ht, wt), scale, max_sigma, None))
            .collect();
        self.stage_stats(&stats)
    }

    /// Each image's noise for images of (h, w) at `scale`, and the batch's largest blur σ,
    /// which sets every image's blur radius: what both forwards start a batch with.
    pub(super) fn batch_noise(
        &self,
        seeds: &[u64],
        (h, w): (usize, usize),
        scale: Scales,
    ) -> (Vec<ImageNoise>, f32) {
        let (ht, wt) = train_size(h, w, scale.maps);
        let noise: Vec<ImageNoise> = seeds
            .par_iter()
            .map(|s| image_noise(*s, self.channels, wt, ht, [w, h]))
            .collect();
        let max_sigma = noise
            .iter()
            .map(|n| self.sigma(n.blur))
            .fold(0.0f32, f32::max);
        (noise, max_sigma)
    }

    /// The largest blur σ of the images with these seeds: it sets every image's blur radius
    /// in a batch (see [`apply`](Self::apply)).
    pub fn max_sigma(&self, seeds: &[u64]) -> f32 {
        seeds
            .iter()
            .map(|s| self.sigma(super::blur_noise(*s)))
            .fold(0.0f32, f32::max)
    }

    /// One image of a batch whose largest blur σ is `max_sigma` ([`max_sigma`](Self::max_sigma)),
    /// on the calling thread, RGB8 in place (`alpha`: its coverage, 0–255): the same result as
    /// [`apply`](Self::apply) gives it in that batch. The chain's last pass writes the finished
    /// rows as RGB8.
    pub fn apply_one(
        &self,
        rgb: &mut [u8],
        alpha: &[u8],
        seed: u64,
        (h, w): (usize, usize),
        scale: impl Into<Scales>,
        max_sigma: f32,
    ) -> StageStats {
        let c = self.channels;
        let mut x = crate::pixels::chw::rgb_to_chw(rgb, c, w, h);
        let alpha: Vec<f32> = alpha.iter().map(|a| *a as f32 / 255.0).collect();
        let scale: Scales = scale.into();
        let (ht, wt) = train_size(h, w, scale.maps);
        let z = image_noise(seed, c, wt, ht, [w, h]);
        let st = self.one(
            &mut x,
            &alpha,
            &z,
            (h, w),
            (ht, wt),
            scale,
            max_sigma,
            Some(rgb),
        );
        self.stage_stats(&[st])
    }

    /// The batch's [`StageStats`] from its images' (the lists of stages switched off empty).
    pub(super) fn stage_stats(&self, stats: &[ImageStats]) -> StageStats {
        let pick = |on: bool, f: fn(&ImageStats) -> f32| -> Vec<f32> {
            if on {
                stats.iter().map(f).collect()
            } else {
                Vec::new()
            }
        };
        let b = self.flags.on(Stage::Blur);
        let l = self.flags.on(Stage::Lighting);
        let g = self.flags.on(Stage::Background);
        let d = self.flags.on(Stage::Detail);
        let n = self.flags.on(Stage::Noise);
        StageStats {
            blur: pick(b, |s| s.blur),
            light_range: pick(l, |s| s.light_range),
            bg_shift: pick(g, |s| s.bg_shift),
            bg_texture: pick(g, |s| s.bg_texture),
            detail: pick(d, |s| s.detail),
            noise: if n { self.noise_sigma() } else { 0.0 },
        }
    }

    /// The sensor noise's σ at the training size.
    pub(super) fn noise_sigma(&self) -> f32 {
        sigmoid(self.noise_level * SCALAR_GAIN) * NOISE_BOUND
    }

    /// One image, in AVX2 code where the CPU has it: the loops below are element-wise, so the
    /// wider vectors give the same bits (no fused multiply-adds, no reordered sums); with `rgb`,
    /// its finished rows are written there too.
    #[allow(clippy::too_many_arguments)]
    fn one(
        &self,
        x: &mut [f32],
        alpha: &[f32],
        z: &ImageNoise,
        hw: (usize, usize),
        train: (usize, usize),
        scale: Scales,
        max_sigma: f32,
        rgb: Option<&mut [u8]>,
    ) -> ImageStats {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above)
            return unsafe { self.one_avx2(x, alpha, z, hw, train, scale, max_sigma, rgb) };
        }
        self.one_body(x, alpha, z, hw, train, scale, max_sigma, rgb)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn one_avx2(
        &self,
        x: &mut [f32],
        alpha: &[f32],
        z: &ImageNoise,
        hw: (usize, usize),
        train: (usize, usize),
        scale: Scales,
        max_sigma: f32,
        rgb: Option<&mut [u8]>,
    ) -> ImageStats {
        self.one_body(x, alpha, z, hw, train, scale, max_sigma, rgb)
    }

    /// One image; with `rgb`, its finished rows are written there too (RGB8). Long: the five
    /// stages in the model's order, each a few loops.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn one_body(
        &self,
        x: &mut [f32],
        alpha: &[f32],
        z: &ImageNoise,
        (h, w): (usize, usize),
        (ht, wt): (usize, usize),
        scale: Scales,
        max_sigma: f32,
        mut rgb: Option<&mut [u8]>,
    ) -> ImageStats {
        let c = self.channels;
        let n = h * w;
        let mut st = ImageStats::default();
        let blur_on = self.flags.on(Stage::Blur);
        let light_on = self.flags.on(Stage::Lighting);
        let bg_on = self.flags.on(Stage::Background);
        let detail_on = self.flags.on(Stage::Detail);
        let noise_on = self.flags.on(Stage::Noise);
        if blur_on {
            let sigma = self.sigma(z.blur);
            st.blur = sigma;
            blur(x, c, (h, w), &blur_kernel(sigma, max_sigma, scale.pixel));
        }
        if light_on {
            let (lh, lw) = (low(ht, 16), low(wt, 16));
            let t = self.light1.run(&z.lighting, lh, lw, leaky);
            let maps = self.light2.run(&t, lh, lw, |v| v);
            let (mut lo, mut hi) = ([f32::INFINITY; 8], [f32::NEG_INFINITY; 8]);
            // each output row of the three maps becomes gains and shift, then lights the row
            let up = Upsampled::new(&maps, (lh, lw), (h, w));
            let mut rows = vec![0.0f32; 3 * w];
            for y in 0..h {
                up.row(y, &mut rows);
                let (gains, shift) = rows.split_at_mut(2 * w);
                for v in gains.iter_mut() {
                    *v = light_gain(*v);
                }
                for v in shift.iter_mut() {
                    *v = light_shift(*v);
                }
                // the range in eight lanes (one running minimum is a chain of dependent steps)
                let parts = gains.chunks_exact(8);
                let rest = parts.remainder();
                for part in parts {
                    for j in 0..8 {
                        lo[j] = lo[j].min(part[j]);
                        hi[j] = hi[j].max(part[j]);
                    }
                }
                for (j, v) in rest.iter().enumerate() {
                    lo[j] = lo[j].min(*v);
                    hi[j] = hi[j].max(*v);
                }
                let (black, white) = gains.split_at(w);
                for plane in x.chunks_exact_mut(n) {
                    let row = &mut plane[y * w..(y + 1) * w];
                    for (((v, b), wh), s) in row.iter_mut().zip(black).zip(white).zip(&*shift) {
                        let g = if *v < 0.0 { *b } else { *wh };
                        *v = *v * g + s;
                    }
                }
            }
            let lo = lo.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = hi.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            st.light_range = hi - lo;
        }
        if bg_on {
            let delta = self.background(z, (ht, wt), &mut st);
            let up = Upsampled::new(&delta, (ht, wt), (h, w));
            let mut rows = vec![0.0f32; c * w];
            for y in 0..h {
                up.row(y, &mut rows);
                let keep = &alpha[y * w..(y + 1) * w];
                for (plane, d) in x.chunks_exact_mut(n).zip(rows.chunks_exact(w)) {
                    let row = &mut plane[y * w..(y + 1) * w];
                    for ((v, d), a) in row.iter_mut().zip(d).zip(keep) {
                        *v += d * (1.0 - a);
                    }
                }
            }
        }
        let mut detail = None;
        if detail_on {
            let small = resize(x, c, (h, w), (ht, wt));
            let mut input = small;
            input.extend_from_slice(&z.detail);
            let t = self.detail1.run(&input, ht, wt, leaky);
            let mut hp: Vec<f32> = self
                .detail2
                .run(&t, ht, wt, |v| v)
                .iter()
                .map(|v| (v * 0.1).clamp(-DETAIL_BOUND, DETAIL_BOUND))
                .collect();
            let k = gaussian_kernel(3.5).1;
            for _ in 0..3 {
                let mut low_part = hp.clone();
                blur(&mut low_part, c, (ht, wt), &k);
                for (v, l) in hp.iter_mut().zip(&low_part) {
                    *v -= l;
                }
            }
            st.detail = hp.iter().map(|v| v.abs()).sum::<f32>() / hp.len() as f32;
            detail = Some(Upsampled::new(&hp, (ht, wt), (h, w)));
        }
        // the last pass, row by row: the detail, the sensor noise, the clamp
        let s = if noise_on {
            self.noise_sigma() * scale.pixel
        } else {
            0.0
        };
        let mut rows = vec![0.0f32; c * w];
        let mut noise = vec![0.0f32; w];
        for y in 0..h {
            if let Some(up) = &detail {
                up.row(y, &mut rows);
            }
            for (ch, plane) in x.chunks_exact_mut(n).enumerate() {
                let row = &mut plane[y * w..(y + 1) * w];
                if detail.is_some() {
                    for (v, d) in row.iter_mut().zip(&rows[ch * w..(ch + 1) * w]) {
                        *v += d;
                    }
                }
                if noise_on {
                    super::normals_from(z.pixel_key, ch * n + y * w, &mut noise);
                    for (v, z) in row.iter_mut().zip(&noise) {
                        *v += z * s;
                    }
                }
                for v in row.iter_mut() {
                    *v = v.clamp(-1.0, 1.0);
                }
            }
            if let Some(rgb) = rgb.as_deref_mut() {
                let row = &mut rgb[3 * y * w..3 * (y + 1) * w];
                crate::pixels::chw::chw_to_rgb_from(x, c, n, y * w, row);
            }
        }
        st
    }

    /// The background's colour offset, x ramp and y ramp per channel ([3][C], bounded) from the
    /// image's colour noise: the dense layers, small enough for the CPU on every path.
    pub(super) fn bg_ramp(&self, bg_color: &[f32]) -> Vec<f32> {
        let c = self.channels;
        let t: Vec<f32> = self
            .bg_color1
            .run(bg_color)
            .into_iter()
            .map(leaky)
            .collect();
        let p = self.bg_color2.run(&t);
        (0..3 * c)
            .map(|i| {
                let bound = if i < c { BG_SHIFT_BOUND } else { BG_RAMP_BOUND };
                p[i].tanh() * bound
            })
            .collect()
    }

    /// The background's change at the training size [C][ht][wt] (see the model's
    /// `background_change`).
    #[inline(always)]
    fn background(
        &self,
        z: &ImageNoise,
        (ht, wt): (usize, usize),
        st: &mut ImageStats,
    ) -> Vec<f32> {
        let c = self.channels;
        let mut shift = ramp_planes(&self.bg_ramp(&z.bg_color), c, (ht, wt));
        let (h8, w8) = (low(ht, 8), low(wt, 8));
        let (h4, w4) = (low(ht, 4), low(wt, 4));
        let (h2, w2) = (low(ht, 2), low(wt, 2));
        let t = self.bg1.run(&z.background, h8, w8, leaky);
        let t = resize(&t, self.bg1.c_out, (h8, w8), (h4, w4));
        let t = self.bg2.run(&t, h4, w4, leaky);
        let t = resize(&t, self.bg2.c_out, (h4, w4), (h2, w2));
        let t = self.bg3.run(&t, h2, w2, leaky);
        let t = resize(&t, self.bg3.c_out, (h2, w2), (ht, wt));
        let t = self.bg4.run(&t, ht, wt, |v| v);
        let mut low_part = t.clone();
        blur(&mut low_part, c, (ht, wt), &gaussian_kernel(2.0).1);
        let mut hp: Vec<f32> = t.iter().zip(&low_part).map(|(a, b)| a - b).collect();
        let rms = (hp.iter().map(|v| v * v).sum::<f32>() / hp.len() as f32 + 1e-12).sqrt();
        let factor = (self.bg_bound / rms).min(1.0);
        for v in hp.iter_mut() {
            *v *= factor;
        }
        st.bg_shift = shift.iter().map(|v| v.abs()).sum::<f32>() / shift.len() as f32;
        st.bg_texture = (hp.iter().map(|v| v * v).sum::<f32>() / hp.len() as f32 + 1e-12).sqrt();
        for (s, t) in shift.iter_mut().zip(&hp) {
            *s += t;
        }
        shift
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use crate::augment::stages::{Scales, StageConfig};
    use crate::augment::testing::{batch, burn_forward, max_abs_difference, shaken_chain};

    /// The CPU forward against burn's, on images of `(h, w)` at `scale`.
    fn max_difference(h: usize, w: usize, scale: Scales) -> f32 {
        let device = Device::flex();
        let chain = shaken_chain(&StageConfig::default(), &device);
        let b = 3;
        let input = batch(b, 3, (h, w));
        let (want, want_stats) = burn_forward(&chain, &input, (h, w), scale, &device);
        let mut got = input.images.clone();
        let st = chain
            .export()
            .apply(&mut got, &input.alphas, &input.seeds, (h, w), scale);
        assert_eq!(st.blur.len(), b);
        for (s, t) in st.detail.iter().zip(&want_stats.detail) {
            assert!((s - t).abs() < 1e-4, "detail stat {s} vs {t}");
        }
        for (s, t) in st.bg_texture.iter().zip(&want_stats.bg_texture) {
            assert!((s - t).abs() < 1e-4, "texture stat {s} vs {t}");
        }
        // the stages must have acted, or agreeing would prove nothing
        let moved = input
            .images
            .iter()
            .flatten()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / want.len() as f32;
        assert!(
            moved > 0.05,
            "the chain barely changed the images ({moved})"
        );
        let d = max_abs_difference(got.iter().flatten(), &want);
        eprintln!("{h}×{w} at {scale:?}: moved {moved:.3}, max difference {d:e}, stats {st:?}");
        d
    }

    #[test]
    fn fast_exp_agrees_with_libm() {
        let mut worst = 0.0f32;
        for i in -87_000..=88_000 {
            let x = i as f32 / 1000.0;
            let (a, b) = (super::fast_exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst < 1e-6, "relative error {worst}");
        for v in [-5.0f32, -1.0, -0.01, 0.0, 0.3, 2.9, 7.0] {
            let c = v.clamp(-3.0, 3.0);
            assert!((super::light_shift(v) - c.tanh() * 0.3).abs() < 1e-6);
            assert!((super::light_gain(v) - (super::sigmoid(c) * 1.8 + 0.1)).abs() < 1e-6);
        }
    }

    #[test]
    fn the_cpu_forward_agrees_with_burns() {
        // a chain learned at the output's scale: maps at 4 output px a training px, blur and
        // noise in output px
        let output = Scales {
            maps: 4.0,
            pixel: 1.0,
        };
        for (h, w, scale) in [
            (16, 16, 1.0.into()),
            (40, 24, 2.0.into()),
            (64, 64, 4.0.into()),
            (64, 48, output),
        ] {
            let d = max_difference(h, w, scale);
            assert!(d <= 1e-3, "{h}×{w} at scale {scale:?}: max difference {d}");
        }
    }
}
