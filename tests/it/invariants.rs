//! Invariants over a random batch with every built-in model, checked on the files as written:
//! visible box inside full box, RLE area = mask pixels = COCO area, visibility in (0, 1], keypoint
//! visibility agrees with the depth PNG, YOLO polygons cover their masks.

use rendergan::labels::Rle;

use super::common::*;

#[test]
fn labels_agree_with_masks_and_depth() {
    let dir = tmp();
    let out = dir.path().join("mixed");
    let cfg = load(&fixture("mixed.yaml"));
    let s = generate(&cfg, &out, 2, 2);
    assert_eq!(s.images, cfg.count);
    let mut checked = 0;
    let mut occluded_keypoints = 0;
    for split in ["train", "val"] {
        let coco = read_json(&out.join(format!("annotations/instances_{split}.json")));
        for img in coco["images"].as_array().unwrap() {
            let name = img["file_name"].as_str().unwrap();
            let (w, h, mask) = read_u16_png(&out.join("masks").join(split).join(name));
            let (_, _, depth) = read_u16_png(&out.join("depth").join(split).join(name));
            let anns: Vec<&serde_json::Value> = coco["annotations"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["image_id"] == img["id"])
                .collect();
            for a in anns {
                let id = a["instance_id"].as_u64().unwrap() as u16;
                let seg = &a["segmentation"];
                let rle = Rle::from_coco_string(seg["counts"].as_str().unwrap(), w, h).unwrap();
                let decoded = rle.to_mask();
                let pixels: Vec<bool> = mask.iter().map(|v| *v == id).collect();
                assert_eq!(
                    decoded, pixels,
                    "{split}/{name} instance {id}: RLE differs from mask"
                );
                let n = pixels.iter().filter(|p| **p).count() as u64;
                assert_eq!(a["area"].as_u64().unwrap(), n);
                let vis = a["visibility"].as_f64().unwrap();
                assert!(vis > 0.0 && vis <= 1.0, "visibility {vis}");
                let b: Vec<u64> = a["bbox"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect();
                let f: Vec<u64> = a["bbox_full"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect();
                assert!(
                    b[0] >= f[0]
                        && b[1] >= f[1]
                        && b[0] + b[2] <= f[0] + f[2]
                        && b[1] + b[3] <= f[1] + f[3],
                    "visible box {b:?} not inside full box {f:?}"
                );
                if vis == 1.0 {
                    assert_eq!(b, f, "a fully visible object has equal boxes");
                }
                if let Some(kps) = a["keypoints"].as_array() {
                    for k in kps.chunks(3) {
                        let (x, y, v) = (
                            k[0].as_f64().unwrap(),
                            k[1].as_f64().unwrap(),
                            k[2].as_u64().unwrap(),
                        );
                        if v == 0 {
                            continue;
                        }
                        assert!(x >= 0.0 && y >= 0.0 && x < w as f64 && y < h as f64);
                        let d = depth[y as usize * w as usize + x as usize];
                        if v == 1 {
                            // occluded: something nearer was drawn at that pixel
                            assert!(d > 0, "occluded keypoint over background");
                            occluded_keypoints += 1;
                        }
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} annotations checked");
    assert!(
        occluded_keypoints > 0,
        "the batch should contain occluded keypoints"
    );
}

/// Rasterises a polygon at pixel centres (even-odd rule).
fn fill(poly: &[(f64, f64)], w: usize, h: usize) -> Vec<bool> {
    let mut out = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            let mut inside = false;
            for i in 0..poly.len() {
                let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
                if (a.1 > py) != (b.1 > py) && px < a.0 + (py - a.1) * (b.0 - a.0) / (b.1 - a.1) {
                    inside = !inside;
                }
            }
            out[y * w + x] = inside;
        }
    }
    out
}

#[test]
fn yolo_segment_polygons_cover_their_masks() {
    let dir = tmp();
    let out = dir.path().join("mixed");
    let mut cfg = load(&fixture("mixed.yaml"));
    cfg.count = 8;
    generate(&cfg, &out, 2, 1);
    let coco = read_json(&out.join("annotations/instances_train.json"));
    let mut ious = Vec::new();
    for img in coco["images"].as_array().unwrap() {
        let name = img["file_name"].as_str().unwrap();
        let stem = name.trim_end_matches(".png");
        let (w, h, mask) = read_u16_png(&out.join("masks/train").join(name));
        let text =
            std::fs::read_to_string(out.join("labels/train").join(format!("{stem}.txt"))).unwrap();
        let anns: Vec<&serde_json::Value> = coco["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["image_id"] == img["id"])
            .collect();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            anns.len(),
            "{stem}: one YOLO line per COCO annotation"
        );
        for (line, a) in lines.iter().zip(anns) {
            let v: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .map(|x| x.parse().unwrap())
                .collect();
            let poly: Vec<(f64, f64)> = v
                .chunks(2)
                .map(|p| (p[0] * w as f64, p[1] * h as f64))
                .collect();
            let filled = fill(&poly, w as usize, h as usize);
            let id = a["instance_id"].as_u64().unwrap() as u16;
            let inst: Vec<bool> = mask.iter().map(|m| *m == id).collect();
            let inter = filled.iter().zip(&inst).filter(|(a, b)| **a && **b).count() as f64;
            let union = filled.iter().zip(&inst).filter(|(a, b)| **a || **b).count() as f64;
            ious.push(inter / union);
        }
    }
    assert!(!ious.is_empty());
    let mean = ious.iter().sum::<f64>() / ious.len() as f64;
    assert!(
        mean > 0.85,
        "mean polygon IoU {mean:.3} over {} objects",
        ious.len()
    );
}

#[test]
fn normals_face_the_camera() {
    let dir = tmp();
    let out = dir.path().join("mixed");
    let mut cfg = load(&fixture("mixed.yaml"));
    cfg.count = 4;
    generate(&cfg, &out, 2, 1);
    let (mut facing, mut total) = (0, 0);
    for entry in std::fs::read_dir(out.join("normals/train")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        let n = image::open(&path).unwrap().into_rgb8();
        let (_, _, mask) = read_u16_png(&out.join("masks/train").join(&name));
        for (px, m) in n.pixels().zip(&mask) {
            if *m == 0 {
                assert_eq!(px.0, [0, 0, 0], "background normals are zero");
                continue;
            }
            let v = px.0.map(|c| c as f64 / 255.0 * 2.0 - 1.0);
            let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            assert!((len - 1.0).abs() < 0.03, "normal length {len}");
            total += 1;
            // camera looks along +z, so a visible surface's normal points back: z < 0
            if v[2] < 0.05 {
                facing += 1;
            }
        }
    }
    assert!(total > 1000);
    assert!(
        facing as f64 / total as f64 > 0.97,
        "{facing} of {total} normals face the camera"
    );
}

#[test]
fn background_crops_come_from_the_folder_and_bad_files_are_skipped() {
    let dir = tmp();
    let bg = dir.path().join("backgrounds/nested");
    std::fs::create_dir_all(&bg).unwrap();
    let colours = [[200u8, 30, 30], [30, 200, 30], [30, 30, 200]];
    for (i, c) in colours.iter().enumerate() {
        image::RgbImage::from_pixel(120, 90, image::Rgb(*c))
            .save(bg.join(format!("bg{i}.png")))
            .unwrap();
    }
    std::fs::write(bg.join("broken.jpg"), b"not a jpeg").unwrap();
    std::fs::write(bg.join("notes.txt"), b"ignored").unwrap();
    let text = std::fs::read_to_string(fixture("mixed.yaml"))
        .unwrap()
        .replace(
            "background: {gradient: {top: [0.9, 0.9, 0.8], bottom: [0.2, 0.2, 0.3]}}",
            "background: {images: {dir: backgrounds}}",
        );
    let cfg_path = dir.path().join("bg.yaml");
    std::fs::write(&cfg_path, text).unwrap();
    let mut cfg = load(&cfg_path);
    cfg.count = 6;
    let out = dir.path().join("out");
    generate(&cfg, &out, 2, 1);
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(out.join("images/train")).unwrap() {
        let path = entry.unwrap().path();
        let img = image::open(&path).unwrap().into_rgb8();
        let (_, _, mask) = read_u16_png(&out.join("masks/train").join(path.file_name().unwrap()));
        // a background pixel away from objects (antialiased edges blend) is one of the colours
        let w = img.width() as usize;
        let far = (0..mask.len()).find(|&i| {
            let (x, y) = (i % w, i / w);
            x > 0
                && y > 0
                && x + 1 < w
                && y + 1 < img.height() as usize
                && [i - 1, i + 1, i - w, i + w, i]
                    .iter()
                    .all(|&j| mask[j] == 0)
        });
        let Some(i) = far else { continue };
        let px = img.get_pixel((i % w) as u32, (i / w) as u32).0;
        let k = colours
            .iter()
            .position(|c| *c == px)
            .unwrap_or_else(|| panic!("background pixel {px:?} is none of the folder's colours"));
        seen.insert(k);
    }
    assert!(
        seen.len() >= 2,
        "crops came from {} of 3 images",
        seen.len()
    );
}
