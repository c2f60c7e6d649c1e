//! `rendergan merge OUT SHARD...`: joins the datasets of `generate --shard i/n` into the one a
//! single machine would have made, byte for byte. The shards must come from one run (same
//! config, seed and count: their `shard.json` stamps agree) and cover every image exactly once.
//! Image, label, mask, depth, normal and anomaly files keep their global names and are linked
//! (or copied); `manifest.jsonl` is concatenated in index order; each split's COCO file is
//! streamed element by element with its annotation ids renumbered; `preview.png` comes from the
//! shard holding image 0. Memory does not grow with the number of images.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::config::InputError;
use crate::dataset::anomaly::ANOMALIB_SNIPPET;
use crate::dataset::coco::CocoWriter;
use crate::dataset::shard::{self, ShardInfo, SHARD_FILE};
use crate::dataset::{webdataset, yolo};
use crate::outdir::{self, check_merge_output, sibling, swap_into_place, Sibling};

/// Files of a shard that the merge writes itself instead of linking (the run stamp: the merged
/// dataset is the whole run's, not a shard's).
const JOINED: &[&str] = &[
    crate::dataset::journal::STAMP,
    "manifest.jsonl",
    "annotations/instances_train.json",
    "annotations/instances_val.json",
    "preview.png",
    "data.yaml",
    SHARD_FILE,
    ANOMALIB_SNIPPET,
];

/// What a merge made.
#[derive(Debug, Clone)]
pub struct MergeSummary {
    pub images: u64,
    pub shards: usize,
}

/// Merges `shards` into `out` (replaced only with `overwrite`, swapped in when complete).
pub fn merge(out: &Path, shards: &[PathBuf], overwrite: bool) -> Result<MergeSummary> {
    let ordered = check_shards(shards)?;
    check_merge_output(out, overwrite)?;
    outdir::create_output_folder(outdir::parent_of(out))?;
    let pid = std::process::id();
    let work = sibling(out, Sibling::Partial, pid);
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("cannot remove {}", work.display()))?;
    }
    outdir::create_output_folder(&work)?;
    match join(&work, &ordered) {
        Ok(()) => {
            swap_into_place(&work, out, pid)?;
            for w in crate::dataset::anomaly::empty_folders(out) {
                eprintln!("rendergan: warning: {w}");
            }
            Ok(MergeSummary {
                images: ordered.last().map_or(0, |(i, _)| i.count),
                shards: ordered.len(),
            })
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            Err(e)
        }
    }
}

/// The shards in index order, after checking that they belong to one run and cover every image
/// exactly once; every refusal names the shard.
fn check_shards(shards: &[PathBuf]) -> Result<Vec<(ShardInfo, PathBuf)>> {
    if shards.is_empty() {
        return Err(InputError("merge: give the shard folders to join".into()).into());
    }
    let mut all = Vec::new();
    for dir in shards {
        all.push((shard::read(dir)?, dir.clone()));
    }
    all.sort_by_key(|(i, _)| i.first);
    let (first, first_dir) = &all[0];
    let mut expect = 0;
    for (info, dir) in &all {
        if info.run != first.run || info.count != first.count {
            return Err(InputError(format!(
                "{} is a shard of another run ({}, {} images) than {} ({}, {} images): shards must \
                 come from the same config, seed and count",
                dir.display(),
                info.run,
                info.count,
                first_dir.display(),
                first.run,
                first.count
            ))
            .into());
        }
        if info.first < expect {
            return Err(InputError(format!(
                "{} holds images {}..{} again (shard {}/{}): give each shard once",
                dir.display(),
                info.first,
                expect.min(info.end),
                info.shard,
                info.of
            ))
            .into());
        }
        if info.first > expect {
            return Err(InputError(format!(
                "images {expect}..{} are missing: no shard holds them (shards given: {}); \
                 generate the missing shard and merge again",
                info.first,
                all.iter()
                    .map(|(i, _)| format!("{}/{}", i.shard, i.of))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }
        expect = info.end;
    }
    if expect != first.count {
        return Err(InputError(format!(
            "images {expect}..{} are missing: the last shard given ends at {expect}; generate the \
             missing shards and merge again",
            first.count
        ))
        .into());
    }
    Ok(all)
}

/// Writes the merged dataset into `work`.
fn join(work: &Path, shards: &[(ShardInfo, PathBuf)]) -> Result<()> {
    for (_, dir) in shards {
        link_tree(dir, work)?;
    }
    let mut manifest = BufWriter::new(create(&work.join("manifest.jsonl"))?);
    for (_, dir) in shards {
        let p = dir.join("manifest.jsonl");
        let mut f = File::open(&p).with_context(|| format!("cannot read {}", p.display()))?;
        std::io::copy(&mut f, &mut manifest)
            .with_context(|| format!("cannot write {}", work.join("manifest.jsonl").display()))?;
    }
    manifest.flush()?;
    for split in ["train", "val"] {
        merge_coco(work, shards, split)?;
    }
    merge_webdataset(work, shards)?;
    let head = &shards[0].1;
    // the whole run's stamp, as a single machine's run keeps it: a shard's, less the shard
    if let Some(mut stamp) = crate::dataset::journal::Stamp::read(head) {
        stamp.shard = None;
        stamp.write(work)?;
    }
    for name in ["preview.png", ANOMALIB_SNIPPET] {
        if head.join(name).is_file() {
            std::fs::copy(head.join(name), work.join(name))
                .with_context(|| format!("cannot copy {}", head.join(name).display()))?;
        }
    }
    if head.join("data.yaml").is_file() {
        let text = std::fs::read_to_string(head.join("data.yaml"))?;
        let has_val = work.join("images/val").is_dir();
        let lines: Vec<&str> = text
            .lines()
            .map(|l| match l.starts_with("val:") {
                true => yolo::val_line(has_val),
                false => l,
            })
            .collect();
        std::fs::write(work.join("data.yaml"), lines.join("\n") + "\n")
            .with_context(|| format!("cannot write {}", work.join("data.yaml").display()))?;
    }
    Ok(())
}

/// Re-packs the shards' WebDataset samples, in order, into tars of the run's size (read from
/// shard 0's first tar).
fn merge_webdataset(work: &Path, shards: &[(ShardInfo, PathBuf)]) -> Result<()> {
    let dirs: Vec<PathBuf> = shards.iter().map(|(_, d)| d.clone()).collect();
    if !dirs[0].join(webdataset::FOLDER).is_dir() {
        return Ok(());
    }
    let per_tar = shards[0].0.tar_samples.unwrap_or(1000);
    let mut writer = webdataset::WebDatasetWriter::new(work, per_tar)?;
    for split in ["train", "val"] {
        webdataset::for_each_sample(&dirs, split, |files| writer.add(split, &files))?;
    }
    writer.finish()
}

fn create(p: &Path) -> Result<File> {
    File::create(p).with_context(|| format!("cannot create {}", p.display()))
}

/// Every folder of `from` again in `to`, and every file not in [`JOINED`] hard-linked (copied
/// across file systems); a file that is already there means two shards hold one image.
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    for e in walkdir::WalkDir::new(from).min_depth(1) {
        let e = e.with_context(|| format!("cannot read {}", from.display()))?;
        let rel = e
            .path()
            .strip_prefix(from)
            .expect("walkdir stays below its root");
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest)
                .with_context(|| format!("cannot create {}", dest.display()))?;
            continue;
        }
        if JOINED.iter().any(|j| Path::new(j) == rel) || rel.starts_with(webdataset::FOLDER) {
            continue;
        }
        if dest.exists() {
            bail!(
                "{} is in two shards (the second: {}); give each shard once",
                rel.display(),
                from.display()
            );
        }
        if std::fs::hard_link(e.path(), &dest).is_err() {
            std::fs::copy(e.path(), &dest).with_context(|| {
                format!("cannot copy {} to {}", e.path().display(), dest.display())
            })?;
        }
    }
    Ok(())
}

/// Streams `annotations/instances_<split>.json` of every shard into one, annotation ids
/// renumbered in order; info and categories from the first shard (they are equal in all). The
/// elements are moved as text, so every number stays exactly as it was written.
fn merge_coco(work: &Path, shards: &[(ShardInfo, PathBuf)], split: &str) -> Result<()> {
    let name = format!("annotations/instances_{split}.json");
    if !shards.iter().any(|(_, d)| d.join(&name).is_file()) {
        return Ok(());
    }
    let out = work.join(&name);
    let mut writer =
        CocoWriter::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut head: Option<(String, String)> = None;
    for (_, dir) in shards {
        let p = dir.join(&name);
        let f = File::open(&p).with_context(|| format!("cannot read {}", p.display()))?;
        let mut info = None;
        let mut categories = None;
        let bad = || format!("{}: not a COCO file rendergan wrote", p.display());
        scan_top_level(
            BufReader::new(f),
            &["images", "annotations"],
            |key, element| {
                match key {
                    "info" => info = Some(element.to_string()),
                    "categories" => categories = Some(element.to_string()),
                    "images[]" => writer.add_image(element)?,
                    "annotations[]" => {
                        // `{"id":N,<body>}`: the id is renumbered, the body kept
                        let body = element
                            .strip_prefix("{\"id\":")
                            .and_then(|r| r.split_once(','))
                            .map(|(_, body)| body)
                            .ok_or_else(|| {
                                std::io::Error::other("an annotation without a leading id")
                            })?;
                        writer.add_annotation(body)?;
                    }
                    _ => {}
                }
                Ok(())
            },
        )
        .with_context(bad)?;
        if head.is_none() {
            head = info.zip(categories);
        }
    }
    let (info, categories) =
        head.context("the first shard's COCO file has no info or categories")?;
    writer
        .finish_with(&categories, &info)
        .with_context(|| format!("cannot write {}", out.display()))
}

/// Walks a JSON object's top level as text: `f(key, value)` for each member, and for the
/// members named in `streamed` (arrays), `f("key[]", element)` for each element instead, as it
/// is read (an array of millions of elements never sits in memory). Whitespace outside strings is dropped,
/// which the files rendergan writes do not have. Long: one character-level state machine
/// (strings, escapes, depth), which reads best whole.
fn scan_top_level(
    r: impl std::io::Read,
    streamed: &[&str],
    mut f: impl FnMut(&str, &str) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Read;
    let text = |b: &[u8]| {
        std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| std::io::Error::other("not UTF-8"))
    };
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut key: Option<String> = None; // set once the member's `:` is read
    let mut array = false; // the current member's value is an array
    let mut buf: Vec<u8> = Vec::new();
    for byte in std::io::BufReader::new(r).bytes() {
        let c = byte?;
        if in_string {
            buf.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                buf.push(c);
            }
            b' ' | b'\n' | b'\r' | b'\t' => {}
            b'{' | b'[' => {
                depth += 1;
                let stream = key.as_deref().is_some_and(|k| streamed.contains(&k));
                if depth == 2 && c == b'[' && stream && buf.is_empty() {
                    array = true;
                } else if depth > 1 {
                    buf.push(c);
                }
            }
            b'}' | b']' => {
                if depth == 2 && array && c == b']' {
                    if !buf.is_empty() {
                        f(&format!("{}[]", key.as_deref().unwrap_or("")), &text(&buf)?)?;
                        buf.clear();
                    }
                } else if depth == 1 {
                    if let Some(k) = key.take() {
                        if !array {
                            f(&k, &text(&buf)?)?;
                        }
                    }
                    buf.clear();
                    array = false;
                } else {
                    buf.push(c);
                }
                depth = depth.saturating_sub(1);
            }
            b':' if depth == 1 && key.is_none() => {
                let k = text(&buf)?;
                key = Some(k.trim_matches('"').to_string());
                buf.clear();
            }
            b',' if depth == 1 => {
                if let Some(k) = key.take() {
                    if !array {
                        f(&k, &text(&buf)?)?;
                    }
                }
                buf.clear();
                array = false;
            }
            b',' if depth == 2 && array => {
                f(&format!("{}[]", key.as_deref().unwrap_or("")), &text(&buf)?)?;
                buf.clear();
            }
            _ => buf.push(c),
        }
    }
    if depth != 0 || in_string {
        return Err(std::io::Error::other("the JSON ends early"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_level_scan_hands_over_members_and_array_elements_as_written() {
        let json = r#"{"info":{"a":[1,2],"s":"x,]}"},"licenses":[],"images":[{"id":0,"v":0.9682269503546099},{"id":1}],"n":5}"#;
        let mut seen = Vec::new();
        scan_top_level(json.as_bytes(), &["images"], |k, v| {
            seen.push(format!("{k}={v}"));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                r#"info={"a":[1,2],"s":"x,]}"}"#,
                "licenses=[]",
                r#"images[]={"id":0,"v":0.9682269503546099}"#,
                r#"images[]={"id":1}"#,
                "n=5",
            ]
        );
        let cut = &br#"{"images":[{"id":0"#[..];
        assert!(scan_top_level(cut, &["images"], |_, _| Ok(())).is_err());
    }
}
