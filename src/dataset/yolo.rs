//! Ultralytics YOLO labels: one text file per image, one line per object with the class index
//! and normalised coordinates (detect: box centre and size; segment: a polygon; pose: box plus
//! keypoints), and the `data.yaml` that points ultralytics at the folders.

use std::fmt::Write as _;

use crate::config::{ClassSpec, YoloTask};
use crate::labels::{polygon, InstanceLabel};

/// Polygon simplification tolerance in pixels.
const POLYGON_EPSILON: f64 = 0.7;

/// The label file text for one image.
pub fn label_text(
    task: YoloTask,
    labels: &[InstanceLabel],
    width: u32,
    height: u32,
    kpt_count: usize,
) -> String {
    let (w, h) = (width as f64, height as f64);
    let mut s = String::new();
    for l in labels.iter().filter(|l| l.labeled) {
        let b = l.bbox.expect("labelled instances have visible pixels");
        let (bx, by, bw, bh) = (b[0] as f64, b[1] as f64, b[2] as f64, b[3] as f64);
        let _ = write!(s, "{}", l.class);
        match task {
            YoloTask::Detect | YoloTask::Pose => {
                let _ = write!(
                    s,
                    " {:.6} {:.6} {:.6} {:.6}",
                    (bx + bw / 2.0) / w,
                    (by + bh / 2.0) / h,
                    bw / w,
                    bh / h
                );
                if task == YoloTask::Pose {
                    for i in 0..kpt_count {
                        match l.keypoints.get(i) {
                            Some(k) if k.v > 0 => {
                                let _ = write!(s, " {:.6} {:.6} {}", k.x / w, k.y / h, k.v);
                            }
                            _ => s.push_str(" 0 0 0"),
                        }
                    }
                }
            }
            YoloTask::Segment => {
                // the label's own mask: a `label: group` object covers its parts' pixels too
                let mask = l.rle.to_mask();
                let poly = polygon::mask_to_polygon(
                    &mask,
                    width as usize,
                    height as usize,
                    POLYGON_EPSILON,
                );
                for (x, y) in poly {
                    let _ = write!(s, " {:.6} {:.6}", x / w, y / h);
                }
            }
        }
        s.push('\n');
    }
    s
}

/// `data.yaml` for ultralytics. `root` is written as an absolute path so the file works from any
/// working directory; move the dataset and edit that one line.
pub fn data_yaml(has_val: bool, classes: &[ClassSpec], task: YoloTask) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# ultralytics dataset written by rendergan ({task:?} labels)"
    );
    let _ = writeln!(s, "train: images/train");
    let _ = writeln!(s, "{}", val_line(has_val));
    let _ = writeln!(s, "names:");
    for (i, c) in classes.iter().enumerate() {
        let _ = writeln!(s, "  {i}: {}", yaml_string(&c.name));
    }
    if task == YoloTask::Pose {
        let k = keypoint_count(classes);
        let _ = writeln!(s, "kpt_shape: [{k}, 3]");
        match flip_idx(classes, k) {
            Some(f) => {
                let list: Vec<String> = f.iter().map(|i| i.to_string()).collect();
                let _ = writeln!(s, "flip_idx: [{}]", list.join(", "));
            }
            None => {
                let _ = writeln!(
                    s,
                    "# no flip_idx: the classes' keypoints swap differently under a mirror, so \
                     ultralytics turns left-right flips off"
                );
            }
        }
    }
    s
}

/// data.yaml's `val:` line: the val images, or the train images when the run has none.
pub fn val_line(has_val: bool) -> &'static str {
    if has_val {
        "val: images/val"
    } else {
        "val: images/train  # no val images in this run"
    }
}

/// Keypoints per YOLO pose line: the most any class has (shorter lists are padded).
pub fn keypoint_count(classes: &[ClassSpec]) -> usize {
    classes.iter().map(|c| c.keypoints.len()).max().unwrap_or(0)
}

/// ultralytics' `flip_idx` (one for all classes, `k` keypoints each, shorter lists padded):
/// each class's keypoint mirror map; `None` when two classes would need different ones.
pub fn flip_idx(classes: &[ClassSpec], k: usize) -> Option<Vec<usize>> {
    let mut flip: Vec<Option<usize>> = vec![None; k];
    for c in classes {
        for (i, &j) in c.mirror.iter().enumerate() {
            match flip[i] {
                Some(f) if f != j => return None,
                _ => flip[i] = Some(j),
            }
        }
    }
    Some(
        flip.iter()
            .enumerate()
            .map(|(i, f)| f.unwrap_or(i))
            .collect(),
    )
}

fn yaml_string(v: &str) -> String {
    serde_json::to_string(v).expect("strings serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(mirror: &[usize]) -> ClassSpec {
        ClassSpec {
            name: "c".into(),
            keypoints: (0..mirror.len()).map(|i| format!("k{i}")).collect(),
            mirror: mirror.to_vec(),
        }
    }

    #[test]
    fn flip_idx_is_shared_by_the_classes_or_absent() {
        // one class swaps 1 and 2; another has a single keypoint: padded places map to themselves
        assert_eq!(
            flip_idx(&[class(&[0, 2, 1]), class(&[0])], 3),
            Some(vec![0, 2, 1])
        );
        // two classes that need different swaps: no flip_idx (ultralytics then does not flip)
        assert_eq!(flip_idx(&[class(&[1, 0]), class(&[0, 1])], 2), None);
        let text = data_yaml(true, &[class(&[0, 2, 1])], YoloTask::Pose);
        assert!(
            text.contains("kpt_shape: [3, 3]\nflip_idx: [0, 2, 1]\n"),
            "{text}"
        );
        assert!(!text.contains("path:"), "relocatable: {text}");
    }
}
