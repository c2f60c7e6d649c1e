//! The shipped scenes render from their configs and carry their scene-specific labels.

use serde_json::Value;

use super::common::*;

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Generates `count` images of a shipped scene without antialiasing (so every pixel of the image
/// belongs to one instance) and returns the folder with its manifest entries.
fn scene(config: &str, count: u64) -> (tempfile::TempDir, Vec<Value>) {
    scene_with(config, count, None)
}

/// [`scene`], with a trained run's learned stages applied.
pub fn scene_with(
    config: &str,
    count: u64,
    augment: Option<&std::path::Path>,
) -> (tempfile::TempDir, Vec<Value>) {
    let dir = tmp();
    let mut cfg = load(&root().join(format!("configs/{config}.yaml")));
    cfg.count = count;
    cfg.antialias = 1;
    cfg.augment = augment.map(|p| p.to_path_buf());
    generate(&cfg, dir.path(), 2, 1);
    let manifest = std::fs::read_to_string(dir.path().join("manifest.jsonl")).unwrap();
    let entries = manifest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (dir, entries)
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

/// Reads the 12 ID cells of every tag in the images of `dir` back against the bits of its
/// manifest `entries`: each cell is the mean of three pixels along its arc, read as the nearer of
/// the tag's white rim and black half (each also a mean of three). Returns the tags, the cells
/// checked and the cells read wrong (with the first few described).
pub fn read_tag_bits(dir: &std::path::Path, entries: &[Value]) -> (usize, usize, Vec<String>) {
    let (mut checked, mut tags) = (0, 0);
    let mut wrong = Vec::new();
    for entry in entries {
        let img = image::open(dir.join(entry["file"].as_str().unwrap()))
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
            let at = |rho: f64, deg: f64| -> Option<f64> {
                Some((at(rho, deg - 4.0)? + at(rho, deg)? + at(rho, deg + 4.0)?) / 3.0)
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
                if seen != bit {
                    wrong.push(format!(
                        "{}: cell {b} reads {v:.0} (white {white:.0}, black {black:.0}) but bit_{b} = {bit}",
                        entry["file"]
                    ));
                }
                checked += 1;
            }
            assert_eq!(id as f64, num(&p["id"]), "the bits spell the id");
        }
    }
    (tags, checked, wrong)
}

/// Every ID cell of every rendered tag is bright where its bit is 1 and dark where it is 0; the
/// COCO attributes carry the same bits and the id they spell.
#[test]
fn beesbook_tag_bits_agree_with_the_rendered_cells() {
    let (dir, entries) = scene("beesbook", 24);
    let (tags, checked, wrong) = read_tag_bits(dir.path(), &entries);
    assert!(
        tags >= 20 && checked >= 200,
        "only {tags} tags, {checked} cells checked"
    );
    assert!(wrong.is_empty(), "{wrong:#?}");

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
/// defects or the image edge, never the background), except a chipped edge, which is a bite out
/// of the plate's edge: it borders both the plate and the background. The anomaly layout pairs
/// each defect image with a mask of exactly its defects' pixels; good images hold no defect.
#[test]
fn qc_defects_lie_on_the_plate_and_the_anomaly_layout_pairs_images_with_masks() {
    let (dir, entries) = scene("qc_plate", 60);
    let defects = ["scratch", "crack", "stain", "dent", "chipped_edge"];
    let mut chips = 0;
    let (mut defect_pixels, mut defect_images, mut good_images) = (0usize, 0, 0);
    for entry in &entries {
        let file = entry["file"].as_str().unwrap();
        let (split, name) = (
            entry["split"].as_str().unwrap(),
            file.rsplit('/').next().unwrap().trim_end_matches(".png"),
        );
        let (w, h, ids) = mask_of(dir.path(), entry);
        let objs = entry["objects"].as_array().unwrap();
        let id_of = |class: &str| -> Vec<u16> {
            objs.iter()
                .filter(|o| o["class"] == class)
                .map(|o| o["id"].as_u64().unwrap() as u16)
                .collect()
        };
        let plate = id_of("plate");
        let chip_ids = id_of("chipped_edge");
        let all_defects: Vec<u16> = defects.iter().flat_map(|d| id_of(d)).collect();
        // per chip: (pixels, borders the plate, borders the background or the image edge)
        let mut chip_sides: std::collections::BTreeMap<u16, (u32, bool, bool)> = Default::default();
        let labeled: Vec<u16> = objs
            .iter()
            .filter(|o| defects.contains(&o["class"].as_str().unwrap()) && o["labeled"] == true)
            .map(|o| o["id"].as_u64().unwrap() as u16)
            .collect();
        for (i, &v) in ids.iter().enumerate() {
            if !all_defects.contains(&v) {
                continue;
            }
            defect_pixels += 1;
            let (x, y) = (i % w as usize, i / w as usize);
            if chip_ids.contains(&v) {
                let e = chip_sides.entry(v).or_default();
                e.0 += 1;
                let around: Vec<usize> = neighbours(i, w, h).collect();
                e.1 |= around.iter().any(|&j| plate.contains(&ids[j]));
                e.2 |= around.len() < 4 || around.iter().any(|&j| ids[j] == 0);
                continue;
            }
            for j in neighbours(i, w, h) {
                let n = ids[j];
                assert!(
                    n == v || plate.contains(&n) || all_defects.contains(&n),
                    "{file}: defect {v} at ({x}, {y}) borders id {n}, not the plate"
                );
            }
        }
        for (id, (pixels, on_plate, at_edge)) in &chip_sides {
            if *pixels >= 6 {
                assert!(
                    *on_plate && *at_edge,
                    "{file}: chipped edge {id} is not a bite out of the plate's edge (borders plate: {on_plate}, background: {at_edge})"
                );
                chips += 1;
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
    // the anomalib snippet beside the layout names every defect folder, images and masks
    let snippet = std::fs::read_to_string(dir.path().join("anomaly_folder.py")).unwrap();
    for d in defects {
        assert!(
            snippet.contains(&format!("\"test/{d}\""))
                && snippet.contains(&format!("\"ground_truth/{d}\"")),
            "{d} missing from anomaly_folder.py:\n{snippet}"
        );
    }
    assert!(defect_images >= 10 && good_images >= 5 && defect_pixels > 500);
    assert!(chips >= 2, "only {chips} chipped edges seen");
}

/// Indices of the 4-neighbours of pixel `i` of a `w` × `h` row-major image that lie inside it.
fn neighbours(i: usize, w: u32, h: u32) -> impl Iterator<Item = usize> {
    let (w, h) = (w as usize, h as usize);
    let (x, y) = (i % w, i / w);
    [
        (x + 1 < w).then(|| i + 1),
        (x > 0).then(|| i - 1),
        (y + 1 < h).then(|| i + w),
        (y > 0).then(|| i - w),
    ]
    .into_iter()
    .flatten()
}

/// Pixel ids of one image's instance mask, with its manifest entry.
fn mask_of(dir: &std::path::Path, entry: &Value) -> (u32, u32, Vec<u16>) {
    let file = entry["file"].as_str().unwrap();
    let name = file.rsplit('/').next().unwrap().trim_end_matches(".png");
    let split = entry["split"].as_str().unwrap();
    read_u16_png(&dir.join(format!("masks/{split}/{name}.png")))
}

/// Agriculture: leaves are counted per plant, a plant (`label: group`) is labelled over its crown
/// and everything on it (its box holds its leaves' boxes), every blemish lies on the leaf or
/// fruit it was placed on (inside that parent's full box, touching its pixels), and the dataset
/// holds all four classes.
#[test]
fn agriculture_blemishes_lie_on_their_leaf_or_fruit_and_leaves_belong_to_plants() {
    let (dir, entries) = scene("agriculture", 30);
    let (mut spots, mut plants, mut whole_plants) = (0, 0, 0);
    for entry in &entries {
        let file = entry["file"].as_str().unwrap();
        let objs = entry["objects"].as_array().unwrap();
        let by_id = |id: &Value| objs.iter().find(|o| &o["id"] == id).unwrap();
        for plant in objs.iter().filter(|o| o["class"] == "plant") {
            let leaves = objs
                .iter()
                .filter(|o| o["class"] == "leaf" && o["parent"] == plant["id"])
                .count();
            assert!(
                (5..=9).contains(&leaves),
                "{file}: a plant with {leaves} leaves"
            );
            plants += 1;
            if plant["labeled"] != true {
                continue;
            }
            whole_plants += 1;
            let pb: Vec<f64> = (0..4).map(|k| num(&plant["bbox"][k])).collect();
            for leaf in objs.iter().filter(|o| {
                o["class"] == "leaf" && o["parent"] == plant["id"] && o["labeled"] == true
            }) {
                let lb: Vec<f64> = (0..4).map(|k| num(&leaf["bbox"][k])).collect();
                assert!(
                    lb[0] >= pb[0]
                        && lb[1] >= pb[1]
                        && lb[0] + lb[2] <= pb[0] + pb[2]
                        && lb[1] + lb[3] <= pb[1] + pb[3],
                    "{file}: leaf {} box {lb:?} outside its plant's box {pb:?}",
                    leaf["id"]
                );
                assert!(num(&plant["visible_pixels"]) >= num(&leaf["visible_pixels"]));
            }
        }
        let (w, h, ids) = mask_of(dir.path(), entry);
        for spot in objs
            .iter()
            .filter(|o| o["class"] == "blemish" && o["labeled"] == true)
        {
            let parent = by_id(&spot["parent"]);
            assert!(
                parent["class"] == "leaf" || parent["class"] == "fruit",
                "{file}: blemish {} on a {}",
                spot["id"],
                parent["class"]
            );
            let b = |o: &Value, k: usize| num(&o["bbox"][k]);
            let f = |k: usize| num(&parent["bbox_full"][k]);
            assert!(
                b(spot, 0) >= f(0) - 1.0
                    && b(spot, 1) >= f(1) - 1.0
                    && b(spot, 0) + b(spot, 2) <= f(0) + f(2) + 1.0
                    && b(spot, 1) + b(spot, 3) <= f(1) + f(3) + 1.0,
                "{file}: blemish {} box {} outside its parent's full box {}",
                spot["id"],
                spot["bbox"],
                parent["bbox_full"]
            );
            if parent["labeled"] == true {
                let (sid, pid) = (
                    spot["id"].as_u64().unwrap() as u16,
                    parent["id"].as_u64().unwrap() as u16,
                );
                let touches = (0..ids.len())
                    .any(|i| ids[i] == sid && neighbours(i, w, h).any(|j| ids[j] == pid));
                assert!(
                    touches,
                    "{file}: blemish {sid} does not touch its parent {pid}"
                );
            }
            spots += 1;
        }
    }
    assert!(
        plants >= 60 && whole_plants >= plants / 2 && spots >= 20,
        "{plants} plants ({whole_plants} labelled), {spots} labelled blemishes"
    );
    let coco = read_json(&dir.path().join("annotations/instances_train.json"));
    let names: Vec<&str> = coco["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["plant", "leaf", "fruit", "blemish"]);
}

/// Circuit boards: every component and missing-component footprint lies on the board (its
/// pixels border only the board, other parts or the image edge), footprints are never covered
/// by a part (no_overlap keeps them apart), and the anomaly layout files them under
/// test/missing_component/.
#[test]
fn pcb_components_and_missing_footprints_lie_on_the_board() {
    let (dir, entries) = scene("qc_pcb", 30);
    let (mut footprints, mut parts) = (0, 0);
    for entry in &entries {
        let file = entry["file"].as_str().unwrap();
        let objs = entry["objects"].as_array().unwrap();
        let board: Vec<u16> = objs
            .iter()
            .filter(|o| o["class"] == "pcb")
            .map(|o| o["id"].as_u64().unwrap() as u16)
            .collect();
        let on_board: Vec<u16> = objs
            .iter()
            .filter(|o| o["class"] != "pcb")
            .map(|o| o["id"].as_u64().unwrap() as u16)
            .collect();
        let (w, h, ids) = mask_of(dir.path(), entry);
        for (i, &v) in ids.iter().enumerate() {
            if !on_board.contains(&v) {
                continue;
            }
            for j in neighbours(i, w, h) {
                let n = ids[j];
                assert!(
                    n == v || board.contains(&n) || on_board.contains(&n),
                    "{file}: part {v} at ({}, {}) borders id {n}, not the board",
                    i % w as usize,
                    i / w as usize
                );
            }
        }
        for o in objs.iter().filter(|o| o["labeled"] == true) {
            if o["class"] == "missing_component" {
                assert!(
                    num(&o["visibility"]) > 0.98,
                    "{file}: footprint {} covered",
                    o["id"]
                );
                let name = file.rsplit('/').next().unwrap();
                assert!(
                    dir.path()
                        .join(format!("anomaly/test/missing_component/{name}"))
                        .is_file()
                        || dir
                            .path()
                            .join(format!("anomaly/test/scratch/{name}"))
                            .is_file(),
                    "{file} has a missing component but no anomaly/test copy"
                );
                footprints += 1;
            } else if o["class"] != "pcb" {
                parts += 1;
            }
        }
    }
    assert!(
        footprints >= 5 && parts >= 150,
        "{footprints} footprints, {parts} parts"
    );
}

/// `output.anomaly_images: {good, defective}`: exactly that many images drawn without any
/// defect and with at least one, spread over the run; the anomaly layout files them.
#[test]
fn anomaly_images_sets_how_many_good_and_defective_images_a_run_makes() {
    let dir = tmp();
    let mut cfg = load(&root().join("configs/qc_plate.yaml"));
    cfg.output.anomaly_images = Some((30, 20));
    cfg.count = 50;
    cfg.antialias = 1;
    cfg.output.preview = 0;
    generate(&cfg, dir.path(), 2, 1);
    let defects = cfg.output.anomaly.clone().unwrap();
    let manifest = std::fs::read_to_string(dir.path().join("manifest.jsonl")).unwrap();
    let with_defect: Vec<bool> = manifest
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            e["objects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| defects.iter().any(|d| o["class"] == d.as_str()))
        })
        .collect();
    assert_eq!(
        with_defect.iter().filter(|d| **d).count(),
        20,
        "{with_defect:?}"
    );
    // spread: every 5 consecutive images hold 2 defective ones
    for (k, w) in with_defect.chunks(5).enumerate() {
        assert_eq!(
            w.iter().filter(|d| **d).count(),
            2,
            "images {}..{}",
            5 * k,
            5 * k + 5
        );
    }
    let count = |sub: &str| -> usize {
        std::fs::read_dir(dir.path().join("anomaly").join(sub)).map_or(0, |d| d.count())
    };
    let good = count("train/good") + count("test/good");
    let bad: usize = defects.iter().map(|d| count(&format!("test/{d}"))).sum();
    assert_eq!(good + bad, 50);
    // a placed defect can end up below labels.min_visible_pixels: then the image is good
    assert!((17..=20).contains(&bad), "{bad} defective images filed");
}
