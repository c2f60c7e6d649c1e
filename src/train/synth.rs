//! The synthetic side of training: renders of the config at the training resolution, with the
//! background composited, as CHW floats in [-1, 1] plus each image's coverage and seed. The only
//! place in `train` that renders.

use anyhow::Result;

use crate::config::{Background, Config};
use crate::pixels::chw::rgb_to_chw;
use crate::pixels::composite::Composited;
use crate::pixels::load;
use crate::render::{RenderContext, Renderer};
use crate::scene;

/// A batch of renders: images (CHW, concatenated), coverage per image (row-major, [0, 1]),
/// instance id per pixel of each image (0 background), seeds per image.
pub struct SynthBatch {
    pub images: Vec<f32>,
    pub alphas: Vec<Vec<f32>>,
    pub ids: Vec<Vec<u32>>,
    pub seeds: Vec<u64>,
}

impl SynthBatch {
    /// The images one by one.
    pub fn split(&self, len: usize) -> Vec<Vec<f32>> {
        self.images.chunks(len).map(|c| c.to_vec()).collect()
    }
}

/// Opens the render device training's renders use (the best adapter, as `generate` does).
pub fn open_device() -> Result<RenderContext> {
    Ok(RenderContext::new()?)
}

/// Renders synthetic training images at the training resolution.
pub struct Synth<'a> {
    cfg: Config,
    renderer: Renderer<'a>,
    backgrounds: Option<load::Backgrounds>,
}

impl<'a> Synth<'a> {
    /// `stream` keeps scene streams apart (training batches, probe images), and all apart from
    /// any dataset's images.
    pub fn new(cfg: &Config, res: usize, stream: u64, ctx: &'a RenderContext) -> Result<Synth<'a>> {
        let mut c = cfg.clone();
        c.width = res as u32;
        c.height = res as u32;
        c.seed = scene::seed::mix(cfg.seed, stream);
        let backgrounds = match &c.background {
            Background::Images { files, .. } => Some(load::load_backgrounds(files, 2 * res as u32)),
            _ => None,
        };
        let renderer = Renderer::new(
            &ctx.device,
            &ctx.queue,
            c.width,
            c.height,
            if c.antialias > 1 { 4 } else { 1 },
            false,
            false,
        );
        Ok(Synth {
            cfg: c,
            renderer,
            backgrounds,
        })
    }

    /// Renders another config's scenes from now on (the same size, scene stream and background
    /// photos): `rendergan fit` judges many candidate configs on one renderer.
    pub fn set_config(&mut self, cfg: &Config) {
        let (w, h, seed) = (self.cfg.width, self.cfg.height, self.cfg.seed);
        self.cfg = cfg.clone();
        (self.cfg.width, self.cfg.height, self.cfg.seed) = (w, h, seed);
    }

    /// Renders scene indices `first..first + n`.
    pub fn batch(&mut self, first: u64, n: usize, channels: usize) -> Result<SynthBatch> {
        let scenes: Vec<scene::Scene> = (first..first + n as u64)
            .map(|i| scene::sample(&self.cfg, i))
            .collect();
        let frames = self.renderer.render(&scenes)?;
        let (w, h) = (self.cfg.width, self.cfg.height);
        let mut images = Vec::new();
        let mut alphas = Vec::new();
        let mut ids = Vec::new();
        for (s, f) in scenes.iter().zip(frames) {
            let image = Composited::of(&s.background, self.backgrounds.as_ref(), &f.color, w, h);
            images.extend(rgb_to_chw(&image.rgb, channels, w as usize, h as usize));
            alphas.push(image.coverage.iter().map(|&a| a as f32 / 255.0).collect());
            ids.push(f.ids);
        }
        Ok(SynthBatch {
            images,
            alphas,
            ids,
            seeds: scenes.iter().map(|s| s.seed).collect(),
        })
    }

    /// Renders `n` images in batches of at most `batch`.
    pub fn many(
        &mut self,
        first: u64,
        n: usize,
        batch: usize,
        channels: usize,
    ) -> Result<SynthBatch> {
        let mut all = SynthBatch {
            images: Vec::new(),
            alphas: Vec::new(),
            ids: Vec::new(),
            seeds: Vec::new(),
        };
        let mut i = 0;
        while i < n {
            let k = batch.min(n - i);
            let b = self.batch(first + i as u64, k, channels)?;
            all.images.extend(b.images);
            all.alphas.extend(b.alphas);
            all.ids.extend(b.ids);
            all.seeds.extend(b.seeds);
            i += k;
        }
        Ok(all)
    }
}
