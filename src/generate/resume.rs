//! Which images a run (or a shard of it) makes, and taking over what a stopped run of the same
//! stamp left (`--resume`).

use std::path::Path;

use anyhow::{Context, Result};

use super::Options;
use crate::config::{Config, InputError};
use crate::dataset::journal;
use crate::outdir;

/// The global image indices `first..end` that shard `shard` = (i, n) of a run makes: the run's
/// chunks of `batch` images dealt out in contiguous, near-equal runs, so every image keeps the
/// batch (and so the pixels) it has in a single-machine run. The whole run without a shard.
pub fn shard_span(cfg: &Config, shard: Option<(u64, u64)>) -> Result<(u64, u64)> {
    let Some((i, n)) = shard else {
        return Ok((0, cfg.count));
    };
    let b = cfg.batch.max(1) as u64;
    let chunks = cfg.count.div_ceil(b);
    if n == 0 {
        return Err(InputError(format!(
            "--shard {i}/0: the number of shards must be at least 1 (0-based indices: 0/4 … 3/4 for four)"
        ))
        .into());
    }
    if i >= n {
        return Err(InputError(format!(
            "--shard {i}/{n}: the index must be below the number of shards (0-based: 0/{n} … {}/{n})",
            n.saturating_sub(1)
        ))
        .into());
    }
    if n > chunks {
        return Err(InputError(format!(
            "--shard {i}/{n}: {} images in chunks of render.batch {b} make only {chunks} chunks, \
             the smallest unit a shard can take; use at most {chunks} shards",
            cfg.count
        ))
        .into());
    }
    let at = |k: u64| (k * chunks / n * b).min(cfg.count);
    Ok((at(i), at(i + 1)))
}

/// With `resume`, moves the unfinished dataset of a stopped run of this same config, seed and
/// count (the one with most images) to `work` and returns how many images it holds; without,
/// says what stopped runs left. 0 when nothing is continued.
pub(super) fn adopt_unfinished(
    cfg: &Config,
    final_dir: &Path,
    work: &Path,
    opts: &Options,
    (first, end): (u64, u64),
) -> Result<u64> {
    let resume = opts.resume;
    let stale = outdir::stale_partials(final_dir);
    if !resume {
        for (_, p) in &stale {
            eprintln!(
                "rendergan: {} holds {} images of a stopped run; this run starts over and \
                 removes it when it completes (run with --resume instead to continue it)",
                p.display(),
                journal::done(p, first).0
            );
        }
        return Ok(0);
    }
    let mut best: Option<(u64, u64, &Path)> = None;
    for (_, p) in &stale {
        if !journal::matches(p, cfg, opts.shard) {
            eprintln!(
                "rendergan: --resume: {} was made with another config, seed or count; not \
                 continued (it is removed when this run completes)",
                p.display()
            );
            continue;
        }
        let (n, bytes) = journal::done(p, first);
        if best.is_none_or(|(m, ..)| n > m) {
            best = Some((n, bytes, p));
        }
    }
    let Some((n, bytes, from)) = best else {
        eprintln!(
            "rendergan: --resume: no stopped run of this config, seed and count left an \
             unfinished dataset beside {}; starting from image 0",
            final_dir.display()
        );
        return Ok(0);
    };
    std::fs::rename(from, work).with_context(|| {
        format!(
            "cannot take over the unfinished dataset {} (as {})",
            from.display(),
            work.display()
        )
    })?;
    journal::truncate(work, bytes)?;
    eprintln!(
        "rendergan: --resume: {n} of {} images were done in {}; rendering the rest",
        end - first,
        from.display()
    );
    Ok(n)
}
