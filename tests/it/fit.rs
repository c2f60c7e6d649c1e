//! `rendergan fit`: photos rendered from a config with known content, and a wide config with
//! the same scene marked `fit: true`: the fit must find the known values within stated
//! tolerances; bad input is refused before any work.

use std::path::{Path, PathBuf};

use rendergan::config::{self, Dist};
use rendergan::fit::{fit, FitOptions};

use super::common::{generate, load, tmp};

/// The scene both configs share; `{count}`, `{distance}` and `{bg}` are filled in.
const SCENE: &str = "seed: 3
count: 48
image: {width: 96, height: 96}
split: {val: 0}
output: {formats: [coco]}
camera: {distance: DISTANCE, elevation: 90, azimuth: 0, fov: 40, roll: 0}
lights: {count: 1, elevation: 70, intensity: 0.7, ambient: 0.35}
background: {color: BG}
objects:
  - model: sphere
    class: ball
    count: COUNT
    params: {r: 0.25, g: 0.6}
    placement: {x: {uniform: [-1.4, 1.4]}, y: {uniform: [-1.4, 1.4]}, no_overlap: true}
render: {antialias: 4}
train: {resolution: 64}
";

fn scene(count: &str, distance: &str, bg: &str) -> String {
    SCENE
        .replace("COUNT", count)
        .replace("DISTANCE", distance)
        .replace("BG", bg)
}

const WIDE_BG: &str = "{hsv: [0, 0, {uniform: [0, 1], fit: true}]}";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// 48 photos of the known scene: 9 or 10 balls, camera at 5, dark grey background.
fn photos(dir: &Path) -> PathBuf {
    let known = write(
        dir,
        "known.yaml",
        &scene("{int: [9, 10]}", "5", "[0.25, 0.25, 0.25]"),
    );
    let out = dir.join("photos");
    generate(&load(&known), &out, 2, 1);
    out.join("images")
}

fn options(dir: &Path, config: PathBuf, real: PathBuf) -> FitOptions {
    FitOptions {
        config,
        real,
        out: dir.join("fitted.yaml"),
        report: dir.join("fitted.fit"),
        budget: Some(216),
        renders: 32,
        res: Some(48),
        seed: 1,
        overwrite: false,
        resume: false,
        show_progress: false,
    }
}

fn moments(d: &Dist) -> (f64, f64) {
    rendergan::fit::marks::Mark::moments(d)
}

#[test]
fn fit_recovers_the_count_distance_and_background_of_known_photos() {
    let dir = tmp();
    let real = photos(dir.path());
    let wide = write(
        dir.path(),
        "wide.yaml",
        &scene(
            "{int: [1, 15], fit: true}   # how many balls",
            "{uniform: [3, 12], fit: true}",
            WIDE_BG,
        ),
    );
    let o = options(dir.path(), wide.clone(), real);
    let r = fit(&o).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(r.improved, "{:?}", r.warnings);
    // balls of one colour, lit and shaded: shading is not a kind of object
    assert!(r.photo_colours.contains("one kind"), "{}", r.photo_colours);
    assert!(
        r.labelled_kinds.contains("every object counts alike"),
        "{}",
        r.labelled_kinds
    );
    assert!(
        r.after.objective < 0.5 * r.before.objective,
        "objective {} -> {}",
        r.before.objective,
        r.after.objective
    );
    // the fitted file is a config of the same schema, marks kept, comments kept
    let text = std::fs::read_to_string(&o.out).unwrap();
    assert!(
        r.comments_kept && text.contains("# how many balls"),
        "{text}"
    );
    assert_eq!(text.matches("fit: true").count(), 3, "{text}");
    let cfg = load(&o.out);
    let (distance, _) = moments(&cfg.camera.distance);
    let grey = match &cfg.background {
        config::Background::Color(config::ColorDist::Hsv(c)) => moments(&c[2]).0,
        other => panic!("{other:?}"),
    };
    // distance: a ball at 4.4 or 5.6 is 12 % larger or smaller, which the blob sizes see
    assert!((distance - 5.0).abs() <= 0.6, "distance {distance}\n{text}");
    assert!((grey - 0.25).abs() <= 0.05, "background {grey}\n{text}");
    // the count as the renders show it (placement skips balls that do not fit): the fit
    // overshoots (measured 11.0-11.6 balls placed against the photos' 9.3, its weakest
    // quantity: count and distance trade off in the descriptors and the diagonal search
    // follows that valley slowly), so the tolerance is wide
    let placed = |dir: &Path| -> f64 {
        let coco = super::common::read_json(&dir.join("annotations/instances_train.json"));
        coco["annotations"].as_array().unwrap().len() as f64
            / coco["images"].as_array().unwrap().len() as f64
    };
    let fitted_set = dir.path().join("fitted_set");
    generate(&cfg, &fitted_set, 2, 1);
    let (want, got) = (placed(&dir.path().join("photos")), placed(&fitted_set));
    assert!(
        (got - want).abs() <= 2.5,
        "balls per image {got} vs the photos' {want}"
    );
    // the summary's labelled objects are what generate labels (other scenes of the same config)
    let sides = |dir: &Path| -> f64 {
        let coco = super::common::read_json(&dir.join("annotations/instances_train.json"));
        let h = coco["images"][0]["height"].as_f64().unwrap();
        let mut s: Vec<f64> = coco["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let b = a["bbox"].as_array().unwrap();
                (b[2].as_f64().unwrap() * b[3].as_f64().unwrap()).sqrt() / h
            })
            .collect();
        s.sort_by(|a, b| a.total_cmp(b));
        s[s.len() / 2]
    };
    let objects = &r.after.objects;
    let side = objects.side.expect("the fitted renders hold balls")[1];
    assert!(
        (objects.per_scene - got).abs() <= 1.0,
        "the summary's {} balls a scene, generate's {got}",
        objects.per_scene
    );
    let labelled = sides(&fitted_set);
    assert!(
        (side / labelled - 1.0).abs() <= 0.15,
        "the summary's box side {side}, generate's {labelled}"
    );
    // the written ranges stay the support
    assert_eq!(cfg.objects[0].count.range(), (1.0, 15.0));
    assert_eq!(cfg.camera.distance.range(), (3.0, 12.0));
    // the report
    assert!(o.report.join("index.html").is_file());
    assert!(o.report.join("report.json").is_file());
    assert!(o.report.join("after.png").is_file());
    // a second run refuses to overwrite; with --overwrite it replaces the file, and the same
    // options give the same file (two short fits: the full one again would double the test's
    // time in the unoptimised test build, for the same seeded code path)
    let again = fit(&o).unwrap_err();
    assert!(format!("{again:#}").contains("--overwrite"), "{again:#}");
    let short = FitOptions {
        overwrite: true,
        budget: Some(24),
        ..o.clone()
    };
    fit(&short).unwrap();
    let first = std::fs::read_to_string(&o.out).unwrap();
    assert_ne!(first, text, "--overwrite replaced the file");
    fit(&short).unwrap();
    assert_eq!(
        std::fs::read_to_string(&o.out).unwrap(),
        first,
        "deterministic"
    );
}

#[test]
fn fit_refuses_what_it_cannot_fit_before_any_work() {
    let dir = tmp();
    let photos = dir.path().join("few");
    std::fs::create_dir_all(&photos).unwrap();
    for i in 0..2 {
        image::RgbImage::from_pixel(64, 64, image::Rgb([60, 60, 60]))
            .save(photos.join(format!("{i}.png")))
            .unwrap();
    }
    let err = |name: &str, text: &str| -> String {
        let c = write(dir.path(), name, text);
        let o = options(dir.path(), c, photos.clone());
        format!("{:#}", fit(&o).unwrap_err())
    };
    let plain = scene("{int: [1, 3]}", "5", "[0.2, 0.2, 0.2]");
    let e = err("plain.yaml", &plain);
    assert!(
        e.contains("nothing is marked") && e.contains("fit: true"),
        "{e}"
    );
    let e = err(
        "const.yaml",
        &scene("{const: 3, fit: true}", "5", "[0.2, 0.2, 0.2]"),
    );
    assert!(
        e.contains("objects[0].count") && e.contains("single value"),
        "{e}"
    );
    let e = err(
        "train.yaml",
        &plain.replace(
            "train: {resolution: 64}",
            "train: {resolution: 64, real_crop: {uniform: [0.3, 0.8], fit: true}}",
        ),
    );
    assert!(
        e.contains("train.real_crop") && e.contains("only what a render shows"),
        "{e}"
    );
    let e = err(
        "photos.yaml",
        &scene("{int: [1, 15], fit: true}", "5", "[0.2, 0.2, 0.2]"),
    );
    assert!(e.contains("--real") && e.contains("at least 3"), "{e}");
    // the config itself as the output
    let c = write(
        dir.path(),
        "self.yaml",
        &scene("{int: [1, 15], fit: true}", "5", "[0.2, 0.2, 0.2]"),
    );
    let mut o = options(dir.path(), c.clone(), photos.clone());
    o.out = c;
    let e = format!("{:#}", fit(&o).unwrap_err());
    assert!(e.contains("the config itself"), "{e}");
    assert!(!dir.path().join("fitted.yaml").exists(), "nothing written");
    assert!(!dir.path().join("fitted.fit").exists(), "no report folder");
}

/// The command as users run it: a short fit through the binary prints each fitted distribution
/// with its draws' mean ± sd, a JSON line, and exits 0; bad input exits 2 naming the fix, with
/// nothing written.
#[test]
fn the_fit_command_prints_what_it_fitted_and_refuses_bad_input() {
    let dir = tmp();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for i in 0..4u8 {
        image::RgbImage::from_fn(64, 64, |x, y| {
            let ball = (x as i32 - 20 - 6 * i as i32).pow(2) + (y as i32 - 32).pow(2) < 80;
            image::Rgb(if ball { [200, 90, 40] } else { [50, 50, 50] })
        })
        .save(photos.join(format!("{i}.png")))
        .unwrap();
    }
    let wide = write(
        dir.path(),
        "wide.yaml",
        &scene(
            "{int: [1, 6], fit: true}",
            "{uniform: [3, 12], fit: true}",
            "[0.2, 0.2, 0.2]",
        ),
    );
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rendergan"))
            .arg("fit")
            .args(args)
            .output()
            .unwrap()
    };
    let out = dir.path().join("fitted.yaml");
    let (c, p, o) = (
        wide.to_str().unwrap(),
        photos.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let tiny = ["--budget", "12", "--renders", "8", "--res", "32", "-q"];
    let ok = run(&[&["-c", c, "--real", p, "-o", o][..], &tiny[..]].concat());
    let err = String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success(), "{err}");
    let json: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert!(json["objective_before"].as_f64().unwrap() > 0.0, "{json}");
    assert!(
        err.contains("labelled objects in the renders, as written")
            && err.contains(" a scene; box side "),
        "{err}"
    );
    if json["improved"].as_bool().unwrap() {
        assert!(
            err.contains("objects[0].count: {int: [1, 6]} (draws 3.")
                && err.contains(") -> {choice: ["),
            "{err}"
        );
    }
    assert!(out.is_file() && dir.path().join("fitted.fit/index.html").is_file());
    let outcome = |stdout: &[u8]| {
        let j: serde_json::Value = serde_json::from_slice(stdout).unwrap();
        (j["fitted"].clone(), j["objective_after"].clone())
    };
    // --resume: a finished fit is judged and written again, the same; a search given a larger
    // budget goes on from the saved state and ends where a fresh search of that budget ends
    let written = std::fs::read_to_string(&out).unwrap();
    let same = run(&[&["-c", c, "--real", p, "-o", o, "--resume"][..], &tiny[..]].concat());
    assert!(
        same.status.success(),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    assert!(String::from_utf8_lossy(&same.stderr).contains("the search had finished"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), written);
    let more = [
        &["-c", c, "--real", p, "--budget", "48", "--renders", "8"][..],
        &["--res", "32", "-q"][..],
    ]
    .concat();
    let seconds = |file: &str| -> f64 {
        let text = std::fs::read_to_string(dir.path().join("fitted.fit").join(file)).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["seconds"]
            .as_f64()
            .unwrap()
    };
    let before = seconds("search.json");
    let resumed = run(&[&more[..], &["-o", o, "--resume"][..]].concat());
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    // the report's time counts the earlier runs too
    assert!(before > 0.0 && seconds("report.json") > before);
    assert!(String::from_utf8_lossy(&resumed.stderr)
        .contains("16 candidates of 48 judged before; going on"));
    let fresh_out = dir.path().join("fresh.yaml");
    let fresh = run(&[&more[..], &["-o", fresh_out.to_str().unwrap()][..]].concat());
    assert!(fresh.status.success());
    assert_eq!(outcome(&resumed.stdout), outcome(&fresh.stdout));
    // --resume replaces only the file the saved search was for, and does not end a search
    // that already judged more than the budget given
    let mine = dir.path().join("mine.yaml");
    std::fs::write(&mine, "# my own notes\n").unwrap();
    let report = dir.path().join("fitted.fit");
    let elsewhere = run(&[
        &more[..],
        &[
            "-o",
            mine.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--resume",
        ][..],
    ]
    .concat());
    assert_eq!(elsewhere.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&elsewhere.stderr).contains("not the output of the saved search")
    );
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "# my own notes\n");
    let shorter = run(&[&["-c", c, "--real", p, "-o", o, "--resume"][..], &tiny[..]].concat());
    assert_eq!(shorter.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&shorter.stderr).contains("give --budget 48 or more"));
    // a stopped fit (its saved budget not yet spent) is neither thrown away without
    // --overwrite nor resumed with other settings
    let state = dir.path().join("fitted.fit/search.json");
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    saved["budget"] = 480.into();
    std::fs::write(&state, saved.to_string()).unwrap();
    let kept = run(&[&more[..], &["-o", o, "--overwrite"][..]].concat());
    assert!(kept.status.success(), "--overwrite starts again");
    std::fs::write(&state, saved.to_string()).unwrap();
    let stopped = run(&[
        &more[..],
        &[
            "-o",
            dir.path().join("x.yaml").to_str().unwrap(),
            "--report",
            dir.path().join("fitted.fit").to_str().unwrap(),
        ][..],
    ]
    .concat());
    assert_eq!(stopped.status.code(), Some(2));
    let err = String::from_utf8_lossy(&stopped.stderr);
    assert!(
        err.contains("holds a stopped fit (48 of 480") && err.contains("--resume"),
        "{err}"
    );
    let other = run(&[&more[..], &["-o", o, "--resume", "--seed", "2"][..]].concat());
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("other settings"));
    // an existing output without --overwrite, and a config with nothing marked: exit 2, the
    // flag or field named, the fitted file as it was
    let before = std::fs::read_to_string(&out).unwrap();
    let again = run(&[&["-c", c, "--real", p, "-o", o][..], &tiny[..]].concat());
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--overwrite"));
    let plain = write(
        dir.path(),
        "plain.yaml",
        &scene("{int: [1, 3]}", "5", "[0.2, 0.2, 0.2]"),
    );
    let other = dir.path().join("other.yaml");
    let none = run(&[
        "-c",
        plain.to_str().unwrap(),
        "--real",
        p,
        "-o",
        other.to_str().unwrap(),
    ]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("nothing is marked"));
    assert!(!other.exists());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), before);
}
