//! The labelled objects in a set of fit's renders: how many a scene and how large, counted about
//! as `generate` labels them (by visible pixels; `labels.min_visibility` and `label: group`
//! unions are left out). The fit matches what the photos show, not their labels, so it cannot
//! say whether the objects came out the right size (on dice in a wooden bowl, a fit at a quarter
//! of its budget drew dice 2.5× too large, the bowl's grain standing in for them); the user, who
//! knows their photos, can, given these figures. Fit's renders are squares as tall as the
//! output (its photo crops squares of each photo's shorter side): for an output that is not
//! square, the counts are of that square.

use serde::Serialize;
use std::collections::BTreeMap;

use crate::config::LabelSpec;
use crate::render::is_labelled;

/// How many labelled objects a scene holds and how large they are.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Objects {
    /// Labelled objects a scene (mean over the renders).
    pub per_scene: f64,
    /// Each object's visible box side (the square root of the box's area) as a fraction of the
    /// image's height: quartiles 25 %, 50 %, 75 %; None when no render holds a labelled object.
    pub side: Option<[f64; 3]>,
}

impl Objects {
    /// From renders' instance ids (`side` × `side`, row-major), square frames as tall as the
    /// output's `height`: an object counts when its visible pixels, in output pixels, reach
    /// the labels' `min_visible_pixels`, as a label would.
    pub fn of(ids: &[Vec<u32>], side: usize, labels: &LabelSpec, height: u32) -> Objects {
        let out_px = (height as f64 / side as f64).powi(2);
        let mut sides = Vec::new();
        for im in ids {
            // per instance: x0, y0, x1, y1, visible pixels
            let mut boxes: BTreeMap<u32, [usize; 5]> = BTreeMap::new();
            for (p, &id) in im.iter().enumerate() {
                if !is_labelled(id) {
                    continue;
                }
                let (x, y) = (p % side, p / side);
                let b = boxes.entry(id).or_insert([x, y, x, y, 0]);
                *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y), b[4] + 1];
            }
            for [x0, y0, x1, y1, n] in boxes.into_values() {
                if n as f64 * out_px >= labels.min_visible_pixels as f64 {
                    let area = ((x1 - x0 + 1) * (y1 - y0 + 1)) as f64;
                    sides.push(area.sqrt() / side as f64);
                }
            }
        }
        let per_scene = sides.len() as f64 / ids.len().max(1) as f64;
        sides.sort_by(|a, b| a.total_cmp(b));
        let q = |t: f64| sides[((sides.len() - 1) as f64 * t).round() as usize];
        Objects {
            per_scene,
            side: (!sides.is_empty()).then(|| [q(0.25), q(0.5), q(0.75)]),
        }
    }
}

/// A warning when the labelled objects as written or as fitted (`sets`) are so small that the
/// fit barely sees them: the smaller median box side under twice the side of the smallest blob
/// the descriptors count ([`super::objective::MIN_BLOB`], a share of the frame, so the same at
/// any `--res`: ~8.9 % of the image height). Their size and count then follow what the fit does
/// see: dice written at 5 % of the height were fitted 2.5× too large, matching the bowl's grain,
/// so the fitted size alone would not tell.
pub fn too_small(sets: &[&Objects]) -> Option<String> {
    let mid = sets
        .iter()
        .filter_map(|o| o.side.map(|s| s[1]))
        .min_by(|a, b| a.total_cmp(b))?;
    let speck = super::objective::MIN_BLOB.sqrt();
    (mid < 2.0 * speck).then(|| {
        format!(
            "the labelled objects' median box side is {:.1} % of the image height (as written or fitted): the fit counts blobs from {:.1} % of the frame's side up (at any --res), so it barely sees objects this small, and their size and count follow what it does see; check their size below against your photos, and write it (camera.distance, the objects' scale) from what the photos show rather than fitting it",
            100.0 * mid,
            100.0 * speck
        )
    })
}

/// One line for the summary: the labelled objects as written and, when the fit improved, as
/// fitted, in per cent of the image height and in pixels of an output `height` tall. Unless the
/// config has scenery (`label: false`) whose count is marked (`scenery_marked`), it ends with
/// what to add when the objects came out larger or more than the photos': the fit matches all
/// the photos show, and a scene without their clutter can only come nearer with larger or more
/// objects (pills among hands, papers and a laptop: fitted 2.3× the photos' labelled size; with
/// the built-in `clutter`'s count and size marked, 1.06×; bench/simreal/trials).
pub fn summary(
    before: &Objects,
    after: Option<&Objects>,
    (width, height): (u32, u32),
    scenery_marked: bool,
) -> String {
    let count = |o: &Objects| format!("{:.1}", o.per_scene);
    let size = |o: &Objects| match o.side {
        Some([lo, mid, hi]) => format!(
            "{:.1} % ({:.1}–{:.1} %, ≈ {:.0} px)",
            100.0 * mid,
            100.0 * lo,
            100.0 * hi,
            mid * height as f64
        ),
        None => "none".into(),
    };
    let (n, s) = match after {
        Some(a) => (
            format!("{} -> {}", count(before), count(a)),
            format!("{} -> {}", size(before), size(a)),
        ),
        None => (count(before), size(before)),
    };
    let square = if width == height {
        String::new()
    } else {
        format!(" (in the {height} × {height} square fit compares, a render as tall as the output, against squares of a photo's shorter side)")
    };
    let scenery = if scenery_marked {
        ""
    } else {
        "; where they are larger or more than your photos' objects, the fit is matching things the scene lacks (hands, papers, tools, a textured surface): add them as scenery and fit again, e.g. `- {model: clutter, label: false, count: {int: [0, 6], fit: true}, params: {size: {uniform: [0.3, 3], fit: true}}}` with its placement's x, y as wide as the view, and `cloth` under everything (docs/fit.md)"
    };
    format!(
        "labelled objects in the renders{}: {n} a scene{square}; box side {s} of the image height (median, middle half, pixels of the {height} px tall output): check them against your photos, the fit matches what the photos show, not their objects' labels{scenery}",
        if after.is_some() {
            ", as written -> fitted"
        } else {
            ", as written"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(min: u32) -> LabelSpec {
        LabelSpec {
            min_visible_pixels: min,
            min_visibility: 0.0,
        }
    }

    fn all_small() -> Objects {
        Objects {
            per_scene: 20.0,
            side: Some([0.04, 0.05, 0.06]),
        }
    }

    #[test]
    fn counts_and_sizes_labelled_objects_as_labels_would() {
        // two 20-px frames: a 4 × 4 object, a 2 × 8 one (box side √16 = 4 px as well; the
        // scenery block hides 4 of its pixels, not its box), a scenery block and a one-pixel
        // object; then an empty frame
        let side = 20;
        let mut a = vec![0u32; side * side];
        for y in 2..6 {
            for x in 2..6 {
                a[y * side + x] = 1;
            }
        }
        for y in 10..18 {
            for x in 10..12 {
                a[y * side + x] = 2;
            }
        }
        for p in a.iter_mut().skip(300).take(40) {
            *p = crate::render::SCENERY_ID;
        }
        a[19 * side + 19] = 3;
        let empty = vec![0u32; side * side];
        // output 40 px tall: each render pixel is 4 output pixels
        let near = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let o = Objects::of(&[a.clone(), empty.clone()], side, &labels(8), 40);
        assert!(
            near(o.per_scene, 1.0),
            "the one-pixel object (4 output px) is below 8: {o:?}"
        );
        assert!(
            o.side.unwrap().iter().all(|&s| near(s, 0.2)),
            "both boxes' sides are 4 of 20 px: {o:?}"
        );
        let all = Objects::of(&[a, empty.clone()], side, &labels(1), 40);
        assert!(
            near(all.per_scene, 1.5) && near(all.side.unwrap()[1], 0.2),
            "{all:?}"
        );
        let none = Objects::of(&[empty], side, &labels(1), 40);
        assert_eq!((none.per_scene, none.side), (0.0, None));
        let line = summary(&o, Some(&all), (256, 256), true);
        assert!(line.contains("1.0 -> 1.5 a scene;"), "{line}");
        assert!(!line.contains("clutter"), "scenery is marked: {line}");
        let bare = summary(&o, Some(&all), (256, 256), false);
        assert!(
            bare.contains("add them as scenery") && bare.contains("model: clutter"),
            "{bare}"
        );
        assert!(line.contains("20.0 % (20.0–20.0 %, ≈ 51 px)"), "{line}");
        // 20 % of the height is above 2 × 4.5 %, 5 % below
        assert_eq!(too_small(&[&o]), None);
        let w = too_small(&[&all_small(), &o]).expect("a warning, from the smaller");
        assert!(
            w.contains("median box side is 5.0 % of the image height") && w.contains("from 4.5 %"),
            "{w}"
        );
        assert_eq!(too_small(&[&none]), None);
        let wide = summary(&o, None, (320, 240), true);
        assert!(
            wide.contains("as written: 1.0 a scene (in the 240 × 240 square fit compares"),
            "{wide}"
        );
    }
}
