//! A tiny fixed scene whose labels were worked out by hand (geometry in tests/fixtures/tiny.yaml),
//! then the exact COCO and YOLO files it must produce (tests/golden/tiny/). On a mismatch the
//! actual file is written next to the test's temp output and its path is printed.

use super::common::*;

fn ann(coco: &serde_json::Value, instance: u64) -> &serde_json::Value {
    coco["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["instance_id"] == instance)
        .unwrap()
}

#[test]
fn hand_checked_boxes_visibility_and_keypoints() {
    let dir = tmp();
    let out = dir.path().join("tiny");
    generate(&load(&fixture("tiny.yaml")), &out, 1, 1);
    let coco = read_json(&out.join("annotations/instances_train.json"));
    // low box: 8 × 8 px top face at 28..36, of which the high box hides u 30..36 → 2 × 8 visible
    let low = ann(&coco, 1);
    assert_eq!(low["bbox"], serde_json::json!([28, 28, 2, 8]));
    assert_eq!(low["bbox_full"], serde_json::json!([28, 28, 8, 8]));
    assert_eq!(low["area"], 16);
    assert_eq!(low["visibility"].as_f64().unwrap(), 0.25);
    // top keypoint (32, 32) lies under the high box; bottom is under its own top face
    assert_eq!(
        low["keypoints"],
        serde_json::json!([32.0, 32.0, 1, 32.0, 32.0, 1])
    );
    // high box: 16 × 16 px, fully visible; its top keypoint (38, 32) is visible
    let high = ann(&coco, 2);
    assert_eq!(high["bbox"], serde_json::json!([30, 24, 16, 16]));
    assert_eq!(high["bbox_full"], serde_json::json!([30, 24, 16, 16]));
    assert_eq!(high["area"], 256);
    assert_eq!(high["visibility"].as_f64().unwrap(), 1.0);
    // its bottom keypoint is at depth 3: u = 32 + 32 · 0.375 / 3 = 36, under its own top face
    assert_eq!(
        high["keypoints"],
        serde_json::json!([38.0, 32.0, 2, 36.0, 32.0, 1])
    );
    assert_eq!(high["num_keypoints"], 2);
    // masks and depth agree: ids at a pixel of each, depth in millimetres (scale 1000)
    let (w, _, mask) = read_u16_png(&out.join("masks/train/000000.png"));
    let (_, _, depth) = read_u16_png(&out.join("depth/train/000000.png"));
    let at = |x: usize, y: usize| y * w as usize + x;
    assert_eq!((mask[at(29, 30)], depth[at(29, 30)]), (1, 4000));
    assert_eq!((mask[at(40, 26)], depth[at(40, 26)]), (2, 2000));
    assert_eq!((mask[at(5, 5)], depth[at(5, 5)]), (0, 0));
    // manifest: K and the pose of the high box (straight down: t = (y, x, depth) of its centre)
    let manifest = std::fs::read_to_string(out.join("manifest.jsonl")).unwrap();
    let m: serde_json::Value = serde_json::from_str(manifest.lines().next().unwrap()).unwrap();
    let k: Vec<f64> = m["camera"]["K"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    for (got, want) in k
        .iter()
        .zip([32.0, 0.0, 32.0, 0.0, 32.0, 32.0, 0.0, 0.0, 1.0])
    {
        assert!((got - want).abs() < 1e-9, "K {k:?}");
    }
    let t: Vec<f64> = m["objects"][1]["pose"]["translation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (got, want) in t.iter().zip([0.375, 0.0, 2.5]) {
        assert!((got - want).abs() < 1e-5, "translation {t:?}");
    }
}

#[test]
fn golden_coco_and_yolo_files() {
    let dir = tmp();
    let out = dir.path().join("tiny");
    generate(&load(&fixture("tiny.yaml")), &out, 1, 1);
    for d in ["images", "labels", "masks", "depth"] {
        assert!(out.join(d).join("train").is_dir(), "{d}/train");
        assert!(
            !out.join(d).join("val").exists(),
            "split.val: 0 leaves no {d}/val"
        );
    }
    let golden = root().join("tests/golden/tiny");
    for (actual, name) in [
        ("annotations/instances_train.json", "instances_train.json"),
        ("labels/train/000000.txt", "000000.txt"),
    ] {
        let got = std::fs::read_to_string(out.join(actual)).unwrap();
        let want_path = golden.join(name);
        let want = std::fs::read_to_string(&want_path).unwrap_or_default();
        if got != want {
            let keep = std::env::temp_dir().join(format!("rendergan-golden-actual-{name}"));
            std::fs::write(&keep, &got).unwrap();
            panic!(
                "{} differs from the golden {}; actual written to {}",
                actual,
                want_path.display(),
                keep.display()
            );
        }
    }
}
