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

/// Warnings for the anomaly layout's test folders under `root` that hold no image (none
/// without the layout): anomalib's `Folder` refuses an empty folder that `anomaly_folder.py`
/// names (a small run, a rare defect, `split: {val: 0}`), so each names the fix. The defect
/// folders are read from disk ([`defects_on_disk`]): `generate` and `merge` (which has no
/// config) ask the same way. A shard's folders are its own part of the run: they may be empty
/// where the merged dataset's are not.
pub fn empty_folders(root: &Path) -> Vec<String> {
    let Some(defects) = defects_on_disk(root) else {
        return Vec::new();
    };
    let empty = |d: &str| {
        std::fs::read_dir(root.join("anomaly/test").join(d))
            .map_or(true, |mut it| it.next().is_none())
    };
    let mut out = Vec::new();
    if empty("good") {
        out.push("anomaly/test/good holds no image: anomalib's Folder needs defect-free test images, which are the val split's images without a defect; give split.val above 0, or more images".to_string());
    }
    for d in &defects {
        if empty(d) {
            out.push(format!(
                "anomaly/test/{d} holds no image (no image's largest defect was a {d}): anomalib's Folder refuses the empty folder anomaly_folder.py names; generate more images, raise the {d}'s count or its emphasis, or leave {d} out of output.defects"
            ));
        }
    }
    out
}

/// The defect folders of an anomaly layout on disk under `root` (`anomaly/test/*` but `good`,
/// sorted); None without the layout.
fn defects_on_disk(root: &Path) -> Option<Vec<String>> {
    let mut d: Vec<String> = std::fs::read_dir(root.join("anomaly/test"))
        .ok()?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "good")
        .collect();
    d.sort();
    Some(d)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_test_folders_are_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let defects = vec!["scratch".to_string(), "dent".to_string()];
        create_layout(dir.path(), &defects).unwrap();
        let test = dir.path().join("anomaly/test");
        std::fs::write(test.join("scratch/000001.png"), b"x").unwrap();
        let w = empty_folders(dir.path());
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("anomaly/test/good holds no image") && w[0].contains("split.val"));
        assert!(
            w[1].starts_with("anomaly/test/dent holds no image") && w[1].contains("output.defects")
        );
        assert_eq!(
            defects_on_disk(dir.path()),
            Some(vec!["dent".to_string(), "scratch".to_string()])
        );
        assert_eq!(defects_on_disk(&dir.path().join("nothing")), None);
        std::fs::write(test.join("good/000002.png"), b"x").unwrap();
        std::fs::write(test.join("dent/000003.png"), b"x").unwrap();
        assert!(empty_folders(dir.path()).is_empty());
    }
}
