//! What is drawn behind the objects of an image (a colour, a gradient, or a crop of a background
//! photo), and the finished RGB image: that background with the premultiplied RGBA render
//! composited over it.

use serde::Serialize;

use super::load::Backgrounds;

/// The drawn background of one image (sampled by `scene`, drawn here).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BackgroundSample {
    Color {
        color: [f32; 3],
    },
    Gradient {
        top: [f32; 3],
        bottom: [f32; 3],
        angle: f64,
    },
    Image {
        file: usize,
        crop: [f64; 3],
    },
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

/// A render with its background composited, the one hand-off between rendering and everything
/// after it: the learned stages change `rgb` in place (and use `coverage`), the dataset writers
/// write it.
#[derive(Debug, Clone)]
pub struct Composited {
    /// The finished RGB8 image.
    pub rgb: Vec<u8>,
    /// The render's object coverage per pixel (its alpha, 0 = background); empty when the
    /// learned stages already ran on the render device, between render and readback.
    pub coverage: Vec<u8>,
}

impl Composited {
    /// The premultiplied RGBA render `rgba` (`width` × `height`) over its sampled background.
    pub fn of(
        sample: &BackgroundSample,
        bgs: Option<&Backgrounds>,
        rgba: &[u8],
        width: u32,
        height: u32,
    ) -> Composited {
        Composited {
            rgb: finish(sample, bgs, rgba, width, height),
            coverage: coverage(rgba).collect(),
        }
    }

    /// Pixels that are finished already (by the render device's fused pass).
    pub fn finished(rgb: Vec<u8>) -> Composited {
        Composited {
            rgb,
            coverage: Vec::new(),
        }
    }
}

/// The finished RGB image of a render: its sampled background with the premultiplied RGBA
/// render composited over it. A fully opaque render skips drawing the background it would
/// hide.
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

/// The alpha channel of RGBA8 pixels: the render's object coverage (0 = background).
pub fn coverage(rgba: &[u8]) -> impl Iterator<Item = u8> + '_ {
    rgba.chunks_exact(4).map(|p| p[3])
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
