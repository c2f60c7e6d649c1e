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
pub fn data_yaml(root: &str, has_val: bool, classes: &[ClassSpec], task: YoloTask) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# ultralytics dataset written by rendergan ({task:?} labels)"
    );
    let _ = writeln!(s, "path: {}", yaml_string(root));
    let _ = writeln!(s, "train: images/train");
    let _ = writeln!(
        s,
        "val: {}",
        if has_val {
            "images/val"
        } else {
            "images/train  # no val images in this run"
        }
    );
    let _ = writeln!(s, "names:");
    for (i, c) in classes.iter().enumerate() {
        let _ = writeln!(s, "  {i}: {}", yaml_string(&c.name));
    }
    if task == YoloTask::Pose {
        let k = classes.iter().map(|c| c.keypoints.len()).max().unwrap_or(0);
        let _ = writeln!(s, "kpt_shape: [{k}, 3]");
    }
    s
}

fn yaml_string(v: &str) -> String {
    serde_json::to_string(v).expect("strings serialise")
}
