//! The run folder of `rendergan train -o`: its file names, `run.json` ([`RunInfo`]),
//! checkpoints (each one folder of files renamed into place, then named by a pointer file, so a
//! kill at any moment leaves a whole checkpoint), `metrics.csv`, and atomic writes. What
//! `generate --augment` reads back ([`read_applied`]). The weights are bytes here; burn reads
//! and writes them in `augment`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::augment::stages::StageConfig;
use crate::config::InputError;

/// What a run folder records about its training, enough to rebuild the models.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run folder's layout and model version ([`RUN_FORMAT`]); older runs cannot be applied.
    #[serde(default)]
    pub format: u32,
    pub stages: StageConfig,
    /// Side of the square training crops.
    pub resolution: usize,
    /// Side of the square renders the crops were cut from: the output's scale the per-pixel
    /// stages learned at (`train.learn_at: output`); 0 (runs of format 2) or `resolution` when
    /// the chain learned on whole renders.
    #[serde(default)]
    pub render: usize,
    /// Discriminator width.
    pub d_width: usize,
    /// Steps completed when the checkpoint was written.
    pub step: u64,
    /// The config file training rendered from.
    pub config: PathBuf,
}

/// The run format this version writes: 3 = format 2 with the size of the renders training cut
/// its crops from (`render`); 2 = scale-aware stages with the bounded background (format 1,
/// unnumbered, had a free background generator). Formats 2 and 3 can be applied.
pub const RUN_FORMAT: u32 = 3;
/// The oldest run format this version applies.
const OLDEST_APPLIED: u32 = 2;

/// File names inside a run folder.
pub const RUN_INFO: &str = "run.json";
/// The chain `generate` applies: the averaged weights at the checkpoint with the best held-out
/// realism.
pub const GENERATOR: &str = "generator.bpk";
/// The current running average of the trained weights, where `--resume` continues from.
pub const GENERATOR_EMA: &str = "generator_ema.bpk";
/// The chain's current training weights, where `--resume` continues from.
pub const GENERATOR_TRAIN: &str = "generator_train.bpk";
pub const DISCRIMINATOR: &str = "discriminator.bpk";
/// Where the best checkpoint is kept when learning did not help (`generator.bpk` then holds a
/// chain that changes nothing).
pub const GENERATOR_BEST: &str = "generator_best.bpk";
/// In a checkpoint folder: the optimisers' moments and the discriminator's history of fakes.
pub const ADAM_G: &str = "adam_generator.bpk";
pub const ADAM_D: &str = "adam_discriminator.bpk";
pub const HISTORY: &str = "history.f32";
/// The training outcome (realism of the raw renders, the best probe, the verdict).
pub const OUTCOME: &str = "training.json";
/// Per-step losses and statistics.
pub const METRICS: &str = "metrics.csv";
/// Sample grids, `step_N.png`.
pub const SAMPLES: &str = "samples";
/// The config trained from, copied.
pub const CONFIG_COPY: &str = "config.yaml";

/// Reads `run.json` of a run folder.
pub fn read_run_info(dir: &Path) -> Result<RunInfo> {
    let p = dir.join(RUN_INFO);
    let Ok(text) = std::fs::read_to_string(&p) else {
        return Err(InputError(format!(
            "run folder {}: no {RUN_INFO} there; give the folder `rendergan train -o` wrote",
            dir.display()
        ))
        .into());
    };
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a rendergan run file", p.display()))
}

impl RunInfo {
    /// Side of the renders the training crops were cut from.
    pub fn render_size(&self) -> usize {
        if self.render == 0 {
            self.resolution
        } else {
            self.render
        }
    }
}

/// The run info and the weights `generate --augment` applies, from a run folder this version
/// can apply.
pub fn read_applied(dir: &Path) -> Result<(RunInfo, Vec<u8>)> {
    let info = read_run_info(dir)?;
    if !(OLDEST_APPLIED..=RUN_FORMAT).contains(&info.format) {
        return Err(InputError(format!(
            "run folder {}: trained by another rendergan version (run format {}, this one applies {OLDEST_APPLIED} to {RUN_FORMAT}); train it again",
            dir.display(),
            info.format
        ))
        .into());
    }
    let p = dir.join(GENERATOR);
    let bytes = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
    Ok((info, bytes))
}

/// Writes `bytes` to `path` via a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("part")
    ));
    {
        let mut f =
            File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} into place", path.display()))?;
    Ok(())
}

/// The folder of a run's checkpoints.
pub const CHECKPOINTS: &str = "checkpoint";
/// The pointer file in [`CHECKPOINTS`]: the name of the newest whole checkpoint folder.
const LATEST: &str = "LATEST";

/// Writes `files` as the checkpoint of `step`: into `checkpoint/step_N.tmp/`, renamed to
/// `checkpoint/step_N/`, then named in `checkpoint/LATEST`; older checkpoints are removed after.
pub fn save_checkpoint(dir: &Path, step: u64, files: &[(&str, &[u8])]) -> Result<()> {
    let root = dir.join(CHECKPOINTS);
    let name = format!("step_{step:06}");
    let (tmp, done) = (root.join(format!("{name}.tmp")), root.join(&name));
    for p in [&tmp, &done] {
        if p.exists() {
            std::fs::remove_dir_all(p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    for (file, bytes) in files {
        let p = tmp.join(file);
        let mut f = File::create(&p).with_context(|| format!("cannot write {}", p.display()))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    std::fs::rename(&tmp, &done)
        .with_context(|| format!("cannot move {} into place", done.display()))?;
    write_atomic(&root.join(LATEST), format!("{name}\n").as_bytes())?;
    for e in std::fs::read_dir(&root)
        .with_context(|| format!("cannot read {}", root.display()))?
        .flatten()
    {
        if e.file_name() != *name.as_str() && e.file_name() != LATEST && e.path().is_dir() {
            std::fs::remove_dir_all(e.path())
                .with_context(|| format!("cannot remove {}", e.path().display()))?;
        }
    }
    Ok(())
}

/// The newest whole checkpoint of the run in `dir`: its step and folder; `None` when it has none.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<(u64, PathBuf)>> {
    let pointer = dir.join(CHECKPOINTS).join(LATEST);
    let Ok(text) = std::fs::read_to_string(&pointer) else {
        return Ok(None);
    };
    let name = text.trim();
    let step = name
        .strip_prefix("step_")
        .and_then(|n| n.parse::<u64>().ok())
        .with_context(|| format!("{}: not a checkpoint name: {name:?}", pointer.display()))?;
    let folder = dir.join(CHECKPOINTS).join(name);
    if !folder.is_dir() {
        anyhow::bail!(
            "{} names {}, which is missing; the run cannot be continued, start a new -o folder",
            pointer.display(),
            folder.display()
        );
    }
    Ok(Some((step, folder)))
}

/// Appends rows to `metrics.csv`, writing the header when the file is new.
pub struct Metrics {
    path: PathBuf,
    columns: Vec<String>,
}

/// Column `name` of a run's `metrics.csv`, one value per step row.
pub fn metrics_column(dir: &Path, name: &str) -> Result<Vec<f64>> {
    let path = dir.join(METRICS);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let col = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .position(|h| h == name)
        .with_context(|| format!("{} has no {name} column", path.display()))?;
    Ok(lines
        .filter_map(|l| l.split(',').nth(col)?.parse().ok())
        .collect())
}

impl Metrics {
    /// Opens the metrics file of a run: new, or continued after step `through` (a resumed run:
    /// rows of later steps, written after that checkpoint by the stopped run, are cut).
    pub fn open(dir: &Path, columns: &[&str], through: Option<u64>) -> Result<Metrics> {
        let path = dir.join(METRICS);
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let header = format!("{}\n", columns.join(","));
        let old = match through {
            Some(_) => std::fs::read_to_string(&path).unwrap_or_default(),
            None => String::new(),
        };
        let mut text = header.clone();
        for line in old.lines().skip(1) {
            let step = line.split(',').next().and_then(|v| v.parse::<f64>().ok());
            match (step, through) {
                (Some(s), Some(t)) if s <= t as f64 => {
                    text.push_str(line);
                    text.push('\n');
                }
                _ => break,
            }
        }
        write_atomic(&path, text.as_bytes())?;
        Ok(Metrics { path, columns })
    }

    /// Appends one row; `values` are in column order.
    pub fn row(&mut self, values: &[f64]) -> Result<()> {
        debug_assert_eq!(values.len(), self.columns.len());
        let line: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
        OpenOptions::new()
            .append(true)
            .open(&self.path)
            .and_then(|mut f| writeln!(f, "{}", line.join(",")))
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.bin");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn metrics_reopened_after_a_checkpoint_are_cut_back_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Metrics::open(dir.path(), &["step", "loss"], None).unwrap();
        for s in 1..=3 {
            m.row(&[s as f64, 0.5]).unwrap();
        }
        // a run stopped after step 3 whose last checkpoint was step 2
        Metrics::open(dir.path(), &["step", "loss"], Some(2))
            .unwrap()
            .row(&[3.0, 0.25])
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        assert_eq!(
            text,
            "step,loss\n1.000000,0.500000\n2.000000,0.500000\n3.000000,0.250000\n"
        );
    }

    #[test]
    fn a_checkpoint_is_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        assert!(latest_checkpoint(dir.path()).unwrap().is_none());
        save_checkpoint(dir.path(), 5, &[("a", b"five"), ("b", b"5")]).unwrap();
        // a kill while the next one is written leaves its .tmp folder: step 5 is still the one
        let tmp = dir.path().join(CHECKPOINTS).join("step_000010.tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("a"), b"ten, half").unwrap();
        let (step, folder) = latest_checkpoint(dir.path()).unwrap().unwrap();
        assert_eq!(step, 5);
        assert_eq!(std::fs::read(folder.join("a")).unwrap(), b"five");
        save_checkpoint(dir.path(), 10, &[("a", b"ten"), ("b", b"10")]).unwrap();
        let (step, folder) = latest_checkpoint(dir.path()).unwrap().unwrap();
        assert_eq!(
            (step, std::fs::read(folder.join("b")).unwrap()),
            (10, b"10".to_vec())
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path().join(CHECKPOINTS))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["LATEST", "step_000010"],
            "older and unfinished ones removed"
        );
    }
}
