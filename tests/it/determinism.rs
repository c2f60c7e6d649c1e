//! Image i is a pure function of (config, seed, i): runs with different worker and render thread
//! counts write byte-identical files, and a shorter run is a prefix of a longer one.

use std::collections::BTreeMap;
use std::path::Path;

use super::common::*;

fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mut bytes = std::fs::read(e.path()).unwrap();
            if rel == "data.yaml" {
                // the absolute dataset path differs between the two folders
                let text = String::from_utf8(bytes).unwrap();
                bytes = text
                    .lines()
                    .filter(|l| !l.starts_with("path:"))
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes();
            }
            (rel, bytes)
        })
        .collect()
}

#[test]
fn thread_counts_do_not_change_a_byte() {
    let dir = tmp();
    let cfg = load(&fixture("mixed.yaml"));
    generate(&cfg, &dir.path().join("a"), 1, 1);
    generate(&cfg, &dir.path().join("b"), 2, 2);
    let (a, b) = (files(&dir.path().join("a")), files(&dir.path().join("b")));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(v == &b[k], "{k} differs between 1 and 2 threads");
    }
    assert!(a.len() > 3 * cfg.count as usize);
}

#[test]
fn image_i_does_not_depend_on_the_count() {
    let dir = tmp();
    let mut cfg = load(&fixture("mixed.yaml"));
    generate(&cfg, &dir.path().join("long"), 2, 1);
    cfg.count = 7;
    generate(&cfg, &dir.path().join("short"), 2, 1);
    let (long, short) = (
        files(&dir.path().join("long")),
        files(&dir.path().join("short")),
    );
    let mut compared = 0;
    for (k, v) in &short {
        if k.starts_with("images/") || k.starts_with("masks/") || k.starts_with("labels/") {
            assert!(v == &long[k], "{k} differs between a 7- and a 24-image run");
            compared += 1;
        }
    }
    assert_eq!(compared, 7 * 3);
}
