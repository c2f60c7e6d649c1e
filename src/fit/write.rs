//! Writes the fitted config: the user's file with each marked distribution replaced in place by
//! its fitted one (comments, order and layout kept), headed by a few comment lines saying what
//! was fitted from which photos. Where an in-place edit is not possible (a mark written in block
//! style, a model file's parameter that needs a new `params:` entry), the whole config is
//! written anew from its YAML tree and the header says the comments were not kept. Paths the
//! config gives relative to its own folder are rewritten when the fitted file lies elsewhere.

use std::path::{Component, Path, PathBuf};

use serde_yaml::Value;

use super::marks::Mark;
use crate::config::dist::Dist;

/// Every line of the header starts with this, so a refit replaces the old header.
pub const HEADER: &str = "# rendergan fit:";

/// Byte ranges of the flow mappings holding a `fit:` key, in text order (comments skipped).
fn marked_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    // positions of `{` still open, and whether the mapping holds a `fit:` key
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' if i == 0 || b[i - 1].is_ascii_whitespace() => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => open.push((i, false)),
            b'}' => {
                if let Some((start, marked)) = open.pop() {
                    if marked {
                        spans.push((start, i + 1));
                    }
                }
            }
            b'f' if text[i..].starts_with("fit:")
                && (i == 0 || matches!(b[i - 1], b'{' | b',' | b' ')) =>
            {
                if let Some(top) = open.last_mut() {
                    top.1 = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    spans.sort();
    spans
}

/// The text of `path` as seen from the folder `base` (both absolute).
fn relative(base: &Path, path: &Path) -> PathBuf {
    let (a, b): (Vec<Component>, Vec<Component>) =
        (base.components().collect(), path.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// Relative file references of the config (model files, background photos) as (as written,
/// as seen from `out_dir`), when the fitted file is written outside the config's folder.
pub fn moved_paths(root: &Value, config: &Path, out_dir: &Path) -> Vec<(String, String)> {
    let from = absolute(config.parent().unwrap_or(Path::new(".")));
    let to = absolute(out_dir);
    if from == to {
        return Vec::new();
    }
    let mut written: Vec<String> = Vec::new();
    if let Some(Value::Sequence(objs)) = root.get("objects") {
        for o in objs {
            if let Some(m) = o.get("model").and_then(Value::as_str) {
                let is_path = m.ends_with(".yaml") || m.ends_with(".yml") || m.contains('/');
                if is_path && Path::new(m).is_relative() {
                    written.push(m.to_string());
                }
            }
        }
    }
    if let Some(d) = root
        .get("background")
        .and_then(|b| b.get("images"))
        .and_then(|i| i.get("dir"))
        .and_then(Value::as_str)
    {
        if Path::new(d).is_relative() {
            written.push(d.to_string());
        }
    }
    written.sort();
    written.dedup();
    written
        .into_iter()
        .map(|w| {
            let target = absolute(&from.join(&w));
            let rel = relative(&to, &target);
            (w, rel.to_string_lossy().into_owned())
        })
        .collect()
}

/// Replaces the value of `key: <old>` by `<new>` wherever it is written; false if nowhere.
fn replace_value(text: &mut String, key: &str, old: &str, new: &str) -> bool {
    let mut found = false;
    for q in ["", "\"", "'"] {
        let from = format!("{key}: {q}{old}{q}");
        if text.contains(&from) {
            *text = text.replace(&from, &format!("{key}: {q}{new}{q}"));
            found = true;
        }
    }
    found
}

/// The fitted config's text. `original` is the user's file, `fitted` its YAML tree with the
/// fitted distributions in (and moved paths rewritten), `dists` each mark's fitted distribution
/// (None: leave it as written), `header` the comment lines to put first.
pub fn fitted_text(
    original: &str,
    fitted: &Value,
    marks: &[Mark],
    dists: &[Option<Dist>],
    moved: &[(String, String)],
    header: &[String],
) -> (String, bool) {
    let body: String = original
        .lines()
        .skip_while(|l| l.starts_with(HEADER))
        .map(|l| format!("{l}\n"))
        .collect();
    let in_place = in_place(&body, marks, dists, moved);
    let kept = in_place.is_some();
    let mut out: String = header.iter().map(|l| format!("{HEADER} {l}\n")).collect();
    match in_place {
        Some(text) => out += &text,
        None => {
            out += &format!(
                "{HEADER} (written anew from the config's values: its comments and layout were not kept)\n"
            );
            out += &serde_yaml::to_string(fitted).expect("a YAML tree serialises");
        }
    }
    (out, kept)
}

fn in_place(
    body: &str,
    marks: &[Mark],
    dists: &[Option<Dist>],
    moved: &[(String, String)],
) -> Option<String> {
    if marks.iter().any(|m| m.model_file.is_some()) {
        return None;
    }
    let spans = marked_spans(body);
    if spans.len() != marks.len() {
        return None;
    }
    // the spans, in text order, must be the marks, in document order
    for ((a, b), m) in spans.iter().zip(marks) {
        let v: Value = serde_yaml::from_str(&body[*a..*b]).ok()?;
        if Dist::from_value(&v).ok()? != m.written {
            return None;
        }
    }
    let mut text = String::new();
    let mut at = 0;
    for ((a, b), d) in spans.iter().zip(dists) {
        text += &body[at..*a];
        text += &match d {
            Some(d) => super::marks::flow(d),
            None => body[*a..*b].to_string(),
        };
        at = *b;
    }
    text += &body[at..];
    for (old, new) in moved {
        if !replace_value(&mut text, "model", old, new)
            && !replace_value(&mut text, "dir", old, new)
        {
            return None;
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::locate::Seg;

    fn mark(path: &str, written: &str) -> Mark {
        let d = Dist::from_value(&serde_yaml::from_str(written).unwrap()).unwrap();
        Mark {
            path: crate::config::locate::parse_path(path),
            name: path.into(),
            support: super::super::marks::support(&d).unwrap(),
            written: d,
            model_file: None,
        }
    }

    #[test]
    fn marks_are_replaced_in_place_and_comments_kept() {
        let text = "# my scene\ncamera:\n  distance: {uniform: [3, 12], fit: true}   # metres\n  fov: 40\nobjects:\n  - model: nut.yaml\n    count: {int: [1, 15], fit: true}\n";
        let marks = [
            mark("camera.distance", "{uniform: [3, 12]}"),
            mark("objects[0].count", "{int: [1, 15]}"),
        ];
        let fitted = Dist::Normal {
            mean: 5.0,
            std: 0.2,
            min: Some(3.0),
            max: Some(12.0),
        };
        let (out, kept) = fitted_text(
            text,
            &Value::Null,
            &marks,
            &[Some(fitted), None],
            &[("nut.yaml".into(), "../scenes/nut.yaml".into())],
            &["fitted from 12 photos".into()],
        );
        assert!(kept);
        assert!(
            out.starts_with("# rendergan fit: fitted from 12 photos\n# my scene\n"),
            "{out}"
        );
        assert!(out.contains(
            "distance: {normal: {mean: 5, std: 0.2, min: 3, max: 12}, fit: true}   # metres"
        ));
        assert!(out.contains("count: {int: [1, 15], fit: true}"));
        assert!(out.contains("model: ../scenes/nut.yaml"));
        // a refit (whose marks are the fitted file's) replaces the header instead of stacking
        // another, and keeps the layout
        let refit = [
            mark(
                "camera.distance",
                "{normal: {mean: 5, std: 0.2, min: 3, max: 12}}",
            ),
            mark("objects[0].count", "{int: [1, 15]}"),
        ];
        let (again, kept) = fitted_text(
            &out,
            &Value::Null,
            &refit,
            &[None, None],
            &[],
            &["x".into()],
        );
        assert!(kept, "{again}");
        assert_eq!(again.matches(HEADER).count(), 1, "{again}");
        assert!(
            again.starts_with("# rendergan fit: x\n# my scene\n"),
            "{again}"
        );
    }

    #[test]
    fn a_block_style_mark_is_written_anew_and_says_so() {
        let text = "camera:\n  distance:\n    uniform: [3, 12]\n    fit: true\n";
        let root: Value = serde_yaml::from_str(text).unwrap();
        let (out, kept) = fitted_text(
            text,
            &root,
            &[mark("camera.distance", "{uniform: [3, 12]}")],
            &[None],
            &[],
            &[],
        );
        assert!(!kept);
        assert!(out.contains("not kept"));
        let back: Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(back, root);
        let _ = Seg::Index(0);
    }

    #[test]
    fn relative_paths_walk_up_and_down() {
        assert_eq!(
            relative(Path::new("/a/b/out"), Path::new("/a/b/scenes/nut.yaml")),
            PathBuf::from("../scenes/nut.yaml")
        );
    }
}
