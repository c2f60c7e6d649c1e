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
        .unwrap_or_else(|| panic!("module {module} is on no floor: add it to FLOORS and docs/architecture.md"))
}

/// The code of a source file without comments and without its `#[cfg(test)]` module.
fn code(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]") {
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
