//! The synthetic side of training: renders of the config, with the background composited, as
//! CHW floats in [-1, 1] plus each image's coverage and seed: whole renders at the training
//! resolution, or (learning at the output's scale) a training-size crop of each render made at
//! the output's size, with where the crop lies. The only place in `train` that renders.

use anyhow::Result;

use rand::{Rng, SeedableRng};

use crate::augment::stages::Window;
use crate::config::{Background, Config};
use crate::pixels::chw::{busiest_of, from_chw, rgb_to_chw, to_chw};
use crate::pixels::composite::Composited;
use crate::pixels::load;
use crate::render::{is_labelled, RenderContext, Renderer};
use crate::scene;

/// A batch of renders: images (CHW, concatenated), coverage per image (row-major, [0, 1]),
/// instance id per pixel of each image (0 background), seeds per image, and where each image lies
/// in its render (the whole render when training renders whole scenes).
pub struct SynthBatch {
    pub images: Vec<f32>,
    pub alphas: Vec<Vec<f32>>,
    pub ids: Vec<Vec<u32>>,
    pub seeds: Vec<u64>,
    pub windows: Vec<Window>,
}

impl SynthBatch {
    /// The images one by one.
    pub fn split(&self, len: usize) -> Vec<Vec<f32>> {
        self.images.chunks(len).map(|c| c.to_vec()).collect()
    }
}

/// Shrunk renders (CHW) and their labelled pixels (row-major), as [`Synth::shrunk_labelled`]
/// returns them.
pub type ShrunkLabelled = (Vec<Vec<f32>>, Vec<Vec<bool>>);

/// Shrunk renders (CHW) and their instance ids (row-major, at the rendered side), as
/// [`Synth::shrunk_ids`] returns them.
pub type ShrunkIds = (Vec<Vec<f32>>, Vec<Vec<u32>>);

/// Opens the render device training's renders use (the best adapter, as `generate` does).
pub fn open_device() -> Result<RenderContext> {
    Ok(RenderContext::new()?)
}

/// Renders synthetic training images: `render`² renders cut to `res`² crops (whole when they
/// are the same size).
pub struct Synth<'a> {
    cfg: Config,
    renderer: Renderer<'a>,
    backgrounds: Option<load::Backgrounds>,
    res: usize,
}

/// Candidate windows of a render (and crops of a photo) training picks the busiest of when it
/// learns at the output's scale: most random crops of a sparse scene show plain background,
/// where no pixel stage has anything to learn.
pub const CROP_CANDIDATES: usize = 4;

/// Renders compared with photos for their content ([`Synth::shrunk`]) are made at this many
/// times the compared side and shrunk with the filter the photos are shrunk with
/// (`RealSet::crop_of`'s): a render made at the small side directly aliases its textures and
/// keeps edges a photo's shrinking softens, which content measures see as busier,
/// higher-contrast content than the same scene in a shrunk photo (measured: a checkered ball
/// scene rendered at 48² scored as far from photos of itself as a scene 30 % farther away;
/// train's busy-block check read 41–44 % on renders `fit` measured at 38 %).
pub const SUPERSAMPLE: usize = 2;

impl<'a> Synth<'a> {
    /// `stream` keeps scene streams apart (training batches, probe images), and all apart from
    /// any dataset's images; scenes are rendered at `render`² and cut to `res`² crops.
    pub fn new(
        cfg: &Config,
        (res, render): (usize, usize),
        stream: u64,
        ctx: &'a RenderContext,
    ) -> Result<Synth<'a>> {
        Synth::make(cfg, (res, render), stream, ctx, cfg.antialias > 1)
    }

    /// Whole renders at [`SUPERSAMPLE`] × `side`, for [`Synth::shrunk`] to `side`, without
    /// multisampling: the shrink averages SUPERSAMPLE² samples a pixel already (with 4×
    /// multisampling on top a fit took 1.37× as long a candidate on wbc's crowded scenes,
    /// objective within 0.2 %, the same points chosen).
    pub fn supersampled(
        cfg: &Config,
        side: usize,
        stream: u64,
        ctx: &'a RenderContext,
    ) -> Result<Synth<'a>> {
        let big = SUPERSAMPLE * side;
        Synth::make(cfg, (big, big), stream, ctx, false)
    }

    fn make(
        cfg: &Config,
        (res, render): (usize, usize),
        stream: u64,
        ctx: &'a RenderContext,
        multisample: bool,
    ) -> Result<Synth<'a>> {
        let render = render.max(res);
        let mut c = cfg.clone();
        c.width = render as u32;
        c.height = render as u32;
        c.seed = scene::seed::mix(cfg.seed, stream);
        let backgrounds = match &c.background {
            Background::Images { files, .. } => {
                Some(load::load_backgrounds(files, 2 * render as u32))
            }
            _ => None,
        };
        let mut renderer = Renderer::new(
            &ctx.device,
            &ctx.queue,
            c.width,
            c.height,
            if multisample { 4 } else { 1 },
            false,
            false,
        );
        // nothing here is labelled: colour and ids are all training and fit read
        renderer.coverage = false;
        Ok(Synth {
            cfg: c,
            renderer,
            backgrounds,
            res,
        })
    }

    /// Renders another config's scenes from now on (the same size, scene stream and background
    /// photos): `rendergan fit` judges many candidate configs on one renderer.
    pub fn set_config(&mut self, cfg: &Config) {
        let (w, h, seed) = (self.cfg.width, self.cfg.height, self.cfg.seed);
        self.cfg = cfg.clone();
        (self.cfg.width, self.cfg.height, self.cfg.seed) = (w, h, seed);
    }

    /// Candidate windows a crop is the busiest of: [`CROP_CANDIDATES`] when the renders are
    /// cut, 1 when each is whole. Photo crops are drawn the same way.
    pub fn candidates(&self) -> usize {
        if self.cfg.height as usize > self.res || self.cfg.width as usize > self.res {
            CROP_CANDIDATES
        } else {
            1
        }
    }

    /// Renders scene indices `first..first + n`, each cut to its crop (where, a pure function
    /// of the scene's seed).
    pub fn batch(&mut self, first: u64, n: usize, channels: usize) -> Result<SynthBatch> {
        let scenes: Vec<scene::Scene> = (first..first + n as u64)
            .map(|i| scene::sample(&self.cfg, i))
            .collect();
        let frames = self.renderer.render(&scenes)?;
        let (w, h) = (self.cfg.width, self.cfg.height);
        let (fw, fh, r) = (w as usize, h as usize, self.res);
        let mut images = Vec::new();
        let mut alphas = Vec::new();
        let mut ids = Vec::new();
        let mut windows = Vec::new();
        for (s, f) in scenes.iter().zip(frames) {
            let image = Composited::of(&s.background, self.backgrounds.as_ref(), &f.color, w, h);
            let mut pick = rand_chacha::ChaCha8Rng::seed_from_u64(scene::seed::mix(
                s.seed,
                scene::seed::CROP_WINDOW,
            ));
            let (win, crop) = busiest_of(self.candidates(), channels, r, || {
                let w = Window {
                    y: pick.gen_range(0..=fh - r),
                    x: pick.gen_range(0..=fw - r),
                    frame: (fh, fw),
                };
                (w, rgb_to_chw(&cut(&image.rgb, 3, fw, w, r), channels, r, r))
            });
            images.extend(crop);
            let coverage = cut(&image.coverage, 1, fw, win, r);
            alphas.push(coverage.iter().map(|&a| a as f32 / 255.0).collect());
            ids.push(cut(&f.ids, 1, fw, win, r));
            windows.push(win);
        }
        Ok(SynthBatch {
            images,
            alphas,
            ids,
            seeds: scenes.iter().map(|s| s.seed).collect(),
            windows,
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
            windows: Vec::new(),
        };
        let mut i = 0;
        while i < n {
            let k = batch.min(n - i);
            let b = self.batch(first + i as u64, k, channels)?;
            all.images.extend(b.images);
            all.alphas.extend(b.alphas);
            all.ids.extend(b.ids);
            all.seeds.extend(b.seeds);
            all.windows.extend(b.windows);
            i += k;
        }
        Ok(all)
    }

    /// Renders `n` images from scene `first` on (in batches of at most `batch`), each shrunk by
    /// [`SUPERSAMPLE`] as photos are (triangle filter) to the side the synth was made for with
    /// [`Synth::supersampled`], CHW with `channels` channels: what content measures compare with
    /// photo crops.
    pub fn shrunk(
        &mut self,
        first: u64,
        n: usize,
        batch: usize,
        channels: usize,
    ) -> Result<Vec<Vec<f32>>> {
        let all = self.many(first, n, batch, 3)?;
        Ok(self.shrink(&all, channels))
    }

    /// [`Synth::shrunk`], with each render's instance ids (row-major, at the rendered side
    /// [`SUPERSAMPLE`] × the shrunk one).
    pub fn shrunk_ids(
        &mut self,
        first: u64,
        n: usize,
        batch: usize,
        channels: usize,
    ) -> Result<ShrunkIds> {
        let all = self.many(first, n, batch, 3)?;
        Ok((self.shrink(&all, channels), all.ids))
    }

    /// [`Synth::shrunk`], with each image's labelled pixels (row-major, the shrunk side): those
    /// that at least half of their [`SUPERSAMPLE`]² render pixels show a labelled object on.
    pub fn shrunk_labelled(
        &mut self,
        first: u64,
        n: usize,
        batch: usize,
        channels: usize,
    ) -> Result<ShrunkLabelled> {
        use rayon::prelude::*;
        let (images, ids) = self.shrunk_ids(first, n, batch, channels)?;
        let (big, side) = (self.res, self.res / SUPERSAMPLE);
        let labelled = ids
            .par_iter()
            .map(|ids| {
                (0..side * side)
                    .map(|p| {
                        let (y, x) = (p / side * SUPERSAMPLE, p % side * SUPERSAMPLE);
                        let on = (0..SUPERSAMPLE * SUPERSAMPLE)
                            .filter(|q| {
                                is_labelled(ids[(y + q / SUPERSAMPLE) * big + x + q % SUPERSAMPLE])
                            })
                            .count();
                        2 * on >= SUPERSAMPLE * SUPERSAMPLE
                    })
                    .collect()
            })
            .collect();
        Ok((images, labelled))
    }

    /// A batch of whole [`Synth::supersampled`] renders, each shrunk by [`SUPERSAMPLE`].
    fn shrink(&self, all: &SynthBatch, channels: usize) -> Vec<Vec<f32>> {
        use rayon::prelude::*;
        let big = self.res as u32;
        let side = (self.res / SUPERSAMPLE) as u32;
        all.split(3 * (big * big) as usize)
            .par_iter()
            .map(|im| {
                let rgb = from_chw(im, 3, big, big);
                let small = image::imageops::resize(
                    &rgb,
                    side,
                    side,
                    image::imageops::FilterType::Triangle,
                );
                to_chw(&small, channels, false)
            })
            .collect()
    }
}

/// The `r` × `r` window `win` of a row-major image `fw` pixels wide, `per` values a pixel.
fn cut<T: Copy>(v: &[T], per: usize, fw: usize, win: Window, r: usize) -> Vec<T> {
    (win.y..win.y + r)
        .flat_map(|y| {
            v[(y * fw + win.x) * per..(y * fw + win.x + r) * per]
                .iter()
                .copied()
        })
        .collect()
}
