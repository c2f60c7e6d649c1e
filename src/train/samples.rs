//! Sample grids of a training run: rows of tiles (the render, each stage's output, real crops)
//! with a caption drawn in a 5×5 pixel font. No burn.

use image::{Rgb, RgbImage};

/// Lays out rows of equally sized tiles with a small gap (rows: render, each stage, real).
pub fn grid(rows: &[Vec<RgbImage>]) -> RgbImage {
    let tw = rows.iter().flatten().map(|t| t.width()).max().unwrap_or(1);
    let th = rows.iter().flatten().map(|t| t.height()).max().unwrap_or(1);
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(1) as u32;
    let gap = 2;
    let mut out = RgbImage::from_pixel(
        cols * (tw + gap) + gap,
        rows.len() as u32 * (th + gap) + gap,
        Rgb([32, 32, 32]),
    );
    for (r, row) in rows.iter().enumerate() {
        for (c, tile) in row.iter().enumerate() {
            image::imageops::replace(
                &mut out,
                tile,
                (gap + c as u32 * (tw + gap)) as i64,
                (gap + r as u32 * (th + gap)) as i64,
            );
        }
    }
    out
}

/// `top` with `bottom` below it (left-aligned, the rest dark).
pub fn stack(top: &RgbImage, bottom: &RgbImage) -> RgbImage {
    let mut out = RgbImage::from_pixel(
        top.width().max(bottom.width()),
        top.height() + bottom.height(),
        Rgb([32, 32, 32]),
    );
    image::imageops::replace(&mut out, top, 0, 0);
    image::imageops::replace(&mut out, bottom, 0, top.height() as i64);
    out
}

/// 3 × 5 glyphs (rows top to bottom, 3 bits each, high bit left) for the characters captions use.
fn glyph(ch: char) -> [u8; 5] {
    match ch {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'I' => [7, 2, 2, 2, 7],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'P' => [6, 5, 6, 4, 4],
        'R' => [6, 5, 6, 5, 5],
        'S' => [7, 4, 7, 1, 7],
        'T' => [7, 2, 2, 2, 2],
        'W' => [5, 5, 7, 7, 5],
        _ => [0; 5],
    }
}

/// A strip `width` pixels wide with `text` in light grey (digits and the capitals sample grids
/// use; other characters are blank), for the last row of a sample grid.
pub fn caption(text: &str, width: u32) -> RgbImage {
    let s = 2u32;
    let mut img = RgbImage::from_pixel(width.max(1), 7 * s, Rgb([32, 32, 32]));
    for (i, ch) in text.chars().enumerate() {
        let x0 = 2 + i as u32 * 4 * s;
        for (row, bits) in glyph(ch).iter().enumerate() {
            for col in 0..3u32 {
                if bits >> (2 - col) & 1 == 1 {
                    for dy in 0..s {
                        for dx in 0..s {
                            let (x, y) = (x0 + col * s + dx, s + row as u32 * s + dy);
                            if x < img.width() {
                                img.put_pixel(x, y, Rgb([220, 220, 220]));
                            }
                        }
                    }
                }
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_draw_their_characters() {
        let blank = caption("   ", 60);
        let text = caption("STEP 10", 60);
        let lit = |img: &RgbImage| img.pixels().filter(|p| p.0[0] > 100).count();
        assert_eq!(lit(&blank), 0);
        assert!(lit(&text) > 40, "{}", lit(&text));
    }
}
