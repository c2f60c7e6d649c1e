//! What `generate --resume` needs to finish a stopped run: a stamp of the run (config, seed,
//! count, learned chain) and a journal of the images written, in image order, one line each
//! with everything the in-order files take from that image. Both live in the unfinished dataset
//! folder and are removed before it is swapped into place. A kill at any moment leaves a
//! journal whose whole lines are images whose files are all on disk (a line is written only
//! after its files), so a resumed run replays those lines and renders the rest.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{DatasetWriter, Processed, StageTimes};
use crate::config::{Background, Config};

/// The journal: one JSON line per image, in image order.
pub const JOURNAL: &str = ".rendergan-journal.jsonl";
/// The run's stamp ([`Stamp`]), kept in unfinished and finished datasets.
pub const STAMP: &str = ".rendergan-run";

/// FNV-1a, 64 bit: a stable hash (the same in every build, unlike std's).
pub(crate) fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// What decides a run's images, as `--resume` compares it: kept as JSON in the dataset folder
/// ([`STAMP`]) while the run is unfinished and after it completes, so a run repeated on a
/// finished folder (a retried cluster task) can tell it is already done, or say what differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The version that wrote it.
    pub rendergan: String,
    /// Hash of every checked setting but the seed and the count (the config file's path and the
    /// output folder left out: they do not change the images). The validated config's `Debug`
    /// text is hashed: it holds every setting, and is stable within a version, which the stamp
    /// names too.
    pub settings: String,
    pub seed: u64,
    pub count: u64,
    /// (index, total) of a shard; `None` for the whole run.
    pub shard: Option<(u64, u64)>,
    /// Hash of the learned chain's weights, when one is applied.
    pub chain: Option<String>,
}

impl Stamp {
    /// The stamp of a run (or shard `shard` = (index, total)) of `cfg`.
    pub fn of(cfg: &Config, shard: Option<(u64, u64)>) -> Stamp {
        let mut c = cfg.clone();
        c.seed = 0;
        c.count = 0;
        Stamp {
            rendergan: env!("CARGO_PKG_VERSION").to_string(),
            settings: format!("{:016x}", fnv(settings(&c).as_bytes(), FNV_START)),
            seed: cfg.seed,
            count: cfg.count,
            shard,
            chain: chain(cfg).map(|bytes| format!("{:016x}", fnv(&bytes, FNV_START))),
        }
    }

    /// The stamp kept in the dataset folder `root`; `None` when there is none (or it is not one).
    pub fn read(root: &Path) -> Option<Stamp> {
        serde_json::from_str(&std::fs::read_to_string(root.join(STAMP)).ok()?).ok()
    }

    /// Keeps the stamp in the dataset folder `root`.
    pub fn write(&self, root: &Path) -> Result<()> {
        let p = root.join(STAMP);
        std::fs::write(
            &p,
            serde_json::to_string(self).expect("strings and numbers serialise") + "\n",
        )
        .with_context(|| format!("cannot write {}", p.display()))
    }

    /// What differs between the run `self` and the run `other`, as a user reads it (empty when
    /// they are the same run).
    pub fn differences(&self, other: &Stamp) -> Vec<String> {
        let mut d = Vec::new();
        let show =
            |s: &Option<(u64, u64)>| s.map_or("none".to_string(), |(i, n)| format!("{i}/{n}"));
        if self.seed != other.seed {
            d.push(format!("seed {} vs {}", self.seed, other.seed));
        }
        if self.count != other.count {
            d.push(format!("count {} vs {}", self.count, other.count));
        }
        if self.shard != other.shard {
            d.push(format!(
                "shard {} vs {}",
                show(&self.shard),
                show(&other.shard)
            ));
        }
        if self.settings != other.settings {
            d.push("the config's settings".to_string());
        }
        if self.chain != other.chain {
            d.push("the learned chain (--augment)".to_string());
        }
        if self.rendergan != other.rendergan {
            d.push(format!(
                "rendergan {} vs {}",
                self.rendergan, other.rendergan
            ));
        }
        d
    }
}

pub(crate) const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The `Debug` text of every checked setting of `cfg` but where the config and the output are
/// (they do not change the images). The files the config names beside itself (models,
/// background photos, a learned run in `augment:`) count as written there, not as this process
/// reached them: the same config given by another path, or from another folder, is the same
/// run. (A background photo counts by its name, as before by its path: not by its pixels.)
pub(crate) fn settings(cfg: &Config) -> String {
    let mut c = cfg.clone();
    let base = cfg.file.parent().unwrap_or(Path::new(""));
    let beside = |p: &mut PathBuf| {
        if let Ok(r) = p.strip_prefix(base) {
            *p = r.to_path_buf();
        }
    };
    for o in &mut c.objects {
        beside(&mut std::sync::Arc::make_mut(&mut o.model).file);
    }
    if let Background::Images { dir, files, .. } = &mut c.background {
        beside(dir);
        files.iter_mut().for_each(beside);
    }
    if let Some(a) = &mut c.augment {
        beside(a);
    }
    c.file = Default::default();
    c.output.dir = Default::default();
    format!("{c:?}")
}

/// The weights of the learned chain `cfg` applies, when it applies one that can be read.
fn chain(cfg: &Config) -> Option<Vec<u8>> {
    let run = cfg.augment.as_ref()?;
    std::fs::read(run.join(super::run_folder::GENERATOR)).ok()
}

/// The run's stamp as one line of text, as `shard.json` records it (what `merge` compares).
pub fn stamp(cfg: &Config) -> String {
    let mut h = fnv(settings(cfg).as_bytes(), FNV_START);
    if let Some(bytes) = chain(cfg) {
        h = fnv(&bytes, h);
    }
    format!(
        "rendergan {} run {h:016x} count {}\n",
        env!("CARGO_PKG_VERSION"),
        cfg.count
    )
}

/// Whether `root` is an unfinished dataset of that run (or shard) of `cfg`.
pub fn matches(root: &Path, cfg: &Config, shard: Option<(u64, u64)>) -> bool {
    Stamp::read(root).is_some_and(|s| s == Stamp::of(cfg, shard))
}

/// What the output folder holds for `--resume`.
#[derive(Debug)]
pub enum Finished {
    /// No finished dataset with a stamp (none at all, or one from before stamps were kept).
    No,
    /// A finished dataset of this very run: nothing left to do.
    Same,
    /// A finished dataset of another run: what differs.
    Other(Vec<String>),
}

/// Whether `dir` holds a finished dataset of the run (or shard) of `cfg`.
pub fn finished(dir: &Path, cfg: &Config, shard: Option<(u64, u64)>) -> Finished {
    match Stamp::read(dir) {
        None => Finished::No,
        Some(kept) => {
            let d = Stamp::of(cfg, shard).differences(&kept);
            if d.is_empty() {
                Finished::Same
            } else {
                Finished::Other(d)
            }
        }
    }
}

/// One journal line.
pub fn line(p: &Processed) -> String {
    let entry = (
        p.index,
        p.val,
        &p.coco_image,
        &p.coco_annotations,
        &p.manifest_line,
    );
    serde_json::to_string(&entry).expect("strings and numbers serialise")
}

fn parse(line: &str) -> Option<Processed> {
    let (index, val, coco_image, coco_annotations, manifest_line): (
        u64,
        bool,
        String,
        Vec<String>,
        String,
    ) = serde_json::from_str(line).ok()?;
    Some(Processed {
        index,
        val,
        coco_image,
        coco_annotations,
        manifest_line,
        preview: None,
        times: StageTimes::default(),
    })
}

/// How many images the journal in `root` holds (images `first`, `first` + 1, ..., whole lines in
/// order) and the byte length of those lines; what follows (a line cut by a kill) does not count.
pub fn done(root: &Path, first: u64) -> (u64, u64) {
    let Ok(f) = File::open(root.join(JOURNAL)) else {
        return (0, 0);
    };
    let mut r = BufReader::new(f);
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut buf = String::new();
    loop {
        buf.clear();
        match r.read_line(&mut buf) {
            Ok(len) if len > 0 && buf.ends_with('\n') => {}
            _ => break,
        }
        match parse(buf.trim_end()) {
            Some(p) if p.index == first + n => {}
            _ => break,
        }
        n += 1;
        bytes += buf.len() as u64;
    }
    (n, bytes)
}

/// Cuts the journal in `root` to its first `bytes` bytes (what [`done`] counted).
pub fn truncate(root: &Path, bytes: u64) -> Result<()> {
    let p = root.join(JOURNAL);
    if p.exists() {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .with_context(|| format!("cannot open {}", p.display()))?;
        f.set_len(bytes)
            .with_context(|| format!("cannot cut {} back", p.display()))?;
    }
    Ok(())
}

/// Hands the journal's images `from..to` of `root` (whose first line is image `first`) to
/// `writer`, as if just written.
pub fn replay(
    root: &Path,
    first: u64,
    from: u64,
    to: u64,
    writer: &mut DatasetWriter,
) -> Result<()> {
    let p = root.join(JOURNAL);
    let f = File::open(&p).with_context(|| format!("cannot read {}", p.display()))?;
    let mut lines = BufReader::new(f).lines();
    for i in first..to {
        let line = lines
            .next()
            .transpose()
            .with_context(|| format!("cannot read {}", p.display()))?
            .unwrap_or_default();
        if i < from {
            continue;
        }
        let entry = parse(&line).filter(|e| e.index == i).with_context(|| {
            format!(
                "{}: line {} changed while resuming",
                p.display(),
                i - first + 1
            )
        })?;
        writer.accept(entry)?;
    }
    Ok(())
}

/// Removes the journal from a finished dataset (the stamp stays: see [`Stamp`]).
pub fn remove(root: &Path) -> Result<()> {
    let p = root.join(JOURNAL);
    if p.exists() {
        std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One config reached by a relative path and by an absolute one (its model file then
    /// resolves to other paths) is the same run; another config is not.
    #[test]
    fn the_same_config_by_another_path_has_the_same_settings() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let abs = crate::config::load(&root.join("bench/simreal/scenes/wbc.yaml")).unwrap();
        let here = std::env::current_dir().unwrap();
        let rel_path = root
            .join("bench/simreal/scenes/wbc.yaml")
            .strip_prefix(&here)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| root.join("bench/simreal/../simreal/scenes/wbc.yaml"));
        let rel = crate::config::load(&rel_path).unwrap();
        assert_ne!(
            abs.objects[0].model.file, rel.objects[0].model.file,
            "the test needs two spellings of the model's path"
        );
        assert_eq!(settings(&abs), settings(&rel));
        let mut other = abs.clone();
        other.seed += 1;
        assert_ne!(settings(&abs), settings(&other));
    }
}
