//! Every config in tests/bad/ must fail with its own clear message (the `# expect:` line lists the
//! parts it must contain), never a panic, and the CLI must write nothing for it.

use std::process::Command;

use super::common::*;

#[test]
fn each_bad_config_names_its_problem() {
    let dir = root().join("tests/bad");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: first line must be `# expect: ...`", path.display()));
        let err = match rendergan::config::load(&path) {
            Ok(_) => panic!("{} loaded without error", path.display()),
            Err(e) => e.to_string(),
        };
        for part in expect.split(" | ") {
            assert!(
                err.contains(part),
                "{}: error does not contain {part:?}:\n{err}",
                path.display()
            );
        }
        n += 1;
    }
    assert!(n >= 10, "only {n} bad configs");
}

#[test]
fn cli_reports_bad_input_with_exit_code_2_and_writes_nothing() {
    let out = tmp();
    let target = out.path().join("never");
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["generate", "-c"])
        .arg(root().join("tests/bad/bad_count.yaml"))
        .arg("-o")
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("rendergan: ") && err.contains("objects[0].count"),
        "{err}"
    );
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "nothing is written for a bad config"
    );
}

#[test]
fn validate_checks_and_lists_what_fit_reads() {
    let dir = tmp();
    let write = |name: &str, fov: &str| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!(
                "count: 1\nimage: {{width: 64, height: 64}}\ncamera:\n  distance: {{uniform: [3, 9], fit: true}}\n  elevation: 30\n  fov: {fov}\nobjects: [{{model: box}}]\n"
            ),
        )
        .unwrap();
        Command::new(env!("CARGO_BIN_EXE_rendergan"))
            .args(["validate", "-c"])
            .arg(&p)
            .output()
            .unwrap()
    };
    // a mark with nothing to search is fit's business (generate takes the config): validate
    // warns, with the line
    let o = write("const.yaml", "{const: 45, fit: true}");
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: `rendergan fit` would refuse this config")
            && err.contains("const.yaml:6: camera.fov: nothing to fit in a single value"),
        "{err}"
    );
    // and still lists the marks fit would take
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("1 distribution(s) marked fit: true") && said.contains("camera.distance"),
        "{said}"
    );
    let o = write("ok.yaml", "45");
    assert!(o.status.success());
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("1 distribution(s) marked fit: true") && said.contains("camera.distance"),
        "{said}"
    );
}

#[test]
fn existing_output_is_kept_without_overwrite() {
    let out = tmp();
    std::fs::write(out.path().join("precious.txt"), "keep me").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["generate", "-q", "-c"])
        .arg(fixture("tiny.yaml"))
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "bad input");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--overwrite"));
    assert_eq!(
        std::fs::read_to_string(out.path().join("precious.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn unusable_output_folders_are_refused_before_rendering() {
    let out = tmp();
    let work = out.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("precious.txt"), "keep me").unwrap();
    let file = out.path().join("a_file");
    std::fs::write(&file, "x").unwrap();
    let mut cases: Vec<(std::ffi::OsString, &str)> = vec![
        ("".into(), "a value is required"),
        (".".into(), "does not end in a folder name"),
        ("..".into(), "does not end in a folder name"),
        (out.path().into(), "holds the current working folder"),
        (file.clone().into(), "is not a folder"),
    ];
    if std::path::Path::new("/proc/self").exists() {
        // a file system that holds no folders of its own
        cases.push(("/proc/rendergan_out".into(), "cannot create"));
    }
    for (o_arg, expect) in cases {
        let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
            .current_dir(&work)
            .args(["generate", "-q", "--overwrite", "-c"])
            .arg(fixture("tiny.yaml"))
            .arg("-o")
            .arg(&o_arg)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "-o {o_arg:?}: {err}");
        assert!(err.contains(expect), "-o {o_arg:?}: {err}");
    }
    let mut left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .chain(std::fs::read_dir(&work).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["a_file", "precious.txt", "work"],
        "nothing written or removed"
    );
}

/// A process id that is not running: a child that has exited.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn folders_left_by_killed_runs_are_finished_or_cleared() {
    let run = |out: &std::path::Path, overwrite: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rendergan"));
        c.args(["generate", "-q", "-n", "2", "-c"])
            .arg(fixture("tiny.yaml"))
            .arg("-o")
            .arg(out);
        if overwrite {
            c.arg("--overwrite");
        }
        c.output().unwrap()
    };
    let pid = dead_pid();
    let hidden = |dir: &std::path::Path, kind: &str| dir.join(format!(".out.{kind}-{pid}"));
    let put = |dir: &std::path::Path, file: &str| {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(file), file).unwrap();
    };

    // killed between its two renames: the old dataset aside, the finished one not yet in place
    let t = tmp();
    let out = t.path().join("out");
    put(&hidden(t.path(), "old"), "old.txt");
    put(&hidden(t.path(), "complete"), "new.txt");
    let o = run(&out, false);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("finished the swap"), "{err}");
    assert_eq!(
        o.status.code(),
        Some(1),
        "then refused without --overwrite: {err}"
    );
    assert_eq!(names(&out), ["new.txt"]);
    assert_eq!(names(t.path()), ["out"], "{err}");

    // killed after moving the old dataset aside, with no finished one: it is put back
    let t = tmp();
    let out = t.path().join("out");
    put(&hidden(t.path(), "old"), "old.txt");
    let o = run(&out, false);
    assert_eq!(
        names(&out),
        ["old.txt"],
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(names(t.path()), ["out"]);

    // the old dataset's deletion and an unfinished run interrupted: both cleared, the run works
    let t = tmp();
    let out = t.path().join("out");
    put(&out, "current.txt");
    put(&hidden(t.path(), "old"), "old.txt");
    put(&hidden(t.path(), "partial"), "half.txt");
    let o = run(&out, true);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("removed a replaced dataset") && err.contains("removed an unfinished dataset"),
        "{err}"
    );
    assert!(out.join("manifest.jsonl").is_file());
    assert_eq!(names(t.path()), ["out"]);
}

#[test]
fn rayon_num_threads_sets_the_workers_unless_threads_is_given() {
    let out = tmp();
    let gen = |env: &str, flag: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rendergan"));
        c.env("RAYON_NUM_THREADS", env)
            .args(["generate", "-q", "-n", "2", "--overwrite", "-c"])
            .arg(fixture("tiny.yaml"))
            .arg("-o")
            .arg(out.path().join("d"));
        if let Some(n) = flag {
            c.args(["--threads", n]);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(gen("3", None).contains(", 3 threads,"));
    assert!(gen("3", Some("1")).contains(", 1 threads,"));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["generate", "--cfg", "x.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn devices_and_bench_run() {
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .arg("devices")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("* "),
        "the chosen adapter is marked"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["bench", "-n", "16", "-c"])
        .arg(root().join("configs/bench.yaml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(line["images"], 16);
    assert!(line["images_per_s"].as_f64().unwrap() > 0.0);
    assert!(line["ms_per_image"]["render"].is_number());
}

#[test]
fn train_bench_and_realism_commands_print_json() {
    let dir = tmp();
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["bench", "--train", "--steps", "2", "--device", "cpu", "-c"])
        .arg(fixture("train.yaml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(line["steps"], 2);
    assert!(line["seconds_per_step_median"].as_f64().unwrap() > 0.0);
    // --res goes through the config's checks: train.resolution is 64 or 128
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["bench", "--train", "--res", "32", "-c"])
        .arg(fixture("train.yaml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--res: expected 64 or 128"));

    let mut cfg = load(&fixture("train.yaml"));
    cfg.count = 24;
    generate(&cfg, &dir.path().join("a"), 2, 1);
    cfg.seed = 77;
    generate(&cfg, &dir.path().join("b"), 2, 1);
    // a dataset folder is read from its images/, not its masks
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["realism", "--steps", "20", "--samples", "32", "--real"])
        .arg(dir.path().join("a/images"))
        .arg("--images")
        .arg(dir.path().join("b"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let acc = line["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["realism", "--real"])
        .arg(dir.path().join("a"))
        .arg("--images")
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--images"));
}

#[test]
fn device_gpu_without_a_gpu_is_bad_input() {
    let hardware = rendergan::render::adapters()
        .iter()
        .any(|a| a.kind != "Cpu" && a.kind != "Other");
    if hardware {
        return; // this machine has a GPU: the flag is fine here
    }
    let dir = tmp();
    let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["train", "--device", "gpu", "--steps", "1", "-c"])
        .arg(fixture("train.yaml"))
        .arg("--real")
        .arg(root().join("tests/golden"))
        .arg("-o")
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--device gpu") && err.contains("--device cpu"),
        "{err}"
    );
    assert!(!dir.path().join("run").exists(), "nothing is written");
}

/// A model whose numbers are finite in validate's 8 draws but not in every image's (here 1 in
/// 100 draws divides 0 by 0): generate stops at the first such image, exit 2, naming the image,
/// the model, the part and the drawn values.
#[test]
fn a_non_finite_draw_at_generate_time_stops_the_run_with_its_cause() {
    let t = tmp();
    std::fs::write(
        t.path().join("rare.yaml"),
        "name: rare\nparams:\n  p: {uniform: [0, 1]}\nparts:\n  - shape: sphere\n    \
         radius: \"0.5 + 0 / floor(p + 0.99)\"\n",
    )
    .unwrap();
    let cfg = t.path().join("cfg.yaml");
    std::fs::write(
        &cfg,
        "count: 400\nimage: {width: 32, height: 32}\ncamera: {distance: 5, elevation: 60, fov: 40}\n\
         objects:\n  - {model: rare.yaml}\n",
    )
    .unwrap();
    let run = |cmd: &str| {
        Command::new(env!("CARGO_BIN_EXE_rendergan"))
            .args([cmd, "-c"])
            .arg(&cfg)
            .args(if cmd == "generate" {
                vec!["-q", "-o"]
            } else {
                vec![]
            })
            .args(if cmd == "generate" {
                vec![t.path().join("out")]
            } else {
                vec![]
            })
            .output()
            .unwrap()
    };
    assert!(
        run("validate").status.success(),
        "validate's 8 draws are all finite"
    );
    let o = run("generate");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("image ")
            && err.contains("model \"rare\"")
            && err.contains("part `sphere`")
            && err.contains("p = "),
        "{err}"
    );
    assert!(!t.path().join("out").exists(), "no dataset swapped in");
}
