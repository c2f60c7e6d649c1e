//! `generate --shard i/n` on four processes (two of them told their index the way Slurm and a
//! Kubernetes Indexed Job tell it), then `rendergan merge`: byte-identical to one machine's run.
//! Shards of another run, a missing shard and a shard given twice are refused by name.

use std::process::{Command, Stdio};

use crate::common::{root, tmp};
use crate::resume::assert_same_tree;

fn generate(
    out: &std::path::Path,
    shard: Option<&str>,
    env: &[(&str, &str)],
    seed: u64,
) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rendergan"));
    c.args([
        "generate",
        "-q",
        "--threads",
        "1",
        "-n",
        "120",
        "--seed",
        &seed.to_string(),
        "-c",
    ])
    .arg(root().join("configs/quickstart.yaml"))
    .arg("-o")
    .arg(out)
    .env_remove("SLURM_ARRAY_TASK_ID")
    .env_remove("JOB_COMPLETION_INDEX")
    .stdout(Stdio::null());
    if let Some(s) = shard {
        c.args(["--shard", s]);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn merge(out: &std::path::Path, shards: &[std::path::PathBuf]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .arg("merge")
        .arg(out)
        .args(shards)
        .output()
        .unwrap()
}

#[test]
fn four_shards_merge_into_the_single_machine_dataset() {
    let t = tmp();
    let single = t.path().join("single");
    assert!(generate(&single, None, &[], 1).status().unwrap().success());
    let shard = |i: usize| t.path().join(format!("shard{i}"));
    let mut children = vec![
        generate(&shard(0), Some("0/4"), &[], 1).spawn().unwrap(),
        generate(
            &shard(1),
            Some("auto"),
            &[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            1,
        )
        .spawn()
        .unwrap(),
        generate(
            &shard(2),
            Some("auto/4"),
            &[("JOB_COMPLETION_INDEX", "2")],
            1,
        )
        .spawn()
        .unwrap(),
        generate(&shard(3), Some("3/4"), &[], 1).spawn().unwrap(),
    ];
    for c in &mut children {
        assert!(c.wait().unwrap().success());
    }
    // every shard is a dataset of its own, with global names
    assert!(shard(2).join("images/train/000064.png").is_file());
    assert!(!shard(2).join("images/train/000000.png").exists());
    let merged = t.path().join("merged");
    // in any order
    let order = [shard(2), shard(0), shard(3), shard(1)];
    let o = merge(&merged, &order);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_same_tree(&single, &merged);

    // a missing shard, a shard given twice, a shard of another run: refused, naming it
    let err = |o: std::process::Output| {
        assert_eq!(o.status.code(), Some(2));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = err(merge(&t.path().join("m1"), &[shard(0), shard(1), shard(3)]));
    assert!(e.contains("images 64..96 are missing"), "{e}");
    let e = err(merge(
        &t.path().join("m2"),
        &[shard(0), shard(1), shard(1), shard(2), shard(3)],
    ));
    assert!(e.contains("shard1") && e.contains("again"), "{e}");
    let other = t.path().join("other");
    assert!(generate(&other, Some("3/4"), &[], 2)
        .status()
        .unwrap()
        .success());
    let e = err(merge(
        &t.path().join("m3"),
        &[shard(0), shard(1), shard(2), other.clone()],
    ));
    assert!(e.contains("other") && e.contains("another run"), "{e}");
}
