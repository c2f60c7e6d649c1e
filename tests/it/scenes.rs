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
