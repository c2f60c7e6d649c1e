//! Dataset writers: everything on disk. Per image (in parallel), from its finished pixels and
//! its render's label buffers: encode image / mask / depth PNGs, YOLO text, COCO and manifest entries. Then, in image order
//! (so files never depend on thread timing): COCO fragments, `manifest.jsonl`, and at the end
//! `instances_<split>.json`, `data.yaml` and `preview.png`. A run writes into a hidden sibling
//! folder and renames it into place only when complete, so an interrupted run loses nothing that
//! was there before. No wgpu here.

pub mod anomaly;
pub mod coco;
pub mod journal;
pub mod manifest;
pub mod masks;
pub mod png;
pub mod preview;
pub mod run_folder;
pub mod shard;
pub mod webdataset;
pub mod yolo;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::config::Config;
use crate::labels;
use crate::pixels::composite::Composited;
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
        anomaly::create_layout(root, defects)?;
    }
    Ok(())
}

/// Labels, encodes and writes one image's files: its labels from the render `frame`, its
/// pixels the finished `image`; returns what the in-order writer needs.
pub fn process(
    cfg: &Config,
    scene: &Scene,
    frame: &Frame,
    image: Composited,
    root: &Path,
    want_preview: bool,
    augment: Option<&crate::labels::manifest::AugmentNote>,
) -> Result<Processed> {
    let t0 = Instant::now();
    let labels = labels::extract(scene, frame, &cfg.labels);
    let (w, h) = (frame.width, frame.height);
    let split = split_name(scene.val);
    let name = stem(scene.index);
    let yolo = cfg
        .output
        .yolo
        .map(|task| yolo::label_text(task, &labels, w, h, yolo::keypoint_count(&cfg.classes)));
    let coco_image = coco::image_entry(scene.index, &format!("{name}.png"), w, h);
    let coco_annotations = if cfg.output.coco {
        coco::annotations(cfg, scene, &labels)
    } else {
        Vec::new()
    };
    let manifest_line = manifest::entry(
        cfg,
        scene,
        &labels,
        &format!("images/{split}/{name}.png"),
        augment,
    )
    .to_string();
    let t1 = Instant::now();

    let rgb = image.rgb;
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![(
        root.join("images").join(split).join(format!("{name}.png")),
        png::png_rgb(&rgb, w, h),
    )];
    files.extend(masks::files(cfg, frame, root, split, &name));
    if let Some(defects) = &cfg.output.anomaly {
        files.extend(anomaly::files(
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

/// The message of a failed write of `file` (relative to the dataset folder `root`).
fn cannot_write(root: &Path, file: &str) -> String {
    format!("cannot write {}", root.join(file).display())
}

/// Writes the parts of a dataset that must come in image order.
pub struct DatasetWriter {
    root: PathBuf,
    coco: Option<(coco::CocoWriter, coco::CocoWriter)>,
    manifest: BufWriter<File>,
    /// WebDataset tars (`formats: [..., webdataset]`), and whether samples carry masks.
    webdataset: Option<(webdataset::WebDatasetWriter, bool)>,
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
    /// Starts the in-order files under `root` (layout already created) for images from `first`
    /// on; the resume journal there already holds images `first..journaled`.
    pub fn new(root: &Path, cfg: &Config, first: u64, journaled: u64) -> Result<DatasetWriter> {
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
            webdataset: cfg
                .output
                .webdataset
                .map(|n| webdataset::WebDatasetWriter::new(root, n).map(|w| (w, cfg.output.masks)))
                .transpose()?,
            journal: (BufWriter::new(jf), journaled),
            pending: BTreeMap::new(),
            next: first,
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
            let at = |file: &str| cannot_write(root, file);
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
            if let Some((w, masks)) = &mut self.webdataset {
                let split = split_name(p.val);
                let files = webdataset::sample(
                    root,
                    split,
                    &stem(p.index),
                    *masks,
                    &p.coco_annotations,
                    &p.manifest_line,
                )?;
                w.add(split, &files)?;
            }
            self.images += 1;
            self.next += 1;
        }
        Ok(())
    }

    /// The next image index the in-order files take.
    pub fn next_index(&self) -> u64 {
        self.next
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
        let at = |file: &str| cannot_write(&root, file);
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
            let text = anomaly::anomalib_snippet(cfg, defects);
            std::fs::write(self.root.join(anomaly::ANOMALIB_SNIPPET), text)
                .with_context(|| at(anomaly::ANOMALIB_SNIPPET))?;
        }
        if let Some((w, _)) = self.webdataset.take() {
            w.finish()?;
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
