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
    let mut inner = vec![(0.0f64, 0usize); n + 1];
    let mut outer = vec![(0.0f64, 0usize); n + 1];
    let r = RING as isize;
    let mut near: Vec<u32> = Vec::with_capacity(8);
    for y in 0..h {
        for x in 0..w {
            let p = y * w + x;
            let own = ids[p];
            near.clear();
            for dy in -r..=r {
                let yy = y as isize + dy;
                if yy < 0 || yy >= h as isize {
                    continue;
                }
                for dx in -r..=r {
                    let xx = x as isize + dx;
                    if xx < 0 || xx >= w as isize {
                        continue;
                    }
                    let q = ids[yy as usize * w + xx as usize];
                    if q != own && !near.contains(&q) {
                        near.push(q);
                    }
                }
            }
            let g = (rgb[3 * p] as f64 + rgb[3 * p + 1] as f64 + rgb[3 * p + 2] as f64) / 765.0;
            if own != 0 && (own as usize) <= n {
                inner[own as usize].0 += g;
                inner[own as usize].1 += 1;
            }
            for &q in &near {
                if q != 0 && (q as usize) <= n {
                    outer[q as usize].0 += g;
                    outer[q as usize].1 += 1;
                }
            }
        }
    }
    (1..=n)
        .map(|i| {
            let ((si, ni), (so, no)) = (inner[i], outer[i]);
            (ni > 0 && no > 0).then(|| (si / ni as f64 - so / no as f64) as f32)
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
}
