//! One draw of a model (`config::model`) as meshes in the model frame: each part's primitive
//! built, posed and given its drawn material, and the keypoints; and the generate-time check
//! that a draw's meshes are finite numbers.

use std::collections::BTreeMap;

use glam::{EulerRot, Mat4, Quat, Vec2, Vec3};
use rand::Rng;

use super::mesh::{self, Mesh};
use crate::config::expr::Expr;
use crate::config::model::{Model, Pattern, Shape};

/// A material with its numbers drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Material {
    pub color: [f32; 3],
    pub color2: [f32; 3],
    pub pattern: Pattern,
    pub scale: f32,
    pub specular: f32,
    pub shininess: f32,
}

/// One part's geometry in the model frame, plus what the shader needs.
#[derive(Debug, Clone)]
pub struct PartMesh {
    pub mesh: Mesh,
    /// Model-frame position → part-local position (for patterns that stick to the part).
    pub local_from_model: Mat4,
    pub material: Material,
    /// The part's name in its model (for `placement.part`).
    pub name: String,
    /// Takes its parent's material when placed on a parent (`material: parent`).
    pub inherit: bool,
}

/// One draw of a model: its parameter values, meshes and keypoints in the model frame.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub params: BTreeMap<String, f64>,
    pub parts: Vec<PartMesh>,
    pub keypoints: Vec<Vec3>,
}

/// Draws `model`'s parameters and builds its meshes, all in the model frame. Long: one arm per
/// primitive kind, the mirror of `config::model::part`.
pub fn sample<R: Rng + ?Sized>(model: &Model, rng: &mut R) -> Sampled {
    let env = model.draw_params(rng);
    let ev = |e: &Expr| e.eval(&env) as f32;
    let v3 = |e: &[Expr; 3]| Vec3::new(ev(&e[0]), ev(&e[1]), ev(&e[2]));
    // a segment count that is not a number takes the fewest segments
    let seg = |e: &Expr| {
        let x = ev(e);
        if x.is_finite() {
            x.round().clamp(3.0, 512.0) as u32
        } else {
            3
        }
    };
    let parts = model
        .parts
        .iter()
        .map(|p| {
            let mut m = match &p.shape {
                Shape::Box { size } => mesh::cuboid(v3(size).abs()),
                Shape::Sphere { radius, segments } => {
                    scaled(mesh::sphere(seg(segments)), Vec3::splat(ev(radius)))
                }
                Shape::Ellipsoid { radii, segments } => {
                    scaled(mesh::sphere(seg(segments)), v3(radii))
                }
                Shape::Cylinder {
                    radius,
                    height,
                    segments,
                } => mesh::cone(ev(radius), ev(radius), ev(height), seg(segments)),
                Shape::Cone {
                    radius,
                    top_radius,
                    height,
                    segments,
                } => mesh::cone(ev(radius), ev(top_radius), ev(height), seg(segments)),
                Shape::Torus {
                    major,
                    minor,
                    segments,
                    sides,
                } => mesh::torus(ev(major), ev(minor), seg(segments), seg(sides)),
                Shape::Capsule {
                    radius,
                    length,
                    segments,
                } => mesh::capsule(ev(radius), ev(length), seg(segments)),
                Shape::Plane { size } => mesh::plane(Vec2::new(ev(&size[0]), ev(&size[1]))),
                Shape::Extrusion { polygon, depth } => {
                    let poly: Vec<Vec2> = polygon
                        .iter()
                        .map(|q| Vec2::new(ev(&q[0]), ev(&q[1])))
                        .collect();
                    mesh::extrusion(&poly, ev(depth))
                }
                Shape::Sector {
                    inner,
                    radius,
                    start,
                    end,
                    bulge,
                    dome,
                    segments,
                } => {
                    let deg = std::f32::consts::PI / 180.0;
                    mesh::sector(
                        ev(inner),
                        ev(radius),
                        ev(start) * deg,
                        ev(end) * deg,
                        ev(bulge),
                        dome.as_ref().map(&ev).unwrap_or_else(|| ev(radius)),
                        seg(segments),
                    )
                }
                Shape::Lathe { profile, segments } => {
                    let prof: Vec<Vec2> = profile
                        .iter()
                        .map(|q| Vec2::new(ev(&q[0]), ev(&q[1])))
                        .collect();
                    mesh::lathe(&prof, seg(segments))
                }
                Shape::Leaf {
                    length,
                    width,
                    taper,
                    serration,
                    teeth,
                    curl,
                    droop,
                } => mesh::leaf(
                    ev(length),
                    ev(width),
                    ev(taper),
                    ev(serration),
                    ev(teeth).round().clamp(0.0, 50.0),
                    ev(curl),
                    ev(droop),
                ),
            };
            let r = v3(&p.rotation) * (std::f32::consts::PI / 180.0);
            let model_from_part = Mat4::from_rotation_translation(
                Quat::from_euler(EulerRot::ZYX, r.z, r.y, r.x),
                v3(&p.position),
            );
            m.transform(&model_from_part);
            let mat = &p.material;
            let c3 = |e: &[Expr; 3]| v3(e).clamp(Vec3::ZERO, Vec3::ONE).to_array();
            PartMesh {
                name: p.name.clone(),
                inherit: p.inherit,
                mesh: m,
                local_from_model: model_from_part.inverse(),
                material: Material {
                    color: c3(&mat.color),
                    color2: c3(&mat.color2),
                    pattern: mat.pattern,
                    scale: ev(&mat.scale).max(1e-6),
                    specular: ev(&mat.specular).clamp(0.0, 10.0),
                    shininess: ev(&mat.shininess).clamp(1.0, 1000.0),
                },
            }
        })
        .collect();
    let keypoints = model.keypoints.iter().map(|(_, k)| v3(k)).collect();
    Sampled {
        params: env,
        parts,
        keypoints,
    }
}

fn scaled(mut m: Mesh, s: Vec3) -> Mesh {
    m.transform(&Mat4::from_scale(s));
    m
}

/// Checks one instance's draw at generate time as `Model::check_finite` checks validate's draws,
/// on the built meshes (a degenerate shape can give normals that are not numbers).
pub fn check_draw(model: &Model, s: &Sampled) -> Result<(), String> {
    model.check_values(
        &s.params,
        |i| {
            let part = &s.parts[i];
            let m = &part.material;
            part.mesh.positions.iter().all(|p| p.is_finite())
                && part.mesh.normals.iter().all(|n| !n.is_nan())
                && m.color.iter().chain(&m.color2).all(|c| c.is_finite())
                && [m.scale, m.specular, m.shininess]
                    .iter()
                    .all(|x| x.is_finite())
        },
        |i| s.keypoints[i].is_finite(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::path::Path;

    #[test]
    fn every_builtin_model_parses_and_samples() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for (name, _) in crate::config::model::BUILTIN {
            let m = crate::config::model::resolve(name, Path::new("."))
                .unwrap_or_else(|e| panic!("{e}"));
            let s = sample(&m, &mut rng);
            assert!(!s.parts.is_empty());
            for p in &s.parts {
                assert!(
                    p.mesh.positions.iter().all(|v| v.is_finite()),
                    "{name}: non-finite vertex"
                );
                assert!(!p.mesh.indices.is_empty(), "{name}: empty part");
            }
        }
    }
}
