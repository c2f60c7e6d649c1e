//! deploy/: the Kubernetes Indexed Job and the Slurm array run as their engines would run them
//! (each task with its index variables set, `rendergan` on PATH, a shared DATA folder), then
//! their merge steps; the result is byte-identical to one machine's run.

use std::path::Path;
use std::process::Command;

use crate::common::{root, tmp};
use crate::resume::assert_same_tree;

const COUNT: &str = "128"; // 8 chunks of render.batch 16: one per shard

/// A folder with `rendergan` (this build) and a pass-through `srun` to put first on PATH.
fn bin_dir(t: &Path) -> String {
    let bin = t.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rendergan"), bin.join("rendergan")).unwrap();
    std::fs::write(bin.join("srun"), "#!/bin/sh\nexec \"$@\"\n").unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(bin.join("srun"))
        .status()
        .unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn data_dir(t: &Path) -> std::path::PathBuf {
    let data = t.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(
        root().join("configs/quickstart.yaml"),
        data.join("config.yaml"),
    )
    .unwrap();
    data
}

/// One machine's run of the same config file (its name is in the COCO info).
fn single(t: &Path, config: &Path) -> std::path::PathBuf {
    let out = t.join("single");
    let ok = Command::new(env!("CARGO_BIN_EXE_rendergan"))
        .args(["generate", "-q", "-n", COUNT, "-c"])
        .arg(config)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    out
}

fn run(mut c: Command, what: &str) {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_kubernetes_indexed_job_and_its_merge_make_the_single_machine_dataset() {
    let t = tmp();
    let (path, data) = (bin_dir(t.path()), data_dir(t.path()));
    let job = |file: &str| -> serde_yaml::Value {
        serde_yaml::from_str(
            &std::fs::read_to_string(root().join("deploy/k8s").join(file)).unwrap(),
        )
        .unwrap()
    };
    let script = |j: &serde_yaml::Value| -> String {
        j["spec"]["template"]["spec"]["containers"][0]["args"][0]
            .as_str()
            .unwrap()
            .to_string()
    };
    let generate = job("generate-job.yaml");
    assert_eq!(generate["spec"]["completionMode"], "Indexed");
    let completions = generate["spec"]["completions"].as_u64().unwrap();
    assert!(
        script(&generate).contains(&format!("auto/{completions}")),
        "completions and auto/N agree"
    );
    for i in 0..completions {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", &script(&generate)])
            .env("PATH", &path)
            .env("DATA", &data)
            .env("COUNT", COUNT)
            .env("JOB_COMPLETION_INDEX", i.to_string());
        run(c, &format!("generate pod {i}"));
    }
    let mut c = Command::new("/bin/sh");
    c.args(["-c", &script(&job("merge-job.yaml"))])
        .env("PATH", &path)
        .env("DATA", &data);
    run(c, "merge pod");
    assert_same_tree(
        &single(t.path(), &data.join("config.yaml")),
        &data.join("dataset"),
    );
}

#[test]
fn the_slurm_array_and_its_merge_make_the_single_machine_dataset() {
    let t = tmp();
    let (path, data) = (bin_dir(t.path()), data_dir(t.path()));
    let dir = root().join("deploy/slurm");
    let text = std::fs::read_to_string(dir.join("generate.sbatch")).unwrap();
    let range = text
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .expect("an #SBATCH --array line");
    let (lo, hi) = range.split_once('-').unwrap();
    let (lo, hi): (u64, u64) = (lo.parse().unwrap(), hi.parse().unwrap());
    for task in lo..=hi {
        let mut c = Command::new("bash");
        c.arg(dir.join("generate.sbatch"))
            .env("PATH", &path)
            .env("DATA", &data)
            .env("COUNT", COUNT)
            .env("SLURM_ARRAY_TASK_ID", task.to_string())
            .env("SLURM_ARRAY_TASK_MIN", lo.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", (hi - lo + 1).to_string());
        run(c, &format!("array task {task}"));
    }
    let mut c = Command::new("bash");
    c.arg(dir.join("merge.sbatch"))
        .env("PATH", &path)
        .env("DATA", &data);
    run(c, "merge");
    assert_same_tree(
        &single(t.path(), &data.join("config.yaml")),
        &data.join("dataset"),
    );
}
