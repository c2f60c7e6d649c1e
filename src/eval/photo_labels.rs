//! Box labels of the user's photos from a COCO file (`eval --real-labels`), matched to the
//! photos of `--real` by file name, so that the detector probe can be scored on them.

use std::collections::HashMap;
use std::path::Path;

use crate::config::InputError;
use crate::pixels::photos::RealSet;

/// The labels of one photo of the real set.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoLabels {
    /// Index in the real set's images.
    pub index: usize,
    /// Boxes `[x, y, w, h]` in the photo's own pixels (every category; crowd regions left
    /// out).
    pub boxes: Vec<[f32; 4]>,
    /// The photo's width and height as labelled.
    pub size: (u32, u32),
}

/// The photos of `real` that `path` (a COCO instances file) labels, in the real set's order.
/// A photo the file lists without boxes counts, with no boxes (an image with nothing to find);
/// photos the file does not list are left out. Errors name the flag and the fix. Long: one
/// check per way a COCO file can fail to label the photos, each with its own message.
pub fn read(path: &Path, real: &RealSet) -> Result<Vec<PhotoLabels>, InputError> {
    let flag = format!("--real-labels {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| {
        InputError(format!(
            "{flag}: cannot read it ({e}); give the COCO json (instances) of the photos in --real"
        ))
    })?;
    let data: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        InputError(format!(
            "{flag}: not JSON ({e}); give a COCO instances file (images, annotations)"
        ))
    })?;
    let (Some(images), Some(anns)) = (data["images"].as_array(), data["annotations"].as_array())
    else {
        return Err(InputError(format!(
            "{flag}: no `images` and `annotations` lists; give a COCO instances file as detector tools write it"
        )));
    };
    // a photo is found by its path under --real, or by its bare name when that is unique
    let mut by_path = HashMap::new();
    let mut by_name: HashMap<String, Option<usize>> = HashMap::new();
    for (i, f) in real.files.iter().enumerate() {
        let rel = f.strip_prefix(&real.dir).unwrap_or(f);
        by_path.insert(slashed(rel), i);
        if let Some(n) = f.file_name() {
            by_name
                .entry(n.to_string_lossy().into_owned())
                .and_modify(|v| *v = None)
                .or_insert(Some(i));
        }
    }
    let mut of_id: HashMap<i64, usize> = HashMap::new();
    let mut out: Vec<PhotoLabels> = Vec::new();
    for (k, im) in images.iter().enumerate() {
        let (Some(id), Some(name)) = (im["id"].as_i64(), im["file_name"].as_str()) else {
            return Err(InputError(format!(
                "{flag}: images[{k}] has no integer `id` or no `file_name`"
            )));
        };
        let found = by_path.get(&slashed(Path::new(name))).copied().or_else(|| {
            Path::new(name)
                .file_name()
                .and_then(|n| by_name.get(n.to_string_lossy().as_ref()).copied().flatten())
        });
        let Some(index) = found else { continue };
        let real_img = &real.images[index];
        let size = match (im["width"].as_u64(), im["height"].as_u64()) {
            (Some(w), Some(h)) if w > 0 && h > 0 => (w as u32, h as u32),
            _ => image::image_dimensions(&real.files[index]).map_err(|e| {
                InputError(format!(
                    "{flag}: images[{k}] ({name}) has no width/height and the photo cannot be read for them ({e})"
                ))
            })?,
        };
        // the labels must be of this photo as it is: the same shape
        let (a, b) = (
            size.0 as f64 / size.1 as f64,
            real_img.width() as f64 / real_img.height() as f64,
        );
        if (a / b - 1.0).abs() > 0.02 {
            return Err(InputError(format!(
                "{flag}: images[{k}] ({name}) is labelled as {}×{} px but the photo is {}×{} in shape: these labels are of another image (or a rotated one); label the photo as it is",
                size.0,
                size.1,
                real_img.width(),
                real_img.height()
            )));
        }
        of_id.insert(id, out.len());
        out.push(PhotoLabels {
            index,
            boxes: Vec::new(),
            size,
        });
    }
    if out.is_empty() {
        return Err(InputError(format!(
            "{flag}: none of its {} image(s) is a photo of --real {} (file_name is matched to the path under that folder, or to a unique bare name); give the labels of these photos",
            images.len(),
            real.dir.display()
        )));
    }
    for (k, a) in anns.iter().enumerate() {
        let Some(&at) = a["image_id"].as_i64().and_then(|id| of_id.get(&id)) else {
            continue;
        };
        if a["iscrowd"].as_i64().unwrap_or(0) != 0 {
            continue;
        }
        let b: Vec<f32> = a["bbox"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|x| x.as_f64())
                    .map(|x| x as f32)
                    .collect()
            })
            .unwrap_or_default();
        if b.len() != 4 || b[2] < 0.0 || b[3] < 0.0 {
            return Err(InputError(format!(
                "{flag}: annotations[{k}] has no `bbox` [x, y, width, height] of four numbers"
            )));
        }
        out[at].boxes.push([b[0], b[1], b[2], b[3]]);
    }
    if out.iter().all(|p| p.boxes.is_empty()) {
        return Err(InputError(format!(
            "{flag}: its {} photo(s) of --real hold no boxes: there is nothing to find; give labels with the objects' boxes",
            out.len()
        )));
    }
    out.sort_by_key(|p| p.index);
    Ok(out)
}

fn slashed(p: &Path) -> String {
    p.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_set(dir: &Path, names: &[&str]) -> RealSet {
        for n in names {
            let p = dir.join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            image::RgbImage::from_pixel(80, 40, image::Rgb([90, 90, 90]))
                .save(&p)
                .unwrap();
        }
        RealSet::load_flag(dir, 256, "--real").unwrap()
    }

    fn write(dir: &Path, v: serde_json::Value) -> std::path::PathBuf {
        let p = dir.join("gt.json");
        std::fs::write(&p, v.to_string()).unwrap();
        p
    }

    #[test]
    fn photos_are_matched_by_path_or_name_and_boxes_kept() {
        let t = tempfile::tempdir().unwrap();
        let real = real_set(&t.path().join("real"), &["a.png", "sub/b.png", "c.png"]);
        let gt = write(
            t.path(),
            serde_json::json!({
                "images": [
                    {"id": 1, "file_name": "sub/b.png", "width": 160, "height": 80},
                    {"id": 2, "file_name": "/elsewhere/a.png", "width": 80, "height": 40},
                    {"id": 3, "file_name": "not-here.png", "width": 80, "height": 40}
                ],
                "annotations": [
                    {"id": 1, "image_id": 1, "bbox": [1, 2, 3, 4], "category_id": 1},
                    {"id": 2, "image_id": 1, "bbox": [0, 0, 9, 9], "iscrowd": 1},
                    {"id": 3, "image_id": 3, "bbox": [5, 5, 5, 5]}
                ]
            }),
        );
        let got = read(&gt, &real).unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|p| real.files[p.index].file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.png", "b.png"]);
        assert_eq!(got[0].boxes, Vec::<[f32; 4]>::new()); // listed, nothing in it
        assert_eq!(got[1].boxes, vec![[1.0, 2.0, 3.0, 4.0]]); // the crowd region left out
        assert_eq!(got[1].size, (160, 80));
    }

    #[test]
    fn labels_of_other_photos_or_shapes_are_refused_naming_the_flag() {
        let t = tempfile::tempdir().unwrap();
        let real = real_set(&t.path().join("real"), &["a.png"]);
        let other = write(
            t.path(),
            serde_json::json!({"images": [{"id": 1, "file_name": "z.png"}], "annotations": []}),
        );
        let e = read(&other, &real).unwrap_err().0;
        assert!(
            e.contains("--real-labels") && e.contains("none of its 1 image"),
            "{e}"
        );
        let rotated = write(
            t.path(),
            serde_json::json!({
                "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 80}],
                "annotations": [{"image_id": 1, "bbox": [1, 1, 5, 5]}]
            }),
        );
        let e = read(&rotated, &real).unwrap_err().0;
        assert!(e.contains("another image"), "{e}");
        let empty = write(
            t.path(),
            serde_json::json!({"images": [{"id": 1, "file_name": "a.png"}], "annotations": []}),
        );
        assert!(read(&empty, &real)
            .unwrap_err()
            .0
            .contains("nothing to find"));
        std::fs::write(t.path().join("bad.json"), "{").unwrap();
        let e = read(&t.path().join("bad.json"), &real).unwrap_err().0;
        assert!(e.contains("not JSON"), "{e}");
    }
}
