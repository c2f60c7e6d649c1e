//! `rendergan eval` and `emphasis:`: the measures rank a controlled sequence of degradations,
//! photos of a kind the config never renders come out as covered worst, the CLI writes its report,
//! and emphasis draws its tails as often as asked with weights that undo it.

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::{Rng, SeedableRng};
use rendergan::eval::report::{evaluate, EvalOptions, Report};

use super::common::*;

fn opts(real: &Path, images: &Path) -> EvalOptions {
    EvalOptions {
        real: real.to_path_buf(),
        images: images.to_path_buf(),
        res: 64,
        crop: 1.0,
        images_crop: 1.0,
        crops_per_photo: 1,
        max_images: 1000,
        worst: 4,
        detector_steps: 0,
        real_labels: None,
        seed: 1,
    }
}

/// Copies `files` into `dir`, each through `f` (blur σ, noise σ in 0..255, brightness shift).
fn degrade(files: &[PathBuf], dir: &Path, blur: f32, noise: f32, shift: f32, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for f in files {
        let mut img = image::open(f).unwrap().into_rgb8();
        if blur > 0.0 {
            img = image::imageops::blur(&img, blur);
        }
        for p in img.pixels_mut() {
            for c in 0..3 {
                let n: f32 = rng.gen_range(-1.0..1.0) * noise * 1.7;
                p.0[c] = (p.0[c] as f32 + shift + n).round().clamp(0.0, 255.0) as u8;
            }
        }
        img.save(dir.join(f.file_name().unwrap())).unwrap();
    }
}

/// Writes `n` images of a kind no config here renders: saturated stripes.
pub fn off_kind(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|k| {
            let img = image::RgbImage::from_fn(96, 96, |x, y| {
                let on = ((x + 3 * y + 7 * k as u32) / 4).is_multiple_of(2);
                if on {
                    image::Rgb([255, 20 * k as u8, 0])
                } else {
                    image::Rgb([0, 255, 255])
                }
            });
            let p = dir.join(format!("zz_stripes_{k}.png"));
            img.save(&p).unwrap();
            p
        })
        .collect()
}

fn line(r: &Report) -> String {
    format!(
        "c2st {:.3} kid {:.3} precision {:.3} recall {:.3} coverage {:.3} spread {:.2}",
        r.c2st.accuracy, r.kid[0], r.prdc.precision, r.prdc.recall, r.prdc.coverage, r.spread_ratio
    )
}

#[test]
fn the_measures_rank_degradations_and_find_photos_the_scene_cannot_make() {
    let dir = tmp();
    let mut cfg = load(&fixture("mixed.yaml"));
    cfg.count = 160;
    cfg.output.preview = 0;
    let set = dir.path().join("set");
    generate(&cfg, &set, 2, 1);
    let files = pngs(&set.join("images"));
    let (even, odd): (Vec<_>, Vec<_>) = files
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, PathBuf)>| v.into_iter().map(|(_, p)| p).collect::<Vec<_>>();
    let (even, odd) = (strip(even), strip(odd));
    let real = dir.path().join("real");
    degrade(&even, &real, 0.0, 0.0, 0.0, 1);
    let runs: Vec<(&str, Report)> = [
        ("same", 0.0, 0.0, 0.0),
        ("slight", 0.6, 3.0, 4.0),
        ("strong", 1.5, 12.0, 25.0),
    ]
    .iter()
    .map(|&(name, blur, noise, shift)| {
        let d = dir.path().join(name);
        degrade(&odd, &d, blur, noise, shift, 2);
        let r = evaluate(&opts(&real, &d)).unwrap_or_else(|e| panic!("{e:#}"));
        eprintln!("{name}: {}", line(&r));
        (name, r)
    })
    .collect();
    let [same, slight, strong] = [&runs[0].1, &runs[1].1, &runs[2].1];
    assert!(
        same.kid[0] < slight.kid[0] && slight.kid[0] < strong.kid[0],
        "KID does not rank same < slight < strong"
    );
    assert!(
        same.c2st.accuracy < 0.7 && strong.c2st.accuracy > 0.9,
        "C2ST: same {:.3}, strong {:.3}",
        same.c2st.accuracy,
        strong.c2st.accuracy
    );
    assert!(same.c2st.accuracy <= slight.c2st.accuracy);
    assert!(
        same.prdc.coverage > 0.7 && strong.prdc.coverage < same.prdc.coverage - 0.3,
        "coverage: same {:.3}, strong {:.3}",
        same.prdc.coverage,
        strong.prdc.coverage
    );
    assert!(
        !same.warnings.iter().any(|w| w.contains("collapse")),
        "{:?}",
        same.warnings
    );

    // photos of a kind the config never renders are the ones covered worst
    let stripes = off_kind(&real, 4);
    let r = evaluate(&opts(&real, &dir.path().join("same"))).unwrap();
    let mut worst: Vec<PathBuf> = r.covered_worst.iter().map(|u| u.photo.clone()).collect();
    worst.sort();
    assert_eq!(worst, stripes, "{:?}", r.covered_worst);
    // a set of one image over and over is called a collapse
    let one = dir.path().join("one");
    std::fs::create_dir_all(&one).unwrap();
    for k in 0..60 {
        std::fs::copy(&odd[0], one.join(format!("{k:03}.png"))).unwrap();
    }
    let r = evaluate(&opts(&real, &one)).unwrap();
    eprintln!("one image: {}", line(&r));
    assert!(
        r.warnings.iter().any(|w| w.starts_with("collapse")) && r.prdc.coverage < 0.2,
        "{:?}",
        r.warnings
    );
    // a saturated c2st says it cannot rank; an unsaturated one says nothing
    let saturated = |r: &Report| r.warnings.iter().any(|w| w.starts_with("c2st saturated"));
    assert_eq!(
        saturated(&r),
        r.c2st.accuracy >= rendergan::eval::SATURATED,
        "{:?}",
        r.warnings
    );
    assert!(!saturated(same));
    // the dataset folder's manifest is read: per-class counts and sampled histograms
    let r = evaluate(&opts(&real, &set)).unwrap();
    let d = r.dataset.expect("a dataset folder has a manifest");
    assert_eq!(d.images, 160);
    assert!(d.sampled.iter().any(|h| h.name.starts_with("object tilt")));
    assert!(d.stages.is_empty() && d.label_safety.is_none());
}

#[test]
fn the_cli_writes_a_report_folder_and_refuses_bad_flags() {
    let dir = tmp();
    let mut cfg = load(&fixture("tiny.yaml"));
    cfg.count = 12;
    let set = dir.path().join("set");
    generate(&cfg, &set, 2, 1);
    let real = dir.path().join("real");
    std::fs::create_dir_all(&real).unwrap();
    off_kind(&real, 3);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rendergan"))
            .arg("eval")
            .args([
                "--real",
                real.to_str().unwrap(),
                "--images",
                set.to_str().unwrap(),
            ])
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["--worst", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("set.eval");
    let report = read_json(&out.join("report.json"));
    for k in [
        "c2st",
        "kid",
        "precision",
        "recall",
        "density",
        "coverage",
        "covered_worst",
    ] {
        assert!(!report[k].is_null(), "report.json has no {k}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("Photos the set covers worst") && html.contains("thumbs/worst_01_real.png")
    );
    assert!(out.join("thumbs/worst_02_near_1.png").is_file());
    let stdout: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(stdout["c2st"].is_number());
    // 12 images are too few for the detector probe: no number, the reason instead
    assert!(stdout["detector"]["score"].is_null(), "{stdout}");
    assert!(stdout["detector"]["cannot_rank"]
        .as_str()
        .is_some_and(|w| w.contains("25 or more")));
    assert!(html.contains("Detector probe") && html.contains("cannot rank"));
    // bad flags: exit 2, the flag named, nothing written
    let other = dir.path().join("other");
    for (args, flag) in [
        (vec!["--crop", "2", "-o"], "--crop"),
        (vec!["--max-images", "0", "-o"], "--max-images"),
        (
            vec!["--real-labels", "no-such-labels.json", "-o"],
            "--real-labels",
        ),
    ] {
        let mut a: Vec<&str> = args.clone();
        a.push(other.to_str().unwrap());
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains(flag));
        assert!(!other.exists());
    }
    // too few images, and a manifest that is not one: exit 2, the file named, nothing written
    let few = dir.path().join("few");
    std::fs::create_dir_all(&few).unwrap();
    off_kind(&few, 3);
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(bad.join("images")).unwrap();
    for p in pngs(&set.join("images")) {
        std::fs::copy(&p, bad.join("images").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(bad.join("manifest.jsonl"), "{\"index\": 0}\nnot json\n").unwrap();
    for (images, want) in [(&few, "at least 10"), (&bad, "manifest.jsonl line 2")] {
        let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
            .args(["eval", "--real", real.to_str().unwrap(), "--images"])
            .arg(images)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains(want));
        assert!(!images.with_extension("eval").exists());
    }
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["eval", "--real", "/no/such/folder", "--images"])
        .arg(&set)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--real /no/such/folder"));
}

/// Fraction of manifest lines in the tilt tail (largest tilt of a box at or over
/// `threshold`) and with a ball, plain and weighted by `sampling_weight`.
fn tails(dir: &Path, threshold: f64) -> [f64; 4] {
    let text = std::fs::read_to_string(dir.join("manifest.jsonl")).unwrap();
    let (mut tilt, mut ball, mut wt, mut wb, mut ws, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let objs = v["objects"].as_array().unwrap();
        let t = objs
            .iter()
            .filter(|o| o["class"] == "box")
            .map(|o| o["tilt"].as_f64().unwrap())
            .fold(f64::NEG_INFINITY, f64::max)
            >= threshold;
        let b = objs.iter().any(|o| o["class"] == "ball");
        let w = v["sampling_weight"].as_f64().unwrap_or(1.0);
        n += 1.0;
        ws += w;
        tilt += t as u8 as f64;
        ball += b as u8 as f64;
        wt += w * t as u8 as f64;
        wb += w * b as u8 as f64;
    }
    [tilt / n, ball / n, wt / ws, wb / ws]
}

#[test]
fn emphasis_draws_its_tails_as_asked_and_the_weights_undo_it() {
    let dir = tmp();
    let yaml = |emphasis: &str| {
        let base = r#"seed: 3
count: 400
image: {width: 48, height: 48}
output: {formats: [coco], preview: 0}
camera: {distance: {uniform: [5, 7]}, elevation: {uniform: [30, 80]}, fov: 40}
objects:
  - model: box
    class: box
    count: {int: [1, 2]}
    placement: {x: {uniform: [-1.5, 1.5]}, y: {uniform: [-1.5, 1.5]}, pitch: {uniform: [0, 90]}}
  - model: sphere
    class: ball
    count: {int: [0, 1]}
    placement: {x: {uniform: [-1.5, 1.5]}, y: {uniform: [-1.5, 1.5]}}
"#;
        format!("{base}{emphasis}")
    };
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        load(&p)
    };
    let plain = write("plain.yaml", yaml(""));
    let emph = write(
        "emph.yaml",
        yaml("emphasis:\n  - {quantity: tilt, class: box, top: 0.2, factor: 3}\n  - {class: ball, factor: 2}\n"),
    );
    // the run's stamp (what --resume and merge compare) does not change once the fit is made
    let stamp = rendergan::dataset::journal::stamp(&emph);
    let fit = rendergan::scene::emphasis::fit(&emph).clone();
    assert_eq!(stamp, rendergan::dataset::journal::stamp(&emph));
    generate(&plain, &dir.path().join("plain"), 2, 1);
    generate(&emph, &dir.path().join("emph"), 2, 1);
    let p = tails(&dir.path().join("plain"), fit.thresholds[0]);
    let e = tails(&dir.path().join("emph"), fit.thresholds[0]);
    eprintln!("fit {fit:?}\nplain {p:?}\nemphasised {e:?}");
    // plain: the fitted tail fractions; emphasised: each tail as often as its factors make it
    // (the rules are independent: a tail of fraction q under factor f is drawn f q / (f q + 1 − q))
    assert!((p[0] - fit.tail_fractions[0]).abs() < 0.07, "{p:?} {fit:?}");
    assert!((p[1] - fit.tail_fractions[1]).abs() < 0.07, "{p:?} {fit:?}");
    let q = fit.tail_fractions[0];
    let want = 3.0 * q / (3.0 * q + 1.0 - q);
    assert!(
        (e[0] - want).abs() < 0.08,
        "tilt tail {:.3}, want {want:.3}",
        e[0]
    );
    let b = fit.tail_fractions[1];
    let want_b = 2.0 * b / (2.0 * b + 1.0 - b);
    assert!(
        (e[1] - want_b).abs() < 0.08,
        "ball {:.3}, want {want_b:.3}",
        e[1]
    );
    // re-weighted by sampling_weight, the emphasised set has the plain set's proportions
    assert!(
        (e[2] - p[0]).abs() < 0.07 && (e[3] - p[1]).abs() < 0.07,
        "{e:?} {p:?}"
    );
    // the manifest names the rules an image was drawn for
    let first = std::fs::read_to_string(dir.path().join("emph/manifest.jsonl")).unwrap();
    assert!(first.contains("\"emphasis\":[") && first.contains("top 20% tilt (box)"));
    // image i stays a pure function of (config, seed, i): another thread count and a fresh fit
    // in a freshly loaded config give the same bytes
    let again = write(
        "emph.yaml",
        std::fs::read_to_string(dir.path().join("emph.yaml")).unwrap(),
    );
    generate(&again, &dir.path().join("again"), 1, 1);
    let second = std::fs::read_to_string(dir.path().join("again/manifest.jsonl")).unwrap();
    assert!(
        first == second,
        "emphasis changed with threads or batch size"
    );
}
