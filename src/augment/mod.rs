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

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The noise one image consumes, as flat vectors in the layout of [`model::NoiseInput`].
pub struct ImageNoise {
    pub blur: f32,
    pub lighting: Vec<f32>,
    pub bg_color: Vec<f32>,
    pub background: Vec<f32>,
    pub detail: Vec<f32>,
    pub pixel: Vec<f32>,
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
/// of the image (and the trained weights).
pub fn image_noise(seed: u64, channels: usize, w: usize, h: usize, out: [usize; 2]) -> ImageNoise {
    let mut rng = noise_rng(seed);
    let mut draw =
        |n: usize| -> Vec<f32> { (0..n).map(|_| StandardNormal.sample(&mut rng)).collect() };
    ImageNoise {
        blur: draw(1)[0],
        lighting: draw(stages::LIGHT_Z * stages::low(h, 16) * stages::low(w, 16)),
        background: draw(stages::BG_Z * stages::low(h, 8) * stages::low(w, 8)),
        detail: draw(stages::DETAIL_Z * h * w),
        bg_color: draw(stages::BG_Z),
        pixel: draw(channels * out[0] * out[1]),
    }
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
        assert_ne!(image_noise(6, 3, 20, 12, [20, 12]).pixel, a.pixel);
        assert_eq!(image_noise(5, 3, 20, 12, [80, 48]).pixel.len(), 3 * 80 * 48);
        assert_eq!(blur_noise(5), a.blur);
    }
}
