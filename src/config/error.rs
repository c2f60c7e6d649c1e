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
        write!(f, "{}", self.message)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Collects the context needed to turn a (path, message) pair into a [`ConfigError`].
#[derive(Debug, Clone)]
pub struct Source {
    pub file: PathBuf,
    pub text: String,
}

impl Source {
    /// Reads a YAML file; a missing or unreadable file is itself a config error.
    pub fn read(file: &Path) -> Result<Source, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            path: String::new(),
            line: None,
            message: format!("cannot read the file: {e}"),
        })?;
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

    /// Parses the text into `T`, reporting serde's errors with their YAML path and line.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let de = serde_yaml::Deserializer::from_str(&self.text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let inner = e.into_inner();
            // our locator finds the field itself; serde_yaml often points at its parent mapping
            let line = line_of(&self.text, &path)
                .filter(|_| !path.is_empty())
                .or_else(|| inner.location().map(|l| l.line()));
            // serde_yaml appends " at line N column M"; the line is reported separately
            let mut message = inner.to_string();
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
                message,
            }
        })
    }
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
