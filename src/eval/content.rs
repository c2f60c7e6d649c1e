//! What the images show, measured the same way on real crops and on renders, so a mismatch in
//! content (how busy the crops are, how large their structures, what colour their borders) is
//! reported as a config change instead of being learned away by the stages. Also the texture
//! level of the real photos' borders, which bounds the background stage. Plain CPU code on CHW
//! images in [-1, 1]; no burn.

use serde::Serialize;

/// A block counts as busy when its grey standard deviation exceeds this ([-1, 1] units, about
/// 13 of 255): an edge or texture, not sensor noise or a smooth gradient.
const BUSY_STD: f64 = 0.1;
/// Side of the blocks, in training pixels.
const BLOCK: usize = 8;
/// Band scales (Gaussian σ, training pixels) for the structure size.
const BANDS: [f64; 6] = [2.0, 2.83, 4.0, 5.66, 8.0, 11.3];

/// Content statistics of a set of images.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Content {
    /// Fraction of 8 × 8 blocks with an edge or texture in them.
    pub busy: f64,
    /// Typical size of the structures (energy-weighted geometric mean of band scales, training
    /// pixels): larger for larger objects.
    pub scale: f64,
    /// Mean colour of the outer eighth of each image, RGB in [0, 1].
    pub border: [f64; 3],
}

fn grey(img: &[f32], c: usize, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (0..c).map(|k| img[k * n + i] as f64).sum::<f64>() / c as f64)
        .collect()
}

/// Separable Gaussian blur of a grey image (edges clamped).
pub fn blur(g: &[f64], w: usize, h: usize, sigma: f64) -> Vec<f64> {
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = k.iter().sum();
    let pass = |src: &[f64], horizontal: bool| -> Vec<f64> {
        let mut out = vec![0.0; w * h];
        for y in 0..h as isize {
            for x in 0..w as isize {
                let mut acc = 0.0;
                for (j, kv) in k.iter().enumerate() {
                    let o = j as isize - r;
                    let (xx, yy) = if horizontal {
                        ((x + o).clamp(0, w as isize - 1), y)
                    } else {
                        (x, (y + o).clamp(0, h as isize - 1))
                    };
                    acc += kv * src[yy as usize * w + xx as usize];
                }
                out[y as usize * w + x as usize] = acc / s;
            }
        }
        out
    };
    pass(&pass(g, true), false)
}

fn block_std(g: &[f64], w: usize, x0: usize, y0: usize, side: usize) -> f64 {
    let mut s = 0.0;
    let mut s2 = 0.0;
    for y in y0..y0 + side {
        for x in x0..x0 + side {
            s += g[y * w + x];
            s2 += g[y * w + x] * g[y * w + x];
        }
    }
    let n = (side * side) as f64;
    (s2 / n - (s / n).powi(2)).max(0.0).sqrt()
}

/// Measures `images` (CHW, `c` channels, `res` × `res`, in [-1, 1]).
pub fn measure(images: &[Vec<f32>], c: usize, res: usize) -> Content {
    let n = res * res;
    let (mut busy, mut blocks) = (0usize, 0usize);
    let mut log_scale = 0.0;
    let mut weight = 0.0;
    let mut border = [0.0f64; 3];
    let mut ring = 0usize;
    let edge = (res / 8).max(1);
    for img in images {
        let g = grey(img, c, n);
        for by in (0..res.saturating_sub(BLOCK - 1)).step_by(BLOCK) {
            for bx in (0..res.saturating_sub(BLOCK - 1)).step_by(BLOCK) {
                blocks += 1;
                busy += (block_std(&g, res, bx, by, BLOCK) > BUSY_STD) as usize;
            }
        }
        let mut prev = blur(&g, res, res, BANDS[0]);
        for s in BANDS {
            let next = blur(&g, res, res, s * std::f64::consts::SQRT_2);
            let e = prev
                .iter()
                .zip(&next)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                / n as f64;
            log_scale += e * s.ln();
            weight += e;
            prev = next;
        }
        for y in 0..res {
            for x in 0..res {
                if x < edge || y < edge || x >= res - edge || y >= res - edge {
                    for (k, b) in border.iter_mut().enumerate() {
                        let ch = if c == 1 { 0 } else { k };
                        *b += (img[ch * n + y * res + x] as f64 + 1.0) / 2.0;
                    }
                    ring += 1;
                }
            }
        }
    }
    Content {
        busy: busy as f64 / blocks.max(1) as f64,
        scale: if weight > 0.0 {
            (log_scale / weight).exp()
        } else {
            0.0
        },
        border: border.map(|b| b / ring.max(1) as f64),
    }
}

/// Warnings, each naming the likely config change, when the real crops and the renders differ
/// in content. `crop` is the middle of `train.real_crop` when the photos are cut to crops of
/// that share (train), None when whole frames are compared (fit: its crops are the photos'
/// whole field of view, so `train.real_crop` changes nothing there).
pub fn mismatch(real: &Content, synth: &Content, crop: Option<f64>) -> Vec<String> {
    let mut out = Vec::new();
    let pct = |v: f64| (v * 100.0).round();
    // the real_crop advice, where crops are cut
    let or_crop = |verb: &str, to: Option<f64>| match (crop, to) {
        (Some(c), None) => {
            format!(" or {verb} train.real_crop (now about {c:.2} of the shorter side)")
        }
        (Some(_), Some(t)) => format!(" or {verb} train.real_crop to about {t:.2}"),
        (None, _) => String::new(),
    };
    if real.busy > synth.busy + 0.15 && real.busy > 1.5 * synth.busy {
        out.push(format!(
            "real crops look busier than the renders ({}% of their 8×8 patches hold edges or texture, {}% of the renders'): if your photos show more objects per area, raise objects[].count{}; if their background is textured, give background.images with photos of it",
            pct(real.busy),
            pct(synth.busy),
            or_crop("lower", None)
        ));
    } else if synth.busy > real.busy + 0.15 && synth.busy > 1.5 * real.busy {
        out.push(format!(
            "renders look busier than the real crops ({}% of their 8×8 patches hold edges or texture, {}% of the real crops'): lower objects[].count{}",
            pct(synth.busy),
            pct(real.busy),
            or_crop("raise", None)
        ));
    }
    if real.scale > 0.0 && synth.scale > 0.0 {
        let r = real.scale / synth.scale;
        if r < 0.7 {
            out.push(format!(
                "structures in the real crops look about {:.1}× smaller than in the renders: raise camera.distance{}",
                1.0 / r,
                crop.map_or(String::new(), |c| format!(
                    " or lower train.real_crop to about {:.2} (smaller crops enlarge the photos' objects)",
                    (c * r).max(0.05)
                ))
            ));
        } else if r > 1.45 {
            out.push(format!(
                "structures in the real crops look about {r:.1}× larger than in the renders: lower camera.distance{}",
                or_crop("raise", crop.map(|c| (c * r).min(1.0)))
            ));
        }
    }
    let luma = |b: &[f64; 3]| (b[0] + b[1] + b[2]) / 3.0;
    if (luma(&real.border) - luma(&synth.border)).abs() > 0.25 {
        let b = real.border.map(|v| (v * 100.0).round() / 100.0);
        out.push(format!(
            "the real photos' borders are {} (mean grey {:.2}) than the renders' ({:.2}): set background to about their colour, e.g. background: {{color: [{}, {}, {}]}}",
            if luma(&real.border) < luma(&synth.border) { "darker" } else { "brighter" },
            luma(&real.border),
            luma(&synth.border),
            b[0],
            b[1],
            b[2]
        ));
    }
    out
}

/// The texture level of a photo's background as its border shows it: the lower quartile over
/// 8 × 8 patches of the outer ring (an eighth of the shorter side) of the RMS of the image minus
/// its Gaussian blur (σ 2 px), in [-1, 1] units. The lower quartile, because objects and frame
/// edges that reach the border make some patches busy that say nothing about the background.
/// `rgb` is the photo already resized to training pixels.
pub fn border_texture(rgb: &image::RgbImage) -> f64 {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    if w < 2 * BLOCK || h < 2 * BLOCK {
        return 0.0;
    }
    let g: Vec<f64> = rgb
        .pixels()
        .map(|p| (p.0[0] as f64 + p.0[1] as f64 + p.0[2] as f64) / 3.0 / 127.5 - 1.0)
        .collect();
    let smooth = blur(&g, w, h, 2.0);
    let hp: Vec<f64> = g.iter().zip(&smooth).map(|(a, b)| a - b).collect();
    let ring = (w.min(h) / 8).max(BLOCK);
    let mut rms = Vec::new();
    for y in (0..=h - BLOCK).step_by(BLOCK) {
        for x in (0..=w - BLOCK).step_by(BLOCK) {
            let inside = x >= ring && y >= ring && x + BLOCK <= w - ring && y + BLOCK <= h - ring;
            if inside {
                continue;
            }
            let mut s2 = 0.0;
            for yy in y..y + BLOCK {
                for xx in x..x + BLOCK {
                    s2 += hp[yy * w + xx].powi(2);
                }
            }
            rms.push((s2 / (BLOCK * BLOCK) as f64).sqrt());
        }
    }
    rms.sort_by(|a, b| a.total_cmp(b));
    rms.get(rms.len() / 4).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `k` bright squares of side `side` on a dark 64² field, as CHW RGB.
    fn squares(k: usize, side: usize, seed: usize) -> Vec<f32> {
        let res = 64;
        let mut img = vec![-0.8f32; 3 * res * res];
        for q in 0..k {
            let (x0, y0) = (
                (seed * 7 + q * 23) % (res - side),
                (seed * 11 + q * 37) % (res - side),
            );
            for ch in 0..3 {
                for y in y0..y0 + side {
                    for x in x0..x0 + side {
                        img[ch * res * res + y * res + x] = 0.6;
                    }
                }
            }
        }
        img
    }

    #[test]
    fn denser_and_smaller_content_is_reported_with_the_config_change() {
        let few: Vec<Vec<f32>> = (0..8).map(|s| squares(1, 16, s)).collect();
        let many_small: Vec<Vec<f32>> = (0..8).map(|s| squares(12, 6, s)).collect();
        let (a, b) = (measure(&many_small, 3, 64), measure(&few, 3, 64));
        assert!(a.busy > b.busy, "{a:?} vs {b:?}");
        assert!(a.scale < b.scale, "{a:?} vs {b:?}");
        let w = mismatch(&a, &b, Some(0.5));
        assert!(
            w.iter()
                .any(|m| m.contains("busier") && m.contains("objects[].count")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|m| m.contains("smaller") && m.contains("train.real_crop")),
            "{w:?}"
        );
        // comparing whole frames (fit), the advice leaves train.real_crop out
        let whole = mismatch(&a, &b, None);
        assert_eq!(whole.len(), w.len(), "{whole:?}");
        assert!(
            whole.iter().all(|m| !m.contains("real_crop"))
                && whole.iter().any(|m| m.contains("raise camera.distance")),
            "{whole:?}"
        );
        // the same content warns about nothing
        let again: Vec<Vec<f32>> = (8..16).map(|s| squares(1, 16, s)).collect();
        assert!(mismatch(&measure(&again, 3, 64), &b, Some(0.5)).is_empty());
    }

    #[test]
    fn border_texture_sees_a_textured_border_and_not_a_flat_one() {
        let flat = image::RgbImage::from_pixel(64, 64, image::Rgb([40, 40, 40]));
        let busy = image::RgbImage::from_fn(64, 64, |x, y| {
            let v = if (x / 2 + y / 2) % 2 == 0 { 200 } else { 40 };
            image::Rgb([v, v, v])
        });
        assert!(border_texture(&flat) < 1e-9);
        assert!(border_texture(&busy) > 0.3);
        // a frame edge along one side of a flat photo does not make its background busy
        let framed = image::RgbImage::from_fn(64, 64, |x, _| {
            let v = if x < 5 { 10 } else { 200 };
            image::Rgb([v, v, v])
        });
        assert!(
            border_texture(&framed) < 0.05,
            "{}",
            border_texture(&framed)
        );
    }
}
