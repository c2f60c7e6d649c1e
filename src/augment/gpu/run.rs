//! One sub-batch on the device: the chain recorded as dispatches in the model's order, the
//! uploads, one submission, one readback (images, then the reductions' partials), and the
//! per-image stats finished on the CPU.

use crate::augment::stages::Stage;
use std::num::NonZeroU64;

use anyhow::{bail, Result};

use super::plan::{view, BlurAt, Buf, Footprint, Geometry, Kernel, Params, Recorder, Step};
use super::plan::{Table, View, ACT_DETAIL, ACT_LEAKY, ACT_NONE, BLUR_HIGH_PASS, BLUR_WRITE};
use super::plan::{RESIZE_ADD, RESIZE_COMPOSITE, RESIZE_WRITE, SUM_ABS, SUM_SQUARES};
use super::{Batch, GpuChain};
use crate::augment::fast::{blur_kernel, ramp_planes, reach, ImageStats};
use crate::augment::stages::gaussian_kernel;

/// The device buffers of the batch's ends, for `images` images of `words` row words each.
pub(super) struct IoBufs {
    pub(super) images: usize,
    pub(super) words: usize,
    /// Each image's background, one RGB8 pixel a word.
    pub(super) back: wgpu::Buffer,
    /// The finished rows, then the composite's rows.
    pub(super) out: wgpu::Buffer,
    /// The composite's rows on their way back.
    pub(super) before: wgpu::Buffer,
}

/// The device buffers of one size of batch (and of at most as many images).
pub(super) struct Scratch {
    key: (Geometry, usize),
    bufs: Vec<wgpu::Buffer>,
    pub(super) readback: wgpu::Buffer,
    /// The chain's ends between render and readback, once a batch ran there.
    pub(super) io: Option<IoBufs>,
}

impl Scratch {
    pub(super) fn get(&self, b: Buf) -> &wgpu::Buffer {
        &self.bufs[b as usize]
    }
}

/// A recorded sub-batch: its dispatches and table, where the partials lie, and the
/// background ramps (the stats need them too).
pub(super) struct Recorded {
    pub(super) rec: Recorder,
    /// Table offsets of the lighting, background and detail partials; all three follow one
    /// another from the first.
    pub(super) partials: [u32; 3],
    pub(super) partials_len: usize,
    ramps: Vec<Vec<f32>>,
    /// Whether the coverage is written on the device (the table holds room for it).
    alpha_on_device: bool,
    /// Where the coverage lies in the table and how many values, when a stage reads it.
    pub(super) alpha: Option<(u32, usize)>,
}

impl GpuChain {
    /// Runs the chain on `x` (at most `capacity` images, the size the scratch is made for).
    pub(super) fn run(
        &self,
        x: &mut [Vec<f32>],
        batch: &Batch<'_>,
        geo: Geometry,
        capacity: usize,
    ) -> Result<Vec<ImageStats>> {
        let fp = Footprint::new(&self.weights, geo, batch.scale.pixel);
        let recorded = self.record(batch, geo, &fp);
        let mut guard = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let invalid = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let s = self.ensure_scratch(&mut guard, &fp, geo, capacity, &recorded);
        self.upload(s, Some(x), batch, &fp);
        self.upload_table(s, &recorded);
        let images_len = x.len() * fp.img;
        let read_len = images_len + recorded.partials_len;
        let partials = recorded.partials[0] as u64 * 4;
        let copies = [
            (Buf::Img, 0, images_len),
            (Buf::Table, partials, recorded.partials_len),
        ];
        let index = self
            .queue
            .submit([self.encode(s, &recorded.rec.steps, &copies)]);
        let refused = [invalid.pop(), oom.pop()].map(pollster::block_on);
        if let Some(e) = refused.into_iter().flatten().next() {
            *guard = None;
            bail!("the graphics device refused the augmentation batch: {e}");
        }
        let slice = s.readback.slice(..(4 * read_len.max(1)) as u64);
        crate::render::map_read(
            &self.device,
            &[slice],
            Some(index),
            "the augmentation batch",
        )?;
        let data = crate::render::mapped(&slice, "the augmentation batch")?;
        let out: Vec<f32> = bytemuck::pod_collect_to_vec(&data);
        drop(data);
        s.readback.unmap();
        for (k, img) in x.iter_mut().enumerate() {
            img.copy_from_slice(&out[k * fp.img..(k + 1) * fp.img]);
        }
        Ok(self.finish_stats(batch, geo, &recorded, &out[images_len..]))
    }

    /// The scratch for `capacity` images of `geo` in `guard` (made anew when it holds another
    /// size or fewer images), with a table buffer that holds `recorded`'s.
    pub(super) fn ensure_scratch<'g>(
        &self,
        guard: &'g mut Option<Scratch>,
        fp: &Footprint,
        geo: Geometry,
        capacity: usize,
        recorded: &Recorded,
    ) -> &'g mut Scratch {
        if guard
            .as_ref()
            .is_none_or(|s| s.key.0 != geo || s.key.1 < capacity)
        {
            *guard = None; // the old buffers go before the new ones are made
            *guard = Some(self.scratch_for(fp, geo, capacity));
        }
        let s = guard.as_mut().expect("the scratch was just made");
        let table_bytes = (4 * recorded.rec.table.data.len()) as u64;
        if s.get(Buf::Table).size() < table_bytes {
            s.bufs[Buf::Table as usize] = self.buffer("augment table", table_bytes, false);
        }
        s
    }

    /// Queues `recorded`'s table, less the coverage when the batch has none yet (the chain's
    /// ends write it on the device).
    pub(super) fn upload_table(&self, s: &Scratch, recorded: &Recorded) {
        let table = &recorded.rec.table.data;
        let gap = match recorded.alpha {
            Some((at, len)) if recorded.alpha_on_device => (at as usize, at as usize + len),
            _ => (table.len(), table.len()),
        };
        let buf = s.get(Buf::Table);
        self.queue
            .write_buffer(buf, 0, bytemuck::cast_slice(&table[..gap.0]));
        if gap.1 < table.len() {
            let at = 4 * gap.1 as u64;
            self.queue
                .write_buffer(buf, at, bytemuck::cast_slice(&table[gap.1..]));
        }
    }

    /// The chain's stages, in the model's order, as dispatches (see `Chain::forward`; each
    /// step mirrors a line of fast.rs's `Weights::one`). A batch without coverage (`alpha`
    /// empty) gets room for it in the table, written on the device. Long: one dispatch list in
    /// the forward's order, kept line for line beside `Weights::one` so the two read alike.
    pub(super) fn record(&self, batch: &Batch<'_>, geo: Geometry, fp: &Footprint) -> Recorded {
        let wts = &self.weights;
        let cv = self.convs;
        let blur_on = wts.flags.on(Stage::Blur);
        let light_on = wts.flags.on(Stage::Lighting);
        let bg_on = wts.flags.on(Stage::Background);
        let detail_on = wts.flags.on(Stage::Detail);
        let noise_on = wts.flags.on(Stage::Noise);
        let b = batch.noise.len();
        let c = geo.c;
        let (h, w) = geo.full;
        let (ht, wt) = geo.train;
        let (n, nt) = (h * w, ht * wt);
        let mut r = Recorder {
            steps: Vec::new(),
            table: Table::default(),
            images: b,
        };
        let chunks = geo.stat_chunks();
        let partials_len = 4 * b * chunks.iter().sum::<usize>();
        let first = r.table.push_u32(&vec![0; partials_len]);
        let partials = [
            first,
            first + (4 * b * chunks[0]) as u32,
            first + (4 * b * (chunks[0] + chunks[1])) as u32,
        ];
        let img = view(Buf::Img, c * n);
        if blur_on {
            let kernels: Vec<Vec<f32>> = batch
                .noise
                .iter()
                .map(|z| blur_kernel(wts.sigma(z.blur), batch.max_sigma, batch.scale.pixel))
                .collect();
            let len = kernels.first().map_or(1, Vec::len);
            let reaches: Vec<u32> = kernels.iter().map(|k| reach(k) as u32).collect();
            let at = BlurAt {
                kern: r.table.push_f32(&kernels.concat()),
                kern_stride: len as u32,
                reach: r.table.push_u32(&reaches),
                reach_stride: 1,
                radius: (len / 2) as u32,
            };
            r.blur(img, Buf::S1, c, (h, w), at, BLUR_WRITE);
        }
        if light_on {
            let (lh, lw) = geo.low(16);
            let t = view(Buf::P, cv.light1.c_out as usize * lh * lw);
            r.conv(cv.light1, view(Buf::Z, fp.z), t, (lh, lw), ACT_LEAKY);
            let small = view(Buf::Q, 3 * lh * lw);
            r.conv(cv.light2, t, small, (lh, lw), ACT_NONE);
            let raw = view(Buf::S1, 3 * n);
            r.resize(small, Buf::S2, raw, 3, (lh, lw), (h, w), RESIZE_WRITE, 0);
            // the scales are monotone in the raw maps: their range comes from the raw min and max
            r.reduce(raw, 2, (h, w), SUM_ABS, partials[0]);
            let params = Params {
                h: h as u32,
                w: w as u32,
                c_in: c as u32,
                ..Params::default()
            };
            r.grid(Kernel::Light, params, 1, (h, w), raw, img, Buf::Dummy);
        }
        let mut ramps = Vec::new();
        let mut alpha = None;
        if bg_on {
            ramps = batch
                .noise
                .iter()
                .map(|z| wts.bg_ramp(&z.bg_color))
                .collect();
            let tex = self.record_texture(&mut r, geo, fp);
            r.reduce(tex, c, (ht, wt), SUM_SQUARES, partials[1]);
            let ramp_at = r.table.push_f32(&ramps.concat());
            let params = Params {
                h: ht as u32,
                w: wt as u32,
                tab_off: ramp_at,
                tab_stride: (3 * c) as u32,
                tab2_off: partials[1],
                chunks: chunks[1] as u32,
                value: wts.bg_bound,
                ..Params::default()
            };
            let none = view(Buf::Dummy, 0);
            r.grid(Kernel::BgFinish, params, c, (ht, wt), none, tex, Buf::Table);
            let alpha_at = if batch.alpha.is_empty() {
                r.table.push_u32(&vec![0; b * n])
            } else {
                r.table.push_f32(&batch.alpha.concat())
            };
            alpha = Some((alpha_at, b * n));
            r.resize(
                tex,
                Buf::S2,
                img,
                c,
                (ht, wt),
                (h, w),
                RESIZE_COMPOSITE,
                alpha_at,
            );
        }
        if detail_on {
            let input = view(Buf::Di, (c + 4) * nt);
            r.resize(img, Buf::S2, input, c, (h, w), (ht, wt), RESIZE_WRITE, 0);
            let t = view(Buf::P, cv.detail1.c_out as usize * nt);
            r.conv(cv.detail1, input, t, (ht, wt), ACT_LEAKY);
            let hp = view(Buf::Q, c * nt);
            r.conv(cv.detail2, t, hp, (ht, wt), ACT_DETAIL);
            // high-pass three times: what remains cannot shift the low frequencies
            let k = r.table.kernel(&gaussian_kernel(3.5).1);
            for _ in 0..3 {
                r.blur(hp, Buf::M, c, (ht, wt), k, BLUR_HIGH_PASS);
            }
            r.reduce(hp, c, (ht, wt), SUM_ABS, partials[2]);
            r.resize(hp, Buf::S2, img, c, (ht, wt), (h, w), RESIZE_ADD, 0);
        }
        let params = Params {
            h: h as u32,
            w: w as u32,
            mode: noise_on as u32,
            value: wts.noise_sigma() * batch.scale.pixel,
            ..Params::default()
        };
        let noise = view(if noise_on { Buf::Pix } else { Buf::Dummy }, c * n);
        r.grid(Kernel::Finish, params, c, (h, w), noise, img, Buf::Dummy);
        Recorded {
            rec: r,
            partials,
            partials_len,
            ramps,
            alpha,
            alpha_on_device: batch.alpha.is_empty(),
        }
    }

    /// The background's texture net at the training size, high-passed; returns where the
    /// texture is (in `P`).
    fn record_texture(&self, r: &mut Recorder, geo: Geometry, fp: &Footprint) -> View {
        let cv = self.convs;
        let (h8, w8) = geo.low(8);
        let (h4, w4) = geo.low(4);
        let (h2, w2) = geo.low(2);
        let train = geo.train;
        let at = |buf, ch: u32, (hh, ww): (usize, usize)| view(buf, ch as usize * hh * ww);
        let z = View {
            buf: Buf::Z,
            off: fp.z_light as u32,
            stride: fp.z as u32,
        };
        let (c1, c2, c3) = (cv.bg1.c_out, cv.bg2.c_out, cv.bg3.c_out);
        r.conv(cv.bg1, z, at(Buf::P, c1, (h8, w8)), (h8, w8), ACT_LEAKY);
        let (from, to) = (at(Buf::P, c1, (h8, w8)), at(Buf::Q, c1, (h4, w4)));
        r.resize(
            from,
            Buf::M,
            to,
            c1 as usize,
            (h8, w8),
            (h4, w4),
            RESIZE_WRITE,
            0,
        );
        r.conv(cv.bg2, to, at(Buf::P, c2, (h4, w4)), (h4, w4), ACT_LEAKY);
        let (from, to) = (at(Buf::P, c2, (h4, w4)), at(Buf::Q, c2, (h2, w2)));
        r.resize(
            from,
            Buf::M,
            to,
            c2 as usize,
            (h4, w4),
            (h2, w2),
            RESIZE_WRITE,
            0,
        );
        r.conv(cv.bg3, to, at(Buf::P, c3, (h2, w2)), (h2, w2), ACT_LEAKY);
        let (from, to) = (at(Buf::P, c3, (h2, w2)), at(Buf::Q, c3, train));
        r.resize(
            from,
            Buf::M,
            to,
            c3 as usize,
            (h2, w2),
            train,
            RESIZE_WRITE,
            0,
        );
        let tex = at(Buf::P, geo.c as u32, train);
        r.conv(cv.bg4, to, tex, train, ACT_NONE);
        // texture only: its smooth part is the ramp's business
        let k = r.table.kernel(&gaussian_kernel(2.0).1);
        r.blur(tex, Buf::M, geo.c, train, k, BLUR_HIGH_PASS);
        tex
    }

    /// A storage buffer (or, with `read`, a mappable one to copy into).
    pub(super) fn buffer(&self, label: &str, bytes: u64, read: bool) -> wgpu::Buffer {
        use wgpu::BufferUsages as U;
        let usage = if read {
            U::MAP_READ | U::COPY_DST
        } else {
            U::STORAGE | U::COPY_DST | U::COPY_SRC
        };
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            // a binding must not be empty, and copies come in multiples of 4 bytes
            size: bytes.max(16).next_multiple_of(4),
            usage,
            mapped_at_creation: false,
        })
    }

    /// The buffers for `capacity` images of `geo`, in [`Buf`]'s order.
    fn scratch_for(&self, fp: &Footprint, geo: Geometry, capacity: usize) -> Scratch {
        let sized = |n: usize| (4 * n * capacity) as u64;
        let names = [
            ("augment images", fp.img),
            ("augment full-size scratch", fp.s1),
            ("augment resize scratch", fp.s2),
            ("augment sensor noise", fp.pix),
            ("augment noise maps", fp.z),
            ("augment detail input", fp.di),
            ("augment scratch p", fp.small),
            ("augment scratch q", fp.small),
            ("augment scratch m", fp.small),
            ("augment table", fp.table),
        ];
        let mut bufs: Vec<wgpu::Buffer> = names
            .iter()
            .map(|(label, n)| self.buffer(label, sized(*n), false))
            .collect();
        bufs.push(self.buffer("augment dummy", 16, false));
        Scratch {
            key: (geo, capacity),
            bufs,
            readback: self.buffer("augment readback", sized(fp.img + fp.stats), true),
            io: None,
        }
    }

    /// Queues the images (unless they are made on the device), the sensor noise and the noise
    /// maps for the next submission.
    pub(super) fn upload(
        &self,
        s: &Scratch,
        x: Option<&[Vec<f32>]>,
        batch: &Batch<'_>,
        fp: &Footprint,
    ) {
        let light_on = self.weights.flags.on(Stage::Lighting);
        let bg_on = self.weights.flags.on(Stage::Background);
        let detail_on = self.weights.flags.on(Stage::Detail);
        let noise_on = self.weights.flags.on(Stage::Noise);
        let q = &self.queue;
        let at = |k: usize, n: usize| (4 * k * n) as u64;
        for (k, img) in x.into_iter().flatten().enumerate() {
            q.write_buffer(s.get(Buf::Img), at(k, fp.img), bytemuck::cast_slice(img));
        }
        if noise_on {
            for (k, n) in batch.noise.iter().enumerate() {
                q.write_buffer(
                    s.get(Buf::Pix),
                    at(k, fp.img),
                    bytemuck::cast_slice(&n.pixel()),
                );
            }
        }
        if light_on || bg_on {
            let mut z = Vec::with_capacity(batch.noise.len() * fp.z);
            for n in batch.noise {
                z.extend_from_slice(&n.lighting);
                z.extend_from_slice(&n.background);
            }
            q.write_buffer(s.get(Buf::Z), 0, bytemuck::cast_slice(&z));
        }
        if detail_on {
            // the first planes are the image at the training size, written on the device
            let mut di = Vec::with_capacity(batch.noise.len() * fp.di);
            for n in batch.noise {
                di.resize(di.len() + fp.di - n.detail.len(), 0.0);
                di.extend_from_slice(&n.detail);
            }
            q.write_buffer(s.get(Buf::Di), 0, bytemuck::cast_slice(&di));
        }
    }

    /// One compute pass of `steps` (a uniform slot and bind group each), then the copies of
    /// `copies` (buffer, byte offset, values) one after another into the readback buffer.
    fn encode(
        &self,
        s: &Scratch,
        steps: &[Step],
        copies: &[(Buf, u64, usize)],
    ) -> wgpu::CommandBuffer {
        let (_uniform, groups) = self.bind_steps(s, steps);
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("augment batch"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("augment chain"),
                timestamp_writes: None,
            });
            self.dispatch(&mut pass, steps, &groups);
        }
        let mut to = 0u64;
        for (buf, from, len) in copies {
            let bytes = 4 * *len as u64;
            if bytes > 0 {
                encoder.copy_buffer_to_buffer(s.get(*buf), *from, &s.readback, to, bytes);
            }
            to += bytes;
        }
        encoder.finish()
    }

    /// The steps' parameters in one uniform buffer (a slot each) and a bind group per step.
    pub(super) fn bind_steps(
        &self,
        s: &Scratch,
        steps: &[Step],
    ) -> (wgpu::Buffer, Vec<wgpu::BindGroup>) {
        let size = std::mem::size_of::<Params>() as u64;
        let align = self.device.limits().min_uniform_buffer_offset_alignment as u64;
        let stride = size.next_multiple_of(align.max(1));
        let mut bytes = vec![0u8; (stride * steps.len() as u64) as usize];
        for (i, st) in steps.iter().enumerate() {
            let at = i * stride as usize;
            bytes[at..at + size as usize].copy_from_slice(bytemuck::bytes_of(&st.params));
        }
        let uniform = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("augment params"),
            size: bytes.len().max(16) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue.write_buffer(&uniform, 0, &bytes);
        let groups: Vec<wgpu::BindGroup> = steps
            .iter()
            .enumerate()
            .map(|(i, st)| {
                fn whole(binding: u32, b: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
                    wgpu::BindGroupEntry {
                        binding,
                        resource: b.as_entire_binding(),
                    }
                }
                self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("augment step"),
                    layout: &self.layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &uniform,
                                offset: i as u64 * stride,
                                size: NonZeroU64::new(size),
                            }),
                        },
                        whole(1, s.get(st.src)),
                        whole(2, s.get(st.dst)),
                        whole(3, &self.weight_buf),
                        whole(4, s.get(st.aux)),
                    ],
                })
            })
            .collect();
        (uniform, groups)
    }

    /// The steps' dispatches, in order, into `pass`.
    pub(super) fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        steps: &[Step],
        groups: &[wgpu::BindGroup],
    ) {
        for (st, g) in steps.iter().zip(groups) {
            pass.set_pipeline(&self.pipes[st.kernel as usize]);
            pass.set_bind_group(0, g, &[]);
            let [x, y, z] = st.groups;
            pass.dispatch_workgroups(x, y, z);
        }
    }

    /// Each image's stats from its σ, ramps and partials (`partials`: the readback's tail).
    pub(super) fn finish_stats(
        &self,
        batch: &Batch<'_>,
        geo: Geometry,
        recorded: &Recorded,
        partials: &[f32],
    ) -> Vec<ImageStats> {
        let wts = &self.weights;
        let blur_on = wts.flags.on(Stage::Blur);
        let light_on = wts.flags.on(Stage::Lighting);
        let bg_on = wts.flags.on(Stage::Background);
        let detail_on = wts.flags.on(Stage::Detail);
        let b = batch.noise.len();
        let chunks = geo.stat_chunks();
        let count = (geo.c * geo.train.0 * geo.train.1) as f32;
        // (sum, min, max) of image k's chunks in the `which`th partials
        let fold = |which: usize, k: usize| -> (f32, f32, f32) {
            let start = (recorded.partials[which] - recorded.partials[0]) as usize;
            (0..chunks[which])
                .map(|j| &partials[start + 4 * (k * chunks[which] + j)..][..3])
                .fold((0.0, f32::INFINITY, f32::NEG_INFINITY), |(s, lo, hi), p| {
                    (s + p[0], lo.min(p[1]), hi.max(p[2]))
                })
        };
        let light_scale = |v: f32| 1.0 / (1.0 + (-v.clamp(-3.0, 3.0)).exp()) * 1.8 + 0.1;
        (0..b)
            .map(|k| {
                let mut st = ImageStats::default();
                if blur_on {
                    st.blur = wts.sigma(batch.noise[k].blur);
                }
                if light_on {
                    let (_, lo, hi) = fold(0, k);
                    st.light_range = light_scale(hi) - light_scale(lo);
                }
                if bg_on {
                    let (ss, _, _) = fold(1, k);
                    let rms = (ss / count + 1e-12).sqrt();
                    let factor = (wts.bg_bound / rms).min(1.0);
                    st.bg_texture = (ss * factor * factor / count + 1e-12).sqrt();
                    let shift = ramp_planes(&recorded.ramps[k], geo.c, geo.train);
                    st.bg_shift = shift.iter().map(|v| v.abs()).sum::<f32>() / shift.len() as f32;
                }
                if detail_on {
                    st.detail = fold(2, k).0 / count;
                }
                st
            })
            .collect()
    }
}
