//! A streaming COCO writer: image and annotation entries go to temporary fragment files as they
//! come (in image order), and `finish` stitches them into `instances_<split>.json`, so memory does
//! not grow with the number of images.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::config::ClassSpec;
use crate::labels::InstanceLabel;

/// One split's COCO file in the making.
pub struct CocoWriter {
    path: PathBuf,
    images: BufWriter<File>,
    annotations: BufWriter<File>,
    fragments: (PathBuf, PathBuf),
    next_ann_id: u64,
    pub annotation_count: u64,
    pub image_count: u64,
}

/// The JSON of one image entry.
pub fn image_entry(id: u64, file_name: &str, width: u32, height: u32) -> String {
    json!({"id": id, "file_name": file_name, "width": width, "height": height}).to_string()
}

/// The annotation bodies of an image's labelled objects, with their model attributes.
pub fn annotations(
    cfg: &crate::config::Config,
    scene: &crate::scene::Scene,
    labels: &[InstanceLabel],
) -> Vec<String> {
    labels
        .iter()
        .filter(|l| l.labeled)
        .map(|l| {
            let attributes = scene
                .instances
                .iter()
                .find(|i| i.id == l.id)
                .map(|i| &i.attributes);
            annotation_body(scene.index, l, &cfg.classes[l.class], attributes)
        })
        .collect()
}

/// The JSON of one annotation without its leading `"id"` (assigned in order by the writer).
pub fn annotation_body(
    image_id: u64,
    label: &InstanceLabel,
    class: &ClassSpec,
    attributes: Option<&std::collections::BTreeMap<String, f64>>,
) -> String {
    let b = label.bbox.expect("labelled instances have visible pixels");
    let mut a = json!({
        "image_id": image_id,
        "category_id": label.class + 1,
        "bbox": [b[0], b[1], b[2], b[3]],
        "area": label.rle.area(),
        "segmentation": {"size": [label.rle.height, label.rle.width], "counts": label.rle.to_coco_string()},
        "iscrowd": 0,
        "instance_id": label.id,
        "visibility": label.visibility,
        "bbox_full": label.bbox_full.map(|f| vec![f[0], f[1], f[2], f[3]]),
    });
    if !class.keypoints.is_empty() {
        let mut kps = Vec::with_capacity(label.keypoints.len() * 3);
        for k in &label.keypoints {
            kps.extend([json!(round2(k.x)), json!(round2(k.y)), json!(k.v)]);
        }
        a["keypoints"] = json!(kps);
        a["num_keypoints"] = json!(label.keypoints.iter().filter(|k| k.v > 0).count());
    }
    if let Some(attrs) = attributes.filter(|a| !a.is_empty()) {
        // whole numbers (ids, bits) as integers
        let m: serde_json::Map<String, serde_json::Value> = attrs
            .iter()
            .map(|(k, v)| {
                let j = if v.fract() == 0.0 && v.abs() < 1e15 {
                    json!(*v as i64)
                } else {
                    json!(v)
                };
                (k.clone(), j)
            })
            .collect();
        a["attributes"] = serde_json::Value::Object(m);
    }
    let s = a.to_string();
    s[1..].to_string()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl CocoWriter {
    /// Starts `path`, with fragments beside it.
    pub fn create(path: &Path) -> std::io::Result<CocoWriter> {
        let frag = |ext: &str| path.with_extension(ext);
        let fragments = (frag("images.part"), frag("annotations.part"));
        Ok(CocoWriter {
            path: path.to_path_buf(),
            images: BufWriter::new(File::create(&fragments.0)?),
            annotations: BufWriter::new(File::create(&fragments.1)?),
            fragments,
            next_ann_id: 1,
            annotation_count: 0,
            image_count: 0,
        })
    }

    /// Appends one image and its annotation bodies (from [`annotation_body`]).
    pub fn add(&mut self, image: &str, annotations: &[String]) -> std::io::Result<()> {
        self.add_image(image)?;
        for a in annotations {
            self.add_annotation(a)?;
        }
        Ok(())
    }

    /// Appends one image entry.
    pub fn add_image(&mut self, image: &str) -> std::io::Result<()> {
        writeln!(self.images, "{image}")?;
        self.image_count += 1;
        Ok(())
    }

    /// Appends one annotation body; its id is the next in order.
    pub fn add_annotation(&mut self, body: &str) -> std::io::Result<()> {
        writeln!(self.annotations, "{{\"id\":{},{body}", self.next_ann_id)?;
        self.next_ann_id += 1;
        self.annotation_count += 1;
        Ok(())
    }

    /// Writes the final JSON with the categories of `classes` and removes the fragments.
    pub fn finish(self, classes: &[ClassSpec], info: serde_json::Value) -> std::io::Result<()> {
        let categories: Vec<serde_json::Value> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut v = json!({"id": i + 1, "name": c.name, "supercategory": "object"});
                if !c.keypoints.is_empty() {
                    v["keypoints"] = json!(c.keypoints);
                    v["skeleton"] = json!([]);
                }
                v
            })
            .collect();
        self.finish_with(
            &serde_json::Value::from(categories).to_string(),
            &info.to_string(),
        )
    }

    /// Writes the final JSON with `categories` and `info` as given (JSON text) and removes the
    /// fragments.
    pub fn finish_with(mut self, categories: &str, info: &str) -> std::io::Result<()> {
        self.images.flush()?;
        self.annotations.flush()?;
        let mut out = BufWriter::new(File::create(&self.path)?);
        write!(
            out,
            "{{\"info\":{info},\"licenses\":[],\"categories\":{categories},\"images\":["
        )?;
        copy_lines(&self.fragments.0, &mut out)?;
        write!(out, "],\"annotations\":[")?;
        copy_lines(&self.fragments.1, &mut out)?;
        writeln!(out, "]}}")?;
        out.flush()?;
        std::fs::remove_file(&self.fragments.0)?;
        std::fs::remove_file(&self.fragments.1)?;
        Ok(())
    }
}

fn copy_lines(path: &Path, out: &mut impl Write) -> std::io::Result<()> {
    let r = BufReader::new(File::open(path)?);
    for (i, line) in r.lines().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(line?.as_bytes())?;
    }
    Ok(())
}
