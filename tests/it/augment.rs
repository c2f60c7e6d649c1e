//! Learned augmentation on a domain the test controls: "real" photos are renders of the same
//! config passed through a known blur (σ = 1.5 px) and sensor noise (σ = 0.04 of the range, 0.08
//! in the chain's [-1, 1] units), so training must move the learned blur σ and noise σ from their
//! near-zero start toward those values. Then `generate --augment` must
//! leave every label byte-identical.

use std::path::Path;

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rendergan::augment::infer::AugmentOn;
use rendergan::generate::Options;
use rendergan::train::{train, LearnOn, TrainOptions};

use super::common::*;

fn blur_u8(img: &image::RgbImage, sigma: f32) -> image::RgbImage {
    let r = (3.0 * sigma).ceil() as i64;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    let (w, h) = (img.width() as i64, img.height() as i64);
    let pass = |src: &Vec<[f32; 3]>, dx: i64, dy: i64| -> Vec<[f32; 3]> {
        let mut out = vec![[0.0f32; 3]; src.len()];
        for y in 0..h {
            for x in 0..w {
                let mut acc = [0.0f32; 3];
                for (j, kv) in k.iter().enumerate() {
                    let o = j as i64 - r;
                    let (xx, yy) = ((x + o * dx).clamp(0, w - 1), (y + o * dy).clamp(0, h - 1));
                    let p = src[(yy * w + xx) as usize];
                    for c in 0..3 {
                        acc[c] += kv * p[c] / s;
                    }
                }
                out[(y * w + x) as usize] = acc;
            }
        }
        out
    };
    let src: Vec<[f32; 3]> = img.pixels().map(|p| p.0.map(|v| v as f32)).collect();
    let out = pass(&pass(&src, 1, 0), 0, 1);
    image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
        image::Rgb(
            out[(y as i64 * w + x as i64) as usize].map(|v| v.round().clamp(0.0, 255.0) as u8),
        )
    })
}

/// Writes the controlled "real" domain into `dir`.
fn controlled_real(dir: &Path, work: &Path) {
    controlled_real_at(dir, work, 64, 1.5, 0.04);
}

/// The controlled "real" domain at `side`² with a blur of `sigma` px and sensor noise of
/// `noise` (share of the range), into `dir`.
fn controlled_real_at(dir: &Path, work: &Path, side: u32, sigma: f32, noise: f32) {
    let mut cfg = load(&fixture("train.yaml"));
    cfg.count = 96;
    cfg.seed = 99;
    (cfg.width, cfg.height) = (side, side);
    generate(&cfg, &work.join("src"), 2, 1);
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let noise = Normal::new(0.0f32, noise * 255.0).unwrap();
    for split in ["train", "val"] {
        for e in std::fs::read_dir(work.join("src/images").join(split)).unwrap() {
            let p = e.unwrap().path();
            let mut img = blur_u8(&image::open(&p).unwrap().into_rgb8(), sigma);
            for px in img.pixels_mut() {
                for c in 0..3 {
                    px.0[c] = (px.0[c] as f32 + noise.sample(&mut rng))
                        .round()
                        .clamp(0.0, 255.0) as u8;
                }
            }
            img.save(dir.join(format!(
                "{split}_{}",
                p.file_name().unwrap().to_string_lossy()
            )))
            .unwrap();
        }
    }
    std::fs::write(dir.join("notes.txt"), "not an image").unwrap();
}

fn read_images(dir: &Path) -> Vec<Vec<f32>> {
    pngs(dir)
        .iter()
        .map(|f| rendergan::pixels::chw::to_chw(&image::open(f).unwrap().into_rgb8(), 3, false))
        .collect()
}

/// C2ST accuracies (real vs raw renders, real vs augmented renders) on the controlled domain.
fn c2st_pair(work: &Path, real: &Path, run: &Path) -> (f64, f64) {
    let mut cfg = load(&fixture("train.yaml"));
    cfg.count = 96;
    cfg.seed = 7;
    generate(&cfg, &work.join("raw"), 2, 1);
    cfg.augment = Some(run.to_path_buf());
    generate(&cfg, &work.join("augmented"), 2, 1);
    let real = read_images(real);
    let raw = read_images(&work.join("raw/images"));
    let aug = read_images(&work.join("augmented/images"));
    let a = rendergan::eval::c2st(&real, &raw, 3, 64, 300, 1);
    let b = rendergan::eval::c2st(&real, &aug, 3, 64, 300, 1);
    (a, b)
}

/// `rendergan eval` on the controlled domain (the raw and augmented sets `c2st_pair` wrote
/// under `work`): the learned set ranks closer to the photos than the raw one on every measure
/// of distance, its label safety is measured, and photos of a kind the config never renders top
/// the covered-worst list.
fn eval_ranks_learned_over_raw(work: &Path, real: &Path) {
    use rendergan::eval::report::{evaluate, EvalOptions};
    let opts = |real: &Path, d: &str| EvalOptions {
        real: real.to_path_buf(),
        images: work.join(d),
        res: 64,
        crop: 1.0,
        images_crop: 1.0,
        crops_per_photo: 1,
        max_images: 1000,
        worst: 3,
        detector_steps: 0,
        real_labels: None,
        seed: 1,
    };
    let raw = evaluate(&opts(real, "raw")).unwrap();
    let learned = evaluate(&opts(real, "augmented")).unwrap();
    let show = |r: &rendergan::eval::report::Report| {
        format!(
            "c2st {:.3} kid {:.3} precision {:.3} coverage {:.3}",
            r.c2st.accuracy, r.kid[0], r.prdc.precision, r.prdc.coverage
        )
    };
    eprintln!(
        "eval raw: {}
eval learned: {}",
        show(&raw),
        show(&learned)
    );
    assert!(learned.c2st.accuracy < raw.c2st.accuracy - 0.1);
    assert!(learned.kid[0] < raw.kid[0]);
    assert!(learned.prdc.coverage >= raw.prdc.coverage);
    let d = learned
        .dataset
        .as_ref()
        .expect("the augmented set's manifest");
    let safety = d
        .label_safety
        .as_ref()
        .expect("label safety of an augmented set");
    eprintln!("label safety: {safety:?}");
    // blur σ ≈ 2 px at 64² takes most of the contrast of the smallest objects, and the report
    // lists them; most objects keep theirs
    assert!(safety.judged > 100 && safety.median_kept > 0.6);
    assert!(
        safety.at_risk * 20 <= safety.judged,
        "{} of {} objects lost most of their edge contrast",
        safety.at_risk,
        safety.judged
    );
    assert!(d.stages.iter().any(|h| h.name == "blur" && h.n == 96));
    let with_odd = work.join("real_and_stripes");
    std::fs::create_dir_all(&with_odd).unwrap();
    for e in std::fs::read_dir(real).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, with_odd.join(p.file_name().unwrap())).unwrap();
    }
    let stripes = super::eval::off_kind(&with_odd, 3);
    let r = evaluate(&opts(&with_odd, "augmented")).unwrap();
    let mut worst: Vec<_> = r.covered_worst.iter().map(|u| u.photo.clone()).collect();
    worst.sort();
    assert_eq!(worst, stripes, "{:?}", r.covered_worst);
}

fn metrics(run: &Path) -> Vec<std::collections::BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            head.iter()
                .cloned()
                .zip(l.split(',').map(|v| v.parse::<f64>().unwrap()))
                .collect()
        })
        .collect()
}

fn mean(rows: &[std::collections::BTreeMap<String, f64>], key: &str) -> f64 {
    rows.iter().map(|r| r[key]).sum::<f64>() / rows.len() as f64
}

#[test]
fn training_recovers_blur_and_noise_then_augment_keeps_labels() {
    let dir = tmp();
    let real = dir.path().join("real");
    controlled_real(&real, dir.path());
    let cfg = load(&fixture("train.yaml"));
    let run = dir.path().join("run");
    let opts = |steps: u64, resume: bool| TrainOptions {
        real: real.clone(),
        out: run.clone(),
        steps: Some(steps),
        resume,
        device: LearnOn::Cpu,
        quiet: true,
        probe: true,
    };
    train(&cfg, &opts(100, false)).unwrap_or_else(|e| panic!("{e:#}"));
    // a stopped run continues from its checkpoint
    train(&cfg, &opts(150, true)).unwrap_or_else(|e| panic!("{e:#}"));
    let rows = metrics(&run);
    assert_eq!(rows.len(), 150);
    assert_eq!(rows.last().unwrap()["step"], 150.0);
    for f in [
        "run.json",
        "training.json",
        "generator.bpk",
        "checkpoint/LATEST",
        "checkpoint/step_000150/generator_train.bpk",
        "checkpoint/step_000150/adam_generator.bpk",
        "checkpoint/step_000150/history.f32",
        "config.yaml",
        "samples/step_000050.png",
        "samples/step_000150.png",
    ] {
        assert!(run.join(f).is_file(), "{f} missing from the run folder");
    }
    // held-out realism is measured every probe_every (100) steps and at the end, nowhere else
    for r in &rows {
        let probed = r["step"] == 100.0 || r["step"] == 150.0;
        assert_eq!(r["realism"].is_finite(), probed, "step {}", r["step"]);
    }
    // the run judges itself: learning helped here, and the best checkpoint is the one applied
    let outcome = read_json(&run.join("training.json"));
    let verdict = &outcome["verdict"];
    eprintln!("verdict: {verdict}");
    assert_eq!(verdict["outcome"], "helped", "{verdict}");
    assert!(
        verdict["learned"]["accuracy"].as_f64().unwrap()
            < verdict["raw"]["accuracy"].as_f64().unwrap()
    );
    assert!(outcome["best"]["step"].as_u64().unwrap() >= 100);
    let (first, last) = (&rows[..5], &rows[rows.len() - 20..]);
    let (b0, b1) = (mean(first, "blur_mean"), mean(last, "blur_mean"));
    let (n0, n1) = (mean(first, "noise"), mean(last, "noise"));
    eprintln!("blur σ {b0:.3} → {b1:.3} px (true 1.5); noise σ {n0:.4} → {n1:.4} (true 0.08)");
    assert!(
        (b1 - 1.5).abs() < (b0 - 1.5).abs() - 0.2,
        "blur σ did not move toward 1.5 px: {b0:.3} → {b1:.3}"
    );
    assert!(
        (n1 - 0.08).abs() < (n0 - 0.08).abs() / 2.0,
        "noise σ did not move toward 0.08: {n0:.4} → {n1:.4}"
    );
    // a second fresh run into the same folder is refused, the first stays intact
    assert!(train(&cfg, &opts(5, false)).is_err());
    // a fresh classifier tells real from augmented clearly worse than real from raw renders
    let (raw_vs_real, aug_vs_real) = c2st_pair(dir.path(), &real, &run);
    eprintln!("C2ST accuracy: real vs raw {raw_vs_real:.3}, real vs augmented {aug_vs_real:.3}");
    assert!(
        raw_vs_real > 0.9 && aug_vs_real < raw_vs_real - 0.2,
        "C2ST: real vs raw {raw_vs_real:.3}, real vs augmented {aug_vs_real:.3}"
    );

    eval_ranks_learned_over_raw(dir.path(), &real);

    // BeesBook's 12 ID bits still read back from augmented tags
    let (bees, entries) = super::scenes::scene_with("beesbook", 24, Some(&run));
    let (tags, checked, wrong) = super::scenes::read_tag_bits(bees.path(), &entries);
    eprintln!(
        "augmented BeesBook: {tags} tags, {checked} cells read back, {} wrong: {wrong:#?}",
        wrong.len()
    );
    assert!(
        tags >= 20 && checked >= 200,
        "only {tags} tags, {checked} cells"
    );
    assert!(wrong.len() * 100 <= checked, "{wrong:#?}");

    let mut gen_cfg = load(&fixture("mixed.yaml"));
    gen_cfg.count = 6;
    generate(&gen_cfg, &dir.path().join("plain"), 2, 1);
    gen_cfg.augment = Some(run.clone());
    generate(&gen_cfg, &dir.path().join("aug"), 2, 1);
    let read = |p: &str| std::fs::read(dir.path().join(p)).unwrap();
    // the manifest gains what the stages did, and nothing else changes
    let lines = |p: &str| -> Vec<serde_json::Value> {
        String::from_utf8(read(p))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (plain, aug) = (lines("plain/manifest.jsonl"), lines("aug/manifest.jsonl"));
    assert_eq!(plain.len(), aug.len());
    for (p, mut a) in plain.into_iter().zip(aug) {
        let note = a.as_object_mut().unwrap().remove("augment");
        assert!(note.is_some_and(|n| n["blur"].is_number() && n["contrast"].is_array()));
        assert_eq!(p, a, "the manifest changed under augmentation");
    }
    for f in [
        "annotations/instances_train.json",
        "annotations/instances_val.json",
    ] {
        assert!(
            read(&format!("plain/{f}")) == read(&format!("aug/{f}")),
            "{f} changed under augmentation"
        );
    }
    let mut images_differ = 0;
    for e in std::fs::read_dir(dir.path().join("plain/masks/train")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            read(&format!("plain/masks/train/{name}")) == read(&format!("aug/masks/train/{name}")),
            "mask {name} changed"
        );
        let stem = name.trim_end_matches(".png");
        assert!(
            read(&format!("plain/labels/train/{stem}.txt"))
                == read(&format!("aug/labels/train/{stem}.txt"))
        );
        images_differ += (read(&format!("plain/images/train/{name}"))
            != read(&format!("aug/images/train/{name}"))) as usize;
    }
    assert!(images_differ > 0, "augmentation changed no image");

    gpu_forward_agrees_on_the_trained_run(&run);
    // generate on the render device's kernels writes the same images, to a rounding
    let opts = Options {
        threads: Some(2),
        render_threads: Some(1),
        overwrite: true,
        augment_on: AugmentOn::Gpu,
        ..Default::default()
    };
    gen_cfg.output.dir = dir.path().join("aug_gpu");
    let ctxs = rendergan::generate::open_devices(Some(1)).unwrap();
    let s = rendergan::generate::run(&gen_cfg, &ctxs, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(s.augment_on, Some(rendergan::augment::infer::RunsOn::Gpu));
    for e in std::fs::read_dir(dir.path().join("aug/images/train")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let open = |d: &str| {
            image::open(dir.path().join(d).join(&name))
                .unwrap()
                .into_rgb8()
        };
        let (c, g) = (open("aug/images/train"), open("aug_gpu/images/train"));
        let worst = c
            .as_raw()
            .iter()
            .zip(g.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max();
        assert!(
            worst <= Some(1),
            "{name}: the GPU path differs by {worst:?} levels"
        );
    }
}

/// The trained chain on the render device's compute kernels against the CPU forward (itself
/// tested against burn's), at 128² and 256².
fn gpu_forward_agrees_on_the_trained_run(run: &Path) {
    use rendergan::augment::{gpu::GpuChain, infer::trained_weights};
    let (info, bytes) = rendergan::dataset::run_folder::read_applied(run).unwrap();
    let weights = trained_weights(&info.stages, bytes).unwrap();
    let ctx = rendergan::render::RenderContext::new().unwrap();
    let gpu = GpuChain::new(&ctx.device, &ctx.queue, &weights).unwrap();
    for side in [128, 256] {
        let n = side * side;
        let images: Vec<Vec<f32>> = (0..2)
            .map(|k| {
                (0..3 * n)
                    .map(|i| ((((i % side) / 7 + (i / side) / 5 + k) % 9) as f32 / 4.0 - 1.0) * 0.9)
                    .collect()
            })
            .collect();
        let alphas: Vec<Vec<f32>> = (0..2)
            .map(|k| (0..n).map(|p| ((p % side) / (20 + k) % 2) as f32).collect())
            .collect();
        let seeds = [11, 12];
        let scale = side as f32 / info.resolution as f32;
        let (mut cpu, mut dev) = (images.clone(), images.clone());
        let a = weights.apply(&mut cpu, &alphas, &seeds, (side, side), scale);
        let b = gpu
            .apply(&mut dev, &alphas, &seeds, (side, side), scale)
            .unwrap();
        let worst = cpu
            .iter()
            .flatten()
            .zip(dev.iter().flatten())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        let moved = images
            .iter()
            .flatten()
            .zip(cpu.iter().flatten())
            .map(|(x, y)| (x - y).abs())
            .sum::<f32>()
            / (6 * n) as f32;
        eprintln!(
            "trained chain at {side}²: moved {moved:.3}, GPU vs CPU max difference {worst:e}"
        );
        assert!(moved > 0.01, "the trained chain barely acts ({moved})");
        assert!(worst <= 1e-3, "{side}²: GPU vs CPU differ by {worst}");
        assert_eq!(a.blur.len(), b.blur.len());
        for (x, y) in a.blur.iter().zip(&b.blur) {
            assert!((x - y).abs() < 1e-4, "blur σ {x} vs {y}");
        }
    }
}

/// A training stopped after a checkpoint (later metrics rows and a half-written checkpoint
/// left behind) and resumed computes the same steps an uninterrupted run does: weights,
/// optimiser moments and the history of fakes come back whole, and metrics.csv is cut back.
#[test]
fn a_stopped_training_resumes_where_it_was() {
    let dir = tmp();
    let mut cfg = load(&fixture("train.yaml"));
    cfg.count = 16;
    generate(&cfg, &dir.path().join("real"), 2, 1);
    cfg.train.checkpoint_every = 3;
    cfg.train.history = 8;
    let opts = |out: &str, steps: u64, resume: bool| TrainOptions {
        real: dir.path().join("real/images"),
        out: dir.path().join(out),
        steps: Some(steps),
        resume,
        device: LearnOn::Cpu,
        quiet: true,
        probe: false,
    };
    train(&cfg, &opts("straight", 6, false)).unwrap_or_else(|e| panic!("{e:#}"));
    train(&cfg, &opts("stopped", 3, false)).unwrap_or_else(|e| panic!("{e:#}"));
    let stopped = dir.path().join("stopped");
    // what a kill after step 4 leaves: a row past the checkpoint, a checkpoint being written
    let mut text = std::fs::read_to_string(stopped.join("metrics.csv")).unwrap();
    text.push_str("4.000000,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9\n");
    std::fs::write(stopped.join("metrics.csv"), text).unwrap();
    std::fs::create_dir_all(stopped.join("checkpoint/step_000006.tmp")).unwrap();
    train(&cfg, &opts("stopped", 6, true)).unwrap_or_else(|e| panic!("{e:#}"));
    // every column but the step time
    let rows = |run: &str| -> Vec<String> {
        std::fs::read_to_string(dir.path().join(run).join("metrics.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect()
    };
    let (a, b) = (rows("straight"), rows("stopped"));
    assert_eq!(a.len(), 7, "a header and six steps: {a:?}");
    assert_eq!(
        a, b,
        "the resumed run's steps 4..6 differ from the uninterrupted run's"
    );
    // a run of whole renders, resumed where the config now learns at a larger output's scale
    // (the default changed so): the error names the flag that goes on with it
    (cfg.width, cfg.height) = (128, 128);
    cfg.train.learn_at = rendergan::config::LearnAt::Output;
    let err = train(&cfg, &opts("stopped", 9, true)).unwrap_err();
    let e = err.to_string();
    assert!(
        e.contains("crops of 64² renders") && e.contains("--learn-at whole"),
        "{e}"
    );
    assert!(err
        .downcast_ref::<rendergan::config::InputError>()
        .is_some());
}

/// A run whose "real" photos are renders of the config itself has nothing to learn: its verdict
/// must say learning did not help, and name what switching each stage off would give.
#[test]
fn a_run_that_cannot_help_says_so() {
    let dir = tmp();
    let mut cfg = load(&fixture("train.yaml"));
    cfg.count = 48;
    cfg.seed = 31;
    generate(&cfg, &dir.path().join("real"), 2, 1);
    let text = std::fs::read_to_string(fixture("train.yaml"))
        .unwrap()
        .replace("sample_every: 50", "sample_every: 40\n  probe_every: 20");
    let cfg_path = dir.path().join("nothing_to_learn.yaml");
    std::fs::write(&cfg_path, text).unwrap();
    let cfg = load(&cfg_path);
    let run = dir.path().join("run");
    train(
        &cfg,
        &TrainOptions {
            real: dir.path().join("real/images"),
            out: run.clone(),
            steps: Some(40),
            resume: false,
            device: LearnOn::Cpu,
            quiet: true,
            probe: true,
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    let outcome = read_json(&run.join("training.json"));
    let verdict = &outcome["verdict"];
    eprintln!("verdict: {verdict}");
    assert_ne!(verdict["outcome"], "helped", "{verdict}");
    let without = verdict["without"].as_array().unwrap();
    assert_eq!(
        without.len(),
        2,
        "blur and noise each switched off: {verdict}"
    );
    let v: rendergan::train::probe::Verdict = serde_json::from_value(verdict.clone()).unwrap();
    let lines = v.lines();
    assert!(
        lines.iter().any(|l| l.starts_with("verdict: ")
            && (l.contains("did not help") || l.contains("did harm"))),
        "{lines:?}"
    );
}

/// The longer version: all five stages, 400 steps. Figures go to stderr (`--nocapture`).
#[test]
#[ignore = "about 2 min in release; run with cargo test --release --test it long_training -- --ignored --nocapture"]
fn long_training_on_the_controlled_domain() {
    let dir = tmp();
    let real = dir.path().join("real");
    controlled_real(&real, dir.path());
    let text = std::fs::read_to_string(fixture("train.yaml"))
        .unwrap()
        .replace(
            "stages: {lighting: false, background: false, detail: false}",
            "stages: {lighting: true, background: true, detail: true}",
        )
        .replace("l1: 0.0", "l1: 1.0");
    let cfg_path = dir.path().join("train_all.yaml");
    std::fs::write(&cfg_path, text).unwrap();
    let cfg = load(&cfg_path);
    let run = dir.path().join("run");
    let opts = TrainOptions {
        real: real.clone(),
        out: run.clone(),
        steps: Some(400),
        resume: false,
        device: LearnOn::Cpu,
        quiet: true,
        probe: true,
    };
    train(&cfg, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    let rows = metrics(&run);
    let last = &rows[rows.len() - 50..];
    eprintln!(
        "after 400 steps: blur {:.3}, noise {:.4}, light range {:.3}, detail {:.4}",
        mean(last, "blur_mean"),
        mean(last, "noise"),
        mean(last, "light_range_mean"),
        mean(last, "detail_mean")
    );
    let (raw_vs_real, aug_vs_real) = c2st_pair(dir.path(), &real, &run);
    eprintln!("C2ST accuracy: real vs raw {raw_vs_real:.3}, real vs augmented {aug_vs_real:.3}");
    assert!(
        raw_vs_real > 0.9 && aug_vs_real < raw_vs_real - 0.2,
        "C2ST: real vs raw {raw_vs_real:.3}, real vs augmented {aug_vs_real:.3}"
    );
}

/// The GPU code path (burn's wgpu backend) on whatever adapter wgpu has, lavapipe in CI: the same
/// chain and discriminator train and checkpoint there.
#[test]
fn learning_runs_on_the_wgpu_backend() {
    let dir = tmp();
    let mut cfg = load(&fixture("train.yaml"));
    cfg.count = 8;
    generate(&cfg, &dir.path().join("real"), 2, 1);
    let text = std::fs::read_to_string(fixture("train.yaml"))
        .unwrap()
        .replace(
            "stages: {lighting: false, background: false, detail: false}",
            "stages: {}",
        );
    let cfg_path = dir.path().join("all.yaml");
    std::fs::write(&cfg_path, text).unwrap();
    let cfg = load(&cfg_path);
    let run = dir.path().join("run");
    train(
        &cfg,
        &TrainOptions {
            real: dir.path().join("real/images"),
            out: run.clone(),
            steps: Some(2),
            resume: false,
            device: LearnOn::Wgpu,
            quiet: true,
            probe: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    let rows = metrics(&run);
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r["d_loss"].is_finite() && r["g_adv"].is_finite()));
    assert!(run.join("generator.bpk").is_file() && run.join("samples/step_000002.png").is_file());
}

/// Learning at the output's scale (`train.learn_at: output`): on a 128² output,
/// training crops 64² windows of 128² renders against photo crops at the same pixels per object,
/// so the blur is learned in output pixels: photos blurred by σ = 2 output px (and no noise, so
/// the blur is what tells them apart) must pull the learned σ toward 2 output px, past the 1
/// training px that learning on whole renders at 64² would see (the learned blur falls short of
/// the photos' either way: 1.1–1.3 output px here after 250–400 steps, whole-render learning
/// 0.75 training px), and `generate --augment` applies that σ at the output size.
#[test]
fn learning_at_the_output_scale_learns_blur_in_output_pixels() {
    let dir = tmp();
    let real = dir.path().join("real");
    controlled_real_at(&real, dir.path(), 128, 2.0, 0.0);
    let mut cfg = load(&fixture("train.yaml"));
    (cfg.width, cfg.height) = (128, 128);
    cfg.train.learn_at = rendergan::config::LearnAt::Output;
    assert_eq!(cfg.train.render_size(cfg.height), 128);
    let run = dir.path().join("run");
    let opts = TrainOptions {
        real: real.clone(),
        out: run.clone(),
        steps: Some(250),
        resume: false,
        device: LearnOn::Cpu,
        quiet: true,
        probe: true,
    };
    train(&cfg, &opts).unwrap_or_else(|e| panic!("{e:#}"));
    let info = read_json(&run.join("run.json"));
    assert_eq!(info["render"], 128, "{info}");
    assert_eq!(info["resolution"], 64, "{info}");
    let rows = metrics(&run);
    let (first, last) = (&rows[..5], &rows[rows.len() - 20..]);
    let (b0, b1) = (mean(first, "blur_mean"), mean(last, "blur_mean"));
    eprintln!("output scale: blur σ {b0:.3} → {b1:.3} output px (true 2.0)");
    assert!(
        b1 > 0.9 && (b1 - 2.0).abs() < (b0 - 2.0).abs() - 0.4,
        "blur σ did not move toward 2 output px: {b0:.3} → {b1:.3}"
    );
    // applied at the output size, each image's blur is the σ it learned, in output pixels
    let outcome = read_json(&run.join("training.json"));
    if outcome["verdict"]["outcome"] == "helped" {
        cfg.count = 8;
        cfg.augment = Some(run.clone());
        generate(&cfg, &dir.path().join("aug"), 2, 1);
        let manifest = std::fs::read_to_string(dir.path().join("aug/manifest.jsonl")).unwrap();
        let blurs: Vec<f64> = manifest
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["augment"]["blur"]
                    .as_f64()
                    .unwrap()
            })
            .collect();
        let m = blurs.iter().sum::<f64>() / blurs.len() as f64;
        eprintln!("generate --augment at 128²: blur σ {m:.3} output px");
        assert!(m > 0.9, "applied blur σ {m}");
    }
}
