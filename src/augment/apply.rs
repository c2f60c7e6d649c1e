//! The learned stages' one entry point for a dataset: composited images in, the same images
//! augmented out, with what the stages did to each (the manifest's note: each stage's value and
//! each object's edge contrast before and after). Behind it the CPU forward ([`super::fast`],
//! a batch or one image on a worker, as it would be in its batch) and the render device's
//! ([`super::gpu`]: on read-back images, or fused between render and readback, where the
//! composite is made on the device too).

use std::time::{Duration, Instant};

use anyhow::Result;

use super::infer::{AugImage, Augmenter};
use super::stages::StageStats;
use crate::labels::contrast;
use crate::labels::manifest::AugmentNote;
use crate::pixels::composite::{self, Composited};
use crate::pixels::load::Backgrounds;
use crate::render::{ColourPass, Frame, Renderer};
use crate::scene::Scene;

/// Each object's mask and the ring around it, and its contrast across its mask's edge in `rgb`
/// (`None` when it has no edge): the regions are measured again after the stages.
fn contrasts(scene: &Scene, frame: &Frame, rgb: &[u8]) -> Before {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let regions = contrast::regions(&frame.ids, w, h, scene.instances.len());
    let contrast = contrast::contrasts_in(&regions, rgb);
    Before { regions, contrast }
}

/// What an image's note needs from before the stages: see [`contrasts`].
struct Before {
    regions: Vec<Option<contrast::Region>>,
    contrast: Vec<Option<f32>>,
}

/// Augments a batch of composited `images` (of `scenes`, rendered as `frames`) in place.
pub fn batch(
    aug: &Augmenter,
    scenes: &[Scene],
    frames: &[Frame],
    images: &mut [Composited],
) -> Result<Vec<AugmentNote>> {
    let Some(first) = frames.first() else {
        return Ok(Vec::new());
    };
    let (w, h) = (first.width as usize, first.height as usize);
    let before: Vec<Before> = scenes
        .iter()
        .zip(frames)
        .zip(images.iter())
        .map(|((s, f), im)| contrasts(s, f, &im.rgb))
        .collect();
    let mut items: Vec<AugImage<'_>> = images
        .iter_mut()
        .zip(scenes)
        .map(|(im, s)| AugImage {
            rgb: im.rgb.as_mut_slice(),
            alpha: im.coverage.as_slice(),
            seed: s.seed,
        })
        .collect();
    let st = aug.apply(&mut items, w, h)?;
    Ok(images
        .iter()
        .zip(before)
        .enumerate()
        .map(|(k, (im, before))| note(aug, &st, k, &im.rgb, before))
        .collect())
}

/// Augments one composited image on the calling thread (a worker), as it would be in its
/// render batch, whose largest blur σ is `max_sigma`; see [`batch`].
pub fn one(
    aug: &Augmenter,
    scene: &Scene,
    frame: &Frame,
    image: &mut Composited,
    max_sigma: f32,
) -> AugmentNote {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let before = contrasts(scene, frame, &image.rgb);
    let item = AugImage {
        rgb: image.rgb.as_mut_slice(),
        alpha: image.coverage.as_slice(),
        seed: scene.seed,
    };
    let st = aug.apply_one(item, w, h, max_sigma);
    note(aug, &st, 0, &image.rgb, before)
}

/// A rendered and augmented batch: the frames (their labels' buffers), the finished images,
/// their notes, and the time spent on the stages outside the device's batch.
pub struct Augmented {
    pub frames: Vec<Frame>,
    pub images: Vec<Composited>,
    pub notes: Vec<AugmentNote>,
    pub spent: Duration,
}

/// Renders a batch and applies the learned stages on the render device: between render and
/// readback when the batch fits the device in one part ([`Augmenter::fused`]: the background is
/// composited there and only finished images come back), else composited and augmented after
/// readback ([`batch`]). The time spent is that outside the device's batch (setting up, reading
/// back the stats and contrasts); the device's own time is in the renderer's.
pub fn render_and_augment(
    renderer: &mut Renderer<'_>,
    aug: &Augmenter,
    scenes: &[Scene],
    bgs: Option<&Backgrounds>,
    (w, h): (usize, usize),
) -> Result<Augmented> {
    let t = Instant::now();
    let backgrounds: Vec<Vec<u8>> = scenes
        .iter()
        .map(|s| composite::background(&s.background, bgs, w as u32, h as u32))
        .collect();
    let seeds: Vec<u64> = scenes.iter().map(|s| s.seed).collect();
    if let Some(mut fused) = aug.fused(&backgrounds, &seeds, w, h)? {
        let mut spent = t.elapsed();
        let frames = renderer.render_with(scenes, Some(&mut fused as &mut dyn ColourPass))?;
        let t = Instant::now();
        let (st, before) = fused.finish()?;
        // the frames' colour rows are the finished images
        let images: Vec<Composited> = frames
            .iter()
            .map(|f| Composited::finished(composite::drop_alpha(&f.color)))
            .collect();
        let notes = frames
            .iter()
            .zip(scenes)
            .zip(&before)
            .zip(&images)
            .enumerate()
            .map(|(k, (((f, s), b), im))| note(aug, &st, k, &im.rgb, contrasts(s, f, b)))
            .collect();
        spent += t.elapsed();
        return Ok(Augmented {
            frames,
            images,
            notes,
            spent,
        });
    }
    let mut spent = t.elapsed();
    let frames = renderer.render(scenes)?;
    let t = Instant::now();
    let mut images: Vec<Composited> = scenes
        .iter()
        .zip(&frames)
        .map(|(s, f)| Composited::of(&s.background, bgs, &f.color, f.width, f.height))
        .collect();
    let notes = batch(aug, scenes, &frames, &mut images)?;
    spent += t.elapsed();
    Ok(Augmented {
        frames,
        images,
        notes,
        spent,
    })
}

/// The manifest note of an image whose augmented pixels are `rgb`: image `k`'s values in `st`
/// and each object's contrast `before` and now.
fn note(aug: &Augmenter, st: &StageStats, k: usize, rgb: &[u8], before: Before) -> AugmentNote {
    let after = contrast::contrasts_in(&before.regions, rgb);
    let pick = |v: &[f32]| v.get(k).copied();
    AugmentNote {
        blur: pick(&st.blur),
        light_range: pick(&st.light_range),
        bg_shift: pick(&st.bg_shift),
        bg_texture: pick(&st.bg_texture),
        detail: pick(&st.detail),
        noise: aug.stages.noise.then_some(st.noise),
        contrast: before
            .contrast
            .iter()
            .zip(&after)
            .map(|(a, b)| Some([(*a)?, (*b)?]))
            .collect(),
    }
}
