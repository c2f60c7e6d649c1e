//! The shipped scenes render from their configs and carry their scene-specific labels.

use serde_json::Value;

use super::common::*;

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Projects a model-frame point with an object's pose and the camera's K (OpenCV frame).
fn project(obj: &Value, k: &Value, p: [f64; 3]) -> Option<(f64, f64)> {
    let pose = &obj["pose"];
    let s = num(&pose["scale"]);
    let mut c = [0.0; 3];
    for (i, ci) in c.iter_mut().enumerate() {
        *ci = num(&pose["translation"][i])
            + (0..3)
                .map(|j| num(&pose["rotation"][i][j]) * s * p[j])
                .sum::<f64>();
    }
    if c[2] <= 0.0 {
        return None;
    }
    Some((
        num(&k[0][0]) * c[0] / c[2] + num(&k[0][2]),
        num(&k[1][1]) * c[1] / c[2] + num(&k[1][2]),
    ))
}

/// Every ID cell of every rendered tag is bright where its bit is 1 and dark where it is 0; the
/// COCO attributes carry the same bits and the id they spell.
#[test]
fn beesbook_tag_bits_agree_with_the_rendered_cells() {
    let dir = tmp();
    let mut cfg = load(&root().join("configs/beesbook.yaml"));
    cfg.count = 24;
    cfg.antialias = 1;
    generate(&cfg, dir.path(), 2, 1);
    let manifest = std::fs::read_to_string(dir.path().join("manifest.jsonl")).unwrap();
    let (mut checked, mut tags) = (0, 0);
    for line in manifest.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        let img = image::open(dir.path().join(entry["file"].as_str().unwrap()))
            .unwrap()
            .into_luma8();
        let k = &entry["camera"]["K"];
        for obj in entry["objects"].as_array().unwrap() {
            let p = &obj["params"];
            let (r, h) = (num(&p["radius"]), num(&p["height"]));
            let (inner, cells) = (num(&p["inner"]), num(&p["cells"]));
            let at = |rho: f64, deg: f64| -> Option<f64> {
                let a = deg.to_radians();
                let z = h * (1.0 - (rho / r).powi(2));
                let (u, v) = project(obj, k, [rho * a.cos(), rho * a.sin(), z])?;
                let (x, y) = (u.floor() as i64, v.floor() as i64);
                (x >= 0 && y >= 0 && x < img.width() as i64 && y < img.height() as i64)
                    .then(|| img.get_pixel(x as u32, y as u32).0[0] as f64)
            };
            // references on the same tag under the same light: the white rim, the black half
            let (Some(white), Some(black)) = (at((cells + r) / 2.0, 45.0), at(inner / 2.0, 270.0))
            else {
                continue;
            };
            tags += 1;
            assert!(
                white > black + 40.0,
                "{}: rim {white} not brighter than the black half {black}",
                entry["file"]
            );
            let mut id = 0u32;
            for b in 0..12 {
                let bit = num(&p[format!("bit_{b}")]);
                id += (bit as u32) << b;
                let Some(v) = at((inner + cells) / 2.0, 30.0 * b as f64 + 15.0) else {
                    continue;
                };
                let seen = if (v - black).abs() < (v - white).abs() {
                    0.0
                } else {
                    1.0
                };
                assert_eq!(
                    seen, bit,
                    "{}: cell {b} reads {v} (white {white}, black {black}) but bit_{b} = {bit}",
                    entry["file"]
                );
                checked += 1;
            }
            assert_eq!(id as f64, num(&p["id"]), "the bits spell the id");
        }
    }
    assert!(
        tags >= 20 && checked >= 200,
        "only {tags} tags, {checked} cells checked"
    );
    // the COCO annotations carry the id and bits as attributes
    let mut n = 0;
    for split in ["train", "val"] {
        let coco = read_json(
            &dir.path()
                .join(format!("annotations/instances_{split}.json")),
        );
        for a in coco["annotations"].as_array().unwrap() {
            let at = &a["attributes"];
            let id: u64 = (0..12)
                .map(|b| at[format!("bit_{b}")].as_u64().unwrap() << b)
                .sum();
            assert_eq!(Some(id), at["id"].as_u64());
            n += 1;
        }
    }
    assert!(n >= 20);
}

/// Every defect of the QC scene lies on the plate (its pixels border only the plate, other
/// defects or the image edge, never the background), and the anomaly layout pairs each defect
/// image with a mask of exactly its defects' pixels, while good images hold no defect.
#[test]
fn qc_defects_lie_on_the_plate_and_the_anomaly_layout_pairs_images_with_masks() {
    let dir = tmp();
    let mut cfg = load(&root().join("configs/qc_plate.yaml"));
    cfg.count = 40;
    cfg.antialias = 1;
    generate(&cfg, dir.path(), 2, 1);
    let defects = ["scratch", "crack", "stain"];
    let manifest = std::fs::read_to_string(dir.path().join("manifest.jsonl")).unwrap();
    let (mut defect_pixels, mut defect_images, mut good_images) = (0usize, 0, 0);
    for line in manifest.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        let file = entry["file"].as_str().unwrap();
        let (split, name) = (
            entry["split"].as_str().unwrap(),
            file.rsplit('/').next().unwrap().trim_end_matches(".png"),
        );
        let (w, h, ids) = read_u16_png(&dir.path().join(format!("masks/{split}/{name}.png")));
        let objs = entry["objects"].as_array().unwrap();
        let id_of = |class: &str| -> Vec<u16> {
            objs.iter()
                .filter(|o| o["class"] == class)
                .map(|o| o["id"].as_u64().unwrap() as u16)
                .collect()
        };
        let plate = id_of("plate");
        let all_defects: Vec<u16> = defects.iter().flat_map(|d| id_of(d)).collect();
        let labeled: Vec<u16> = objs
            .iter()
            .filter(|o| defects.contains(&o["class"].as_str().unwrap()) && o["labeled"] == true)
            .map(|o| o["id"].as_u64().unwrap() as u16)
            .collect();
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let v = ids[(y * w as i64 + x) as usize];
                if !all_defects.contains(&v) {
                    continue;
                }
                defect_pixels += 1;
                for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let n = ids[(ny * w as i64 + nx) as usize];
                    assert!(
                        n == v || plate.contains(&n) || all_defects.contains(&n),
                        "{file}: defect {v} at ({x}, {y}) borders id {n}, not the plate"
                    );
                }
            }
        }
        let image = std::fs::read(dir.path().join(file)).unwrap();
        let anomaly = dir.path().join("anomaly");
        if labeled.is_empty() {
            let sub = if split == "val" { "test" } else { "train" };
            let p = anomaly.join(format!("{sub}/good/{name}.png"));
            assert_eq!(std::fs::read(&p).unwrap(), image, "{}", p.display());
            good_images += 1;
            continue;
        }
        defect_images += 1;
        let class = defects
            .iter()
            .find(|d| anomaly.join(format!("test/{d}/{name}.png")).is_file())
            .unwrap_or_else(|| panic!("{file} has defects but no anomaly/test/<defect>/ copy"));
        assert_eq!(
            std::fs::read(anomaly.join(format!("test/{class}/{name}.png"))).unwrap(),
            image
        );
        let mask = image::open(anomaly.join(format!("ground_truth/{class}/{name}_mask.png")))
            .unwrap()
            .into_luma8();
        assert_eq!((mask.width(), mask.height()), (w, h));
        for (i, m) in mask.pixels().enumerate() {
            let want = if labeled.contains(&ids[i]) { 255 } else { 0 };
            assert_eq!(m.0[0], want, "{file}: mask pixel {i}");
        }
    }
    // every anomaly file belongs to one image: no strays, masks pair with images by name
    let mut n_files = 0;
    for e in walkdir::WalkDir::new(dir.path().join("anomaly")) {
        let e = e.unwrap();
        if !e.file_type().is_file() {
            continue;
        }
        n_files += 1;
        let rel = e.path().strip_prefix(dir.path().join("anomaly")).unwrap();
        let parts: Vec<String> = rel
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        if parts[0] == "ground_truth" {
            let img = parts[2].trim_end_matches("_mask.png");
            assert!(dir
                .path()
                .join(format!("anomaly/test/{}/{img}.png", parts[1]))
                .is_file());
        }
    }
    assert_eq!(n_files, good_images + 2 * defect_images);
    assert!(defect_images >= 10 && good_images >= 5 && defect_pixels > 500);
}
