//! `emphasis:`: edge cases on purpose. Each rule names a tail of a sampled quantity (the 10 %
//! most tilted objects, the smallest ones, the busiest images) or a class, and a factor: images
//! in it are drawn that many times as often as the plain config would draw them. The scene
//! module fits the tails and draws (`scene::emphasis`); this file only checks the YAML.

use std::sync::OnceLock;

use serde::Deserialize;

use super::error::{ConfigError, Source};
use super::ClassSpec;

/// One rule as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawEmphasis {
    pub quantity: Option<String>,
    pub class: Option<String>,
    pub top: Option<f64>,
    pub bottom: Option<f64>,
    pub factor: f64,
    pub name: Option<String>,
}

/// What a rule measures on a drawn scene, before rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Per object: angle (°) between its up axis and the line to the camera; 0 = seen from
    /// straight above its top, 90 = side-on.
    Tilt,
    /// Per object: side of its projected box (√(w·h)) as a fraction of the image height.
    Size,
    /// Per object: the largest fraction of its projected box covered by the box of an object
    /// nearer to the camera (an estimate of occlusion made before rendering).
    Overlap,
    /// Per image: objects drawn (of the rule's class, if it has one).
    Objects,
    /// Per image: the camera's distance to its target.
    CameraDistance,
    /// Per image: the camera's elevation (°).
    CameraElevation,
}

/// The names a config may use for [`Quantity`].
pub const QUANTITIES: [(&str, Quantity); 6] = [
    ("tilt", Quantity::Tilt),
    ("size", Quantity::Size),
    ("overlap", Quantity::Overlap),
    ("objects", Quantity::Objects),
    ("camera.distance", Quantity::CameraDistance),
    ("camera.elevation", Quantity::CameraElevation),
];

/// Which images a rule picks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tail {
    /// The images whose value is among the highest `fraction` of the plain config's.
    Top(f64),
    /// The lowest `fraction`.
    Bottom(f64),
    /// Every image with a drawn object of the rule's class.
    Present,
}

/// One checked rule.
#[derive(Debug, Clone)]
pub struct EmphasisRule {
    pub name: String,
    pub quantity: Option<Quantity>,
    /// Only objects of this class count (index into `Config::classes`).
    pub class: Option<usize>,
    pub tail: Tail,
    pub factor: f64,
}

/// The rules' tails as fitted on the plain config's scenes (filled once, by the scene module).
#[derive(Debug, Clone)]
pub struct EmphasisFit {
    /// Per rule: the threshold value of its tail (unused for [`Tail::Present`]).
    pub thresholds: Vec<f64>,
    /// Per rule: the fraction of plain images in its tail.
    pub tail_fractions: Vec<f64>,
    /// Per rule: the fraction of emphasised images expected in its tail.
    pub emphasised_fractions: Vec<f64>,
    /// The plain mean of an image's weight (product of the factors of the rules it is in).
    pub mean_weight: f64,
}

/// The rules and their fit.
#[derive(Clone, Default)]
pub struct Emphasis {
    pub rules: Vec<EmphasisRule>,
    pub fit: OnceLock<EmphasisFit>,
}

/// The rules only: the fit is derived from the config, and a run's stamp (the checked config's
/// Debug text) must not change with whether it was computed yet.
impl std::fmt::Debug for Emphasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emphasis")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

/// Checks `emphasis:`. Long: one check per field of a rule, in the order the rule is written,
/// each with its own error message.
pub fn emphasis(
    src: &Source,
    raw: Option<Vec<RawEmphasis>>,
    classes: &[ClassSpec],
) -> Result<Emphasis, ConfigError> {
    let mut rules = Vec::new();
    for (i, r) in raw.unwrap_or_default().into_iter().enumerate() {
        let at = |f: &str| format!("emphasis[{i}].{f}");
        if !(r.factor > 0.0 && r.factor <= 100.0) || r.factor == 1.0 {
            return Err(src.err(
                at("factor"),
                format!(
                    "expected how many times as often, a number in (0, 100] other than 1 (e.g. 3; below 1 draws the tail less often), found {}",
                    r.factor
                ),
            ));
        }
        let class =
            match &r.class {
                None => None,
                Some(name) => Some(classes.iter().position(|c| &c.name == name).ok_or_else(
                    || {
                        src.err(
                            at("class"),
                            format!(
                                "no class {name:?}; the classes are {}",
                                classes
                                    .iter()
                                    .map(|c| c.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    },
                )?),
            };
        let quantity = match &r.quantity {
            None => None,
            Some(q) => Some(
                QUANTITIES
                    .iter()
                    .find(|(n, _)| n == q)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| {
                        src.err(
                            at("quantity"),
                            format!(
                                "unknown quantity {q:?}; expected one of {}",
                                QUANTITIES.map(|(n, _)| n).join(", ")
                            ),
                        )
                    })?,
            ),
        };
        let tail = match (quantity, r.top, r.bottom) {
            (None, None, None) if class.is_some() => Tail::Present,
            (None, _, _) => {
                return Err(src.err(
                    format!("emphasis[{i}]"),
                    "give a quantity with top or bottom (e.g. {quantity: tilt, top: 0.1, factor: 3}), or a class alone (e.g. {class: scratch, factor: 4})",
                ))
            }
            (Some(_), Some(f), None) => Tail::Top(fraction(src, &at("top"), f)?),
            (Some(_), None, Some(f)) => Tail::Bottom(fraction(src, &at("bottom"), f)?),
            (Some(_), _, _) => {
                return Err(src.err(
                    format!("emphasis[{i}]"),
                    "give exactly one of top and bottom: the fraction of images at that end of the quantity",
                ))
            }
        };
        if class.is_some()
            && matches!(
                quantity,
                Some(Quantity::CameraDistance | Quantity::CameraElevation)
            )
        {
            return Err(src.err(
                at("class"),
                "a camera quantity belongs to the image, not to a class; drop class",
            ));
        }
        let name = r.name.unwrap_or_else(|| {
            let q = r.quantity.as_deref().unwrap_or("");
            let of = r
                .class
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            match tail {
                Tail::Top(f) => format!("top {:.0}% {q}{of}", 100.0 * f),
                Tail::Bottom(f) => format!("bottom {:.0}% {q}{of}", 100.0 * f),
                Tail::Present => format!("class {}", r.class.as_deref().unwrap_or("")),
            }
        });
        rules.push(EmphasisRule {
            name,
            quantity,
            class,
            tail,
            factor: r.factor,
        });
    }
    Ok(Emphasis {
        rules,
        fit: OnceLock::new(),
    })
}

fn fraction(src: &Source, path: &str, f: f64) -> Result<f64, ConfigError> {
    if f > 0.0 && f < 1.0 {
        Ok(f)
    } else {
        Err(src.err(
            path,
            format!("expected a fraction of the images in (0, 1), e.g. 0.1 for the 10 % at that end; found {f}"),
        ))
    }
}
