//! What `rendergan fit` may change: the distributions a config (or a model file it uses) marks
//! with `fit: true`, each with its written range as the search space, and how a point of that
//! space becomes a distribution again. A fitted distribution keeps the written range as its
//! support (a truncated normal over a continuous range, weights over the values of a discrete
//! one), so refitting a fitted config searches the same space. Works on the YAML tree; the
//! candidate configs it makes are checked by `config::load_text` like any file.

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use crate::config::dist::{fit_mark, Dist, FIT_KEY};
use crate::config::locate::Seg;
use crate::config::{Config, InputError};

/// Where a distribution may be marked: the sections that shape what a render shows.
const SCENE_SECTIONS: [&str; 4] = ["camera", "lights", "background", "objects"];
/// The most values an `int` range spans to be fitted value by value (one weight each is
/// written); a wider one is fitted as a normal between its ends, rounded when drawn.
const MAX_INT_VALUES: i64 = 400;

/// The values a marked distribution may take: its written range.
#[derive(Debug, Clone, PartialEq)]
pub enum Support {
    /// `[lo, hi]` of a uniform or a truncated normal.
    Continuous(f64, f64),
    /// The values of an `int` range or a `choice`, in written order.
    Discrete(Vec<f64>),
}

/// One marked distribution.
#[derive(Debug, Clone)]
pub struct Mark {
    /// Where the config gets its fitted distribution.
    pub path: Vec<Seg>,
    /// The path as a user reads it: `objects[1].count`; a model file's parameter says its file.
    pub name: String,
    /// The distribution as written.
    pub written: Dist,
    pub support: Support,
    /// Set when the mark is in a model file's `params:`: the fitted distribution goes into the
    /// config's `objects[i].params`, and the model file is left as it is.
    pub model_file: Option<PathBuf>,
}

/// Parameters of one mark in the search space: location and spread, each in [0, 1].
pub const PER_MARK: usize = 2;
/// The search's starting point for each mark: the middle of the range, spread about the
/// range's width (close to the written uniform).
pub const START: [f64; PER_MARK] = [0.5, 0.85];

fn bounds(s: &Support) -> (f64, f64) {
    match s {
        Support::Continuous(lo, hi) => (*lo, *hi),
        Support::Discrete(v) => v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(*x), b.max(*x))
            }),
    }
}

/// Four significant digits: what the fitted config shows, and what the search judges.
fn round4(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let e = 10f64.powi(3 - v.abs().log10().floor() as i32);
    (v * e).round() / e
}

/// How close to a bound of its written range a fitted mean may sit (in units of the range's
/// width) before the fit says the photos may want values beyond it.
const EDGE: f64 = 0.05;

/// A continuous fit whose draws' mean lies within this many of their standard deviations of a
/// bound is pushed against it: a normal centred on the bound, cut there, draws its mean 0.8 σ
/// inside with a standard deviation of 0.6 σ (1.32 of them); one centred a standard deviation
/// or more inside draws 1.6 or more (a uniform flush with the bound, 1.7).
const PRESSED: f64 = 1.4;

impl Mark {
    /// Where a distribution fitted for this mark, drawing `mean` ± `sd`, sits against a bound
    /// of the written range: `Some` with a sentence for the user when its mean is within
    /// [`EDGE`] of it, or, for a continuous range, when it is a narrow one centred on the bound
    /// (the search was stopped by the range, not by the photos). A discrete range's end value
    /// is a value like any other (one white cell a photo is no push against `int: [1, 4]`).
    pub fn at_edge(&self, mean: f64, sd: f64) -> Option<String> {
        let (lo, hi) = bounds(&self.support);
        let room = |gap: f64| {
            gap <= EDGE * (hi - lo)
                || matches!(self.support, Support::Continuous(..)) && gap <= PRESSED * sd
        };
        let near = if room(mean - lo) {
            "lower"
        } else if room(hi - mean) {
            "upper"
        } else {
            return None;
        };
        Some(format!(
            "{}: the fitted distribution sits at the {near} end of the written range {} (draws {mean:.3} ± {sd:.3}): the photos may want values beyond it, and the fit may have made up for it with another mark; widen the range if the scene allows, and fit again",
            self.name, self.written
        ))
    }

    /// The distribution at point `p` (location, spread in [0, 1]) of this mark's space:
    /// mean anywhere in the range, standard deviation from 1 % to 2× the range's width.
    pub fn dist(&self, p: &[f64]) -> Dist {
        let (lo, hi) = bounds(&self.support);
        let width = hi - lo;
        let mean = round4(lo + p[0].clamp(0.0, 1.0) * width);
        let std = round4(width * 10f64.powf(-2.0 + 2.3 * p[1].clamp(0.0, 1.0)));
        match &self.support {
            Support::Continuous(lo, hi) => Dist::Normal {
                mean,
                std,
                min: Some(*lo),
                max: Some(*hi),
            },
            Support::Discrete(values) => {
                let raw: Vec<f64> = values
                    .iter()
                    .map(|v| (-(v - mean).powi(2) / (2.0 * std * std)).exp())
                    .collect();
                let top = raw.iter().cloned().fold(0.0, f64::max);
                let weights = if top > 0.0 {
                    raw.iter()
                        .map(|w| (w / top * 1000.0).round() / 1000.0)
                        .collect()
                } else {
                    // far below every value's reach: the nearest value alone
                    let near = values
                        .iter()
                        .enumerate()
                        .min_by(|a, b| (a.1 - mean).abs().total_cmp(&(b.1 - mean).abs()))
                        .map_or(0, |x| x.0);
                    (0..values.len())
                        .map(|i| (i == near) as u8 as f64)
                        .collect()
                };
                Dist::Choice {
                    values: values.clone(),
                    weights,
                }
            }
        }
    }

    /// Mean and standard deviation of what `d` draws, for the report.
    pub fn moments(d: &Dist) -> (f64, f64) {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(7);
        let v: Vec<f64> = (0..4000).map(|_| d.sample(&mut rng)).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        (m, s)
    }
}

/// A number as YAML shows it: integers without a decimal point.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The flow YAML of a fitted distribution, still marked: `{normal: {...}, fit: true}`.
pub fn flow(d: &Dist) -> String {
    let list = |v: &[f64]| v.iter().map(|x| num(*x)).collect::<Vec<_>>().join(", ");
    match d {
        Dist::Normal {
            mean,
            std,
            min,
            max,
        } => {
            let mut s = format!("{{normal: {{mean: {}, std: {}", num(*mean), num(*std));
            if let Some(m) = min {
                s += &format!(", min: {}", num(*m));
            }
            if let Some(m) = max {
                s += &format!(", max: {}", num(*m));
            }
            s + &format!("}}, {FIT_KEY}: true}}")
        }
        Dist::Choice { values, weights } => format!(
            "{{choice: [{}], weights: [{}], {FIT_KEY}: true}}",
            list(values),
            list(weights)
        ),
        other => format!("{other}"),
    }
}

/// The search space a written distribution gives, or why it gives none.
pub fn support(d: &Dist) -> Result<Support, String> {
    let nothing = "nothing to fit in a single value; write the range to search, like {uniform: [3, 12], fit: true}";
    match d {
        Dist::Uniform(lo, hi) if hi > lo => Ok(Support::Continuous(*lo, *hi)),
        Dist::Normal {
            min: Some(lo),
            max: Some(hi),
            ..
        } if hi > lo => Ok(Support::Continuous(*lo, *hi)),
        Dist::Normal { min, max, .. } if min.is_none() || max.is_none() => Err(
            "a normal needs both min and max to be fitted (the range to search), like {normal: {mean: 5, std: 1, min: 3, max: 8}, fit: true}".into(),
        ),
        // too many values for a weight each: a normal between the ends, each draw rounded
        // (a count takes one with whole-number bounds)
        Dist::Int(lo, hi) if hi - lo > MAX_INT_VALUES => {
            Ok(Support::Continuous(*lo as f64, *hi as f64))
        }
        Dist::Int(lo, hi) if hi > lo => Ok(Support::Discrete((*lo..=*hi).map(|v| v as f64).collect())),
        Dist::Choice { values, .. } => {
            let (lo, hi) = bounds(&Support::Discrete(values.clone()));
            if hi > lo {
                Ok(Support::Discrete(values.clone()))
            } else {
                Err(nothing.into())
            }
        }
        Dist::Mixture { .. } => Err(
            "a mixture is not fitted as a whole; mark the part to fit, or write one uniform over the range to search".into(),
        ),
        _ => Err(nothing.into()),
    }
}

/// The path as users read it.
pub fn path_text(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s += k,
            Seg::Key(k) => s += &format!(".{k}"),
            Seg::Index(i) => s += &format!("[{i}]"),
        }
    }
    s
}

/// Every marked mapping under `v`, with its path (a marked mapping's insides are not searched);
/// a bad mark's path and what is wrong with it.
fn walk(
    v: &Value,
    path: &mut Vec<Seg>,
    out: &mut Vec<(Vec<Seg>, Value)>,
) -> Result<(), (String, String)> {
    if fit_mark(v).map_err(|e| (path_text(path), e))? {
        out.push((path.clone(), v.clone()));
        return Ok(());
    }
    match v {
        Value::Mapping(m) => {
            for (k, x) in m {
                path.push(Seg::Key(k.as_str().unwrap_or("?").to_string()));
                walk(x, path, out)?;
                path.pop();
            }
        }
        Value::Sequence(items) => {
            for (i, x) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(x, path, out)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// A refused mark: the file, its line (looked up from `path`, the field in that file), the
/// field as users read it (`name`) and what is wrong.
fn refuse(file: &Path, path: &str, name: &str, msg: impl std::fmt::Display) -> anyhow::Error {
    let line = std::fs::read_to_string(file)
        .ok()
        .and_then(|text| crate::config::locate::line_of(&text, path));
    let at = line.map(|l| format!(":{l}")).unwrap_or_default();
    InputError(format!("{}{at}: {name}: {msg}", file.display())).into()
}

/// [`check_all`] of the config file `file`, loaded as `cfg`: its marks, those of its model
/// files included, and the refusals (`validate`).
pub fn of_file(file: &Path, cfg: &Config) -> anyhow::Result<(Vec<Mark>, Vec<anyhow::Error>)> {
    Ok(check_all(file, &read_tree(file)?, cfg))
}

/// The YAML tree of a config or model file, an unreadable or unparsable one refused by name.
fn read_tree(file: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("{}: cannot read: {e}", file.display())))?;
    Ok(serde_yaml::from_str(&text)
        .map_err(|e| InputError(format!("{}: cannot parse: {e}", file.display())))?)
}

/// [`find`], for a config that need not mark anything: no marks is no error.
pub fn check(file: &Path, root: &Value, cfg: &Config) -> anyhow::Result<Vec<Mark>> {
    let (marks, mut refused) = check_all(file, root, cfg);
    match refused.is_empty() {
        true => Ok(marks),
        false => Err(refused.remove(0)),
    }
}

/// The marks fit would take and, each with its own error, those it would refuse (a tree with a
/// misplaced `fit:` is left at that one; an unreadable model file is one refusal): `validate`
/// lists both.
pub fn check_all(file: &Path, root: &Value, cfg: &Config) -> (Vec<Mark>, Vec<anyhow::Error>) {
    let mut refused = Vec::new();
    let mut found = Vec::new();
    if let Err((p, m)) = walk(root, &mut Vec::new(), &mut found) {
        refused.push(refuse(file, &p, &p, m));
    }
    let mut marks = Vec::new();
    for (path, v) in found {
        let name = path_text(&path);
        let top = match path.first() {
            Some(Seg::Key(k)) => k.as_str(),
            _ => "",
        };
        if !SCENE_SECTIONS.contains(&top) {
            refused.push(refuse(
                file,
                &name,
                &name,
                format!(
                    "`fit: true` marks only what a render shows ({}); remove it here",
                    SCENE_SECTIONS.join(", ")
                ),
            ));
            continue;
        }
        let at = name.clone();
        match mark((file, &at), path, name, &v, None) {
            Ok(m) => marks.push(m),
            Err(e) => refused.push(e),
        }
    }
    let objects = match root.get("objects") {
        Some(Value::Sequence(o)) => o.clone(),
        _ => Vec::new(),
    };
    for (i, spec) in cfg.objects.iter().enumerate() {
        let mfile = &spec.model.file;
        if !mfile.is_file() {
            continue; // a built-in model: nothing marked
        }
        let mroot = match read_tree(mfile) {
            Ok(t) => t,
            Err(e) => {
                refused.push(e);
                continue;
            }
        };
        let mut inside = Vec::new();
        if let Err((p, m)) = walk(&mroot, &mut Vec::new(), &mut inside) {
            refused.push(refuse(mfile, &p, &p, m));
        }
        let overridden = objects
            .get(i)
            .and_then(|o| o.get("params"))
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        for (path, v) in inside {
            let pname = match path.as_slice() {
                [Seg::Key(p), Seg::Key(n)] if p == "params" => n.clone(),
                _ => {
                    let p = path_text(&path);
                    refused.push(refuse(
                        mfile,
                        &p,
                        &p,
                        "`fit: true` is read on a model's params only; declare the distribution under params: and use it by name",
                    ));
                    continue;
                }
            };
            if overridden.contains_key(Value::String(pname.clone())) {
                continue; // the config's own value is what renders
            }
            let cpath = vec![
                Seg::Key("objects".into()),
                Seg::Index(i),
                Seg::Key("params".into()),
                Seg::Key(pname.clone()),
            ];
            let name = format!("{} ({} params.{pname})", path_text(&cpath), mfile.display());
            let in_file = format!("params.{pname}");
            match mark((mfile, &in_file), cpath, name, &v, Some(mfile.clone())) {
                Ok(m) => marks.push(m),
                Err(e) => refused.push(e),
            }
        }
    }
    (marks, refused)
}

/// The marks of a config (its YAML tree `root`, validated as `cfg`) and of the model files its
/// objects use. Refuses a config with none, a mark outside the scene's sections, a mark in a
/// model file outside its `params:`, and a marked distribution with no range to search.
pub fn find(file: &Path, root: &Value, cfg: &Config) -> anyhow::Result<Vec<Mark>> {
    let marks = check(file, root, cfg)?;
    if marks.is_empty() {
        return Err(InputError(format!(
            "{}: nothing is marked to fit; add `fit: true` to the distributions fit may change, e.g. count: {{int: [1, 15], fit: true}} or distance: {{uniform: [3, 12], fit: true}}",
            file.display()
        ))
        .into());
    }
    Ok(marks)
}

/// The mark at `path` (of the config), written in `file` at the field `at` of that file.
fn mark(
    (file, at): (&Path, &str),
    path: Vec<Seg>,
    name: String,
    v: &Value,
    model_file: Option<PathBuf>,
) -> anyhow::Result<Mark> {
    let written = Dist::from_value(v).map_err(|m| refuse(file, at, &name, m))?;
    let support = support(&written).map_err(|m| refuse(file, at, &name, m))?;
    Ok(Mark {
        path,
        name,
        written,
        support,
        model_file,
    })
}

/// Puts `v` at `path` in `root`, making the mappings on the way (a model parameter's override
/// under `objects[i].params` may not be written yet).
pub fn set(root: &mut Value, path: &[Seg], v: Value) {
    let Some((last, rest)) = path.split_last() else {
        *root = v;
        return;
    };
    let mut node = root;
    for seg in rest {
        node = match seg {
            Seg::Key(k) => {
                if !node.is_mapping() {
                    *node = Value::Mapping(Mapping::new());
                }
                let m = node.as_mapping_mut().expect("made a mapping just above");
                m.entry(Value::String(k.clone())).or_insert(Value::Null)
            }
            Seg::Index(i) => match node {
                Value::Sequence(items) if *i < items.len() => &mut items[*i],
                _ => return,
            },
        };
    }
    match (last, node) {
        (Seg::Key(k), node) => {
            if !node.is_mapping() {
                *node = Value::Mapping(Mapping::new());
            }
            node.as_mapping_mut()
                .expect("made a mapping just above")
                .insert(Value::String(k.clone()), v);
        }
        (Seg::Index(i), Value::Sequence(items)) if *i < items.len() => items[*i] = v,
        _ => {}
    }
}

/// The YAML tree of the config with every mark at its point of `x` (PER_MARK values a mark).
pub fn apply(root: &Value, marks: &[Mark], x: &[f64]) -> Value {
    let mut out = root.clone();
    for (k, m) in marks.iter().enumerate() {
        let d = m.dist(&x[k * PER_MARK..(k + 1) * PER_MARK]);
        let v: Value = serde_yaml::from_str(&flow(&d)).expect("flow() writes valid YAML");
        set(&mut out, &m.path, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dist {
        Dist::from_value(&serde_yaml::from_str(s).unwrap()).unwrap()
    }

    /// The mark a `fit: true` on `written` at `name` makes.
    fn mark(name: &str, written: &str) -> Mark {
        let written = d(written);
        Mark {
            path: crate::config::locate::parse_path(name),
            name: name.into(),
            support: support(&written).unwrap(),
            written,
            model_file: None,
        }
    }

    #[test]
    fn a_fitted_distribution_stays_in_the_written_range_and_reads_back() {
        let m = mark("camera.distance", "{uniform: [3, 12]}");
        let f = m.dist(&[0.2222, 0.0]);
        assert_eq!(f.range(), (3.0, 12.0));
        let (mean, std) = Mark::moments(&f);
        assert!((mean - 5.0).abs() < 0.05 && std < 0.2, "{mean} {std}");
        let back: Value = serde_yaml::from_str(&flow(&f)).unwrap();
        assert_eq!(Dist::from_value(&back).unwrap(), f);
        assert!(fit_mark(&back).unwrap());
        // the widest spread is close to the written uniform
        let (_, wide) = Mark::moments(&m.dist(&[0.5, 1.0]));
        assert!(wide > 0.8 * 9.0 / 12f64.sqrt(), "{wide}");
    }

    #[test]
    fn an_int_range_fits_as_weights_over_its_values() {
        let m = mark("objects[0].count", "{int: [1, 15]}");
        let f = m.dist(&[(9.5 - 1.0) / 14.0, 0.3]);
        let (mean, _) = Mark::moments(&f);
        assert!((mean - 9.5).abs() < 0.3, "{mean}");
        assert_eq!(f.range(), (1.0, 15.0), "every written value stays a choice");
        let back = flow(&f);
        assert!(back.starts_with("{choice: [1, 2, 3"), "{back}");
    }

    #[test]
    fn a_fit_at_the_end_of_its_range_is_named() {
        let m = mark("camera.distance", "{uniform: [2, 10]}");
        let low = m.at_edge(2.27, 0.2).expect("0.27 of 8 is within 5 %");
        assert!(
            low.contains("camera.distance") && low.contains("lower end"),
            "{low}"
        );
        assert!(m.at_edge(9.8, 0.1).unwrap().contains("upper end"));
        assert!(m.at_edge(4.1, 0.3).is_none());
        // a narrow normal centred on the bound, cut there: 0.8 σ inside, 0.6 σ wide
        assert!(m
            .at_edge(2.0 + 0.8 * 0.7, 0.6 * 0.7)
            .unwrap()
            .contains("lower end"));
        // one centred a σ inside is not pressed; nor is the whole range drawn evenly
        assert!(m.at_edge(2.0 + 1.29 * 0.5, 0.79 * 0.5).is_none());
        assert!(m.at_edge(6.0, 8.0 / 12f64.sqrt()).is_none());
        // a discrete range's end is a value like any other
        let counts = mark("objects[0].count", "{int: [1, 4]}");
        assert!(counts.at_edge(1.23, 0.42).is_none());
        assert!(counts.at_edge(1.1, 0.3).unwrap().contains("lower end"));
    }

    #[test]
    fn a_range_that_cannot_be_searched_says_how_to_write_one() {
        assert!(support(&d("5"))
            .unwrap_err()
            .contains("{uniform: [3, 12], fit: true}"));
        assert!(support(&d("{normal: [0, 1]}"))
            .unwrap_err()
            .contains("min and max"));
        // a wide int range: a rounded normal between its ends, not a weight per value
        assert_eq!(
            support(&d("{int: [0, 100000]}")).unwrap(),
            Support::Continuous(0.0, 100000.0)
        );
        assert!(support(&d("{mixture: [1, 2]}"))
            .unwrap_err()
            .contains("mixture"));
        assert!(support(&d("{choice: [2, 2]}")).is_err());
    }

    #[test]
    fn a_count_too_wide_to_weigh_is_fitted_as_a_rounded_normal_that_a_config_takes() {
        let m = mark("objects[0].count", "{int: [350, 900]}");
        let fitted = m.dist(&[0.3, 0.4]);
        assert!(
            matches!(
                fitted,
                Dist::Normal {
                    min: Some(350.0),
                    max: Some(900.0),
                    ..
                }
            ),
            "{fitted}"
        );
        let config = |count: &str| {
            crate::config::load_text(
                Path::new("wide.yaml"),
                format!("count: 1\nimage: {{width: 64, height: 64}}\ncamera: {{distance: 5, elevation: 30, fov: 40}}\nobjects:\n  - model: box\n    count: {count}\n"),
            )
        };
        let cfg = config(&flow(&fitted)).unwrap();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let n = cfg.objects[0].count.sample(&mut rng).round();
        assert!((350.0..=900.0).contains(&n));
        let e = config("{normal: {mean: 400, std: 9, min: 350.5, max: 900}}").unwrap_err();
        assert!(e.to_string().contains("between whole numbers"), "{e}");
    }

    #[test]
    fn set_makes_the_missing_mappings_of_a_parameter_override() {
        let mut root: Value = serde_yaml::from_str("objects: [{model: a.yaml}]").unwrap();
        let path = vec![
            Seg::Key("objects".into()),
            Seg::Index(0),
            Seg::Key("params".into()),
            Seg::Key("r".into()),
        ];
        set(&mut root, &path, Value::from(0.5));
        assert_eq!(root["objects"][0]["params"]["r"], Value::from(0.5));
        assert_eq!(path_text(&path), "objects[0].params.r");
    }
}
