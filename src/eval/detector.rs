//! The detector probe: a small detector trained at run time on a labelled synthetic set and
//! run on unlabelled photos, so that a set is judged by what a detector trained on it does on
//! the photos, not by how its pixels look. Realism figures on random features see colour,
//! texture and noise; on real targets they ranked sets against what a detector gained
//! (bench/simreal/agreement.py), while this probe asks the detector itself.
//!
//! The detector is CenterNet's idea at its smallest: a five-layer conv net (stride 4, dilated
//! layers for context) that predicts a heatmap of object centres (Gaussian targets, focal loss)
//! and the log box size at each centre, trained for a few hundred steps on the set's images
//! letterboxed to a small square, with flips and brightness/contrast jitter. Everything here is
//! plain tensors in, numbers out; reading datasets and photos is the caller's.

use crate::labels::manifest::ManifestLine;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, sigmoid};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

pub use super::ap::Detection;

/// Side of the square the detector sees.
pub const RES: usize = 128;
/// Output stride: the heatmap is RES / STRIDE on a side.
const STRIDE: usize = 4;
const GRID: usize = RES / STRIDE;
const WIDTHS: [usize; 4] = [16, 32, 64, 64];

/// One training image: CHW in [-1, 1], RES × RES (letterboxed), and its objects' boxes
/// `[x, y, w, h]` in those pixels.
#[derive(Debug, Clone)]
pub struct Sample {
    pub image: Vec<f32>,
    pub boxes: Vec<[f32; 4]>,
}

/// `img` shrunk (or enlarged) to fit RES × RES keeping its aspect, at the top left, the rest
/// mid-grey (0), as CHW in [-1, 1]; and the scale applied (output px per input px).
pub fn letterbox(img: &RgbImage, channels: usize) -> (Vec<f32>, f32) {
    let (w, h) = img.dimensions();
    let s = RES as f32 / w.max(h) as f32;
    let (nw, nh) = (
        ((w as f32 * s).round() as u32).clamp(1, RES as u32),
        ((h as f32 * s).round() as u32).clamp(1, RES as u32),
    );
    let small = image::imageops::resize(img, nw, nh, image::imageops::FilterType::Triangle);
    let chw = crate::pixels::chw::to_chw(&small, channels, false);
    let mut out = vec![0.0f32; channels * RES * RES];
    for c in 0..channels {
        for y in 0..nh as usize {
            let src = c * (nw * nh) as usize + y * nw as usize;
            let dst = c * RES * RES + y * RES;
            out[dst..dst + nw as usize].copy_from_slice(&chw[src..src + nw as usize]);
        }
    }
    (out, s)
}

#[derive(Module, Debug)]
struct Net {
    c1: Conv2d,
    c2: Conv2d,
    c3: Conv2d,
    c4: Conv2d,
    c5: Conv2d,
    heat: Conv2d,
    size: Conv2d,
}

impl Net {
    fn new(channels: usize, device: &Device) -> Net {
        let conv = |i: usize, o: usize, stride: usize, dilation: usize| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_stride([stride, stride])
                .with_dilation([dilation, dilation])
                .with_padding(PaddingConfig2d::Explicit(
                    dilation, dilation, dilation, dilation,
                ))
                .init(device)
        };
        let [a, b, c, d] = WIDTHS;
        let mut heat = Conv2dConfig::new([d, 1], [1, 1]).init(device);
        // a prior of 0.1 on every cell, so the first steps are not spent silencing the map
        heat.bias = heat
            .bias
            .map(|p| p.map(|t| t.zeros_like().add_scalar(-2.19)));
        Net {
            c1: conv(channels, a, 2, 1),
            c2: conv(a, b, 2, 1),
            c3: conv(b, c, 1, 1),
            c4: conv(c, c, 1, 2),
            c5: conv(c, d, 1, 4),
            heat,
            size: Conv2dConfig::new([d, 2], [1, 1]).init(device),
        }
    }

    /// [B, C, RES, RES] → (heat logits [B, 1, G, G], log box size in grid cells [B, 2, G, G]).
    fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let x = leaky_relu(self.c1.forward(x), 0.1); // [B, 16, RES/2, RES/2]
        let x = leaky_relu(self.c2.forward(x), 0.1); // [B, 32, G, G]
        let x = leaky_relu(self.c3.forward(x), 0.1); // [B, 64, G, G]
        let x = leaky_relu(self.c4.forward(x), 0.1); // [B, 64, G, G]
        let x = leaky_relu(self.c5.forward(x), 0.1); // [B, 64, G, G]
        (self.heat.forward(x.clone()), self.size.forward(x))
    }
}

/// Training targets of one sample: the centre heatmap (a Gaussian per object, 1 at its centre
/// cell), the log size at centre cells, and the centre-cell mask; each G × G (size: 2 × G × G).
fn targets(boxes: &[[f32; 4]]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let g = GRID;
    let mut heat = vec![0.0f32; g * g];
    let mut size = vec![0.0f32; 2 * g * g];
    let mut mask = vec![0.0f32; g * g];
    for b in boxes {
        let [x, y, w, h] = b.map(|v| v / STRIDE as f32);
        if w < 0.5 || h < 0.5 {
            continue;
        }
        let (cx, cy) = (x + w / 2.0, y + h / 2.0);
        let sigma = ((w * h).sqrt() / 6.0).max(0.5);
        for gy in 0..g {
            for gx in 0..g {
                let d2 = (gx as f32 + 0.5 - cx).powi(2) + (gy as f32 + 0.5 - cy).powi(2);
                let v = (-d2 / (2.0 * sigma * sigma)).exp();
                let cell = &mut heat[gy * g + gx];
                *cell = cell.max(v);
            }
        }
        let (ix, iy) = (
            (cx.max(0.0) as usize).min(g - 1),
            (cy.max(0.0) as usize).min(g - 1),
        );
        heat[iy * g + ix] = 1.0;
        size[iy * g + ix] = w.ln();
        size[g * g + iy * g + ix] = h.ln();
        mask[iy * g + ix] = 1.0;
    }
    (heat, size, mask)
}

/// CenterNet's focal loss on the heatmap: `pred` logits, `gt` targets, `pos` centre cells.
fn focal(pred: Tensor<4>, gt: Tensor<4>, pos: Tensor<4>) -> Tensor<1> {
    let p = sigmoid(pred).clamp(1e-4, 1.0 - 1e-4);
    let neg = pos.clone().neg().add_scalar(1.0);
    let n = pos.clone().sum().clamp_min(1.0);
    let pos_loss = p.clone().log() * p.clone().neg().add_scalar(1.0).powi_scalar(2) * pos;
    let neg_loss = p.clone().neg().add_scalar(1.0).log()
        * p.powi_scalar(2)
        * gt.neg().add_scalar(1.0).powi_scalar(4)
        * neg;
    (pos_loss.sum() + neg_loss.sum()).neg() / n
}

/// A trained probe detector.
pub struct Detector {
    net: Net,
    channels: usize,
    device: Device,
    /// The last step's loss.
    pub loss: f64,
}

/// Trains a detector on `samples` (CHW images of `channels` × RES × RES) for `steps` steps of
/// batch 16, from weights drawn with `seed`. Same seed, same samples: same detector.
pub fn train(samples: &[Sample], channels: usize, steps: usize, seed: u64) -> Detector {
    let device = Device::flex().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut net = crate::augment::model::drawing(Some((&device, seed)), || {
        let n = Net::new(channels, &device);
        crate::augment::model::materialize(&n);
        n
    });
    let targets: Vec<_> = samples.iter().map(|s| targets(&s.boxes)).collect();
    let mut opt = AdamConfig::new().init();
    let batch = 16usize;
    let (g, n) = (GRID, channels * RES * RES);
    let mut loss_value = f64::NAN;
    for _ in 0..steps {
        let (mut x, mut heat, mut size, mut mask) = (
            Vec::with_capacity(batch * n),
            Vec::with_capacity(batch * g * g),
            Vec::with_capacity(batch * 2 * g * g),
            Vec::with_capacity(batch * g * g),
        );
        for _ in 0..batch {
            let i = rng.gen_range(0..samples.len());
            let (t_heat, t_size, t_mask) = &targets[i];
            let flip = rng.gen_bool(0.5);
            let (gain, offset) = (rng.gen_range(0.7f32..1.3), rng.gen_range(-0.2f32..0.2));
            let img = &samples[i].image;
            for row in img.chunks(RES) {
                for k in 0..RES {
                    let v = if flip { row[RES - 1 - k] } else { row[k] };
                    x.push((v * gain + offset).clamp(-1.0, 1.0));
                }
            }
            for (dst, src) in [
                (&mut heat, t_heat),
                (&mut size, t_size),
                (&mut mask, t_mask),
            ] {
                for row in src.chunks(g) {
                    if flip {
                        dst.extend(row.iter().rev());
                    } else {
                        dst.extend_from_slice(row);
                    }
                }
            }
        }
        let t4 = |v: Vec<f32>, c: usize| {
            Tensor::<4>::from_data(TensorData::new(v, [batch, c, g, g]), &device)
        };
        let x = Tensor::<4>::from_data(TensorData::new(x, [batch, channels, RES, RES]), &device);
        let (heat, size, mask) = (t4(heat, 1), t4(size, 2), t4(mask, 1));
        let (pred_heat, pred_size) = net.forward(x);
        let cells = mask.clone().sum().clamp_min(1.0);
        let size_loss = ((pred_size - size) * mask.clone().repeat_dim(1, 2))
            .abs()
            .sum()
            / cells;
        let loss = focal(pred_heat, heat, mask) + size_loss.mul_scalar(0.1);
        loss_value = crate::augment::model::first_value(loss.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = opt.step(2e-3, net, grads);
    }
    Detector {
        net,
        channels,
        device,
        loss: loss_value,
    }
}

impl Detector {
    /// The centre heatmap (probabilities) and the log box size (in grid cells, 2 maps) of each
    /// CHW image, each G × G row-major.
    fn maps(&self, images: &[Vec<f32>]) -> Vec<(Vec<f32>, Vec<f32>)> {
        let n = self.channels * RES * RES;
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(32) {
            let flat: Vec<f32> = chunk.iter().flat_map(|v| v.iter().copied()).collect();
            let x = Tensor::<4>::from_data(
                TensorData::new(flat, [chunk.len(), self.channels, RES, RES]),
                &self.device,
            )
            .detach();
            debug_assert_eq!(chunk[0].len(), n);
            let (heat, size) = self.net.forward(x);
            let heat = crate::augment::model::values(sigmoid(heat));
            let size = crate::augment::model::values(size);
            out.extend(
                heat.chunks(GRID * GRID)
                    .zip(size.chunks(2 * GRID * GRID))
                    .map(|(h, s)| (h.to_vec(), s.to_vec())),
            );
        }
        out
    }

    /// The centre heatmap (probabilities, G × G row-major) of each CHW image.
    pub fn heatmaps(&self, images: &[Vec<f32>]) -> Vec<Vec<f32>> {
        self.maps(images).into_iter().map(|(h, _)| h).collect()
    }
}

/// Weakest centre cell decoded as a detection (AP needs the low-scoring tail too, as
/// COCOeval's 0.001 does for YOLO).
const DETECT_MIN: f32 = 0.01;
/// Most detections an image, as COCOeval's maxDets.
const MAX_DETECTIONS: usize = 100;

/// Detections of one image from its heatmap and log size maps: every local maximum of at least
/// DETECT_MIN (strongest MAX_DETECTIONS), a box of the predicted size centred on its cell.
pub fn decode(heat: &[f32], size: &[f32]) -> Vec<Detection> {
    let g = GRID;
    let s = STRIDE as f32;
    let mut out: Vec<Detection> = (0..g * g)
        .filter(|&i| is_peak(heat, i % g, i / g, DETECT_MIN))
        .map(|i| {
            let (x, y) = ((i % g) as f32 + 0.5, (i / g) as f32 + 0.5);
            // a size map gone wild on an odd photo must not make an infinite box
            let (w, h) = (
                size[i].clamp(-3.0, 4.0).exp(),
                size[g * g + i].clamp(-3.0, 4.0).exp(),
            );
            Detection {
                bbox: [(x - w / 2.0) * s, (y - h / 2.0) * s, w * s, h * s],
                score: heat[i],
            }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(MAX_DETECTIONS);
    out
}

/// A peak: a heatmap cell at least this strong and the strongest of its 3 × 3 neighbours.
pub const PEAK: f32 = 0.3;
/// The probe must reach this mean strongest response on held-out renders of its own set, or it
/// has not learned the set's objects and says nothing about the photos.
pub const LEARNED_TOP: f64 = 0.3;
/// Most images the probe trains on (spread evenly over the set) and holds out.
const MAX_TRAIN: usize = 256;
const MAX_HELD: usize = 64;

/// Peaks of one G × G heatmap (see [`PEAK`]).
pub fn peaks(map: &[f32]) -> usize {
    (0..GRID * GRID)
        .filter(|&i| is_peak(map, i % GRID, i / GRID, PEAK))
        .count()
}

/// Whether cell (x, y) of a G × G map is at least `min` and the strongest of its 3 × 3
/// neighbours (ties: the first cell in reading order is the peak).
fn is_peak(map: &[f32], x: usize, y: usize, min: f32) -> bool {
    let g = GRID;
    let v = map[y * g + x];
    if v < min {
        return false;
    }
    for (dy, dx) in [
        (-1i32, -1i32),
        (-1, 0),
        (-1, 1),
        (0, -1),
        (0, 1),
        (1, -1),
        (1, 0),
        (1, 1),
    ] {
        let (yy, xx) = (y as i32 + dy, x as i32 + dx);
        if yy < 0 || xx < 0 || yy >= g as i32 || xx >= g as i32 {
            continue;
        }
        let w = map[yy as usize * g + xx as usize];
        if w > v || (w == v && (dy < 0 || (dy == 0 && dx < 0))) {
            return false;
        }
    }
    true
}

/// How the probe sees a set of images: mean peaks per image, the mean of each image's
/// strongest cell, and the mean of its heatmap (how much of the image it calls object).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Seen {
    pub peaks: f64,
    pub top: f64,
    pub heat: f64,
}

/// How the probe sees the images of `maps` (heatmaps of [`Detector::heatmaps`]).
pub fn seen(maps: &[Vec<f32>]) -> Seen {
    let n = maps.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Vec<f32>) -> f64| maps.iter().map(f).sum::<f64>() / n;
    Seen {
        peaks: mean(&|m| peaks(m) as f64),
        top: mean(&|m| m.iter().copied().fold(0.0f32, f32::max) as f64),
        heat: mean(&|m| m.iter().map(|v| *v as f64).sum::<f64>() / m.len().max(1) as f64),
    }
}

/// The detector probe of a labelled set against photos.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// In (0, 1]: how alike the probe behaves on the photos and on held-out images of its own
    /// set (peaks per image and strongest response, each as the smaller over the larger, times
    /// each other); 1 = a detector trained on the set finds as much, as surely, on the photos as
    /// on the set. `None` when it cannot rank (see `cannot_rank`).
    pub score: Option<f64>,
    /// Why there is no score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_rank: Option<String>,
    pub photos: Seen,
    pub renders: Seen,
    /// With labelled photos (`eval --real-labels`): the AP50 and the AP (IoU 0.50:0.95, as
    /// COCOeval) of the probe's boxes on them: what a detector trained on the set finds in
    /// the photos, measured against their labels. `None` without labels or when it cannot rank.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo_ap50: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo_ap: Option<f64>,
    /// Photos with labels the AP was measured on.
    pub labelled_photos: usize,
    /// Labelled objects per training image of the set.
    pub objects_per_image: f64,
    pub train_images: usize,
    pub held_out: usize,
    pub steps: usize,
    pub loss: f64,
}

impl Probe {
    /// A probe of `steps` on `train_images` (with `objects_per_image`) and `held_out` images,
    /// before it has seen anything.
    fn unjudged(
        train_images: usize,
        held_out: usize,
        objects_per_image: f64,
        steps: usize,
    ) -> Probe {
        Probe {
            score: None,
            cannot_rank: None,
            photos: Seen::default(),
            renders: Seen::default(),
            photo_ap50: None,
            photo_ap: None,
            labelled_photos: 0,
            objects_per_image,
            train_images,
            held_out,
            steps,
            loss: f64::NAN,
        }
    }
}

/// The probe's score from how it saw photos and held-out renders (see [`Probe::score`]).
pub fn score(photos: &Seen, renders: &Seen) -> f64 {
    let ratio = |a: f64, b: f64| a.min(b) / a.max(b).max(1e-9);
    ratio(1.0 + photos.peaks, 1.0 + renders.peaks) * ratio(photos.top, renders.top)
}

/// The labelled images of a dataset folder `dir` from its parsed manifest `lines` (every
/// labelled object of every class as one class), letterboxed: at most MAX_TRAIN + MAX_HELD,
/// spread evenly. Lines without a readable image are skipped.
pub fn dataset_samples(
    dir: &std::path::Path,
    lines: &[ManifestLine],
    channels: usize,
) -> Vec<Sample> {
    let want = MAX_TRAIN + MAX_HELD;
    let picked: Vec<&ManifestLine> = if lines.len() <= want {
        lines.iter().collect()
    } else {
        (0..want).map(|k| &lines[k * lines.len() / want]).collect()
    };
    let mut out = Vec::with_capacity(picked.len());
    for line in picked {
        let Ok(img) = image::open(dir.join(&line.file)) else {
            continue;
        };
        let (image, s) = letterbox(&img.to_rgb8(), channels);
        let boxes = line
            .objects
            .iter()
            .filter(|o| o.labeled)
            .filter_map(|o| o.bbox)
            .map(|b| b.map(|x| x as f32 * s))
            .collect();
        out.push(Sample { image, boxes });
    }
    out
}

/// Trains the probe on `samples` (all but every fifth, which is held out) for `steps` and runs
/// it on the held-out samples and on `photos` (letterboxed CHW); with `labels` (photo index,
/// its boxes in the letterboxed pixels) also scores its boxes on those photos.
pub fn probe(
    samples: &[Sample],
    photos: &[Vec<f32>],
    labels: &[(usize, Vec<[f32; 4]>)],
    channels: usize,
    steps: usize,
    seed: u64,
) -> Probe {
    let (mut train_set, mut held) = (Vec::new(), Vec::new());
    for (i, s) in samples.iter().enumerate() {
        if i % 5 == 4 && held.len() < MAX_HELD {
            held.push(s.image.clone());
        } else if train_set.len() < MAX_TRAIN {
            train_set.push(s.clone());
        }
    }
    let objects: usize = train_set.iter().map(|s| s.boxes.len()).sum();
    let objects_per_image = objects as f64 / train_set.len().max(1) as f64;
    let mut p = Probe::unjudged(train_set.len(), held.len(), objects_per_image, steps);
    if train_set.len() < 20 || held.len() < 4 || objects == 0 {
        p.cannot_rank = Some(format!(
            "the set has {} labelled image(s) with {objects} labelled object(s): the probe detector needs 25 or more images with labelled objects",
            samples.len()
        ));
        return p;
    }
    let det = train(&train_set, channels, steps, seed);
    judge(&det, &held, photos, labels, &mut p);
    p
}

/// Fills in how `det` sees the held-out images of its set and the photos, and the score; with
/// `labels` (photo index, boxes), the AP of its boxes on those photos, from the same pass.
fn judge(
    det: &Detector,
    held: &[Vec<f32>],
    photos: &[Vec<f32>],
    labels: &[(usize, Vec<[f32; 4]>)],
    p: &mut Probe,
) {
    let steps = p.steps;
    p.loss = det.loss;
    p.renders = seen(&det.heatmaps(held));
    let maps = det.maps(photos);
    let heat: Vec<Vec<f32>> = maps.iter().map(|(h, _)| h.clone()).collect();
    p.photos = seen(&heat);
    if p.renders.top < LEARNED_TOP {
        p.cannot_rank = Some(format!(
            "the probe detector did not learn the set's objects in {steps} steps (strongest response on held-out images {:.2}, under {LEARNED_TOP}): objects too small for its {RES} px view, or too few steps",
            p.renders.top
        ));
    } else {
        p.score = Some(score(&p.photos, &p.renders));
        let dets: Vec<Vec<Detection>> = labels
            .iter()
            .map(|(i, _)| decode(&maps[*i].0, &maps[*i].1))
            .collect();
        let truth: Vec<Vec<[f32; 4]>> = labels.iter().map(|(_, b)| b.clone()).collect();
        if let Some((ap50, ap)) = super::ap::coco_ap(&dets, &truth) {
            (p.photo_ap50, p.photo_ap) = (Some(ap50), Some(ap));
            p.labelled_photos = labels.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bright squares of side 12-24 px on a dark noisy ground, with their boxes.
    fn squares(n: usize, seed: u64) -> Vec<Sample> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let mut image: Vec<f32> = (0..RES * RES)
                    .map(|_| -0.6 + rng.gen_range(-0.1..0.1))
                    .collect();
                let mut boxes = Vec::new();
                for _ in 0..rng.gen_range(1..4) {
                    let s = rng.gen_range(12..24);
                    let (x0, y0) = (rng.gen_range(0..RES - s), rng.gen_range(0..RES - s));
                    for y in y0..y0 + s {
                        for x in x0..x0 + s {
                            image[y * RES + x] = 0.7;
                        }
                    }
                    boxes.push([x0 as f32, y0 as f32, s as f32, s as f32]);
                }
                Sample { image, boxes }
            })
            .collect()
    }

    #[test]
    fn peaks_are_strong_local_maxima_counted_once() {
        let mut m = vec![0.0f32; GRID * GRID];
        m[5 * GRID + 5] = 0.9;
        m[5 * GRID + 6] = 0.8; // beside a stronger one: no peak
        m[20 * GRID + 20] = 0.5;
        m[20 * GRID + 21] = 0.5; // a tie: one peak
        m[10 * GRID + 25] = 0.2; // too weak
        assert_eq!(peaks(&m), 2);
        let a = Seen {
            peaks: 1.0,
            top: 0.8,
            heat: 0.0,
        };
        assert_eq!(score(&a, &a), 1.0);
        let b = Seen {
            peaks: 3.0,
            top: 0.4,
            heat: 0.0,
        };
        assert!((score(&b, &a) - 0.5 * 0.5).abs() < 1e-12);
        assert_eq!(score(&b, &a), score(&a, &b));
    }

    #[test]
    fn targets_peak_at_each_centre() {
        let (heat, size, mask) = targets(&[[8.0, 8.0, 16.0, 8.0]]);
        // centre (16, 12) px = cell (4, 3)
        assert_eq!(mask.iter().filter(|m| **m == 1.0).count(), 1);
        assert_eq!(mask[3 * GRID + 4], 1.0);
        assert_eq!(heat[3 * GRID + 4], 1.0);
        assert!(heat[3 * GRID + 10] < 0.01);
        assert!((size[3 * GRID + 4] - 4.0f32.ln()).abs() < 1e-6);
        assert!((size[GRID * GRID + 3 * GRID + 4] - 2.0f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn letterbox_keeps_aspect_and_pads_grey() {
        let img = RgbImage::from_pixel(256, 128, image::Rgb([255, 255, 255]));
        let (x, s) = letterbox(&img, 1);
        assert_eq!(s, 0.5);
        assert!((x[10 * RES + 10] - 1.0).abs() < 1e-6);
        assert_eq!(x[100 * RES + 10], 0.0); // below the image: padding
    }

    /// One detector trained on squares (120 steps: the debug build is slow) serves every check.
    #[test]
    fn learns_squares_and_scores_photos_like_its_set_above_photos_unlike_it() {
        let train_set = squares(80, 1);
        let det = train(&train_set, 1, 120, 7);
        let held: Vec<Vec<f32>> = squares(16, 2).into_iter().map(|s| s.image).collect();
        let empty: Vec<Vec<f32>> = held.iter().map(|v| vec![-0.6; v.len()]).collect();
        let (a, b) = (seen(&det.heatmaps(&held)), seen(&det.heatmaps(&empty)));
        eprintln!("objects {a:?}, empty {b:?}, loss {}", det.loss);
        assert!(a.top > 0.5, "{a:?}");
        assert!(b.top < 0.5 * a.top, "{a:?} vs {b:?}");
        // photos like the set against the same scenes in negative (dark squares on a bright
        // ground): a detector that transfers behaves on them as on its set
        let like_set = squares(12, 5);
        let labels: Vec<(usize, Vec<[f32; 4]>)> = like_set
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.boxes.clone()))
            .collect();
        let like: Vec<Vec<f32>> = like_set.into_iter().map(|s| s.image).collect();
        let unlike: Vec<Vec<f32>> = like
            .iter()
            .map(|v| v.iter().map(|x| -x).collect())
            .collect();
        let blank = || Probe::unjudged(80, 16, 2.0, 120);
        let (mut pa, mut pb) = (blank(), blank());
        // both labelled with the squares' boxes, so each also gets the AP of its boxes
        judge(&det, &held, &like, &labels, &mut pa);
        judge(&det, &held, &unlike, &labels, &mut pb);
        eprintln!("like {pa:?}\nunlike {pb:?}");
        assert!(
            pa.score.unwrap() > pb.score.unwrap() + 0.2,
            "{pa:?} vs {pb:?}"
        );
        // its boxes on labelled photos: found where it transfers, not where it does not
        let (like_ap, unlike_ap) = (pa.photo_ap50.unwrap(), pb.photo_ap50.unwrap());
        assert_eq!((pa.labelled_photos, pb.labelled_photos), (12, 12));
        assert!(
            like_ap > 0.6 && unlike_ap < like_ap - 0.3,
            "AP50 like {like_ap} vs unlike {unlike_ap}"
        );
        // too few images: no number, and why
        let few = probe(&train_set[..10], &like, &[], 1, 5, 3);
        assert!(few.score.is_none() && few.cannot_rank.unwrap().contains("25 or more"));
    }

    #[test]
    fn the_same_seed_trains_the_same_detector() {
        let set = squares(20, 1);
        let img: Vec<Vec<f32>> = set.iter().take(2).map(|s| s.image.clone()).collect();
        let (a, b) = (train(&set, 1, 3, 9), train(&set, 1, 3, 9));
        assert_eq!(a.heatmaps(&img), b.heatmaps(&img));
        assert_ne!(a.heatmaps(&img), train(&set, 1, 3, 10).heatmaps(&img));
    }
}
