//! The module graph is one-way: every `crate::<module>` a file names lies on a lower floor than
//! its own module (comments and test code aside), and wgpu and burn stay where they belong
//! (wgpu: `render/`, and `augment/gpu` for the learned chain's compute kernels).
//! docs/architecture.md ("Layout of the code") describes the same floors.

use std::collections::BTreeSet;

use super::common::root;

/// The floors, lowest first. A module may name only modules on lower floors.
const FLOORS: &[&[&str]] = &[
    &["pixels", "shaders"],
    &["config"],
    &["scene"],
    &["render"],
    &["labels"],
    &["augment"],
    &["eval"],
    &["dataset", "outdir"],
    &["train"],
    &["generate", "merge", "fit"],
    &["cli"],
];

fn floor(module: &str) -> usize {
    FLOORS
        .iter()
        .position(|f| f.contains(&module))
        .unwrap_or_else(|| {
            panic!("module {module} is on no floor: add it to FLOORS and docs/architecture.md")
        })
}

/// The code of a source file without comments and without its `#[cfg(test)]` module.
fn code(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    // the test module (a `#[cfg(test)]` item inside an impl is code, and stays)
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => &text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn modules_only_name_lower_floors_and_wgpu_and_burn_stay_in_their_modules() {
    let src = root().join("src");
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for e in walkdir::WalkDir::new(&src) {
        let e = e.unwrap();
        if e.path().extension().and_then(|x| x.to_str()) != Some("rs") {
            continue;
        }
        let rel = e.path().strip_prefix(&src).unwrap();
        let first = rel.iter().next().unwrap().to_string_lossy().into_owned();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = code(e.path());
        let own = floor(&module);
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name == module || name.is_empty() {
                continue;
            }
            seen.insert((module.clone(), name.clone()));
            if floor(&name) >= own {
                problems.push(format!(
                    "{}: names crate::{name}, which is not on a lower floor than {module}",
                    rel.display()
                ));
            }
        }
        // the one exception: the learned chain's compute kernels run on the render device
        let compute = rel.to_string_lossy().starts_with("augment/gpu");
        if text.contains("wgpu::") && module != "render" && !compute {
            problems.push(format!(
                "{}: uses wgpu outside render/ and augment/gpu",
                rel.display()
            ));
        }
        if text.contains("burn::") && !["augment", "train", "eval"].contains(&module.as_str()) {
            problems.push(format!(
                "{}: uses burn outside augment/, train/, eval/",
                rel.display()
            ));
        }
    }
    assert!(
        seen.len() > 20,
        "the scan found only {} imports",
        seen.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every source file as its module path (`augment::gpu::plan`), `lib` and `main` left out.
fn module_files(src: &std::path::Path) -> std::collections::BTreeMap<String, std::path::PathBuf> {
    let mut out = std::collections::BTreeMap::new();
    for e in walkdir::WalkDir::new(src) {
        let e = e.unwrap();
        if e.path().extension().and_then(|x| x.to_str()) != Some("rs") {
            continue;
        }
        let rel = e.path().strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if parts.last().map(String::as_str) == Some("mod") {
            parts.pop();
        }
        let name = parts.join("::");
        if name != "lib" && name != "main" {
            out.insert(name, e.path().to_path_buf());
        }
    }
    out
}

/// The files a file's code names: `crate::a::b`, `super::x`, `super::{x, y}` and its own child
/// modules (`plan::` in gpu.rs), each resolved to the deepest module that is a file; its own
/// ancestors left out.
fn named_files(
    module: &str,
    text: &str,
    files: &std::collections::BTreeMap<String, std::path::PathBuf>,
) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    // the deepest file module along `base` + the path segments that start `rest`
    let resolve = |base: &str, rest: &str| -> Option<String> {
        let mut cur = base.to_string();
        let mut s = rest;
        loop {
            let seg = ident(s);
            if seg.is_empty() {
                break;
            }
            let next = if cur.is_empty() {
                seg.clone()
            } else {
                format!("{cur}::{seg}")
            };
            if !files.contains_key(&next) {
                break;
            }
            cur = next;
            s = &s[seg.len()..];
            match s.strip_prefix("::") {
                Some(r) => s = r,
                None => break,
            }
        }
        files.contains_key(&cur).then_some(cur)
    };
    let parent = module.rsplit_once("::").map_or("", |p| p.0).to_string();
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        out.extend(resolve("", &text[i + 7..]));
    }
    for (i, _) in text.match_indices("super::") {
        let rest = &text[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                out.extend(resolve(&parent, item.trim()));
            }
        } else {
            out.extend(resolve(&parent, rest));
        }
    }
    for child in files
        .keys()
        .filter_map(|k| k.strip_prefix(&format!("{module}::")))
    {
        if child.contains("::") {
            continue;
        }
        for (i, _) in text.match_indices(&format!("{child}::")) {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            out.extend(resolve(module, &text[i..]));
        }
    }
    // a file naming its own ancestors (`super::Type` of the mod.rs above it) names its module's
    // shared items, as Rust's modules are meant to: not counted
    out.retain(|m| m != module && !module.starts_with(&format!("{m}::")));
    out
}

#[test]
fn no_two_files_name_each_other_round_a_circle() {
    let src = root().join("src");
    let files = module_files(&src);
    let graph: std::collections::BTreeMap<String, BTreeSet<String>> = files
        .iter()
        .map(|(m, p)| (m.clone(), named_files(m, &code(p), &files)))
        .collect();
    assert!(
        graph["augment::gpu"].contains("augment::gpu::plan"),
        "the scan sees child modules: {:?}",
        graph["augment::gpu"]
    );
    // a circle: a file that reaches itself again along the names (fast.rs naming model.rs, which
    // names fast.rs; or longer)
    let mut circles = Vec::new();
    for start in graph.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in &graph[&at] {
                if next == start {
                    circles.push(path.join(" → ") + " → " + start);
                } else if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    circles.sort();
    circles.dedup();
    assert!(
        circles.is_empty(),
        "import circles between files:\n{}",
        circles.join("\n")
    );
}
