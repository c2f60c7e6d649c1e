//! Headless rendering of sampled scenes with wgpu: a batch of images goes up as one vertex
//! buffer, is drawn in three passes (shaded colour, label targets, and each object alone into a
//! tile atlas) and comes back as plain CPU arrays. Owns every wgpu resource; knows nothing of
//! label formats or files.

mod context;

use bytemuck::{Pod, Zeroable};
use glam::Mat4;
pub use context::{adapters, AdapterSummary, DeviceError, RenderContext};

use crate::scene::Scene;

/// Instance id written for scenery that is rendered but never labelled.
pub const SCENERY_ID: u32 = 0xFFFF;
/// Largest texture side the renderer uses (every wgpu adapter supports it).
pub const MAX_SIDE: u32 = 8192;

/// One image's raw render.
#[derive(Debug, Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// RGBA8; alpha is object coverage (fractional at edges when antialiased).
    pub color: Vec<u8>,
    /// Instance id per pixel (0 background).
    pub ids: Vec<u32>,
    /// Camera-frame z per pixel (0 background).
    pub depth: Vec<f32>,
    /// Camera-frame normals as RGBA8 (n * 0.5 + 0.5), when asked for.
    pub normals: Option<Vec<u8>>,
    /// Coverage of each instance rendered alone: `width * height` bytes per instance, in
    /// instance order, 1 where covered.
    pub alone: Vec<u8>,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Vertex {
    position: [f32; 3],
    normal: [f32; 3],
    local: [f32; 3],
    draw: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GpuView {
    clip_from_world: [[f32; 4]; 4],
    cam_rows: [[f32; 4]; 3],
    cam_pos: [f32; 4],
    light_dir: [[f32; 4]; 4],
    light_col: [[f32; 4]; 4],
    ambient: [f32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GpuDraw {
    color: [f32; 4],
    color2: [f32; 4],
    params: [f32; 4],
    ids: [u32; 4],
}

const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const ID_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::R32Uint;
const DEPTH_OUT_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::R32Float;
const NORMAL_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const COVER_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::R8Uint;
const ZBUF_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;

/// Bytes per row padded to wgpu's 256-byte copy alignment.
pub fn padded_row(bytes: u32) -> u32 {
    bytes.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT
}

/// Offscreen targets for one batch size; rebuilt when a batch needs more room.
struct Targets {
    images: u32,
    tiles: (u32, u32),
    color_msaa: Option<wgpu::TextureView>,
    color: wgpu::Texture,
    zbuf_color: wgpu::TextureView,
    ids: wgpu::Texture,
    depth: wgpu::Texture,
    normals: wgpu::Texture,
    zbuf: wgpu::TextureView,
    cover: wgpu::Texture,
    readback: wgpu::Buffer,
}

/// Renders batches of scenes at one image size.
pub struct Renderer<'a> {
    device: &'a wgpu::Device,
    queue: &'a wgpu::Queue,
    width: u32,
    height: u32,
    samples: u32,
    want_normals: bool,
    layout: wgpu::BindGroupLayout,
    color_pipe: wgpu::RenderPipeline,
    label_pipe: wgpu::RenderPipeline,
    cover_pipe: wgpu::RenderPipeline,
    targets: Option<Targets>,
    buffers: Option<(wgpu::Buffer, wgpu::Buffer, wgpu::Buffer, wgpu::Buffer)>,
    /// Time spent so far: building and submitting batches until the GPU finished them.
    pub render_time: std::time::Duration,
    /// Time spent so far copying targets out of the mapped readback buffer.
    pub readback_time: std::time::Duration,
}

fn texture(device: &wgpu::Device, label: &str, w: u32, h: u32, format: wgpu::TextureFormat, samples: u32, copy: bool) -> wgpu::Texture {
    let mut usage = wgpu::TextureUsages::RENDER_ATTACHMENT;
    if copy {
        usage |= wgpu::TextureUsages::COPY_SRC;
    }
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: samples,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}

fn view(t: &wgpu::Texture) -> wgpu::TextureView {
    t.create_view(&wgpu::TextureViewDescriptor::default())
}

impl<'a> Renderer<'a> {
    /// Builds pipelines for images of `width` × `height`; `samples` is 1 or 4 (MSAA on colour).
    pub fn new(device: &'a wgpu::Device, queue: &'a wgpu::Queue, width: u32, height: u32, samples: u32, want_normals: bool) -> Self {
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("scene.wgsl"),
            source: wgpu::ShaderSource::Wgsl(crate::shaders::SCENE.into()),
        });
        let storage = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::VERTEX | wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: true },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("scene bind group layout"),
            entries: &[storage(0), storage(1)],
        });
        let pipe_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("scene pipeline layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let attrs = wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3, 2 => Float32x3, 3 => Uint32];
        let buffers = [Some(wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<Vertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &attrs,
        })];
        let depth = |write| {
            Some(wgpu::DepthStencilState {
                format: ZBUF_FORMAT,
                depth_write_enabled: Some(write),
                depth_compare: Some(if write { wgpu::CompareFunction::Less } else { wgpu::CompareFunction::Always }),
                stencil: wgpu::StencilState::default(),
                bias: wgpu::DepthBiasState::default(),
            })
        };
        let pipeline = |label: &str, entry: &str, targets: &[Option<wgpu::ColorTargetState>], samples: u32, zbuf: bool| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(&pipe_layout),
                vertex: wgpu::VertexState {
                    module: &shader,
                    entry_point: Some("vs_main"),
                    compilation_options: Default::default(),
                    buffers: &buffers,
                },
                // culling off: planes are two-sided and meshes need no consistent winding
                primitive: wgpu::PrimitiveState { cull_mode: None, ..Default::default() },
                depth_stencil: if zbuf { depth(true) } else { None },
                multisample: wgpu::MultisampleState { count: samples, ..Default::default() },
                fragment: Some(wgpu::FragmentState {
                    module: &shader,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    targets,
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let t = |f: wgpu::TextureFormat| Some(wgpu::ColorTargetState::from(f));
        let color_pipe = pipeline("colour pipeline", "fs_color", &[t(COLOR_FORMAT)], samples, true);
        let label_pipe = pipeline("label pipeline", "fs_labels", &[t(ID_FORMAT), t(DEPTH_OUT_FORMAT), t(NORMAL_FORMAT)], 1, true);
        let cover_pipe = pipeline("cover pipeline", "fs_cover", &[t(COVER_FORMAT)], 1, false);
        Renderer {
            device,
            queue,
            width,
            height,
            samples,
            want_normals,
            layout,
            color_pipe,
            label_pipe,
            cover_pipe,
            targets: None,
            buffers: None,
            render_time: Default::default(),
            readback_time: Default::default(),
        }
    }

    /// How many images fit one batch (stacked vertically in one texture).
    pub fn max_batch(&self) -> usize {
        (MAX_SIDE / self.height).max(1) as usize
    }

    /// How many "alone" tiles fit the atlas.
    pub fn max_tiles(&self) -> usize {
        ((MAX_SIDE / self.width) * (MAX_SIDE / self.height)) as usize
    }

    fn ensure_targets(&mut self, images: u32, tiles: u32) {
        let (w, h) = (self.width, self.height);
        let cols = (MAX_SIDE / w).min(tiles.max(1));
        let rows = tiles.max(1).div_ceil(cols);
        if let Some(t) = &self.targets {
            if t.images >= images && t.tiles.0 >= cols && t.tiles.0 * t.tiles.1 >= tiles {
                return;
            }
        }
        let (images, cols, rows) = match &self.targets {
            Some(t) => (images.max(t.images), cols.max(t.tiles.0), rows.max(t.tiles.1)),
            None => (images, cols, rows),
        };
        let d = self.device;
        let bh = h * images;
        let color = texture(d, "colour", w, bh, COLOR_FORMAT, 1, true);
        let color_msaa = (self.samples > 1).then(|| view(&texture(d, "colour msaa", w, bh, COLOR_FORMAT, self.samples, false)));
        let zbuf_color = view(&texture(d, "colour depth buffer", w, bh, ZBUF_FORMAT, self.samples, false));
        let ids = texture(d, "instance ids", w, bh, ID_FORMAT, 1, true);
        let depth = texture(d, "camera depth", w, bh, DEPTH_OUT_FORMAT, 1, true);
        let normals = texture(d, "normals", w, bh, NORMAL_FORMAT, 1, true);
        let zbuf = view(&texture(d, "label depth buffer", w, bh, ZBUF_FORMAT, 1, false));
        let cover = texture(d, "alone atlas", w * cols, h * rows, COVER_FORMAT, 1, true);
        let size = self.readback_layout(images, cols, rows).5;
        let readback = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        self.targets = Some(Targets { images, tiles: (cols, rows), color_msaa, color, zbuf_color, ids, depth, normals, zbuf, cover, readback });
    }

    /// Offsets of (colour, ids, depth, normals, atlas) in the readback buffer, and its size.
    fn readback_layout(&self, images: u32, cols: u32, rows: u32) -> (u64, u64, u64, u64, u64, u64) {
        let bh = (self.height * images) as u64;
        let row4 = padded_row(self.width * 4) as u64;
        let color = 0;
        let ids = color + row4 * bh;
        let depth = ids + row4 * bh;
        let normals = depth + row4 * bh;
        let atlas = normals + if self.want_normals { row4 * bh } else { 0 };
        let size = atlas + padded_row(self.width * cols) as u64 * (self.height * rows) as u64;
        (color, ids, depth, normals, atlas, size)
    }

    /// Renders the scenes and reads every target back.
    pub fn render(&mut self, scenes: &[Scene]) -> Vec<Frame> {
        let t0 = std::time::Instant::now();
        let (w, h) = (self.width, self.height);
        let mut vertices: Vec<Vertex> = Vec::new();
        let mut indices: Vec<u32> = Vec::new();
        let mut draws: Vec<GpuDraw> = Vec::new();
        let mut views: Vec<GpuView> = Vec::new();
        let mut image_ranges = Vec::new();
        let mut instance_ranges = Vec::new();
        for (vi, s) in scenes.iter().enumerate() {
            views.push(gpu_view(s, w, h));
            let start = indices.len() as u32;
            for inst in &s.instances {
                let istart = indices.len() as u32;
                for part in &inst.parts {
                    let m = &part.material;
                    let draw = draws.len() as u32;
                    draws.push(GpuDraw {
                        color: [m.color[0], m.color[1], m.color[2], 1.0],
                        color2: [m.color2[0], m.color2[1], m.color2[2], 1.0],
                        params: [m.pattern as u32 as f32, m.scale, m.specular, m.shininess],
                        ids: [inst.id, vi as u32, 0, 0],
                    });
                    push_mesh(&mut vertices, &mut indices, &part.mesh, &inst.world_from_model, &part.local_from_model, draw);
                }
                instance_ranges.push(istart..indices.len() as u32);
            }
            image_ranges.push(start..indices.len() as u32);
        }
        let tiles = instance_ranges.len() as u32;
        self.ensure_targets(scenes.len() as u32, tiles);
        self.upload(&vertices, &indices, &draws, &views);
        let t = self.targets.as_ref().expect("targets were just ensured");
        let (vb, ib, db, wb) = self.buffers.as_ref().expect("buffers were just uploaded");
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("scene bind group"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: wb.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: db.as_entire_binding() },
            ],
        });
        let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("batch") });
        let clear = |v| wgpu::Operations { load: wgpu::LoadOp::Clear(v), store: wgpu::StoreOp::Store };
        let zero = wgpu::Color::TRANSPARENT;
        fn zclear(v: &wgpu::TextureView) -> Option<wgpu::RenderPassDepthStencilAttachment<'_>> {
            Some(wgpu::RenderPassDepthStencilAttachment {
                view: v,
                depth_ops: Some(wgpu::Operations { load: wgpu::LoadOp::Clear(1.0), store: wgpu::StoreOp::Discard }),
                stencil_ops: None,
            })
        }
        let color_view = view(&t.color);
        let (target, resolve) = match &t.color_msaa {
            Some(ms) => (ms, Some(&color_view)),
            None => (&color_view, None),
        };
        let draw_images = |pass: &mut wgpu::RenderPass<'_>| {
            pass.set_bind_group(0, &bind, &[]);
            pass.set_vertex_buffer(0, vb.slice(..));
            pass.set_index_buffer(ib.slice(..), wgpu::IndexFormat::Uint32);
            for (i, r) in image_ranges.iter().enumerate() {
                if r.is_empty() {
                    continue;
                }
                pass.set_viewport(0.0, (i as u32 * h) as f32, w as f32, h as f32, 0.0, 1.0);
                pass.set_scissor_rect(0, i as u32 * h, w, h);
                pass.draw_indexed(r.clone(), 0, 0..1);
            }
        };
        {
            let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("colour pass"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment { view: target, depth_slice: None, resolve_target: resolve, ops: clear(zero) })],
                depth_stencil_attachment: zclear(&t.zbuf_color),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(&self.color_pipe);
            draw_images(&mut pass);
        }
        let (ids_v, depth_v, normals_v) = (view(&t.ids), view(&t.depth), view(&t.normals));
        {
            let att = |v| Some(wgpu::RenderPassColorAttachment { view: v, depth_slice: None, resolve_target: None, ops: clear(zero) });
            let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("label pass"),
                color_attachments: &[att(&ids_v), att(&depth_v), att(&normals_v)],
                depth_stencil_attachment: zclear(&t.zbuf),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(&self.label_pipe);
            draw_images(&mut pass);
        }
        let cover_v = view(&t.cover);
        let cols = t.tiles.0;
        {
            let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("alone pass"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment { view: &cover_v, depth_slice: None, resolve_target: None, ops: clear(zero) })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(&self.cover_pipe);
            pass.set_bind_group(0, &bind, &[]);
            pass.set_vertex_buffer(0, vb.slice(..));
            pass.set_index_buffer(ib.slice(..), wgpu::IndexFormat::Uint32);
            for (k, r) in instance_ranges.iter().enumerate() {
                let (x, y) = ((k as u32 % cols) * w, (k as u32 / cols) * h);
                pass.set_viewport(x as f32, y as f32, w as f32, h as f32, 0.0, 1.0);
                pass.set_scissor_rect(x, y, w, h);
                if !r.is_empty() {
                    pass.draw_indexed(r.clone(), 0, 0..1);
                }
            }
        }
        let n = scenes.len() as u32;
        let (o_color, o_ids, o_depth, o_normals, o_atlas, _) = self.readback_layout(t.images, t.tiles.0, t.tiles.1);
        let copy = |enc: &mut wgpu::CommandEncoder, tex: &wgpu::Texture, offset: u64, bpp: u32, tw: u32, th: u32| {
            enc.copy_texture_to_buffer(
                tex.as_image_copy(),
                wgpu::TexelCopyBufferInfo {
                    buffer: &t.readback,
                    layout: wgpu::TexelCopyBufferLayout { offset, bytes_per_row: Some(padded_row(tw * bpp)), rows_per_image: None },
                },
                wgpu::Extent3d { width: tw, height: th, depth_or_array_layers: 1 },
            );
        };
        copy(&mut enc, &t.color, o_color, 4, w, h * n);
        copy(&mut enc, &t.ids, o_ids, 4, w, h * n);
        copy(&mut enc, &t.depth, o_depth, 4, w, h * n);
        if self.want_normals {
            copy(&mut enc, &t.normals, o_normals, 4, w, h * n);
        }
        let used_rows = tiles.div_ceil(cols).max(1);
        copy(&mut enc, &t.cover, o_atlas, 1, w * cols, h * used_rows);
        self.queue.submit([enc.finish()]);

        let slice = t.readback.slice(..);
        slice.map_async(wgpu::MapMode::Read, |r| r.expect("mapping the readback buffer for reading"));
        self.device
            .poll(wgpu::PollType::Wait { submission_index: None, timeout: None })
            .expect("the GPU finishes the batch");
        let t1 = std::time::Instant::now();
        let data = slice.get_mapped_range().expect("readback buffer is mapped");
        let row4 = padded_row(w * 4) as usize;
        let rows = |offset: u64, bpp: usize, img: usize| -> Vec<u8> {
            let mut out = Vec::with_capacity(w as usize * h as usize * bpp);
            for y in 0..h as usize {
                let start = offset as usize + (img * h as usize + y) * row4;
                out.extend_from_slice(&data[start..start + w as usize * bpp]);
            }
            out
        };
        let arow = padded_row(w * cols) as usize;
        let mut frames = Vec::with_capacity(scenes.len());
        let mut tile = 0usize;
        for (i, s) in scenes.iter().enumerate() {
            let mut alone = Vec::with_capacity(s.instances.len() * (w * h) as usize);
            for _ in &s.instances {
                let (tx, ty) = ((tile as u32 % cols) * w, (tile as u32 / cols) * h);
                for y in 0..h {
                    let start = o_atlas as usize + (ty + y) as usize * arow + tx as usize;
                    alone.extend_from_slice(&data[start..start + w as usize]);
                }
                tile += 1;
            }
            frames.push(Frame {
                width: w,
                height: h,
                color: rows(o_color, 4, i),
                ids: bytemuck::cast_slice(&rows(o_ids, 4, i)).to_vec(),
                depth: bytemuck::cast_slice(&rows(o_depth, 4, i)).to_vec(),
                normals: self.want_normals.then(|| rows(o_normals, 4, i)),
                alone,
            });
        }
        drop(data);
        t.readback.unmap();
        self.render_time += t1 - t0;
        self.readback_time += t1.elapsed();
        frames
    }

    fn upload(&mut self, vertices: &[Vertex], indices: &[u32], draws: &[GpuDraw], views: &[GpuView]) {
        let need = |len: usize| (len.max(1) as u64 * 4).next_power_of_two().max(1024);
        let sizes = [
            need(std::mem::size_of_val(vertices)),
            need(std::mem::size_of_val(indices)),
            need(std::mem::size_of_val(draws)),
            need(std::mem::size_of_val(views)),
        ];
        let fits = self.buffers.as_ref().is_some_and(|(a, b, c, d)| {
            a.size() >= sizes[0] && b.size() >= sizes[1] && c.size() >= sizes[2] && d.size() >= sizes[3]
        });
        if !fits {
            let mk = |label, size, usage| {
                self.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size, usage: usage | wgpu::BufferUsages::COPY_DST, mapped_at_creation: false })
            };
            self.buffers = Some((
                mk("vertices", sizes[0], wgpu::BufferUsages::VERTEX),
                mk("indices", sizes[1], wgpu::BufferUsages::INDEX),
                mk("draws", sizes[2], wgpu::BufferUsages::STORAGE),
                mk("views", sizes[3], wgpu::BufferUsages::STORAGE),
            ));
        }
        let (vb, ib, db, wb) = self.buffers.as_ref().expect("buffers exist");
        let write = |b: &wgpu::Buffer, bytes: &[u8]| {
            if !bytes.is_empty() {
                self.queue.write_buffer(b, 0, bytes);
            }
        };
        write(vb, bytemuck::cast_slice(vertices));
        write(ib, bytemuck::cast_slice(indices));
        write(db, bytemuck::cast_slice(draws));
        write(wb, bytemuck::cast_slice(views));
    }
}

fn push_mesh(vertices: &mut Vec<Vertex>, indices: &mut Vec<u32>, mesh: &crate::scene::mesh::Mesh, world: &Mat4, local_from_model: &Mat4, draw: u32) {
    let base = vertices.len() as u32;
    let nm = world.inverse().transpose();
    for (p, n) in mesh.positions.iter().zip(&mesh.normals) {
        vertices.push(Vertex {
            position: world.transform_point3(*p).to_array(),
            normal: nm.transform_vector3(*n).normalize_or_zero().to_array(),
            local: local_from_model.transform_point3(*p).to_array(),
            draw,
        });
    }
    indices.extend(mesh.indices.iter().map(|i| base + i));
}

fn gpu_view(s: &Scene, w: u32, h: u32) -> GpuView {
    let cam = &s.camera;
    let rows = [cam.rot.row(0), cam.rot.row(1), cam.rot.row(2)].map(|r| [r.x, r.y, r.z, 0.0]);
    let mut light_dir = [[0.0; 4]; 4];
    let mut light_col = [[0.0; 4]; 4];
    for (i, l) in s.lights.iter().take(4).enumerate() {
        light_dir[i] = [l.direction[0], l.direction[1], l.direction[2], 0.0];
        light_col[i] = [l.color[0], l.color[1], l.color[2], 0.0];
    }
    GpuView {
        clip_from_world: cam.clip_from_world(w, h).to_cols_array_2d(),
        cam_rows: rows,
        cam_pos: [cam.pos.x, cam.pos.y, cam.pos.z, 1.0],
        light_dir,
        light_col,
        ambient: [s.ambient, s.lights.len().min(4) as f32, 0.0, 0.0],
    }
}
