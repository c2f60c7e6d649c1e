//! The anomaly-detection layout (anomalib's Folder datamodule, MVTec style) and
//! `anomaly_folder.py`, the anomalib call that loads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{png, stem};
use crate::config::Config;
use crate::labels::InstanceLabel;
use crate::render::Frame;
use crate::scene::Scene;

/// The file beside `anomaly/` that loads it with anomalib (not named `anomalib.py`, which would
/// hide the package when run from the dataset folder).
pub const ANOMALIB_SNIPPET: &str = "anomaly_folder.py";

/// Python that builds anomalib's `Folder` datamodule over this dataset's `anomaly/`, with every
/// defect folder the config names.
pub fn anomalib_snippet(cfg: &Config, defects: &[String]) -> String {
    let list = |prefix: &str| {
        let items: Vec<String> = defects
            .iter()
            .map(|d| format!("\"{prefix}/{d}\""))
            .collect();
        format!("[{}]", items.join(", "))
    };
    let name = cfg
        .file
        .file_stem()
        .map_or("rendergan".into(), |s| s.to_string_lossy().into_owned());
    format!(
        "# Written by rendergan: anomalib's Folder datamodule over this dataset's anomaly/ layout,\n\
         # with every defect folder of the config. Use: from anomaly_folder import datamodule\n\
         # (run from this folder), or copy the call.\n\
         from pathlib import Path\n\n\
         from anomalib.data import Folder\n\n\
         root = Path(__file__).resolve().parent / \"anomaly\"\n\
         datamodule = Folder(\n    name={name:?},\n    root=root,\n    normal_dir=\"train/good\",\n    \
         abnormal_dir={},\n    normal_test_dir=\"test/good\",\n    mask_dir={},\n    \
         num_workers=2,  # anomalib's default of 8 is more than most machines here have\n)\n",
        list("test"),
        list("ground_truth")
    )
}

/// Creates `anomaly/{train,test}/good`, and `test/<defect>` and `ground_truth/<defect>` for every
/// defect class.
pub fn create_layout(root: &Path, defects: &[String]) -> Result<()> {
    let a = root.join("anomaly");
    let mut dirs = vec![a.join("train/good"), a.join("test/good")];
    for d in defects {
        dirs.push(a.join("test").join(d));
        dirs.push(a.join("ground_truth").join(d));
    }
    for p in dirs {
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    Ok(())
}

/// The image again in the anomaly-detection layout (anomalib's Folder datamodule, MVTec style):
/// `anomaly/train/good/` and `anomaly/test/good/` (the train and val splits) for images with no
/// labelled defect; `anomaly/test/<defect>/` plus `anomaly/ground_truth/<defect>/<name>_mask.png`
/// (0/255, the union of every defect's visible pixels) for the others, filed under the defect
/// class with the most visible pixels.
pub fn files(
    cfg: &Config,
    defects: &[String],
    scene: &Scene,
    labels: &[InstanceLabel],
    frame: &Frame,
    root: &Path,
    png: &[u8],
) -> Vec<(PathBuf, Vec<u8>)> {
    let name = stem(scene.index);
    let base = root.join("anomaly");
    let is_defect = |l: &&InstanceLabel| l.labeled && defects.contains(&cfg.classes[l.class].name);
    let mut area: BTreeMap<&str, u64> = BTreeMap::new();
    for l in labels.iter().filter(is_defect) {
        *area.entry(cfg.classes[l.class].name.as_str()).or_default() += l.visible_pixels;
    }
    let Some((top, _)) = area
        .iter()
        .max_by_key(|(n, a)| (**a, std::cmp::Reverse(**n)))
    else {
        let split = if scene.val { "test" } else { "train" };
        return vec![(
            base.join(split).join("good").join(format!("{name}.png")),
            png.to_vec(),
        )];
    };
    let ids: Vec<u32> = labels.iter().filter(is_defect).map(|l| l.id).collect();
    let mask: Vec<u8> = frame
        .ids
        .iter()
        .map(|v| if ids.contains(v) { 255 } else { 0 })
        .collect();
    vec![
        (
            base.join("test").join(top).join(format!("{name}.png")),
            png.to_vec(),
        ),
        (
            base.join("ground_truth")
                .join(top)
                .join(format!("{name}_mask.png")),
            png::png_u8(&mask, frame.width, frame.height),
        ),
    ]
}
