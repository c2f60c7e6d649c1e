//! Triangle meshes of the primitives a model is built from: box, sphere, ellipsoid, cylinder,
//! cone, torus, capsule, plane, extrusion of a 2D polygon and lathe of a 2D profile. Owns geometry
//! and normals only; materials, transforms and sampling live in `model`.

use glam::{Mat4, Vec2, Vec3};

/// Indexed triangles with per-vertex normals, in one coordinate frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    pub positions: Vec<Vec3>,
    pub normals: Vec<Vec3>,
    pub indices: Vec<u32>,
}

impl Mesh {
    fn quad(&mut self, p: [Vec3; 4], n: [Vec3; 4]) {
        let b = self.positions.len() as u32;
        self.positions.extend_from_slice(&p);
        self.normals.extend_from_slice(&n);
        self.indices
            .extend_from_slice(&[b, b + 1, b + 2, b, b + 2, b + 3]);
    }

    /// Applies an affine transform; normals use the inverse transpose so non-uniform scales
    /// keep them perpendicular to the surface.
    pub fn transform(&mut self, m: &Mat4) {
        let nm = m.inverse().transpose();
        for p in &mut self.positions {
            *p = m.transform_point3(*p);
        }
        for n in &mut self.normals {
            *n = nm.transform_vector3(*n).normalize_or_zero();
        }
    }

    /// Axis-aligned bounds (min, max); zeros for an empty mesh.
    pub fn bounds(&self) -> (Vec3, Vec3) {
        if self.positions.is_empty() {
            return (Vec3::ZERO, Vec3::ZERO);
        }
        self.positions.iter().fold(
            (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN)),
            |(lo, hi), p| (lo.min(*p), hi.max(*p)),
        )
    }
}

/// A box of the given full size, centred on the origin.
pub fn cuboid(size: Vec3) -> Mesh {
    let h = size * 0.5;
    let mut m = Mesh::default();
    for axis in 0..3 {
        for sign in [-1.0f32, 1.0] {
            let n = Vec3::from_array({
                let mut a = [0.0; 3];
                a[axis] = sign;
                a
            });
            let (u, v) = (
                Vec3::from_array(unit((axis + 1) % 3)),
                Vec3::from_array(unit((axis + 2) % 3)),
            );
            let c = n * h;
            let (u, v) = (u * h, v * h);
            let corners = if sign > 0.0 {
                [c - u - v, c + u - v, c + u + v, c - u + v]
            } else {
                [c - u - v, c - u + v, c + u + v, c + u - v]
            };
            m.quad(corners, [n; 4]);
        }
    }
    m
}

fn unit(i: usize) -> [f32; 3] {
    let mut a = [0.0; 3];
    a[i] = 1.0;
    a
}

/// A flat rectangle in the xy plane facing +z, centred on the origin.
pub fn plane(size: Vec2) -> Mesh {
    let (x, y) = (size.x * 0.5, size.y * 0.5);
    let mut m = Mesh::default();
    m.quad(
        [
            Vec3::new(-x, -y, 0.0),
            Vec3::new(x, -y, 0.0),
            Vec3::new(x, y, 0.0),
            Vec3::new(-x, y, 0.0),
        ],
        [Vec3::Z; 4],
    );
    m
}

/// A surface of revolution about z. `profile` holds (radius, z) points from bottom to top.
/// Corners sharper than ~35° stay sharp; with fewer than 12 segments the sides are flat-shaded
/// (a 6-segment cylinder is a hexagonal prism).
pub fn lathe(profile: &[Vec2], segments: u32) -> Mesh {
    let segments = segments.max(3);
    let mut m = Mesh::default();
    if profile.len() < 2 {
        return m;
    }
    // 2D normal (radial, z) of each profile edge
    let edge_n: Vec<Vec2> = profile
        .windows(2)
        .map(|w| {
            let t = w[1] - w[0];
            Vec2::new(t.y, -t.x).normalize_or_zero()
        })
        .collect();
    let smooth = |a: Vec2, b: Vec2| a.dot(b) > 35f32.to_radians().cos();
    let flat_sides = segments < 12;
    for (j, w) in profile.windows(2).enumerate() {
        let n = edge_n[j];
        let n0 = if j > 0 && smooth(edge_n[j - 1], n) {
            (edge_n[j - 1] + n).normalize()
        } else {
            n
        };
        let n1 = if j + 1 < edge_n.len() && smooth(edge_n[j + 1], n) {
            (edge_n[j + 1] + n).normalize()
        } else {
            n
        };
        for k in 0..segments {
            let a0 = k as f32 / segments as f32 * std::f32::consts::TAU;
            let a1 = (k + 1) as f32 / segments as f32 * std::f32::consts::TAU;
            let am = 0.5 * (a0 + a1);
            let at = |r: f32, z: f32, a: f32| Vec3::new(r * a.cos(), r * a.sin(), z);
            let nrm = |n: Vec2, a: f32| {
                let a = if flat_sides { am } else { a };
                Vec3::new(n.x * a.cos(), n.x * a.sin(), n.y).normalize_or_zero()
            };
            m.quad(
                [
                    at(w[0].x, w[0].y, a0),
                    at(w[0].x, w[0].y, a1),
                    at(w[1].x, w[1].y, a1),
                    at(w[1].x, w[1].y, a0),
                ],
                [nrm(n0, a0), nrm(n0, a1), nrm(n1, a1), nrm(n1, a0)],
            );
        }
    }
    m
}

/// A cylinder (or a cone frustum when `top` differs from `bottom`) of `height`, centred on the
/// origin along z.
pub fn cone(bottom: f32, top: f32, height: f32, segments: u32) -> Mesh {
    let h = height * 0.5;
    lathe(
        &[
            Vec2::new(0.0, -h),
            Vec2::new(bottom, -h),
            Vec2::new(top, h),
            Vec2::new(0.0, h),
        ],
        segments,
    )
}

/// A sphere of radius 1 (scale it for ellipsoids), centred on the origin.
pub fn sphere(segments: u32) -> Mesh {
    let rings = (segments / 2).max(3);
    let profile: Vec<Vec2> = (0..=rings)
        .map(|i| {
            let a = -std::f32::consts::FRAC_PI_2 + std::f32::consts::PI * i as f32 / rings as f32;
            Vec2::new(a.cos().max(0.0), a.sin())
        })
        .collect();
    lathe(&profile, segments.max(12))
}

/// A capsule: a cylinder of `length` between two hemispheres of `radius`, centred on the origin.
pub fn capsule(radius: f32, length: f32, segments: u32) -> Mesh {
    let rings = (segments / 4).max(3);
    let h = length * 0.5;
    let mut profile = Vec::new();
    for i in 0..=rings {
        let a =
            -std::f32::consts::FRAC_PI_2 + std::f32::consts::FRAC_PI_2 * i as f32 / rings as f32;
        profile.push(Vec2::new(radius * a.cos().max(0.0), -h + radius * a.sin()));
    }
    for i in 0..=rings {
        let a = std::f32::consts::FRAC_PI_2 * i as f32 / rings as f32;
        profile.push(Vec2::new(radius * a.cos().max(0.0), h + radius * a.sin()));
    }
    lathe(&profile, segments.max(12))
}

/// A torus about z: tube of radius `minor` around a circle of radius `major`.
pub fn torus(major: f32, minor: f32, segments: u32, sides: u32) -> Mesh {
    let (segments, sides) = (segments.max(3), sides.max(3));
    let mut m = Mesh::default();
    let point = |i: u32, j: u32| {
        let u = i as f32 / segments as f32 * std::f32::consts::TAU;
        let v = j as f32 / sides as f32 * std::f32::consts::TAU;
        let c = Vec3::new(u.cos(), u.sin(), 0.0);
        let n = c * v.cos() + Vec3::Z * v.sin();
        (c * major + n * minor, n)
    };
    for i in 0..segments {
        for j in 0..sides {
            let q = [
                point(i, j),
                point(i + 1, j),
                point(i + 1, j + 1),
                point(i, j + 1),
            ];
            m.quad(q.map(|x| x.0), q.map(|x| x.1));
        }
    }
    m
}

/// A flat or bulged annular sector facing +z: radii `inner`..`outer`, angles `start`..`end`
/// (radians, counter-clockwise from +x). The surface is a dome z = bulge · (1 − (r/dome)²), so
/// sectors of one dome fit together seamlessly (a curved tag made of cells). `segments` is per
/// full turn.
pub fn sector(
    inner: f32,
    outer: f32,
    start: f32,
    end: f32,
    bulge: f32,
    dome: f32,
    segments: u32,
) -> Mesh {
    let mut m = Mesh::default();
    let (inner, outer) = (inner.max(0.0), outer.max(inner.max(0.0) + 1e-6));
    let (start, end) = if end < start {
        (end, start)
    } else {
        (start, end)
    };
    // angles on one grid per turn (plus the ends), so sectors of one dome share their edge
    // vertices exactly and leave no cracks between them
    let step = std::f32::consts::TAU / segments.max(3) as f32;
    let mut angles = vec![start];
    let mut k = (start / step).floor() as i64 + 1;
    while (k as f32) * step < end - 1e-5 {
        angles.push(k as f32 * step);
        k += 1;
    }
    angles.push(end);
    let rings = 4u32;
    let dome = dome.max(1e-6);
    let point = |r: f32, a: f32| {
        let z = bulge * (1.0 - (r / dome).powi(2));
        let slope = -2.0 * bulge * r / (dome * dome); // dz/dr
        let (s, c) = a.sin_cos();
        let p = Vec3::new(r * c, r * s, z);
        let n = Vec3::new(-slope * c, -slope * s, 1.0).normalize();
        (p, n)
    };
    // ring radii end exactly on `inner` and `outer`, which neighbouring sectors share
    let radius = |j: u32| match j {
        0 => inner,
        j if j == rings => outer,
        j => inner + (outer - inner) * j as f32 / rings as f32,
    };
    for w in angles.windows(2) {
        let (a0, a1) = (w[0], w[1]);
        for j in 0..rings {
            let (r0, r1) = (radius(j), radius(j + 1));
            // counter-clockwise seen from +z, so the front face is the top
            let q = [point(r0, a0), point(r1, a0), point(r1, a1), point(r0, a1)];
            m.quad(q.map(|v| v.0), q.map(|v| v.1));
        }
    }
    m
}

/// A leaf blade facing +z, from its base at the origin to its tip at (`length`, 0, ·). Along
/// u = x / length the half-width is width/2 · sin(π·u^taper) (taper below 1: widest near the
/// base, above 1: near the tip), cut into `teeth` saw teeth per side of relative depth `serration`.
/// `curl` raises the edges (a cupped blade: z = curl · width/2 · (y / half-width)²) and `droop`
/// bends it along its length (z = −droop · length · u²). Normals are smoothed over the blade.
pub fn leaf(
    length: f32,
    width: f32,
    taper: f32,
    serration: f32,
    teeth: f32,
    curl: f32,
    droop: f32,
) -> Mesh {
    let rows = ((teeth.max(0.0) * 4.0) as u32).clamp(32, 200);
    let cols = 6u32;
    let half = |u: f32| {
        let outline = (std::f32::consts::PI * u.powf(taper.max(0.05)))
            .sin()
            .max(0.0);
        // teeth lean towards the tip: the edge rises slowly, then drops
        let tooth = 1.0 - (u * teeth.max(0.0)).fract();
        width
            * 0.5
            * outline
            * (1.0 - serration.clamp(0.0, 0.9) * tooth * (teeth > 0.0) as u8 as f32)
    };
    let mut m = Mesh::default();
    for i in 0..=rows {
        let u = i as f32 / rows as f32;
        let w = half(u);
        for j in 0..=cols {
            let v = -1.0 + 2.0 * j as f32 / cols as f32;
            let z = curl * width * 0.5 * v * v - droop * length * u * u;
            m.positions.push(Vec3::new(u * length, v * w, z));
        }
    }
    let at = |i: u32, j: u32| i * (cols + 1) + j;
    for i in 0..rows {
        for j in 0..cols {
            // counter-clockwise seen from +z: x grows with i, y with j
            let q = [at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)];
            m.indices
                .extend_from_slice(&[q[0], q[1], q[2], q[0], q[2], q[3]]);
        }
    }
    smooth_normals(&mut m);
    m
}

/// Per-vertex normals as the area-weighted sum of the faces around each vertex (degenerate
/// faces add nothing; a vertex with none points along +z).
fn smooth_normals(m: &mut Mesh) {
    let mut acc = vec![Vec3::ZERO; m.positions.len()];
    for t in m.indices.chunks_exact(3) {
        let [a, b, c] = [t[0], t[1], t[2]].map(|i| m.positions[i as usize]);
        let n = (b - a).cross(c - a);
        for &i in t {
            acc[i as usize] += n;
        }
    }
    m.normals = acc
        .into_iter()
        .map(|n| {
            let n = n.normalize_or_zero();
            if n == Vec3::ZERO {
                Vec3::Z
            } else {
                n
            }
        })
        .collect();
}

/// A prism: `polygon` (xy, any winding, simple) extruded from z = 0 to z = `depth`.
pub fn extrusion(polygon: &[Vec2], depth: f32) -> Mesh {
    let mut poly = polygon.to_vec();
    if signed_area(&poly) < 0.0 {
        poly.reverse();
    }
    let mut m = Mesh::default();
    let n = poly.len();
    if n < 3 {
        return m;
    }
    let tris = triangulate(&poly);
    for (z, normal, flip) in [(0.0, -Vec3::Z, true), (depth, Vec3::Z, false)] {
        let b = m.positions.len() as u32;
        m.positions
            .extend(poly.iter().map(|p| Vec3::new(p.x, p.y, z)));
        m.normals.extend(std::iter::repeat_n(normal, n));
        for t in &tris {
            let t = if flip { [t[0], t[2], t[1]] } else { *t };
            m.indices.extend(t.iter().map(|i| b + *i as u32));
        }
    }
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + 1) % n]);
        let e = b - a;
        let nrm = Vec3::new(e.y, -e.x, 0.0).normalize_or_zero();
        m.quad(
            [
                Vec3::new(a.x, a.y, 0.0),
                Vec3::new(b.x, b.y, 0.0),
                Vec3::new(b.x, b.y, depth),
                Vec3::new(a.x, a.y, depth),
            ],
            [nrm; 4],
        );
    }
    m
}

/// Twice the signed area; positive for counter-clockwise polygons.
pub fn signed_area(p: &[Vec2]) -> f32 {
    (0..p.len())
        .map(|i| p[i].perp_dot(p[(i + 1) % p.len()]))
        .sum()
}

/// Ear-clipping triangulation of a counter-clockwise simple polygon.
fn triangulate(p: &[Vec2]) -> Vec<[usize; 3]> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    let mut out = Vec::new();
    let mut guard = 0;
    while idx.len() > 3 && guard < 10 * p.len() * p.len() {
        guard += 1;
        let n = idx.len();
        let mut clipped = false;
        for k in 0..n {
            let (a, b, c) = (idx[(k + n - 1) % n], idx[k], idx[(k + 1) % n]);
            let (pa, pb, pc) = (p[a], p[b], p[c]);
            if (pb - pa).perp_dot(pc - pb) <= 0.0 {
                continue; // reflex corner
            }
            let inside = idx
                .iter()
                .any(|&j| j != a && j != b && j != c && in_triangle(p[j], pa, pb, pc));
            if !inside {
                out.push([a, b, c]);
                idx.remove(k);
                clipped = true;
                break;
            }
        }
        if !clipped {
            break; // degenerate input: fan the rest so the cap is still closed
        }
    }
    for k in 1..idx.len().saturating_sub(1) {
        out.push([idx[0], idx[k], idx[k + 1]]);
    }
    out
}

fn in_triangle(p: Vec2, a: Vec2, b: Vec2, c: Vec2) -> bool {
    let d1 = (b - a).perp_dot(p - a);
    let d2 = (c - b).perp_dot(p - b);
    let d3 = (a - c).perp_dot(p - c);
    d1 >= 0.0 && d2 >= 0.0 && d3 >= 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(m: &Mesh) -> f32 {
        // divergence theorem over the triangles
        m.indices
            .chunks(3)
            .map(|t| {
                let (a, b, c) = (
                    m.positions[t[0] as usize],
                    m.positions[t[1] as usize],
                    m.positions[t[2] as usize],
                );
                a.dot(b.cross(c)) / 6.0
            })
            .sum()
    }

    #[test]
    fn closed_primitives_have_the_right_volume_and_outward_winding() {
        let pi = std::f32::consts::PI;
        let cases = [
            (cuboid(Vec3::new(1.0, 2.0, 3.0)), 6.0, 0.001),
            (sphere(64), 4.0 / 3.0 * pi, 0.01),
            (cone(1.0, 1.0, 2.0, 96), 2.0 * pi, 0.01),
            (cone(1.0, 0.0, 3.0, 96), pi, 0.01),
            (torus(2.0, 0.5, 96, 48), 2.0 * pi * pi * 2.0 * 0.25, 0.01),
            (capsule(1.0, 2.0, 96), pi * 2.0 + 4.0 / 3.0 * pi, 0.02),
            (
                extrusion(
                    &[
                        Vec2::ZERO,
                        Vec2::new(0.0, 2.0),
                        Vec2::new(1.0, 2.0),
                        Vec2::new(1.0, 1.0),
                        Vec2::new(2.0, 1.0),
                        Vec2::new(2.0, 0.0),
                    ],
                    0.5,
                ),
                1.5,
                0.001,
            ),
        ];
        for (i, (m, want, tol)) in cases.iter().enumerate() {
            let v = volume(m);
            assert!(
                (v - want).abs() / want < *tol,
                "case {i}: volume {v}, want {want}"
            );
        }
    }

    #[test]
    fn hex_prism_is_flat_shaded() {
        let m = cone(1.0, 1.0, 1.0, 6);
        // side normals are horizontal and one of six directions
        let mut dirs: Vec<(i32, i32)> = m
            .normals
            .iter()
            .filter(|n| n.z.abs() < 1e-6)
            .map(|n| ((n.x * 100.0).round() as i32, (n.y * 100.0).round() as i32))
            .collect();
        dirs.sort();
        dirs.dedup();
        assert_eq!(dirs.len(), 6);
    }
}
