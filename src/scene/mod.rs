//! One scene per image index: camera, lights, background and posed object instances, drawn from
//! the config with an RNG seeded from (run seed, index) alone, so image i never depends on other
//! images, thread counts or batch sizes. Owns sampling and the camera model; rendering is `render`.

pub mod emphasis;
pub mod mesh;
pub mod part;
pub mod seed;
pub mod surface;

use std::collections::BTreeMap;

use glam::{EulerRot, Mat3, Mat4, Quat, Vec3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::config::{Attach, Background, ColorDist, Config, Placement, Support};
use part::{PartMesh, Sampled};
use surface::Surface;

pub use crate::pixels::composite::BackgroundSample;
pub use seed::{image_seed, is_val, mix};

/// A pinhole camera. The camera frame is OpenCV's: x right, y down, z forward.
#[derive(Debug, Clone, Serialize)]
pub struct Camera {
    /// World → camera rotation (rows: right, down, forward).
    #[serde(skip)]
    pub rot: Mat3,
    /// Camera centre in the world.
    #[serde(skip)]
    pub pos: Vec3,
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    pub near: f64,
    pub far: f64,
    /// The sampled parameters (degrees, scene units), for the manifest.
    pub distance: f64,
    pub elevation: f64,
    pub azimuth: f64,
    pub fov: f64,
    pub roll: f64,
    pub look_at: [f64; 3],
}

impl Camera {
    /// Builds a camera that looks from (distance, elevation, azimuth) around `target`.
    #[allow(clippy::too_many_arguments)]
    pub fn orbit(
        target: Vec3,
        distance: f64,
        elevation: f64,
        azimuth: f64,
        roll: f64,
        fov: f64,
        width: u32,
        height: u32,
        near: f64,
        far: f64,
    ) -> Camera {
        let (el, az) = (elevation.to_radians() as f32, azimuth.to_radians() as f32);
        let dir = Vec3::new(el.cos() * az.cos(), el.cos() * az.sin(), el.sin());
        let pos = target + dir * distance as f32;
        let forward = -dir;
        // defined from the azimuth alone, so looking straight down is not degenerate
        let right0 = Vec3::new(-az.sin(), az.cos(), 0.0);
        let down0 = forward.cross(right0);
        let r = (roll as f32).to_radians();
        let right = right0 * r.cos() + down0 * r.sin();
        let down = forward.cross(right);
        let rot = Mat3::from_cols(right, down, forward).transpose();
        let fy = height as f64 / 2.0 / (fov.to_radians() / 2.0).tan();
        Camera {
            rot,
            pos,
            fx: fy,
            fy,
            cx: width as f64 / 2.0,
            cy: height as f64 / 2.0,
            near,
            far,
            distance,
            elevation,
            azimuth,
            fov,
            roll,
            look_at: target.as_dvec3().to_array(),
        }
    }

    /// World point → camera frame.
    pub fn to_camera(&self, p: Vec3) -> Vec3 {
        self.rot * (p - self.pos)
    }

    /// Camera-frame point → pixel coordinates (pixel centres at .5); `None` behind the camera.
    pub fn project(&self, c: Vec3) -> Option<(f64, f64)> {
        if c.z <= 0.0 {
            return None;
        }
        let (x, y, z) = (c.x as f64, c.y as f64, c.z as f64);
        Some((self.fx * x / z + self.cx, self.fy * y / z + self.cy))
    }

    /// The intrinsics matrix K, row-major.
    pub fn k(&self) -> [[f64; 3]; 3] {
        [
            [self.fx, 0.0, self.cx],
            [0.0, self.fy, self.cy],
            [0.0, 0.0, 1.0],
        ]
    }

    /// World → wgpu clip space for an image of `width` × `height`, built from K so rendering and
    /// label projection agree to the last bit of the model.
    pub fn clip_from_world(&self, width: u32, height: u32) -> Mat4 {
        let (w, h) = (width as f32, height as f32);
        let (n, f) = (self.near as f32, self.far as f32);
        let (fx, fy, cx, cy) = (
            self.fx as f32,
            self.fy as f32,
            self.cx as f32,
            self.cy as f32,
        );
        // camera frame (x right, y down, z forward) → clip; NDC y is up, depth in [0, 1]
        let proj = Mat4::from_cols_array_2d(&[
            [2.0 * fx / w, 0.0, 0.0, 0.0],
            [0.0, -2.0 * fy / h, 0.0, 0.0],
            [2.0 * cx / w - 1.0, 1.0 - 2.0 * cy / h, f / (f - n), 1.0],
            [0.0, 0.0, -f * n / (f - n), 0.0],
        ]);
        let view = Mat4::from_mat3(self.rot) * Mat4::from_translation(-self.pos);
        proj * view
    }
}

/// A directional light: unit vector towards the light, and colour × intensity.
#[derive(Debug, Clone, Serialize)]
pub struct Light {
    pub direction: [f32; 3],
    pub color: [f32; 3],
    pub elevation: f64,
    pub azimuth: f64,
    pub intensity: f64,
}

/// One posed object.
#[derive(Debug, Clone)]
pub struct Instance {
    /// 1-based id within the image (the value in the instance mask).
    pub id: u32,
    /// Class index; `None` for scenery (rendered, never labelled).
    pub class: Option<usize>,
    /// Index of its `objects:` entry.
    pub entry: usize,
    /// The id of the instance it was placed on (`placement.on: <parent>`).
    pub parent: Option<u32>,
    /// Labelled as one with everything placed on it (`label: group`).
    pub group: bool,
    pub model: String,
    pub params: BTreeMap<String, f64>,
    /// The model's `attributes:` parameters with their values (COCO `attributes`).
    pub attributes: BTreeMap<String, f64>,
    /// Model frame → world.
    pub world_from_model: Mat4,
    pub parts: Vec<PartMesh>,
    pub keypoints: Vec<Vec3>,
}

/// Everything rendered into one image.
#[derive(Debug, Clone)]
pub struct Scene {
    pub index: u64,
    pub seed: u64,
    pub val: bool,
    pub camera: Camera,
    pub lights: Vec<Light>,
    pub ambient: f32,
    pub background: BackgroundSample,
    pub instances: Vec<Instance>,
    /// Instances left out because no position kept them apart from earlier ones.
    pub skipped_for_overlap: u32,
    /// The first draw of a model that gave a number that is not finite (`x / 0` for the
    /// parameters this image drew), as [`part::check_draw`] words it.
    pub invalid: Option<String>,
    /// How it was drawn under `emphasis:` (`None` without rules).
    pub emphasis: Option<emphasis::Emphasised>,
}

fn sample_color(c: &ColorDist, rng: &mut ChaCha8Rng) -> [f32; 3] {
    match c {
        ColorDist::Rgb(d) => d.clone().map(|d| d.sample(rng).clamp(0.0, 1.0) as f32),
        ColorDist::Choice { colors, weights } => {
            colors[crate::config::dist::weighted_index(weights, rng)].map(|x| x as f32)
        }
        ColorDist::Hsv(d) => {
            let [h, s, v] = d.clone().map(|d| d.sample(rng));
            hsv_to_rgb(h, s.clamp(0.0, 1.0), v.clamp(0.0, 1.0))
        }
    }
}

fn hsv_to_rgb(h: f64, s: f64, v: f64) -> [f32; 3] {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [(r + m) as f32, (g + m) as f32, (b + m) as f32]
}

/// What `output.anomaly_images` asks of image `index`: with good N and defective M, of every
/// N + M consecutive images M (spread evenly) must show a defect and the others none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnomalyRole {
    Good,
    Defective,
}

/// The role of image `index` under `output.anomaly_images`, if set.
pub fn anomaly_role(cfg: &Config, index: u64) -> Option<AnomalyRole> {
    let (good, defective) = cfg.output.anomaly_images?;
    let total = (good + defective).max(1) as u128;
    let before = |i: u64| i as u128 * defective as u128 / total;
    Some(if before(index + 1) > before(index) {
        AnomalyRole::Defective
    } else {
        AnomalyRole::Good
    })
}

/// Whether objects entry `entry` makes a defect of the anomaly layout.
fn is_defect_entry(cfg: &Config, entry: usize) -> bool {
    let defects = cfg.output.anomaly.as_deref().unwrap_or_default();
    cfg.objects[entry]
        .class
        .is_some_and(|c| defects.contains(&cfg.classes[c].name))
}

/// Over the scenes of images `0..n`: objects of the `placement.no_overlap` entries placed, and
/// objects drawn but left out because it found them no room.
pub fn placed_and_left_out(cfg: &Config, n: u64) -> (usize, usize) {
    (0..n).fold((0, 0), |(placed, left), i| {
        let s = sample(cfg, i);
        let apart = s
            .instances
            .iter()
            .filter(|x| {
                cfg.objects
                    .get(x.entry)
                    .is_some_and(|e| e.placement.no_overlap)
            })
            .count();
        (placed + apart, left + s.skipped_for_overlap as usize)
    })
}

/// Share of drawn objects left out for overlap above which [`crowding`] speaks.
pub const LEFT_OUT: f64 = 0.2;

/// Scenes [`crowding`] draws at most.
const CROWDING_SCENES: u64 = 32;

/// A note when more than [`LEFT_OUT`] of the objects drawn in the first scenes (at most
/// [`CROWDING_SCENES`]) find no room: the counts written are then not what the images hold
/// (washers: 1–2 asked, the second left out in 89 of 200 images, none held two), and nothing
/// else says so.
pub fn crowding(cfg: &Config) -> Option<String> {
    // drawing scenes costs (agriculture, hundreds of leaves: ~24 ms a scene); with no entry kept
    // apart none is left out
    if !cfg.objects.iter().any(|e| e.placement.no_overlap) {
        return None;
    }
    let n = cfg.count.min(CROWDING_SCENES);
    let (placed, left) = placed_and_left_out(cfg, n);
    let share = left as f64 / (placed + left).max(1) as f64;
    (share > LEFT_OUT).then(|| {
        format!(
            "{:.0} % of the objects drawn in the first {n} scenes with placement.no_overlap found no room and are left out ({:.2} a scene left out, {:.2} placed): the images hold fewer objects than the counts ask; widen the placement's x / y ranges, lower the counts, or let objects overlap (no_overlap: false); later entries lose first",
            100.0 * share,
            left as f64 / n.max(1) as f64,
            placed as f64 / n.max(1) as f64
        )
    })
}

/// Draws the scene of image `index`: from its own seed, under `emphasis:` rules by
/// [`emphasis::draw`].
pub fn sample(cfg: &Config, index: u64) -> Scene {
    let seed = image_seed(cfg.seed, index);
    if cfg.emphasis.rules.is_empty() {
        sample_plain(cfg, index, seed)
    } else {
        emphasis::draw(cfg, index, seed)
    }
}

/// Draws a scene of the plain config from `seed`. Under `output.anomaly_images` a good image is
/// drawn with every defect entry's count 0, and a defective one is drawn again (from seeds
/// derived from `seed`) until a defect is placed, at most 64 times.
fn sample_plain(cfg: &Config, index: u64, seed: u64) -> Scene {
    let role = anomaly_role(cfg, index);
    if role != Some(AnomalyRole::Defective) {
        return sample_seeded(cfg, index, seed, role);
    }
    let mut scene = sample_seeded(cfg, index, seed, role);
    for attempt in 1..64 {
        if scene
            .instances
            .iter()
            .any(|i| is_defect_entry(cfg, i.entry))
        {
            break;
        }
        scene = sample_seeded(cfg, index, mix(seed, attempt), role);
    }
    scene
}

fn sample_seeded(cfg: &Config, index: u64, seed: u64, role: Option<AnomalyRole>) -> Scene {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let camera = sample_camera(cfg, &mut rng);
    let (lights, ambient) = sample_lights(cfg, &mut rng);
    let background = sample_background(cfg, &mut rng);
    let (instances, skipped, invalid) = place_objects(cfg, &mut rng, role);
    Scene {
        index,
        seed,
        val: is_val(cfg.seed, index, cfg.val_fraction),
        camera,
        lights,
        ambient,
        background,
        instances,
        skipped_for_overlap: skipped,
        invalid,
        emphasis: None,
    }
}
/// The camera of one image.
fn sample_camera(cfg: &Config, rng: &mut ChaCha8Rng) -> Camera {
    let c = &cfg.camera;
    let jitter = c.look_at_jitter.sample(rng) as f32;
    let offset = Vec3::new(
        rng.gen_range(-1.0..1.0),
        rng.gen_range(-1.0..1.0),
        rng.gen_range(-1.0..1.0),
    ) * jitter;
    let target = Vec3::from_array(c.look_at.map(|x| x as f32)) + offset;
    Camera::orbit(
        target,
        c.distance.sample(rng),
        c.elevation.sample(rng).clamp(-90.0, 90.0),
        c.azimuth.sample(rng),
        c.roll.sample(rng),
        c.fov.sample(rng).clamp(1.0, 170.0),
        cfg.width,
        cfg.height,
        c.near,
        c.far,
    )
}

/// The lights of one image and its ambient level.
fn sample_lights(cfg: &Config, rng: &mut ChaCha8Rng) -> (Vec<Light>, f32) {
    let l = &cfg.lights;
    let n_lights = (l.count.sample(rng).round().max(0.0) as usize).min(4);
    let lights = (0..n_lights)
        .map(|_| {
            let (el, az) = (l.elevation.sample(rng), l.azimuth.sample(rng));
            let intensity = l.intensity.sample(rng).max(0.0);
            let col = sample_color(&l.color, rng);
            let (e, a) = (el.to_radians() as f32, az.to_radians() as f32);
            Light {
                direction: [e.cos() * a.cos(), e.cos() * a.sin(), e.sin()],
                color: col.map(|x| x * intensity as f32),
                elevation: el,
                azimuth: az,
                intensity,
            }
        })
        .collect();
    let ambient = l.ambient.sample(rng).max(0.0) as f32;
    (lights, ambient)
}

/// What is drawn behind the objects of one image.
fn sample_background(cfg: &Config, rng: &mut ChaCha8Rng) -> BackgroundSample {
    match &cfg.background {
        Background::Color(c) => BackgroundSample::Color {
            color: sample_color(c, rng),
        },
        Background::Gradient { top, bottom, angle } => BackgroundSample::Gradient {
            top: sample_color(top, rng),
            bottom: sample_color(bottom, rng),
            angle: angle.sample(rng),
        },
        Background::Images { files, scale, .. } => BackgroundSample::Image {
            file: rng.gen_range(0..files.len()),
            crop: [
                scale.sample(rng),
                rng.gen_range(0.0..1.0),
                rng.gen_range(0.0..1.0),
            ],
        },
    }
}

/// The objects of one image, entry by entry: each draw of a model posed on the ground, in space
/// or on a parent instance (kept apart from earlier ones with `no_overlap`). Returns them, how
/// many were left out for overlap, and the first draw that was not finite. Long because placing
/// on a parent's surface, retrying for overlap and inheriting materials are one loop over the
/// same instance list.
fn place_objects(
    cfg: &Config,
    rng: &mut ChaCha8Rng,
    role: Option<AnomalyRole>,
) -> (Vec<Instance>, u32, Option<String>) {
    let mut instances: Vec<Instance> = Vec::new();
    // (support, centre, radius) of instances placed with no_overlap; support is the parent's
    // id, 0 for the ground and free space
    let mut placed: Vec<(u32, Vec3, f32)> = Vec::new();
    let mut skipped = 0;
    let mut invalid = None;
    for (entry, spec) in cfg.objects.iter().enumerate() {
        // `count` is per image, or per parent instance for objects placed on a parent
        let parents: Vec<Option<usize>> = match &spec.placement.on {
            Support::Parent { entries, .. } => (0..instances.len())
                .filter(|&i| entries.contains(&instances[i].entry))
                .map(Some)
                .collect(),
            _ => vec![None],
        };
        let jobs: Vec<Option<usize>> = parents
            .into_iter()
            .flat_map(|parent| {
                let mut n = spec.count.sample(rng).round().max(0.0) as usize;
                if role == Some(AnomalyRole::Good) && is_defect_entry(cfg, entry) {
                    n = 0;
                }
                std::iter::repeat_n(parent, n)
            })
            .collect();
        for parent in jobs {
            let mut s = part::sample(&spec.model, rng);
            if invalid.is_none() {
                invalid = part::check_draw(&spec.model, &s).err();
            }
            let p = &spec.placement;
            let support = parent.map_or(0, |i| instances[i].id);
            // the parent's surface, built once for all attempts
            let surf = match (&p.on, parent) {
                (
                    Support::Parent {
                        at: Attach::Surface,
                        part,
                        max_tilt,
                        ..
                    },
                    Some(pi),
                ) => Some(Surface::new(
                    &instances[pi].parts,
                    &instances[pi].world_from_model,
                    part.as_deref(),
                    *max_tilt,
                )),
                _ => None,
            };
            let mut chosen = None;
            let mut no_surface = false;
            for _attempt in 0..if p.no_overlap { 50 } else { 1 } {
                let on = parent.map(|i| &instances[i]);
                let Some(pose) = pose(p, &s, on, surf.as_ref(), rng) else {
                    // the parent has no surface of that part facing that way: nothing to stand on
                    no_surface = true;
                    break;
                };
                let clear = !p.no_overlap
                    || placed
                        .iter()
                        .filter(|q| q.0 == support)
                        .all(|(_, c, r)| pose.flat(*c - pose.centre).length() >= r + pose.radius);
                if clear {
                    chosen = Some(pose);
                    break;
                }
            }
            let Some(pose) = chosen else {
                skipped += u32::from(!no_surface);
                continue;
            };
            if let Some(pi) = parent {
                adopt(&mut s, &pose, &instances[pi], surf.as_ref());
            }
            if p.no_overlap {
                placed.push((support, pose.centre, pose.radius));
            }
            instances.push(Instance {
                id: instances.len() as u32 + 1,
                class: spec.class,
                entry,
                parent: parent.map(|i| instances[i].id),
                group: spec.group,
                model: spec.model.name.clone(),
                attributes: spec
                    .model
                    .attributes
                    .iter()
                    .filter_map(|a| Some((a.clone(), *s.params.get(a)?)))
                    .collect(),
                params: s.params,
                world_from_model: pose.world_from_model,
                parts: s.parts,
                keypoints: s.keypoints,
            });
        }
    }
    (instances, skipped, invalid)
}

/// How far (scene units) a wrapped object's straight edges may dip below a curved parent's
/// surface.
const WRAP_TOLERANCE: f32 = 0.001;

/// One candidate pose of an object.
struct Pose {
    world_from_model: Mat4,
    centre: Vec3,
    radius: f32,
    /// Overlap is measured in the ground plane for objects on the ground.
    on_ground: bool,
    /// The surface point it stands on, for `at: surface`.
    hit: Option<surface::Hit>,
}

impl Pose {
    fn flat(&self, v: Vec3) -> Vec3 {
        if self.on_ground {
            v * Vec3::new(1.0, 1.0, 0.0)
        } else {
            v
        }
    }
}

/// Draws a pose for a sampled model; `surf` is the parent's surface for `at: surface`. `None`
/// when that surface is empty: nothing to stand on.
fn pose(
    p: &Placement,
    s: &Sampled,
    parent: Option<&Instance>,
    surf: Option<&Surface>,
    rng: &mut ChaCha8Rng,
) -> Option<Pose> {
    let rot = Quat::from_euler(
        EulerRot::ZYX,
        (p.yaw.sample(rng) as f32).to_radians(),
        (p.pitch.sample(rng) as f32).to_radians(),
        (p.roll.sample(rng) as f32).to_radians(),
    );
    let scale = p.scale.sample(rng) as f32;
    let (x, y, z) = (
        p.x.sample(rng) as f32,
        p.y.sample(rng) as f32,
        p.z.sample(rng) as f32,
    );
    let m = Mat4::from_scale_rotation_translation(Vec3::splat(scale), rot, Vec3::ZERO);
    let (lo, hi) = bounds(&s.parts, &m);
    let (world_from_model, on_ground, hit) = match (&p.on, parent) {
        (Support::Parent { at, .. }, Some(parent)) => match at {
            Attach::Origin => (
                parent.world_from_model * Mat4::from_translation(Vec3::new(x, y, z)) * m,
                false,
                None,
            ),
            Attach::Surface => {
                let hit = surf?.sample(rng)?;
                let axes = parent.world_from_model;
                let frame = Mat4::from_mat3(tangent_frame(
                    hit.normal,
                    axes.z_axis.truncate(),
                    axes.x_axis.truncate(),
                ));
                // the lowest point along the normal touches the tangent plane, then `z` more
                let t = hit.point + hit.normal * (z - lo.z);
                (Mat4::from_translation(t) * frame * m, false, Some(hit))
            }
        },
        (Support::Ground, _) => (
            Mat4::from_translation(Vec3::new(x, y, z - lo.z)) * m,
            true,
            None,
        ),
        _ => (Mat4::from_translation(Vec3::new(x, y, z)) * m, false, None),
    };
    let (wlo, whi) = bounds(&s.parts, &world_from_model);
    let radius = if on_ground {
        ((whi - wlo) * Vec3::new(0.5, 0.5, 0.0)).length()
    } else {
        ((hi - lo) * 0.5).length()
    };
    Some(Pose {
        world_from_model,
        centre: (wlo + whi) * 0.5,
        radius,
        on_ground,
        hit,
    })
}

/// Rotation whose +z is `n` and whose +x follows the parent's z axis (`along`) projected onto
/// the tangent plane, or its x axis (`across`) where z is along the normal. So yaw 0 lays a
/// scratch along a bolt's shaft or a bottle's side on every side of it, and along x on a
/// plate's top face.
fn tangent_frame(n: Vec3, along: Vec3, across: Vec3) -> Mat3 {
    let project = |a: Vec3| (a - n * a.dot(n)).normalize_or_zero();
    let mut x = project(along.normalize_or_zero());
    if x.length_squared() < 0.5 || along.normalize_or_zero().dot(n).abs() > 0.999 {
        x = project(across.normalize_or_zero());
    }
    if x.length_squared() < 0.5 {
        x = n.any_orthonormal_vector();
    }
    Mat3::from_cols(x, n.cross(x), n)
}

/// Fits a placed object to its parent: wraps it onto a curved surface (each vertex keeps its
/// height over the tangent plane, measured from the closest surface point instead) and hands
/// `material: parent` parts the material and pattern frame of the part beneath.
fn adopt(s: &mut Sampled, pose: &Pose, parent: &Instance, surf: Option<&Surface>) {
    let mut under = 0;
    if let (Some(hit), Some(surf)) = (&pose.hit, surf) {
        under = hit.part;
        let near = surf.near(hit.point, pose.radius * 1.5 + 1e-3);
        // edges short enough that their chords stay within WRAP_TOLERANCE of the surface
        // (sagitta L² / 8R) follow it instead of cutting through it; on a flat patch the
        // limit is infinite, and wrapping still keeps the object inside the part's outline
        let bend = surf.curvature_radius(&near, hit.point, hit.normal);
        let limit = (8.0 * bend * WRAP_TOLERANCE).sqrt();
        for part in &mut s.parts {
            for _ in 0..3 {
                if !subdivide(&mut part.mesh, limit) {
                    break;
                }
            }
        }
        let world = pose.world_from_model;
        let model = world.inverse();
        let nm = model.inverse().transpose();
        let wn = world.inverse().transpose();
        for part in &mut s.parts {
            let mesh = &mut part.mesh;
            for (v, nrm) in mesh.positions.iter_mut().zip(&mut mesh.normals) {
                let w = world.transform_point3(*v);
                let h = (w - hit.point).dot(hit.normal);
                let Some(c) = surf.closest(w - hit.normal * h, &near) else {
                    continue;
                };
                *v = model.transform_point3(c.point + c.normal * h);
                let bend = Quat::from_rotation_arc(hit.normal, c.normal);
                let wnrm = bend * wn.transform_vector3(*nrm).normalize_or_zero();
                *nrm = nm.transform_vector3(wnrm).normalize_or_zero();
            }
        }
    }
    let Some(src) = parent.parts.get(under) else {
        return;
    };
    // model frame of the child → parent's part-local frame, so patterns continue seamlessly
    let local = src.local_from_model * parent.world_from_model.inverse() * pose.world_from_model;
    for part in s.parts.iter_mut().filter(|q| q.inherit) {
        part.material = src.material;
        part.local_from_model = local;
    }
}

/// Splits every triangle into four at its edge midpoints when any edge of the mesh is longer
/// than `limit`; returns whether it did. Midpoints of a shared edge coincide, so wrapping the
/// result onto a surface (a function of position) leaves no cracks.
fn subdivide(m: &mut mesh::Mesh, limit: f32) -> bool {
    let long = m.indices.chunks_exact(3).any(|t| {
        (0..3).any(|k| {
            let (a, b) = (t[k] as usize, t[(k + 1) % 3] as usize);
            (m.positions[a] - m.positions[b]).length() > limit
        })
    });
    if !long {
        return false;
    }
    let mut out = mesh::Mesh::default();
    for t in m.indices.chunks_exact(3) {
        let p = [t[0], t[1], t[2]].map(|i| m.positions[i as usize]);
        let n = [t[0], t[1], t[2]].map(|i| m.normals[i as usize]);
        let mid = |a: usize, b: usize| ((p[a] + p[b]) * 0.5, (n[a] + n[b]).normalize_or_zero());
        let v = [
            (p[0], n[0]),
            (p[1], n[1]),
            (p[2], n[2]),
            mid(0, 1),
            mid(1, 2),
            mid(2, 0),
        ];
        let base = out.positions.len() as u32;
        out.positions.extend(v.iter().map(|x| x.0));
        out.normals.extend(v.iter().map(|x| x.1));
        for tri in [[0, 3, 5], [3, 1, 4], [5, 4, 2], [3, 4, 5]] {
            out.indices.extend(tri.map(|k| base + k));
        }
    }
    *m = out;
    true
}

fn bounds(parts: &[PartMesh], m: &Mat4) -> (Vec3, Vec3) {
    let mut lo = Vec3::splat(f32::MAX);
    let mut hi = Vec3::splat(f32::MIN);
    for p in parts {
        for v in &p.mesh.positions {
            let w = m.transform_point3(*v);
            lo = lo.min(w);
            hi = hi.max(w);
        }
    }
    if lo.x > hi.x {
        return (Vec3::ZERO, Vec3::ZERO);
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_projection_matches_clip_matrix() {
        let cam = Camera::orbit(
            Vec3::new(0.1, -0.2, 0.3),
            5.0,
            35.0,
            120.0,
            10.0,
            50.0,
            320,
            240,
            0.1,
            100.0,
        );
        let m = cam.clip_from_world(320, 240);
        for p in [
            Vec3::ZERO,
            Vec3::new(1.0, 0.5, -0.3),
            Vec3::new(-0.7, 0.2, 0.9),
        ] {
            let (u, v) = cam.project(cam.to_camera(p)).unwrap();
            let c = m * p.extend(1.0);
            let ndc = c.truncate() / c.w;
            let (u2, v2) = ((ndc.x as f64 + 1.0) * 160.0, (1.0 - ndc.y as f64) * 120.0);
            assert!(
                (u - u2).abs() < 1e-3 && (v - v2).abs() < 1e-3,
                "{u},{v} vs {u2},{v2}"
            );
            assert!(ndc.z > 0.0 && ndc.z < 1.0);
        }
        // the target projects to the principal point
        let (u, v) = cam
            .project(cam.to_camera(Vec3::new(0.1, -0.2, 0.3)))
            .unwrap();
        assert!((u - 160.0).abs() < 1e-3 && (v - 120.0).abs() < 1e-3);
    }

    #[test]
    fn looking_straight_down_is_well_defined() {
        let cam = Camera::orbit(Vec3::ZERO, 5.0, 90.0, 0.0, 0.0, 90.0, 64, 64, 0.1, 100.0);
        let c = cam.to_camera(Vec3::new(0.0, 0.0, 1.0));
        assert!((c.z - 4.0).abs() < 1e-5 && c.x.abs() < 1e-5 && c.y.abs() < 1e-5);
        assert!(cam.rot.determinant() > 0.99);
    }

    #[test]
    fn split_is_a_pure_function_of_seed_and_index() {
        let n = (0..10_000).filter(|i| is_val(7, *i, 0.2)).count();
        assert!((1800..2200).contains(&n), "{n} of 10000 in val");
        assert_eq!(is_val(7, 123, 0.2), is_val(7, 123, 0.2));
    }
}

#[cfg(test)]
mod placement_tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.yaml");
        std::fs::write(&f, yaml).unwrap();
        crate::config::load(&f).unwrap_or_else(|e| panic!("{e}"))
    }

    const BASE: &str = "seed: 3\ncount: 10\nimage: {width: 64, height: 64}\ncamera: {distance: 5, elevation: 60, fov: 40}\n";

    #[test]
    fn crowded_placements_are_named_and_roomy_ones_are_not() {
        let with = |xy: f64| {
            config(&format!(
                "{BASE}objects:\n  - {{model: box, count: 4, placement: {{x: {{uniform: [-{xy}, {xy}]}}, y: {{uniform: [-{xy}, {xy}]}}, no_overlap: true}}}}\n"
            ))
        };
        let crowded = with(0.05);
        let (placed, left) = placed_and_left_out(&crowded, 10);
        assert!(
            placed >= 10 && left > placed,
            "{placed} placed, {left} left out"
        );
        let w = crowding(&crowded).expect("a warning");
        assert!(
            w.contains("with placement.no_overlap found no room") && w.contains("first 10 scenes"),
            "{w}"
        );
        assert_eq!(crowding(&with(20.0)), None);
    }

    /// Spots drawn anywhere on a curled, drooping, serrated leaf stay inside its outline
    /// (wrapping clamps them to the blade) and are counted per leaf.
    #[test]
    fn surface_objects_stay_on_their_parent_part() {
        let cfg = config(&format!(
            "{BASE}objects:
  - {{model: leaf, count: 3, params: {{curl: {{uniform: [0, 0.45]}}, droop: {{uniform: [0, 0.25]}}}}, placement: {{x: 0, y: 0}}}}
  - {{model: blemish, count: 4, placement: {{on: leaf, part: blade}}}}
"
        ));
        let mut spots = 0;
        for i in 0..20 {
            let s = sample(&cfg, i);
            let leaves: Vec<&Instance> = s.instances.iter().filter(|x| x.model == "leaf").collect();
            assert_eq!(leaves.len(), 3);
            for leaf in &leaves {
                let kids: Vec<&Instance> = s
                    .instances
                    .iter()
                    .filter(|x| x.parent == Some(leaf.id))
                    .collect();
                assert_eq!(kids.len(), 4, "count is per parent");
                let (len, width, taper) = (
                    leaf.params["length"],
                    leaf.params["width"],
                    leaf.params["taper"],
                );
                let to_leaf = leaf.world_from_model.inverse();
                for k in kids {
                    spots += 1;
                    for part in &k.parts {
                        for v in &part.mesh.positions {
                            let p =
                                to_leaf.transform_point3(k.world_from_model.transform_point3(*v));
                            let u = (p.x as f64 / len).clamp(0.0, 1.0);
                            let half = width / 2.0 * (std::f64::consts::PI * u.powf(taper)).sin();
                            assert!(
                                p.x >= -1e-3 && p.x as f64 <= len + 1e-3 && (p.y as f64).abs() <= half + 0.012,
                                "image {i}: spot vertex {p} outside the blade (length {len}, half width {half})"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(spots, 20 * 12);
    }
}
