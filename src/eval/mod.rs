//! Realism and content checks. `c2st` is the classifier two-sample test (a fresh small conv net
//! learns to tell two sets apart; its held-out accuracy says how different they look);
//! `content` measures what images show, so that a mismatch between photos and renders is
//! reported, not learned. `realism` is the `rendergan realism` command.

pub mod ap;
pub mod c2st;
pub mod content;
pub mod detector;
pub mod features;
pub mod manifest_stats;
pub mod metrics;
pub mod page;
pub mod photo_labels;
pub mod report;

pub use c2st::{c2st, c2st_folds, C2st, Side};
pub use features::{linear_c2st, Features};

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::pixels::photos::RealSet;

/// A C2ST accuracy at or above this cannot rank sets any more (every image told apart).
pub const SATURATED: f64 = 0.98;
/// Fewest photos for a realism figure that is more than a hint.
pub const FEW_PHOTOS: usize = 10;
/// Fewest non-overlapping crops the real photos must hold for the crops to be more than near
/// copies of each other.
pub const FEW_CROPS: usize = 16;

/// What `rendergan realism` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Realism {
    /// The trained conv classifier.
    #[serde(flatten)]
    pub c2st: C2st,
    /// The fast probe on fixed random features, the one `rendergan train` reports.
    pub features: C2st,
    pub real_photos: usize,
    pub images: usize,
    pub warnings: Vec<String>,
}

/// Warnings about a real set that cannot rank datasets well: too few photos, or (with fewer
/// than four photos, which the folds cannot keep apart) crops that are near copies of each other
/// (few non-overlapping crops of side `crop` × the shorter side).
pub fn real_set_warnings(real: &RealSet, crop: f64) -> Vec<String> {
    let mut out = Vec::new();
    let n = real.images.len();
    let distinct: usize = real
        .images
        .iter()
        .map(|im| {
            let side = (crop * im.width().min(im.height()) as f64).max(1.0);
            ((im.width() as f64 / side).floor() * (im.height() as f64 / side).floor()) as usize
        })
        .sum();
    // with four or more photos the folds keep each photo's crops together, so a classifier
    // cannot score by recognising a photo; with fewer, overlapping crops are the risk
    if n < 4 && distinct < FEW_CROPS {
        out.push(format!(
            "the real crops are near copies of each other ({n} photo(s) hold only {distinct} non-overlapping crops of this size): a classifier learns the photos themselves, so every dataset can score near 1.0 and the figures cannot rank them; give more photos (20 or more of different scenes) or smaller crops, and compare by `loss` (higher = closer) meanwhile"
        ));
    } else if n < FEW_PHOTOS {
        out.push(format!(
            "only {n} real photo(s): the score says how the datasets compare to these photos, not to your domain; use 20 or more photos of different scenes for a figure you can trust"
        ));
    }
    out
}

/// The images of a dataset folder (its `images/`: not its masks, depth maps or previews), or
/// of a plain folder.
pub fn image_folder(dir: &Path) -> std::path::PathBuf {
    let own = dir.join("images");
    if own.is_dir() {
        own
    } else {
        dir.to_path_buf()
    }
}

/// C2ST between two image folders: `samples` random square crops from each (side `crop[0]` ×
/// the shorter side of a real photo, `crop[1]` × that of an image; resized to `res`), four
/// fresh classifiers trained for `steps` each. A folder with an `images/` subfolder (a dataset)
/// is read from there.
pub fn realism(
    real: &Path,
    images: &Path,
    res: usize,
    crop: [f64; 2],
    samples: usize,
    steps: usize,
    seed: u64,
) -> anyhow::Result<Realism> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let load = |dir: &Path, flag: &str| -> anyhow::Result<RealSet> {
        Ok(RealSet::load_flag(
            &image_folder(dir),
            (res * 4) as u32,
            flag,
        )?)
    };
    let (real_set, image_set) = (load(real, "--real")?, load(images, "--images")?);
    let mut draw = |set: &RealSet, crop: f64| -> (Vec<usize>, Vec<Vec<f32>>) {
        let scale = crate::config::Dist::Const(crop);
        (0..samples.max(8))
            .map(|_| set.crop_indexed(&mut rng, res as u32, |r| scale.sample(r), 3))
            .unzip()
    };
    let ((ga, a), (gb, b)) = (draw(&real_set, crop[0]), draw(&image_set, crop[1]));
    let side = |items, groups| Side {
        items,
        groups: Some(groups),
    };
    let result = c2st_folds(side(&a, &ga), side(&b, &gb), 3, res, steps, 4, seed);
    let f = Features::new(3);
    let (fa, fb) = (f.embed(&a, res), f.embed(&b, res));
    let features = linear_c2st(side(&fa, &ga), side(&fb, &gb), 4, seed);
    let mut warnings = real_set_warnings(&real_set, crop[0]);
    if result.accuracy >= SATURATED {
        warnings.push(format!(
            "saturated: the classifier tells the folders apart every time ({result}); it cannot rank datasets this far from the photos; compare `loss` (higher = closer), and check what makes them trivially different (rendergan train prints a content check)"
        ));
    }
    Ok(Realism {
        c2st: result,
        features,
        real_photos: real_set.images.len(),
        images: image_set.images.len(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_small_photo_is_too_self_similar_to_rank() {
        let dir = tempfile::tempdir().unwrap();
        image::RgbImage::from_fn(120, 90, |x, y| {
            image::Rgb([(x * 2) as u8, (y * 2) as u8, 9])
        })
        .save(dir.path().join("one.png"))
        .unwrap();
        let set = RealSet::load(dir.path(), 256).unwrap();
        let w = real_set_warnings(&set, 0.5);
        assert!(w.len() == 1 && w[0].contains("near copies"), "{w:?}");
        assert!(real_set_warnings(&set, 0.05)
            .iter()
            .any(|m| m.contains("only 1 real photo")));
        // six photos, one crop each: the folds keep them apart, only their number is low
        let many = RealSet {
            images: vec![set.images[0].clone(); 6],
            ..set
        };
        let w = real_set_warnings(&many, 0.9);
        assert!(w.len() == 1 && w[0].contains("only 6 real photo"), "{w:?}");
    }
}
