//! `generate --resume` after `kill -9` at any moment: the resumed run renders only what is
//! missing and ends byte-identical to an uninterrupted run, with nothing left beside it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::{root, tmp};

fn start(out: &Path, n: u64, resume: bool) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rendergan"));
    c.args(["generate", "-q", "--overwrite", "--threads", "2", "-c"])
        .arg(root().join("configs/quickstart.yaml"))
        .args(["-n", &n.to_string(), "-o"])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if resume {
        c.arg("--resume");
    }
    c.spawn().unwrap()
}

/// Lines in the journal of `pid`'s unfinished dataset beside `out`.
fn journaled(out: &Path, pid: u32) -> usize {
    let j = out
        .with_file_name(format!(".out.partial-{pid}"))
        .join(".rendergan-journal.jsonl");
    std::fs::read(j).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

/// Kills `child` with SIGKILL once its journal holds `at` images (or it ended first); returns
/// whether it was killed before it finished.
fn kill_at(child: &mut Child, out: &Path, at: usize) -> bool {
    let t = Instant::now();
    while journaled(out, child.id()) < at && t.elapsed() < Duration::from_secs(300) {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    !status.success()
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
        .collect();
    v.sort();
    v
}

pub fn assert_same_tree(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(
        fa,
        fb,
        "the same files in {} and {}",
        a.display(),
        b.display()
    );
    for f in &fa {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{} differs",
            f.display()
        );
    }
}

fn finish(child: Child) -> String {
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

#[test]
fn a_killed_run_resumes_to_the_same_bytes() {
    const N: u64 = 120;
    let t = tmp();
    let reference = t.path().join("reference");
    finish(start(&reference, N, false));

    let out = t.path().join("out");
    // killed a quarter of the way, resumed, killed again half way, resumed to the end
    let mut first = start(&out, N, false);
    assert!(
        kill_at(&mut first, &out, N as usize / 4),
        "killed before the end"
    );
    let mut second = start(&out, N, true);
    let killed = kill_at(&mut second, &out, N as usize / 2);
    let err = if killed {
        finish(start(&out, N, true))
    } else {
        String::from_utf8_lossy(&second.wait_with_output().unwrap().stderr).into_owned()
    };
    assert!(
        err.contains("--resume:") && err.contains("were done"),
        "{err}"
    );
    assert_same_tree(&reference, &out);
    let mut left: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["out", "reference"],
        "nothing left beside the datasets"
    );

    // a run without --resume starts over, says so, and removes the stopped run's folder
    let mut third = start(&out, N, false);
    assert!(kill_at(&mut third, &out, 10));
    let err = finish(start(&out, N, false));
    assert!(err.contains("run with --resume instead"), "{err}");
    assert!(err.contains("removed an unfinished dataset"), "{err}");
    assert_same_tree(&reference, &out);

    // another count is another run: not continued
    let mut fourth = start(&out, N, false);
    assert!(kill_at(&mut fourth, &out, 10));
    let err = finish(start(&out, N + 1, true));
    assert!(err.contains("another config, seed or count"), "{err}");
}

/// `kill -9` at random moments, 20 times over, each followed by `--resume`; at the end the
/// dataset is byte-identical to an uninterrupted run's. Slow: `cargo test --release --test it
/// kill_loop -- --ignored`.
#[test]
#[ignore]
fn kill_loop() {
    const N: u64 = 400;
    let t = tmp();
    let reference = t.path().join("reference");
    finish(start(&reference, N, false));
    let out = t.path().join("out");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut kills = Vec::new();
    for round in 0..20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut c = start(&out, N, round > 0);
        std::thread::sleep(Duration::from_millis(300 + state % 2500));
        if c.try_wait().unwrap().is_none() {
            let done = journaled(&out, c.id());
            c.kill().unwrap();
            kills.push(done);
        }
        let _ = c.wait();
    }
    finish(start(&out, N, true));
    eprintln!(
        "kill_loop: {} kills; images in the journal at each: {kills:?}",
        kills.len()
    );
    assert_same_tree(&reference, &out);
}

/// `--resume` on a finished run is idempotent, as a retried cluster task needs: the same run
/// says it is done and exits 0 without touching the files; another run says what differs and
/// exits 2; `--overwrite` still replaces it.
#[test]
fn resuming_a_finished_run_is_done_or_says_what_differs() {
    let t = tmp();
    let out = t.path().join("out");
    let run = |n: u64, seed: u64, extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_rendergan"))
            .args(["generate", "-q", "--resume", "-c"])
            .arg(root().join("configs/quickstart.yaml"))
            .args(["-n", &n.to_string(), "--seed", &seed.to_string(), "-o"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        (o.status.code(), text)
    };
    let (code, text) = run(6, 1, &[]);
    assert_eq!(code, Some(0), "{text}");
    let before = std::fs::read(out.join("manifest.jsonl")).unwrap();
    let stamp_at = std::fs::metadata(out.join("manifest.jsonl"))
        .unwrap()
        .modified()
        .unwrap();

    let (code, text) = run(6, 1, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("already holds this run, finished"), "{text}");
    assert_eq!(std::fs::read(out.join("manifest.jsonl")).unwrap(), before);
    assert_eq!(
        std::fs::metadata(out.join("manifest.jsonl"))
            .unwrap()
            .modified()
            .unwrap(),
        stamp_at,
        "nothing rewritten"
    );

    let (code, text) = run(7, 2, &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("seed 2 vs 1")
            && text.contains("count 7 vs 6")
            && text.contains("--overwrite"),
        "{text}"
    );
    assert_eq!(std::fs::read(out.join("manifest.jsonl")).unwrap(), before);

    let (code, text) = run(7, 2, &["--overwrite"]);
    assert_eq!(code, Some(0), "{text}");
    assert_ne!(std::fs::read(out.join("manifest.jsonl")).unwrap(), before);
}
