//! `manifest.jsonl`: one JSON line per image with everything that was sampled (camera, lights,
//! background, each object's model, parameters, pose), what `emphasis:` rules measure on each
//! object (tilt to the camera, projected size, overlap), its labels' summary, its sampling
//! weight under `emphasis:`, and what the learned stages did under `--augment`.

use serde::Serialize;
use serde_json::json;

use super::split_name;
use crate::config::Config;
use crate::labels::InstanceLabel;
use crate::scene::Scene;

/// What the learned stages did to one image (`generate --augment`): each enabled stage's
/// per-image value (see `augment::model::StageStats`) and, per object in instance order, its
/// contrast across its mask's edge before and after (`labels::contrast`; `None` when it has no
/// edge in the image).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AugmentNote {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blur: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub light_range: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bg_shift: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bg_texture: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<f32>,
    pub contrast: Vec<Option<[f32; 2]>>,
}

/// The manifest line of one image (`file` is the image's path in the dataset).
pub fn entry(
    cfg: &Config,
    scene: &Scene,
    labels: &[InstanceLabel],
    file: &str,
    augment: Option<&AugmentNote>,
) -> serde_json::Value {
    let views = crate::scene::emphasis::views(scene);
    let round = |v: f64| (v * 1e4).round() / 1e4;
    let objects: Vec<serde_json::Value> = scene
        .instances
        .iter()
        .zip(labels)
        .zip(&views)
        .map(|((inst, l), v)| {
            json!({
                "id": inst.id,
                "class": inst.class.map(|c| cfg.classes[c].name.as_str()),
                "class_index": inst.class,
                "parent": inst.parent,
                "model": inst.model,
                "params": inst.params,
                "pose": l.pose,
                "bbox": l.bbox,
                "bbox_full": l.bbox_full,
                "visible_pixels": l.visible_pixels,
                "visibility": l.visibility,
                "keypoints": l.keypoints,
                "labeled": l.labeled,
                "tilt": round(v.tilt),
                "size": round(v.size),
                "overlap": round(v.overlap),
            })
        })
        .collect();
    let mut line = json!({
        "index": scene.index,
        "seed": scene.seed,
        "split": split_name(scene.val),
        "file": file,
        "width": cfg.width,
        "height": cfg.height,
        "camera": {"K": scene.camera.k(), "params": scene.camera},
        "lights": scene.lights,
        "ambient": scene.ambient,
        "background": scene.background,
        "objects": objects,
        "skipped_for_overlap": scene.skipped_for_overlap,
    });
    if let Some(e) = &scene.emphasis {
        line["sampling_weight"] = json!(e.sampling_weight);
        line["emphasis"] = json!(e
            .rules
            .iter()
            .map(|k| cfg.emphasis.rules[*k].name.as_str())
            .collect::<Vec<_>>());
    }
    if let Some(a) = augment {
        line["augment"] = json!(a);
    }
    line
}
