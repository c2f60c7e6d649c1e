//! A fit's search saved after each generation (`search.json` in the report folder), so that a
//! stopped fit (`rendergan fit --resume`) goes on where it stopped and ends where one never
//! stopped would: the candidates' renders are a pure function of the config and the scene
//! seeds, and the search's state holds its draws' position.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::marks::Mark;
use super::search::State;
use super::FitOptions;
use crate::config::{Config, InputError};
use crate::dataset::journal::{fnv, settings, FNV_START};
use crate::dataset::run_folder::write_atomic;
use crate::pixels::photos::RealSet;

/// The saved search, in the report folder.
pub const FILE: &str = "search.json";

/// What `search.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    /// The version that wrote it.
    pub rendergan: String,
    /// Hash of what decides the search ([`key`]).
    pub key: String,
    /// The budget it ran with, and its coordinates: whether it had finished.
    pub budget: usize,
    pub dims: usize,
    pub state: State,
}

impl Saved {
    fn finished(&self) -> bool {
        self.state.finished(self.budget, self.dims)
    }

    /// Writes it atomically into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        write_atomic(
            &dir.join(FILE),
            serde_json::to_string(self)
                .context("the search state holds a number JSON cannot")?
                .as_bytes(),
        )
    }
}

/// Hash of what decides a fit's search, the budget aside (a resumed fit may be given more):
/// the validated config (its models included; not where it or its output lie, nor how many
/// images it asks for), the marks, the photos' names and pixels, the seed, renders a candidate
/// and the compared side.
pub fn key(
    cfg: &Config,
    marks: &[Mark],
    real: &RealSet,
    (seed, renders, res): (u64, usize, usize),
) -> String {
    let mut c = cfg.clone();
    c.count = 0;
    let mut h = fnv(settings(&c).as_bytes(), FNV_START);
    for m in marks {
        h = fnv(format!("{} {}", m.name, m.written).as_bytes(), h);
    }
    for (file, image) in real.files.iter().zip(&real.images) {
        let name = file.strip_prefix(&real.dir).unwrap_or(file);
        h = fnv(name.to_string_lossy().as_bytes(), h);
        h = fnv(image.as_raw(), h);
    }
    h = fnv(format!("{seed} {renders} {res}").as_bytes(), h);
    format!("rendergan {} fit {h:016x}", env!("CARGO_PKG_VERSION"))
}

/// Where a fit's search starts.
pub enum Start {
    /// From the beginning.
    Fresh,
    /// From a saved state of this very fit.
    Resumed(State),
}

fn input(msg: String) -> anyhow::Error {
    InputError(msg).into()
}

/// Where the search of `o` starts, given what its report folder holds: a saved state of the
/// same fit with `--resume`; from the beginning otherwise. A stopped fit is not thrown away
/// without `--overwrite`, nor one of other settings resumed. Says what it does on stderr.
pub fn start(o: &FitOptions, key: &str, budget: usize) -> anyhow::Result<Start> {
    let path: PathBuf = o.report.join(FILE);
    let saved = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(input(format!(
                "cannot read {}: {e}; pass --overwrite to start the fit again",
                path.display()
            )))
        }
        Ok(text) => match serde_json::from_str::<Saved>(&text) {
            Ok(s) => Some(s),
            Err(_) if !o.resume => None,
            Err(e) => {
                return Err(input(format!(
                    "--resume: {} is no saved fit ({e}); pass --overwrite to start again",
                    path.display()
                )))
            }
        },
    };
    let Some(saved) = saved else {
        if o.resume {
            eprintln!(
                "rendergan: --resume: no stopped fit in {}; fitting from the start",
                o.report.display()
            );
        }
        return Ok(Start::Fresh);
    };
    if !o.resume {
        if !saved.finished() && !o.overwrite {
            return Err(input(format!(
                "{} holds a stopped fit ({} of {} candidates judged); pass --resume to go on from there (same config, photos, --seed, --renders and --res), or --overwrite to start again",
                o.report.display(),
                saved.state.used,
                saved.budget
            )));
        }
        return Ok(Start::Fresh);
    }
    if saved.key != key {
        return Err(input(format!(
            "--resume: the stopped fit in {} was of other settings (the config, its models, the photos, --seed, --renders or --res differ, or another version); pass --overwrite to start again, or give another --report",
            o.report.display()
        )));
    }
    eprintln!(
        "rendergan: --resume: {} candidates of {budget} judged before{}",
        saved.state.used,
        if saved.state.finished(budget, saved.dims) {
            "; the search had finished: judging the fit on held-out scenes and writing it again"
        } else {
            "; going on from there"
        }
    );
    Ok(Start::Resumed(saved.state))
}
