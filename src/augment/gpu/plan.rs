//! The chain as data: the kernels of `shaders/augment.wgsl` and their parameters, the
//! buffers a batch binds (by name, so a batch is recorded before they exist), the sizes each
//! image takes, and the recorder that turns stages into dispatches and builds the batch's
//! table (taps, kernels, ramps, coverage, room for the partial sums).

use crate::augment::stages::Stage;
use std::collections::HashMap;

use crate::augment::fast::{reach, taps};
use crate::augment::stages::Weights;
use crate::augment::stages::{low, BG_Z, BLUR_MAX, DETAIL_BOUND, LIGHT_Z};

/// Values one workgroup of a reduction sums.
pub(super) const CHUNK: usize = 8192;
/// Most bytes of scratch one sub-batch holds on the device; larger batches run in parts.
pub(super) const BUDGET: u64 = 768 << 20;

/// The kernels of `shaders/augment.wgsl`, in the order of [`ENTRIES`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Kernel {
    Conv3,
    ResizeRows,
    ResizeCols,
    BlurRows,
    BlurCols,
    Light,
    BgFinish,
    Reduce,
    Finish,
}

pub(super) const ENTRIES: [&str; 9] = [
    "cs_conv3",
    "cs_resize_rows",
    "cs_resize_cols",
    "cs_blur_rows",
    "cs_blur_cols",
    "cs_light",
    "cs_bg_finish",
    "cs_reduce",
    "cs_finish",
];

// modes, as the shader reads them
pub(super) const ACT_NONE: u32 = 0;
pub(super) const ACT_LEAKY: u32 = 1;
pub(super) const ACT_DETAIL: u32 = 2;
pub(super) const RESIZE_WRITE: u32 = 0;
pub(super) const RESIZE_ADD: u32 = 1;
pub(super) const RESIZE_COMPOSITE: u32 = 2;
pub(super) const BLUR_WRITE: u32 = 0;
pub(super) const BLUR_HIGH_PASS: u32 = 1;
pub(super) const SUM_SQUARES: u32 = 0;
pub(super) const SUM_ABS: u32 = 1;

/// One dispatch's parameters, as the shader's `Params` (offsets and strides in elements).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct Params {
    pub(super) planes: u32,
    pub(super) images: u32,
    pub(super) h: u32,
    pub(super) w: u32,
    pub(super) oh: u32,
    pub(super) ow: u32,
    pub(super) src_off: u32,
    pub(super) src_stride: u32,
    pub(super) dst_off: u32,
    pub(super) dst_stride: u32,
    pub(super) tab_off: u32,
    pub(super) tab_stride: u32,
    pub(super) tab2_off: u32,
    pub(super) tab2_stride: u32,
    pub(super) w_off: u32,
    pub(super) c_in: u32,
    pub(super) radius: u32,
    pub(super) chunks: u32,
    pub(super) chunk_len: u32,
    pub(super) mode: u32,
    pub(super) value: f32,
    pub(super) pad: [u32; 3],
}

// the shader's uniform struct is 24 four-byte fields
const _: () = assert!(std::mem::size_of::<Params>() == 96);

/// The device buffers a dispatch binds, named so a batch can be recorded before they exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Buf {
    /// The images [B][C][H][W].
    Img,
    /// Full-size scratch: the blur's intermediate, the lighting maps.
    S1,
    /// The resizes' intermediates (one axis done).
    S2,
    /// Sensor noise, laid out as the images.
    Pix,
    /// The lighting and background noise maps.
    Z,
    /// The detail net's input: the image at the training size, then the detail noise.
    Di,
    /// Training-size scratch.
    P,
    Q,
    M,
    /// Per-batch tables (taps, kernels, ramps, coverage) and the reductions' partials.
    Table,
    /// Bound where a kernel reads nothing.
    Dummy,
}

/// A tensor in a buffer: image k starts at `off + k stride`.
#[derive(Debug, Clone, Copy)]
pub(super) struct View {
    pub(super) buf: Buf,
    pub(super) off: u32,
    pub(super) stride: u32,
}

/// A tensor at the start of `buf`, `stride` elements per image.
pub(super) fn view(buf: Buf, stride: usize) -> View {
    View {
        buf,
        off: 0,
        stride: stride as u32,
    }
}

/// A convolution's place in the weights buffer.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConvAt {
    pub(super) w_off: u32,
    pub(super) c_in: u32,
    pub(super) c_out: u32,
}

/// The chain's convolutions in the weights buffer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Convs {
    pub(super) light1: ConvAt,
    pub(super) light2: ConvAt,
    pub(super) bg1: ConvAt,
    pub(super) bg2: ConvAt,
    pub(super) bg3: ConvAt,
    pub(super) bg4: ConvAt,
    pub(super) detail1: ConvAt,
    pub(super) detail2: ConvAt,
}

/// The sizes of one batch's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Geometry {
    pub(super) c: usize,
    pub(super) full: (usize, usize),
    pub(super) train: (usize, usize),
}

impl Geometry {
    /// The training size shrunk by `factor`, as the noise maps are.
    pub(super) fn low(&self, factor: usize) -> (usize, usize) {
        (low(self.train.0, factor), low(self.train.1, factor))
    }

    pub(super) fn chunks(n: usize) -> usize {
        n.div_ceil(CHUNK)
    }

    /// Reduction chunks per image: lighting maps (two at full size), background texture, detail.
    pub(super) fn stat_chunks(&self) -> [usize; 3] {
        let (h, w) = self.full;
        let (ht, wt) = self.train;
        [
            Self::chunks(2 * h * w),
            Self::chunks(self.c * ht * wt),
            Self::chunks(self.c * ht * wt),
        ]
    }
}

/// Elements one image takes in each scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Footprint {
    pub(super) img: usize,
    pub(super) s1: usize,
    pub(super) s2: usize,
    pub(super) pix: usize,
    pub(super) z_light: usize,
    pub(super) z: usize,
    pub(super) di: usize,
    pub(super) small: usize,
    /// The table's share, at the largest blur kernel `scale` allows.
    pub(super) table: usize,
    pub(super) stats: usize,
}

impl Footprint {
    pub(super) fn new(m: &Weights, g: Geometry, pixel_scale: f32) -> Footprint {
        let blur = m.flags.on(Stage::Blur);
        let light = m.flags.on(Stage::Lighting);
        let bg = m.flags.on(Stage::Background);
        let detail = m.flags.on(Stage::Detail);
        let noise = m.flags.on(Stage::Noise);
        let c = g.c;
        let (h, w) = g.full;
        let (ht, wt) = g.train;
        let (lh, lw) = g.low(16);
        let (h8, w8) = g.low(8);
        let (h4, w4) = g.low(4);
        let (h2, w2) = g.low(2);
        let on = |b: bool, n: usize| if b { n } else { 0 };
        let (c1, c2, c3) = (m.bg1.c_out, m.bg2.c_out, m.bg3.c_out);
        let small = [
            m.light1.c_out * lh * lw,
            3 * lh * lw,
            c1 * h8 * w8,
            c1 * h8 * w4,
            c1 * h4 * w4,
            c2 * h4 * w4,
            c2 * h4 * w2,
            c2 * h2 * w2,
            c3 * h2 * w2,
            c3 * h2 * wt,
            c3 * ht * wt,
            m.detail1.c_out * ht * wt,
            c * ht * wt,
        ];
        let r = ((3.0 * BLUR_MAX * pixel_scale).ceil() as usize).max(1);
        let stats = 4 * g.stat_chunks().iter().sum::<usize>();
        Footprint {
            img: c * h * w,
            s1: on(blur, c * h * w).max(on(light, 3 * h * w)),
            s2: on(light, 3 * lh * w)
                .max(on(bg || detail, c * ht * w))
                .max(on(detail, c * h * wt)),
            pix: on(noise, c * h * w),
            z_light: LIGHT_Z * lh * lw,
            z: LIGHT_Z * lh * lw + BG_Z * h8 * w8,
            di: (c + 4) * ht * wt,
            small: small.into_iter().max().unwrap_or(1),
            table: h * w + 2 * r + 2 + 3 * c + stats,
            stats,
        }
    }

    pub(super) fn buffers(&self) -> [usize; 9] {
        [
            self.img, self.s1, self.s2, self.pix, self.z, self.di, self.small, self.small,
            self.small,
        ]
    }

    /// The most one image puts in one buffer, and in all of them, in bytes.
    pub(super) fn bytes(&self) -> (u64, u64) {
        let largest = self
            .buffers()
            .into_iter()
            .max()
            .unwrap_or(0)
            .max(self.table);
        let total = self.buffers().iter().sum::<usize>() + self.table + self.img + self.stats;
        (4 * largest as u64, 4 * total as u64)
    }
}

/// A blur kernel in the table: image k's values at `kern + k kern_stride` (2 radius + 1 of
/// them), its reach at `reach + k reach_stride`.
#[derive(Debug, Clone, Copy)]
pub(super) struct BlurAt {
    pub(super) kern: u32,
    pub(super) kern_stride: u32,
    pub(super) reach: u32,
    pub(super) reach_stride: u32,
    pub(super) radius: u32,
}

/// One batch's table: what the kernels look up (as u32; floats by their bits).
#[derive(Default)]
pub(super) struct Table {
    pub(super) data: Vec<u32>,
    pub(super) taps: HashMap<(usize, usize), u32>,
}

impl Table {
    pub(super) fn push_f32(&mut self, v: &[f32]) -> u32 {
        let at = self.data.len() as u32;
        self.data.extend(v.iter().map(|x| x.to_bits()));
        at
    }

    pub(super) fn push_u32(&mut self, v: &[u32]) -> u32 {
        let at = self.data.len() as u32;
        self.data.extend_from_slice(v);
        at
    }

    /// The resampling `n_in` → `n_out` (fast.rs's taps): per output its first pair's position
    /// and count, then the (index, weight) pairs. Once per pair of sizes.
    pub(super) fn taps(&mut self, n_in: usize, n_out: usize) -> u32 {
        if let Some(at) = self.taps.get(&(n_in, n_out)) {
            return *at;
        }
        let t = taps(n_in, n_out);
        let at = self.data.len();
        let mut pair = at + 2 * n_out;
        for o in &t {
            self.data.extend([pair as u32, o.len() as u32]);
            pair += 2 * o.len();
        }
        for (i, v) in t.iter().flatten() {
            self.data.extend([*i as u32, v.to_bits()]);
        }
        self.taps.insert((n_in, n_out), at as u32);
        at as u32
    }

    /// One kernel shared by every image.
    pub(super) fn kernel(&mut self, k: &[f32]) -> BlurAt {
        let radius = (k.len() / 2) as u32;
        BlurAt {
            kern: self.push_f32(k),
            kern_stride: 0,
            reach: self.push_u32(&[reach(k) as u32]),
            reach_stride: 0,
            radius,
        }
    }
}

/// One dispatch.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub(super) kernel: Kernel,
    pub(super) params: Params,
    pub(super) src: Buf,
    pub(super) dst: Buf,
    pub(super) aux: Buf,
    pub(super) groups: [u32; 3],
}

/// Records a batch's dispatches and builds its table.
pub(super) struct Recorder {
    pub(super) steps: Vec<Step>,
    pub(super) table: Table,
    pub(super) images: usize,
}

impl Recorder {
    /// A per-pixel kernel over `planes` planes of every image at output size `(h, w)`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn grid(
        &mut self,
        kernel: Kernel,
        mut params: Params,
        planes: usize,
        (h, w): (usize, usize),
        src: View,
        dst: View,
        aux: Buf,
    ) {
        params.planes = planes as u32;
        params.images = self.images as u32;
        params.oh = h as u32;
        params.ow = w as u32;
        params.src_off = src.off;
        params.src_stride = src.stride;
        params.dst_off = dst.off;
        params.dst_stride = dst.stride;
        debug_assert_ne!(src.buf, dst.buf, "a kernel's input and output are apart");
        self.steps.push(Step {
            kernel,
            params,
            src: src.buf,
            dst: dst.buf,
            aux,
            groups: [
                w.div_ceil(16) as u32,
                h.div_ceil(16) as u32,
                (self.images * planes) as u32,
            ],
        });
    }

    pub(super) fn conv(
        &mut self,
        at: ConvAt,
        src: View,
        dst: View,
        (h, w): (usize, usize),
        act: u32,
    ) {
        let params = Params {
            h: h as u32,
            w: w as u32,
            w_off: at.w_off,
            c_in: at.c_in,
            mode: act,
            value: DETAIL_BOUND,
            ..Params::default()
        };
        let planes = at.c_out as usize;
        self.grid(Kernel::Conv3, params, planes, (h, w), src, dst, Buf::Dummy);
    }

    /// Resizes `planes` planes from `from` to `to` through `mid` (rows, then columns, as
    /// fast.rs's `resize`); `mode` says how the result meets `dst`, `alpha` is the coverage's
    /// place in the table for [`RESIZE_COMPOSITE`].
    #[allow(clippy::too_many_arguments)]
    pub(super) fn resize(
        &mut self,
        src: View,
        mid: Buf,
        dst: View,
        planes: usize,
        from: (usize, usize),
        to: (usize, usize),
        mode: u32,
        alpha: u32,
    ) {
        let ((h, w), (oh, ow)) = (from, to);
        let rows = Params {
            h: h as u32,
            w: w as u32,
            tab_off: self.table.taps(w, ow),
            ..Params::default()
        };
        let mid = view(mid, planes * h * ow);
        self.grid(
            Kernel::ResizeRows,
            rows,
            planes,
            (h, ow),
            src,
            mid,
            Buf::Table,
        );
        let cols = Params {
            h: h as u32,
            w: ow as u32,
            tab_off: self.table.taps(h, oh),
            tab2_off: alpha,
            tab2_stride: (oh * ow) as u32,
            mode,
            ..Params::default()
        };
        self.grid(
            Kernel::ResizeCols,
            cols,
            planes,
            (oh, ow),
            mid,
            dst,
            Buf::Table,
        );
    }

    /// Blurs `x` in place through `mid` ([`BLUR_WRITE`]), or takes the blur away from it
    /// ([`BLUR_HIGH_PASS`]).
    pub(super) fn blur(
        &mut self,
        x: View,
        mid: Buf,
        planes: usize,
        hw: (usize, usize),
        k: BlurAt,
        mode: u32,
    ) {
        let params = Params {
            h: hw.0 as u32,
            w: hw.1 as u32,
            tab_off: k.kern,
            tab_stride: k.kern_stride,
            tab2_off: k.reach,
            tab2_stride: k.reach_stride,
            radius: k.radius,
            mode,
            ..Params::default()
        };
        let mid = view(mid, planes * hw.0 * hw.1);
        self.grid(Kernel::BlurRows, params, planes, hw, x, mid, Buf::Table);
        self.grid(Kernel::BlurCols, params, planes, hw, mid, x, Buf::Table);
    }

    /// Partial sums (`mode`), mins and maxes of each image's `planes` planes into the table at
    /// `at`, `chunks` per image.
    pub(super) fn reduce(
        &mut self,
        src: View,
        planes: usize,
        (h, w): (usize, usize),
        mode: u32,
        at: u32,
    ) {
        let chunks = Geometry::chunks(planes * h * w);
        let params = Params {
            planes: planes as u32,
            images: self.images as u32,
            h: h as u32,
            w: w as u32,
            src_off: src.off,
            src_stride: src.stride,
            dst_off: at,
            chunks: chunks as u32,
            chunk_len: CHUNK as u32,
            mode,
            ..Params::default()
        };
        self.steps.push(Step {
            kernel: Kernel::Reduce,
            params,
            src: src.buf,
            dst: Buf::Table,
            aux: Buf::Dummy,
            groups: [chunks as u32, self.images as u32, 1],
        });
    }
}
