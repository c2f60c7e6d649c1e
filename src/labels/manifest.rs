//! One line of `manifest.jsonl` as a type: what `dataset` writes for each image and what `eval`
//! reads back, so the two cannot drift apart. The scene's own records (camera parameters,
//! lights, background, pose, keypoints) are kept as JSON values: the manifest writes them as the
//! scene serialises them, and nothing reads them back field by field but the camera's
//! distance and elevation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::PixelBox;

/// One image's line. Read leniently: a field a line lacks (one written before the field was
/// added) reads as empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ManifestLine {
    pub index: u64,
    pub seed: u64,
    /// "train" or "val".
    pub split: String,
    /// The image's path in the dataset.
    pub file: String,
    pub width: u32,
    pub height: u32,
    pub camera: CameraLine,
    pub lights: Value,
    pub ambient: f32,
    pub background: Value,
    /// Per object, in instance order.
    pub objects: Vec<ObjectLine>,
    pub skipped_for_overlap: u32,
    /// Under `emphasis:`: the weight that re-weights the set to the plain config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_weight: Option<f64>,
    /// Under `emphasis:`: the rules whose tail the image is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emphasis: Option<Vec<String>>,
    /// Under `generate --augment`: what the learned stages did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment: Option<AugmentNote>,
}

/// The camera: its intrinsic matrix and the sampled parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CameraLine {
    #[serde(rename = "K")]
    pub k: [[f64; 3]; 3],
    pub params: Value,
}

impl CameraLine {
    /// A sampled parameter of the camera (`distance`, `elevation`, ...).
    pub fn param(&self, key: &str) -> Option<f64> {
        self.params.get(key).and_then(Value::as_f64)
    }
}

/// One object of the scene and its labels' summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectLine {
    pub id: u32,
    /// The class name; `None` for scenery.
    pub class: Option<String>,
    pub class_index: Option<usize>,
    pub parent: Option<u32>,
    pub model: String,
    pub params: BTreeMap<String, f64>,
    pub pose: Value,
    /// Visible box [x, y, w, h] in pixels.
    pub bbox: Option<PixelBox>,
    /// Drawn (amodal) box.
    pub bbox_full: Option<PixelBox>,
    pub visible_pixels: u64,
    pub visibility: f64,
    pub keypoints: Value,
    pub labeled: bool,
    /// What `emphasis:` rules measure: tilt to the camera (°), projected size (drawn box / image
    /// height), overlap by nearer boxes.
    pub tilt: Option<f64>,
    pub size: Option<f64>,
    pub overlap: Option<f64>,
}

/// What the learned stages did to one image (`generate --augment`): each enabled stage's
/// per-image value (see `augment::stages::StageStats`) and, per object in instance order, its
/// contrast across its mask's edge before and after (`labels::contrast`; `None` when it has no
/// edge in the image).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AugmentNote {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blur: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub light_range: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bg_shift: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bg_texture: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f32>,
    pub contrast: Vec<Option<[f32; 2]>>,
}

impl AugmentNote {
    /// The per-image stage values by manifest key (noise is one learned value for all images,
    /// so it is not among them), as `StageStats::per_image` lists them.
    pub fn per_image(&self) -> [(&'static str, Option<f32>); 5] {
        [
            ("blur", self.blur),
            ("light_range", self.light_range),
            ("bg_shift", self.bg_shift),
            ("bg_texture", self.bg_texture),
            ("detail", self.detail),
        ]
    }
}
