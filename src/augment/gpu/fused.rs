//! The chain between render and readback: a batch's colour rows go from the render target
//! into the chain on the device (composited over each image's background there,
//! `shaders/augment_io.wgsl`), and what comes back is the finished rows, the composite's rows
//! (the edge contrast before the stages is measured on them) and the stages' partial sums.
//! Up go each image's background pixels and its noise; the images themselves never cross
//! to the CPU before they are finished.

use std::sync::MutexGuard;

use anyhow::{bail, Result};

use super::plan::{Footprint, Geometry};
use super::run::{IoBufs, Recorded, Scratch};
use super::{Batch, GpuChain};
use crate::augment::stages::{train_size, Scales, StageStats};
use crate::augment::ImageNoise;

/// `shaders/augment_io.wgsl`'s `Io`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct IoParams {
    images: u32,
    h: u32,
    w: u32,
    c: u32,
    row: u32,
    alpha_off: u32,
    before_off: u32,
    pad: u32,
}

/// The io kernels, in `shaders/augment_io.wgsl`.
pub(super) const IO_ENTRIES: [&str; 2] = ["cs_composite", "cs_pack"];

/// One batch set up to run between render and readback: noise, tables and backgrounds
/// queued, the scratch held. [`crate::render::ColourPass`] records it into the render's
/// submission; [`finish`](Fused::finish) reads its stats once the batch is back.
pub struct Fused<'a> {
    chain: &'a GpuChain,
    // dropped (popped) in this order: the last pushed first
    invalid: wgpu::ErrorScopeGuard,
    oom: wgpu::ErrorScopeGuard,
    guard: MutexGuard<'a, Option<Scratch>>,
    recorded: Recorded,
    noise: Vec<ImageNoise>,
    max_sigma: f32,
    scale: Scales,
    geo: Geometry,
    params: wgpu::Buffer,
}

impl GpuChain {
    /// Sets up the chain for a batch of `w` × `h` renders whose colour rows are `words` u32
    /// words long: `backgrounds[k]` is image k's background (RGB8), `seeds[k]` its seed,
    /// `scale` output pixels per training pixel. `None` when the batch does not fit the
    /// device's buffers in one part (then [`apply`](GpuChain::apply) on read-back images,
    /// which runs in parts).
    pub fn fused(
        &self,
        backgrounds: &[Vec<u8>],
        seeds: &[u64],
        (h, w): (usize, usize),
        words: usize,
        scale: impl Into<Scales>,
    ) -> Result<Option<Fused<'_>>> {
        let scale: Scales = scale.into();
        if self.io.is_none() {
            return Ok(None);
        }
        let n = seeds.len();
        if backgrounds.len() != n || backgrounds.iter().any(|b| b.len() != 3 * h * w) {
            bail!("{n} images need {n} backgrounds of {w} × {h} RGB pixels");
        }
        if words < w {
            bail!("rows of {words} words cannot hold {w} pixels");
        }
        let c = self.weights.channels;
        let geo = Geometry {
            c,
            full: (h, w),
            train: train_size(h, w, scale.maps),
        };
        if n == 0 || self.images_per_batch(geo, scale.pixel, n)? < n {
            return Ok(None);
        }
        // the ends' own buffers: the output rows (finished, then the composite) are the largest
        let limits = self.device.limits();
        let binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if 8 * (n * h * words) as u64 > binding {
            return Ok(None);
        }
        let (noise, max_sigma) = self.weights.batch_noise(seeds, (h, w), scale);
        let fp = Footprint::new(&self.weights, geo, scale.pixel);
        let batch = Batch {
            alpha: &[],
            noise: &noise,
            scale,
            max_sigma,
        };
        let recorded = self.record(&batch, geo, &fp);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let invalid = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let s = self.ensure_scratch(&mut guard, &fp, geo, n, &recorded);
        self.upload(s, None, &batch, &fp);
        self.upload_table(s, &recorded);
        if s.io
            .as_ref()
            .is_none_or(|io| io.images < n || io.words != words)
        {
            s.io = None;
            let px = (4 * n * h * w) as u64;
            let rows = (4 * n * h * words) as u64;
            s.io = Some(IoBufs {
                images: n,
                words,
                back: self.buffer("augment backgrounds", px, false),
                out: self.buffer("augment finished rows", 2 * rows, false),
                before: self.buffer("augment composite readback", rows, true),
            });
        }
        let io = s.io.as_ref().expect("the io buffers were just made");
        let packed: Vec<u32> = backgrounds
            .iter()
            .flat_map(|b| b.chunks_exact(3))
            .map(|p| p[0] as u32 | (p[1] as u32) << 8 | (p[2] as u32) << 16)
            .collect();
        self.queue
            .write_buffer(&io.back, 0, bytemuck::cast_slice(&packed));
        let params = IoParams {
            images: n as u32,
            h: h as u32,
            w: w as u32,
            c: c as u32,
            row: words as u32,
            alpha_off: recorded.alpha.map_or(u32::MAX, |(at, _)| at),
            before_off: (n * h * words) as u32,
            pad: 0,
        };
        let params_buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("augment io params"),
            size: std::mem::size_of::<IoParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue
            .write_buffer(&params_buf, 0, bytemuck::bytes_of(&params));
        Ok(Some(Fused {
            chain: self,
            invalid,
            oom,
            guard,
            recorded,
            noise,
            max_sigma,
            scale,
            geo,
            params: params_buf,
        }))
    }
}

impl Fused<'_> {
    fn scratch(&self) -> &Scratch {
        self.guard
            .as_ref()
            .expect("a fused batch holds its scratch")
    }

    fn io(&self) -> &IoBufs {
        self.scratch()
            .io
            .as_ref()
            .expect("a fused batch holds its io buffers")
    }

    /// Waits for the batch (submitted with the render), and returns what each stage did per
    /// image and each image's composite before the stages (RGB8). On an error the scratch goes
    /// (a buffer may be left mapped, or refused), to be made anew for the next batch.
    pub fn finish(self) -> Result<(StageStats, Vec<Vec<u8>>)> {
        let got = self.read();
        let Fused {
            invalid,
            oom,
            mut guard,
            ..
        } = self;
        let refused = [invalid.pop(), oom.pop()].map(pollster::block_on);
        if let Some(e) = refused.into_iter().flatten().next() {
            *guard = None;
            bail!("the graphics device refused the render and augmentation batch: {e}");
        }
        if got.is_err() {
            *guard = None;
        }
        got
    }

    /// The mapped results: the stats and the composites.
    fn read(&self) -> Result<(StageStats, Vec<Vec<u8>>)> {
        let chain = self.chain;
        let s = self.scratch();
        let io = self.io();
        let (h, w) = self.geo.full;
        let n = self.noise.len();
        let rows = 4 * (n * h * io.words) as u64;
        let partials = (4 * self.recorded.partials_len).max(4) as u64;
        let slices = [s.readback.slice(..partials), io.before.slice(..rows)];
        crate::render::map_read(&chain.device, &slices, None, "the augmentation batch")?;
        let part: Vec<f32> = bytemuck::pod_collect_to_vec(&crate::render::mapped(
            &slices[0],
            "the augmentation batch",
        )?);
        let before = {
            let data = crate::render::mapped(&slices[1], "the augmentation batch")?;
            (0..n)
                .map(|k| {
                    let mut rgb = Vec::with_capacity(3 * h * w);
                    for y in 0..h {
                        let at = 4 * (k * h + y) * io.words;
                        for p in data[at..at + 4 * w].chunks_exact(4) {
                            rgb.extend_from_slice(&p[..3]);
                        }
                    }
                    rgb
                })
                .collect()
        };
        s.readback.unmap();
        io.before.unmap();
        let batch = Batch {
            alpha: &[],
            noise: &self.noise,
            scale: self.scale,
            max_sigma: self.max_sigma,
        };
        let stats = chain.finish_stats(&batch, self.geo, &self.recorded, &part);
        Ok((chain.weights.stage_stats(&stats), before))
    }
}

impl crate::render::ColourPass for Fused<'_> {
    fn record(&mut self, colour: &wgpu::Buffer) -> (wgpu::CommandBuffer, wgpu::Buffer) {
        let chain = self.chain;
        let s = self.scratch();
        let io = self.io();
        let (layout, pipes) = chain.io.as_ref().expect("a fused batch has the io kernels");
        let (h, w) = self.geo.full;
        let n = self.noise.len();
        fn whole(binding: u32, b: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
            wgpu::BindGroupEntry {
                binding,
                resource: b.as_entire_binding(),
            }
        }
        // the rows buffers may be larger than this batch needs (made for a larger one)
        fn part(binding: u32, b: &wgpu::Buffer, bytes: u64) -> wgpu::BindGroupEntry<'_> {
            wgpu::BindGroupEntry {
                binding,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: b,
                    offset: 0,
                    size: std::num::NonZeroU64::new(bytes),
                }),
            }
        }
        let rows = 4 * (n * h * io.words) as u64;
        use super::plan::Buf;
        let group = chain.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("augment io"),
            layout,
            entries: &[
                whole(0, &self.params),
                part(1, colour, rows),
                whole(2, &io.back),
                whole(3, s.get(Buf::Img)),
                whole(4, s.get(Buf::Table)),
                part(5, &io.out, 2 * rows),
            ],
        });
        let steps = &self.recorded.rec.steps;
        let (_uniform, groups) = chain.bind_steps(s, steps);
        let mut enc = chain
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("augment between render and readback"),
            });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("augment chain on the render"),
                timestamp_writes: None,
            });
            let grid = [(w as u32).div_ceil(16), (h as u32).div_ceil(16), n as u32];
            pass.set_pipeline(&pipes[0]);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
            chain.dispatch(&mut pass, steps, &groups);
            pass.set_pipeline(&pipes[1]);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
        }
        let partials = self.recorded.partials_len as u64 * 4;
        if partials > 0 {
            let from = self.recorded.partials[0] as u64 * 4;
            enc.copy_buffer_to_buffer(s.get(Buf::Table), from, &s.readback, 0, partials);
        }
        enc.copy_buffer_to_buffer(&io.out, rows, &io.before, 0, rows);
        (enc.finish(), io.out.clone())
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::GpuChain;
    use crate::augment::stages::StageConfig;
    use crate::augment::testing::shaken_chain;
    use crate::pixels::chw::{chw_to_rgb, rgb_to_chw};
    use crate::pixels::composite;
    use crate::render::{padded_row, ColourPass, RenderContext, Renderer};
    use crate::scene::Scene;

    /// The chain between render and readback gives the images, stats and labels that
    /// rendering, compositing on the CPU and the chain on the read-back images give (within
    /// one level: the device's division rounds differently), with every stage acting, in
    /// colour and grey, with multisampled edges (partly covered pixels), for a batch and then a
    /// smaller one on the same buffers; a batch too large for the device in one part is
    /// declined.
    #[test]
    fn the_chain_between_render_and_readback_matches_it_on_read_back_images() {
        let cfg = crate::config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mixed.yaml"
        )))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            cfg.antialias > 1,
            "the fixture exercises partly covered pixels"
        );
        let scenes: Vec<Scene> = (0..5).map(|i| crate::scene::sample(&cfg, i)).collect();
        let ctx = RenderContext::new().expect("a render device (install mesa-vulkan-drivers)");
        let (w, h) = (cfg.width as usize, cfg.height as usize);
        let mut r = Renderer::new(
            &ctx.device,
            &ctx.queue,
            cfg.width,
            cfg.height,
            cfg.antialias,
            false,
            false,
        );
        let words = padded_row(4 * cfg.width) as usize / 4;
        let scale = 2.0;
        for channels in [3, 1] {
            let stages = StageConfig {
                channels,
                ..StageConfig::default()
            };
            let weights = shaken_chain(&stages, &Device::flex()).export();
            let chain =
                || GpuChain::new(&ctx.device, &ctx.queue, &weights).expect("the kernels build");
            // the fused batches run on buffers of their own: nothing the reference uploads
            // (the coverage in the table) is left there for them
            let (fused_chain, reference) = (chain(), chain());
            let mut partly = 0;
            for scenes in [&scenes[..], &scenes[..3]] {
                let plain = r.render(scenes).expect("the batch renders");
                let backgrounds: Vec<Vec<u8>> = scenes
                    .iter()
                    .map(|s| composite::background(&s.background, None, cfg.width, cfg.height))
                    .collect();
                let seeds: Vec<u64> = scenes.iter().map(|s| s.seed).collect();
                let composites: Vec<Vec<u8>> = scenes
                    .iter()
                    .zip(&plain)
                    .map(|(s, f)| {
                        composite::finish(&s.background, None, &f.color, cfg.width, cfg.height)
                    })
                    .collect();
                let mut x: Vec<Vec<f32>> = composites
                    .iter()
                    .map(|c| rgb_to_chw(c, channels, w, h))
                    .collect();
                let alphas: Vec<Vec<f32>> = plain
                    .iter()
                    .map(|f| {
                        composite::coverage(&f.color)
                            .map(|a| a as f32 / 255.0)
                            .collect()
                    })
                    .collect();
                partly += plain
                    .iter()
                    .flat_map(|f| composite::coverage(&f.color))
                    .filter(|a| *a > 0 && *a < 255)
                    .count();
                let want_stats = reference
                    .apply(&mut x, &alphas, &seeds, (h, w), scale)
                    .expect("the chain runs");
                let mut fused = fused_chain
                    .fused(&backgrounds, &seeds, (h, w), words, scale)
                    .expect("the batch is set up")
                    .expect("a few small images fit the device in one part");
                let frames = r
                    .render_with(scenes, Some(&mut fused as &mut dyn ColourPass))
                    .expect("the batch renders");
                let (stats, before) = fused.finish().expect("the batch finishes");
                let (mut worst, mut moved) = (0u8, 0u64);
                for k in 0..scenes.len() {
                    assert_eq!(before[k], composites[k], "image {k}'s composite");
                    assert_eq!(frames[k].ids, plain[k].ids, "image {k}'s ids");
                    assert_eq!(frames[k].alone, plain[k].alone, "image {k}'s coverage bits");
                    let mut want = vec![0u8; 3 * w * h];
                    chw_to_rgb(&x[k], channels, w, h, &mut want);
                    let got = &frames[k].color;
                    assert!(got.chunks_exact(4).all(|p| p[3] == 255), "image {k}: alpha");
                    for (g, (wv, c)) in composite::drop_alpha(got)
                        .iter()
                        .zip(want.iter().zip(&composites[k]))
                    {
                        worst = worst.max(g.abs_diff(*wv));
                        moved += g.abs_diff(*c) as u64;
                    }
                }
                let what = format!("{channels} channels, {} images", scenes.len());
                assert!(worst <= 1, "{what}: {worst} levels from the reference");
                let moved = moved as f64 / (scenes.len() * 3 * w * h) as f64;
                assert!(moved > 5.0, "{what}: the chain barely acted ({moved})");
                for ((name, g), (_, wv)) in stats.per_image().iter().zip(want_stats.per_image()) {
                    assert_eq!(g.len(), wv.len(), "{what}: {name}");
                    for (a, b) in g.iter().zip(wv) {
                        let tol = 1e-4 * b.abs().max(1.0);
                        assert!((a - b).abs() <= tol, "{what}: {name}: {a} vs {b}");
                    }
                }
            }
            assert!(partly > 100, "only {partly} partly covered pixels");
            // a budget of one byte leaves one image per part: not one submission
            let small = GpuChain {
                budget: 1,
                ..chain()
            };
            let backgrounds = vec![vec![0; 3 * w * h]; scenes.len()];
            let seeds: Vec<u64> = scenes.iter().map(|s| s.seed).collect();
            let declined = small
                .fused(&backgrounds, &seeds, (h, w), words, scale)
                .expect("the batch is looked at");
            assert!(
                declined.is_none(),
                "a batch in parts cannot run between render and readback"
            );
        }
    }
}
