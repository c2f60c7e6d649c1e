//! `shard.json`: what a shard of a run is (`generate --shard i/n`), so `rendergan merge` can
//! check that shards belong together (same config, seed and count), cover every image once, and
//! put them in order.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// The file in a shard's dataset folder.
pub const SHARD_FILE: &str = "shard.json";

/// One shard of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// 0-based shard index, and the number of shards.
    pub shard: u64,
    pub of: u64,
    /// The global image indices it holds: `first..end`.
    pub first: u64,
    pub end: u64,
    /// Images in the whole run.
    pub count: u64,
    /// The stamp of the whole run (config, seed, count, learned chain): equal in every shard.
    pub run: String,
    /// Samples per WebDataset tar, when the run writes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tar_samples: Option<usize>,
}

/// Writes `shard.json` into the dataset folder `root`.
pub fn write(
    root: &Path,
    cfg: &Config,
    (shard, of): (u64, u64),
    (first, end): (u64, u64),
) -> Result<()> {
    let info = ShardInfo {
        shard,
        of,
        first,
        end,
        count: cfg.count,
        run: super::journal::stamp(cfg).trim().to_string(),
        tar_samples: cfg.output.webdataset,
    };
    let p = root.join(SHARD_FILE);
    std::fs::write(&p, serde_json::to_string_pretty(&info)? + "\n")
        .with_context(|| format!("cannot write {}", p.display()))
}

/// Reads `shard.json` of a shard's dataset folder.
pub fn read(root: &Path) -> Result<ShardInfo> {
    let p = root.join(SHARD_FILE);
    let text = std::fs::read_to_string(&p).map_err(|_| {
        crate::config::InputError(if root.is_dir() {
            format!(
                "{}: not a shard (no {SHARD_FILE}); give folders written by generate --shard i/n",
                root.display()
            )
        } else {
            format!(
                "{}: no such folder; give folders written by generate --shard i/n",
                root.display()
            )
        })
    })?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a shard file", p.display()))
}
