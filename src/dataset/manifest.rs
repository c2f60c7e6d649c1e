//! `manifest.jsonl`: one JSON line per image with everything that was sampled (camera, lights,
//! background, each object's model, parameters, pose), what `emphasis:` rules measure on each
//! object (tilt to the camera, projected size, overlap), its labels' summary, its sampling
//! weight under `emphasis:`, and what the learned stages did under `--augment`.

use super::split_name;
use crate::config::Config;
use crate::labels::manifest::{AugmentNote, CameraLine, ManifestLine, ObjectLine};
use crate::labels::InstanceLabel;
use crate::scene::Scene;

fn value<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("the scene's records serialise")
}

/// The manifest line of one image (`file` is the image's path in the dataset), as a JSON value
/// (its keys in sorted order, as every line has had them).
pub fn entry(
    cfg: &Config,
    scene: &Scene,
    labels: &[InstanceLabel],
    file: &str,
    augment: Option<&AugmentNote>,
) -> serde_json::Value {
    let views = crate::scene::emphasis::views(scene);
    let round = |v: f64| (v * 1e4).round() / 1e4;
    let objects: Vec<ObjectLine> = scene
        .instances
        .iter()
        .zip(labels)
        .zip(&views)
        .map(|((inst, l), v)| ObjectLine {
            id: inst.id,
            class: inst.class.map(|c| cfg.classes[c].name.clone()),
            class_index: inst.class,
            parent: inst.parent,
            model: inst.model.clone(),
            params: inst.params.clone(),
            pose: value(&l.pose),
            bbox: l.bbox,
            bbox_full: l.bbox_full,
            visible_pixels: l.visible_pixels,
            visibility: l.visibility,
            keypoints: value(&l.keypoints),
            labeled: l.labeled,
            tilt: Some(round(v.tilt)),
            size: Some(round(v.size)),
            overlap: Some(round(v.overlap)),
        })
        .collect();
    let line = ManifestLine {
        index: scene.index,
        seed: scene.seed,
        split: split_name(scene.val).to_string(),
        file: file.to_string(),
        width: cfg.width,
        height: cfg.height,
        camera: CameraLine {
            k: scene.camera.k(),
            params: value(&scene.camera),
        },
        lights: value(&scene.lights),
        ambient: scene.ambient,
        background: value(&scene.background),
        objects,
        skipped_for_overlap: scene.skipped_for_overlap,
        sampling_weight: scene.emphasis.as_ref().map(|e| e.sampling_weight),
        emphasis: scene.emphasis.as_ref().map(|e| {
            e.rules
                .iter()
                .map(|k| cfg.emphasis.rules[*k].name.clone())
                .collect()
        }),
        augment: augment.cloned(),
    };
    value(&line)
}
