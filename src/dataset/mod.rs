//! Dataset writers: everything on disk. Per image (in parallel): composite the background,
//! encode image / mask / depth PNGs, YOLO text, COCO and manifest entries. Then, in image order
//! (so files never depend on thread timing): COCO fragments, `manifest.jsonl`, and at the end
//! `instances_<split>.json`, `data.yaml` and `preview.png`. A run writes into a hidden sibling
//! folder and renames it into place only when complete, so an interrupted run loses nothing that
//! was there before. No wgpu here.

pub mod coco;
pub mod journal;
pub mod png;
pub mod preview;
pub mod run_folder;
pub mod yolo;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::config::Config;
use crate::labels::{self, InstanceLabel};
use crate::pixels::composite;
use crate::pixels::load::Backgrounds;
use crate::render::Frame;
use crate::scene::Scene;

/// CPU time spent per stage on one image.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub labels: Duration,
    pub encode: Duration,
    pub write: Duration,
}

/// What a worker hands back for one image.
pub struct Processed {
    pub index: u64,
    pub val: bool,
    coco_image: String,
    coco_annotations: Vec<String>,
    manifest_line: String,
    preview: Option<preview::Tile>,
    pub times: StageTimes,
}

/// Split folder name.
pub fn split_name(val: bool) -> &'static str {
    if val {
        "val"
    } else {
        "train"
    }
}

/// The file stem of image `index` ("000042").
pub fn stem(index: u64) -> String {
    format!("{index:06}")
}

/// The file beside `anomaly/` that loads it with anomalib (not named `anomalib.py`, which would
/// hide the package when run from the dataset folder).
pub const ANOMALIB_SNIPPET: &str = "anomaly_folder.py";

/// Python that builds anomalib's `Folder` datamodule over this dataset's `anomaly/`, with every
/// defect folder the config names.
fn anomalib_snippet(cfg: &Config, defects: &[String]) -> String {
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

/// Creates the folder tree of a dataset under `root`.
pub fn create_layout(root: &Path, cfg: &Config) -> Result<()> {
    let mut dirs = vec!["images"];
    if cfg.output.yolo.is_some() {
        dirs.push("labels");
    }
    if cfg.output.masks {
        dirs.push("masks");
    }
    if cfg.output.depth {
        dirs.push("depth");
    }
    if cfg.output.normals {
        dirs.push("normals");
    }
    for d in dirs {
        for s in ["train", "val"] {
            let p = root.join(d).join(s);
            std::fs::create_dir_all(&p)
                .with_context(|| format!("cannot create {}", p.display()))?;
        }
    }
    if cfg.output.coco {
        let p = root.join("annotations");
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    if let Some(defects) = &cfg.output.anomaly {
        let a = root.join("anomaly");
        let mut dirs = vec![a.join("train/good"), a.join("test/good")];
        for d in defects {
            dirs.push(a.join("test").join(d));
            dirs.push(a.join("ground_truth").join(d));
        }
        for p in dirs {
            std::fs::create_dir_all(&p)
                .with_context(|| format!("cannot create {}", p.display()))?;
        }
    }
    Ok(())
}

/// Labels, encodes and writes one image's files; returns what the in-order writer needs.
pub fn process(
    cfg: &Config,
    scene: &Scene,
    frame: &Frame,
    bgs: Option<&Backgrounds>,
    root: &Path,
    want_preview: bool,
) -> Result<Processed> {
    let t0 = Instant::now();
    let labels = labels::extract(scene, frame, &cfg.labels);
    let (w, h) = (frame.width, frame.height);
    let split = split_name(scene.val);
    let name = stem(scene.index);
    let yolo = cfg.output.yolo.map(|task| {
        let k = cfg
            .classes
            .iter()
            .map(|c| c.keypoints.len())
            .max()
            .unwrap_or(0);
        yolo::label_text(task, &labels, w, h, k)
    });
    let coco_image = coco::image_entry(scene.index, &format!("{name}.png"), w, h);
    let coco_annotations: Vec<String> = if cfg.output.coco {
        labels
            .iter()
            .filter(|l| l.labeled)
            .map(|l| {
                let attributes = scene
                    .instances
                    .iter()
                    .find(|i| i.id == l.id)
                    .map(|i| &i.attributes);
                coco::annotation_body(scene.index, l, &cfg.classes[l.class], attributes)
            })
            .collect()
    } else {
        Vec::new()
    };
    let manifest_line =
        manifest_entry(cfg, scene, &labels, &format!("images/{split}/{name}.png")).to_string();
    let t1 = Instant::now();

    let rgb = composite::finish(&scene.background, bgs, &frame.color, w, h);
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![(
        root.join("images").join(split).join(format!("{name}.png")),
        png::png_rgb(&rgb, w, h),
    )];
    if cfg.output.masks {
        let ids = frame.ids.iter().map(|&v| {
            if v == crate::render::SCENERY_ID {
                0
            } else {
                v as u16
            }
        });
        files.push((
            root.join("masks").join(split).join(format!("{name}.png")),
            png::png_u16(ids, w, h),
        ));
    }
    if cfg.output.depth {
        let s = cfg.output.depth_scale;
        let d = frame
            .depth
            .iter()
            .map(|&z| (z as f64 * s).round().clamp(0.0, 65535.0) as u16);
        files.push((
            root.join("depth").join(split).join(format!("{name}.png")),
            png::png_u16(d, w, h),
        ));
    }
    if let Some(n) = &frame.normals {
        // background stays black: RGBA (n · 0.5 + 0.5, 1) where drawn, all zero elsewhere
        let rgb = composite::drop_alpha(n);
        files.push((
            root.join("normals").join(split).join(format!("{name}.png")),
            png::png_rgb(&rgb, w, h),
        ));
    }
    if let Some(defects) = &cfg.output.anomaly {
        files.extend(anomaly_files(
            cfg,
            defects,
            scene,
            &labels,
            frame,
            root,
            &files[0].1,
        ));
    }
    if let Some(text) = yolo {
        files.push((
            root.join("labels").join(split).join(format!("{name}.txt")),
            text.into_bytes(),
        ));
    }
    let t2 = Instant::now();
    for (path, bytes) in &files {
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let t3 = Instant::now();
    let preview = want_preview.then(|| preview::Tile::new(rgb, w, h, &labels, &frame.ids));
    Ok(Processed {
        index: scene.index,
        val: scene.val,
        coco_image,
        coco_annotations,
        manifest_line,
        preview,
        times: StageTimes {
            labels: t1 - t0,
            encode: t2 - t1,
            write: t3 - t2,
        },
    })
}

/// The image again in the anomaly-detection layout (anomalib's Folder datamodule, MVTec style):
/// `anomaly/train/good/` and `anomaly/test/good/` (the train and val splits) for images with no
/// labelled defect; `anomaly/test/<defect>/` plus `anomaly/ground_truth/<defect>/<name>_mask.png`
/// (0/255, the union of every defect's visible pixels) for the others, filed under the defect
/// class with the most visible pixels.
fn anomaly_files(
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

fn manifest_entry(
    cfg: &Config,
    scene: &Scene,
    labels: &[InstanceLabel],
    file: &str,
) -> serde_json::Value {
    let objects: Vec<serde_json::Value> = scene
        .instances
        .iter()
        .zip(labels)
        .map(|(inst, l)| {
            json!({
                "id": inst.id,
                "class": inst.class.map(|c| cfg.classes[c].name.as_str()),
                "class_index": inst.class,
                "parent": inst.parent,
                "model": inst.model,
                "params": inst.params,
                "pose": l.pose,
                "bbox": l.bbox,
                "bbox_full": l.bbox_full,
                "visible_pixels": l.visible_pixels,
                "visibility": l.visibility,
                "keypoints": l.keypoints,
                "labeled": l.labeled,
            })
        })
        .collect();
    json!({
        "index": scene.index,
        "seed": scene.seed,
        "split": split_name(scene.val),
        "file": file,
        "width": cfg.width,
        "height": cfg.height,
        "camera": {"K": scene.camera.k(), "params": scene.camera},
        "lights": scene.lights,
        "ambient": scene.ambient,
        "background": scene.background,
        "objects": objects,
        "skipped_for_overlap": scene.skipped_for_overlap,
    })
}

/// Writes the parts of a dataset that must come in image order.
pub struct DatasetWriter {
    root: PathBuf,
    coco: Option<(coco::CocoWriter, coco::CocoWriter)>,
    manifest: BufWriter<File>,
    /// The resume journal and the first index it does not hold yet.
    journal: (BufWriter<File>, u64),
    pending: BTreeMap<u64, Processed>,
    next: u64,
    pub tiles: Vec<preview::Tile>,
    pub images: u64,
    pub annotations: u64,
    has_val: bool,
}

impl DatasetWriter {
    /// Starts the in-order files under `root` (layout already created); the resume journal there
    /// already holds images `0..journaled`.
    pub fn new(root: &Path, cfg: &Config, journaled: u64) -> Result<DatasetWriter> {
        let create = |p: PathBuf| -> Result<BufWriter<File>> {
            let f = File::create(&p).with_context(|| format!("cannot create {}", p.display()))?;
            Ok(BufWriter::new(f))
        };
        let jp = root.join(journal::JOURNAL);
        let jf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&jp)
            .with_context(|| format!("cannot open {}", jp.display()))?;
        let coco = if cfg.output.coco {
            let a = root.join("annotations");
            let create = |name: &str| {
                let p = a.join(name);
                coco::CocoWriter::create(&p)
                    .with_context(|| format!("cannot create {} (or its parts)", p.display()))
            };
            Some((
                create("instances_train.json")?,
                create("instances_val.json")?,
            ))
        } else {
            None
        };
        Ok(DatasetWriter {
            root: root.to_path_buf(),
            coco,
            manifest: create(root.join("manifest.jsonl"))?,
            journal: (BufWriter::new(jf), journaled),
            pending: BTreeMap::new(),
            next: 0,
            tiles: Vec::new(),
            images: 0,
            annotations: 0,
            has_val: false,
        })
    }

    /// Takes one processed image; writes it and any that were waiting for it, in order.
    pub fn accept(&mut self, p: Processed) -> Result<()> {
        self.pending.insert(p.index, p);
        while let Some(p) = self.pending.remove(&self.next) {
            let root = &self.root;
            let at = |file: &str| format!("cannot write {}", root.join(file).display());
            if let Some((train, val)) = &mut self.coco {
                let (w, split) = if p.val {
                    (val, "val")
                } else {
                    (train, "train")
                };
                w.add(&p.coco_image, &p.coco_annotations).with_context(|| {
                    at(&format!(
                        "annotations/instances_{split}.images.part (or .annotations.part)"
                    ))
                })?;
            }
            writeln!(self.manifest, "{}", p.manifest_line).with_context(|| at("manifest.jsonl"))?;
            if p.index >= self.journal.1 {
                // flushed per image: a kill loses no image whose files are written
                writeln!(self.journal.0, "{}", journal::line(&p))
                    .and_then(|_| self.journal.0.flush())
                    .with_context(|| at(journal::JOURNAL))?;
                self.journal.1 = p.index + 1;
            }
            self.annotations += p.coco_annotations.len() as u64;
            self.has_val |= p.val;
            if let Some(t) = p.preview {
                self.tiles.push(t);
            }
            self.images += 1;
            self.next += 1;
        }
        Ok(())
    }

    /// Images accepted but still waiting for an earlier index.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// Writes COCO, data.yaml and preview.png.
    pub fn finish(mut self, cfg: &Config) -> Result<()> {
        if !self.pending.is_empty() {
            bail!(
                "internal: {} images never got written (a worker failed)",
                self.pending.len()
            );
        }
        let root = self.root.clone();
        let at = |file: &str| format!("cannot write {}", root.join(file).display());
        self.manifest
            .flush()
            .with_context(|| at("manifest.jsonl"))?;
        self.journal
            .0
            .flush()
            .with_context(|| at(journal::JOURNAL))?;
        if let Some((train, val)) = self.coco.take() {
            let info = json!({
                "description": format!("rendergan dataset from {}", cfg.file.file_name().map_or(cfg.file.display().to_string(), |n| n.to_string_lossy().into_owned())),
                "version": env!("CARGO_PKG_VERSION"),
                "seed": cfg.seed,
            });
            train
                .finish(&cfg.classes, info.clone())
                .with_context(|| at("annotations/instances_train.json"))?;
            val.finish(&cfg.classes, info)
                .with_context(|| at("annotations/instances_val.json"))?;
        }
        if !self.has_val {
            // no image went to val (split.val: 0, or too few images): no empty val folders
            for d in ["images", "labels", "masks", "depth", "normals"] {
                let _ = std::fs::remove_dir(self.root.join(d).join("val"));
            }
        }
        if let Some(task) = cfg.output.yolo {
            // no `path:`: ultralytics then reads the folders beside data.yaml, wherever the
            // dataset was moved or copied
            let text = yolo::data_yaml(self.has_val, &cfg.classes, task);
            std::fs::write(self.root.join("data.yaml"), text).with_context(|| at("data.yaml"))?;
        }
        if let Some(defects) = &cfg.output.anomaly {
            let text = anomalib_snippet(cfg, defects);
            std::fs::write(self.root.join(ANOMALIB_SNIPPET), text)
                .with_context(|| at(ANOMALIB_SNIPPET))?;
        }
        if !self.tiles.is_empty() {
            let sheet = preview::contact_sheet(&self.tiles);
            sheet
                .save(self.root.join("preview.png"))
                .with_context(|| at("preview.png"))?;
        }
        Ok(())
    }
}
