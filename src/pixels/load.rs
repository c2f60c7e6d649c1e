//! Decoding images: photos shrunk on load (they are only ever cropped and resampled smaller),
//! the background images of a config, and cut-short JPEGs told apart (decoders read them
//! without an error).

use std::path::{Path, PathBuf};

use image::RgbImage;

/// Decoded background images, shared by all workers.
pub struct Backgrounds {
    pub images: Vec<RgbImage>,
    /// Files that could not be read, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Decodes an image as RGB8, shrunk so its shorter side is at most `max_side` (it is only ever
/// cropped and resampled smaller afterwards).
pub fn load_shrunk(path: &Path, max_side: u32) -> Result<RgbImage, image::ImageError> {
    let img = image::open(path)?;
    let short = img.width().min(img.height());
    let img = if short > max_side {
        let s = max_side as f64 / short as f64;
        img.resize_exact(
            ((img.width() as f64 * s).round() as u32).max(1),
            ((img.height() as f64 * s).round() as u32).max(1),
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    Ok(img.to_rgb8())
}

/// Loads every file; unreadable ones are reported and skipped.
pub fn load_backgrounds(files: &[PathBuf], max_side: u32) -> Backgrounds {
    let mut images = Vec::new();
    let mut skipped = Vec::new();
    for f in files {
        match load_shrunk(f, max_side) {
            Ok(img) => images.push(img),
            Err(e) => skipped.push((f.clone(), e.to_string())),
        }
    }
    Backgrounds { images, skipped }
}

/// Why a .jpg/.jpeg file is cut short (no end-of-image marker in its last 4 KiB), or `None`:
/// decoders fill the missing part with grey without an error.
pub fn truncated_jpeg(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if ext != "jpg" && ext != "jpeg" {
        return None;
    }
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).ok()?;
    let starts_as_jpeg = len >= 2 && {
        let mut head = [0u8; 2];
        f.seek(SeekFrom::Start(0)).ok()?;
        f.read_exact(&mut head).ok()?;
        head == [0xFF, 0xD8]
    };
    let ends = tail.windows(2).any(|w| w == [0xFF, 0xD9]);
    (starts_as_jpeg && !ends)
        .then(|| "truncated JPEG (no end-of-image marker): the file was cut short".to_string())
}
