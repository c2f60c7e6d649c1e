//! What a generated dataset holds, read from its `manifest.jsonl`: per class how many objects
//! were drawn and how many got a label, histograms of what was sampled (camera, object tilt, size,
//! overlap, visibility, `emphasis:` sampling weights) and of what the learned stages did per image,
//! with the thin bins marked; the collapse alarm for a stage whose per-image value has ~no
//! spread; and label safety: how each object's contrast against the ring just outside its mask
//! changed under the learned stages. Plain JSON reading; no burn, no wgpu.

use std::collections::BTreeMap;
use std::path::Path;

use crate::labels::manifest::ManifestLine;
use serde::{Deserialize, Serialize};

/// Bins of every histogram.
const BINS: usize = 12;
/// A bin is thin when it holds fewer than this fraction of the mean count of the histogram's bins.
const THIN: f64 = 0.25;
/// Objects whose raw contrast with their ring is below this ([0, 1] grey) are not judged: a
/// mask on a background of its own colour has no contrast to keep.
pub const MIN_CONTRAST: f64 = 0.04;
/// An object's label is at risk when the learned stages leave less than this fraction of its
/// raw contrast (or flip its sign).
pub const KEPT_CONTRAST: f64 = 0.25;

/// A histogram of one quantity.
#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    pub name: String,
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<usize>,
    /// Indices of the bins with under a quarter of the mean count.
    pub thin: Vec<usize>,
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

impl Histogram {
    pub fn new(name: &str, values: &[f64]) -> Histogram {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = v.len();
        let (mut lo, mut hi) = (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        // counts (objects per image) get one bin per value: twelve bins over 1..9 would leave
        // bins between the integers empty and call them thin
        let integers = n > 0 && hi > lo && hi - lo < 50.0 && v.iter().all(|x| x.fract() == 0.0);
        let bins = if integers {
            lo -= 0.5;
            hi += 0.5;
            (hi - lo) as usize
        } else {
            BINS
        };
        let mut counts = vec![0usize; bins];
        if n > 0 {
            let width = (hi - lo).max(1e-12);
            for x in &v {
                let b = (((x - lo) / width) * bins as f64) as usize;
                counts[b.min(bins - 1)] += 1;
            }
        }
        let mean = v.iter().sum::<f64>() / n.max(1) as f64;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n.max(1) as f64).sqrt();
        let expected = n as f64 / bins as f64;
        let thin = if hi > lo {
            (0..bins)
                .filter(|b| (counts[*b] as f64) < THIN * expected)
                .collect()
        } else {
            Vec::new()
        };
        Histogram {
            name: name.to_string(),
            lo: if n > 0 { lo } else { 0.0 },
            hi: if n > 0 { hi } else { 0.0 },
            counts,
            thin,
            mean,
            std,
            n,
        }
    }

    /// The value range of bin `b`.
    pub fn bin(&self, b: usize) -> (f64, f64) {
        let w = (self.hi - self.lo) / self.counts.len().max(1) as f64;
        (self.lo + w * b as f64, self.lo + w * (b + 1) as f64)
    }
}

/// One class's objects.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClassCount {
    /// Objects the scenes drew.
    pub drawn: usize,
    /// Of those, objects with a label (visible enough).
    pub labelled: usize,
    /// Of those without, objects wholly outside the view (no pixel drawn, no box; an object too
    /// small to cover a pixel sample reads the same).
    pub out_of_view: usize,
    /// Images with at least one labelled object of the class.
    pub images: usize,
    /// Mean side of the visible box, pixels (√(w·h)).
    pub mean_size: f64,
    pub mean_visibility: f64,
}

/// Label safety under the learned stages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LabelSafety {
    /// Objects with enough raw contrast to judge.
    pub judged: usize,
    /// Of those, objects that kept under [`KEPT_CONTRAST`] of it or flipped its sign.
    pub at_risk: usize,
    /// Lowest kept fraction (augmented / raw contrast) over the judged objects.
    pub min_kept: f64,
    /// Median kept fraction.
    pub median_kept: f64,
    /// Images with an object at risk (up to 10).
    pub examples: Vec<String>,
}

/// What the manifest says about the dataset.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetStats {
    pub images: usize,
    pub classes: BTreeMap<String, ClassCount>,
    /// Sampled quantities (camera, objects, emphasis weights).
    pub sampled: Vec<Histogram>,
    /// Per-image values of the learned stages (empty for a dataset made without `--augment`).
    pub stages: Vec<Histogram>,
    pub label_safety: Option<LabelSafety>,
    pub warnings: Vec<String>,
}

/// Reads `dir/manifest.jsonl`; `None` when `dir` has none (a plain folder of images).
pub fn read(dir: &Path) -> anyhow::Result<Option<DatasetStats>> {
    Ok(read_lines(dir)?.map(|lines| stats(&lines)))
}

/// The parsed lines of `dir/manifest.jsonl`; `None` when `dir` has none. A line that is not
/// JSON is an input error naming the file and line.
pub fn read_lines(dir: &Path) -> anyhow::Result<Option<Vec<ManifestLine>>> {
    let path = dir.join("manifest.jsonl");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let mut lines = Vec::new();
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: ManifestLine = serde_json::from_str(l).map_err(|e| {
            crate::config::InputError(format!(
                "{} line {}: not a manifest line ({e}); give a dataset folder rendergan generate wrote",
                path.display(),
                i + 1
            ))
        })?;
        lines.push(v);
    }
    Ok(Some(lines))
}

/// The statistics of parsed manifest lines. Long: one pass over the lines gathering every
/// count and series at once (a manifest can hold millions of lines).
pub fn stats(lines: &[ManifestLine]) -> DatasetStats {
    let mut classes: BTreeMap<String, ClassCount> = BTreeMap::new();
    let mut series: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    let mut stage_series: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    let mut kept: Vec<(f64, String)> = Vec::new();
    for line in lines {
        for (key, name) in [
            ("distance", "camera distance"),
            ("elevation", "camera elevation (°)"),
        ] {
            if let Some(x) = line.camera.param(key) {
                series.entry(name).or_default().push(x);
            }
        }
        if let Some(w) = line.sampling_weight {
            series.entry("sampling weight").or_default().push(w);
        }
        let mut seen_classes: Vec<&str> = Vec::new();
        let mut labelled_here = 0usize;
        for o in &line.objects {
            let Some(class) = o.class.as_deref() else {
                continue;
            };
            let c = classes.entry(class.to_string()).or_default();
            c.drawn += 1;
            if !o.labeled {
                if o.visible_pixels == 0 && o.bbox.is_none() && o.bbox_full.is_none() {
                    c.out_of_view += 1;
                }
                continue;
            }
            labelled_here += 1;
            c.labelled += 1;
            let size = o.bbox.map_or(0.0, |b| (b[2] as f64 * b[3] as f64).sqrt());
            c.mean_size += size;
            c.mean_visibility += o.visibility;
            if !seen_classes.contains(&class) {
                seen_classes.push(class);
                c.images += 1;
            }
            series
                .entry("object size (px, visible box)")
                .or_default()
                .push(size);
            for (value, name) in [
                (Some(o.visibility), "object visibility"),
                (o.tilt, "object tilt to the camera (°)"),
                (o.size, "object size (drawn box / image height)"),
                (o.overlap, "object overlap by nearer boxes (drawn)"),
            ] {
                if let Some(x) = value {
                    series.entry(name).or_default().push(x);
                }
            }
        }
        series
            .entry("labelled objects per image")
            .or_default()
            .push(labelled_here as f64);
        let Some(aug) = &line.augment else {
            continue;
        };
        for (key, value) in aug.per_image() {
            if let Some(x) = value {
                stage_series.entry(key).or_default().push(x as f64);
            }
        }
        for [raw, now] in aug.contrast.iter().flatten() {
            if raw.abs() as f64 >= MIN_CONTRAST {
                kept.push(((now / raw) as f64, line.file.clone()));
            }
        }
    }
    for c in classes.values_mut() {
        let n = c.labelled.max(1) as f64;
        c.mean_size /= n;
        c.mean_visibility /= n;
    }
    let sampled: Vec<Histogram> = series.iter().map(|(k, v)| Histogram::new(k, v)).collect();
    let stages: Vec<Histogram> = stage_series
        .iter()
        .map(|(k, v)| Histogram::new(k, v))
        .collect();
    let mut warnings: Vec<String> = stage_collapse(&stages)
        .into_iter()
        .map(|(_, w)| w)
        .collect();
    for (name, c) in &classes {
        if c.drawn > 0 && c.labelled * 2 < c.drawn {
            let unlabelled = c.drawn - c.labelled;
            // most of them outside the view: bringing the camera closer would lose more
            warnings.push(if c.out_of_view * 2 >= unlabelled {
                format!(
                    "class {name}: only {} of {} drawn objects got a label; {} of the rest lie wholly outside the view (or are too small to cover a pixel): narrow the placement's x / y ranges to what the camera sees, or raise camera.distance or fov",
                    c.labelled, c.drawn, c.out_of_view
                )
            } else {
                format!(
                    "class {name}: only {} of {} drawn objects got a label (the rest were hidden or smaller than labels.min_visible_pixels / min_visibility; {} wholly outside the view); move the camera closer or spread the objects",
                    c.labelled, c.drawn, c.out_of_view
                )
            });
        }
    }
    let label_safety = (!kept.is_empty()).then(|| LabelSafety::from_kept(&mut kept));
    if let Some(s) = &label_safety {
        if s.at_risk > 0 {
            warnings.push(format!(
                "label safety: {} of {} objects kept under {:.0} % of their contrast with the ring just outside their mask after the learned stages (worst {:.2}; e.g. {}); the stages may hide objects the labels still claim",
                s.at_risk,
                s.judged,
                100.0 * KEPT_CONTRAST,
                s.min_kept,
                s.examples.first().map(String::as_str).unwrap_or("?")
            ));
        }
    }
    DatasetStats {
        images: lines.len(),
        classes,
        sampled,
        stages,
        label_safety,
        warnings,
    }
}

impl LabelSafety {
    /// The figure of each judged object's kept fraction (augmented / raw contrast) and the
    /// image it is in; `kept` must not be empty.
    pub fn from_kept(kept: &mut [(f64, String)]) -> LabelSafety {
        kept.sort_by(|a, b| a.0.total_cmp(&b.0));
        let risky: Vec<&(f64, String)> = kept.iter().filter(|(k, _)| *k < KEPT_CONTRAST).collect();
        let mut examples: Vec<String> = Vec::new();
        for (_, f) in &risky {
            if examples.len() < 10 && !examples.contains(f) {
                examples.push(f.clone());
            }
        }
        LabelSafety {
            judged: kept.len(),
            at_risk: risky.len(),
            min_kept: kept[0].0,
            median_kept: kept[kept.len() / 2].0,
            examples,
        }
    }

    /// Share of the judged objects at risk.
    pub fn share(&self) -> f64 {
        self.at_risk as f64 / self.judged.max(1) as f64
    }
}

/// The stages whose per-image value should vary when the photos do: lighting and the
/// background's shift answer the scene (light, backdrop), which differs from photo to photo.
/// Blur, background texture and detail answer the camera and the surfaces, which a set of
/// photos from one camera shares: one setting for every image is what such photos want, not a
/// collapse (it fired on nearly every bench/simreal run while the detector gained).
const VARIED_STAGES: [&str; 2] = ["light_range", "bg_shift"];

/// The collapse alarm: a learned stage of [`VARIED_STAGES`] that does something (its mean is
/// not ~0) but the same thing to every image. Returns (stage, warning) pairs.
pub fn stage_collapse(stages: &[Histogram]) -> Vec<(String, String)> {
    stages
        .iter()
        .filter(|h| VARIED_STAGES.contains(&h.name.as_str()))
        .filter(|h| h.n >= 8 && h.mean.abs() > 1e-3 && h.std < 0.02 * h.mean.abs())
        .map(|h| {
            let w = format!(
                "collapse: stage {} does the same to every image ({:.3} ± {:.4} over {} images); it learned one setting, not the photos' variety: train longer, with more varied photos, or switch the stage off",
                h.name, h.mean, h.std, h.n
            );
            (h.name.clone(), w)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classes_histograms_and_alarms_come_from_the_manifest() {
        let lines: Vec<ManifestLine> = (0..40)
            .map(|i| {
                serde_json::from_value(json!({
                    "file": format!("images/train/{i:06}.png"),
                    "camera": {"params": {"distance": 4.0 + i as f64 / 10.0, "elevation": 45.0}},
                    "objects": [
                        {"class": "bolt", "labeled": true, "bbox": [0, 0, 10, 40], "visibility": 0.9},
                        {"class": "nut", "labeled": i % 4 == 0, "bbox": [0, 0, 5, 5], "visibility": 0.1},
                        // outside the view but one time in four
                        if i % 4 == 0 {
                            json!({"class": "die", "labeled": true, "bbox": [0, 0, 5, 5], "bbox_full": [0, 0, 5, 5], "visible_pixels": 25})
                        } else {
                            json!({"class": "die", "labeled": false})
                        },
                    ],
                    "augment": {"blur": 0.8, "light_range": 0.3, "detail": 0.01 * (i % 5) as f64,
                                "contrast": [[0.3, 0.25], [0.2, if i == 7 { -0.1 } else { 0.2 }]]},
                }))
                .unwrap()
            })
            .collect();
        let s = stats(&lines);
        assert_eq!(s.images, 40);
        let bolt = &s.classes["bolt"];
        assert_eq!((bolt.drawn, bolt.labelled, bolt.images), (40, 40, 40));
        assert!((bolt.mean_size - 20.0).abs() < 1e-9);
        assert_eq!(s.classes["nut"].labelled, 10);
        let w = s.warnings.join("\n");
        assert!(
            w.contains("class nut: only 10 of 40")
                && w.contains("0 wholly outside the view); move the camera closer"),
            "{w}"
        );
        assert_eq!(s.classes["die"].out_of_view, 30);
        assert!(
            w.contains("class die: only 10 of 40 drawn objects got a label; 30 of the rest lie wholly outside the view (or are too small to cover a pixel): narrow the placement"),
            "{w}"
        );
        assert!(w.contains("stage light_range does the same"), "{w}");
        assert!(
            !w.contains("stage blur"),
            "one blur for every image is a camera's: {w}"
        );
        assert!(!w.contains("stage detail"), "{w}");
        let ls = s.label_safety.unwrap();
        assert_eq!((ls.judged, ls.at_risk), (80, 1));
        assert_eq!(ls.examples, vec!["images/train/000007.png"]);
        let d = s
            .sampled
            .iter()
            .find(|h| h.name == "camera distance")
            .unwrap();
        assert_eq!(d.counts.iter().sum::<usize>(), 40);
        assert!(d.thin.is_empty(), "{d:?}");
    }

    #[test]
    fn counts_get_one_bin_per_value() {
        let v: Vec<f64> = (0..90).map(|i| (1 + i % 9) as f64).collect();
        let h = Histogram::new("objects", &v);
        assert_eq!(h.counts, vec![10; 9]);
        assert!(h.thin.is_empty(), "{h:?}");
        assert_eq!(h.bin(0), (0.5, 1.5));
    }

    #[test]
    fn a_tail_with_few_values_is_a_thin_bin() {
        let mut v: Vec<f64> = (0..200).map(|i| (i % 50) as f64 / 50.0).collect();
        v.push(10.0);
        let h = Histogram::new("x", &v);
        // bins of 10/12: the first two hold the 200 values, the outlier's bin and the empty
        // ones between are thin
        assert_eq!(h.counts[11], 1);
        assert_eq!(h.thin, (2..12).collect::<Vec<_>>());
    }
}
