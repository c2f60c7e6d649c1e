//! The trained chain's forward pass as compute shaders (`shaders/augment.wgsl`) on the device
//! `render` made: the same math as [`fast`](super::fast) (tested to agree within 1e-3, and
//! with burn's [`Chain::forward`](super::model::Chain::forward)), so a machine with a GPU
//! augments where it renders. The weights go to the device once; per batch, the images,
//! coverage and noise go up, every stage runs as dispatches of a few generic kernels (3 × 3
//! convolution, resize by taps, normalised blur, per-image reduction, elementwise steps) in
//! one submission, and the images and per-image partial sums come back.
//!
//! Not here: drawing the noise, which stays on the CPU ([`image_noise`](super::image_noise)) so the result is the
//! same function of the seed on both paths, and the background colour's two dense layers
//! (a few dozen multiplies per image).
//!
//! Layout: CHW `f32` planes, row-major, image after image; sizes as (h, w).

mod fused;
mod plan;
mod run;

use std::sync::Mutex;

use anyhow::{bail, Result};

use super::stages::{train_size, Scales, StageStats, BG_Z, DETAIL_Z, LIGHT_Z};
use super::stages::{Conv3, Weights};
use super::ImageNoise;
use plan::{ConvAt, Convs, Footprint, Geometry, BUDGET, ENTRIES};
use run::Scratch;

pub use fused::Fused;

/// The chain's forward pass on a wgpu device: weights uploaded and kernels compiled once.
pub struct GpuChain {
    device: wgpu::Device,
    queue: wgpu::Queue,
    weights: Weights,
    convs: Convs,
    weight_buf: wgpu::Buffer,
    layout: wgpu::BindGroupLayout,
    pipes: Vec<wgpu::ComputePipeline>,
    /// Bytes of scratch one sub-batch may use ([`BUDGET`]; tests lower it to split batches).
    budget: u64,
    /// The buffers of the last batch's size, kept for the next batch.
    scratch: Mutex<Option<Scratch>>,
    /// The kernels of the chain's ends between render and readback ([`Fused`]), where the
    /// device allows their five storage buffers.
    io: Option<(wgpu::BindGroupLayout, Vec<wgpu::ComputePipeline>)>,
}

impl GpuChain {
    /// Compiles the kernels on `device` and uploads `weights`' convolutions. Fails when the
    /// device cannot run compute shaders with four storage buffers (a GL adapter may not).
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, weights: &Weights) -> Result<GpuChain> {
        let limits = device.limits();
        if limits.max_storage_buffers_per_shader_stage < 4
            || limits.max_compute_invocations_per_workgroup < 256
        {
            bail!(
                "the graphics device cannot run the augmentation's compute shaders (it allows {} \
                 storage buffers and {} invocations per workgroup; 4 and 256 are needed): augment \
                 on the CPU instead",
                limits.max_storage_buffers_per_shader_stage,
                limits.max_compute_invocations_per_workgroup
            );
        }
        let (data, convs) = pack_weights(weights)?;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let storage = |read_only| wgpu::BufferBindingType::Storage { read_only };
        let (layout, pipes) = kernels(
            device,
            "augment",
            crate::shaders::AUGMENT,
            &[
                wgpu::BufferBindingType::Uniform,
                storage(true),
                storage(false),
                storage(true),
                storage(true),
            ],
            &ENTRIES,
        );
        let weight_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("augment weights"),
            size: (4 * data.len()) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        queue.write_buffer(&weight_buf, 0, bytemuck::cast_slice(&data));
        let io = (limits.max_storage_buffers_per_shader_stage >= 5).then(|| io_kernels(device));
        if let Some(e) = pollster::block_on(scope.pop()) {
            bail!("cannot build the augmentation kernels on this device: {e}");
        }
        Ok(GpuChain {
            device: device.clone(),
            queue: queue.clone(),
            weights: weights.clone(),
            convs,
            weight_buf,
            layout,
            pipes,
            budget: BUDGET,
            scratch: Mutex::new(None),
            io,
        })
    }

    /// Applies the chain to a batch of CHW images in place, as [`Weights::apply`] does (same
    /// arguments, same result to float rounding, same stats): `alpha[k]` the coverage,
    /// `seeds[k]` the image's seed, `scale` output pixels per training pixel. Batches larger
    /// than the device's buffers allow run in parts, with the blur radius still set by the
    /// whole batch's largest σ.
    pub fn apply(
        &self,
        x: &mut [Vec<f32>],
        alpha: &[Vec<f32>],
        seeds: &[u64],
        (h, w): (usize, usize),
        scale: impl Into<Scales>,
    ) -> Result<StageStats> {
        let scale: Scales = scale.into();
        let c = self.weights.channels;
        if alpha.len() != x.len() || seeds.len() != x.len() {
            bail!(
                "{} images, {} coverage maps and {} seeds: one of each per image",
                x.len(),
                alpha.len(),
                seeds.len()
            );
        }
        if let Some(k) = (0..x.len()).find(|&k| x[k].len() != c * h * w || alpha[k].len() != h * w)
        {
            bail!(
                "image {k}: {} values and {} coverage values, expected {c} × {h} × {w} and {h} × {w}",
                x[k].len(),
                alpha[k].len()
            );
        }
        let (ht, wt) = train_size(h, w, scale.maps);
        let geo = Geometry {
            c,
            full: (h, w),
            train: (ht, wt),
        };
        let (noise, max_sigma) = self.weights.batch_noise(seeds, (h, w), scale);
        let per = self.images_per_batch(geo, scale.pixel, x.len())?;
        let mut stats = Vec::with_capacity(x.len());
        for (k, part) in x.chunks_mut(per).enumerate() {
            let r = k * per..k * per + part.len();
            let batch = Batch {
                alpha: &alpha[r.clone()],
                noise: &noise[r],
                scale,
                max_sigma,
            };
            stats.extend(self.run(part, &batch, geo, per)?);
        }
        Ok(self.weights.stage_stats(&stats))
    }

    /// How many images one submission takes: the device's largest storage buffer, the scratch
    /// budget and the dispatch grid's limit.
    fn images_per_batch(&self, geo: Geometry, pixel_scale: f32, n: usize) -> Result<usize> {
        let limits = self.device.limits();
        let fp = Footprint::new(&self.weights, geo, pixel_scale);
        let (largest, total) = fp.bytes();
        let binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if largest > binding {
            bail!(
                "a {}×{} image needs {} MiB in one storage buffer, the device allows {} MiB: \
                 augment smaller images, or on the CPU",
                geo.full.1,
                geo.full.0,
                largest >> 20,
                binding >> 20
            );
        }
        let c = &self.convs;
        let planes = [c.light1, c.bg1, c.bg2, c.bg3, c.detail1]
            .iter()
            .map(|a| a.c_out as usize)
            .chain([geo.c, 3])
            .max()
            .unwrap_or(1);
        let by_grid = limits.max_compute_workgroups_per_dimension as usize / planes;
        let by_budget = (self.budget / total.max(1)) as usize;
        let by_binding = (binding / largest.max(1)) as usize;
        Ok(n.min(by_grid).min(by_budget).min(by_binding).max(1))
    }
}

/// The kernels of `shaders/augment_io.wgsl` ([`fused::IO_ENTRIES`]) and their bind group
/// layout: the parameters, then the render's rows, the backgrounds, the images, the table and
/// the output rows.
fn io_kernels(device: &wgpu::Device) -> (wgpu::BindGroupLayout, Vec<wgpu::ComputePipeline>) {
    let storage = |read_only| wgpu::BufferBindingType::Storage { read_only };
    kernels(
        device,
        "augment io",
        crate::shaders::AUGMENT_IO,
        &[
            wgpu::BufferBindingType::Uniform,
            storage(true),
            storage(true),
            storage(false),
            storage(false),
            storage(false),
        ],
        &fused::IO_ENTRIES,
    )
}

/// The compute pipelines `entries` of WGSL `source`, sharing one bind group layout whose
/// bindings 0, 1, … are buffers of the types `bindings` says.
fn kernels(
    device: &wgpu::Device,
    name: &str,
    source: &str,
    bindings: &[wgpu::BufferBindingType],
    entries: &[&str],
) -> (wgpu::BindGroupLayout, Vec<wgpu::ComputePipeline>) {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let layout_entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
        .iter()
        .enumerate()
        .map(|(binding, ty)| wgpu::BindGroupLayoutEntry {
            binding: binding as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: *ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(&format!("{name} bind group layout")),
        entries: &layout_entries,
    });
    let pipe_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(&format!("{name} pipeline layout")),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipes = entries
        .iter()
        .map(|e| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(e),
                layout: Some(&pipe_layout),
                module: &module,
                entry_point: Some(e),
                compilation_options: Default::default(),
                cache: None,
            })
        })
        .collect();
    (layout, pipes)
}

/// What a sub-batch needs beside its images.
struct Batch<'a> {
    alpha: &'a [Vec<f32>],
    noise: &'a [ImageNoise],
    scale: Scales,
    max_sigma: f32,
}

/// The convolutions' weights and biases in one list, and where each starts.
fn pack_weights(w: &Weights) -> Result<(Vec<f32>, Convs)> {
    let mut data = Vec::new();
    let mut put = |name: &str, c: &Conv3| -> Result<ConvAt> {
        if c.weight.len() != c.c_out * c.c_in * 9 || c.bias.len() != c.c_out {
            bail!(
                "the chain's {name} convolution has {} weights and {} biases for {} → {} \
                 channels: the weights do not fit their model",
                c.weight.len(),
                c.bias.len(),
                c.c_in,
                c.c_out
            );
        }
        let at = ConvAt {
            w_off: data.len() as u32,
            c_in: c.c_in as u32,
            c_out: c.c_out as u32,
        };
        data.extend_from_slice(&c.weight);
        data.extend_from_slice(&c.bias);
        Ok(at)
    };
    let convs = Convs {
        light1: put("light1", &w.light1)?,
        light2: put("light2", &w.light2)?,
        bg1: put("bg1", &w.bg1)?,
        bg2: put("bg2", &w.bg2)?,
        bg3: put("bg3", &w.bg3)?,
        bg4: put("bg4", &w.bg4)?,
        detail1: put("detail1", &w.detail1)?,
        detail2: put("detail2", &w.detail2)?,
    };
    // the kernels read as many planes as these say: a mismatch would read past a tensor
    let c = w.channels as u32;
    let v = &convs;
    let links = [
        ("light1's input", v.light1.c_in, LIGHT_Z as u32),
        ("light2's input", v.light2.c_in, v.light1.c_out),
        ("light2's output", v.light2.c_out, 3),
        ("bg1's input", v.bg1.c_in, BG_Z as u32),
        ("bg2's input", v.bg2.c_in, v.bg1.c_out),
        ("bg3's input", v.bg3.c_in, v.bg2.c_out),
        ("bg4's input", v.bg4.c_in, v.bg3.c_out),
        ("bg4's output", v.bg4.c_out, c),
        ("detail1's input", v.detail1.c_in, c + DETAIL_Z as u32),
        ("detail2's input", v.detail2.c_in, v.detail1.c_out),
        ("detail2's output", v.detail2.c_out, c),
    ];
    if let Some((name, got, want)) = links.iter().find(|(_, got, want)| got != want) {
        bail!(
            "the chain's {name} has {got} channels where {want} belong: the weights do not fit \
             their model"
        );
    }
    Ok((data, convs))
}

#[cfg(test)]
mod tests {

    use burn::prelude::*;

    use super::GpuChain;
    use crate::augment::stages::{Scales, StageConfig, StageStats};
    use crate::augment::testing::{batch, burn_forward, max_abs_difference, shaken_chain};
    use crate::render::RenderContext;

    /// The test device. CI has lavapipe, so no device is a failure, not a reason to skip.
    fn context() -> RenderContext {
        RenderContext::new()
            .expect("a wgpu device for the GPU forward's tests (lavapipe: mesa-vulkan-drivers)")
    }

    /// Per-image stats agree within 1e-4 (relative above 1), and the lists have equal lengths.
    fn assert_stats(got: &StageStats, want: &StageStats, what: &str) {
        for ((name, g), (_, w)) in got.per_image().iter().zip(want.per_image()) {
            assert_eq!(g.len(), w.len(), "{what}: {name} has {} values", g.len());
            for (a, b) in g.iter().zip(w) {
                let tol = 1e-4 * b.abs().max(1.0);
                assert!((a - b).abs() <= tol, "{what}: {name} {a} vs {b}");
            }
        }
        let (a, b) = (got.noise, want.noise);
        assert!((a - b).abs() <= 1e-6, "{what}: noise {a} vs {b}");
    }

    /// The GPU forward against the CPU's and, with `burn`, burn's, on `b` shaken-chain images
    /// of `(h, w)` at `scale`; asserts the stats and that the chain changed the images, and
    /// returns the largest differences (to the CPU's, to burn's).
    fn compare(
        ctx: &RenderContext,
        stages: &StageConfig,
        b: usize,
        (h, w): (usize, usize),
        scale: Scales,
        burn: bool,
    ) -> (f32, Option<f32>) {
        let device = Device::flex();
        let chain = shaken_chain(stages, &device);
        let weights = chain.export();
        let gpu = GpuChain::new(&ctx.device, &ctx.queue, &weights).expect("the kernels build");
        let input = batch(b, stages.channels, (h, w));
        let mut cpu = input.images.clone();
        let cpu_stats = weights.apply(&mut cpu, &input.alphas, &input.seeds, (h, w), scale);
        let mut got = input.images.clone();
        let got_stats = gpu
            .apply(&mut got, &input.alphas, &input.seeds, (h, w), scale)
            .expect("the GPU forward runs");
        // the stages must have acted, or agreeing would prove nothing
        let moved = input
            .images
            .iter()
            .flatten()
            .zip(got.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / (b * stages.channels * h * w) as f32;
        assert!(
            moved > 0.05,
            "the chain barely changed the images ({moved})"
        );
        assert_stats(&got_stats, &cpu_stats, "GPU vs CPU");
        let to_cpu = max_abs_difference(got.iter().flatten(), cpu.iter().flatten());
        let to_burn = burn.then(|| {
            let (want, want_stats) = burn_forward(&chain, &input, (h, w), scale, &device);
            assert_stats(&got_stats, &want_stats, "GPU vs burn");
            max_abs_difference(got.iter().flatten(), &want)
        });
        eprintln!(
            "{h}×{w} at {scale:?}, {b} images: moved {moved:.3}, max difference {to_cpu:e} to the \
             CPU's, {to_burn:?} to burn's"
        );
        (to_cpu, to_burn)
    }

    fn assert_close(what: &str, (to_cpu, to_burn): (f32, Option<f32>)) {
        assert!(to_cpu <= 1e-3, "{what}: {to_cpu} from the CPU forward");
        if let Some(d) = to_burn {
            assert!(d <= 1e-3, "{what}: {d} from burn's forward");
        }
    }

    #[test]
    fn the_gpu_forward_agrees_with_the_cpus_and_burns() {
        let ctx = context();
        let all = StageConfig::default();
        let output = Scales {
            maps: 4.0,
            pixel: 1.0,
        };
        for (b, h, w, scale) in [
            (3, 128, 128, 2.0.into()),
            (2, 256, 256, 4.0.into()),
            (3, 40, 24, 2.0.into()),
            (2, 128, 96, output),
        ] {
            let d = compare(&ctx, &all, b, (h, w), scale, true);
            assert_close(&format!("{h}×{w} at {scale:?}"), d);
        }
    }

    #[test]
    fn stages_switched_off_and_grey_images_agree() {
        let ctx = context();
        let grey = StageConfig {
            channels: 1,
            lighting: false,
            noise: false,
            ..StageConfig::default()
        };
        assert_close("grey", compare(&ctx, &grey, 2, (48, 64), 2.0.into(), true));
        let some = StageConfig {
            blur: false,
            detail: false,
            ..StageConfig::default()
        };
        assert_close(
            "no blur or detail",
            compare(&ctx, &some, 2, (36, 52), 1.5.into(), true),
        );
    }

    #[test]
    fn a_batch_in_parts_gives_the_same_images_and_stats() {
        let ctx = context();
        let device = Device::flex();
        let weights = shaken_chain(&StageConfig::default(), &device).export();
        let whole = GpuChain::new(&ctx.device, &ctx.queue, &weights).expect("the kernels build");
        // a budget of one byte leaves one image per part
        let parts = GpuChain {
            budget: 1,
            ..GpuChain::new(&ctx.device, &ctx.queue, &weights).expect("the kernels build")
        };
        let (h, w) = (40, 56);
        let input = batch(3, 3, (h, w));
        let run = |g: &GpuChain| {
            let mut x = input.images.clone();
            let st = g
                .apply(&mut x, &input.alphas, &input.seeds, (h, w), 2.0)
                .expect("the GPU forward runs");
            (x, st)
        };
        let (a, sa) = run(&whole);
        let (b, sb) = run(&parts);
        assert_eq!(a, b, "the images differ when the batch runs in parts");
        assert_stats(&sb, &sa, "in parts vs whole");
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let ctx = context();
        let weights = shaken_chain(&StageConfig::default(), &Device::flex()).export();
        let gpu = GpuChain::new(&ctx.device, &ctx.queue, &weights).expect("the kernels build");
        let input = batch(2, 3, (16, 16));
        let mut x = input.images.clone();
        let err = gpu
            .apply(&mut x, &input.alphas[..1], &input.seeds, (16, 16), 1.0)
            .expect_err("one coverage map for two images");
        assert!(err.to_string().contains("coverage"), "{err}");
        let err = gpu
            .apply(&mut x, &input.alphas, &input.seeds, (16, 20), 1.0)
            .expect_err("a size the images do not have");
        assert!(err.to_string().contains("image 0"), "{err}");
    }
}
