//! Headless rendering of sampled scenes with wgpu: a batch of images goes up as one vertex
//! buffer, is drawn in three passes (label targets with depth, every object alone into coverage
//! bits, shaded colour against the label depth) and comes back as plain CPU arrays. Owns every wgpu resource; knows nothing of
//! label formats or files.

mod context;

use bytemuck::{Pod, Zeroable};
pub use context::{adapters, map_read, mapped, AdapterSummary, DeviceError, RenderContext};
use glam::Mat4;

use crate::scene::Scene;

/// Instance id written for scenery that is rendered but never labelled.
pub const SCENERY_ID: u32 = 0xFFFF;

/// Whether an id read back from the id target belongs to a labelled instance (neither empty
/// background, 0, nor scenery).
pub fn is_labelled(id: u32) -> bool {
    id != 0 && id != SCENERY_ID
}

/// Largest texture side the renderer uses (every wgpu adapter supports it).
pub const MAX_SIDE: u32 = 8192;

/// One image's raw render.
#[derive(Debug, Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// RGBA8 render; alpha is object coverage (fractional at edges when antialiased), and
    /// `pixels::composite::Composited` puts it over its background. When a [`ColourPass`] ran
    /// between render and readback (the learned chain fused on the device), the finished rows
    /// it wrote instead.
    pub color: Vec<u8>,
    /// Instance id per pixel (0 background).
    pub ids: Vec<u32>,
    /// Camera-frame z per pixel (0 background); empty when neither a depth output nor a
    /// keypoint in the batch asked for it (`Renderer::new`'s `want_depth`).
    pub depth: Vec<f32>,
    /// Camera-frame normals as RGBA8 (n * 0.5 + 0.5), when asked for.
    pub normals: Option<Vec<u8>>,
    /// Coverage of each instance rendered alone: `ceil(width * height / 32)` words per
    /// instance, in instance order; bit `p % 32` of word `p / 32` is pixel `p` (row-major).
    /// Empty when the renderer's `coverage` is off: such frames cannot be labelled.
    pub alone: Vec<u32>,
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
const ID_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::R16Uint;
const DEPTH_OUT_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::R32Float;
const NORMAL_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const ZBUF_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;

/// Where a batch's camera depth comes from ([`Renderer::depth_source`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum DepthSource {
    /// Not read back.
    None,
    /// The label pass's camera-depth target (exact camera z).
    Target,
    /// The label pass's depth buffer, turned back into camera z ([`camera_z`]).
    Zbuf,
}

/// Camera z of depth-buffer value `d` of a projection with planes `near`, `far` (the inverse of
/// `Camera::clip_from_world`'s depth: d = f / (f − n) − f n / ((f − n) z)); 0 where nothing was
/// drawn (d = 1), as the camera-depth target has it.
fn camera_z(d: f32, near: f32, far: f32) -> f32 {
    if d >= 1.0 {
        0.0
    } else {
        far * near / (far - d * (far - near))
    }
}

/// Bytes per row padded to wgpu's 256-byte copy alignment.
pub fn padded_row(bytes: u32) -> u32 {
    bytes.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT
}

/// Offscreen targets for one batch size; rebuilt when a batch needs more room.
struct Targets {
    images: u32,
    tiles: u32,
    color_msaa: Option<wgpu::TextureView>,
    color: wgpu::Texture,
    /// Multisampled depth for the colour pass; without MSAA it shares `zbuf`.
    zbuf_msaa: Option<wgpu::TextureView>,
    ids: wgpu::Texture,
    depth: wgpu::Texture,
    normals: Option<wgpu::Texture>,
    zbuf: wgpu::TextureView,
    /// The label pass's depth buffer itself, copied out for keypoints when there is no
    /// camera-depth target.
    zbuf_tex: wgpu::Texture,
    /// One bit per pixel per instance: covered when the instance is drawn alone.
    bits: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// The colour rows as a [`ColourPass`] reads them (made on its first batch).
    colour_rows: Option<wgpu::Buffer>,
}

/// Work on a batch's colour on the device between drawing and reading back: the learned
/// stages (`augment::gpu::Fused`), so a rendered image crosses to the CPU once, finished.
pub trait ColourPass {
    /// Records work that reads the batch's colour rows in `colour` (premultiplied RGBA8, a
    /// pixel a u32 word, rows of [`padded_row`]`(4 × width)` bytes, image after image) and
    /// leaves the rows to read back as the frames' colour, in the same layout, at the start
    /// of the returned buffer.
    fn record(&mut self, colour: &wgpu::Buffer) -> (wgpu::CommandBuffer, wgpu::Buffer);
}

/// Byte offsets of each target in the readback buffer.
#[derive(Clone, Copy)]
struct Layout {
    color: u64,
    ids: u64,
    depth: u64,
    normals: u64,
    bits: u64,
    size: u64,
}

/// A batch's geometry on the device.
struct Buffers {
    vertices: wgpu::Buffer,
    indices: wgpu::Buffer,
    draws: wgpu::Buffer,
    views: wgpu::Buffer,
    /// The alone pass's triangles (the instances that are not isolated).
    alone: wgpu::Buffer,
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
    cover_layout: wgpu::BindGroupLayout,
    color_pipe: wgpu::RenderPipeline,
    label_pipe: wgpu::RenderPipeline,
    /// The label pass writing ids only, when depth is not always wanted.
    ids_pipe: Option<wgpu::RenderPipeline>,
    cover_pipe: wgpu::RenderPipeline,
    prepass_pipe: Option<wgpu::RenderPipeline>,
    targets: Option<Targets>,
    buffers: Option<Buffers>,
    /// Leave isolated instances out of the alone pass (their coverage is read from the id
    /// target instead); on unless a test compares.
    pub skip_isolated: bool,
    /// Draw the alone pass at all: each instance's own coverage, which only labels' visibility
    /// reads. Off for renders nothing labels (training's and `fit`'s): their frames' `alone`
    /// is empty. A crowd of overlapping scenery (leaves, cells) is drawn there again in full.
    pub coverage: bool,
    /// Time spent so far: building and submitting batches until the GPU finished them.
    pub render_time: std::time::Duration,
    /// Time spent so far copying targets out of the mapped readback buffer.
    pub readback_time: std::time::Duration,
}

fn texture(
    device: &wgpu::Device,
    label: &str,
    w: u32,
    h: u32,
    format: wgpu::TextureFormat,
    samples: u32,
    copy: bool,
) -> wgpu::Texture {
    let mut usage = wgpu::TextureUsages::RENDER_ATTACHMENT;
    if copy {
        usage |= wgpu::TextureUsages::COPY_SRC;
    }
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
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

/// Budget for the coverage bits of one batch.
const BITS_BUDGET: u64 = 64 << 20;

impl<'a> Renderer<'a> {
    /// Builds pipelines for images of `width` × `height`; `samples` is 1 or 4 (MSAA on colour).
    /// Long: one wgpu descriptor per pipeline (label, coverage, depth pre-pass, colour), each
    /// spelled out in full as wgpu wants.
    pub fn new(
        device: &'a wgpu::Device,
        queue: &'a wgpu::Queue,
        width: u32,
        height: u32,
        samples: u32,
        want_normals: bool,
        want_depth: bool,
    ) -> Self {
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("scene.wgsl"),
            source: wgpu::ShaderSource::Wgsl(crate::shaders::SCENE.into()),
        });
        let storage = |binding, read_only, visibility| wgpu::BindGroupLayoutEntry {
            binding,
            visibility,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let vf = wgpu::ShaderStages::VERTEX | wgpu::ShaderStages::FRAGMENT;
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("scene bind group layout"),
            entries: &[storage(0, true, vf), storage(1, true, vf)],
        });
        let cover_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("cover bind group layout"),
            entries: &[
                storage(0, true, vf),
                storage(1, true, vf),
                storage(2, false, wgpu::ShaderStages::FRAGMENT),
            ],
        });
        let pipe_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("scene pipeline layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let cover_pipe_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("cover pipeline layout"),
            bind_group_layouts: &[Some(&cover_layout)],
            immediate_size: 0,
        });
        let attrs =
            wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3, 2 => Float32x3, 3 => Uint32];
        let buffers = [Some(wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<Vertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &attrs,
        })];
        // The colour shader is the costly one, so it runs after a depth pre-pass and shades each
        // pixel once (depth test Equal; the vertex position is @invariant so depths match).
        let depth = |write: bool, compare| {
            Some(wgpu::DepthStencilState {
                format: ZBUF_FORMAT,
                depth_write_enabled: Some(write),
                depth_compare: Some(compare),
                stencil: wgpu::StencilState::default(),
                bias: wgpu::DepthBiasState::default(),
            })
        };
        let pipeline = |label: &str,
                        layout: &wgpu::PipelineLayout,
                        entry: Option<&str>,
                        targets: &[Option<wgpu::ColorTargetState>],
                        samples: u32,
                        z| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(layout),
                vertex: wgpu::VertexState {
                    module: &shader,
                    entry_point: Some("vs_main"),
                    compilation_options: Default::default(),
                    buffers: &buffers,
                },
                // culling off: planes are two-sided and meshes need no consistent winding
                primitive: wgpu::PrimitiveState {
                    cull_mode: None,
                    ..Default::default()
                },
                depth_stencil: z,
                multisample: wgpu::MultisampleState {
                    count: samples,
                    ..Default::default()
                },
                fragment: entry.map(|entry| wgpu::FragmentState {
                    module: &shader,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    targets,
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        use wgpu::CompareFunction::{Always, Equal, Less, LessEqual};
        let t = |f: wgpu::TextureFormat| Some(wgpu::ColorTargetState::from(f));
        let color_pipe = pipeline(
            "colour pipeline",
            &pipe_layout,
            Some("fs_color"),
            &[t(COLOR_FORMAT)],
            samples,
            depth(false, Equal),
        );
        // The label pipelines keep the last of fragments of equal depth (LessEqual), as the
        // colour pass does (Equal against the same depths): at an exact tie the id and the colour
        // of a pixel come from the same surface.
        // Without a depth output the ids go alone: the camera-depth target cost a run about a
        // sixth of its CPU time on lavapipe (measured on TASK-A); a batch with keypoints still
        // gets depth, which tells whether a keypoint is hidden
        let ids_pipe = (!want_normals && !want_depth).then(|| {
            pipeline(
                "id pipeline",
                &pipe_layout,
                Some("fs_ids"),
                &[t(ID_FORMAT)],
                1,
                depth(true, LessEqual),
            )
        });
        let label_pipe = if want_normals {
            pipeline(
                "label pipeline",
                &pipe_layout,
                Some("fs_labels_normals"),
                &[t(ID_FORMAT), t(DEPTH_OUT_FORMAT), t(NORMAL_FORMAT)],
                1,
                depth(true, LessEqual),
            )
        } else {
            pipeline(
                "label pipeline",
                &pipe_layout,
                Some("fs_labels"),
                &[t(ID_FORMAT), t(DEPTH_OUT_FORMAT)],
                1,
                depth(true, LessEqual),
            )
        };
        let cover_pipe = pipeline(
            "cover pipeline",
            &cover_pipe_layout,
            Some("fs_cover"),
            &[],
            1,
            depth(false, Always),
        );
        let prepass_pipe = (samples > 1).then(|| {
            pipeline(
                "multisampled depth pre-pass",
                &pipe_layout,
                None,
                &[],
                samples,
                depth(true, Less),
            )
        });
        Renderer {
            device,
            queue,
            width,
            height,
            samples,
            want_normals,
            layout,
            cover_layout,
            color_pipe,
            label_pipe,
            ids_pipe,
            cover_pipe,
            prepass_pipe,
            targets: None,
            buffers: None,
            skip_isolated: true,
            coverage: true,
            render_time: Default::default(),
            readback_time: Default::default(),
        }
    }

    /// How many images fit one batch (stacked vertically in one texture).
    pub fn max_batch(&self) -> usize {
        (MAX_SIDE / self.height).max(1) as usize
    }

    fn words_per_image(&self) -> u64 {
        (self.width as u64 * self.height as u64).div_ceil(32)
    }

    /// How many instances one batch can hold (coverage bits budget).
    pub fn max_tiles(&self) -> usize {
        (BITS_BUDGET / (self.words_per_image() * 4)).max(1) as usize
    }

    fn ensure_targets(&mut self, images: u32, tiles: u32) {
        if let Some(t) = &self.targets {
            if t.images >= images && t.tiles >= tiles {
                return;
            }
        }
        let (images, tiles) = match &self.targets {
            Some(t) => (images.max(t.images), tiles.max(t.tiles).max(1)),
            None => (images, tiles.max(1)),
        };
        let (w, h) = (self.width, self.height);
        let d = self.device;
        let bh = h * images;
        let color = texture(d, "colour", w, bh, COLOR_FORMAT, 1, true);
        let color_msaa = (self.samples > 1).then(|| {
            view(&texture(
                d,
                "colour msaa",
                w,
                bh,
                COLOR_FORMAT,
                self.samples,
                false,
            ))
        });
        let zbuf_msaa = (self.samples > 1).then(|| {
            view(&texture(
                d,
                "multisampled depth buffer",
                w,
                bh,
                ZBUF_FORMAT,
                self.samples,
                false,
            ))
        });
        let ids = texture(d, "instance ids", w, bh, ID_FORMAT, 1, true);
        let depth = texture(d, "camera depth", w, bh, DEPTH_OUT_FORMAT, 1, true);
        let normals = self
            .want_normals
            .then(|| texture(d, "normals", w, bh, NORMAL_FORMAT, 1, true));
        let zbuf_tex = texture(d, "label depth buffer", w, bh, ZBUF_FORMAT, 1, true);
        let zbuf = view(&zbuf_tex);
        let bits = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("coverage bits"),
            size: self.words_per_image() * 4 * tiles as u64,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let readback = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: self.readback_layout(images, tiles).size,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        self.targets = Some(Targets {
            images,
            tiles,
            color_msaa,
            color,
            zbuf_msaa,
            ids,
            depth,
            normals,
            zbuf,
            zbuf_tex,
            bits,
            readback,
            colour_rows: None,
        });
    }

    /// The targets' colour rows as a storage buffer, for a [`ColourPass`].
    fn ensure_colour_rows(&mut self) {
        let (w, h) = (self.width, self.height);
        let d = self.device;
        let t = self.targets.as_mut().expect("targets are made first");
        if t.colour_rows.is_none() {
            t.colour_rows = Some(d.create_buffer(&wgpu::BufferDescriptor {
                label: Some("colour rows"),
                size: padded_row(w * 4) as u64 * (h * t.images) as u64,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
    }

    /// Records the copies of every target of a batch of `n` images into the readback buffer
    /// (at `lay`'s offsets), the colour into `rows` instead when a colour pass reads it there.
    #[allow(clippy::too_many_arguments)]
    fn encode_copies(
        &self,
        enc: &mut wgpu::CommandEncoder,
        t: &Targets,
        lay: &Layout,
        n: u32,
        depth: DepthSource,
        rows: Option<&wgpu::Buffer>,
        bits_len: u64,
    ) {
        let (w, h) = (self.width, self.height);
        let copy_to = |enc: &mut wgpu::CommandEncoder,
                       tex: &wgpu::Texture,
                       buffer: &wgpu::Buffer,
                       offset: u64,
                       bpp: u32| {
            enc.copy_texture_to_buffer(
                tex.as_image_copy(),
                wgpu::TexelCopyBufferInfo {
                    buffer,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset,
                        bytes_per_row: Some(padded_row(w * bpp)),
                        rows_per_image: None,
                    },
                },
                wgpu::Extent3d {
                    width: w,
                    height: h * n,
                    depth_or_array_layers: 1,
                },
            );
        };
        let copy = |enc: &mut wgpu::CommandEncoder, tex: &wgpu::Texture, offset: u64, bpp: u32| {
            copy_to(enc, tex, &t.readback, offset, bpp)
        };
        match rows {
            Some(rows) => copy_to(enc, &t.color, rows, 0, 4),
            None => copy(enc, &t.color, lay.color, 4),
        }
        copy(enc, &t.ids, lay.ids, 2);
        match depth {
            DepthSource::Target => copy(enc, &t.depth, lay.depth, 4),
            DepthSource::Zbuf => enc.copy_texture_to_buffer(
                wgpu::TexelCopyTextureInfo {
                    texture: &t.zbuf_tex,
                    mip_level: 0,
                    origin: wgpu::Origin3d::ZERO,
                    aspect: wgpu::TextureAspect::DepthOnly,
                },
                wgpu::TexelCopyBufferInfo {
                    buffer: &t.readback,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: lay.depth,
                        bytes_per_row: Some(padded_row(w * 4)),
                        rows_per_image: None,
                    },
                },
                // a depth texture is copied whole (wgpu allows no part of one)
                wgpu::Extent3d {
                    width: w,
                    height: h * t.images,
                    depth_or_array_layers: 1,
                },
            ),
            DepthSource::None => {}
        }
        if let Some(nt) = &t.normals {
            copy(enc, nt, lay.normals, 4);
        }
        if bits_len > 0 {
            enc.copy_buffer_to_buffer(&t.bits, 0, &t.readback, lay.bits, bits_len);
        }
    }

    fn readback_layout(&self, images: u32, tiles: u32) -> Layout {
        let bh = (self.height * images) as u64;
        let row4 = padded_row(self.width * 4) as u64;
        let row2 = padded_row(self.width * 2) as u64;
        let color = 0;
        let ids = color + row4 * bh;
        let depth = ids + row2 * bh;
        let normals = depth + row4 * bh;
        let bits = normals + if self.want_normals { row4 * bh } else { 0 };
        let size = bits + self.words_per_image() * 4 * tiles.max(1) as u64;
        Layout {
            color,
            ids,
            depth,
            normals,
            bits,
            size,
        }
    }

    /// Renders the scenes and reads every target back.
    pub fn render(&mut self, scenes: &[Scene]) -> Result<Vec<Frame>, DeviceError> {
        self.render_with(scenes, None)
    }

    /// [`render`](Self::render), with `pass` run on the colour between drawing and reading
    /// back, in the same submission; the frames' colour is what `pass` leaves. Long: the passes
    /// (labels, coverage bits, depth pre-pass, colour) stay in one function, as they share the
    /// bind groups, targets and draw closures, which would otherwise be passed around as a dozen
    /// borrowed handles; the copies to the readback buffer are [`Renderer::encode_copies`].
    pub fn render_with(
        &mut self,
        scenes: &[Scene],
        mut pass: Option<&mut dyn ColourPass>,
    ) -> Result<Vec<Frame>, DeviceError> {
        let t0 = std::time::Instant::now();
        let (w, h) = (self.width, self.height);
        let Geometry {
            vertices,
            indices,
            draws,
            views,
            image_ranges,
            tiles,
            alone_indices,
            alone_ranges,
            isolated,
        } = geometry(scenes, w, h, self.skip_isolated, self.coverage);
        // without the alone pass no coverage bits are cleared, drawn or read back
        let tiles = if self.coverage { tiles } else { 0 };
        self.ensure_targets(scenes.len() as u32, tiles);
        if pass.is_some() {
            self.ensure_colour_rows();
        }
        self.upload(&vertices, &indices, &draws, &views, &alone_indices);
        let t = self.targets.as_ref().expect("targets were just ensured");
        let bufs = self.buffers.as_ref().expect("buffers were just uploaded");
        let (wb, db) = (&bufs.views, &bufs.draws);
        let entries = [
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wb.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: db.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: t.bits.as_entire_binding(),
            },
        ];
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("scene bind group"),
            layout: &self.layout,
            entries: &entries[..2],
        });
        let cover_bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("cover bind group"),
            layout: &self.cover_layout,
            entries: &entries,
        });
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("batch"),
            });
        let bits_len = self.words_per_image() * 4 * tiles as u64;
        if bits_len > 0 {
            enc.clear_buffer(&t.bits, 0, Some(bits_len));
        }
        let clear = |v| wgpu::Operations {
            load: wgpu::LoadOp::Clear(v),
            store: wgpu::StoreOp::Store,
        };
        let zero = wgpu::Color::TRANSPARENT;
        fn zbuf_op(
            v: &wgpu::TextureView,
            load: wgpu::LoadOp<f32>,
        ) -> Option<wgpu::RenderPassDepthStencilAttachment<'_>> {
            Some(wgpu::RenderPassDepthStencilAttachment {
                view: v,
                depth_ops: Some(wgpu::Operations {
                    load,
                    store: wgpu::StoreOp::Store,
                }),
                stencil_ops: None,
            })
        }
        let draw_ranges = |pass: &mut wgpu::RenderPass<'_>,
                           bind: &wgpu::BindGroup,
                           ib: &wgpu::Buffer,
                           ranges: &[std::ops::Range<u32>]| {
            pass.set_bind_group(0, bind, &[]);
            pass.set_vertex_buffer(0, bufs.vertices.slice(..));
            pass.set_index_buffer(ib.slice(..), wgpu::IndexFormat::Uint32);
            for (i, r) in ranges.iter().enumerate() {
                if r.is_empty() {
                    continue;
                }
                pass.set_viewport(0.0, (i as u32 * h) as f32, w as f32, h as f32, 0.0, 1.0);
                pass.set_scissor_rect(0, i as u32 * h, w, h);
                pass.draw_indexed(r.clone(), 0, 0..1);
            }
        };
        let draw_images = |pass: &mut wgpu::RenderPass<'_>, bind: &wgpu::BindGroup| {
            draw_ranges(pass, bind, &bufs.indices, &image_ranges)
        };
        let pass_desc =
            |label, color_attachments, depth_stencil_attachment| wgpu::RenderPassDescriptor {
                label: Some(label),
                color_attachments,
                depth_stencil_attachment,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            };
        let att = |v| {
            Some(wgpu::RenderPassColorAttachment {
                view: v,
                depth_slice: None,
                resolve_target: None,
                ops: clear(zero),
            })
        };
        let (ids_v, depth_v) = (view(&t.ids), view(&t.depth));
        let normals_v = t.normals.as_ref().map(view);
        let depth = self.depth_source(scenes);
        let mut label_atts = vec![att(&ids_v)];
        let label_pipe = match &self.ids_pipe {
            Some(ids) if depth != DepthSource::Target => ids,
            _ => {
                label_atts.push(att(&depth_v));
                &self.label_pipe
            }
        };
        if let Some(nv) = &normals_v {
            label_atts.push(att(nv));
        }
        {
            let mut pass = enc.begin_render_pass(&pass_desc(
                "label pass",
                &label_atts,
                zbuf_op(&t.zbuf, wgpu::LoadOp::Clear(1.0)),
            ));
            pass.set_pipeline(label_pipe);
            draw_images(&mut pass, &bind);
        }
        if self.coverage {
            // every instance that may be hidden drawn without depth test: each sets its own
            // coverage bits (an isolated one's are its pixels in the id target: `read_back`)
            let mut pass = enc.begin_render_pass(&pass_desc(
                "alone pass",
                &[],
                zbuf_op(&t.zbuf, wgpu::LoadOp::Load),
            ));
            pass.set_pipeline(&self.cover_pipe);
            draw_ranges(&mut pass, &cover_bind, &bufs.alone, &alone_ranges);
        }
        if let (Some(pre), Some(zm)) = (&self.prepass_pipe, &t.zbuf_msaa) {
            let mut pass = enc.begin_render_pass(&pass_desc(
                "depth pre-pass",
                &[],
                zbuf_op(zm, wgpu::LoadOp::Clear(1.0)),
            ));
            pass.set_pipeline(pre);
            draw_images(&mut pass, &bind);
        }
        let color_view = view(&t.color);
        {
            let (target, resolve) = match &t.color_msaa {
                Some(ms) => (ms, Some(&color_view)),
                None => (&color_view, None),
            };
            let zb = t.zbuf_msaa.as_ref().unwrap_or(&t.zbuf);
            let color_att = [Some(wgpu::RenderPassColorAttachment {
                view: target,
                depth_slice: None,
                resolve_target: resolve,
                ops: clear(zero),
            })];
            let mut pass = enc.begin_render_pass(&pass_desc(
                "colour pass",
                &color_att,
                zbuf_op(zb, wgpu::LoadOp::Load),
            ));
            pass.set_pipeline(&self.color_pipe);
            draw_images(&mut pass, &bind);
        }
        let n = scenes.len() as u32;
        let lay = self.readback_layout(t.images, t.tiles);
        let rows = t.colour_rows.as_ref().filter(|_| pass.is_some());
        self.encode_copies(&mut enc, t, &lay, n, depth, rows, bits_len);
        match (pass.as_mut(), rows) {
            (Some(pass), Some(rows)) => {
                let (work, out) = pass.record(rows);
                let mut back =
                    self.device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("colour pass readback"),
                        });
                let bytes = padded_row(w * 4) as u64 * (h * n) as u64;
                back.copy_buffer_to_buffer(&out, 0, &t.readback, lay.color, bytes);
                self.queue.submit([enc.finish(), work, back.finish()]);
            }
            _ => {
                self.queue.submit([enc.finish()]);
            }
        }

        self.read_back(scenes, &isolated, depth, t0)
    }

    /// Where this batch's per-pixel camera depth comes from: the camera-depth target when the
    /// run writes depth or normals, or when a keypoint needs depth and the depth buffer is too
    /// coarse for it (far / near above 1e5: relative error above about 1e-3 at the far end);
    /// the depth buffer when only keypoints need it; nowhere else.
    fn depth_source(&self, scenes: &[Scene]) -> DepthSource {
        let keypoints = scenes
            .iter()
            .any(|s| s.instances.iter().any(|i| !i.keypoints.is_empty()));
        let coarse = scenes.iter().any(|s| s.camera.far > 1e5 * s.camera.near);
        match (&self.ids_pipe, keypoints, coarse) {
            (None, _, _) | (_, true, true) => DepthSource::Target,
            (_, true, false) => DepthSource::Zbuf,
            (_, false, _) => DepthSource::None,
        }
    }

    /// Waits for the submitted batch and splits the readback buffer into one frame per scene;
    /// the alone coverage of an `isolated` tile is set from its pixels in the id target.
    fn read_back(
        &mut self,
        scenes: &[Scene],
        isolated: &[bool],
        depth: DepthSource,
        t0: std::time::Instant,
    ) -> Result<Vec<Frame>, DeviceError> {
        let (w, h) = (self.width, self.height);
        let t = self.targets.as_ref().expect("targets were just ensured");
        let lay = self.readback_layout(t.images, t.tiles);
        let slice = t.readback.slice(..);
        map_read(self.device, &[slice], None, "a batch")?;
        let t1 = std::time::Instant::now();
        let data = mapped(&slice, "a batch")?;
        let rows = |offset: u64, bpp: usize, img: usize| -> Vec<u8> {
            let row = padded_row(w * bpp as u32) as usize;
            let mut out = Vec::with_capacity(w as usize * h as usize * bpp);
            for y in 0..h as usize {
                let start = offset as usize + (img * h as usize + y) * row;
                out.extend_from_slice(&data[start..start + w as usize * bpp]);
            }
            out
        };
        let words = self.words_per_image() as usize;
        let mut frames = Vec::with_capacity(scenes.len());
        let mut tile = 0usize;
        for (i, s) in scenes.iter().enumerate() {
            let k = s.instances.len();
            let b0 = lay.bits as usize + tile * words * 4;
            let mut alone: Vec<u32> = if self.coverage {
                bytemuck::pod_collect_to_vec(&data[b0..b0 + k * words * 4])
            } else {
                Vec::new()
            };
            let ids: Vec<u32> = rows(lay.ids, 2, i)
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]) as u32)
                .collect();
            let iso = &isolated[tile..tile + k];
            if iso.iter().any(|v| *v) {
                // ids are 1-based instance numbers within the image
                for (p, &id) in ids.iter().enumerate() {
                    let j = id as usize;
                    if j >= 1 && j <= k && iso[j - 1] {
                        alone[(j - 1) * words + p / 32] |= 1 << (p % 32);
                    }
                }
            }
            tile += k;
            frames.push(Frame {
                width: w,
                height: h,
                color: rows(lay.color, 4, i),
                ids,
                depth: match depth {
                    DepthSource::Target => bytemuck::pod_collect_to_vec(&rows(lay.depth, 4, i)),
                    DepthSource::Zbuf => {
                        let (n, f) = (s.camera.near as f32, s.camera.far as f32);
                        bytemuck::pod_collect_to_vec::<u8, f32>(&rows(lay.depth, 4, i))
                            .into_iter()
                            .map(|d| camera_z(d, n, f))
                            .collect()
                    }
                    DepthSource::None => Vec::new(),
                },
                normals: t.normals.as_ref().map(|_| rows(lay.normals, 4, i)),
                alone,
            });
        }
        drop(data);
        t.readback.unmap();
        self.render_time += t1 - t0;
        self.readback_time += t1.elapsed();
        Ok(frames)
    }

    fn upload(
        &mut self,
        vertices: &[Vertex],
        indices: &[u32],
        draws: &[GpuDraw],
        views: &[GpuView],
        alone: &[u32],
    ) {
        let need = |len: usize| (len.max(1) as u64 * 4).next_power_of_two().max(1024);
        let sizes = [
            need(std::mem::size_of_val(vertices)),
            need(std::mem::size_of_val(indices)),
            need(std::mem::size_of_val(draws)),
            need(std::mem::size_of_val(views)),
            need(std::mem::size_of_val(alone)),
        ];
        let fits = self.buffers.as_ref().is_some_and(|b| {
            [&b.vertices, &b.indices, &b.draws, &b.views, &b.alone]
                .iter()
                .zip(sizes)
                .all(|(b, s)| b.size() >= s)
        });
        if !fits {
            let mk = |label, size, usage| {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage: usage | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            };
            self.buffers = Some(Buffers {
                vertices: mk("vertices", sizes[0], wgpu::BufferUsages::VERTEX),
                indices: mk("indices", sizes[1], wgpu::BufferUsages::INDEX),
                draws: mk("draws", sizes[2], wgpu::BufferUsages::STORAGE),
                views: mk("views", sizes[3], wgpu::BufferUsages::STORAGE),
                alone: mk("alone indices", sizes[4], wgpu::BufferUsages::INDEX),
            });
        }
        let b = self.buffers.as_ref().expect("buffers exist");
        let write = |b: &wgpu::Buffer, bytes: &[u8]| {
            if !bytes.is_empty() {
                self.queue.write_buffer(b, 0, bytes);
            }
        };
        write(&b.vertices, bytemuck::cast_slice(vertices));
        write(&b.indices, bytemuck::cast_slice(indices));
        write(&b.draws, bytemuck::cast_slice(draws));
        write(&b.views, bytemuck::cast_slice(views));
        write(&b.alone, bytemuck::cast_slice(alone));
    }
}

fn push_mesh(
    vertices: &mut Vec<Vertex>,
    indices: &mut Vec<u32>,
    mesh: &crate::scene::mesh::Mesh,
    world: &Mat4,
    local_from_model: &Mat4,
    draw: u32,
) {
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
        ambient: [s.ambient, s.lights.len().min(4) as f32, w as f32, h as f32],
    }
}
/// The batch's geometry: every part's triangles, one draw record per part, one view per image,
/// each image's index range, and the number of tiles (instances) in all; and for the alone pass
/// the triangles of the instances that must be drawn there (see [`isolated`]), by image.
struct Geometry {
    vertices: Vec<Vertex>,
    indices: Vec<u32>,
    draws: Vec<GpuDraw>,
    views: Vec<GpuView>,
    image_ranges: Vec<std::ops::Range<u32>>,
    tiles: u32,
    alone_indices: Vec<u32>,
    alone_ranges: Vec<std::ops::Range<u32>>,
    /// Per tile: its alone coverage is its pixels in the id target (not drawn in the alone pass).
    isolated: Vec<bool>,
}

/// Where an instance's vertices land: pixel box (inclusive, widened by a pixel) and camera-z
/// range; `None` when a vertex is at or behind the camera plane (the box is then unbounded).
#[derive(Clone, Copy)]
struct Footprint {
    x: (f32, f32),
    y: (f32, f32),
    z: (f32, f32),
}

fn footprint(clip_from_world: &Mat4, vertices: &[Vertex], w: u32, h: u32) -> Option<Footprint> {
    let mut f = Footprint {
        x: (f32::INFINITY, f32::NEG_INFINITY),
        y: (f32::INFINITY, f32::NEG_INFINITY),
        z: (f32::INFINITY, f32::NEG_INFINITY),
    };
    for v in vertices {
        let c = *clip_from_world * glam::Vec3::from(v.position).extend(1.0);
        if c.w.is_nan() || c.w <= 1e-6 {
            return None;
        }
        let (x, y) = (
            (c.x / c.w + 1.0) * 0.5 * w as f32,
            (1.0 - c.y / c.w) * 0.5 * h as f32,
        );
        f.x = (f.x.0.min(x - 1.0), f.x.1.max(x + 1.0));
        f.y = (f.y.0.min(y - 1.0), f.y.1.max(y + 1.0));
        f.z = (f.z.0.min(c.w), f.z.1.max(c.w));
    }
    Some(f)
}

/// Which instances of one image are isolated: labelled, every vertex in front of the camera, and
/// every other instance whose pixel box meets theirs lies wholly behind them. Such an instance
/// is nowhere hidden, so drawn alone it covers exactly its pixels in the id target (the same
/// rasteriser draws the same triangles there); the alone pass can skip it. Conservative: boxes
/// and depth ranges over-cover, so an instance that might be hidden is drawn.
fn isolated(scene: &Scene, feet: &[Option<Footprint>]) -> Vec<bool> {
    let meets = |a: &Footprint, b: &Footprint| {
        a.x.0 <= b.x.1 && b.x.0 <= a.x.1 && a.y.0 <= b.y.1 && b.y.0 <= a.y.1
    };
    (0..feet.len())
        .map(|i| {
            let Some(a) = &feet[i] else { return false };
            scene.instances[i].class.is_some()
                && feet.iter().enumerate().all(|(j, b)| {
                    j == i
                        || b.as_ref()
                            .is_some_and(|b| !meets(a, b) || b.z.0 > a.z.1 * (1.0 + 1e-4) + 1e-5)
                })
        })
        .collect()
}

/// The batch's [`Geometry`]; with `coverage` off, nothing for the alone pass (and no instance
/// isolated, so `read_back` reads no coverage from the ids either).
fn geometry(scenes: &[Scene], w: u32, h: u32, skip_isolated: bool, coverage: bool) -> Geometry {
    let mut vertices: Vec<Vertex> = Vec::new();
    let mut indices: Vec<u32> = Vec::new();
    let mut draws: Vec<GpuDraw> = Vec::new();
    let mut views: Vec<GpuView> = Vec::new();
    let mut image_ranges = Vec::new();
    let mut alone_indices: Vec<u32> = Vec::new();
    let mut alone_ranges = Vec::new();
    let mut isolated_tiles = Vec::new();
    let mut tile = 0u32;
    for (vi, s) in scenes.iter().enumerate() {
        let view = gpu_view(s, w, h);
        let clip_from_world = Mat4::from_cols_array_2d(&view.clip_from_world);
        views.push(view);
        let start = indices.len() as u32;
        let mut inst_spans = Vec::with_capacity(s.instances.len());
        let mut feet = Vec::with_capacity(s.instances.len());
        for inst in &s.instances {
            let (v0, i0) = (vertices.len(), indices.len());
            for part in &inst.parts {
                let m = &part.material;
                let draw = draws.len() as u32;
                draws.push(GpuDraw {
                    color: [m.color[0], m.color[1], m.color[2], 1.0],
                    color2: [m.color2[0], m.color2[1], m.color2[2], 1.0],
                    params: [m.pattern as u32 as f32, m.scale, m.specular, m.shininess],
                    ids: [
                        inst.class.map_or(SCENERY_ID, |_| inst.id),
                        vi as u32,
                        tile,
                        0,
                    ],
                });
                push_mesh(
                    &mut vertices,
                    &mut indices,
                    &part.mesh,
                    &inst.world_from_model,
                    &part.local_from_model,
                    draw,
                );
            }
            feet.push(footprint(&clip_from_world, &vertices[v0..], w, h));
            inst_spans.push(i0..indices.len());
            tile += 1;
        }
        image_ranges.push(start..indices.len() as u32);
        let alone_start = alone_indices.len() as u32;
        let iso = if skip_isolated && coverage {
            isolated(s, &feet)
        } else {
            vec![false; feet.len()]
        };
        for (span, skip) in inst_spans.into_iter().zip(&iso) {
            if coverage && !skip {
                alone_indices.extend_from_slice(&indices[span]);
            }
        }
        alone_ranges.push(alone_start..alone_indices.len() as u32);
        isolated_tiles.extend(iso);
    }
    let tiles = tile;
    Geometry {
        vertices,
        indices,
        draws,
        views,
        image_ranges,
        tiles,
        alone_indices,
        alone_ranges,
        isolated: isolated_tiles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first `n` scenes of tests/fixtures/mixed.yaml (occlusion, image edges, keypoints),
    /// its config and a render device.
    fn mixed(n: u64) -> (crate::config::Config, Vec<Scene>, RenderContext) {
        let cfg = crate::config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mixed.yaml"
        )))
        .unwrap_or_else(|e| panic!("{e}"));
        let scenes = (0..n).map(|i| crate::scene::sample(&cfg, i)).collect();
        let ctx = RenderContext::new().expect("a render device (install mesa-vulkan-drivers)");
        (cfg, scenes, ctx)
    }

    /// A renderer of `cfg`'s size without multisampling, normals or a depth output.
    fn plain<'a>(cfg: &crate::config::Config, ctx: &'a RenderContext) -> Renderer<'a> {
        Renderer::new(
            &ctx.device,
            &ctx.queue,
            cfg.width,
            cfg.height,
            1,
            false,
            false,
        )
    }

    /// Reading an isolated instance's alone coverage from the id target gives the bits drawing
    /// it alone gives, on scenes with occlusion, image edges and scenery.
    #[test]
    fn skipping_isolated_instances_keeps_the_alone_coverage() {
        let (cfg, scenes, ctx) = mixed(24);
        let mut r = plain(&cfg, &ctx);
        let iso = geometry(&scenes, cfg.width, cfg.height, true, true).isolated;
        let n = iso.iter().filter(|v| **v).count();
        assert!(
            n > 0 && n < iso.len(),
            "the test needs both kinds: {n} of {} isolated",
            iso.len()
        );
        let fast = r.render(&scenes).expect("render");
        r.skip_isolated = false;
        let full = r.render(&scenes).expect("render");
        for (i, (a, b)) in fast.iter().zip(&full).enumerate() {
            assert_eq!(a.ids, b.ids, "image {i}: ids");
            assert!(a.alone == b.alone, "image {i}: alone coverage differs");
        }
    }

    /// A renderer without the alone pass (training's, fit's) gives the same colour and ids and
    /// no coverage; switched back on, the coverage of the same scenes is back.
    #[test]
    fn renders_without_coverage_keep_colour_and_ids() {
        let (cfg, scenes, ctx) = mixed(12);
        let mut r = plain(&cfg, &ctx);
        let full = r.render(&scenes).expect("render");
        r.coverage = false;
        let bare = r.render(&scenes).expect("render");
        r.coverage = true;
        let again = r.render(&scenes).expect("render");
        for (i, ((a, b), c)) in full.iter().zip(&bare).zip(&again).enumerate() {
            assert_eq!(a.color, b.color, "image {i}: colour");
            assert_eq!(a.ids, b.ids, "image {i}: ids");
            assert!(
                b.alone.is_empty(),
                "image {i}: coverage without the alone pass"
            );
            assert!(
                a.alone == c.alone,
                "image {i}: coverage after switching back"
            );
        }
        assert!(
            full.iter().any(|f| f.alone.iter().any(|w| *w != 0)),
            "the scenes have coverage to leave out"
        );
    }

    /// Without a depth output, keypoints get camera z from the depth buffer: the same as the
    /// camera-depth target's within 1e-3 relative, and 0 where nothing was drawn.
    #[test]
    fn depth_from_the_depth_buffer_agrees_with_the_depth_target() {
        let (cfg, scenes, ctx) = mixed(10);
        let (w, h) = (cfg.width, cfg.height);
        let mut exact = Renderer::new(&ctx.device, &ctx.queue, w, h, 1, false, true);
        let mut from_zbuf = Renderer::new(&ctx.device, &ctx.queue, w, h, 1, false, false);
        assert!(from_zbuf.depth_source(&scenes) == DepthSource::Zbuf);
        let a = exact.render(&scenes).expect("render");
        // batches that fill part of the targets: a depth buffer is copied whole
        from_zbuf.render(&scenes[..4]).expect("render");
        let b = from_zbuf.render(&scenes).expect("render");
        let c = from_zbuf.render(&scenes[..3]).expect("render");
        assert_eq!(
            c[2].depth, b[2].depth,
            "a partial batch reads the same depth"
        );
        let mut drawn = 0;
        for (i, (a, b)) in a.iter().zip(&b).enumerate() {
            assert_eq!(a.ids, b.ids, "image {i}: ids");
            for (p, (x, y)) in a.depth.iter().zip(&b.depth).enumerate() {
                if *x == 0.0 {
                    assert_eq!(*y, 0.0, "image {i} pixel {p}: background");
                } else {
                    drawn += 1;
                    assert!((x - y).abs() <= 1e-3 * x, "image {i} pixel {p}: {x} vs {y}");
                }
            }
        }
        assert!(drawn > 1000, "{drawn} pixels drawn");
    }
}
