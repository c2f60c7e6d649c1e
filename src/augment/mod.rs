//! Learned augmentation: the bounded RenderGAN stages (`model`, burn; what they are without
//! burn, their settings, bounds and trained weights: `stages`), the per-image noise they
//! consume, and applying a trained run to rendered images (`infer`), with the forward pass in
//! plain Rust (`fast`) or as compute shaders on the render device (`gpu`, the one place outside
//! `render` that touches wgpu: it takes the device `render` made). Only this module and `train`
//! touch burn.

pub mod apply;
pub mod fast;
pub mod gpu;
pub mod infer;
pub mod model;
pub mod stages;
#[cfg(test)]
pub(crate) mod testing;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The noise one image consumes, as flat vectors in the layout of [`model::NoiseInput`]; the
/// sensor noise (one value per output pixel and channel) as the key of its stream, drawn whole by
/// [`pixel`](Self::pixel) or a row at a time by [`normals_from`].
pub struct ImageNoise {
    pub blur: f32,
    pub lighting: Vec<f32>,
    pub bg_color: Vec<f32>,
    pub background: Vec<f32>,
    pub detail: Vec<f32>,
    pub pixel_key: [u32; 2],
    pub pixel_len: usize,
}

impl ImageNoise {
    /// The sensor noise, [C][H][W] at the output size.
    pub fn pixel(&self) -> Vec<f32> {
        let mut v = vec![0.0; self.pixel_len];
        normals(self.pixel_key, &mut v);
        v
    }
}

fn noise_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(crate::scene::seed::mix(
        seed,
        crate::scene::seed::AUGMENT_NOISE,
    ))
}

/// The blur noise of the image with `seed`: [`image_noise`]'s first draw, without the rest.
pub fn blur_noise(seed: u64) -> f32 {
    StandardNormal.sample(&mut noise_rng(seed))
}

/// Draws the noise of one image from its own seed: the maps at the image's size in training
/// pixels (`w` × `h`), so a stage does the same relative to the objects at every output size, and
/// the sensor noise per output pixel (`out` = [width, height]). Augmentation is a pure function
/// of the image (and the trained weights). The small draws come from the image's ChaCha stream,
/// the two large ones (detail and sensor noise, ~200k values at 256²) from [`normals`] keyed by
/// it: drawing them one at a time was the chain's largest fixed cost.
pub fn image_noise(seed: u64, channels: usize, w: usize, h: usize, out: [usize; 2]) -> ImageNoise {
    image_noise_in(seed, channels, [w, h], [w, h], out)
}

/// [`image_noise`] for a crop of a larger render (training at the output's scale): the lighting
/// and background-texture noise is made for the whole render, `frame` = its [width, height] in
/// training pixels; the detail's for the crop, `[w, h]` training pixels.
pub fn image_noise_in(
    seed: u64,
    channels: usize,
    [w, h]: [usize; 2],
    frame: [usize; 2],
    out: [usize; 2],
) -> ImageNoise {
    let mut rng = noise_rng(seed);
    let mut draw =
        |n: usize| -> Vec<f32> { (0..n).map(|_| StandardNormal.sample(&mut rng)).collect() };
    let blur = draw(1)[0];
    let lighting = draw(stages::LIGHT_Z * stages::low(frame[1], 16) * stages::low(frame[0], 16));
    // the whole frame's draws first: a training crop and the whole output share them
    let bg_color = draw(stages::BG_Z);
    let background = draw(stages::BG_Z * stages::low(frame[1], 8) * stages::low(frame[0], 8));
    let mut detail = vec![0.0; stages::DETAIL_Z * h * w];
    normals([rng.next_u32(), rng.next_u32()], &mut detail);
    ImageNoise {
        blur,
        lighting,
        background,
        detail,
        bg_color,
        pixel_key: [rng.next_u32(), rng.next_u32()],
        pixel_len: channels * out[0] * out[1],
    }
}

/// A bijective 32-bit integer hash with full avalanche (the "lowbias32" constants of Wellons'
/// hash prospector).
#[inline(always)]
fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x21f0_aaad);
    x ^= x >> 15;
    x = x.wrapping_mul(0x735a_2d97);
    x ^ (x >> 15)
}

/// ln x for x in (0, 1], in plain arithmetic the compiler vectorises: exponent and mantissa
/// from the bits, Cephes' logf polynomial on the mantissa in [√½, √2); absolute error below
/// 1e-6 (test).
#[inline(always)]
fn ln_unit(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // [0.5, 1)
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    e -= small as i32;
    m = if small { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    let mut y = 7.037_683_6e-2f32;
    y = y * m - 1.151_461e-1;
    y = y * m + 1.167_699_9e-1;
    y = y * m - 1.242_014_1e-1;
    y = y * m + 1.424_932_3e-1;
    y = y * m - 1.666_805_8e-1;
    y = y * m + 2.000_071_4e-1;
    y = y * m - 2.499_999_4e-1;
    y = y * m + 3.333_333e-1;
    y = y * m * z;
    let ef = e as f32;
    y += ef * -2.121_944_4e-4;
    y -= 0.5 * z;
    m + y + ef * 0.693_359_4
}

/// Standard normal values into `out`, a pure function of `key` and each value's index (a hash
/// of the index under the key gives two uniforms, Box–Muller turns them into two normals, the
/// pair's cosine at an even index and its sine at the next). Plain arithmetic in a fixed order,
/// so the AVX2 build of the loop gives the same bits as the plain one.
pub fn normals(key: [u32; 2], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above)
        return unsafe { normals_avx2(key, out) };
    }
    normals_from(key, 0, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn normals_avx2(key: [u32; 2], out: &mut [f32]) {
    normals_from(key, 0, out)
}

/// [`normals`]' values from index `start` on, into `out`: any stretch of the stream (a row of
/// an image's sensor noise) without the rest.
#[inline(always)]
pub fn normals_from(key: [u32; 2], start: usize, out: &mut [f32]) {
    let mut out = out;
    let mut j = start / 2;
    if start % 2 == 1 && !out.is_empty() {
        out[0] = normal_pair(key, j as u32).1;
        out = &mut out[1..];
        j += 1;
    }
    let last_pair = j + out.len() / 2;
    let mut pairs = out.chunks_exact_mut(2);
    for (k, p) in (&mut pairs).enumerate() {
        let (c, s) = normal_pair(key, (j + k) as u32);
        p[0] = c;
        p[1] = s;
    }
    let rest = pairs.into_remainder();
    if let Some(last) = rest.first_mut() {
        *last = normal_pair(key, last_pair as u32).0;
    }
}

/// The `j`th pair of [`normals`] under `key`.
#[inline(always)]
fn normal_pair(key: [u32; 2], j: u32) -> (f32, f32) {
    // the index hashed under both halves of the key, and that hashed again for the angle
    let a = hash32(hash32(j ^ key[1]) ^ key[0]);
    let b = hash32(a.wrapping_add(0x9e37_79b9));
    // u in (0, 1] from 24 bits, so the logarithm is finite; tails reach 5.8 σ
    let u = ((a >> 8) + 1) as f32 * (1.0 / 16_777_216.0);
    let r = (-2.0 * ln_unit(u)).sqrt();
    // a uniform angle: a quarter turn chosen by two bits, the rest in [-π/4, π/4)
    let q = b >> 30;
    let t = ((b >> 6) & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0);
    let x = (t - 0.5) * std::f32::consts::FRAC_PI_2;
    let x2 = x * x;
    let sn = x + x * x2 * (-1.666_665_5e-1 + x2 * (8.332_161e-3 + x2 * -1.951_529_6e-4));
    let cs =
        1.0 - 0.5 * x2 + x2 * x2 * (4.166_664_6e-2 + x2 * (-1.388_731_6e-3 + x2 * 2.443_315_7e-5));
    let (p, k) = if q & 1 == 0 { (cs, sn) } else { (sn, cs) };
    let p = if q == 1 || q == 2 { -p } else { p };
    let k = if q >= 2 { -k } else { k };
    (r * p, r * k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_a_pure_function_of_the_seed() {
        let a = image_noise(5, 3, 20, 12, [20, 12]);
        let b = image_noise(5, 3, 20, 12, [20, 12]);
        assert_eq!(a.detail, b.detail);
        assert_eq!(a.bg_color, b.bg_color);
        assert_eq!(
            a.lighting.len(),
            stages::LIGHT_Z * 2,
            "12 × 20 → 1 × 2 at 1/16"
        );
        assert_eq!(a.pixel(), b.pixel());
        assert_ne!(image_noise(6, 3, 20, 12, [20, 12]).pixel(), a.pixel());
        assert_eq!(
            image_noise(5, 3, 20, 12, [80, 48]).pixel().len(),
            3 * 80 * 48
        );
        assert_eq!(blur_noise(5), a.blur);
    }

    #[test]
    fn ln_unit_agrees_with_libm() {
        let worst = (1..=1u32 << 20)
            .map(|i| i as f32 / (1u32 << 20) as f32)
            .chain((1..200).map(|k| (-(k as f32) / 12.0).exp()))
            .map(|x| (ln_unit(x) - x.ln()).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "absolute error {worst}");
    }

    /// The fast normals are standard normal (moments, tails, no correlation between neighbours
    /// or between keys), and the AVX2 build gives the plain build's bits.
    #[test]
    fn normals_are_standard_normal() {
        let n = 1 << 20;
        let mut v = vec![0.0f32; n + 1];
        normals([7, 11], &mut v);
        let mut plain = vec![0.0f32; n + 1];
        normals_from([7, 11], 0, &mut plain);
        assert_eq!(v, plain);
        // any stretch of the stream is the same values
        for (start, len) in [(0, 5), (1, 4), (3, 1), (1000, 257), (n - 3, 4)] {
            let mut part = vec![0.0f32; len];
            normals_from([7, 11], start, &mut part);
            assert_eq!(part, v[start..start + len], "{start}+{len}");
        }
        let m =
            |f: &dyn Fn(f64) -> f64| v.iter().map(|x| f(*x as f64)).sum::<f64>() / v.len() as f64;
        let (mean, var) = (m(&|x| x), m(&|x| x * x));
        let (skew, kurt) = (m(&|x| x.powi(3)), m(&|x| x.powi(4)));
        let tail = m(&|x| (x.abs() > 1.959_964) as u8 as f64);
        let far = m(&|x| (x.abs() > 3.0) as u8 as f64);
        assert!(
            mean.abs() < 0.005 && (var - 1.0).abs() < 0.005,
            "{mean} {var}"
        );
        assert!(
            skew.abs() < 0.01 && (kurt - 3.0).abs() < 0.03,
            "{skew} {kurt}"
        );
        assert!(
            (tail - 0.05).abs() < 0.001 && (far - 0.0027).abs() < 0.0003,
            "{tail} {far}"
        );
        let corr = |a: &[f32], b: &[f32]| {
            a.iter().zip(b).map(|(x, y)| (x * y) as f64).sum::<f64>() / a.len() as f64
        };
        assert!(corr(&v[..n - 1], &v[1..n]).abs() < 0.005, "neighbours");
        assert!(
            corr(&v[..n / 2], &v[n / 2..n]).abs() < 0.005,
            "a pair's two values"
        );
        let mut other = vec![0.0f32; n];
        for key in [[8, 11], [7, 12]] {
            normals(key, &mut other);
            assert!(corr(&v[..n], &other).abs() < 0.005, "keys {key:?}");
        }
        // squared values too: the pair's radius is shared, so this checks the angle's bits
        let sq = |a: &[f32]| a.iter().map(|x| x * x - 1.0).collect::<Vec<f32>>();
        let s = sq(&v[..n]);
        assert!(
            corr(&s[..n - 1], &s[1..]).abs() < 0.01,
            "neighbours' squares"
        );
        normals([7, 12], &mut other);
        assert!(corr(&s, &sq(&other)).abs() < 0.01, "squares under two keys");
    }
}
