//! Learned augmentation: the bounded RenderGAN stages (`model`), the soft object mask and
//! per-image noise they consume, and applying a trained run to rendered images (`infer`). Only
//! this module and `train` touch burn.

pub mod infer;
pub mod model;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Soft object mask from render coverage (alpha in [0, 1], row-major): 1 wherever the object
/// covers any part of a pixel, fading to 0 over about two pixels outside (blur σ = 1, ×3). The
/// background stage therefore never touches a pixel an object is drawn on.
pub fn soft_mask(alpha: &[f32], w: usize, h: usize) -> Vec<f32> {
    let k = [0.054f32, 0.242, 0.399, 0.242, 0.054];
    let norm: f32 = k.iter().sum();
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (i, kv) in k.iter().enumerate() {
                let xx = (x as isize + i as isize - 2).clamp(0, w as isize - 1) as usize;
                s += kv * alpha[y * w + xx];
            }
            tmp[y * w + x] = s / norm;
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (i, kv) in k.iter().enumerate() {
                let yy = (y as isize + i as isize - 2).clamp(0, h as isize - 1) as usize;
                s += kv * tmp[yy * w + x];
            }
            let a = alpha[y * w + x];
            out[y * w + x] = if a > 0.0 {
                1.0
            } else {
                (3.0 * s / norm).min(1.0)
            };
        }
    }
    out
}

/// The noise one image consumes, as flat vectors in the layout of [`model::NoiseInput`].
pub struct ImageNoise {
    pub blur: f32,
    pub lighting: Vec<f32>,
    pub background: Vec<f32>,
    pub detail: Vec<f32>,
    pub pixel: Vec<f32>,
}

/// Draws the noise of one image from its own seed, so augmentation is a pure function of the
/// image (and the trained weights).
pub fn image_noise(seed: u64, channels: usize, w: usize, h: usize) -> ImageNoise {
    let mut rng = ChaCha8Rng::seed_from_u64(crate::scene::mix(seed, 0xA06_A06));
    let mut draw =
        |n: usize| -> Vec<f32> { (0..n).map(|_| StandardNormal.sample(&mut rng)).collect() };
    ImageNoise {
        blur: draw(1)[0],
        lighting: draw(model::LIGHT_Z * model::low(h, 16) * model::low(w, 16)),
        background: draw(model::BG_Z * model::low(h, 8) * model::low(w, 8)),
        detail: draw(model::DETAIL_Z * h * w),
        pixel: draw(channels * h * w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_mask_is_one_on_coverage_and_fades_outside() {
        let (w, h) = (12, 10);
        let mut a = vec![0.0f32; w * h];
        for y in 3..7 {
            for x in 4..8 {
                a[y * w + x] = if x == 4 { 0.3 } else { 1.0 };
            }
        }
        let m = soft_mask(&a, w, h);
        for i in 0..w * h {
            if a[i] > 0.0 {
                assert_eq!(m[i], 1.0);
            }
            assert!((0.0..=1.0).contains(&m[i]));
        }
        assert!(
            m[5 * w + 3] > 0.0 && m[5 * w + 3] < 1.0,
            "one pixel out is partly object"
        );
        assert_eq!(m[0], 0.0, "far away is background");
    }

    #[test]
    fn noise_is_a_pure_function_of_the_seed() {
        let a = image_noise(5, 3, 20, 12);
        let b = image_noise(5, 3, 20, 12);
        assert_eq!(a.detail, b.detail);
        assert_eq!(
            a.lighting.len(),
            model::LIGHT_Z * 2,
            "12 × 20 → 1 × 2 at 1/16"
        );
        assert_ne!(image_noise(6, 3, 20, 12).pixel, a.pixel);
    }
}
