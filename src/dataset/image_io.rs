//! Pixels in and out: compositing the background under a render, PNG encoding (8-bit RGB,
//! 16-bit grey) tuned for speed, and loading background images. No labels here.

use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::scene::BackgroundSample;

/// Encodes with fast deflate: dataset PNGs are written once and read many times, and the
/// compression level barely changes their size for rendered content.
fn encode(
    data: &[u8],
    width: u32,
    height: u32,
    color: png::ColorType,
    depth: png::BitDepth,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2);
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(color);
        enc.set_depth(depth);
        enc.set_compression(png::Compression::Fast);
        enc.set_filter(png::FilterType::Sub);
        let mut w = enc
            .write_header()
            .expect("PNG header into a Vec cannot fail");
        w.write_image_data(data)
            .expect("PNG data of the declared size into a Vec cannot fail");
    }
    out
}

/// 8-bit RGB PNG.
pub fn png_rgb(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    encode(
        rgb,
        width,
        height,
        png::ColorType::Rgb,
        png::BitDepth::Eight,
    )
}

/// 8-bit greyscale PNG.
pub fn png_u8(values: &[u8], width: u32, height: u32) -> Vec<u8> {
    encode(
        values,
        width,
        height,
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
    )
}

/// 16-bit greyscale PNG (big-endian samples, as PNG stores them).
pub fn png_u16(values: impl Iterator<Item = u16>, width: u32, height: u32) -> Vec<u8> {
    let bytes: Vec<u8> = values.flat_map(|v| v.to_be_bytes()).collect();
    encode(
        &bytes,
        width,
        height,
        png::ColorType::Grayscale,
        png::BitDepth::Sixteen,
    )
}

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

/// Fills an RGB buffer with the sampled background. `files` maps the sample's file index to a
/// loaded image (unreadable files were dropped, so indices wrap over the usable ones).
pub fn background(
    sample: &BackgroundSample,
    bgs: Option<&Backgrounds>,
    width: u32,
    height: u32,
) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut out = vec![0u8; w * h * 3];
    let to8 = |c: f32| (c.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
    match sample {
        BackgroundSample::Color { color } => {
            let c = color.map(to8);
            for px in out.chunks_exact_mut(3) {
                px.copy_from_slice(&c);
            }
        }
        BackgroundSample::Gradient { top, bottom, angle } => {
            let (s, c) = (angle.to_radians() as f32).sin_cos();
            for y in 0..h {
                for x in 0..w {
                    let (u, v) = (x as f32 / w as f32 - 0.5, y as f32 / h as f32 - 0.5);
                    let t = (v * c + u * s + 0.5).clamp(0.0, 1.0);
                    let i = (y * w + x) * 3;
                    for k in 0..3 {
                        out[i + k] = to8(top[k] * (1.0 - t) + bottom[k] * t);
                    }
                }
            }
        }
        BackgroundSample::Image { file, crop } => {
            let Some(imgs) = bgs.filter(|b| !b.images.is_empty()) else {
                return out;
            };
            let img = &imgs.images[file % imgs.images.len()];
            let (iw, ih) = (img.width() as f64, img.height() as f64);
            // crop of the output's aspect ratio, side = fraction of what fits
            let aspect = width as f64 / height as f64;
            let (mut cw, mut ch) = if iw / ih > aspect {
                (ih * aspect, ih)
            } else {
                (iw, iw / aspect)
            };
            cw *= crop[0];
            ch *= crop[0];
            let (x0, y0) = ((iw - cw) * crop[1], (ih - ch) * crop[2]);
            let raw = img.as_raw();
            let stride = img.width() as usize * 3;
            for y in 0..h {
                let sy = ((y0 + (y as f64 + 0.5) * ch / height as f64) as usize)
                    .min(img.height() as usize - 1);
                for x in 0..w {
                    let sx = ((x0 + (x as f64 + 0.5) * cw / width as f64) as usize)
                        .min(img.width() as usize - 1);
                    let s = sy * stride + sx * 3;
                    let d = (y * w + x) * 3;
                    out[d..d + 3].copy_from_slice(&raw[s..s + 3]);
                }
            }
        }
    }
    out
}

/// The finished RGB image of a render: its sampled background with the premultiplied RGBA
/// render composited over it. A fully opaque render (an augmented one, whose background is
/// already in) skips drawing the background it would hide.
pub fn finish(
    sample: &BackgroundSample,
    bgs: Option<&Backgrounds>,
    rgba: &[u8],
    width: u32,
    height: u32,
) -> Vec<u8> {
    if rgba.chunks_exact(4).all(|p| p[3] == 255) {
        return drop_alpha(rgba);
    }
    let mut rgb = background(sample, bgs, width, height);
    composite(rgba, &mut rgb);
    rgb
}

/// RGBA8 → RGB8.
pub fn drop_alpha(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect()
}

/// Composites premultiplied RGBA (the render) over an RGB background: out = c + (1 − a)·bg.
pub fn composite(rgba: &[u8], bg: &mut [u8]) {
    for (px, b) in rgba.chunks_exact(4).zip(bg.chunks_exact_mut(3)) {
        let a = px[3] as u32;
        if a == 255 {
            b.copy_from_slice(&px[..3]);
        } else if a > 0 {
            for k in 0..3 {
                b[k] = (px[k] as u32 + (255 - a) * b[k] as u32 / 255).min(255) as u8;
            }
        }
    }
}

/// True when `path` has an image extension the `image` crate reads.
pub fn is_image_path(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("png" | "jpg" | "jpeg" | "bmp" | "tif" | "tiff" | "webp")
    )
}
