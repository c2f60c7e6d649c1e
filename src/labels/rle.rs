//! COCO run-length encoding, exactly as pycocotools writes it: runs over the mask in
//! column-major order starting with a run of zeros, and the compressed string form of
//! `rleToString` (6-bit chunks with deltas against the count two back).

/// Uncompressed RLE counts (column-major, alternating zeros/ones, zeros first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rle {
    pub height: u32,
    pub width: u32,
    pub counts: Vec<u32>,
}

impl Rle {
    /// Encodes a row-major mask.
    pub fn from_mask(mask: &[bool], width: u32, height: u32) -> Rle {
        let (w, h) = (width as usize, height as usize);
        let mut counts = Vec::new();
        let mut current = false;
        let mut run = 0u32;
        for x in 0..w {
            for y in 0..h {
                let v = mask[y * w + x];
                if v != current {
                    counts.push(run);
                    run = 0;
                    current = v;
                }
                run += 1;
            }
        }
        counts.push(run);
        Rle {
            height,
            width,
            counts,
        }
    }

    /// Decodes to a row-major mask.
    pub fn to_mask(&self) -> Vec<bool> {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut out = vec![false; w * h];
        let mut pos = 0usize;
        for (i, c) in self.counts.iter().enumerate() {
            for p in pos..pos + *c as usize {
                if i % 2 == 1 {
                    out[(p % h) * w + p / h] = true;
                }
            }
            pos += *c as usize;
        }
        out
    }

    /// Pixels set.
    pub fn area(&self) -> u64 {
        self.counts
            .iter()
            .skip(1)
            .step_by(2)
            .map(|c| *c as u64)
            .sum()
    }

    /// pycocotools' compressed `counts` string.
    pub fn to_coco_string(&self) -> String {
        let mut s = String::with_capacity(self.counts.len() * 2);
        for i in 0..self.counts.len() {
            let mut x = self.counts[i] as i64;
            if i > 2 {
                x -= self.counts[i - 2] as i64;
            }
            loop {
                let mut c = (x & 0x1f) as u8;
                x >>= 5;
                let more = if c & 0x10 != 0 { x != -1 } else { x != 0 };
                if more {
                    c |= 0x20;
                }
                s.push((c + 48) as char);
                if !more {
                    break;
                }
            }
        }
        s
    }

    /// Parses pycocotools' compressed string (for tests and tools that read datasets back).
    pub fn from_coco_string(s: &str, width: u32, height: u32) -> Option<Rle> {
        let b = s.as_bytes();
        let mut counts: Vec<u32> = Vec::new();
        let mut p = 0;
        while p < b.len() {
            let mut x: i64 = 0;
            let mut k = 0;
            loop {
                let c = (*b.get(p)? as i64) - 48;
                x |= (c & 0x1f) << (5 * k);
                let more = c & 0x20 != 0;
                p += 1;
                k += 1;
                if !more {
                    if c & 0x10 != 0 {
                        x |= -1i64 << (5 * k);
                    }
                    break;
                }
            }
            let m = counts.len();
            if m > 2 {
                x += counts[m - 2] as i64;
            }
            counts.push(u32::try_from(x).ok()?);
        }
        Some(Rle {
            height,
            width,
            counts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_both_forms() {
        let (w, h) = (7u32, 5u32);
        let mut seed = 12345u64;
        for _ in 0..50 {
            let mask: Vec<bool> = (0..w * h)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 60) < 6
                })
                .collect();
            let rle = Rle::from_mask(&mask, w, h);
            assert_eq!(rle.to_mask(), mask);
            assert_eq!(rle.area(), mask.iter().filter(|m| **m).count() as u64);
            let s = rle.to_coco_string();
            assert_eq!(Rle::from_coco_string(&s, w, h).unwrap(), rle);
        }
    }

    #[test]
    fn matches_pycocotools_on_a_known_mask() {
        // pycocotools.mask.encode of a 4x3 (h x w) Fortran mask with ones at (1,0),(2,0),(0,2):
        // column-major runs: 1 zero, 2 ones, 5 zeros, 1 one, 3 zeros → counts [1,2,5,1,3], "12513"
        let mut m = vec![false; 12];
        m[3] = true; // (y=1, x=0)
        m[2 * 3] = true; // (y=2, x=0)
        m[2] = true; // (y=0, x=2)
        let rle = Rle::from_mask(&m, 3, 4);
        assert_eq!(rle.counts, vec![1, 2, 5, 1, 3]);
        // deltas: 1, 2, 5, 1-2=-1, 3-5=-2 → '1','2','5', chr(48 + (-1 & 31)) = 'O', 'N'
        assert_eq!(rle.to_coco_string(), "125ON");
    }
}
