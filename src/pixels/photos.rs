//! Real photos (for training and `realism`): a folder walked recursively, every readable image decoded once
//! (shrunk so crops stay cheap), unreadable or non-image files counted and skipped; random square
//! crops at a configured fraction of the shorter side, resized to the training resolution, as
//! CHW floats in [-1, 1]. No burn here: batches are plain vectors.

use std::path::{Path, PathBuf};

use image::RgbImage;
use rand::Rng;

use super::chw::to_chw;
use super::folder::{files_under, is_image_path};
use super::load::{load_shrunk, truncated_jpeg};
use super::PixelsError;

/// The usable real images of a folder.
pub struct RealSet {
    pub dir: PathBuf,
    pub images: Vec<RgbImage>,
    /// The file of each image, in `images`' order.
    pub files: Vec<PathBuf>,
    /// Image files that could not be decoded, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Files without an image extension.
    pub not_images: usize,
}

/// Fewest usable images a training run accepts.
pub const MIN_REAL_IMAGES: usize = 1;

/// Photos whose shorter side is below this are skipped (a crop of one is a blur of a few pixels).
const MIN_PHOTO_SIDE: u32 = 32;

impl RealSet {
    /// The image files that could not be read, for a warning (the first five named, with
    /// why), or `None` when every one was read.
    pub fn skipped(&self) -> Option<String> {
        let n = self.unreadable.len();
        if n == 0 {
            return None;
        }
        let named: Vec<String> = self
            .unreadable
            .iter()
            .take(5)
            .map(|(f, why)| format!("{} ({why})", f.display()))
            .collect();
        let more = if n > 5 {
            format!("; and {} more", n - 5)
        } else {
            String::new()
        };
        Some(format!(
            "{n} image file(s) in {} could not be read and were left out: {}{more}",
            self.dir.display(),
            named.join("; ")
        ))
    }

    /// Loads `dir`; images are shrunk so their shorter side is at most `max_side`.
    pub fn load(dir: &Path, max_side: u32) -> Result<RealSet, PixelsError> {
        RealSet::load_flag(dir, max_side, "--real")
    }

    /// [`RealSet::load`], naming `flag` in its errors.
    pub fn load_flag(dir: &Path, max_side: u32, flag: &str) -> Result<RealSet, PixelsError> {
        if !dir.is_dir() {
            let what = match std::fs::metadata(dir) {
                Ok(_) => "not a folder",
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist",
                Err(_) => "cannot be read",
            };
            return Err(PixelsError::Unusable(format!(
                "{flag} {}: {what}; give a folder of images (png, jpg, bmp, tiff, webp; searched recursively)",
                dir.display()
            )));
        }
        let mut images = Vec::new();
        let mut files_used = Vec::new();
        let mut unreadable = Vec::new();
        let mut not_images = 0;
        let files = files_under(dir).map_err(|m| PixelsError::Unusable(format!("{flag} {m}")))?;
        for f in files {
            if !is_image_path(&f) {
                not_images += 1;
                continue;
            }
            if let Some(why) = truncated_jpeg(&f) {
                unreadable.push((f, why));
                continue;
            }
            match load_shrunk(&f, max_side) {
                Ok(img) if img.width().min(img.height()) < MIN_PHOTO_SIDE => {
                    let why = format!(
                        "too small ({}×{} px): a photo needs a shorter side of at least \
                         {MIN_PHOTO_SIDE} px",
                        img.width(),
                        img.height()
                    );
                    unreadable.push((f, why));
                }
                Ok(img) => {
                    images.push(img);
                    files_used.push(f);
                }
                Err(e) => unreadable.push((f, e.to_string())),
            }
        }
        if images.len() < MIN_REAL_IMAGES {
            return Err(PixelsError::Unusable(format!(
                "{flag} {}: no usable images ({} unreadable, {} other files{}); give a folder with png/jpg/bmp/tiff/webp images",
                dir.display(),
                unreadable.len(),
                not_images,
                unreadable
                    .first()
                    .map(|(f, why)| format!("; e.g. {}: {why}", f.display()))
                    .unwrap_or_default()
            )));
        }
        Ok(RealSet {
            dir: dir.to_path_buf(),
            images,
            files: files_used,
            unreadable,
            not_images,
        })
    }

    /// Splits the photos into those the discriminator trains on and those held out for the
    /// realism probe: every fourth photo when there are at least four, so the probe judges on
    /// photos the discriminator never saw; with fewer, both sides get every photo and the third
    /// value says so (false).
    pub fn holdout(&self) -> (RealSet, RealSet, bool) {
        let part = |keep: &dyn Fn(usize) -> bool| RealSet {
            dir: self.dir.clone(),
            images: (0..self.images.len())
                .filter(|i| keep(*i))
                .map(|i| self.images[i].clone())
                .collect(),
            files: (0..self.files.len())
                .filter(|i| keep(*i))
                .map(|i| self.files[i].clone())
                .collect(),
            unreadable: Vec::new(),
            not_images: 0,
        };
        if self.images.len() >= 4 {
            (part(&|i| i % 4 != 3), part(&|i| i % 4 == 3), true)
        } else {
            (part(&|_| true), part(&|_| true), false)
        }
    }

    /// One random crop as CHW floats in [-1, 1] (`channels` 1 = grey, 3 = RGB).
    pub fn crop<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        res: u32,
        side: impl FnOnce(&mut R) -> f64,
        channels: usize,
    ) -> Vec<f32> {
        self.crop_indexed(rng, res, side, channels).1
    }

    /// [`RealSet::crop`], with the index of the photo it came from (crops of one photo share
    /// content, so a two-sample test keeps them in one fold).
    pub fn crop_indexed<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        res: u32,
        side: impl FnOnce(&mut R) -> f64,
        channels: usize,
    ) -> (usize, Vec<f32>) {
        let k = rng.gen_range(0..self.images.len());
        (k, self.crop_of(k, rng, res, side, channels))
    }

    /// The busiest (by [`edge_energy`](super::chw::edge_energy)) of `k` random crops, with the
    /// index of its photo: learning at the output's scale, where most crops of a sparse scene
    /// would show plain background, renders and photos are both cut this way. `k` = 1 is
    /// [`RealSet::crop_indexed`].
    pub fn crop_busiest<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        res: u32,
        side: impl Fn(&mut R) -> f64,
        channels: usize,
        k: usize,
    ) -> (usize, Vec<f32>) {
        super::chw::busiest_of(k, channels, res as usize, || {
            self.crop_indexed(rng, res, &side, channels)
        })
    }

    /// A random crop of image `k` (see [`RealSet::crop`]).
    pub fn crop_of<R: Rng + ?Sized>(
        &self,
        k: usize,
        rng: &mut R,
        res: u32,
        side: impl FnOnce(&mut R) -> f64,
        channels: usize,
    ) -> Vec<f32> {
        let img = &self.images[k];
        let short = img.width().min(img.height()) as f64;
        let side = ((side(rng).clamp(0.01, 1.0) * short).round() as u32)
            .clamp(1, img.width().min(img.height()));
        let x = rng.gen_range(0..=img.width() - side);
        let y = rng.gen_range(0..=img.height() - side);
        let view = image::imageops::crop_imm(img, x, y, side, side).to_image();
        let small = image::imageops::resize(&view, res, res, image::imageops::FilterType::Triangle);
        let flip = rng.gen_bool(0.5);
        to_chw(&small, channels, flip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn loads_recursively_skips_and_counts_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        RgbImage::from_pixel(80, 60, image::Rgb([255, 0, 0]))
            .save(nested.join("red.png"))
            .unwrap();
        RgbImage::from_pixel(40, 40, image::Rgb([0, 0, 255]))
            .save(dir.path().join("blue.bmp"))
            .unwrap();
        std::fs::write(dir.path().join("broken.jpg"), b"nope").unwrap();
        std::fs::write(dir.path().join("readme.txt"), b"text").unwrap();
        // a 1×1 image, and a JPEG cut in half (decoders read it without an error)
        RgbImage::from_pixel(1, 1, image::Rgb([0, 255, 0]))
            .save(dir.path().join("dot.png"))
            .unwrap();
        let whole = dir.path().join("whole.jpg");
        RgbImage::from_fn(96, 96, |x, y| image::Rgb([(x * 2) as u8, (y * 2) as u8, 7]))
            .save(&whole)
            .unwrap();
        let bytes = std::fs::read(&whole).unwrap();
        std::fs::write(dir.path().join("cut.jpg"), &bytes[..bytes.len() / 2]).unwrap();
        std::fs::remove_file(&whole).unwrap();
        let set = RealSet::load(dir.path(), 64).unwrap();
        assert_eq!(set.images.len(), 2);
        let why: Vec<&str> = set.unreadable.iter().map(|u| u.1.as_str()).collect();
        assert_eq!(set.unreadable.len(), 3, "{why:?}");
        assert!(
            why.iter().any(|w| w.contains("too small (1×1 px)")),
            "{why:?}"
        );
        assert!(
            why.iter().any(|w| w.starts_with("truncated JPEG")),
            "{why:?}"
        );
        assert_eq!(set.not_images, 1);
        let said = set.skipped().expect("three were skipped");
        assert!(
            said.starts_with("3 image file(s) in ") && said.contains("cut.jpg (truncated JPEG"),
            "{said}"
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let c = set.crop(&mut rng, 16, |r| r.gen_range(0.3..0.8), 3);
        assert_eq!(c.len(), 3 * 16 * 16);
        assert!(c.iter().all(|v| (-1.0..=1.0).contains(v)));
        // a pure colour survives cropping: red or blue, never mixed
        let r = c[0];
        assert!((r - 1.0).abs() < 1e-6 || (r + 1.0).abs() < 1e-6);
    }

    #[test]
    fn empty_or_missing_folders_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.txt"), b"text").unwrap();
        let e = RealSet::load(dir.path(), 64).err().unwrap().to_string();
        assert!(
            e.contains("no usable images") && e.contains("1 other files"),
            "{e}"
        );
        let e = RealSet::load(&dir.path().join("missing"), 64)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        let e = RealSet::load(&dir.path().join("x.txt"), 64)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a folder"), "{e}");
    }

    #[test]
    fn every_fourth_photo_is_held_out_when_there_are_four() {
        let dir = tempfile::tempdir().unwrap();
        for k in 0..8u8 {
            RgbImage::from_pixel(40, 40, image::Rgb([k * 30, 0, 0]))
                .save(dir.path().join(format!("{k}.png")))
                .unwrap();
        }
        let set = RealSet::load(dir.path(), 64).unwrap();
        let (train, held, disjoint) = set.holdout();
        assert!(disjoint);
        assert_eq!((train.images.len(), held.images.len()), (6, 2));
        assert!(held.images.iter().all(|h| !train.images.contains(h)));
        let few = RealSet {
            images: set.images[..2].to_vec(),
            ..set
        };
        let (train, held, disjoint) = few.holdout();
        assert!(!disjoint && train.images.len() == 2 && held.images.len() == 2);
    }
}
