//! Label safety: each object's contrast against its surroundings (mean grey of its visible mask
//! minus that of the ring just outside it), measured on the raw render and again
//! after the learned stages, so a stage that washes an object into its surroundings is caught
//! while its label still claims it. Plain CPU code on the instance-id image.

/// Width of the outer ring, pixels.
pub const RING: usize = 3;

/// Contrast of each instance 1..=`n` in `rgb` (RGB8, `w` × `h`) given the per-pixel instance
/// `ids`: mean grey (0..1) of its pixels, minus that of the other pixels within [`RING`] of it.
/// The whole mask, not a band inside its edge: a blur that softens edges keeps most of a large
/// object's contrast and takes a small object's, which is the label at risk. `None` for an
/// instance with no pixels or no ring (hidden, or filling the image).
pub fn ring_contrast(ids: &[u32], rgb: &[u8], w: usize, h: usize, n: usize) -> Vec<Option<f32>> {
    contrasts_in(&regions(ids, w, h, n), rgb)
}

/// [`ring_contrast`] of each of these regions (made once, measured before and after the stages)
/// in `rgb` (RGB8).
pub fn contrasts_in(regions: &[Option<Region>], rgb: &[u8]) -> Vec<Option<f32>> {
    // mean grey as an integer sum of the channels, divided once
    let mean = |px: &[usize]| {
        let sum: u64 = px
            .iter()
            .map(|&p| rgb[3 * p] as u64 + rgb[3 * p + 1] as u64 + rgb[3 * p + 2] as u64)
            .sum();
        sum as f64 / (765.0 * px.len() as f64)
    };
    regions
        .iter()
        .map(|r| r.as_ref().map(|r| (mean(&r.inner) - mean(&r.ring)) as f32))
        .collect()
}

/// [`ring_contrast`] of a CHW float image in [-1, 1] (`c` channels, `w` × `h`): grey is the
/// channels' mean mapped to 0..1, as training's images hold it.
pub fn ring_contrast_chw(
    ids: &[u32],
    chw: &[f32],
    c: usize,
    w: usize,
    h: usize,
    n: usize,
) -> Vec<Option<f32>> {
    ring_contrast_of(ids, w, h, n, chw_grey(chw, c, w * h))
}

/// Grey (0..1) of pixel `p` of a CHW float image in [-1, 1] with `c` channels of `plane`
/// pixels: the channels' mean, mapped to 0..1.
pub fn chw_grey(chw: &[f32], c: usize, plane: usize) -> impl Fn(usize) -> f64 + '_ {
    move |p| {
        let sum: f64 = (0..c).map(|k| chw[k * plane + p] as f64).sum();
        (sum / c as f64 + 1.0) / 2.0
    }
}

/// [`ring_contrast`] with grey (0..1) of pixel `p` given by `grey`.
fn ring_contrast_of(
    ids: &[u32],
    w: usize,
    h: usize,
    n: usize,
    grey: impl Fn(usize) -> f64,
) -> Vec<Option<f32>> {
    regions(ids, w, h, n)
        .into_iter()
        .map(|r| r.map(|r| r.contrast(&grey)))
        .collect()
}

/// The pixels (row-major indices, in raster order) of an instance's visible mask and of the
/// ring just outside it.
pub struct Region {
    pub inner: Vec<usize>,
    pub ring: Vec<usize>,
}

impl Region {
    /// Mean grey of the mask minus that of the ring, grey (0..1) of pixel `p` given by `grey`.
    pub fn contrast(&self, grey: impl Fn(usize) -> f64) -> f32 {
        let mean = |px: &[usize]| px.iter().map(|&p| grey(p)).sum::<f64>() / px.len() as f64;
        (mean(&self.inner) - mean(&self.ring)) as f32
    }
}

/// The [`Region`] of each instance 1..=`n` given the per-pixel instance `ids` (`w` × `h`);
/// `None` for an instance with no pixels or no ring.
pub fn regions(ids: &[u32], w: usize, h: usize, n: usize) -> Vec<Option<Region>> {
    // each instance's pixels and box
    let mut inner = vec![Vec::new(); n + 1];
    let mut boxes = vec![(usize::MAX, usize::MAX, 0usize, 0usize); n + 1];
    for y in 0..h {
        for x in 0..w {
            let p = y * w + x;
            let id = ids[p] as usize;
            if id == 0 || id > n {
                continue;
            }
            inner[id].push(p);
            let b = &mut boxes[id];
            *b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
        }
    }
    // the ring: the instance's mask dilated by RING (a square, separable) inside its box grown
    // by RING, less the mask; only each instance's own neighbourhood is visited
    inner
        .into_iter()
        .enumerate()
        .skip(1)
        .map(|(i, inner)| {
            if inner.is_empty() {
                return None;
            }
            let (x0, y0, x1, y1) = boxes[i];
            let (x0, y0) = (x0.saturating_sub(RING), y0.saturating_sub(RING));
            let (x1, y1) = ((x1 + RING).min(w - 1), (y1 + RING).min(h - 1));
            let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
            // rows: how many of the mask's pixels lie within RING along the row (a running
            // count), then columns the same over those counts' hits
            let mut rows = vec![0u16; bw * bh];
            for y in 0..bh {
                let src = &ids[(y0 + y) * w + x0..(y0 + y) * w + x0 + bw];
                let hit = |x: usize| (src[x] as usize == i) as u16;
                let mut count: u16 = (0..RING.min(bw)).map(hit).sum();
                for x in 0..bw {
                    if x + RING < bw {
                        count += hit(x + RING);
                    }
                    if x > RING {
                        count -= hit(x - RING - 1);
                    }
                    rows[y * bw + x] = count;
                }
            }
            let mut cols = vec![0u16; bw];
            for row in rows.chunks_exact(bw).take(RING.min(bh)) {
                for (c, r) in cols.iter_mut().zip(row) {
                    *c += (*r > 0) as u16;
                }
            }
            let mut ring = Vec::new();
            for y in 0..bh {
                if y + RING < bh {
                    for (c, r) in cols
                        .iter_mut()
                        .zip(&rows[(y + RING) * bw..(y + RING + 1) * bw])
                    {
                        *c += (*r > 0) as u16;
                    }
                }
                if y > RING {
                    let gone = &rows[(y - RING - 1) * bw..(y - RING) * bw];
                    for (c, r) in cols.iter_mut().zip(gone) {
                        *c -= (*r > 0) as u16;
                    }
                }
                for (x, c) in cols.iter().enumerate() {
                    let p = (y0 + y) * w + x0 + x;
                    if *c > 0 && ids[p] as usize != i {
                        ring.push(p);
                    }
                }
            }
            (!ring.is_empty()).then_some(Region { inner, ring })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bright_square_on_dark_has_positive_contrast_and_a_washed_one_less() {
        let (w, h) = (20, 20);
        let ids: Vec<u32> = (0..w * h)
            .map(|p| (p % w >= 5 && p % w < 15 && p / w >= 5 && p / w < 15) as u32)
            .collect();
        let paint = |inside: u8, outside: u8| -> Vec<u8> {
            ids.iter()
                .flat_map(|&i| [if i == 1 { inside } else { outside }; 3])
                .collect()
        };
        let c = ring_contrast(&ids, &paint(200, 50), w, h, 2);
        assert!((c[0].unwrap() - 150.0 / 255.0).abs() < 1e-5, "{c:?}");
        assert_eq!(c[1], None, "instance 2 is not in the image");
        let washed = ring_contrast(&ids, &paint(110, 100), w, h, 1)[0].unwrap();
        assert!(washed > 0.0 && washed < 0.05, "{washed}");
    }

    #[test]
    fn a_float_image_has_the_contrast_of_its_rgb8_twin() {
        let (w, h) = (12, 9);
        let ids: Vec<u32> = (0..w * h)
            .map(|p| (p % w > 3 && p / w > 2) as u32)
            .collect();
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 53 % 256) as u8).collect();
        let want = ring_contrast(&ids, &rgb, w, h, 1)[0].unwrap();
        for c in [1, 3] {
            let chw = crate::pixels::chw::rgb_to_chw(&rgb, c, w, h);
            let have = ring_contrast_chw(&ids, &chw, c, w, h, 1)[0].unwrap();
            assert!((want - have).abs() < 1e-5, "{c} channels: {have} vs {want}");
        }
    }

    #[test]
    fn the_ring_is_every_other_pixel_within_ring_of_the_mask() {
        // random blobs of three instances, checked against the definition pixel by pixel
        let (w, h) = (23, 17);
        let ids: Vec<u32> = (0..w * h)
            .map(|p| {
                let (x, y) = ((p % w) as i32, (p / w) as i32);
                if (x - 6).pow(2) + (y - 6).pow(2) < 20 {
                    1
                } else if (x - 14).abs() < 4 && (y - 9).abs() < 5 {
                    2
                } else if x > 19 && y < 3 {
                    3
                } else {
                    0
                }
            })
            .collect();
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let got = ring_contrast(&ids, &rgb, w, h, 3);
        let g =
            |p: usize| (rgb[3 * p] as f64 + rgb[3 * p + 1] as f64 + rgb[3 * p + 2] as f64) / 765.0;
        for i in 1..=3u32 {
            let (mut si, mut ni, mut so, mut no) = (0.0, 0, 0.0, 0);
            for p in 0..w * h {
                let (x, y) = ((p % w) as i64, (p / w) as i64);
                if ids[p] == i {
                    si += g(p);
                    ni += 1;
                } else if (0..w * h).any(|q| {
                    let (qx, qy) = ((q % w) as i64, (q / w) as i64);
                    ids[q] == i && (qx - x).abs() <= RING as i64 && (qy - y).abs() <= RING as i64
                }) {
                    so += g(p);
                    no += 1;
                }
            }
            let want = (si / ni as f64 - so / no as f64) as f32;
            let have = got[i as usize - 1].unwrap();
            assert!((want - have).abs() < 1e-6, "instance {i}: {have} vs {want}");
        }
    }
}
