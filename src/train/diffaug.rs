//! Differentiable augmentation (DiffAugment, Zhao et al. 2020, policy translation + cutout): the
//! same random transforms are applied to real and generated images before every discriminator
//! call, in both the discriminator's and the chain's step. With few real photos a discriminator
//! otherwise memorises them (where each object sits, which crop is which) and its verdicts stop
//! meaning "real-looking"; the transforms are differentiable, so the chain still gets a gradient
//! through them, and they are applied to both sides, so they never become what the chain learns.
//!
//! DiffAugment's colour transforms (brightness ±0.5, saturation ×0–2, contrast ×0.5–1.5) are
//! left out: colour, contrast and noise level are exactly what the lighting and noise stages
//! must learn, and on the controlled test domain the discriminator with them learned nothing in
//! 150 steps (its loss stayed at ln 4), where without them it did.

use burn::prelude::*;
use burn::tensor::ops::PadMode;
use rand::Rng;

/// Largest translation, as a fraction of the image side.
const TRANSLATION: f32 = 0.125;
/// Side of the cut-out square, as a fraction of the image side.
const CUTOUT: f32 = 0.5;

/// Applies one random draw of the policy to each image of `x` [B, C, H, W] in [-1, 1].
pub fn diff_augment<R: Rng + ?Sized>(x: Tensor<4>, rng: &mut R) -> Tensor<4> {
    let [b, _, h, w] = x.dims();
    let device = x.device();
    // translation by up to 1/8 of the side, zero (mid-grey) filled
    let r = ((h.min(w) as f32 * TRANSLATION).round() as usize).max(1);
    let padded = x.pad((r, r, r, r), PadMode::Constant(0.0));
    let moved: Vec<Tensor<4>> = (0..b)
        .map(|i| {
            let (dy, dx) = (rng.gen_range(0..=2 * r), rng.gen_range(0..=2 * r));
            padded
                .clone()
                .narrow(0, i, 1)
                .narrow(2, dy, h)
                .narrow(3, dx, w)
        })
        .collect();
    let x = Tensor::cat(moved, 0);
    // cutout: a square of half the side set to zero, its centre anywhere in the image
    let (sh, sw) = (
        ((h as f32 * CUTOUT).round() as usize).max(1),
        ((w as f32 * CUTOUT).round() as usize).max(1),
    );
    let mut keep = vec![1.0f32; b * h * w];
    for i in 0..b {
        let (cy, cx) = (rng.gen_range(0..h) as isize, rng.gen_range(0..w) as isize);
        let (y0, x0) = (cy - sh as isize / 2, cx - sw as isize / 2);
        for y in y0.max(0)..(y0 + sh as isize).min(h as isize) {
            for xx in x0.max(0)..(x0 + sw as isize).min(w as isize) {
                keep[i * h * w + y as usize * w + xx as usize] = 0.0;
            }
        }
    }
    x * Tensor::<4>::from_data(TensorData::new(keep, [b, 1, h, w]), &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn keeps_shapes_cuts_a_square_and_passes_gradients() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::ones([3, 3, 16, 16], &device)
            .mul_scalar(0.5)
            .require_grad();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let y = diff_augment(x.clone(), &mut rng);
        assert_eq!(y.dims(), [3, 3, 16, 16]);
        let v = y.clone().into_data().try_to_vec::<f32>().unwrap();
        let zeros = v.iter().filter(|p| **p == 0.0).count();
        // each image loses at least a quarter of its 8 × 8 cut-out (its centre is inside)
        assert!(zeros >= 3 * 3 * 16, "only {zeros} zeroed values");
        let g = y.sum().backward();
        let grad = x.grad(&g).unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert!(grad.iter().any(|v| *v != 0.0));
        // the same seed gives the same transforms
        let mut again = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let z = diff_augment(x.detach(), &mut again);
        assert_eq!(z.into_data().try_to_vec::<f32>().unwrap(), v);
    }
}
