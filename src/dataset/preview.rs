//! `preview.png`: a contact sheet of the first images with each labelled instance's mask tinted
//! and its visible box outlined in its class colour, for a quick look at what a run produced.

use image::{Rgb, RgbImage};

use crate::labels::{InstanceLabel, PixelBox};

/// Largest side of one tile on the sheet.
const TILE: u32 = 256;
const COLUMNS: usize = 4;

/// One image with its overlay already drawn.
pub struct Tile {
    image: RgbImage,
}

fn class_color(class: usize) -> [u8; 3] {
    const P: [[u8; 3]; 8] = [
        [230, 25, 75],
        [60, 180, 75],
        [255, 225, 25],
        [0, 130, 200],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
    ];
    P[class % P.len()]
}

impl Tile {
    /// Draws masks and boxes over the finished image.
    pub fn new(
        mut rgb: Vec<u8>,
        width: u32,
        height: u32,
        labels: &[InstanceLabel],
        ids: &[u32],
    ) -> Tile {
        let w = width as usize;
        for l in labels.iter().filter(|l| l.labeled) {
            let c = class_color(l.class);
            for (i, id) in ids.iter().enumerate() {
                if *id == l.id {
                    for k in 0..3 {
                        rgb[i * 3 + k] = ((rgb[i * 3 + k] as u32 * 6 + c[k] as u32 * 4) / 10) as u8;
                    }
                }
            }
            if let Some(b) = l.bbox {
                outline(&mut rgb, w, b, c);
            }
        }
        let img = RgbImage::from_raw(width, height, rgb).expect("buffer is width * height * 3");
        let scale = (TILE as f64 / width.max(height) as f64).min(1.0);
        let image = if scale < 1.0 {
            image::imageops::resize(
                &img,
                (width as f64 * scale).round().max(1.0) as u32,
                (height as f64 * scale).round().max(1.0) as u32,
                image::imageops::FilterType::Triangle,
            )
        } else {
            img
        };
        Tile { image }
    }
}

fn outline(rgb: &mut [u8], w: usize, b: PixelBox, c: [u8; 3]) {
    let (x0, y0, x1, y1) = (
        b[0] as usize,
        b[1] as usize,
        (b[0] + b[2] - 1) as usize,
        (b[1] + b[3] - 1) as usize,
    );
    let mut put =
        |x: usize, y: usize| rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&c);
    for x in x0..=x1 {
        put(x, y0);
        put(x, y1);
    }
    for y in y0..=y1 {
        put(x0, y);
        put(x1, y);
    }
}

/// Lays tiles out in rows of four on a dark sheet.
pub fn contact_sheet(tiles: &[Tile]) -> RgbImage {
    let tw = tiles.iter().map(|t| t.image.width()).max().unwrap_or(1);
    let th = tiles.iter().map(|t| t.image.height()).max().unwrap_or(1);
    let cols = tiles.len().min(COLUMNS) as u32;
    let rows = tiles.len().div_ceil(COLUMNS) as u32;
    let gap = 4;
    let mut sheet = RgbImage::from_pixel(
        cols * (tw + gap) + gap,
        rows * (th + gap) + gap,
        Rgb([24, 24, 24]),
    );
    for (i, t) in tiles.iter().enumerate() {
        let (cx, cy) = ((i % COLUMNS) as u32, (i / COLUMNS) as u32);
        image::imageops::replace(
            &mut sheet,
            &t.image,
            (gap + cx * (tw + gap)) as i64,
            (gap + cy * (th + gap)) as i64,
        );
    }
    sheet
}
