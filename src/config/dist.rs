//! Distributions a config or model can give for any number: `const`, `uniform`, `normal`
//! (optionally truncated), `choice` (weighted) and `int` ranges. This module owns parsing them from
//! YAML (with messages that say what form was expected) and sampling them from a seeded RNG; it
//! does not know which field a distribution belongs to.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_yaml::Value;

use super::error::{closest, did_you_mean};

/// One random number source, as written in YAML.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// Always this value: `3.0` or `{const: 3.0}`.
    Const(f64),
    /// `{uniform: [lo, hi]}`.
    Uniform(f64, f64),
    /// `{normal: [mean, std]}` or `{normal: {mean, std, min, max}}`; `min`/`max` truncate by
    /// resampling (then clamping after 64 tries, so sampling always ends).
    Normal {
        mean: f64,
        std: f64,
        min: Option<f64>,
        max: Option<f64>,
    },
    /// `{choice: [a, b, c], weights: [1, 2, 1]}`; weights default to equal.
    Choice { values: Vec<f64>, weights: Vec<f64> },
    /// `{int: [lo, hi]}`: an integer in the closed range.
    Int(i64, i64),
    /// `{mixture: [<dist>, <dist>, ...], weights: [1, 1]}`: one of the distributions, picked by
    /// weight (default equal), then drawn: "portrait or landscape, each ±20°".
    Mixture { parts: Vec<Dist>, weights: Vec<f64> },
}

impl std::fmt::Display for Dist {
    /// The YAML form, for messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dist::Const(v) => write!(f, "{v}"),
            Dist::Uniform(a, b) => write!(f, "{{uniform: [{a}, {b}]}}"),
            Dist::Normal {
                mean,
                std,
                min,
                max,
            } => {
                write!(f, "{{normal: {{mean: {mean}, std: {std}")?;
                if let Some(m) = min {
                    write!(f, ", min: {m}")?;
                }
                if let Some(m) = max {
                    write!(f, ", max: {m}")?;
                }
                write!(f, "}}}}")
            }
            Dist::Choice { values, weights } => {
                // numbers as YAML writes them (`1`, not Debug's `1.0`)
                let list = |v: &[f64]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
                write!(
                    f,
                    "{{choice: [{}], weights: [{}]}}",
                    list(values).join(", "),
                    list(weights).join(", ")
                )
            }
            Dist::Int(a, b) => write!(f, "{{int: [{a}, {b}]}}"),
            Dist::Mixture { parts, weights } => {
                let parts: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
                write!(
                    f,
                    "{{mixture: [{}], weights: {weights:?}}}",
                    parts.join(", ")
                )
            }
        }
    }
}

/// Picks an index with probability proportional to its weight (weights are non-negative with a
/// positive sum; checked where they are parsed).
pub fn weighted_index<R: Rng + ?Sized>(weights: &[f64], rng: &mut R) -> usize {
    let total: f64 = weights.iter().sum();
    let mut t = rng.gen_range(0.0..1.0) * total;
    for (i, w) in weights.iter().enumerate() {
        if t < *w {
            return i;
        }
        t -= w;
    }
    weights.len().saturating_sub(1)
}

/// The key that marks a distribution for `rendergan fit`: `{uniform: [3, 12], fit: true}`.
/// Sampling ignores it; [`fit_mark`] reads it.
pub const FIT_KEY: &str = "fit";

/// Whether a distribution as written carries `fit: true` (`fit: false` or no key: not marked).
pub fn fit_mark(v: &Value) -> Result<bool, String> {
    let Value::Mapping(m) = v else {
        return Ok(false);
    };
    match m.get(Value::String(FIT_KEY.into())) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "fit: expected true or false, found {}",
            describe(other)
        )),
    }
}

/// The distributions' names, as `from_value` reads them.
const KINDS: [&str; 6] = ["const", "uniform", "normal", "choice", "mixture", "int"];

/// The shape hint every parse error repeats, so users see the accepted forms.
pub const FORMS: &str =
    "a number or a distribution like {uniform: [a, b]}, {normal: [mean, std]}, \
{choice: [a, b]}, {int: [lo, hi]}, {mixture: [<distribution>, ...]} or {const: x}";

impl Dist {
    /// Draws one value.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Const(v) => v,
            Dist::Uniform(lo, hi) => {
                if hi > lo {
                    rng.gen_range(lo..hi)
                } else {
                    lo
                }
            }
            Dist::Normal {
                mean,
                std,
                min,
                max,
            } => {
                let lo = min.unwrap_or(f64::NEG_INFINITY);
                let hi = max.unwrap_or(f64::INFINITY);
                for _ in 0..64 {
                    let z: f64 = StandardNormal.sample(rng);
                    let v = mean + std * z;
                    if v >= lo && v <= hi {
                        return v;
                    }
                }
                mean.clamp(lo, hi)
            }
            Dist::Choice {
                ref values,
                ref weights,
            } => {
                let total: f64 = weights.iter().sum();
                let mut t = rng.gen_range(0.0..1.0) * total;
                for (v, w) in values.iter().zip(weights) {
                    if t < *w {
                        return *v;
                    }
                    t -= w;
                }
                *values
                    .last()
                    .expect("choice has at least one value; checked at parse")
            }
            Dist::Int(lo, hi) => rng.gen_range(lo..=hi) as f64,
            Dist::Mixture {
                ref parts,
                ref weights,
            } => parts[weighted_index(weights, rng)].sample(rng),
        }
    }

    /// Smallest and largest value this distribution can produce (infinite for untruncated
    /// normals). Validation uses it to check a field's allowed range.
    pub fn range(&self) -> (f64, f64) {
        match *self {
            Dist::Const(v) => (v, v),
            Dist::Uniform(lo, hi) => (lo, hi),
            Dist::Normal { min, max, .. } => (
                min.unwrap_or(f64::NEG_INFINITY),
                max.unwrap_or(f64::INFINITY),
            ),
            Dist::Choice { ref values, .. } => values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(*v), b.max(*v))
                }),
            Dist::Int(lo, hi) => (lo as f64, hi as f64),
            Dist::Mixture {
                ref parts,
                ref weights,
            } => parts
                .iter()
                .zip(weights)
                .filter(|(_, w)| **w > 0.0)
                .map(|(p, _)| p.range())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (lo, hi)| {
                    (a.min(lo), b.max(hi))
                }),
        }
    }

    /// Parses the YAML forms listed in [`FORMS`]. Long: one arm per form.
    pub fn from_value(v: &Value) -> Result<Dist, String> {
        if let Some(x) = as_f64(v) {
            return Ok(Dist::Const(x));
        }
        let Value::Mapping(m) = v else {
            return Err(format!("expected {FORMS}, found {}", describe(v)));
        };
        let key = |k: &str| m.get(Value::String(k.into()));
        let keys: Vec<String> = m
            .keys()
            .map(|k| k.as_str().unwrap_or("?").to_string())
            .collect();
        let kind = keys
            .iter()
            .find(|k| k.as_str() != "weights" && k.as_str() != FIT_KEY)
            .cloned()
            .unwrap_or_default();
        fit_mark(v)?;
        let allowed_extra = |extra: &[&str]| -> Result<(), String> {
            for k in &keys {
                if k != &kind && k != FIT_KEY && !extra.contains(&k.as_str()) {
                    let hint = did_you_mean(k, extra.iter().copied().chain([FIT_KEY]));
                    return Err(format!(
                        "unexpected key `{k}` in a `{kind}` distribution{hint}"
                    ));
                }
            }
            Ok(())
        };
        match kind.as_str() {
            "const" => {
                allowed_extra(&[])?;
                let x = as_f64(key("const").unwrap())
                    .ok_or_else(|| "expected {const: <number>}".to_string())?;
                Ok(Dist::Const(x))
            }
            "uniform" => {
                allowed_extra(&[])?;
                let [lo, hi] = pair(key("uniform").unwrap(), "uniform: [lo, hi]")?;
                if lo > hi {
                    return Err(format!(
                        "uniform: [lo, hi] needs lo <= hi, found [{lo}, {hi}]"
                    ));
                }
                Ok(Dist::Uniform(lo, hi))
            }
            "normal" => {
                allowed_extra(&[])?;
                parse_normal(key("normal").unwrap())
            }
            "choice" => {
                allowed_extra(&["weights"])?;
                parse_choice(key("choice").unwrap(), key("weights"))
            }
            "mixture" => {
                allowed_extra(&["weights"])?;
                let Some(Value::Sequence(items)) = key("mixture") else {
                    return Err(format!(
                        "mixture: expected a list of distributions like [{{normal: [0, 20]}}, \
                         {{normal: [90, 20]}}], found {}",
                        describe(key("mixture").unwrap())
                    ));
                };
                if items.is_empty() {
                    return Err("mixture: the list is empty; give at least one distribution".into());
                }
                let parts = items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| Dist::from_value(x).map_err(|e| format!("mixture[{i}]: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                let weights = parse_weights(key("weights"), parts.len())?;
                Ok(Dist::Mixture { parts, weights })
            }
            "int" => {
                allowed_extra(&[])?;
                let [lo, hi] = pair(key("int").unwrap(), "int: [lo, hi]")?;
                if lo.fract() != 0.0 || hi.fract() != 0.0 || lo > hi {
                    return Err(format!(
                        "int: [lo, hi] needs two integers with lo <= hi, found [{lo}, {hi}]"
                    ));
                }
                Ok(Dist::Int(lo as i64, hi as i64))
            }
            "" if keys.iter().any(|k| k == FIT_KEY) => Err(format!(
                "`fit` marks a distribution written beside it, like {{uniform: [3, 12], fit: true}}; expected {FORMS} with it"
            )),
            "" => Err(format!("expected {FORMS}, found an empty mapping")),
            other => {
                let hint = closest(other, KINDS.into_iter().chain([FIT_KEY]))
                    .map(|c| format!("did you mean `{c}`? "))
                    .unwrap_or_default();
                Err(format!("unknown distribution `{other}`; {hint}expected {FORMS}"))
            }
        }
    }
}

fn parse_normal(v: &Value) -> Result<Dist, String> {
    let form = "normal: [mean, std] or normal: {mean, std, min, max}";
    let (mean, std, min, max) = match v {
        Value::Sequence(_) => {
            let [m, s] = pair(v, form)?;
            (m, s, None, None)
        }
        Value::Mapping(m) => {
            let get = |k: &str| -> Result<Option<f64>, String> {
                match m.get(Value::String(k.into())) {
                    None => Ok(None),
                    Some(x) => as_f64(x).map(Some).ok_or_else(|| {
                        format!("normal.{k}: expected a number, found {}", describe(x))
                    }),
                }
            };
            for k in m.keys() {
                let k = k.as_str().unwrap_or("?");
                let keys = ["mean", "std", "min", "max"];
                if !keys.contains(&k) {
                    return Err(format!(
                        "unexpected key `{k}` in {form}{}",
                        did_you_mean(k, keys)
                    ));
                }
            }
            let mean = get("mean")?.ok_or_else(|| format!("{form}: `mean` is missing"))?;
            let std = get("std")?.ok_or_else(|| format!("{form}: `std` is missing"))?;
            (mean, std, get("min")?, get("max")?)
        }
        _ => return Err(format!("expected {form}, found {}", describe(v))),
    };
    if std.is_nan() || std < 0.0 {
        return Err(format!("normal: std must be >= 0, found {std}"));
    }
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(format!(
                "normal: needs min <= max, found min {lo}, max {hi}"
            ));
        }
    }
    // a mean far outside its bounds puts nearly every draw on the nearer bound
    let below = min.filter(|lo| lo - mean > 3.0 * std);
    let above = max.filter(|hi| mean - hi > 3.0 * std);
    if let Some(b) = below.or(above) {
        return Err(format!(
            "normal: mean {mean} lies more than 3 std ({std}) outside [min, max], so nearly every draw would be {b}; put the mean inside the range, or widen std or the range"
        ));
    }
    Ok(Dist::Normal {
        mean,
        std,
        min,
        max,
    })
}

fn parse_choice(v: &Value, w: Option<&Value>) -> Result<Dist, String> {
    let Value::Sequence(items) = v else {
        return Err(format!(
            "choice: expected a list of numbers, found {}",
            describe(v)
        ));
    };
    let values = items
        .iter()
        .map(|x| {
            as_f64(x).ok_or_else(|| format!("choice: expected numbers, found {}", describe(x)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if values.is_empty() {
        return Err("choice: the list is empty; give at least one value".into());
    }
    let weights = parse_weights(w, values.len())?;
    Ok(Dist::Choice { values, weights })
}

/// `weights:` of a choice or mixture of `n` items: non-negative, one per item, positive sum;
/// equal when absent.
fn parse_weights(w: Option<&Value>, n: usize) -> Result<Vec<f64>, String> {
    Ok(match w {
        None => vec![1.0; n],
        Some(Value::Sequence(ws)) => {
            let ws = ws
                .iter()
                .map(|x| as_f64(x).filter(|x| *x >= 0.0))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| "weights: expected non-negative numbers".to_string())?;
            if ws.len() != n {
                return Err(format!(
                    "weights: {} weights for {n} choices; give one weight per choice",
                    ws.len(),
                ));
            }
            if ws.iter().sum::<f64>() <= 0.0 {
                return Err("weights: at least one weight must be positive".into());
            }
            ws
        }
        Some(other) => {
            return Err(format!(
                "weights: expected a list of numbers, found {}",
                describe(other)
            ))
        }
    })
}

fn pair(v: &Value, form: &str) -> Result<[f64; 2], String> {
    match v {
        Value::Sequence(s) if s.len() == 2 => match (as_f64(&s[0]), as_f64(&s[1])) {
            (Some(a), Some(b)) => Ok([a, b]),
            _ => Err(format!(
                "expected {form} with two numbers, found {}",
                describe(v)
            )),
        },
        _ => Err(format!("expected {form}, found {}", describe(v))),
    }
}

/// A YAML number as f64 (integers included); `None` for anything else.
pub fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|x| x.is_finite()),
        _ => None,
    }
}

/// A short description of a YAML value for error messages: `"many"`, `a list of 3`, ...
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("{n}"),
        Value::String(s) => format!("{:?}", super::error::excerpt(s, 60)),
        Value::Sequence(s) => format!("a list of {}", s.len()),
        Value::Mapping(m) => {
            let keys: Vec<_> = m.keys().filter_map(|k| k.as_str()).collect();
            format!("a mapping with keys [{}]", keys.join(", "))
        }
        Value::Tagged(t) => format!("a tagged value !{}", t.tag),
    }
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Dist::from_value(&v).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn parse(s: &str) -> Result<Dist, String> {
        Dist::from_value(&serde_yaml::from_str(s).unwrap())
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse("3").unwrap(), Dist::Const(3.0));
        assert_eq!(parse("{const: 2.5}").unwrap(), Dist::Const(2.5));
        assert_eq!(parse("{uniform: [1, 2]}").unwrap(), Dist::Uniform(1.0, 2.0));
        assert_eq!(parse("{int: [1, 5]}").unwrap(), Dist::Int(1, 5));
        assert!(matches!(
            parse("{normal: [0, 1]}").unwrap(),
            Dist::Normal { .. }
        ));
        let n = parse("{normal: {mean: 0, std: 30, min: -60, max: 60}}").unwrap();
        assert_eq!(n.range(), (-60.0, 60.0));
        let c = parse("{choice: [1, 2], weights: [3, 1]}").unwrap();
        assert_eq!(
            c,
            Dist::Choice {
                values: vec![1.0, 2.0],
                weights: vec![3.0, 1.0]
            }
        );
    }

    #[test]
    fn rejects_bad_forms_with_the_expected_shape() {
        assert!(parse("\"many\"").unwrap_err().contains("uniform"));
        assert!(parse("{uniform: [2, 1]}").unwrap_err().contains("lo <= hi"));
        assert!(parse("{int: [1.5, 3]}").unwrap_err().contains("integers"));
        assert!(parse("{normal: [0, -1]}").unwrap_err().contains("std"));
        assert!(parse("{choice: [1, 2], weights: [1]}")
            .unwrap_err()
            .contains("one weight"));
        assert!(parse("{gamma: [1, 2]}")
            .unwrap_err()
            .contains("unknown distribution"));
    }

    #[test]
    fn a_fit_mark_is_read_and_does_not_change_the_distribution() {
        let v: Value = serde_yaml::from_str("{int: [1, 15], fit: true}").unwrap();
        assert_eq!(Dist::from_value(&v).unwrap(), Dist::Int(1, 15));
        assert!(fit_mark(&v).unwrap());
        let c = parse("{choice: [1, 2], weights: [3, 1], fit: false}").unwrap();
        assert!(matches!(c, Dist::Choice { .. }));
        assert!(!fit_mark(&serde_yaml::from_str("{uniform: [0, 1]}").unwrap()).unwrap());
        assert!(parse("{uniform: [0, 1], fit: 3}")
            .unwrap_err()
            .contains("fit: expected true or false"));
        assert!(parse("{fit: true}").unwrap_err().contains("beside it"));
    }

    #[test]
    fn samples_stay_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let dists = [
            parse("{uniform: [-1, 3]}").unwrap(),
            parse("{normal: {mean: 0, std: 5, min: -1, max: 1}}").unwrap(),
            parse("{int: [2, 4]}").unwrap(),
            parse("{choice: [7, 9], weights: [0, 1]}").unwrap(),
        ];
        for d in &dists {
            let (lo, hi) = d.range();
            for _ in 0..1000 {
                let v = d.sample(&mut rng);
                assert!(v >= lo && v <= hi, "{d:?} gave {v}");
            }
        }
        // weight 0 is never picked
        assert!((0..100).all(|_| dists[3].sample(&mut rng) == 9.0));
        // ints are integers
        assert!((0..100).all(|_| dists[2].sample(&mut rng).fract() == 0.0));
    }

    #[test]
    fn a_mixture_draws_from_each_part_by_weight() {
        let m = parse(
            "{mixture: [{normal: {mean: 0, std: 5, min: -20, max: 20}}, {uniform: [80, 100]}], \
             weights: [1, 3]}",
        )
        .unwrap();
        assert_eq!(m.range(), (-20.0, 100.0));
        assert_eq!(
            parse(&m.to_string()).unwrap(),
            m,
            "Display gives the YAML form back"
        );
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let draws: Vec<f64> = (0..4000).map(|_| m.sample(&mut rng)).collect();
        let high = draws.iter().filter(|v| **v >= 80.0).count() as f64 / 4000.0;
        assert!(
            (high - 0.75).abs() < 0.03,
            "share of the second part {high}"
        );
        assert!(draws
            .iter()
            .all(|v| (-20.0..=20.0).contains(v) || (80.0..=100.0).contains(v)));
        assert!(parse("{mixture: []}").unwrap_err().contains("empty"));
        assert!(parse("{mixture: [1, {gamma: 2}]}")
            .unwrap_err()
            .contains("mixture[1]: unknown distribution"));
        assert!(parse("{mixture: [1, 2], weights: [1]}")
            .unwrap_err()
            .contains("one weight"));
    }
}
