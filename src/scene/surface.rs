//! The world-space surface of a placed instance, for objects placed on it (`placement.on: <parent>`
//! with `at: surface`): area-weighted random points with their interpolated normals, and the
//! closest surface point to a query, which wraps a flat decal (a scratch, a spot) onto a curved
//! parent (a bolt's shaft, a fruit, a curled leaf). Owns no sampling policy; `scene` decides what
//! goes where.

use glam::{Mat4, Vec3};
use rand::Rng;

use super::part::PartMesh;

/// One world-space triangle with its vertex normals and the part it came from.
#[derive(Debug, Clone, Copy)]
struct Tri {
    p: [Vec3; 3],
    n: [Vec3; 3],
    part: usize,
}

/// A point on the surface.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub point: Vec3,
    /// Unit normal, interpolated from the vertex normals (smooth on curved parts).
    pub normal: Vec3,
    /// Index of the part hit, in the parent's part order.
    pub part: usize,
}

/// Triangles of an instance's parts in world space, with a cumulative area table.
#[derive(Debug, Clone)]
pub struct Surface {
    tris: Vec<Tri>,
    cdf: Vec<f32>,
}

impl Surface {
    /// The surface of `parts` placed by `world_from_model`, limited to parts named `only` and to
    /// triangles facing within `max_tilt` degrees of world up (+z).
    pub fn new(
        parts: &[PartMesh],
        world_from_model: &Mat4,
        only: Option<&str>,
        max_tilt: Option<f32>,
    ) -> Surface {
        let min_up = max_tilt.map_or(-2.0, |t| t.to_radians().cos() - 1e-4);
        let nm = world_from_model.inverse().transpose();
        let mut tris = Vec::new();
        let mut cdf = Vec::new();
        let mut total = 0.0f32;
        for (k, part) in parts.iter().enumerate() {
            if only.is_some_and(|name| name != part.name) {
                continue;
            }
            let m = &part.mesh;
            for t in m.indices.chunks_exact(3) {
                let i = [t[0], t[1], t[2]].map(|i| i as usize);
                let p = i.map(|i| world_from_model.transform_point3(m.positions[i]));
                let n = i.map(|i| nm.transform_vector3(m.normals[i]).normalize_or_zero());
                let cross = (p[1] - p[0]).cross(p[2] - p[0]);
                let area = 0.5 * cross.length();
                if area.is_nan() || area <= 0.0 || cross.z / (2.0 * area) < min_up {
                    continue;
                }
                total += area;
                tris.push(Tri { p, n, part: k });
                cdf.push(total);
            }
        }
        Surface { tris, cdf }
    }

    /// A uniformly distributed random point; `None` for an empty surface.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Hit> {
        let total = *self.cdf.last()?;
        let u = rng.gen_range(0.0..total);
        let k = self
            .cdf
            .partition_point(|&c| c <= u)
            .min(self.tris.len() - 1);
        let t = &self.tris[k];
        let (mut a, mut b): (f32, f32) = (rng.gen_range(0.0..1.0), rng.gen_range(0.0..1.0));
        if a + b > 1.0 {
            (a, b) = (1.0 - a, 1.0 - b);
        }
        Some(t.at([1.0 - a - b, a, b]))
    }

    /// Triangles that may hold the closest point to anything within `radius` of `centre`.
    pub fn near(&self, centre: Vec3, radius: f32) -> Vec<usize> {
        (0..self.tris.len())
            .filter(|&k| {
                let p = &self.tris[k].p;
                let c = (p[0] + p[1] + p[2]) / 3.0;
                let r = p.iter().map(|v| (*v - c).length()).fold(0.0, f32::max);
                (c - centre).length() <= radius + r
            })
            .collect()
    }

    /// The smallest radius of curvature seen from `at` (normal `normal`) over triangles `among`:
    /// distance / turn of the normal to each; infinite on a flat patch.
    pub fn curvature_radius(&self, among: &[usize], at: Vec3, normal: Vec3) -> f32 {
        among
            .iter()
            .map(|&k| {
                let p = &self.tris[k].p;
                let n = (p[1] - p[0]).cross(p[2] - p[0]).normalize_or_zero();
                let turn = n.dot(normal).clamp(-1.0, 1.0).acos();
                let d = ((p[0] + p[1] + p[2]) / 3.0 - at).length();
                if turn < 0.02 {
                    f32::INFINITY
                } else {
                    d / turn
                }
            })
            .fold(f32::INFINITY, f32::min)
    }

    /// The closest surface point to `q` among triangles `among` (from [`Surface::near`]).
    pub fn closest(&self, q: Vec3, among: &[usize]) -> Option<Hit> {
        let mut best: Option<(f32, usize, [f32; 3])> = None;
        for &k in among {
            let p = &self.tris[k].p;
            let w = closest_on_triangle(q, *p);
            let d = (p[0] * w[0] + p[1] * w[1] + p[2] * w[2] - q).length_squared();
            if best.is_none_or(|(bd, _, _)| d < bd) {
                best = Some((d, k, w));
            }
        }
        best.map(|(_, k, w)| self.tris[k].at(w))
    }
}

impl Tri {
    fn at(&self, w: [f32; 3]) -> Hit {
        let point = self.p[0] * w[0] + self.p[1] * w[1] + self.p[2] * w[2];
        let face = (self.p[1] - self.p[0])
            .cross(self.p[2] - self.p[0])
            .normalize_or_zero();
        let mut normal =
            (self.n[0] * w[0] + self.n[1] * w[1] + self.n[2] * w[2]).normalize_or_zero();
        if normal == Vec3::ZERO {
            normal = face;
        }
        Hit {
            point,
            normal,
            part: self.part,
        }
    }
}

/// Barycentric weights of the point of triangle `p` closest to `q` (Ericson, Real-Time Collision
/// Detection, 5.1.5).
fn closest_on_triangle(q: Vec3, p: [Vec3; 3]) -> [f32; 3] {
    let (a, b, c) = (p[0], p[1], p[2]);
    let (ab, ac, ap) = (b - a, c - a, q - a);
    let (d1, d2) = (ab.dot(ap), ac.dot(ap));
    if d1 <= 0.0 && d2 <= 0.0 {
        return [1.0, 0.0, 0.0];
    }
    let bp = q - b;
    let (d3, d4) = (ab.dot(bp), ac.dot(bp));
    if d3 >= 0.0 && d4 <= d3 {
        return [0.0, 1.0, 0.0];
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        let v = d1 / (d1 - d3);
        return [1.0 - v, v, 0.0];
    }
    let cp = q - c;
    let (d5, d6) = (ab.dot(cp), ac.dot(cp));
    if d6 >= 0.0 && d5 <= d6 {
        return [0.0, 0.0, 1.0];
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        let w = d2 / (d2 - d6);
        return [1.0 - w, 0.0, w];
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        return [0.0, 1.0 - w, w];
    }
    let denom = 1.0 / (va + vb + vc);
    let (v, w) = (vb * denom, vc * denom);
    [1.0 - v - w, v, w]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Pattern;
    use crate::scene::mesh;
    use crate::scene::part::Material;
    use rand::SeedableRng;

    fn part(m: mesh::Mesh, name: &str) -> PartMesh {
        PartMesh {
            mesh: m,
            local_from_model: Mat4::IDENTITY,
            material: Material {
                color: [0.5; 3],
                color2: [0.5; 3],
                pattern: Pattern::Solid,
                scale: 1.0,
                specular: 0.0,
                shininess: 1.0,
            },
            name: name.into(),
            inherit: false,
        }
    }

    #[test]
    fn samples_lie_on_a_sphere_with_outward_normals() {
        let s = Surface::new(
            &[part(mesh::sphere(48), "ball")],
            &Mat4::from_translation(Vec3::new(1.0, 2.0, 3.0)),
            None,
            None,
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let h = s.sample(&mut rng).unwrap();
            let r = h.point - Vec3::new(1.0, 2.0, 3.0);
            assert!((r.length() - 1.0).abs() < 0.01, "radius {}", r.length());
            assert!(h.normal.dot(r.normalize()) > 0.99);
        }
    }

    #[test]
    fn closest_point_wraps_onto_a_cylinder_and_parts_filter() {
        let parts = [
            part(mesh::cone(0.5, 0.5, 2.0, 64), "shaft"),
            part(mesh::cuboid(Vec3::splat(0.1)), "cap"),
        ];
        let s = Surface::new(&parts, &Mat4::IDENTITY, Some("shaft"), None);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        assert!((0..100).all(|_| s.sample(&mut rng).unwrap().part == 0));
        // a point off the side, tangent-plane style, comes back onto the round side
        let q = Vec3::new(0.5, 0.3, 0.2);
        let h = s.closest(q, &s.near(q, 0.5)).unwrap();
        let radial = (h.point * Vec3::new(1.0, 1.0, 0.0)).length();
        assert!((radial - 0.5).abs() < 0.01, "radial {radial}");
        assert!((h.point.z - 0.2).abs() < 1e-4);
        // only the top cap faces within 30 degrees of up
        let top = Surface::new(&parts, &Mat4::IDENTITY, Some("shaft"), Some(30.0));
        assert!((0..100).all(|_| top.sample(&mut rng).unwrap().normal.z > 0.99));
    }
}
