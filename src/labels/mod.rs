//! Exact labels from a render, never from the image: per instance the visible box (tight over
//! visible pixels), the full box (over the object rendered alone), visibility (visible / alone
//! pixels), the COCO RLE mask, keypoints with COCO visibility by depth test, and the pose in the
//! camera frame. Plain CPU code over the arrays `render` returns; no wgpu, no files.

pub mod contrast;
pub mod manifest;
pub mod polygon;
pub mod rle;

use glam::{Mat3, Vec3};
use serde::Serialize;

use crate::config::LabelSpec;
use crate::render::{is_labelled, Frame};
use crate::scene::Scene;
pub use rle::Rle;

/// A pixel box: x, y of the top-left pixel, width and height in pixels.
pub type PixelBox = [u32; 4];

/// A projected keypoint: pixel coordinates and COCO visibility (0 outside the image or behind the
/// camera, 1 in frame but occluded, 2 visible).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Keypoint {
    pub x: f64,
    pub y: f64,
    pub v: u8,
}

/// Rotation and translation of the model frame in the camera frame (OpenCV axes), plus the
/// uniform scale that was applied to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pose {
    pub rotation: [[f64; 3]; 3],
    pub translation: [f64; 3],
    pub scale: f64,
}

/// Everything known about one rendered instance.
#[derive(Debug, Clone)]
pub struct InstanceLabel {
    pub id: u32,
    pub class: usize,
    pub visible_pixels: u64,
    pub alone_pixels: u64,
    /// visible / alone pixels, in [0, 1].
    pub visibility: f64,
    pub bbox: Option<PixelBox>,
    pub bbox_full: Option<PixelBox>,
    pub rle: Rle,
    pub keypoints: Vec<Keypoint>,
    pub pose: Pose,
    /// Passed the config's visibility thresholds, so it goes into the label files.
    pub labeled: bool,
}

#[derive(Clone, Copy)]
struct Extent {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

impl Extent {
    const EMPTY: Extent = Extent {
        x0: u32::MAX,
        y0: u32::MAX,
        x1: 0,
        y1: 0,
    };
    fn add(&mut self, x: u32, y: u32) {
        self.x0 = self.x0.min(x);
        self.y0 = self.y0.min(y);
        self.x1 = self.x1.max(x);
        self.y1 = self.y1.max(y);
    }
    fn to_box(self) -> Option<PixelBox> {
        (self.x0 <= self.x1).then(|| {
            [
                self.x0,
                self.y0,
                self.x1 - self.x0 + 1,
                self.y1 - self.y0 + 1,
            ]
        })
    }
}

/// Computes every instance's labels for one image. Long: boxes, masks, visibility, keypoints
/// and groups come from one pass over the frame's buffers.
pub fn extract(scene: &Scene, frame: &Frame, spec: &LabelSpec) -> Vec<InstanceLabel> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let n = scene.instances.len();
    let slot = |id: u32| -> Option<usize> {
        (is_labelled(id) && (id as usize) <= n).then(|| id as usize - 1)
    };

    // one column-major pass builds every instance's RLE, pixel count and visible extent
    let mut counts: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut last_end = vec![0u64; n];
    let mut run_start = vec![0u64; n];
    let mut pixels = vec![0u64; n];
    let mut extent = vec![Extent::EMPTY; n];
    let mut prev: Option<usize> = None;
    let mut pos = 0u64;
    for x in 0..w {
        for y in 0..h {
            let cur = slot(frame.ids[y * w + x]);
            if cur != prev {
                if let Some(a) = prev {
                    counts[a].push((pos - run_start[a]) as u32);
                    last_end[a] = pos;
                }
                if let Some(b) = cur {
                    counts[b].push((pos - last_end[b]) as u32);
                    run_start[b] = pos;
                }
                prev = cur;
            }
            if let Some(k) = cur {
                pixels[k] += 1;
                extent[k].add(x as u32, y as u32);
            }
            pos += 1;
        }
    }
    if let Some(a) = prev {
        counts[a].push((pos - run_start[a]) as u32);
        last_end[a] = pos;
    }
    for k in 0..n {
        if last_end[k] < pos || counts[k].is_empty() {
            counts[k].push((pos - last_end[k]) as u32);
        }
    }

    let mut labels: Vec<InstanceLabel> = scene
        .instances
        .iter()
        .enumerate()
        .map(|(k, inst)| {
            let words = (w * h).div_ceil(32);
            let bits = frame.alone.get(k * words..(k + 1) * words).unwrap_or(&[]);
            let (alone, full) = coverage(bits, w);
            // every visible pixel is covered alone too (same rasteriser, same vertices)
            let alone = alone.max(pixels[k]);
            let visibility = if alone == 0 {
                0.0
            } else {
                pixels[k] as f64 / alone as f64
            };
            let keypoints = inst
                .keypoints
                .iter()
                .map(|kp| keypoint(scene, frame, inst.world_from_model.transform_point3(*kp)))
                .collect();
            let labeled = inst.class.is_some()
                && pixels[k] > 0
                && pixels[k] >= spec.min_visible_pixels as u64
                && visibility >= spec.min_visibility;
            InstanceLabel {
                id: inst.id,
                class: inst.class.unwrap_or(0),
                visible_pixels: pixels[k],
                alone_pixels: alone,
                visibility,
                bbox: extent[k].to_box(),
                bbox_full: full.to_box(),
                rle: Rle {
                    height: h as u32,
                    width: w as u32,
                    counts: std::mem::take(&mut counts[k]),
                },
                keypoints,
                pose: pose(scene, &inst.world_from_model),
                labeled,
            }
        })
        .collect();
    for (k, inst) in scene.instances.iter().enumerate() {
        if inst.group {
            group_label(scene, frame, spec, k, &mut labels[k]);
        }
    }
    labels
}

/// Re-labels instance `k` (`label: group`) over itself and everything placed on it, directly
/// or through other objects: mask, boxes and visibility of their union.
fn group_label(
    scene: &Scene,
    frame: &Frame,
    spec: &LabelSpec,
    k: usize,
    label: &mut InstanceLabel,
) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    // parents come before their children, so one pass finds every descendant
    let mut member = vec![false; scene.instances.len()];
    for (i, inst) in scene.instances.iter().enumerate() {
        member[i] = i == k || inst.parent.is_some_and(|p| member[p as usize - 1]);
    }
    let is_member =
        |id: u32| is_labelled(id) && member.get(id as usize - 1).copied().unwrap_or(false);
    let mask: Vec<bool> = frame.ids.iter().map(|&id| is_member(id)).collect();
    let mut extent = Extent::EMPTY;
    let mut pixels = 0u64;
    for (p, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
        pixels += 1;
        extent.add((p % w) as u32, (p / w) as u32);
    }
    let words = (w * h).div_ceil(32);
    let mut bits = vec![0u32; words];
    for (i, _) in member.iter().enumerate().filter(|(_, m)| **m) {
        if scene.instances[i].class.is_none() {
            continue; // scenery is never visible in `ids`, so it must not count as hidden
        }
        if let Some(src) = frame.alone.get(i * words..(i + 1) * words) {
            bits.iter_mut().zip(src).for_each(|(b, s)| *b |= s);
        }
    }
    let (alone, full) = coverage(&bits, w);
    let alone = alone.max(pixels);
    label.visible_pixels = pixels;
    label.alone_pixels = alone;
    label.visibility = if alone == 0 {
        0.0
    } else {
        pixels as f64 / alone as f64
    };
    label.bbox = extent.to_box();
    label.bbox_full = full.to_box();
    label.rle = Rle::from_mask(&mask, w as u32, h as u32);
    label.labeled = scene.instances[k].class.is_some()
        && pixels > 0
        && pixels >= spec.min_visible_pixels as u64
        && label.visibility >= spec.min_visibility;
}

/// Pixel count and extent of a coverage bitmap (bit `p % 32` of word `p / 32` is pixel `p`).
fn coverage(bits: &[u32], width: usize) -> (u64, Extent) {
    let mut count = 0u64;
    let mut e = Extent::EMPTY;
    for (wi, &word) in bits.iter().enumerate() {
        if word == 0 {
            continue;
        }
        count += word.count_ones() as u64;
        // the set bits of one row within this word are contiguous in x, so their lowest and
        // highest give that row's extent; a word can span several rows
        let mut rest = word;
        while rest != 0 {
            let p = wi * 32 + rest.trailing_zeros() as usize;
            let row = p / width;
            let row_end_bit = ((row + 1) * width - wi * 32).min(32);
            let mask = if row_end_bit >= 32 {
                u32::MAX
            } else {
                (1u32 << row_end_bit) - 1
            };
            let part = rest & mask;
            let hi = wi * 32 + 31 - part.leading_zeros() as usize;
            e.add((p % width) as u32, row as u32);
            e.add((hi % width) as u32, row as u32);
            rest &= !mask;
        }
    }
    (count, e)
}

/// Relative depth tolerance for a keypoint lying on the surface the depth buffer saw.
const KEYPOINT_DEPTH_TOLERANCE: f64 = 0.02;

fn keypoint(scene: &Scene, frame: &Frame, world: Vec3) -> Keypoint {
    let cam = scene.camera.to_camera(world);
    let Some((u, v)) = scene.camera.project(cam) else {
        return Keypoint {
            x: 0.0,
            y: 0.0,
            v: 0,
        };
    };
    let (w, h) = (frame.width as f64, frame.height as f64);
    if !(0.0..w).contains(&u) || !(0.0..h).contains(&v) {
        return Keypoint {
            x: 0.0,
            y: 0.0,
            v: 0,
        };
    }
    let d = frame.depth[v as usize * frame.width as usize + u as usize] as f64;
    let z = cam.z as f64;
    let visible = d == 0.0 || d >= z * (1.0 - KEYPOINT_DEPTH_TOLERANCE);
    Keypoint {
        x: u,
        y: v,
        v: if visible { 2 } else { 1 },
    }
}

fn pose(scene: &Scene, world_from_model: &glam::Mat4) -> Pose {
    let cam = &scene.camera;
    let m3 = Mat3::from_mat4(*world_from_model);
    let scale = m3.x_axis.length();
    let r = cam.rot * (m3 * (1.0 / scale.max(1e-12)));
    let t = cam.rot * (world_from_model.w_axis.truncate() - cam.pos);
    let rows = [r.row(0), r.row(1), r.row(2)].map(|v| [v.x as f64, v.y as f64, v.z as f64]);
    Pose {
        rotation: rows,
        translation: [t.x as f64, t.y as f64, t.z as f64],
        scale: scale as f64,
    }
}

/// The mask of instance `id` as a row-major bool image.
pub fn instance_mask(ids: &[u32], id: u32) -> Vec<bool> {
    ids.iter().map(|v| *v == id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_instance_rle_matches_single_mask_encoding() {
        let (w, h) = (9u32, 7u32);
        let mut seed = 99u64;
        let ids: Vec<u32> = (0..w * h)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((seed >> 61) as u32).min(3)
            })
            .collect();
        let scene = crate::test_support::empty_scene(w, h, 3);
        let words = (w * h).div_ceil(32) as usize;
        let frame = Frame {
            width: w,
            height: h,
            color: vec![0; (w * h * 4) as usize],
            ids: ids.clone(),
            depth: vec![0.0; (w * h) as usize],
            normals: None,
            alone: vec![u32::MAX; words * 3],
        };
        let labels = extract(
            &scene,
            &frame,
            &LabelSpec {
                min_visible_pixels: 0,
                min_visibility: 0.0,
            },
        );
        for l in &labels {
            let want = Rle::from_mask(&instance_mask(&ids, l.id), w, h);
            assert_eq!(l.rle, want, "instance {}", l.id);
            assert_eq!(l.rle.area(), l.visible_pixels);
        }
    }

    #[test]
    fn coverage_bits_give_count_and_extent() {
        let (w, h) = (10usize, 7usize);
        for (x0, y0, x1, y1) in [(2, 1, 5, 3), (0, 0, 9, 6), (7, 2, 9, 6), (3, 3, 3, 3)] {
            let mut bits = vec![0u32; (w * h).div_ceil(32)];
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let p = y * w + x;
                    bits[p / 32] |= 1 << (p % 32);
                }
            }
            let (n, e) = coverage(&bits, w);
            assert_eq!(n as usize, (x1 - x0 + 1) * (y1 - y0 + 1));
            assert_eq!(
                e.to_box(),
                Some([
                    x0 as u32,
                    y0 as u32,
                    (x1 - x0 + 1) as u32,
                    (y1 - y0 + 1) as u32
                ])
            );
        }
    }
}
