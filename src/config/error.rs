//! The one error type for bad configs and model files: it names the file, the YAML path and the
//! line, says what was expected and what was found. Nothing else lives here.

use std::fmt;
use std::path::{Path, PathBuf};

use super::locate::line_of;

/// A problem in a config or model file, found before anything is rendered or written.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file the problem is in.
    pub file: PathBuf,
    /// YAML path like `objects[2].count`; empty for whole-file problems.
    pub path: String,
    /// 1-based line, where it could be found.
    pub line: Option<usize>,
    /// What was expected and what was found, and the fix where there is one.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", excerpt(&self.message, MAX_MESSAGE))
    }
}

impl std::error::Error for ConfigError {}

/// The longest message an error prints: a message that quotes a user's text (a whole file read
/// as a string, a 10 MB value) is cut in the middle.
const MAX_MESSAGE: usize = 600;
/// The largest config or model file read: far beyond any real one, and a guard against reading
/// a huge file or a device as YAML.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// The deepest `[` / `{` nesting a YAML file may have: the YAML parser takes minutes on 100,000
/// levels before it fails.
const MAX_FLOW_DEPTH: usize = 64;

/// The line where flow brackets first nest deeper than [`MAX_FLOW_DEPTH`], outside quotes and
/// comments.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if prev.is_whitespace() => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some(n + 1);
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
            prev = c;
        }
    }
    None
}

/// `message` with every double-quoted part longer than `max_chars` cut to an [`excerpt`].
fn shorten_quotes(message: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..=open]);
        let body = &rest[open + 1..];
        // the closing quote: the first one not escaped by a backslash
        let mut close = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    close = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(close) = close else {
            out.push_str(&excerpt(body, max_chars));
            return out;
        };
        out.push_str(&excerpt(&body[..close], max_chars));
        out.push('"');
        rest = &body[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `text`, or for a longer one its start and end around "…".
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let n = text.chars().count();
    if n <= max_chars {
        return text.to_string();
    }
    let head: String = text.chars().take(max_chars * 3 / 4).collect();
    let tail: String = text.chars().skip(n - max_chars / 4).collect();
    format!(
        "{head} … ({} characters left out) … {tail}",
        n - head.chars().count() - tail.chars().count()
    )
}

/// Collects the context needed to turn a (path, message) pair into a [`ConfigError`].
#[derive(Debug, Clone)]
pub struct Source {
    pub file: PathBuf,
    pub text: String,
}

impl Source {
    /// Reads a YAML file; a missing or unreadable file is itself a config error.
    pub fn read(file: &Path) -> Result<Source, ConfigError> {
        let fail = |message: String| ConfigError {
            file: file.to_path_buf(),
            path: String::new(),
            line: None,
            message,
        };
        match std::fs::metadata(file) {
            Ok(m) if m.is_dir() => {
                return Err(fail("is a folder, not a YAML file".into()));
            }
            Ok(m) if !m.is_file() => {
                return Err(fail(
                    "is not a regular file (a device, pipe or socket); give a YAML file".into(),
                ));
            }
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                return Err(fail(format!(
                    "is {} MiB; config and model files are small YAML files (at most {} MiB)",
                    m.len() >> 20,
                    MAX_FILE_BYTES >> 20
                )));
            }
            _ => {}
        }
        let bytes = std::fs::read(file).map_err(|e| fail(format!("cannot read the file: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            let column =
                valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
            ConfigError {
                line: Some(line),
                ..fail(format!(
                    "bytes that are not UTF-8 text at column {column}; save the file as UTF-8"
                ))
            }
        })?;
        if let Some(line) = too_deep(&text) {
            return Err(ConfigError {
                line: Some(line),
                ..fail(format!(
                    "brackets nest more than {MAX_FLOW_DEPTH} levels deep; no config or model \
                     needs that many"
                ))
            });
        }
        Ok(Source {
            file: file.to_path_buf(),
            text,
        })
    }

    /// An error at `path`, with its line looked up in the text.
    pub fn err(&self, path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        let path = path.into();
        ConfigError {
            file: self.file.clone(),
            line: line_of(&self.text, &path),
            path,
            message: message.into(),
        }
    }

    /// Parses the text into `T`, reporting serde's errors with their YAML path and line. An
    /// explicit YAML tag (`!!str 5`, `!!int "5"`) is refused first: serde reads `count: !!str 5`
    /// as the number 5 without a word, and no rendergan file needs a tag.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        if let Some((line, tag)) = first_tag(&self.text) {
            return Err(ConfigError {
                file: self.file.clone(),
                path: String::new(),
                line: Some(line),
                message: format!(
                    "explicit YAML tag {tag:?}: rendergan reads plain values; write numbers \
                     without a tag (count: 5) and text in quotes"
                ),
            });
        }
        let de = serde_yaml::Deserializer::from_str(&self.text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let inner = e.into_inner();
            // our locator finds the field itself; serde_yaml often points at its parent mapping
            let line = line_of(&self.text, &path)
                .filter(|_| !path.is_empty())
                .or_else(|| inner.location().map(|l| l.line()));
            // serde_yaml appends " at line N column M"; the line is reported separately; it
            // quotes a whole string value (a file that is not YAML reads as one): cut it short
            let mut message = shorten_quotes(&inner.to_string(), 60);
            if let Some(p) = message.find(" at line ") {
                message.truncate(p);
            }
            // serde_yaml prefixes the path (or its parent's) that we report already
            if let Some((head, rest)) = message.split_once(": ") {
                if !head.contains(' ') && path.starts_with(head) {
                    message = rest.to_string();
                }
            }
            ConfigError {
                file: self.file.clone(),
                path,
                line,
                message: with_suggestion(in_plain_words(message)),
            }
        })
    }
}

/// serde's "invalid type: map, expected u64" (or "invalid value: integer `-1`, expected u64")
/// in the words a config's reader uses ("expected a whole number (0 or more), found -1"), with
/// a hint when a mapping (a distribution, perhaps marked `fit: true`) stands where one plain
/// value goes.
fn in_plain_words(message: String) -> String {
    let Some((found, expected)) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|rest| rest.split_once(", expected "))
    else {
        return message;
    };
    let (want, plain_value) = match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => ("a whole number (0 or more)", true),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => ("a whole number", true),
        "f32" | "f64" => ("a number", true),
        "a boolean" => ("true or false", true),
        "a sequence" => ("a list", false),
        other => (other, false),
    };
    // serde names the value's kind and quotes it: the value is what the reader wrote
    let quoted = |kind: &str| {
        found
            .strip_prefix(kind)
            .and_then(|v| v.strip_prefix(" `"))
            .and_then(|v| v.strip_suffix('`'))
            .map(str::to_string)
    };
    let got = match found {
        "map" => "a mapping".to_string(),
        "sequence" => "a list".to_string(),
        "unit value" => "nothing (an empty value)".to_string(),
        other => quoted("integer")
            .or_else(|| quoted("floating point"))
            .or_else(|| quoted("boolean"))
            .or_else(|| {
                other
                    .strip_prefix("string ")
                    .map(|v| format!("the text {v}"))
            })
            .unwrap_or_else(|| other.to_string()),
    };
    let hint = if found == "map" && plain_value {
        "; this field takes one plain value, not a distribution (only distributions are drawn \
         per image or marked fit: true)"
    } else {
        ""
    };
    format!("expected {want}, found {got}{hint}")
}

/// The candidate closest to `word` when a typo could explain the difference: at most one edit
/// (insertion, deletion, substitution, or swap of neighbours) in a word of up to four letters,
/// two in a longer one (case ignored). For "did you mean".
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_lowercase();
    let allowed = if w.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(&w, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= allowed && *c != word)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "; did you mean `c`?" for the [`closest`] candidate `c`, or nothing: the tail of an error
/// message about an unknown name.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), with "; did
/// you mean `a`?" added when one of those is a likely typo of `x`.
fn with_suggestion(message: String) -> String {
    let Some(rest) = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))
    else {
        return message;
    };
    let Some((word, tail)) = rest.split_once('`') else {
        return message;
    };
    let hint = did_you_mean(word, tail.split('`').skip(1).step_by(2));
    message + &hint
}

/// The first explicit YAML tag (`!…` starting a value, outside quotes and comments) in `text`,
/// with its 1-based line.
fn first_tag(text: &str) -> Option<(usize, String)> {
    for (n, line) in text.lines().enumerate() {
        let (mut quote, mut prev) = (None::<char>, ' ');
        for (i, c) in line.char_indices() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == '#' && prev.is_whitespace() => break,
                None if c == '!' && (prev.is_whitespace() || "[{,:-".contains(prev)) => {
                    let tag: String = line[i..]
                        .chars()
                        .take_while(|c| !c.is_whitespace() && !",]}".contains(*c))
                        .take(20)
                        .collect();
                    return Some((n + 1, tag));
                }
                None => {}
            }
            prev = c;
        }
    }
    None
}

/// Bad input outside a config file (a flag's folder, a run folder): the run stops before
/// anything is written and the CLI exits with code 2.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_name() {
        let top = [
            "seed",
            "count",
            "camera",
            "lights",
            "background",
            "objects",
            "train",
        ];
        assert_eq!(closest("camra", top), Some("camera"));
        assert_eq!(closest("ligths", top), Some("lights"));
        assert_eq!(closest("Objects", top), Some("objects"));
        assert_eq!(closest("colour", top), None, "too far from every name");
        assert_eq!(closest("sed", ["seed", "fit"]), Some("seed"));
        assert_eq!(closest("fti", ["fit", "weights"]), Some("fit"));
        assert_eq!(closest("xyz", ["fit"]), None);
        let m = with_suggestion("unknown field `camra`, expected one of `seed`, `camera`".into());
        assert!(m.ends_with("; did you mean `camera`?"), "{m}");
        let m = with_suggestion("unknown field `zzz`, expected one of `seed`, `camera`".into());
        assert!(!m.contains("did you mean"), "{m}");
    }

    #[test]
    fn type_errors_name_values_not_rust_types() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            count: u64,
            scale: Option<f64>,
        }
        let parse = |text: &str| {
            Source {
                file: "c.yaml".into(),
                text: text.into(),
            }
            .parse::<T>()
            .unwrap_err()
        };
        let e = parse("count: {int: [1, 5], fit: true}\n");
        assert_eq!(e.path, "count");
        assert_eq!(e.line, Some(1));
        let plain = "expected a whole number (0 or more), found a mapping; this field takes one";
        assert!(e.message.starts_with(plain), "{}", e.message);
        assert!(!e.message.contains("u64"), "{}", e.message);
        let said = |text: &str| parse(text).message;
        assert_eq!(
            said("count: 3\nscale: [1, 2]\n"),
            "expected a number, found a list"
        );
        let whole = "expected a whole number (0 or more), found";
        assert_eq!(said("count: 2.5\n"), format!("{whole} 2.5"));
        assert_eq!(said("count: -1\n"), format!("{whole} -1"));
        assert_eq!(said("count: true\n"), format!("{whole} true"));
        assert_eq!(
            said("count: \"five\"\n"),
            format!("{whole} the text \"five\"")
        );
        assert_eq!(
            said("count:\n"),
            format!("{whole} nothing (an empty value)")
        );
    }

    #[test]
    fn explicit_tags_are_found_outside_quotes_and_comments() {
        assert_eq!(first_tag("count: !!str 5\n"), Some((1, "!!str".into())));
        assert_eq!(
            first_tag("a: 1\nb: [1, !!int 2]\n"),
            Some((2, "!!int".into()))
        );
        assert_eq!(
            first_tag("name: \"hi! there\"  # a !comment\nx: \"!!str\"\n"),
            None
        );
    }

    #[test]
    fn folders_devices_and_long_messages_are_named_not_read_or_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let err = Source::read(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is a folder"), "{err}");
        if Path::new("/dev/zero").exists() {
            let err = Source::read(Path::new("/dev/zero")).unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        let long = dir.path().join("long.yaml");
        std::fs::write(&long, format!("count: \"{}\"\n", "x".repeat(100_000))).unwrap();
        let src = Source::read(&long).unwrap();
        let err = src.err("count", format!("expected a number, found {:?}", src.text));
        let shown = err.to_string();
        assert!(shown.len() < 1000, "{} characters shown", shown.len());
        assert!(shown.contains("characters left out"), "{shown}");
        // a file that is not YAML reads as one long string; serde quotes it
        let passwd = dir.path().join("passwd.yaml");
        std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/bash\n".repeat(200)).unwrap();
        let err = Source::read(&passwd)
            .unwrap()
            .parse::<std::collections::BTreeMap<String, f64>>()
            .unwrap_err()
            .to_string();
        assert!(err.len() < 300, "{err}");
        let deep = dir.path().join("deep.yaml");
        let n = 100_000;
        std::fs::write(
            &deep,
            format!("count: 1\nimage: {}{}\n", "[".repeat(n), "]".repeat(n)),
        )
        .unwrap();
        let err = Source::read(&deep).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("nest more than 64"), "{err}");
        assert_eq!(too_deep("a: [1, {b: \"[[[[\"}]  # [[[[\n"), None);
        assert_eq!(
            shorten_quotes(r#"a "b\"c" d "e"#, 60),
            r#"a "b\"c" d "e"#,
            "escaped and unclosed quotes"
        );
    }
}
