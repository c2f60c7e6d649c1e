//! The run folder of a training: resolved config, checkpoints (each one folder of files renamed
//! into place, then named by a pointer file, so a kill at any moment leaves a whole checkpoint),
//! `metrics.csv`, and sample grids. No burn.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::{Rgb, RgbImage};

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

impl Metrics {
    /// Opens the metrics file of a run: new, or continued after step `through` (a resumed run:
    /// rows of later steps, written after that checkpoint by the stopped run, are cut).
    pub fn open(dir: &Path, columns: &[&str], through: Option<u64>) -> Result<Metrics> {
        let path = dir.join("metrics.csv");
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

/// Lays out rows of equally sized tiles with a small gap (rows: render, each stage, real).
pub fn grid(rows: &[Vec<RgbImage>]) -> RgbImage {
    let tw = rows.iter().flatten().map(|t| t.width()).max().unwrap_or(1);
    let th = rows.iter().flatten().map(|t| t.height()).max().unwrap_or(1);
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(1) as u32;
    let gap = 2;
    let mut out = RgbImage::from_pixel(
        cols * (tw + gap) + gap,
        rows.len() as u32 * (th + gap) + gap,
        Rgb([32, 32, 32]),
    );
    for (r, row) in rows.iter().enumerate() {
        for (c, tile) in row.iter().enumerate() {
            image::imageops::replace(
                &mut out,
                tile,
                (gap + c as u32 * (tw + gap)) as i64,
                (gap + r as u32 * (th + gap)) as i64,
            );
        }
    }
    out
}

/// `top` with `bottom` below it (left-aligned, the rest dark).
pub fn stack(top: &RgbImage, bottom: &RgbImage) -> RgbImage {
    let mut out = RgbImage::from_pixel(
        top.width().max(bottom.width()),
        top.height() + bottom.height(),
        Rgb([32, 32, 32]),
    );
    image::imageops::replace(&mut out, top, 0, 0);
    image::imageops::replace(&mut out, bottom, 0, top.height() as i64);
    out
}

/// 3 × 5 glyphs (rows top to bottom, 3 bits each, high bit left) for the characters captions use.
fn glyph(ch: char) -> [u8; 5] {
    match ch {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'I' => [7, 2, 2, 2, 7],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'P' => [6, 5, 6, 4, 4],
        'R' => [6, 5, 6, 5, 5],
        'S' => [7, 4, 7, 1, 7],
        'T' => [7, 2, 2, 2, 2],
        'W' => [5, 5, 7, 7, 5],
        _ => [0; 5],
    }
}

/// A strip `width` pixels wide with `text` in light grey (digits and the capitals sample grids
/// use; other characters are blank), for the last row of a sample grid.
pub fn caption(text: &str, width: u32) -> RgbImage {
    let s = 2u32;
    let mut img = RgbImage::from_pixel(width.max(1), 7 * s, Rgb([32, 32, 32]));
    for (i, ch) in text.chars().enumerate() {
        let x0 = 2 + i as u32 * 4 * s;
        for (row, bits) in glyph(ch).iter().enumerate() {
            for col in 0..3u32 {
                if bits >> (2 - col) & 1 == 1 {
                    for dy in 0..s {
                        for dx in 0..s {
                            let (x, y) = (x0 + col * s + dx, s + row as u32 * s + dy);
                            if x < img.width() {
                                img.put_pixel(x, y, Rgb([220, 220, 220]));
                            }
                        }
                    }
                }
            }
        }
    }
    img
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
    fn captions_draw_their_characters() {
        let blank = caption("   ", 60);
        let text = caption("STEP 10", 60);
        let lit = |img: &RgbImage| img.pixels().filter(|p| p.0[0] > 100).count();
        assert_eq!(lit(&blank), 0);
        assert!(lit(&text) > 40, "{}", lit(&text));
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
