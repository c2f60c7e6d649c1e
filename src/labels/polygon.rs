//! Polygons from instance masks, for YOLO segmentation labels: the outer boundary of each
//! 8-connected component traced along pixel edges, simplified (Douglas–Peucker), and several
//! components joined into one polygon by zero-width bridges, the way ultralytics' own converter
//! joins multi-part masks. Holes are not traced (YOLO polygons cannot express them).

/// Traces `mask` (row-major, `width` × `height`) into one polygon in pixel-corner coordinates;
/// empty when the mask is empty.
pub fn mask_to_polygon(
    mask: &[bool],
    width: usize,
    height: usize,
    epsilon: f64,
) -> Vec<(f64, f64)> {
    let mut seen = vec![false; mask.len()];
    let mut parts: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        // flood the component so its other pixels do not start new traces
        seen[start] = true;
        stack.push(start);
        while let Some(p) = stack.pop() {
            let (x, y) = ((p % width) as i64, (p / width) as i64);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= width as i64 || ny >= height as i64 {
                        continue;
                    }
                    let q = ny as usize * width + nx as usize;
                    if mask[q] && !seen[q] {
                        seen[q] = true;
                        stack.push(q);
                    }
                }
            }
        }
        let outline = trace(mask, width, height, start % width, start / width);
        let simple = simplify_closed(&outline, epsilon);
        if simple.len() >= 3 {
            parts.push(simple);
        }
    }
    bridge(parts)
}

/// Follows the outer boundary of the component whose first raster pixel is (x0, y0), keeping the
/// inside on the right; returns the corners where the direction changes.
fn trace(mask: &[bool], w: usize, h: usize, x0: usize, y0: usize) -> Vec<(f64, f64)> {
    let inside = |x: i64, y: i64| {
        x >= 0
            && y >= 0
            && (x as usize) < w
            && (y as usize) < h
            && mask[y as usize * w + x as usize]
    };
    // directions clockwise on screen (y down): E, S, W, N
    const D: [(i64, i64); 4] = [(1, 0), (0, 1), (-1, 0), (0, -1)];
    let ahead = |x: i64, y: i64, d: usize| -> (bool, bool) {
        // (ahead-left, ahead-right) pixels at corner (x, y) facing D[d]
        match d {
            0 => (inside(x, y - 1), inside(x, y)),
            1 => (inside(x, y), inside(x - 1, y)),
            2 => (inside(x - 1, y), inside(x - 1, y - 1)),
            _ => (inside(x - 1, y - 1), inside(x, y - 1)),
        }
    };
    let (sx, sy) = (x0 as i64, y0 as i64);
    let (mut x, mut y, mut d) = (sx, sy, 0usize);
    let mut out = vec![(sx as f64, sy as f64)];
    let limit = 4 * (w + 1) * (h + 1) + 8;
    for _ in 0..limit {
        x += D[d].0;
        y += D[d].1;
        let (left, right) = ahead(x, y, d);
        let nd = if left {
            (d + 3) % 4
        } else if right {
            d
        } else {
            (d + 1) % 4
        };
        if (x, y) == (sx, sy) && nd == 0 {
            break;
        }
        if nd != d {
            out.push((x as f64, y as f64));
        }
        d = nd;
    }
    out
}

/// Douglas–Peucker on a closed ring, anchored at the point farthest from the first.
fn simplify_closed(ring: &[(f64, f64)], eps: f64) -> Vec<(f64, f64)> {
    if ring.len() < 4 || eps <= 0.0 {
        return ring.to_vec();
    }
    let d2 = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2);
    let far = (0..ring.len())
        .max_by(|&i, &j| d2(ring[0], ring[i]).total_cmp(&d2(ring[0], ring[j])))
        .unwrap_or(0);
    let mut a: Vec<(f64, f64)> = ring[..=far].to_vec();
    let mut b: Vec<(f64, f64)> = ring[far..].to_vec();
    b.push(ring[0]);
    a = dp(&a, eps);
    b = dp(&b, eps);
    a.pop();
    b.pop();
    a.extend(b);
    a
}

fn dp(pts: &[(f64, f64)], eps: f64) -> Vec<(f64, f64)> {
    if pts.len() < 3 {
        return pts.to_vec();
    }
    let (a, b) = (pts[0], pts[pts.len() - 1]);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    let dist = |p: (f64, f64)| {
        if len == 0.0 {
            ((p.0 - a.0).powi(2) + (p.1 - a.1).powi(2)).sqrt()
        } else {
            ((p.0 - a.0) * dy - (p.1 - a.1) * dx).abs() / len
        }
    };
    let (i, dmax) = pts[1..pts.len() - 1]
        .iter()
        .enumerate()
        .map(|(i, p)| (i + 1, dist(*p)))
        .fold((0, 0.0), |m, x| if x.1 > m.1 { x } else { m });
    if dmax <= eps {
        return vec![a, b];
    }
    let mut left = dp(&pts[..=i], eps);
    let right = dp(&pts[i..], eps);
    left.pop();
    left.extend(right);
    left
}

/// Joins rings into one: each next ring is spliced in at the closest pair of points, walked all
/// the way round, and the path returns along the same bridge.
fn bridge(mut parts: Vec<Vec<(f64, f64)>>) -> Vec<(f64, f64)> {
    if parts.is_empty() {
        return Vec::new();
    }
    parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut poly = parts.remove(0);
    for ring in parts {
        let mut best = (0, 0, f64::MAX);
        for (i, p) in poly.iter().enumerate() {
            for (j, q) in ring.iter().enumerate() {
                let d = (p.0 - q.0).powi(2) + (p.1 - q.1).powi(2);
                if d < best.2 {
                    best = (i, j, d);
                }
            }
        }
        let (i, j, _) = best;
        let mut merged = poly[..=i].to_vec();
        merged.extend(ring[j..].iter().chain(ring[..=j].iter()).copied());
        merged.extend(poly[i..].iter().copied());
        poly = merged;
    }
    poly
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(p: &[(f64, f64)]) -> f64 {
        (0..p.len())
            .map(|i| {
                let (a, b) = (p[i], p[(i + 1) % p.len()]);
                a.0 * b.1 - b.0 * a.1
            })
            .sum::<f64>()
            .abs()
            / 2.0
    }

    #[test]
    fn rectangle_traces_to_its_four_corners() {
        let (w, h) = (6, 5);
        let mut m = vec![false; w * h];
        for y in 1..4 {
            for x in 2..5 {
                m[y * w + x] = true;
            }
        }
        let p = mask_to_polygon(&m, w, h, 0.0);
        assert_eq!(p, vec![(2.0, 1.0), (5.0, 1.0), (5.0, 4.0), (2.0, 4.0)]);
        assert_eq!(area(&p), 9.0);
    }

    #[test]
    fn traced_area_equals_pixel_count_for_hole_free_shapes() {
        let (w, h) = (20, 16);
        let m: Vec<bool> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64 - 9.5, (i / w) as f64 - 7.5);
                x * x / 60.0 + y * y / 30.0 < 1.0
            })
            .collect();
        let n = m.iter().filter(|v| **v).count() as f64;
        assert_eq!(area(&mask_to_polygon(&m, w, h, 0.0)), n);
        // simplified stays close
        assert!((area(&mask_to_polygon(&m, w, h, 0.7)) - n).abs() / n < 0.08);
    }

    #[test]
    fn diagonal_pixels_are_one_component_and_apart_ones_are_bridged() {
        let (w, h) = (4, 4);
        let mut m = vec![false; 16];
        m[0] = true;
        m[5] = true; // diagonal neighbour of 0
        let p = mask_to_polygon(&m, w, h, 0.0);
        assert_eq!(area(&p), 2.0);
        let mut m2 = vec![false; 16];
        m2[0] = true;
        m2[15] = true;
        let p2 = mask_to_polygon(&m2, w, h, 0.0);
        assert_eq!(p2.len(), 4 + 4 + 2);
        assert_eq!(area(&p2), 2.0);
    }
}
