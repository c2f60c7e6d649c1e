//! Label safety while training: the chain is charged for each object of a training render whose
//! contrast with the ring just outside its mask (`labels::contrast`, the measure the verdict
//! judges) falls below [`KEEP`] of the raw render's. The stages may change how an object looks,
//! not whether it can be seen; without the charge, a discriminator that finds small objects
//! easier to tell than to render pushes the chain to blur and flatten them away.

use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::eval::manifest_stats::MIN_CONTRAST;
use crate::labels::contrast::{chw_grey, regions, Region};

/// Share of its raw contrast an object keeps before the chain is charged for it: twice the
/// verdict's threshold, so a chain trained under the charge passes the verdict.
pub const KEEP: f32 = 0.5;
/// Weight of the charge in the chain's loss: a batch whose objects all keep a quarter of their
/// contrast (the verdict's line) is charged 2.5, more than the adversarial loss (about 1) can
/// gain.
pub const WEIGHT: f32 = 10.0;
/// Objects judged per image (the first ones in instance order).
const MAX_OBJECTS: usize = 32;

/// The objects of one render (CHW in [-1, 1], `c` channels, `res` × `res`, with its instance
/// `ids`) whose contrast with their ring is enough to judge, in instance order: that contrast
/// and where the object and its ring lie. What training charges and the verdict judges.
pub fn judged_objects(image: &[f32], ids: &[u32], c: usize, res: usize) -> Vec<(f32, Region)> {
    let n = ids.iter().copied().max().unwrap_or(0) as usize;
    let grey = chw_grey(image, c, res * res);
    regions(ids, res, res, n)
        .into_iter()
        .flatten()
        .map(|r| (r.contrast(&grey), r))
        .filter(|(raw, _)| (*raw as f64).abs() >= MIN_CONTRAST)
        .collect()
}

/// The objects of one batch of renders and their raw contrasts.
pub struct Keep {
    /// [B, K, H·W]: 1 / area on each judged object's mask pixels, 0 elsewhere.
    inside: Tensor<3>,
    /// [B, K, H·W]: the same over its ring.
    ring: Tensor<3>,
    /// [B·K]: the sign of the raw contrast (0 for an empty slot).
    sign: Tensor<1>,
    /// [B·K]: `KEEP` × |raw contrast|.
    target: Tensor<1>,
    /// [B·K]: 1 / |raw contrast| (0 for an empty slot), so each object is charged relative to
    /// its own contrast.
    weight: Tensor<1>,
    slots: usize,
    judged: usize,
}

impl Keep {
    /// The objects of `images` (CHW in [-1, 1], concatenated, `c` channels, `res` × `res`)
    /// with their instance `ids`; `None` when no object has contrast enough to judge.
    pub fn new(
        images: &[f32],
        ids: &[Vec<u32>],
        c: usize,
        res: usize,
        device: &Device,
    ) -> Option<Keep> {
        let hw = res * res;
        let per_image: Vec<Vec<(f32, Region)>> = ids
            .iter()
            .enumerate()
            .map(|(k, ids)| {
                let mut objects =
                    judged_objects(&images[k * c * hw..(k + 1) * c * hw], ids, c, res);
                objects.truncate(MAX_OBJECTS);
                objects
            })
            .collect();
        let slots = per_image.iter().map(Vec::len).max().unwrap_or(0);
        if slots == 0 {
            return None;
        }
        let b = ids.len();
        let mut inside = vec![0.0f32; b * slots * hw];
        let mut ring = vec![0.0f32; b * slots * hw];
        let (mut sign, mut target, mut weight) = (
            vec![0.0f32; b * slots],
            vec![0.0f32; b * slots],
            vec![0.0f32; b * slots],
        );
        for (k, objects) in per_image.iter().enumerate() {
            for (j, (raw, r)) in objects.iter().enumerate() {
                let slot = k * slots + j;
                for (px, plane) in [(&r.inner, &mut inside), (&r.ring, &mut ring)] {
                    for &p in px {
                        plane[slot * hw + p] = 1.0 / px.len() as f32;
                    }
                }
                sign[slot] = raw.signum();
                target[slot] = KEEP * raw.abs();
                weight[slot] = 1.0 / raw.abs();
            }
        }
        let t3 = |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [b, slots, hw]), device);
        let t1 = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [b * slots]), device);
        Some(Keep {
            inside: t3(inside),
            ring: t3(ring),
            sign: t1(sign),
            target: t1(target),
            weight: t1(weight),
            slots,
            judged: per_image.iter().map(Vec::len).sum(),
        })
    }

    /// The objects' contrasts in `x` [B, C, H, W] (what the chain made, before sensor noise),
    /// [B·K] in slot order (0 for empty slots).
    fn contrasts(&self, x: Tensor<4>) -> Tensor<1> {
        let [b, _, h, w] = x.dims();
        let grey = x
            .mean_dim(1)
            .add_scalar(1.0)
            .mul_scalar(0.5)
            .reshape([b, h * w, 1]);
        let inside = self.inside.clone().matmul(grey.clone());
        let ring = self.ring.clone().matmul(grey);
        (inside - ring).reshape([b * self.slots])
    }

    /// The charge for `x`: over the judged objects, the mean of how much contrast each lacks of
    /// [`KEEP`] × its raw contrast, relative to its raw contrast (0 when every object keeps
    /// enough).
    pub fn charge(&self, x: Tensor<4>) -> Tensor<1> {
        let kept = self.contrasts(x) * self.sign.clone();
        (relu(self.target.clone() - kept) * self.weight.clone())
            .sum()
            .div_scalar(self.judged as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::model::values;
    use crate::labels::contrast::ring_contrast_chw;

    /// One image with a 3 × 3 bright square (id 1) and a 10 × 10 one (id 2) on grey.
    fn squares(res: usize) -> (Vec<f32>, Vec<u32>) {
        let ids: Vec<u32> = (0..res * res)
            .map(|p| {
                let (x, y) = (p % res, p / res);
                if (4..7).contains(&x) && (4..7).contains(&y) {
                    1
                } else if (14..24).contains(&x) && (10..20).contains(&y) {
                    2
                } else {
                    0
                }
            })
            .collect();
        let img: Vec<f32> = ids
            .iter()
            .map(|&i| if i > 0 { 0.6 } else { -0.4 })
            .collect();
        (img, ids)
    }

    #[test]
    fn the_charge_is_zero_for_the_render_and_grows_as_objects_fade() {
        let device = Device::flex();
        let res = 32;
        let (img, ids) = squares(res);
        let keep = Keep::new(&img, std::slice::from_ref(&ids), 1, res, &device).unwrap();
        let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, res, res]), &device);
        // the contrasts are the verdict's, object by object
        let c = values(keep.contrasts(t(img.clone())));
        let want = ring_contrast_chw(&ids, &img, 1, res, res, 2);
        for (have, want) in c.iter().zip(&want) {
            assert!((have - want.unwrap()).abs() < 1e-5, "{c:?} vs {want:?}");
        }
        assert!(values(keep.charge(t(img.clone())))[0].abs() < 1e-6);
        // the whole image washed towards grey: at 0.6 of the contrast nothing is charged, at
        // 0.2 each object lacks 0.3 of its raw contrast
        let wash = |f: f32| t(img.iter().map(|v| -0.4 + f * (v + 0.4)).collect());
        assert!(values(keep.charge(wash(0.6)))[0].abs() < 1e-6);
        let at_02 = values(keep.charge(wash(0.2)))[0];
        assert!((at_02 - 0.3).abs() < 1e-4, "{at_02}");
        // an object with no contrast is not judged
        let flat = vec![0.1f32; res * res];
        assert!(Keep::new(&flat, &[ids], 1, res, &device).is_none());
    }
}
