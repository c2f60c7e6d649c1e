//! The model file schema (`scenes/*.yaml`): named parameters with distributions, parts made of
//! primitives with transforms and materials, and named 3D keypoints. Every dimension is a number
//! or an expression over the parameters. Owns parsing and checking a model file and drawing its
//! parameters; turning a draw into meshes is `scene::part`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

use super::dist::{describe, Dist};
use super::expr::Expr;
use super::{ConfigError, Source};

/// Models shipped inside the binary; a config names them without a path.
pub const BUILTIN: &[(&str, &str)] = &[
    ("box", include_str!("../../scenes/box.yaml")),
    ("sphere", include_str!("../../scenes/sphere.yaml")),
    ("cylinder", include_str!("../../scenes/cylinder.yaml")),
    ("cone", include_str!("../../scenes/cone.yaml")),
    ("torus", include_str!("../../scenes/torus.yaml")),
    ("capsule", include_str!("../../scenes/capsule.yaml")),
    ("hex_bolt", include_str!("../../scenes/hex_bolt.yaml")),
    ("hex_nut", include_str!("../../scenes/hex_nut.yaml")),
    ("bottle", include_str!("../../scenes/bottle.yaml")),
    ("bracket", include_str!("../../scenes/bracket.yaml")),
    (
        "beesbook_tag",
        include_str!("../../scenes/beesbook_tag.yaml"),
    ),
    ("plate", include_str!("../../scenes/plate.yaml")),
    ("scratch", include_str!("../../scenes/scratch.yaml")),
    ("crack", include_str!("../../scenes/crack.yaml")),
    ("stain", include_str!("../../scenes/stain.yaml")),
    ("dent", include_str!("../../scenes/dent.yaml")),
    ("edge_chip", include_str!("../../scenes/edge_chip.yaml")),
    ("pcb", include_str!("../../scenes/pcb.yaml")),
    ("chip", include_str!("../../scenes/chip.yaml")),
    ("resistor", include_str!("../../scenes/resistor.yaml")),
    ("capacitor", include_str!("../../scenes/capacitor.yaml")),
    ("bare_pads", include_str!("../../scenes/bare_pads.yaml")),
    ("plant", include_str!("../../scenes/plant.yaml")),
    ("leaf", include_str!("../../scenes/leaf.yaml")),
    ("fruit", include_str!("../../scenes/fruit.yaml")),
    ("blemish", include_str!("../../scenes/blemish.yaml")),
    ("field", include_str!("../../scenes/field.yaml")),
    ("cloth", include_str!("../../scenes/cloth.yaml")),
    ("clutter", include_str!("../../scenes/clutter.yaml")),
];

/// A checked model.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub file: PathBuf,
    /// Parameters in file order; a later one may use earlier ones.
    pub params: Vec<(String, Param)>,
    pub parts: Vec<Part>,
    pub keypoints: Vec<(String, [Expr; 3])>,
    /// For each keypoint, the one it becomes in a left-right mirrored image (YOLO's `flip_idx`):
    /// from `mirror:` pairs, else names that differ only in left/right, else itself.
    pub mirror: Vec<usize>,
    /// Parameters written with each instance's COCO annotation as `attributes`.
    pub attributes: Vec<String>,
}

/// The keypoint each keypoint becomes under a left-right mirror: the `mirror:` pairs of the
/// file when given (names that must exist, each in one pair), else the pairs whose names differ
/// only in `left`/`right` (`split_left`/`split_right`, `left_eye`/`right_eye`).
fn mirror_of(
    src: &Source,
    keypoints: &[(String, [Expr; 3])],
    pairs: Option<&[Vec<String>]>,
) -> Result<Vec<usize>, ConfigError> {
    let index = |n: &str| keypoints.iter().position(|k| k.0 == n);
    let mut map: Vec<usize> = (0..keypoints.len()).collect();
    let Some(pairs) = pairs else {
        for (i, (name, _)) in keypoints.iter().enumerate() {
            let other = if name.contains("left") {
                name.replace("left", "right")
            } else if name.contains("right") {
                name.replace("right", "left")
            } else {
                continue;
            };
            if let Some(j) = index(&other) {
                map[i] = j;
            }
        }
        return Ok(map);
    };
    let names = || {
        keypoints
            .iter()
            .map(|k| k.0.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (n, pair) in pairs.iter().enumerate() {
        let p = format!("mirror[{n}]");
        let [a, b] = pair.as_slice() else {
            return Err(src.err(
                &p,
                format!(
                    "expected a pair of keypoint names that swap when the image is mirrored, \
                     e.g. [left_eye, right_eye]; found {} names",
                    pair.len()
                ),
            ));
        };
        let (Some(i), Some(j)) = (index(a), index(b)) else {
            let missing = if index(a).is_none() { a } else { b };
            return Err(src.err(
                &p,
                format!("{missing:?} is not a keypoint of this model ({})", names()),
            ));
        };
        if i == j || map[i] != i || map[j] != j {
            return Err(src.err(
                &p,
                format!("a keypoint is in two pairs, or paired with itself: [{a}, {b}]"),
            ));
        }
        map[i] = j;
        map[j] = i;
    }
    Ok(map)
}

/// A parameter: drawn from a distribution or computed from earlier parameters.
#[derive(Debug, Clone)]
pub enum Param {
    Dist(Dist),
    Expr(Expr),
}

/// One primitive of a model.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub shape: Shape,
    pub position: [Expr; 3],
    /// Degrees about x, then y, then z.
    pub rotation: [Expr; 3],
    pub material: MaterialSpec,
    /// `material: parent`: take the material (and pattern frame) of the parent's part this
    /// object sits on; `material` is the fallback when it has no parent.
    pub inherit: bool,
}

/// The primitive kinds and their dimensions.
#[derive(Debug, Clone)]
pub enum Shape {
    Box {
        size: [Expr; 3],
    },
    Sphere {
        radius: Expr,
        segments: Expr,
    },
    Ellipsoid {
        radii: [Expr; 3],
        segments: Expr,
    },
    Cylinder {
        radius: Expr,
        height: Expr,
        segments: Expr,
    },
    Cone {
        radius: Expr,
        top_radius: Expr,
        height: Expr,
        segments: Expr,
    },
    Torus {
        major: Expr,
        minor: Expr,
        segments: Expr,
        sides: Expr,
    },
    Capsule {
        radius: Expr,
        length: Expr,
        segments: Expr,
    },
    Plane {
        size: [Expr; 2],
    },
    Extrusion {
        polygon: Vec<[Expr; 2]>,
        depth: Expr,
    },
    Sector {
        inner: Expr,
        radius: Expr,
        start: Expr,
        end: Expr,
        bulge: Expr,
        dome: Option<Expr>,
        segments: Expr,
    },
    Lathe {
        profile: Vec<[Expr; 2]>,
        segments: Expr,
    },
    Leaf {
        length: Expr,
        width: Expr,
        taper: Expr,
        serration: Expr,
        teeth: Expr,
        curl: Expr,
        droop: Expr,
    },
}

impl Shape {
    /// Every number of the shape.
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            Shape::Box { size } => size.iter().collect(),
            Shape::Sphere { radius, segments } => vec![radius, segments],
            Shape::Ellipsoid { radii, segments } => radii.iter().chain([segments]).collect(),
            Shape::Cylinder {
                radius,
                height,
                segments,
            } => vec![radius, height, segments],
            Shape::Cone {
                radius,
                top_radius,
                height,
                segments,
            } => vec![radius, top_radius, height, segments],
            Shape::Torus {
                major,
                minor,
                segments,
                sides,
            } => vec![major, minor, segments, sides],
            Shape::Capsule {
                radius,
                length,
                segments,
            } => vec![radius, length, segments],
            Shape::Plane { size } => size.iter().collect(),
            Shape::Extrusion { polygon, depth } => {
                polygon.iter().flatten().chain([depth]).collect()
            }
            Shape::Sector {
                inner,
                radius,
                start,
                end,
                bulge,
                dome,
                segments,
            } => [inner, radius, start, end, bulge, segments]
                .into_iter()
                .chain(dome.as_ref())
                .collect(),
            Shape::Lathe { profile, segments } => {
                profile.iter().flatten().chain([segments]).collect()
            }
            Shape::Leaf {
                length,
                width,
                taper,
                serration,
                teeth,
                curl,
                droop,
            } => vec![length, width, taper, serration, teeth, curl, droop],
        }
    }

    /// The counts of a shape (segments, sides, teeth), each with its field name and the range
    /// it must be drawn in.
    pub fn counts(&self) -> Vec<(&'static str, &Expr, f64, f64)> {
        let seg = |e| ("segments", e, 3.0, 512.0);
        match self {
            Shape::Box { .. } | Shape::Plane { .. } | Shape::Extrusion { .. } => vec![],
            Shape::Leaf { teeth, .. } => vec![("teeth", teeth, 0.0, 50.0)],
            Shape::Sphere { segments, .. }
            | Shape::Ellipsoid { segments, .. }
            | Shape::Cylinder { segments, .. }
            | Shape::Cone { segments, .. }
            | Shape::Capsule { segments, .. }
            | Shape::Sector { segments, .. }
            | Shape::Lathe { segments, .. } => vec![seg(segments)],
            Shape::Torus {
                segments, sides, ..
            } => {
                vec![seg(segments), ("sides", sides, 3.0, 512.0)]
            }
        }
    }
}

/// Surface pattern, computed in the shader from part-local coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Solid = 0,
    Stripes = 1,
    Checker = 2,
    Noise = 3,
    /// A leaf's midrib along x and lateral veins every `scale` (color2 is the vein colour).
    Veins = 4,
    /// color at z = -scale to color2 at z = +scale.
    Gradient = 5,
    /// `material: hole`: see-through to the background (material missing: a chipped edge);
    /// still labelled, still occludes what is behind it.
    Hole = 6,
}

/// A material with expressions for every number.
#[derive(Debug, Clone)]
pub struct MaterialSpec {
    pub color: [Expr; 3],
    pub color2: [Expr; 3],
    pub pattern: Pattern,
    /// Pattern period in part units.
    pub scale: Expr,
    pub specular: Expr,
    pub shininess: Expr,
}

impl MaterialSpec {
    /// Every number of the material.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.color
            .iter()
            .chain(&self.color2)
            .chain([&self.scale, &self.specular, &self.shininess])
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    name: String,
    #[serde(default)]
    params: Mapping,
    #[serde(default)]
    materials: Mapping,
    parts: Vec<RawPart>,
    #[serde(default)]
    keypoints: Mapping,
    #[serde(default)]
    mirror: Option<Vec<Vec<String>>>,
    #[serde(default)]
    attributes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPart {
    name: Option<String>,
    shape: String,
    size: Option<Vec<Value>>,
    radius: Option<Value>,
    radii: Option<Vec<Value>>,
    top_radius: Option<Value>,
    height: Option<Value>,
    length: Option<Value>,
    major: Option<Value>,
    minor: Option<Value>,
    segments: Option<Value>,
    sides: Option<Value>,
    polygon: Option<Vec<Vec<Value>>>,
    depth: Option<Value>,
    profile: Option<Vec<Vec<Value>>>,
    inner: Option<Value>,
    start: Option<Value>,
    end: Option<Value>,
    bulge: Option<Value>,
    dome: Option<Value>,
    width: Option<Value>,
    taper: Option<Value>,
    serration: Option<Value>,
    teeth: Option<Value>,
    curl: Option<Value>,
    droop: Option<Value>,
    position: Option<Vec<Value>>,
    rotation: Option<Vec<Value>>,
    material: Option<Value>,
}

/// Why a config's `model:` could not give a model.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The field names nothing (no such built-in, no such file): said of the config field.
    #[error("{0}")]
    NotFound(String),
    /// The model file is there but wrong: said of the model file itself.
    #[error(transparent)]
    Model(#[from] ConfigError),
}

/// Finds a model by config value: a built-in name, or a path relative to the config's folder.
pub fn resolve(name: &str, base: &Path) -> Result<Model, ResolveError> {
    let looks_like_path = name.ends_with(".yaml") || name.ends_with(".yml") || name.contains('/');
    if !looks_like_path {
        return match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Ok(Model::parse(&Source {
                file: PathBuf::from(format!("<built-in scenes/{n}.yaml>")),
                text: text.to_string(),
            })?),
            None => Err(ResolveError::NotFound(format!(
                "no built-in model {name:?}; built-ins are {}, or give a path to a model file like scenes/my_part.yaml",
                BUILTIN.iter().map(|b| b.0).collect::<Vec<_>>().join(", ")
            ))),
        };
    }
    let file = base.join(name);
    if !file.exists() {
        return Err(ResolveError::NotFound(format!(
            "model file {} does not exist (paths are relative to the config file's folder)",
            file.display()
        )));
    }
    Ok(Model::parse(&Source::read(&file)?)?)
}

/// Parses a number or expression string.
fn expr(src: &Source, path: &str, v: &Value, known: &[String]) -> Result<Expr, ConfigError> {
    let e = match v {
        Value::Number(n) => Expr::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Expr::parse(s).map_err(|m| src.err(path, m))?,
        other => {
            return Err(src.err(
                path,
                format!(
                    "expected a number or an expression like \"width / 2\", found {}",
                    describe(other)
                ),
            ))
        }
    };
    let mut vars = Vec::new();
    e.vars(&mut vars);
    if let Some(v) = vars.iter().find(|v| !known.contains(v)) {
        return Err(src.err(
            path,
            format!(
                "unknown parameter `{v}`; known here: [{}] (declare it under params:)",
                known.join(", ")
            ),
        ));
    }
    Ok(e)
}

fn exprs<const N: usize>(
    src: &Source,
    path: &str,
    v: &[Value],
    known: &[String],
) -> Result<[Expr; N], ConfigError> {
    if v.len() != N {
        return Err(src.err(
            path,
            format!(
                "expected a list of {N} numbers or expressions, found {}",
                v.len()
            ),
        ));
    }
    let parsed: Vec<Expr> = v
        .iter()
        .enumerate()
        .map(|(i, x)| expr(src, &format!("{path}[{i}]"), x, known))
        .collect::<Result<_, _>>()?;
    Ok(parsed.try_into().expect("length checked above"))
}

impl Model {
    /// Parses and checks a model file.
    pub fn parse(src: &Source) -> Result<Model, ConfigError> {
        let raw: RawModel = src.parse()?;
        let mut params = Vec::new();
        let mut known: Vec<String> = Vec::new();
        for (k, v) in &raw.params {
            let name = k.as_str().unwrap_or_default().to_string();
            let p = format!("params.{name}");
            if !is_ident(&name) {
                return Err(src.err(
                    &p,
                    "parameter names are letters, digits and _, starting with a letter",
                ));
            }
            params.push((name.clone(), param(src, &p, v, &known)?));
            known.push(name);
        }
        let mut materials: BTreeMap<String, MaterialSpec> = BTreeMap::new();
        for (k, v) in &raw.materials {
            let name = k.as_str().unwrap_or_default().to_string();
            materials.insert(
                name.clone(),
                material(src, &format!("materials.{name}"), v, &known)?,
            );
        }
        if raw.parts.is_empty() {
            return Err(src.err("parts", "a model needs at least one part"));
        }
        let parts = raw
            .parts
            .iter()
            .enumerate()
            .map(|(i, p)| part(src, &format!("parts[{i}]"), p, &known, &materials))
            .collect::<Result<Vec<_>, _>>()?;
        let mut keypoints = Vec::new();
        for (k, v) in &raw.keypoints {
            let name = k.as_str().unwrap_or_default().to_string();
            let p = format!("keypoints.{name}");
            let Value::Sequence(xyz) = v else {
                return Err(src.err(&p, format!("expected [x, y, z], found {}", describe(v))));
            };
            keypoints.push((name, exprs::<3>(src, &p, xyz, &known)?));
        }
        let mirror = mirror_of(src, &keypoints, raw.mirror.as_deref())?;
        for (i, a) in raw.attributes.iter().enumerate() {
            if !known.contains(a) {
                return Err(src.err(
                    format!("attributes[{i}]"),
                    format!(
                        "{a:?} is not a parameter of this model; attributes name parameters ({})",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(Model {
            name: raw.name,
            file: src.file.clone(),
            params,
            parts,
            keypoints,
            mirror,
            attributes: raw.attributes,
        })
    }

    /// Replaces a parameter's distribution from a config's `params:` override.
    pub fn override_param(&mut self, key: &str, v: &Value) -> Result<(), String> {
        let names: Vec<String> = self.params.iter().map(|p| p.0.clone()).collect();
        let Some(i) = names.iter().position(|n| n == key) else {
            return Err(format!(
                "model {:?} has no parameter `{key}`; its parameters are [{}]",
                self.name,
                names.join(", ")
            ));
        };
        let src = Source {
            file: self.file.clone(),
            text: String::new(),
        };
        self.params[i].1 = param(&src, key, v, &names[..i]).map_err(|e| e.message)?;
        Ok(())
    }

    /// Draws the parameters in file order (a later one may use earlier ones).
    pub fn draw_params<R: Rng + ?Sized>(&self, rng: &mut R) -> BTreeMap<String, f64> {
        let mut env = BTreeMap::new();
        for (name, p) in &self.params {
            let v = match p {
                Param::Dist(d) => d.sample(rng),
                Param::Expr(e) => e.eval(&env),
            };
            env.insert(name.clone(), v);
        }
        env
    }

    /// Draws the model's parameters `draws` times (seeds 0, 1, ...) and reports the first number
    /// that is not finite: a parameter by name, else a part's geometry or material, else a
    /// keypoint. Such a number comes from an expression like `x / 0`, `sqrt(-1)` or `10 ^ 400`,
    /// and would reach the renderer and the manifest (as null). At generate time each
    /// instance's meshes are checked the same way (`scene::part::check_draw`).
    pub fn check_finite(&self, draws: u64) -> Result<(), String> {
        use rand::SeedableRng;
        for d in 0..draws {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(d);
            let params = self.draw_params(&mut rng);
            let finite = |e: &Expr| e.eval(&params).is_finite();
            self.check_values(
                &params,
                |i| {
                    let p = &self.parts[i];
                    p.shape.exprs().into_iter().all(finite)
                        && p.position.iter().chain(&p.rotation).all(finite)
                        && p.material.exprs().all(finite)
                },
                |i| self.keypoints[i].1.iter().all(finite),
            )?;
        }
        Ok(())
    }

    /// The finiteness verdict on one draw with parameters `params`, given whether part i's
    /// numbers (`part_ok`) and keypoint i (`keypoint_ok`) are finite; the message names the
    /// model, what failed and the drawn values.
    pub fn check_values(
        &self,
        params: &BTreeMap<String, f64>,
        part_ok: impl Fn(usize) -> bool,
        keypoint_ok: impl Fn(usize) -> bool,
    ) -> Result<(), String> {
        let drawn = || {
            self.params
                .iter()
                .map(|(k, _)| format!("{k} = {}", params.get(k).copied().unwrap_or(f64::NAN)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // "model …: <what> in a draw with <the drawn parameters>; <fix>"
        let fail = |what: String, fix: &str| {
            Err(format!(
                "model {:?} ({}): {what} in a draw with {}; {fix}",
                self.name,
                self.file.display(),
                drawn()
            ))
        };
        let fix = "change the expression or the ranges of the parameters it uses";
        for (k, _) in &self.params {
            let v = params.get(k).copied().unwrap_or(f64::NAN);
            if !v.is_finite() {
                return fail(format!("parameter `{k}` evaluates to {v}"), fix);
            }
        }
        for (i, spec) in self.parts.iter().enumerate() {
            for (field, e, lo, hi) in spec.shape.counts() {
                let v = e.eval(params);
                if !(v.is_finite() && (lo - 0.5..hi + 0.5).contains(&v)) {
                    return fail(
                        format!("parts[{i}].{field} is {v}"),
                        &format!("it must be a whole number from {lo} to {hi} (it is rounded)"),
                    );
                }
            }
        }
        if let Some(i) = (0..self.parts.len()).find(|&i| !part_ok(i)) {
            return fail(
                format!(
                    "part `{}` has a size, position, rotation or material value that is not a \
                     finite number",
                    self.parts[i].name
                ),
                fix,
            );
        }
        if let Some(i) = (0..self.keypoints.len()).find(|&i| !keypoint_ok(i)) {
            return fail(
                format!(
                    "keypoint `{}` is not a finite position",
                    self.keypoints[i].0
                ),
                fix,
            );
        }
        Ok(())
    }

    /// Keypoint names in file order.
    pub fn keypoint_names(&self) -> Vec<String> {
        self.keypoints.iter().map(|k| k.0.clone()).collect()
    }
}

fn is_ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn param(src: &Source, path: &str, v: &Value, known: &[String]) -> Result<Param, ConfigError> {
    match v {
        Value::String(_) => Ok(Param::Expr(expr(src, path, v, known)?)),
        _ => Dist::from_value(v)
            .map(Param::Dist)
            .map_err(|m| src.err(path, m)),
    }
}

fn material(
    src: &Source,
    path: &str,
    v: &Value,
    known: &[String],
) -> Result<MaterialSpec, ConfigError> {
    let Value::Mapping(m) = v else {
        return Err(src.err(
            path,
            format!(
                "expected a material mapping like {{color: [0.7, 0.7, 0.7]}}, found {}",
                describe(v)
            ),
        ));
    };
    let allowed = [
        "color",
        "color2",
        "pattern",
        "scale",
        "specular",
        "shininess",
    ];
    for k in m.keys() {
        let k = k.as_str().unwrap_or("?");
        if !allowed.contains(&k) {
            return Err(src.err(
                format!("{path}.{k}"),
                format!(
                    "unknown material field `{k}`; {}expected one of {}",
                    super::error::closest(k, allowed)
                        .map(|c| format!("did you mean `{c}`? "))
                        .unwrap_or_default(),
                    allowed.join(", ")
                ),
            ));
        }
    }
    let get = |k: &str| m.get(Value::String(k.into()));
    let color3 = |k: &str, default: f64| -> Result<[Expr; 3], ConfigError> {
        match get(k) {
            None => Ok([Expr::Num(default), Expr::Num(default), Expr::Num(default)]),
            Some(Value::Sequence(s)) => exprs::<3>(src, &format!("{path}.{k}"), s, known),
            Some(other) => Err(src.err(
                format!("{path}.{k}"),
                format!("expected [r, g, b] in 0..1, found {}", describe(other)),
            )),
        }
    };
    let num = |k: &str, default: f64| -> Result<Expr, ConfigError> {
        get(k).map_or(Ok(Expr::Num(default)), |v| {
            expr(src, &format!("{path}.{k}"), v, known)
        })
    };
    let pattern = match get("pattern").map(|p| p.as_str().unwrap_or("?")) {
        None | Some("solid") => Pattern::Solid,
        Some("stripes") => Pattern::Stripes,
        Some("checker") => Pattern::Checker,
        Some("noise") => Pattern::Noise,
        Some("veins") => Pattern::Veins,
        Some("gradient") => Pattern::Gradient,
        Some(other) => {
            return Err(src.err(
                format!("{path}.pattern"),
                format!(
                    "expected solid, stripes, checker, noise, veins or gradient, found {other:?}"
                ),
            ))
        }
    };
    Ok(MaterialSpec {
        color: color3("color", 0.7)?,
        color2: color3("color2", 0.2)?,
        pattern,
        scale: num("scale", 0.2)?,
        specular: num("specular", 0.2)?,
        shininess: num("shininess", 24.0)?,
    })
}

/// One `parts:` entry: its shape (one arm per primitive kind, each naming its fields), pose and
/// material. Long because the table of shapes is flat on purpose: a shape's fields are read in
/// one place.
fn part(
    src: &Source,
    path: &str,
    p: &RawPart,
    known: &[String],
    materials: &BTreeMap<String, MaterialSpec>,
) -> Result<Part, ConfigError> {
    let need = |field: &str, v: &Option<Value>| -> Result<Expr, ConfigError> {
        match v {
            Some(v) => expr(src, &format!("{path}.{field}"), v, known),
            None => Err(src.err(path, format!("shape {} needs `{field}`", p.shape))),
        }
    };
    let opt = |field: &str, v: &Option<Value>, default: f64| -> Result<Expr, ConfigError> {
        v.as_ref().map_or(Ok(Expr::Num(default)), |v| {
            expr(src, &format!("{path}.{field}"), v, known)
        })
    };
    let list = |field: &str, v: &Option<Vec<Value>>| -> Result<Vec<Value>, ConfigError> {
        v.clone()
            .ok_or_else(|| src.err(path, format!("shape {} needs `{field}`", p.shape)))
    };
    let points =
        |field: &str, v: &Option<Vec<Vec<Value>>>| -> Result<Vec<[Expr; 2]>, ConfigError> {
            let pts = v.as_ref().ok_or_else(|| {
                src.err(
                    path,
                    format!(
                        "shape {} needs `{field}` as a list of [x, y] points",
                        p.shape
                    ),
                )
            })?;
            if pts.len() < 3 {
                return Err(src.err(
                    format!("{path}.{field}"),
                    format!("expected at least 3 points, found {}", pts.len()),
                ));
            }
            pts.iter()
                .enumerate()
                .map(|(i, q)| exprs::<2>(src, &format!("{path}.{field}[{i}]"), q, known))
                .collect()
        };
    let shape = match p.shape.as_str() {
        "box" => Shape::Box { size: exprs::<3>(src, &format!("{path}.size"), &list("size", &p.size)?, known)? },
        "sphere" => Shape::Sphere { radius: need("radius", &p.radius)?, segments: opt("segments", &p.segments, 32.0)? },
        "ellipsoid" => Shape::Ellipsoid {
            radii: exprs::<3>(src, &format!("{path}.radii"), &list("radii", &p.radii)?, known)?,
            segments: opt("segments", &p.segments, 32.0)?,
        },
        "cylinder" => Shape::Cylinder {
            radius: need("radius", &p.radius)?,
            height: need("height", &p.height)?,
            segments: opt("segments", &p.segments, 32.0)?,
        },
        "cone" => Shape::Cone {
            radius: need("radius", &p.radius)?,
            top_radius: opt("top_radius", &p.top_radius, 0.0)?,
            height: need("height", &p.height)?,
            segments: opt("segments", &p.segments, 32.0)?,
        },
        "torus" => Shape::Torus {
            major: need("major", &p.major)?,
            minor: need("minor", &p.minor)?,
            segments: opt("segments", &p.segments, 48.0)?,
            sides: opt("sides", &p.sides, 16.0)?,
        },
        "capsule" => Shape::Capsule {
            radius: need("radius", &p.radius)?,
            length: need("length", &p.length)?,
            segments: opt("segments", &p.segments, 32.0)?,
        },
        "plane" => Shape::Plane { size: exprs::<2>(src, &format!("{path}.size"), &list("size", &p.size)?, known)? },
        "extrusion" => Shape::Extrusion { polygon: points("polygon", &p.polygon)?, depth: need("depth", &p.depth)? },
        "sector" => Shape::Sector {
            inner: opt("inner", &p.inner, 0.0)?,
            radius: need("radius", &p.radius)?,
            start: opt("start", &p.start, 0.0)?,
            end: opt("end", &p.end, 360.0)?,
            bulge: opt("bulge", &p.bulge, 0.0)?,
            dome: match &p.dome {
                Some(_) => Some(need("dome", &p.dome)?),
                None => None,
            },
            segments: opt("segments", &p.segments, 64.0)?,
        },
        "lathe" => Shape::Lathe {
            profile: points("profile", &p.profile)?,
            segments: opt("segments", &p.segments, 32.0)?,
        },
        "leaf" => Shape::Leaf {
            length: need("length", &p.length)?,
            width: need("width", &p.width)?,
            taper: opt("taper", &p.taper, 0.8)?,
            serration: opt("serration", &p.serration, 0.0)?,
            teeth: opt("teeth", &p.teeth, 0.0)?,
            curl: opt("curl", &p.curl, 0.0)?,
            droop: opt("droop", &p.droop, 0.0)?,
        },
        other => {
            return Err(src.err(
                format!("{path}.shape"),
                format!("unknown shape {other:?}; expected box, sphere, ellipsoid, cylinder, cone, torus, capsule, plane, sector, extrusion, lathe or leaf"),
            ))
        }
    };
    let zero = || [Expr::Num(0.0), Expr::Num(0.0), Expr::Num(0.0)];
    let position = match &p.position {
        Some(v) => exprs::<3>(src, &format!("{path}.position"), v, known)?,
        None => zero(),
    };
    let rotation = match &p.rotation {
        Some(v) => exprs::<3>(src, &format!("{path}.rotation"), v, known)?,
        None => zero(),
    };
    let inherit = p.material.as_ref().and_then(|m| m.as_str()) == Some("parent");
    let hole = p.material.as_ref().and_then(|m| m.as_str()) == Some("hole");
    let material = match &p.material {
        Some(Value::String(_)) if hole => MaterialSpec {
            pattern: Pattern::Hole,
            ..material(
                src,
                &format!("{path}.material"),
                &Value::Mapping(Mapping::new()),
                known,
            )?
        },
        None | Some(Value::String(_)) if inherit => material(
            src,
            &format!("{path}.material"),
            &Value::Mapping(Mapping::new()),
            known,
        )?,
        None => material(
            src,
            &format!("{path}.material"),
            &Value::Mapping(Mapping::new()),
            known,
        )?,
        Some(Value::String(name)) => materials.get(name).cloned().ok_or_else(|| {
            src.err(
                format!("{path}.material"),
                format!(
                    "no material {name:?} under materials: (or `parent`, the material of the part it is placed on, or `hole`, see-through to the background); defined: [{}]",
                    materials.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })?,
        Some(v) => material(src, &format!("{path}.material"), v, known)?,
    };
    Ok(Part {
        name: p.name.clone().unwrap_or_else(|| p.shape.clone()),
        shape,
        position,
        rotation,
        material,
        inherit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_parameter_is_named() {
        let src = Source {
            file: "m.yaml".into(),
            text: "name: m\nparts:\n  - shape: sphere\n    radius: \"r * 2\"\n".into(),
        };
        let e = Model::parse(&src).unwrap_err();
        assert_eq!(e.path, "parts[0].radius");
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("unknown parameter `r`"), "{e}");
    }

    #[test]
    fn mirror_pairs_come_from_the_file_or_from_left_right_names() {
        let model = |extra: &str| {
            Model::parse(&Source {
                file: "m.yaml".into(),
                text: format!(
                    "name: m\nparts:\n  - shape: sphere\n    radius: 1\nkeypoints:\n  \
                     nose: [0, 0, 1]\n  left_eye: [-1, 0, 1]\n  right_eye: [1, 0, 1]\n  \
                     fin_a: [-2, 0, 0]\n  fin_b: [2, 0, 0]\n{extra}"
                ),
            })
        };
        assert_eq!(model("").unwrap().mirror, [0, 2, 1, 3, 4], "by name");
        let m = model("mirror: [[fin_a, fin_b], [left_eye, right_eye]]\n").unwrap();
        assert_eq!(m.mirror, [0, 2, 1, 4, 3], "declared");
        let e = model("mirror: [[fin_a, tail]]\n").unwrap_err();
        assert_eq!(e.path, "mirror[0]");
        assert!(e.message.contains("\"tail\" is not a keypoint"), "{e}");
        let e = model("mirror: [[fin_a, fin_b], [fin_b, nose]]\n").unwrap_err();
        assert!(e.message.contains("in two pairs"), "{e}");
    }
}
