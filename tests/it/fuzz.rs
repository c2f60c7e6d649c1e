//! Deterministic mutations of the shipped configs and of model files, loaded in-process: none may
//! panic, and every error must point at a line or a field. Each failing mutant is written to a
//! temp folder (its path is in the failure message) so it can be run with `rendergan validate`.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::common::*;

/// Values a mutation puts in place of a field's value or a number.
const VALUES: &[&str] = &[
    "",
    "-1",
    "0",
    "-3",
    "2.5",
    "1e400",
    "-1e400",
    ".nan",
    ".inf",
    "!!str 5",
    "[",
    "]",
    "{a: 1}",
    "\"x\"",
    "99999999999999999999",
    "~",
    "[1, 2, 3, 4, 5]",
    "{uniform: [5, 1]}",
    "{normal: [0, -1]}",
    "{int: [2, 1]}",
    "\"1 / 0\"",
    "\"sqrt(-1)\"",
    "\"10 ^ 400\"",
    "\"((((((\"",
    "&a x",
    "*nope",
    "yes",
];

/// One mutation of `text` (a YAML file), chosen by `rng`.
fn mutate(text: &str, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let i = rng.gen_range(0..lines.len());
    let value = VALUES[rng.gen_range(0..VALUES.len())];
    match rng.gen_range(0..8) {
        // a deleted line (a key, a list item)
        0 => {
            lines.remove(i);
        }
        // a field's value replaced
        1 => {
            let l = &lines[i];
            lines[i] = match l.find(": ") {
                Some(p) => format!("{}: {value}", &l[..p]),
                None => format!("{l} {value}"),
            };
        }
        // a number replaced, anywhere in the file
        2 => {
            let starts: Vec<usize> = text
                .char_indices()
                .filter(|&(k, c)| {
                    c.is_ascii_digit()
                        && (k == 0 || !text.as_bytes()[k - 1].is_ascii_alphanumeric())
                })
                .map(|(k, _)| k)
                .collect();
            if let Some(&k) = starts.get(rng.gen_range(0..starts.len().max(1))) {
                let end = text[k..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .map_or(text.len(), |e| k + e);
                return format!("{}{value}{}", &text[..k], &text[end..]).into_bytes();
            }
        }
        // cut short
        3 => return text.as_bytes()[..rng.gen_range(0..text.len())].to_vec(),
        // deep nesting
        4 => lines.insert(i, format!("deep: {}{}", "[".repeat(500), "]".repeat(500))),
        // bytes that are not UTF-8
        5 => {
            let mut b = text.as_bytes().to_vec();
            let p = rng.gen_range(0..b.len());
            b.splice(p..p, [0xff, 0xfe, 0x80]);
            return b;
        }
        // a line twice (duplicate keys)
        6 => lines.insert(i, lines[i].clone()),
        // indentation lost
        _ => lines[i] = lines[i].trim_start().to_string(),
    }
    lines.join("\n").into_bytes()
}

/// Loads `config`; a panic or an error that names neither a line nor a field is a failure.
/// Returns whether it was refused.
fn check(config: &Path, what: &str, failures: &mut Vec<String>) -> bool {
    let result = std::panic::catch_unwind(|| rendergan::config::load(config));
    match result {
        Err(_) => failures.push(format!("{what}: panicked ({})", config.display())),
        Ok(Err(e)) if e.line.is_none() && e.path.is_empty() => failures.push(format!(
            "{what}: error names no line or field ({}): {e}",
            config.display()
        )),
        Ok(Err(_)) => return true,
        Ok(Ok(_)) => {}
    }
    false
}

#[test]
fn mutated_configs_and_models_never_panic_and_errors_point_at_a_line() {
    let keep = std::env::temp_dir().join("rendergan-fuzz");
    let _ = std::fs::remove_dir_all(&keep);
    std::fs::create_dir_all(&keep).unwrap();
    let mut failures = Vec::new();
    let (mut n, mut refused) = (0, 0);
    let mut configs: Vec<PathBuf> = std::fs::read_dir(root().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    configs.sort();
    for (c, path) in configs.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        for k in 0..40u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 * c as u64 + k);
            let file = keep.join(format!(
                "{}_{k}.yaml",
                path.file_stem().unwrap().to_string_lossy()
            ));
            std::fs::write(&file, mutate(&text, &mut rng)).unwrap();
            refused += check(
                &file,
                &format!("{} mutant {k}", path.display()),
                &mut failures,
            ) as usize;
            n += 1;
        }
    }
    // model files: a mutated model, used by a small valid config
    for (m, model) in ["box", "cylinder", "hex_bolt", "leaf"].iter().enumerate() {
        let text = std::fs::read_to_string(root().join(format!("scenes/{model}.yaml"))).unwrap();
        for k in 0..25u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(7_000 + 100 * m as u64 + k);
            let model_file = keep.join(format!("model_{model}_{k}.yaml"));
            std::fs::write(&model_file, mutate(&text, &mut rng)).unwrap();
            let config = keep.join(format!("uses_model_{model}_{k}.yaml"));
            std::fs::write(
                &config,
                format!(
                    "count: 1\nimage: {{width: 64, height: 64}}\ncamera: {{distance: 5, \
                     elevation: 30, fov: 40}}\nobjects: [{{model: model_{model}_{k}.yaml}}]\n"
                ),
            )
            .unwrap();
            refused += check(
                &config,
                &format!("scenes/{model}.yaml mutant {k}"),
                &mut failures,
            ) as usize;
            n += 1;
        }
    }
    eprintln!("{n} mutants, {refused} refused with an error naming a line or field");
    assert!(n >= 300, "only {n} mutants");
    assert!(
        refused >= n / 3,
        "only {refused} of {n} mutants were refused: the mutations are too mild"
    );
    assert!(
        failures.is_empty(),
        "{} of {n} mutants failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
