//! A fit's search saved after each generation (`search.json` in the report folder), so that a
//! stopped fit (`rendergan fit --resume`) goes on where it stopped and ends where one never
//! stopped would: the candidates' renders are a pure function of the config and the scene
//! seeds, and the search's state holds its draws' position.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::marks::Mark;
use super::search::{self, State};
use super::{input, FitOptions};
use crate::config::Config;
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
    /// The fitted config the search was for (absolute): `--resume` replaces only that file.
    pub out: PathBuf,
    /// Seconds the fit had run when this was saved, over all its runs (0 in files written
    /// before it was kept).
    #[serde(default)]
    pub seconds: f64,
    pub state: State,
}

impl Saved {
    fn finished(&self) -> bool {
        self.state.finished(self.budget, self.dims)
    }

    /// Writes it atomically into `dir`. A state holding a number JSON cannot keep (a score
    /// that is not finite) is not written: the last one saved is an earlier generation of the
    /// same search, which resumes to the same end.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let st = &self.state;
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if !(finite(&st.history)
            && finite(&st.mean)
            && finite(&st.var)
            && finite(&st.p_sigma)
            && finite(&st.p_c)
            && st.sigma.is_finite()
            && st
                .best
                .as_ref()
                .is_none_or(|b| b.score.is_finite() && finite(&b.x)))
        {
            return Ok(());
        }
        write_atomic(
            &dir.join(FILE),
            serde_json::to_string(self)
                .context("the search state did not serialise")?
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
    h = fnv(super::objective::VERSION.as_bytes(), h);
    format!("rendergan {} fit {h:016x}", env!("CARGO_PKG_VERSION"))
}

/// Where a fit's search starts.
pub enum Start {
    /// From the beginning.
    Fresh,
    /// From the beginning, though `--resume` was asked: no saved search in the report folder.
    NothingSaved,
    /// From a saved state of this very fit; `same_out`: it was saved by a fit writing this
    /// `-o`, so `--resume` may replace that file; `seconds` the earlier runs took.
    Resumed {
        state: Box<State>,
        same_out: bool,
        seconds: f64,
    },
}

/// `-o` as the saved search records it: absolute, so a fit run from another folder matches.
pub fn out_path(out: &Path) -> PathBuf {
    std::fs::canonicalize(out).unwrap_or_else(|_| std::path::absolute(out).unwrap_or(out.into()))
}

/// Where the search of `o` starts, given what its report folder holds: a saved state of the
/// same fit with `--resume`; from the beginning otherwise. A stopped fit, or a finished search
/// whose fitted config was never written, is not thrown away without `--overwrite`; a search of
/// other settings, or one that judged more candidates than `budget` allows, is not resumed.
/// Says what it resumes on stderr. Long: one check per case, each with its message.
pub fn start(o: &FitOptions, key: &str, budget: usize) -> anyhow::Result<Start> {
    let path: PathBuf = o.report.join(FILE);
    let saved = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(input(format!(
                "cannot read {}: {e}; --report (now {}) must be a folder fit may write",
                path.display(),
                o.report.display()
            )))
        }
        Ok(text) => match serde_json::from_str::<Saved>(&text) {
            Ok(s) => Some(s),
            Err(_) if !o.resume => None,
            Err(e) => {
                return Err(input(format!(
                    "--resume: {} is no saved fit ({e}); drop --resume and pass --overwrite to start again",
                    path.display()
                )))
            }
        },
    };
    let Some(saved) = saved else {
        return Ok(if o.resume {
            Start::NothingSaved
        } else {
            Start::Fresh
        });
    };
    if !o.resume {
        let unwritten = saved.finished() && saved.key == key && !o.out.exists();
        if (!saved.finished() || unwritten) && !o.overwrite {
            return Err(input(if unwritten {
                format!(
                    "{} holds a finished search of this fit whose fitted config was not written (-o {} is missing); pass --resume to judge and write it, or --overwrite to search again",
                    o.report.display(),
                    o.out.display()
                )
            } else {
                format!(
                    "{} holds a stopped fit ({} of {} candidates judged); pass --resume to go on from there (same config, photos, --seed, --renders and --res), or --overwrite to start again",
                    o.report.display(),
                    saved.state.used,
                    saved.budget
                )
            }));
        }
        return Ok(Start::Fresh);
    }
    if saved.key != key {
        return Err(input(format!(
            "--resume: the stopped fit in {} was of other settings (the config, its models, the photos, --seed, --renders or --res differ, or another version); drop --resume and pass --overwrite to start again, or give another --report",
            o.report.display()
        )));
    }
    if saved.state.used > search::points(budget, saved.dims) {
        return Err(input(format!(
            "--resume --budget {budget}: the saved search already judged {} candidates; give --budget {} or more (a smaller budget would end where no fit of that budget ends), or drop --resume and pass --overwrite",
            saved.state.used, saved.state.used
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
    Ok(Start::Resumed {
        same_out: saved.out == out_path(&o.out),
        seconds: saved.seconds,
        state: Box::new(saved.state),
    })
}
