//! WebDataset output (`formats: [..., webdataset]`): `webdataset/<split>-NNNNNN.tar`, each
//! holding `output.tar_samples` samples in image order. A sample is `<stem>.png` (the image),
//! `<stem>.json` (`{"annotations": [COCO annotations without ids], "manifest": {the manifest
//! line}}`) and, with masks, `<stem>.mask.png` (16-bit instance ids). Entries carry fixed
//! metadata (mode 644, time 0), so the tars are a pure function of the images like everything
//! else. The Python `webdataset` package groups them by stem.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The folder of the tar files in a dataset.
pub const FOLDER: &str = "webdataset";

/// One split's tar files in the making.
struct SplitTars {
    builder: Option<tar::Builder<BufWriter<File>>>,
    in_tar: usize,
    next_tar: usize,
}

/// Writes samples into tar files of `per_tar` samples, per split, in the order given.
pub struct WebDatasetWriter {
    dir: PathBuf,
    per_tar: usize,
    splits: Vec<(String, SplitTars)>,
}

impl WebDatasetWriter {
    /// Starts writing under `root/webdataset/`.
    pub fn new(root: &Path, per_tar: usize) -> Result<WebDatasetWriter> {
        let dir = root.join(FOLDER);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(WebDatasetWriter {
            dir,
            per_tar: per_tar.max(1),
            splits: Vec::new(),
        })
    }

    /// Appends one sample (its files as (name, bytes), names starting with the sample's stem) to
    /// the current tar of `split`, starting the next tar when it is full.
    pub fn add(&mut self, split: &str, files: &[(String, Vec<u8>)]) -> Result<()> {
        let per_tar = self.per_tar;
        let dir = self.dir.clone();
        let i = match self.splits.iter().position(|(s, _)| s == split) {
            Some(i) => i,
            None => {
                self.splits.push((
                    split.to_string(),
                    SplitTars {
                        builder: None,
                        in_tar: 0,
                        next_tar: 0,
                    },
                ));
                self.splits.len() - 1
            }
        };
        let t = &mut self.splits[i].1;
        if t.builder.is_none() || t.in_tar == per_tar {
            if let Some(b) = t.builder.take() {
                finish(b)?;
            }
            let p = dir.join(format!("{split}-{:06}.tar", t.next_tar));
            let f = File::create(&p).with_context(|| format!("cannot create {}", p.display()))?;
            t.builder = Some(tar::Builder::new(BufWriter::new(f)));
            t.next_tar += 1;
            t.in_tar = 0;
        }
        let b = t.builder.as_mut().expect("a tar was just started");
        for (name, bytes) in files {
            let mut h = tar::Header::new_ustar();
            h.set_path(name)
                .with_context(|| format!("{name}: not a tar entry name"))?;
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            b.append(&h, bytes.as_slice())
                .with_context(|| format!("cannot write {name} to a tar in {}", dir.display()))?;
        }
        t.in_tar += 1;
        Ok(())
    }

    /// Closes the open tar files.
    pub fn finish(self) -> Result<()> {
        for (_, t) in self.splits {
            if let Some(b) = t.builder {
                finish(b)?;
            }
        }
        Ok(())
    }
}

fn finish(b: tar::Builder<BufWriter<File>>) -> Result<()> {
    let w = b.into_inner().context("cannot finish a tar file")?;
    w.into_inner()
        .map_err(|e| e.into_error())
        .context("cannot write a tar file")?;
    Ok(())
}

/// The files of image `stem` of `split` as a sample: the image and (with masks) the mask read
/// back from `root`, and the JSON of its COCO annotation bodies and manifest line.
pub fn sample(
    root: &Path,
    split: &str,
    stem: &str,
    masks: bool,
    coco_annotations: &[String],
    manifest_line: &str,
) -> Result<Vec<(String, Vec<u8>)>> {
    let read =
        |p: PathBuf| std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()));
    let mut files = vec![(
        format!("{stem}.png"),
        read(root.join("images").join(split).join(format!("{stem}.png")))?,
    )];
    let annotations: Vec<String> = coco_annotations.iter().map(|b| format!("{{{b}")).collect();
    let json = format!(
        "{{\"annotations\":[{}],\"manifest\":{manifest_line}}}",
        annotations.join(",")
    );
    files.push((format!("{stem}.json"), json.into_bytes()));
    if masks {
        files.push((
            format!("{stem}.mask.png"),
            read(root.join("masks").join(split).join(format!("{stem}.png")))?,
        ));
    }
    Ok(files)
}

/// Every sample of `split` in the tar files of the datasets `roots`, in order, handed to `f`
/// one at a time (files grouped by stem): what `rendergan merge` re-packs.
pub fn for_each_sample(
    roots: &[PathBuf],
    split: &str,
    mut f: impl FnMut(Vec<(String, Vec<u8>)>) -> Result<()>,
) -> Result<()> {
    let mut sample: Vec<(String, Vec<u8>)> = Vec::new();
    let stem_of = |n: &str| n.split('.').next().unwrap_or_default().to_string();
    for root in roots {
        let dir = root.join(FOLDER);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut tars: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{split}-")) && n.ends_with(".tar"))
            })
            .collect();
        tars.sort();
        for p in tars {
            let file = File::open(&p).with_context(|| format!("cannot read {}", p.display()))?;
            let mut archive = tar::Archive::new(std::io::BufReader::new(file));
            for entry in archive
                .entries()
                .with_context(|| format!("{}: not a tar file", p.display()))?
            {
                let mut entry =
                    entry.with_context(|| format!("{}: a broken entry", p.display()))?;
                let name = entry.path()?.to_string_lossy().into_owned();
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut bytes)
                    .with_context(|| format!("cannot read {name} in {}", p.display()))?;
                if sample
                    .first()
                    .is_some_and(|(n, _)| stem_of(n) != stem_of(&name))
                {
                    f(std::mem::take(&mut sample))?;
                }
                sample.push((name, bytes));
            }
        }
    }
    if !sample.is_empty() {
        f(sample)?;
    }
    Ok(())
}
