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

/// Writes mutants into `keep`: `per_config` of each shipped config and `per_model` of four model
/// files (each used by a small valid config), seeds from `seed`; returns (what, config file).
fn mutants(keep: &Path, per_config: u64, per_model: u64, seed: u64) -> Vec<(String, PathBuf)> {
    let _ = std::fs::remove_dir_all(keep);
    std::fs::create_dir_all(keep).unwrap();
    let mut out = Vec::new();
    let mut configs: Vec<PathBuf> = std::fs::read_dir(root().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    configs.sort();
    for (c, path) in configs.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        for k in 0..per_config {
            let mut rng = ChaCha8Rng::seed_from_u64(seed + 1000 * c as u64 + k);
            let file = keep.join(format!(
                "{}_{k}.yaml",
                path.file_stem().unwrap().to_string_lossy()
            ));
            std::fs::write(&file, mutate(&text, &mut rng)).unwrap();
            out.push((format!("{} mutant {k}", path.display()), file));
        }
    }
    for (m, model) in ["box", "cylinder", "hex_bolt", "leaf"].iter().enumerate() {
        let text = std::fs::read_to_string(root().join(format!("scenes/{model}.yaml"))).unwrap();
        for k in 0..per_model {
            let mut rng = ChaCha8Rng::seed_from_u64(seed + 7_000 + 100 * m as u64 + k);
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
            out.push((format!("scenes/{model}.yaml mutant {k}"), config));
        }
    }
    out
}

#[test]
fn mutated_configs_and_models_never_panic_and_errors_point_at_a_line() {
    let keep = std::env::temp_dir().join("rendergan-fuzz");
    let mut failures = Vec::new();
    let (mut n, mut refused) = (0, 0);
    for (what, config) in mutants(&keep, 40, 25, 0) {
        refused += check(&config, &what, &mut failures) as usize;
        n += 1;
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

/// The long run, through the binary as a user runs it: 560 new mutants (60 of each of the 7
/// configs, 35 of each of 4 model files) through `validate`, each accepted one through
/// `generate -n 2`, plus hostile flags and folders for generate, train and realism. No run may end by a signal (an
/// abort is 134) or a panic, exit codes are 0, 1 or 2, and every refused config names a line or
/// field. Slow (about 10 min): `cargo test --release --test it cli_fuzz -- --ignored --nocapture`.
#[test]
#[ignore]
fn cli_fuzz() {
    use std::process::Command;
    let keep = std::env::temp_dir().join("rendergan-cli-fuzz");
    let cases = mutants(&keep, 60, 35, 50_000);
    let out = keep.join("out");
    let bin = env!("CARGO_BIN_EXE_rendergan");
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    type Counts = std::collections::BTreeMap<String, usize>;
    fn judge(
        what: &str,
        o: std::process::Output,
        counts: &mut Counts,
        failures: &mut Vec<String>,
    ) -> Option<i32> {
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let code = o.status.code();
        let kind = what.split(' ').next().unwrap_or_default();
        let code_name = code.map_or("a signal".to_string(), |c| c.to_string());
        *counts
            .entry(format!("{kind} exit {code_name}"))
            .or_default() += 1;
        if !matches!(code, Some(0..=2)) || err.contains("panicked") {
            let head: String = err.chars().take(400).collect();
            failures.push(format!("{what}: exit {code:?}: {head}"));
        }
        code
    }
    for (what, config) in &cases {
        let o = Command::new(bin)
            .arg("validate")
            .arg("-c")
            .arg(config)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let code = judge(&format!("validate {what}"), o, &mut counts, &mut failures);
        if code == Some(2) {
            // "file:line: path: message" or "file: path: message"
            let named = err.contains(".yaml:") || err.contains(".yaml: ");
            if !named {
                failures.push(format!("validate {what}: names no file or line: {err}"));
            }
            continue;
        }
        let o = Command::new(bin)
            .args(["generate", "-q", "-n", "2", "--overwrite", "-c"])
            .arg(config)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        judge(&format!("generate {what}"), o, &mut counts, &mut failures);
    }
    // hostile flags and folders
    let q = root().join("configs/quickstart.yaml");
    let empty = keep.join("empty");
    let bad_photos = keep.join("bad_photos");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::create_dir_all(&bad_photos).unwrap();
    std::fs::write(
        bad_photos.join("truncated.jpg"),
        [0xFF, 0xD8, 0xFF, 0xE0, 0, 16],
    )
    .unwrap();
    std::fs::write(bad_photos.join("text.png"), "not a png").unwrap();
    image::RgbImage::new(1, 1)
        .save(bad_photos.join("tiny.png"))
        .unwrap();
    let q = q.to_string_lossy().into_owned();
    let (e, b, o) = (
        empty.to_string_lossy().into_owned(),
        bad_photos.to_string_lossy().into_owned(),
        out.to_string_lossy().into_owned(),
    );
    let flags: Vec<Vec<&str>> = vec![
        vec!["generate", "-c", &q, "-n", "0", "-o", &o],
        vec!["generate", "-c", &q, "-n", "-1", "-o", &o],
        vec![
            "generate",
            "-c",
            &q,
            "--threads",
            "0",
            "-n",
            "2",
            "-o",
            &o,
            "--overwrite",
        ],
        vec!["generate", "-c", &q, "-o", "", "-n", "2"],
        vec!["generate", "-c", &q, "-o", "/", "-n", "2"],
        vec!["generate", "-c", &q, "-o", "/proc/x", "-n", "2"],
        vec!["generate", "-c", &q, "--seed", "abc"],
        vec![
            "generate",
            "-c",
            &q,
            "--augment",
            &e,
            "-n",
            "2",
            "-o",
            &o,
            "--overwrite",
        ],
        vec![
            "generate",
            "-c",
            &q,
            "--augment",
            "/nonexistent",
            "-n",
            "2",
            "-o",
            &o,
        ],
        vec!["generate", "-c", "/etc/passwd"],
        vec!["generate", "-c", "/dev/zero"],
        vec!["generate", "-c", "/"],
        vec!["validate", "-c", ""],
        vec!["train", "-c", &q, "--real", &e, "-o", &o],
        vec!["train", "-c", &q, "--real", &b, "-o", &o],
        vec!["train", "-c", &q, "--real", "/dev/null", "-o", &o],
        vec!["train", "-c", &q, "--real", &b, "-o", "/dev/null"],
        vec!["train", "-c", &q, "--real", &b, "-o", &o, "--device", "tpu"],
        vec!["train", "-c", &q, "--real", &b, "-o", &o, "--resume"],
        vec!["realism", "--real", &e, "--images", &b],
        vec!["realism", "--real", &b, "--images", &b, "--crop", "0"],
        vec!["realism", "--real", &b, "--images", &b, "--res", "0"],
        vec!["bench", "-c", &q, "-n", "0"],
    ];
    for args in &flags {
        let o = Command::new(bin).args(args).output().unwrap();
        judge(
            &format!("rendergan {}", args.join(" ")),
            o,
            &mut counts,
            &mut failures,
        );
    }
    eprintln!(
        "cli_fuzz: {} mutants and {} hostile command lines: {counts:?}",
        cases.len(),
        flags.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
