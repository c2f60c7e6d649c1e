//! Drawing under `emphasis:` (edge cases on purpose). What each rule measures is computed on a
//! drawn scene before rendering ([`views`]: per object its tilt to the camera, projected size and
//! overlap by nearer objects). The rules' tails are fitted once on 1,000 scenes of the plain
//! config (a fixed seed stream, so every process and shard gets the same fit). An image is then
//! drawn by rejection: candidates come from the image's own seed stream and one is kept with
//! probability weight / largest weight, where its weight is the product of the factors of the
//! rules whose tail it is in. That draws each image from the plain distribution re-weighted by
//! exactly those factors, and the image's `sampling_weight` (mean weight / its weight) undoes it.

use glam::Vec3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::seed::{mix, EMPHASIS_ACCEPT, EMPHASIS_DRAW, EMPHASIS_PILOT};
use super::Scene;
use crate::config::emphasis::{EmphasisFit, EmphasisRule, Quantity, Tail};
use crate::config::Config;

/// Scenes of the plain config the tails are fitted on: a 10 % tail's threshold then sits within
/// about one percentage point of its quantile, and a config that places defects on parts
/// (qc_fasteners) fits in about a second on two cores.
pub const PILOT_SCENES: u64 = 1000;
/// Candidates an image draws at most; the last is kept whatever its weight (reached only when
/// the tails are far rarer than the fit says).
const MAX_DRAWS: u64 = 1000;
/// Vertices of one object projected for its box, at most (spread over its meshes).
const MAX_VERTICES: usize = 4000;

/// What the rules measure on one object, before rendering.
#[derive(Debug, Clone, Copy, Default)]
pub struct View {
    /// Angle (°) between the object's up axis and the line to the camera.
    pub tilt: f64,
    /// √(w·h) of the projected box over the image height (not clipped to the image).
    pub size: f64,
    /// Largest fraction of its projected box covered by the box of a nearer object.
    pub overlap: f64,
}

/// How an emphasised image was drawn.
#[derive(Debug, Clone)]
pub struct Emphasised {
    /// Weight that re-weights the set to the plain config (mean 1 over the plain draw).
    pub sampling_weight: f64,
    /// Indices of the rules whose tail the image is in.
    pub rules: Vec<usize>,
}

/// The views of every instance of `scene`, in instance order.
pub fn views(scene: &Scene) -> Vec<View> {
    let cam = &scene.camera;
    // box in normalised image coordinates (x/z, y/z) and depth of each instance
    let boxes: Vec<Option<([f64; 4], f64)>> = scene
        .instances
        .iter()
        .map(|inst| {
            let total: usize = inst.parts.iter().map(|p| p.mesh.positions.len()).sum();
            let step = total.div_ceil(MAX_VERTICES).max(1);
            let mut b = [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ];
            for p in inst
                .parts
                .iter()
                .flat_map(|p| p.mesh.positions.iter().step_by(step))
            {
                let c = cam.to_camera(inst.world_from_model.transform_point3(*p));
                if c.z as f64 <= cam.near {
                    continue;
                }
                let (u, v) = ((c.x / c.z) as f64, (c.y / c.z) as f64);
                b = [b[0].min(u), b[1].min(v), b[2].max(u), b[3].max(v)];
            }
            let depth = cam
                .to_camera(inst.world_from_model.transform_point3(Vec3::ZERO))
                .z as f64;
            (b[2] > b[0] && b[3] > b[1]).then_some((b, depth))
        })
        .collect();
    // pixels per normalised unit over the image height
    let scale = cam.fy / (2.0 * cam.cy).max(1e-9);
    scene
        .instances
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            let up = inst
                .world_from_model
                .transform_vector3(Vec3::Z)
                .normalize_or_zero();
            let centre = inst.world_from_model.transform_point3(Vec3::ZERO);
            let to_cam = (cam.pos - centre).normalize_or_zero();
            let tilt = (up.dot(to_cam).clamp(-1.0, 1.0) as f64).acos().to_degrees();
            let Some((b, depth)) = boxes[i] else {
                return View {
                    tilt,
                    ..View::default()
                };
            };
            let area = (b[2] - b[0]) * (b[3] - b[1]);
            let overlap = boxes
                .iter()
                .enumerate()
                .filter(|(j, o)| *j != i && o.is_some_and(|(_, d)| d < depth))
                .map(|(_, o)| {
                    let (c, _) = o.expect("filtered to boxes");
                    let w = (b[2].min(c[2]) - b[0].max(c[0])).max(0.0);
                    let h = (b[3].min(c[3]) - b[1].max(c[1])).max(0.0);
                    w * h / area
                })
                .fold(0.0, f64::max);
            View {
                tilt,
                size: area.sqrt() * scale,
                overlap,
            }
        })
        .collect()
}

/// The value of `rule` on a scene: the largest (top) or smallest (bottom) of its objects'
/// values, the object count, or the camera's; `None` when it has no object to measure.
fn value(rule: &EmphasisRule, scene: &Scene, views: &[View]) -> Option<f64> {
    let matching =
        || {
            scene.instances.iter().zip(views).filter(|(i, _)| {
                i.class.is_some() && (rule.class.is_none() || i.class == rule.class)
            })
        };
    let per_object = |f: fn(&View) -> f64| -> Option<f64> {
        let vals = matching().map(|(_, v)| f(v));
        match rule.tail {
            Tail::Bottom(_) => vals.reduce(f64::min),
            _ => vals.reduce(f64::max),
        }
    };
    match rule.quantity {
        None => Some(matching().count() as f64),
        Some(Quantity::Tilt) => per_object(|v| v.tilt),
        Some(Quantity::Size) => per_object(|v| v.size),
        Some(Quantity::Overlap) => per_object(|v| v.overlap),
        Some(Quantity::Objects) => Some(matching().count() as f64),
        Some(Quantity::CameraDistance) => Some(scene.camera.distance),
        Some(Quantity::CameraElevation) => Some(scene.camera.elevation),
    }
}

/// Whether `rule` (with its fitted `threshold`) picks a scene.
fn in_tail(rule: &EmphasisRule, threshold: f64, v: Option<f64>) -> bool {
    match (rule.tail, v) {
        (_, None) => false,
        (Tail::Present, Some(n)) => n > 0.0,
        (Tail::Top(_), Some(x)) => x >= threshold,
        (Tail::Bottom(_), Some(x)) => x <= threshold,
    }
}

/// The rules a scene is in, and its weight.
fn judge(cfg: &Config, fit_thresholds: &[f64], scene: &Scene) -> (Vec<usize>, f64) {
    let v = views(scene);
    let mut rules = Vec::new();
    let mut w = 1.0;
    for (k, r) in cfg.emphasis.rules.iter().enumerate() {
        if in_tail(r, fit_thresholds[k], value(r, scene, &v)) {
            rules.push(k);
            w *= r.factor;
        }
    }
    (rules, w)
}

/// The fit of the config's rules (computed on first use).
pub fn fit(cfg: &Config) -> &EmphasisFit {
    cfg.emphasis.fit.get_or_init(|| {
        use rayon::prelude::*;
        let scenes: Vec<Scene> = (0..PILOT_SCENES)
            .into_par_iter()
            .map(|k| super::sample_plain(cfg, k, mix(EMPHASIS_PILOT, k)))
            .collect();
        let views: Vec<Vec<View>> = scenes.par_iter().map(views).collect();
        let thresholds: Vec<f64> = cfg
            .emphasis
            .rules
            .iter()
            .map(|r| {
                let mut vals: Vec<f64> = scenes
                    .iter()
                    .zip(&views)
                    .filter_map(|(s, v)| value(r, s, v))
                    .collect();
                vals.sort_by(f64::total_cmp);
                let n = vals.len();
                match r.tail {
                    _ if n == 0 => f64::NAN,
                    Tail::Top(q) => vals[(((1.0 - q) * n as f64) as usize).min(n - 1)],
                    Tail::Bottom(q) => vals[((q * n as f64) as usize).min(n - 1)],
                    Tail::Present => 0.0,
                }
            })
            .collect();
        let judged: Vec<(Vec<usize>, f64)> =
            scenes.iter().map(|s| judge(cfg, &thresholds, s)).collect();
        let tail_fractions = (0..cfg.emphasis.rules.len())
            .map(|k| {
                judged.iter().filter(|(r, _)| r.contains(&k)).count() as f64 / judged.len() as f64
            })
            .collect();
        let total: f64 = judged.iter().map(|(_, w)| w).sum();
        let emphasised_fractions = (0..cfg.emphasis.rules.len())
            .map(|k| {
                judged
                    .iter()
                    .filter(|(r, _)| r.contains(&k))
                    .map(|(_, w)| w)
                    .sum::<f64>()
                    / total
            })
            .collect();
        EmphasisFit {
            thresholds,
            tail_fractions,
            emphasised_fractions,
            mean_weight: total / judged.len() as f64,
        }
    })
}

/// One line per rule for `validate` and `generate`: where its tail starts, how many plain
/// images are in it and how many will be; and a warning for a rule that changes nothing.
pub fn describe(cfg: &Config) -> Vec<String> {
    let f = fit(cfg);
    let draws = largest_weight(cfg) / f.mean_weight;
    let mut out: Vec<String> = cfg
        .emphasis
        .rules
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let from = match r.tail {
                Tail::Top(_) => format!(", values ≥ {:.3}", f.thresholds[k]),
                Tail::Bottom(_) => format!(", values ≤ {:.3}", f.thresholds[k]),
                Tail::Present => String::new(),
            };
            let mut line = format!(
                "emphasis[{k}] {}{from}: {:.1} % of plain images, ×{} → about {:.1} % of these",
                r.name,
                100.0 * f.tail_fractions[k],
                r.factor,
                100.0 * f.emphasised_fractions[k]
            );
            if f.tail_fractions[k] == 0.0 {
                line.push_str(&format!(
                    " (warning: none of {PILOT_SCENES} plain scenes is in this tail, so it changes nothing; check the class and the quantity)"
                ));
            }
            line
        })
        .collect();
    out.push(format!(
        "emphasis: about {draws:.1} scene draws per image (no render per draw); sampling_weight in manifest.jsonl undoes it"
    ));
    out
}

/// The largest weight an image can have (rules below 1 never raise it).
fn largest_weight(cfg: &Config) -> f64 {
    cfg.emphasis
        .rules
        .iter()
        .map(|r| r.factor.max(1.0))
        .product()
}

/// Draws image `index` (seed `seed`) under the config's rules.
pub fn draw(cfg: &Config, index: u64, seed: u64) -> Scene {
    let f = fit(cfg);
    let top = largest_weight(cfg);
    let mut accept = ChaCha8Rng::seed_from_u64(mix(seed, EMPHASIS_ACCEPT));
    let mut k = 0;
    loop {
        let s = if k == 0 {
            seed
        } else {
            mix(seed ^ EMPHASIS_DRAW, k)
        };
        let mut scene = super::sample_plain(cfg, index, s);
        let (rules, w) = judge(cfg, &f.thresholds, &scene);
        k += 1;
        if accept.gen::<f64>() * top < w || k == MAX_DRAWS {
            scene.emphasis = Some(Emphasised {
                sampling_weight: f.mean_weight / w,
                rules,
            });
            return scene;
        }
    }
}
