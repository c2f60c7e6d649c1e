//! The serde mirror of the config file: field names and nesting exactly as users write them,
//! unknown fields rejected so typos are caught. No checks beyond types live here.

use serde::Deserialize;
use serde_yaml::{Mapping, Value};

use super::Dist;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub seed: Option<u64>,
    pub count: Option<u64>,
    pub image: RawImage,
    pub split: Option<RawSplit>,
    pub output: Option<RawOutput>,
    pub camera: RawCamera,
    pub lights: Option<RawLights>,
    pub background: Option<RawBackground>,
    pub objects: Vec<RawObject>,
    pub labels: Option<RawLabels>,
    pub render: Option<RawRender>,
    pub train: Option<RawTrain>,
    /// A run folder of `rendergan train` to apply to every render.
    pub augment: Option<String>,
    pub emphasis: Option<Vec<super::emphasis::RawEmphasis>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    pub width: u32,
    pub height: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSplit {
    pub val: f64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub dir: Option<String>,
    pub formats: Option<Vec<String>>,
    pub yolo_task: Option<String>,
    pub depth_scale: Option<f64>,
    pub preview: Option<usize>,
    pub tar_samples: Option<usize>,
    pub defects: Option<Vec<String>>,
    pub anomaly_images: Option<RawAnomalyImages>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnomalyImages {
    pub good: u64,
    pub defective: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCamera {
    pub distance: Dist,
    pub elevation: Dist,
    pub azimuth: Option<Dist>,
    pub fov: Dist,
    pub roll: Option<Dist>,
    pub look_at: Option<[f64; 3]>,
    pub look_at_jitter: Option<Dist>,
    pub near: Option<f64>,
    pub far: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLights {
    pub count: Option<Dist>,
    pub elevation: Option<Dist>,
    pub azimuth: Option<Dist>,
    pub intensity: Option<Dist>,
    pub color: Option<Value>,
    pub ambient: Option<Dist>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackground {
    pub color: Option<Value>,
    pub gradient: Option<RawGradient>,
    pub images: Option<RawImages>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGradient {
    pub top: Option<Value>,
    pub bottom: Option<Value>,
    pub angle: Option<Dist>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImages {
    pub dir: String,
    pub scale: Option<Dist>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObject {
    pub model: String,
    pub class: Option<String>,
    pub count: Option<Dist>,
    pub params: Option<Mapping>,
    pub placement: Option<RawPlacement>,
    pub label: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPlacement {
    pub on: Option<String>,
    pub at: Option<String>,
    pub part: Option<String>,
    pub max_tilt: Option<f64>,
    pub x: Option<Dist>,
    pub y: Option<Dist>,
    pub z: Option<Dist>,
    pub yaw: Option<Dist>,
    pub pitch: Option<Dist>,
    pub roll: Option<Dist>,
    pub scale: Option<Dist>,
    pub no_overlap: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLabels {
    pub min_visible_pixels: Option<u32>,
    pub min_visibility: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRender {
    pub batch: Option<usize>,
    pub antialias: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTrain {
    pub resolution: Option<usize>,
    pub steps: Option<u64>,
    pub batch: Option<usize>,
    pub lr_g: Option<f64>,
    pub lr_d: Option<f64>,
    pub channels: Option<usize>,
    pub real_crop: Option<Dist>,
    pub l1: Option<f64>,
    pub history: Option<usize>,
    pub sample_every: Option<u64>,
    pub checkpoint_every: Option<u64>,
    pub probe_every: Option<u64>,
    pub learn_at: Option<String>,
    pub stages: Option<RawStages>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStages {
    pub blur: Option<bool>,
    pub lighting: Option<bool>,
    pub background: Option<bool>,
    pub detail: Option<bool>,
    pub noise: Option<bool>,
}
