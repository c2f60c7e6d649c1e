//! What `generate --resume` needs to finish a stopped run: a stamp of the run (config, seed,
//! count, learned chain) and a journal of the images written, in image order, one line each
//! with everything the in-order files take from that image. Both live in the unfinished dataset
//! folder and are removed before it is swapped into place. A kill at any moment leaves a
//! journal whose whole lines are images whose files are all on disk (a line is written only
//! after its files), so a resumed run replays those lines and renders the rest.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};

use super::{DatasetWriter, Processed, StageTimes};
use crate::config::Config;

/// The journal: one JSON line per image, in image order.
pub const JOURNAL: &str = ".rendergan-journal.jsonl";
/// The run's stamp: the hash of everything that decides the images.
pub const STAMP: &str = ".rendergan-run";

/// FNV-1a, 64 bit: a stable hash (the same in every build, unlike std's).
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The stamp of a run of `cfg`: every checked setting (count and seed included, the config
/// file's path and the output folder not) and the weights of the learned chain it applies.
pub fn stamp(cfg: &Config) -> String {
    run_stamp(cfg, None)
}

/// [`stamp`] of shard `shard` = (index, total) of a run; `None` for the whole run.
pub fn run_stamp(cfg: &Config, shard: Option<(u64, u64)>) -> String {
    let mut c = cfg.clone();
    // where the config and the output are does not change the images
    c.file = Default::default();
    c.output.dir = Default::default();
    let mut h = fnv(format!("{c:?}").as_bytes(), 0xcbf2_9ce4_8422_2325);
    if let Some(run) = &cfg.augment {
        if let Ok(bytes) = std::fs::read(run.join(super::run_folder::GENERATOR)) {
            h = fnv(&bytes, h);
        }
    }
    let shard = shard.map_or(String::new(), |(i, n)| format!(" shard {i}/{n}"));
    format!(
        "rendergan {} run {h:016x} count {}{shard}\n",
        env!("CARGO_PKG_VERSION"),
        cfg.count
    )
}

/// Marks `root` as the unfinished dataset of a run (or shard) of `cfg`.
pub fn write_stamp(root: &Path, cfg: &Config, shard: Option<(u64, u64)>) -> Result<()> {
    let p = root.join(STAMP);
    std::fs::write(&p, run_stamp(cfg, shard))
        .with_context(|| format!("cannot write {}", p.display()))
}

/// Whether `root` is an unfinished dataset of that run (or shard) of `cfg`.
pub fn matches(root: &Path, cfg: &Config, shard: Option<(u64, u64)>) -> bool {
    std::fs::read_to_string(root.join(STAMP)).is_ok_and(|s| s == run_stamp(cfg, shard))
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

/// Removes the stamp and the journal from a finished dataset.
pub fn remove(root: &Path) -> Result<()> {
    for name in [JOURNAL, STAMP] {
        let p = root.join(name);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    Ok(())
}
