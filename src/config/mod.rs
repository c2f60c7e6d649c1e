//! The YAML config, in two layers: `Raw*` serde structs that mirror the file, and [`Config`], the
//! checked, typed form every later stage uses. [`load`] reads, parses and validates; every problem
//! becomes a [`ConfigError`] naming the file, YAML path and line. Nothing here renders or writes.

pub mod dist;
pub mod emphasis;
pub mod error;
pub mod expr;
pub mod locate;
pub mod model;
mod raw;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use dist::Dist;
pub use error::{ConfigError, InputError, Source};
use raw::*;
use serde_yaml::Value;

use model::Model;

/// A colour source: three channel distributions in [0, 1], a weighted choice of colours, or HSV.
#[derive(Debug, Clone, PartialEq)]
pub enum ColorDist {
    Rgb([Dist; 3]),
    Choice {
        colors: Vec<[f64; 3]>,
        weights: Vec<f64>,
    },
    Hsv([Dist; 3]),
}

/// The checked config of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file (for messages and the manifest).
    pub file: PathBuf,
    pub seed: u64,
    pub count: u64,
    pub width: u32,
    pub height: u32,
    /// Fraction of images that go to the `val` split.
    pub val_fraction: f64,
    pub output: OutputSpec,
    pub camera: CameraSpec,
    pub lights: LightSpec,
    pub background: Background,
    pub objects: Vec<ObjectSpec>,
    /// Classes in id order (COCO category id = index + 1, YOLO class = index).
    pub classes: Vec<ClassSpec>,
    pub labels: LabelSpec,
    /// Images rendered per GPU submit.
    pub batch: usize,
    /// Colour samples per pixel: 1 (off) or 4 (multisampled edges; labels stay exact).
    pub antialias: u32,
    /// Settings for `rendergan train`.
    pub train: TrainSpec,
    /// A trained run folder to apply to every render (`augment:` in the file, or `--augment`).
    pub augment: Option<PathBuf>,
    /// Tails and classes drawn more often (`emphasis:`).
    pub emphasis: emphasis::Emphasis,
}

/// Learned-augmentation training settings (`train:`); every field has a default.
#[derive(Debug, Clone)]
pub struct TrainSpec {
    /// Side of the square training images: 64 or 128.
    pub resolution: usize,
    pub steps: u64,
    pub batch: usize,
    pub lr_g: f64,
    pub lr_d: f64,
    /// 3 = RGB, 1 = grey.
    pub channels: usize,
    /// Real crop side as a fraction of the photo's shorter side.
    pub real_crop: Dist,
    /// Weight of the L1 self-regularisation between render and output.
    pub l1: f64,
    /// Older fakes kept for the discriminator (SimGAN's history buffer).
    pub history: usize,
    pub sample_every: u64,
    pub checkpoint_every: u64,
    /// Steps between held-out realism measurements (the best one is what `generate` applies).
    pub probe_every: u64,
    /// Where the per-pixel stages learn (`train.learn_at`).
    pub learn_at: LearnAt,
    pub blur: bool,
    pub lighting: bool,
    pub background: bool,
    pub detail: bool,
    pub noise: bool,
}

/// Where the learned stages see the renders in training (`train.learn_at`, `train --learn-at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LearnAt {
    /// `resolution`² crops of renders made at the output's size (at most 4 × `resolution`),
    /// against photo crops at the same pixels per object: blur and sensor noise learn in output
    /// pixels; lighting and the background's colour ramp are made for the whole render.
    Output,
    /// Renders of the whole scene at `resolution`² (what runs of format 2 did).
    Whole,
}

impl TrainSpec {
    /// Side of the square renders training cuts its crops from, for an output `height` pixels
    /// high: that height within [`resolution`, 4 × `resolution`] (`resolution` itself when
    /// learning on whole renders).
    pub fn render_size(&self, height: u32) -> usize {
        match self.learn_at {
            LearnAt::Whole => self.resolution,
            LearnAt::Output => (height as usize).clamp(self.resolution, 4 * self.resolution),
        }
    }
}

/// Which files a run writes, and where.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub dir: PathBuf,
    pub coco: bool,
    pub yolo: Option<YoloTask>,
    pub masks: bool,
    pub depth: bool,
    /// Camera-frame normals as RGB PNGs (n · 0.5 + 0.5).
    pub normals: bool,
    /// Depth PNG value = camera-frame z (scene units) × this scale.
    pub depth_scale: f64,
    /// Images in preview.png (0 = none).
    pub preview: usize,
    /// The anomaly-detection layout (anomalib's Folder / MVTec style): the classes that are
    /// defects. Images without a labelled defect are `good`.
    pub anomaly: Option<Vec<String>>,
    /// WebDataset tar shards (`formats: [..., webdataset]`) with this many samples each.
    pub webdataset: Option<usize>,
    /// `anomaly_images: {good, defective}`: of every good + defective images, this many of
    /// each (see [`crate::scene::anomaly_role`]).
    pub anomaly_images: Option<(u64, u64)>,
}

/// The YOLO label flavour written to `labels/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YoloTask {
    Detect,
    Segment,
    Pose,
}

/// Camera sampling; angles in degrees.
#[derive(Debug, Clone)]
pub struct CameraSpec {
    pub distance: Dist,
    pub elevation: Dist,
    pub azimuth: Dist,
    /// Vertical field of view.
    pub fov: Dist,
    pub roll: Dist,
    pub look_at: [f64; 3],
    pub look_at_jitter: Dist,
    pub near: f64,
    pub far: f64,
}

/// Directional lights plus ambient.
#[derive(Debug, Clone)]
pub struct LightSpec {
    pub count: Dist,
    pub elevation: Dist,
    pub azimuth: Dist,
    pub intensity: Dist,
    pub color: ColorDist,
    pub ambient: Dist,
}

/// What fills pixels no object covers.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per run
pub enum Background {
    Color(ColorDist),
    Gradient {
        top: ColorDist,
        bottom: ColorDist,
        angle: Dist,
    },
    /// Random crops of these images; `scale` is the crop side as a fraction of the shorter side.
    Images {
        dir: PathBuf,
        files: Vec<PathBuf>,
        scale: Dist,
    },
}

/// One entry of `objects:`.
#[derive(Debug, Clone)]
pub struct ObjectSpec {
    pub model: Arc<Model>,
    /// Index into [`Config::classes`]; `None` for scenery (`label: false`): rendered, never
    /// labelled.
    pub class: Option<usize>,
    /// What `placement.on` of a later entry calls this one: its class, else its model's name.
    pub name: String,
    /// `label: group`: its label covers itself and everything placed on it, recursively.
    pub group: bool,
    pub count: Dist,
    pub placement: Placement,
}

/// What an object is placed on.
#[derive(Debug, Clone, PartialEq)]
pub enum Support {
    /// The ground plane z = 0: the rotated model is lifted so its lowest point touches it (+ `z`).
    Ground,
    /// Free in space at (x, y, z).
    Volume,
    /// An instance of earlier `objects:` entries (one picked at random per placed object).
    Parent {
        /// Indices into [`Config::objects`].
        entries: Vec<usize>,
        at: Attach,
        /// Only this part of the parent's model (surface placement).
        part: Option<String>,
        /// Only surface facing within this many degrees of world up (surface placement).
        max_tilt: Option<f32>,
    },
}

/// Where on its parent an object goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// In the parent's model frame: (x, y, z) and yaw/pitch/roll are relative to the parent.
    Origin,
    /// At a random point of the parent's surface (area-weighted), +z along the surface normal,
    /// wrapped onto curved surfaces; `z` is a lift along the normal.
    Surface,
}

/// How instances are posed in the world (z up, ground plane z = 0); angles in degrees.
#[derive(Debug, Clone)]
pub struct Placement {
    pub on: Support,
    pub x: Dist,
    pub y: Dist,
    pub z: Dist,
    pub yaw: Dist,
    pub pitch: Dist,
    pub roll: Dist,
    pub scale: Dist,
    /// Reject positions whose bounding circle (sphere off the ground) meets that of an earlier
    /// no_overlap instance on the same support (the ground and free space count as one).
    pub no_overlap: bool,
}

/// One class of the dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSpec {
    pub name: String,
    /// Keypoint names, in the order COCO and YOLO pose list them.
    pub keypoints: Vec<String>,
    /// For each keypoint, the one it becomes in a left-right mirrored image.
    pub mirror: Vec<usize>,
}

/// Which rendered objects become labels.
#[derive(Debug, Clone)]
pub struct LabelSpec {
    pub min_visible_pixels: u32,
    pub min_visibility: f64,
}

/// Reads, parses and validates a config file.
pub fn load(file: &Path) -> Result<Config, ConfigError> {
    load_with(file, &Overrides::default())
}

/// Command-line values that replace the config's own. They are applied before validation and
/// checked like the file's values (`-n 0` is refused as `count: 0` is).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `-n`: the number of images (with `output.anomaly_images`, the proportion is kept).
    pub count: Option<u64>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `-o`: the output folder.
    pub out: Option<PathBuf>,
    /// `--augment`: a trained run folder (relative to the working folder, not the config).
    pub augment: Option<PathBuf>,
    /// `bench --train --res`: the training resolution, checked as `train.resolution` is.
    pub train_resolution: Option<usize>,
}

/// The training resolutions the learned stages are built for.
fn train_resolution(r: usize) -> Result<(), String> {
    if r == 64 || r == 128 {
        Ok(())
    } else {
        Err(format!("expected 64 or 128, found {r}"))
    }
}

/// [`load`] with command-line overrides.
pub fn load_with(file: &Path, o: &Overrides) -> Result<Config, ConfigError> {
    let src = Source::read(file)?;
    let mut raw: RawConfig = src.parse()?;
    if o.count == Some(0) {
        return Err(ConfigError {
            file: src.file.clone(),
            path: "-n".into(),
            line: None,
            message: "expected at least 1 image, found 0".into(),
        });
    }
    raw.seed = o.seed.or(raw.seed);
    if let Some(r) = o.train_resolution {
        train_resolution(r).map_err(|message| ConfigError {
            file: src.file.clone(),
            path: "--res".into(),
            line: None,
            message,
        })?;
    }
    let mut cfg = validate(&src, raw, o.count)?;
    if let Some(r) = o.train_resolution {
        cfg.train.resolution = r;
    }
    if let Some(out) = &o.out {
        cfg.output.dir = out.clone();
    }
    if let Some(run) = &o.augment {
        cfg.augment = Some(run.clone());
    }
    Ok(cfg)
}

/// [`load`] of `text` read as if it were the contents of `file` (relative paths resolve beside
/// `file`): `rendergan fit` checks every candidate config through the same validation as a
/// config file.
pub fn load_text(file: &Path, text: String) -> Result<Config, ConfigError> {
    let src = Source {
        file: file.to_path_buf(),
        text,
    };
    let raw: RawConfig = src.parse()?;
    validate(&src, raw, None)
}

/// Checks a parsed config section by section (each its own function) and assembles it.
/// Long only by the assembly of [`Config`]'s fields.
fn validate(src: &Source, raw: RawConfig, count_flag: Option<u64>) -> Result<Config, ConfigError> {
    let base = src.file.parent().map(Path::to_path_buf).unwrap_or_default();
    for (p, v) in [
        ("image.width", raw.image.width),
        ("image.height", raw.image.height),
    ] {
        if !(8..=8192).contains(&v) {
            return Err(src.err(p, format!("expected a size in 8..=8192 pixels, found {v}")));
        }
    }
    let val_fraction = raw.split.as_ref().map_or(0.2, |s| s.val);
    if !(0.0..=1.0).contains(&val_fraction) {
        return Err(src.err(
            "split.val",
            format!("expected a fraction in [0, 1], found {val_fraction}"),
        ));
    }

    let output = output_spec(src, raw.output.unwrap_or_default())?;
    let camera = camera_spec(src, raw.camera)?;

    let lights = light_spec(src, raw.lights.unwrap_or_default())?;

    let background = background(src, &base, raw.background)?;

    let (objects, classes) = objects_and_classes(src, &base, raw.objects)?;
    let count = image_count(src, raw.count, count_flag, &output, &objects, &classes)?;
    for (i, d) in output.anomaly.iter().flatten().enumerate() {
        if !classes.iter().any(|c| &c.name == d) {
            return Err(src.err(
                format!("output.defects[{i}]"),
                format!(
                    "no class {d:?}; the classes are {}",
                    classes
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if output.yolo == Some(YoloTask::Pose) && classes.iter().all(|c| c.keypoints.is_empty()) {
        return Err(src.err(
            "output.yolo_task",
            "pose labels need keypoints, but no model in objects: has any; use detect or segment",
        ));
    }
    let lab = raw.labels.unwrap_or_default();
    let labels = LabelSpec {
        min_visible_pixels: lab.min_visible_pixels.unwrap_or(16),
        min_visibility: lab.min_visibility.unwrap_or(0.0),
    };
    if !(0.0..=1.0).contains(&labels.min_visibility) {
        return Err(src.err("labels.min_visibility", "expected a fraction in [0, 1]"));
    }
    let render = raw.render.unwrap_or_default();
    let batch = render.batch.unwrap_or(8);
    if !(1..=256).contains(&batch) {
        return Err(src.err(
            "render.batch",
            format!("expected 1..=256 images per submit, found {batch}"),
        ));
    }
    let antialias = render.antialias.unwrap_or(1);
    if antialias != 1 && antialias != 4 {
        return Err(src.err(
            "render.antialias",
            format!("expected 1 (off) or 4 (4× multisampled colour), found {antialias}"),
        ));
    }
    let train = train_spec(src, raw.train.unwrap_or_default())?;
    let augment = raw.augment.map(|a| base.join(a));
    let emphasis = emphasis::emphasis(src, raw.emphasis, &classes)?;
    Ok(Config {
        file: src.file.clone(),
        seed: raw.seed.unwrap_or(0),
        count,
        width: raw.image.width,
        height: raw.image.height,
        val_fraction,
        output,
        camera,
        lights,
        background,
        objects,
        classes,
        labels,
        batch,
        antialias,
        train,
        augment,
        emphasis,
    })
}

/// Checks that distribution `d` at `path` stays within [lo, hi].
fn check_range(
    src: &Source,
    path: &str,
    d: &Dist,
    lo: f64,
    hi: f64,
    what: &str,
) -> Result<(), ConfigError> {
    let (a, b) = d.range();
    if a < lo || b > hi {
        // an unbounded normal's fix is its bounds, not another mean
        let fix = if a.is_finite() && b.is_finite() {
            String::new()
        } else {
            format!("; give the normal min and max inside [{lo}, {hi}]: {{normal: {{mean: M, std: S, min: A, max: B}}}}")
        };
        return Err(src.err(
            path,
            format!("{what} must lie in [{lo}, {hi}], but {d} can give values in [{a}, {b}]{fix}"),
        ));
    }
    Ok(())
}

/// `output:`: folder, formats, defects and the anomaly mix, YOLO task, depth scale, preview.
/// Long: each field with its own check and message.
fn output_spec(src: &Source, out: RawOutput) -> Result<OutputSpec, ConfigError> {
    let stem = src
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("run")
        .to_string();
    let mut output = OutputSpec {
        dir: out
            .dir
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("output").join(&stem)),
        coco: true,
        yolo: Some(YoloTask::Detect),
        masks: true,
        depth: false,
        normals: false,
        depth_scale: out.depth_scale.unwrap_or(1000.0),
        preview: out.preview.unwrap_or(16),
        anomaly: None,
        anomaly_images: None,
        webdataset: None,
    };
    if let Some(formats) = out.formats {
        output.coco = false;
        output.yolo = None;
        output.masks = false;
        for (i, f) in formats.iter().enumerate() {
            match f.as_str() {
                "coco" => output.coco = true,
                "yolo" => output.yolo = Some(YoloTask::Detect),
                "masks" => output.masks = true,
                "depth" => output.depth = true,
                "normals" => output.normals = true,
                "anomaly" => output.anomaly = Some(Vec::new()),
                "webdataset" => output.webdataset = Some(out.tar_samples.unwrap_or(1000)),
                other => {
                    return Err(src.err(
                        format!("output.formats[{i}]"),
                        format!(
                        "unknown format {other:?}; expected coco, yolo, masks, depth, normals, anomaly or webdataset"
                    ),
                    ))
                }
            }
        }
    }
    match (&mut output.anomaly, out.defects) {
        (Some(list), Some(d)) if !d.is_empty() => *list = d,
        (Some(_), _) => {
            return Err(src.err(
                "output.defects",
                "the anomaly format needs `defects: [class, ...]`: the classes that are defects (images without one are good)",
            ))
        }
        (None, Some(_)) => {
            return Err(src.err(
                "output.defects",
                "defects is only used by the anomaly format: add anomaly to output.formats",
            ))
        }
        (None, None) => {}
    }
    match (output.webdataset, out.tar_samples) {
        (Some(0), _) => {
            return Err(src.err(
                "output.tar_samples",
                "expected at least 1 sample per tar file",
            ))
        }
        (None, Some(_)) => return Err(src.err(
            "output.tar_samples",
            "tar_samples is only used by the webdataset format: add webdataset to output.formats",
        )),
        _ => {}
    }
    if let Some(a) = out.anomaly_images {
        if output.anomaly.is_none() {
            return Err(src.err(
                "output.anomaly_images",
                "anomaly_images is only used by the anomaly format: add anomaly to output.formats",
            ));
        }
        if a.good + a.defective == 0 {
            return Err(src.err(
                "output.anomaly_images",
                "expected at least one good or defective image, e.g. {good: 300, defective: 200}",
            ));
        }
        output.anomaly_images = Some((a.good, a.defective));
    }
    if let Some(task) = out.yolo_task {
        let t = match task.as_str() {
            "detect" => YoloTask::Detect,
            "segment" => YoloTask::Segment,
            "pose" => YoloTask::Pose,
            other => {
                return Err(src.err(
                    "output.yolo_task",
                    format!("expected detect, segment or pose, found {other:?}"),
                ))
            }
        };
        if output.yolo.is_some() {
            output.yolo = Some(t);
        }
    }
    if output.depth_scale.is_nan() || output.depth_scale <= 0.0 {
        return Err(src.err(
            "output.depth_scale",
            "expected a positive number (1000 = millimetres for scenes in metres)",
        ));
    }

    Ok(output)
}

/// `camera:`.
fn camera_spec(src: &Source, c: RawCamera) -> Result<CameraSpec, ConfigError> {
    check_range(src, "camera.distance", &c.distance, 1e-6, 1e9, "distance")?;
    check_range(src, "camera.fov", &c.fov, 1.0, 170.0, "fov (degrees)")?;
    check_range(
        src,
        "camera.elevation",
        &c.elevation,
        -90.0,
        90.0,
        "elevation (degrees)",
    )?;
    let near = c.near.unwrap_or(0.05);
    let far = c.far.unwrap_or(1000.0);
    if !(near > 0.0 && far > near) {
        return Err(src.err(
            "camera.near",
            format!("expected 0 < near < far, found near {near}, far {far}"),
        ));
    }
    let camera = CameraSpec {
        distance: c.distance,
        elevation: c.elevation,
        azimuth: c.azimuth.unwrap_or(Dist::Uniform(0.0, 360.0)),
        fov: c.fov,
        roll: c.roll.unwrap_or(Dist::Const(0.0)),
        look_at: c.look_at.unwrap_or([0.0; 3]),
        look_at_jitter: c.look_at_jitter.unwrap_or(Dist::Const(0.0)),
        near,
        far,
    };
    check_range(
        src,
        "camera.look_at_jitter",
        &camera.look_at_jitter,
        0.0,
        1e9,
        "look_at_jitter",
    )?;

    Ok(camera)
}

/// `lights:`.
fn light_spec(src: &Source, l: RawLights) -> Result<LightSpec, ConfigError> {
    let lights = LightSpec {
        count: l.count.unwrap_or(Dist::Const(1.0)),
        elevation: l.elevation.unwrap_or(Dist::Uniform(30.0, 80.0)),
        azimuth: l.azimuth.unwrap_or(Dist::Uniform(0.0, 360.0)),
        intensity: l.intensity.unwrap_or(Dist::Uniform(0.6, 1.0)),
        color: color(src, "lights.color", l.color.as_ref(), [1.0; 3])?,
        ambient: l.ambient.unwrap_or(Dist::Uniform(0.15, 0.35)),
    };
    check_range(
        src,
        "lights.count",
        &lights.count,
        0.0,
        8.0,
        "the number of lights",
    )?;
    check_range(
        src,
        "lights.intensity",
        &lights.intensity,
        0.0,
        100.0,
        "intensity",
    )?;
    check_range(src, "lights.ambient", &lights.ambient, 0.0, 10.0, "ambient")?;

    Ok(lights)
}

/// `objects:`: each entry's model (with `params:` overrides), count, placement and label, and
/// the classes they make, in order of first use. Long: each field of an entry with its check.
fn objects_and_classes(
    src: &Source,
    base: &Path,
    raw_objects: Vec<RawObject>,
) -> Result<(Vec<ObjectSpec>, Vec<ClassSpec>), ConfigError> {
    if raw_objects.is_empty() {
        return Err(src.err("objects", "expected at least one object entry"));
    }
    let mut classes: Vec<ClassSpec> = Vec::new();
    let mut objects = Vec::new();
    for (i, o) in raw_objects.into_iter().enumerate() {
        let p = format!("objects[{i}]");
        let mut model = model::resolve(&o.model, base).map_err(|e| match e {
            model::ResolveError::NotFound(m) => src.err(format!("{p}.model"), m),
            model::ResolveError::Model(e) => e,
        })?;
        for (k, v) in o.params.iter().flatten() {
            let key = k.as_str().unwrap_or("");
            model
                .override_param(key, v)
                .map_err(|m| src.err(format!("{p}.params.{key}"), m))?;
        }
        // a few draws catch expressions that are never a number (x / 0, sqrt(-1), 10 ^ 400)
        model
            .check_finite(8)
            .map_err(|m| src.err(format!("{p}.model"), m))?;
        let class_name = o.class.unwrap_or_else(|| model.name.clone());
        let keypoints = model.keypoint_names();
        let (labelled, group) = match &o.label {
            None | Some(Value::Bool(true)) => (true, false),
            Some(Value::Bool(false)) => (false, false),
            Some(Value::String(s)) if s == "group" => (true, true),
            Some(other) => {
                return Err(src.err(
                    format!("{p}.label"),
                    format!(
                        "expected true, false (scenery: rendered, never labelled) or group (one label over this object and everything placed on it), found {}",
                        dist::describe(other)
                    ),
                ))
            }
        };
        let class = match classes.iter().position(|c| c.name == class_name) {
            _ if !labelled => None,
            Some(ci) if classes[ci].keypoints != keypoints => {
                return Err(src.err(
                    format!("{p}.class"),
                    format!(
                        "class {class_name:?} is used by models with different keypoints ({:?} vs {:?}); give the entries different class names",
                        classes[ci].keypoints, keypoints
                    ),
                ))
            }
            Some(ci) => Some(ci),
            None => {
                classes.push(ClassSpec {
                    name: class_name.clone(),
                    keypoints,
                    mirror: model.mirror.clone(),
                });
                Some(classes.len() - 1)
            }
        };
        let count = o.count.unwrap_or(Dist::Const(1.0));
        check_range(src, &format!("{p}.count"), &count, 0.0, 10_000.0, "count")?;
        // a normal between whole-number bounds is drawn and rounded (how fit writes a count
        // range too wide to weigh value by value)
        let whole = |b: &Option<f64>| b.is_some_and(|v| v.fract() == 0.0);
        let rounded_normal =
            matches!(&count, Dist::Normal { min, max, .. } if whole(min) && whole(max));
        if !(matches!(count, Dist::Const(_) | Dist::Int(..) | Dist::Choice { .. })
            || rounded_normal)
            || count.range().0.fract() != 0.0
        {
            return Err(src.err(
                format!("{p}.count"),
                format!(
                    "expected an integer, an integer range like {{int: [1, 5]}}, or a normal between whole numbers like {{normal: {{mean: 400, std: 50, min: 300, max: 900}}}} (draws rounded), found {count}"
                ),
            ));
        }
        let placement = placement(src, &p, o.placement.unwrap_or_default(), &objects)?;
        objects.push(ObjectSpec {
            model: Arc::new(model),
            class,
            name: class_name,
            group,
            count,
            placement,
        });
    }
    if classes.is_empty() {
        return Err(src.err(
            "objects",
            "every entry has label: false; at least one object must be labelled",
        ));
    }

    Ok((objects, classes))
}

/// The number of images: `count`, or the sum of `output.anomaly_images`, or `-n`; with a
/// defective share, some defect entry must be able to appear.
fn image_count(
    src: &Source,
    raw_count: Option<u64>,
    count_flag: Option<u64>,
    output: &OutputSpec,
    objects: &[ObjectSpec],
    classes: &[ClassSpec],
) -> Result<u64, ConfigError> {
    let count = match (raw_count, output.anomaly_images) {
        (Some(0), _) => return Err(src.err("count", "expected at least 1 image, found 0")),
        (Some(n), Some((g, d))) if n != g + d => {
            return Err(src.err(
                "count",
                format!(
                    "count is {n}, but output.anomaly_images asks for {g} good + {d} defective = \
                     {} images; leave count out (it is then their sum) or make them agree",
                    g + d
                ),
            ))
        }
        (Some(n), _) => n,
        (None, Some((g, d))) => g + d,
        (None, None) => match count_flag {
            Some(n) => n,
            None => {
                return Err(src.err(
                    "count",
                    "missing: the number of images to make, e.g. count: 1000 (or -n)",
                ))
            }
        },
    };
    let count = count_flag.unwrap_or(count);
    if let Some((_, defective)) = output.anomaly_images.filter(|a| a.1 > 0) {
        let defects = output.anomaly.as_deref().unwrap_or_default();
        let can = objects.iter().any(|o| {
            o.class.is_some_and(|c| defects.contains(&classes[c].name)) && o.count.range().1 >= 1.0
        });
        if !can {
            return Err(src.err(
                "output.anomaly_images",
                format!(
                    "{defective} defective images asked for, but no objects entry of a defect \
                     class ({}) can have a count above 0",
                    defects.join(", ")
                ),
            ));
        }
    }
    Ok(count)
}

fn train_spec(src: &Source, t: RawTrain) -> Result<TrainSpec, ConfigError> {
    let st = t.stages.unwrap_or_default();
    let spec = TrainSpec {
        resolution: t.resolution.unwrap_or(64),
        steps: t.steps.unwrap_or(2000),
        batch: t.batch.unwrap_or(16),
        lr_g: t.lr_g.unwrap_or(1e-3),
        lr_d: t.lr_d.unwrap_or(2e-3),
        channels: t.channels.unwrap_or(3),
        real_crop: t.real_crop.unwrap_or(Dist::Uniform(0.3, 0.8)),
        l1: t.l1.unwrap_or(1.0),
        history: t.history.unwrap_or(256),
        sample_every: t.sample_every.unwrap_or(100),
        checkpoint_every: t.checkpoint_every.unwrap_or(100),
        probe_every: t.probe_every.unwrap_or(100),
        learn_at: match t.learn_at.as_deref() {
            // output is the default since it measured never worse than whole with YOLO on
            // the bench/simreal targets (ahead on boards, level on the rest: docs/training.md)
            None | Some("output") => LearnAt::Output,
            Some("whole") => LearnAt::Whole,
            Some(other) => {
                return Err(src.err(
                    "train.learn_at",
                    format!(
                        "expected output (crops of renders at the output's size: blur and noise \
                         learn in output pixels) or whole (whole renders at train.resolution), \
                         found {other:?}"
                    ),
                ))
            }
        },
        blur: st.blur.unwrap_or(true),
        lighting: st.lighting.unwrap_or(true),
        background: st.background.unwrap_or(true),
        detail: st.detail.unwrap_or(true),
        noise: st.noise.unwrap_or(true),
    };
    train_resolution(spec.resolution).map_err(|m| src.err("train.resolution", m))?;
    if spec.channels != 1 && spec.channels != 3 {
        return Err(src.err(
            "train.channels",
            format!("expected 3 (RGB) or 1 (grey), found {}", spec.channels),
        ));
    }
    if !(1..=256).contains(&spec.batch) {
        return Err(src.err(
            "train.batch",
            format!("expected 1..=256, found {}", spec.batch),
        ));
    }
    for (p, v) in [("train.lr_g", spec.lr_g), ("train.lr_d", spec.lr_d)] {
        if v.is_nan() || v <= 0.0 || v >= 1.0 {
            return Err(src.err(p, format!("expected a learning rate in (0, 1), found {v}")));
        }
    }
    let (lo, hi) = spec.real_crop.range();
    if lo <= 0.0 || hi > 1.0 {
        return Err(src.err(
            "train.real_crop",
            "expected a fraction of the photo's shorter side in (0, 1]",
        ));
    }
    for (p, v) in [
        ("train.sample_every", spec.sample_every),
        ("train.checkpoint_every", spec.checkpoint_every),
        ("train.probe_every", spec.probe_every),
    ] {
        if v == 0 {
            return Err(src.err(p, "expected a number of steps, at least 1, found 0"));
        }
    }
    Ok(spec)
}

/// `placement:` of an object entry: support (ground, volume or a parent entry with its part,
/// attachment and tilt), position and rotation distributions, overlap. Long: each field with
/// its own check and message.
fn placement(
    src: &Source,
    p: &str,
    r: RawPlacement,
    earlier: &[ObjectSpec],
) -> Result<Placement, ConfigError> {
    let on_name = r.on.as_deref().unwrap_or("ground");
    let on = match on_name {
        "ground" => Support::Ground,
        "volume" => Support::Volume,
        name => {
            let entries: Vec<usize> = (0..earlier.len())
                .filter(|&i| earlier[i].name == name)
                .collect();
            if entries.is_empty() {
                let names: Vec<&str> = earlier.iter().map(|o| o.name.as_str()).collect();
                return Err(src.err(
                    format!("{p}.placement.on"),
                    format!(
                        "expected ground, volume or the class of an earlier objects: entry ({}), found {name:?}; list the parent entry before this one",
                        names.join(", ")
                    ),
                ));
            }
            let at = match r.at.as_deref().unwrap_or("surface") {
                "surface" => Attach::Surface,
                "origin" => Attach::Origin,
                other => {
                    return Err(src.err(
                        format!("{p}.placement.at"),
                        format!("expected surface or origin, found {other:?}"),
                    ))
                }
            };
            if at == Attach::Surface && (r.x.is_some() || r.y.is_some()) {
                return Err(src.err(
                    format!("{p}.placement"),
                    "x and y do not apply with at: surface (the point is drawn on the parent's surface); use at: origin for positions in the parent's frame, or part: to pick a part",
                ));
            }
            if let Some(part) = &r.part {
                let parts: Vec<&str> = entries
                    .iter()
                    .flat_map(|&i| earlier[i].model.parts.iter().map(|q| q.name.as_str()))
                    .collect();
                if !parts.contains(&part.as_str()) {
                    return Err(src.err(
                        format!("{p}.placement.part"),
                        format!(
                            "{name:?} has no part {part:?}; its parts are [{}]",
                            parts.join(", ")
                        ),
                    ));
                }
                if at == Attach::Origin {
                    return Err(src.err(
                        format!("{p}.placement.part"),
                        "part: picks a surface; it needs at: surface",
                    ));
                }
            }
            if let Some(t) = r.max_tilt {
                if at == Attach::Origin || !(0.0..=180.0).contains(&t) {
                    return Err(src.err(
                        format!("{p}.placement.max_tilt"),
                        "expected degrees in [0, 180] from straight up, with at: surface",
                    ));
                }
            }
            Support::Parent {
                entries,
                at,
                part: r.part.clone(),
                max_tilt: r.max_tilt.map(|t| t as f32),
            }
        }
    };
    if !matches!(on, Support::Parent { .. })
        && (r.at.is_some() || r.part.is_some() || r.max_tilt.is_some())
    {
        return Err(src.err(
            format!("{p}.placement"),
            format!(
                "at:, part: and max_tilt: need placement.on to name a parent entry, not {on_name:?}"
            ),
        ));
    }
    let spin = Dist::Uniform(0.0, 360.0);
    let flat = !matches!(on, Support::Volume);
    let parented = matches!(on, Support::Parent { .. });
    let pl = Placement {
        x: r.x.unwrap_or(if parented {
            Dist::Const(0.0)
        } else {
            Dist::Uniform(-1.0, 1.0)
        }),
        y: r.y.unwrap_or(if parented {
            Dist::Const(0.0)
        } else {
            Dist::Uniform(-1.0, 1.0)
        }),
        z: r.z.unwrap_or(if flat {
            Dist::Const(0.0)
        } else {
            Dist::Uniform(0.0, 1.0)
        }),
        yaw: r.yaw.unwrap_or(spin.clone()),
        pitch: r
            .pitch
            .unwrap_or(if flat { Dist::Const(0.0) } else { spin.clone() }),
        roll: r.roll.unwrap_or(if flat { Dist::Const(0.0) } else { spin }),
        scale: r.scale.unwrap_or(Dist::Const(1.0)),
        no_overlap: r.no_overlap.unwrap_or(false),
        on,
    };
    let (lo, _) = pl.scale.range();
    if lo <= 0.0 {
        return Err(src.err(format!("{p}.placement.scale"), "expected a scale > 0"));
    }
    Ok(pl)
}

fn background(
    src: &Source,
    base: &Path,
    r: Option<RawBackground>,
) -> Result<Background, ConfigError> {
    let Some(r) = r else {
        return Ok(Background::Color(ColorDist::Rgb([
            Dist::Uniform(0.2, 0.8),
            Dist::Uniform(0.2, 0.8),
            Dist::Uniform(0.2, 0.8),
        ])));
    };
    let set = [r.color.is_some(), r.gradient.is_some(), r.images.is_some()];
    if set.iter().filter(|x| **x).count() != 1 {
        return Err(src.err(
            "background",
            "expected exactly one of color, gradient or images",
        ));
    }
    if let Some(c) = r.color {
        return Ok(Background::Color(color(
            src,
            "background.color",
            Some(&c),
            [0.5; 3],
        )?));
    }
    if let Some(g) = r.gradient {
        return Ok(Background::Gradient {
            top: color(src, "background.gradient.top", g.top.as_ref(), [0.8; 3])?,
            bottom: color(
                src,
                "background.gradient.bottom",
                g.bottom.as_ref(),
                [0.3; 3],
            )?,
            angle: g.angle.unwrap_or(Dist::Uniform(-30.0, 30.0)),
        });
    }
    let im = r.images.expect("one background kind is set; checked above");
    let dir = base.join(&im.dir);
    if !dir.is_dir() {
        return Err(src.err(
            "background.images.dir",
            format!(
                "folder {} does not exist (paths are relative to the config file)",
                dir.display()
            ),
        ));
    }
    let files = crate::pixels::folder::image_files(&dir)
        .map_err(|m| src.err("background.images.dir", m))?;
    if files.is_empty() {
        return Err(src.err(
            "background.images.dir",
            format!(
                "folder {} holds no png/jpg/bmp/tiff/webp images",
                dir.display()
            ),
        ));
    }
    let scale = im.scale.unwrap_or(Dist::Uniform(0.5, 1.0));
    let (lo, hi) = scale.range();
    if lo <= 0.0 || hi > 1.0 {
        return Err(src.err(
            "background.images.scale",
            "expected a crop fraction in (0, 1]",
        ));
    }
    Ok(Background::Images { dir, files, scale })
}

/// Parses a colour field; `None` gives the constant default.
fn color(
    src: &Source,
    path: &str,
    v: Option<&Value>,
    default: [f64; 3],
) -> Result<ColorDist, ConfigError> {
    let Some(v) = v else {
        return Ok(ColorDist::Rgb(default.map(Dist::Const)));
    };
    parse_color(v).map_err(|m| src.err(path, m))
}

/// Parses `[r, g, b]` (each a number or distribution in [0, 1]), `{choice: [[r,g,b], ...],
/// weights}` or `{hsv: [h, s, v]}` (h in degrees).
pub fn parse_color(v: &Value) -> Result<ColorDist, String> {
    let form = "a colour like [0.8, 0.2, 0.2], [{uniform: [0, 1]}, 0.5, 0.5], {hsv: [h, s, v]} or {choice: [[r, g, b], ...]}";
    let three = |s: &Value| -> Result<[Dist; 3], String> {
        let Value::Sequence(items) = s else {
            return Err(format!("expected {form}, found {}", dist::describe(s)));
        };
        if items.len() != 3 {
            return Err(format!("expected 3 channels, found {}", items.len()));
        }
        let d: Vec<Dist> = items
            .iter()
            .map(Dist::from_value)
            .collect::<Result<_, _>>()?;
        Ok([d[0].clone(), d[1].clone(), d[2].clone()])
    };
    match v {
        Value::Sequence(_) => {
            let d = three(v)?;
            for c in &d {
                let (lo, hi) = c.range();
                if lo < 0.0 || hi > 1.0 {
                    return Err(format!("colour channels must lie in [0, 1], found {c} (write 8-bit colours as value / 255)"));
                }
            }
            Ok(ColorDist::Rgb(d))
        }
        Value::Mapping(m) => {
            if let Some(h) = m.get(Value::String("hsv".into())) {
                return Ok(ColorDist::Hsv(three(h)?));
            }
            if let Some(Value::Sequence(cs)) = m.get(Value::String("choice".into())) {
                let colors = cs
                    .iter()
                    .map(|c| match c {
                        Value::Sequence(x) if x.len() == 3 => {
                            let v: Option<Vec<f64>> = x.iter().map(dist::as_f64).collect();
                            v.filter(|v| v.iter().all(|c| (0.0..=1.0).contains(c)))
                                .map(|v| [v[0], v[1], v[2]])
                                .ok_or_else(|| {
                                    "choice colours need 3 numbers in [0, 1]".to_string()
                                })
                        }
                        _ => Err(format!("expected {form}, found {}", dist::describe(c))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if colors.is_empty() {
                    return Err("choice: the list of colours is empty".into());
                }
                let weights = match m.get(Value::String("weights".into())) {
                    None => vec![1.0; colors.len()],
                    Some(w) => match Dist::from_value(
                        &serde_yaml::to_value(serde_yaml::Mapping::from_iter([
                            (
                                Value::String("choice".into()),
                                Value::Sequence(vec![0.into(); colors.len()]),
                            ),
                            (Value::String("weights".into()), w.clone()),
                        ]))
                        .unwrap_or(Value::Null),
                    )? {
                        Dist::Choice { weights, .. } => weights,
                        _ => unreachable!("a choice mapping parses as a choice"),
                    },
                };
                return Ok(ColorDist::Choice { colors, weights });
            }
            Err(format!("expected {form}, found {}", dist::describe(v)))
        }
        _ => Err(format!("expected {form}, found {}", dist::describe(v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quickstart_with(train: &str) -> Result<Config, ConfigError> {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/quickstart.yaml");
        let text = std::fs::read_to_string(&file).unwrap();
        load_text(&file, format!("{text}\n{train}"))
    }

    #[test]
    fn training_learns_at_the_outputs_scale_unless_told_whole() {
        let default = quickstart_with("").unwrap();
        assert_eq!(default.train.learn_at, LearnAt::Output);
        assert_eq!(default.train.render_size(256), 4 * default.train.resolution);
        let whole = quickstart_with("train: {learn_at: whole}").unwrap();
        assert_eq!(whole.train.learn_at, LearnAt::Whole);
        assert_eq!(whole.train.render_size(256), whole.train.resolution);
        let e = quickstart_with("train: {learn_at: outptu}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.learn_at"), "{e}");
    }
}
