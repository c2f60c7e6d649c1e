//! Writes the fitted config: the user's file with each marked distribution replaced in place by
//! its fitted one (comments, order and layout kept), headed by a few comment lines saying what
//! was fitted from which photos; a model file's fitted parameter gets a new entry under its
//! object's `params:`. Where an in-place edit is not possible (a mark written in block style, an
//! object written in flow style), the whole config is written anew from its YAML tree and the
//! header says the comments were not kept. Paths the config gives relative to its own folder
//! are rewritten when the fitted file lies elsewhere.

use std::path::{Component, Path, PathBuf};

use serde_yaml::Value;

use super::marks::Mark;
use crate::config::dist::Dist;
use crate::config::locate::{line_of, Seg};

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
    let in_place = in_place(&body, fitted, marks, dists, moved);
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
    fitted: &Value,
    marks: &[Mark],
    dists: &[Option<Dist>],
    moved: &[(String, String)],
) -> Option<String> {
    // the config's own marks are replaced where they stand; a model file's parameter gets a
    // new entry under its object's `params:`
    let own: Vec<usize> = (0..marks.len())
        .filter(|&k| marks[k].model_file.is_none())
        .collect();
    let spans = marked_spans(body);
    if spans.len() != own.len() {
        return None;
    }
    // the spans, in text order, must be the marks, in document order
    for ((a, b), &k) in spans.iter().zip(&own) {
        let v: Value = serde_yaml::from_str(&body[*a..*b]).ok()?;
        if Dist::from_value(&v).ok()? != marks[k].written {
            return None;
        }
    }
    let mut text = String::new();
    let mut at = 0;
    for ((a, b), &k) in spans.iter().zip(&own) {
        text += &body[at..*a];
        text += &match &dists[k] {
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
    for (m, d) in marks.iter().zip(dists) {
        if let (Some(_), Some(d)) = (&m.model_file, d) {
            text = add_param(&text, &m.path, &super::marks::flow(d))?;
        }
    }
    // what was written must read as the fitted config's tree, or it is written anew
    (serde_yaml::from_str::<Value>(&text).ok()? == *fitted).then_some(text)
}

/// `text` with `objects[i].params.<name>: <flow>` added (`path` says which): into the object's
/// `params:` mapping, flow or block, or as a new `params: {<name>: <flow>}` line under its
/// `model:` line. `None` where the object is not laid out so (a flow-style object, say).
fn add_param(text: &str, path: &[Seg], flow: &str) -> Option<String> {
    let [Seg::Key(objects), Seg::Index(i), Seg::Key(params), Seg::Key(name)] = path else {
        return None;
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at = |key: &str| -> Option<(usize, usize)> {
        let n = line_of(text, &format!("{objects}[{i}].{key}"))? - 1;
        let line = lines.get(n)?;
        let col = line.find(&format!("{key}:"))?;
        // a block-style entry: only list dashes and spaces before the key
        line[..col]
            .chars()
            .all(|c| c == ' ' || c == '-')
            .then_some((n, col))
    };
    let entry = format!("{name}: {flow}");
    match at(params) {
        Some((n, col)) => {
            let rest = lines[n][col + params.len() + 1..].trim_start().to_string();
            if let Some(inner) = rest.strip_prefix('{') {
                let brace = lines[n].len() - inner.len();
                let sep = if inner.trim_start().starts_with('}') {
                    ""
                } else {
                    ", "
                };
                lines[n].insert_str(brace, &format!("{entry}{sep}"));
            } else if rest.is_empty() || rest.starts_with('#') {
                // block style: as indented as its first entry
                let next = (n + 1..lines.len()).find(|&k| {
                    let t = lines[k].trim_start();
                    !t.is_empty() && !t.starts_with('#')
                })?;
                let indent = lines[next].len() - lines[next].trim_start().len();
                if indent <= col {
                    return None;
                }
                lines.insert(next, format!("{}{entry}", " ".repeat(indent)));
            } else {
                return None;
            }
        }
        None => {
            let (n, col) = at("model")?;
            lines.insert(n + 1, format!("{}{params}: {{{entry}}}", " ".repeat(col)));
        }
    }
    Some(lines.iter().map(|l| format!("{l}\n")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut tree: Value = serde_yaml::from_str(text).unwrap();
        let fitted_value = serde_yaml::from_str(&super::super::marks::flow(&fitted)).unwrap();
        super::super::marks::set(&mut tree, &marks[0].path, fitted_value);
        tree["objects"][0]["model"] = Value::String("../scenes/nut.yaml".into());
        let (out, kept) = fitted_text(
            text,
            &tree,
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
        let (again, kept) = fitted_text(&out, &tree, &refit, &[None, None], &[], &["x".into()]);
        assert!(kept, "{again}");
        assert_eq!(again.matches(HEADER).count(), 1, "{again}");
        assert!(
            again.starts_with("# rendergan fit: x\n# my scene\n"),
            "{again}"
        );
    }

    #[test]
    fn a_model_files_parameter_is_added_under_its_object_comments_kept() {
        let leaf = Mark {
            model_file: Some(PathBuf::from("leaf.yaml")),
            ..mark("objects[0].params.hue", "{uniform: [60, 120]}")
        };
        let fitted = Dist::Normal {
            mean: 80.0,
            std: 4.0,
            min: Some(60.0),
            max: Some(120.0),
        };
        let flow = super::super::marks::flow(&fitted);
        // no params yet, params in flow style (empty or not), params in block style
        for (text, expect) in [
            (
                "# crop rows\nobjects:\n  - model: leaf.yaml   # mine\n    count: 3\n",
                format!(
                    "  - model: leaf.yaml   # mine\n    params: {{hue: {flow}}}\n    count: 3\n"
                ),
            ),
            (
                "objects:\n  - model: leaf.yaml\n    params: {size: 2}  # big\n",
                format!("    params: {{hue: {flow}, size: 2}}  # big\n"),
            ),
            (
                "objects:\n  - model: leaf.yaml\n    params: {}\n",
                format!("    params: {{hue: {flow}}}\n"),
            ),
            (
                "objects:\n  - model: leaf.yaml\n    params:   # tuned\n      size: 2\n",
                format!("    params:   # tuned\n      hue: {flow}\n      size: 2\n"),
            ),
        ] {
            let mut tree: Value = serde_yaml::from_str(text).unwrap();
            super::super::marks::set(&mut tree, &leaf.path, serde_yaml::from_str(&flow).unwrap());
            let (out, kept) = fitted_text(
                text,
                &tree,
                std::slice::from_ref(&leaf),
                &[Some(fitted.clone())],
                &[],
                &[],
            );
            assert!(kept, "{out}");
            assert!(out.contains(&expect), "{out}");
            assert_eq!(serde_yaml::from_str::<Value>(&out).unwrap(), tree);
        }
        // a flow-style object: written anew
        let text = "objects:\n  - {model: leaf.yaml, count: 3}\n";
        let mut tree: Value = serde_yaml::from_str(text).unwrap();
        super::super::marks::set(&mut tree, &leaf.path, serde_yaml::from_str(&flow).unwrap());
        let (out, kept) = fitted_text(text, &tree, &[leaf], &[Some(fitted)], &[], &[]);
        assert!(!kept && out.contains("not kept"), "{out}");
        assert_eq!(serde_yaml::from_str::<Value>(&out).unwrap(), tree);
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
    }

    #[test]
    fn relative_paths_walk_up_and_down() {
        assert_eq!(
            relative(Path::new("/a/b/out"), Path::new("/a/b/scenes/nut.yaml")),
            PathBuf::from("../scenes/nut.yaml")
        );
    }
}
