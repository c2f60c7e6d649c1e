//! RGB8 pixels ↔ CHW floats in [-1, 1], the layout the learned stages and the classifiers take
//! (grey: the channels averaged; back: repeated).

use image::RgbImage;

/// RGB8 (row-major, 3 bytes a pixel) → CHW in [-1, 1]; grey averages the channels.
pub fn rgb_to_chw(rgb: &[u8], c: usize, w: usize, h: usize) -> Vec<f32> {
    let n = w * h;
    let mut out = vec![0.0f32; c * n];
    let v = |x: u8| x as f32 / 127.5 - 1.0;
    let px = rgb[..3 * n].chunks_exact(3);
    if c == 1 {
        for (o, p) in out.iter_mut().zip(px) {
            *o = (v(p[0]) + v(p[1]) + v(p[2])) / 3.0;
        }
    } else {
        let (r, gb) = out.split_at_mut(n);
        let (g, b) = gb.split_at_mut(n);
        for (((p, r), g), b) in px.zip(r).zip(g).zip(b) {
            (*r, *g, *b) = (v(p[0]), v(p[1]), v(p[2]));
        }
    }
    out
}

/// CHW in [-1, 1] → RGB8 (grey repeated).
pub fn chw_to_rgb(x: &[f32], c: usize, w: usize, h: usize, rgb: &mut [u8]) {
    chw_to_rgb_from(x, c, w * h, 0, &mut rgb[..3 * w * h]);
}

/// [`chw_to_rgb`] of the pixels `from..` of CHW planes of `n` pixels into `rgb` (RGB8, as many
/// pixels as it holds): a row of an image, say.
#[inline(always)]
pub fn chw_to_rgb_from(x: &[f32], c: usize, n: usize, from: usize, rgb: &mut [u8]) {
    // rounded to the nearest level by adding 1.5 × 2^23 (the level is then the low bits): a
    // float-to-int cast saturates, which the compiler does one value at a time
    const ROUND: f32 = 12_582_912.0;
    let q = |v: f32| ((v.clamp(-1.0, 1.0) + 1.0) * 127.5 + ROUND).to_bits() as u8;
    let len = rgb.len() / 3;
    let px = rgb.chunks_exact_mut(3);
    if c == 1 {
        for (p, v) in px.zip(&x[from..from + len]) {
            p.fill(q(*v));
        }
    } else {
        let r = &x[from..from + len];
        let g = &x[n + from..n + from + len];
        let b = &x[2 * n + from..2 * n + from + len];
        for (((p, r), g), b) in px.zip(r).zip(g).zip(b) {
            p.copy_from_slice(&[q(*r), q(*g), q(*b)]);
        }
    }
}

/// RGB8 image → CHW floats in [-1, 1]; `channels` 1 averages to grey; `flip` mirrors x.
pub fn to_chw(img: &RgbImage, channels: usize, flip: bool) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if flip {
        let mirrored = image::imageops::flip_horizontal(img);
        return rgb_to_chw(mirrored.as_raw(), channels, w, h);
    }
    rgb_to_chw(img.as_raw(), channels, w, h)
}

/// CHW floats in [-1, 1] → RGB8 (grey is repeated).
pub fn from_chw(data: &[f32], channels: usize, w: u32, h: u32) -> RgbImage {
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    chw_to_rgb(data, channels, w as usize, h as usize, &mut rgb);
    RgbImage::from_raw(w, h, rgb).expect("buffer is w * h * 3")
}

/// Edge energy of a CHW image (`c` planes of `w` × `h`): the mean absolute difference between
/// horizontal and vertical neighbours, over the planes. What picks the busiest of a few
/// candidate crops, on renders and photos alike.
pub fn edge_energy(x: &[f32], c: usize, w: usize, h: usize) -> f32 {
    let n = w * h;
    let mut sum = 0.0f32;
    for plane in x.chunks_exact(n).take(c) {
        for y in 0..h {
            let row = &plane[y * w..(y + 1) * w];
            sum += row.windows(2).map(|p| (p[1] - p[0]).abs()).sum::<f32>();
            if y + 1 < h {
                let next = &plane[(y + 1) * w..(y + 2) * w];
                sum += row
                    .iter()
                    .zip(next)
                    .map(|(a, b)| (b - a).abs())
                    .sum::<f32>();
            }
        }
    }
    sum / (c * n).max(1) as f32
}

/// The busiest (by [`edge_energy`]) of `k` (at least 1) CHW images of `c` planes of `r` × `r`
/// that `draw` makes, each with what came with it; the first wins ties. How training at the
/// output's scale picks its render windows and its photo crops alike.
pub fn busiest_of<T>(
    k: usize,
    c: usize,
    r: usize,
    mut draw: impl FnMut() -> (T, Vec<f32>),
) -> (T, Vec<f32>) {
    let mut best = draw();
    let mut most = edge_energy(&best.1, c, r, r);
    for _ in 1..k {
        let other = draw();
        let e = edge_energy(&other.1, c, r, r);
        if e > most {
            (best, most) = (other, e);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chw_round_trips() {
        let img = RgbImage::from_fn(5, 4, |x, y| image::Rgb([(x * 50) as u8, (y * 60) as u8, 7]));
        let back = from_chw(&to_chw(&img, 3, false), 3, 5, 4);
        assert_eq!(back, img);
    }
}
