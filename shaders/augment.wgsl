// The trained augmentation chain's forward pass as compute kernels (src/augment/gpu.rs records
// them): a 3 × 3 convolution, a separable resize by taps, a separable normalised blur, a
// per-image reduction, and the chain's elementwise steps. The math is src/augment/fast.rs's,
// with the sums taken in the same order, so the two agree to float rounding.
//
// A tensor is CHW planes of f32 per image, row-major; image k of a tensor starts at
// `off + k * stride` elements into its buffer, so a tensor can be part of a wider one (the
// detail net's input is the image's planes followed by the noise's). Each dispatch reads its
// sizes and offsets from `p`; the grid of the per-pixel kernels is (x, y, image × plane).

struct Params {
    // planes per image the dispatch writes
    planes: u32,
    images: u32,
    // input size, and output size (equal to the input's where a kernel keeps the size)
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    src_off: u32,
    src_stride: u32,
    dst_off: u32,
    dst_stride: u32,
    // a table in `aux` (resize taps, blur kernels, background ramps) and its per-image stride
    tab_off: u32,
    tab_stride: u32,
    // a second one (the blur kernels' reaches, the coverage, partial sums)
    tab2_off: u32,
    tab2_stride: u32,
    // where a convolution's weights start in `weights`, and its input channels (for the
    // lighting stage: the image's channels)
    w_off: u32,
    c_in: u32,
    // a blur kernel's half length
    radius: u32,
    // a reduction's chunks per image and elements per chunk
    chunks: u32,
    chunk_len: u32,
    mode: u32,
    value: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
// u32 so that tap indices survive; f32 values are stored as their bits
@group(0) @binding(4) var<storage, read> aux: array<u32>;

fn auxf(i: u32) -> f32 {
    return bitcast<f32>(aux[i]);
}

fn inside(gid: vec3<u32>) -> bool {
    return gid.x < p.ow && gid.y < p.oh && gid.z < p.images * p.planes;
}

fn sigmoid(v: f32) -> f32 {
    return 1.0 / (1.0 + exp(-v));
}

// 3 × 3 convolution with zero padding, `c_in` → `planes` channels at (h, w): weights
// [out][in][3][3] then bias [out] from `w_off`. mode 0: as is, 1: leaky ReLU 0.2, 2: the
// detail head's × 0.1 clamped to ±value.
@compute @workgroup_size(16, 16, 1)
fn cs_conv3(@builtin(global_invocation_id) gid: vec3<u32>) {
    if !inside(gid) {
        return;
    }
    let o = gid.z % p.planes;
    let k = gid.z / p.planes;
    let n = p.h * p.w;
    var acc = weights[p.w_off + p.planes * p.c_in * 9u + o];
    for (var i = 0u; i < p.c_in; i++) {
        let base = p.src_off + k * p.src_stride + i * n;
        let wb = p.w_off + (o * p.c_in + i) * 9u;
        for (var ky = 0u; ky < 3u; ky++) {
            let sy = i32(gid.y + ky) - 1;
            if sy < 0 || sy >= i32(p.h) {
                continue;
            }
            for (var kx = 0u; kx < 3u; kx++) {
                let sx = i32(gid.x + kx) - 1;
                if sx < 0 || sx >= i32(p.w) {
                    continue;
                }
                acc += weights[wb + ky * 3u + kx] * src[base + u32(sy) * p.w + u32(sx)];
            }
        }
    }
    if p.mode == 1u && acc < 0.0 {
        acc *= 0.2;
    } else if p.mode == 2u {
        acc = clamp(acc * 0.1, -p.value, p.value);
    }
    dst[p.dst_off + k * p.dst_stride + o * n + gid.y * p.w + gid.x] = acc;
}

// Resizes along x, (h, w) → (h, ow). The taps from `tab_off`: per output index its first
// pair's position in `aux` and its count; a pair is (input index, weight bits).
@compute @workgroup_size(16, 16, 1)
fn cs_resize_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    if !inside(gid) {
        return;
    }
    let plane = gid.z % p.planes;
    let k = gid.z / p.planes;
    let row = p.src_off + k * p.src_stride + (plane * p.h + gid.y) * p.w;
    let first = aux[p.tab_off + 2u * gid.x];
    let count = aux[p.tab_off + 2u * gid.x + 1u];
    var acc = 0.0;
    for (var t = 0u; t < count; t++) {
        let e = first + 2u * t;
        acc += src[row + aux[e]] * auxf(e + 1u);
    }
    dst[p.dst_off + k * p.dst_stride + (plane * p.h + gid.y) * p.ow + gid.x] = acc;
}

// Resizes along y, (h, ow) → (oh, ow), with the taps from `tab_off`. mode 0 writes, 1 adds to
// the output, 2 adds times (1 − coverage), the coverage [oh][ow] per image from `tab2_off`.
@compute @workgroup_size(16, 16, 1)
fn cs_resize_cols(@builtin(global_invocation_id) gid: vec3<u32>) {
    if !inside(gid) {
        return;
    }
    let plane = gid.z % p.planes;
    let k = gid.z / p.planes;
    let base = p.src_off + k * p.src_stride + plane * p.h * p.ow + gid.x;
    let first = aux[p.tab_off + 2u * gid.y];
    let count = aux[p.tab_off + 2u * gid.y + 1u];
    var acc = 0.0;
    for (var t = 0u; t < count; t++) {
        let e = first + 2u * t;
        acc += auxf(e + 1u) * src[base + aux[e] * p.ow];
    }
    let i = p.dst_off + k * p.dst_stride + (plane * p.oh + gid.y) * p.ow + gid.x;
    if p.mode == 0u {
        dst[i] = acc;
    } else if p.mode == 1u {
        dst[i] += acc;
    } else {
        let a = auxf(p.tab2_off + k * p.tab2_stride + gid.y * p.ow + gid.x);
        dst[i] += acc * (1.0 - a);
    }
}

// The blur's taps at (h, w): image k's kernel (2 radius + 1 values) from
// `tab_off + k tab_stride`, and how far out its taps matter (the rest are below 1e-9 of the
// largest, skipped as fast.rs skips them) at `tab2_off + k tab2_stride`.
fn blur_reach(k: u32) -> i32 {
    return i32(aux[p.tab2_off + k * p.tab2_stride]);
}

fn blur_tap(k: u32, d: i32) -> f32 {
    return auxf(u32(i32(p.tab_off + k * p.tab_stride + p.radius) + d));
}

// Blurs along x with zero padding, divided by the same blur of ones.
@compute @workgroup_size(16, 16, 1)
fn cs_blur_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    if !inside(gid) {
        return;
    }
    let plane = gid.z % p.planes;
    let k = gid.z / p.planes;
    let row = (plane * p.h + gid.y) * p.w;
    let reach = blur_reach(k);
    var acc = 0.0;
    var norm = 0.0;
    for (var d = -reach; d <= reach; d++) {
        let sx = i32(gid.x) + d;
        if sx >= 0 && sx < i32(p.w) {
            let q = blur_tap(k, d);
            acc += q * src[p.src_off + k * p.src_stride + row + u32(sx)];
            norm += q;
        }
    }
    dst[p.dst_off + k * p.dst_stride + row + gid.x] = acc / norm;
}

// Blurs along y likewise. mode 0 writes the blur, 1 subtracts it from the output (a high-pass
// in place, the output being the blur's input).
@compute @workgroup_size(16, 16, 1)
fn cs_blur_cols(@builtin(global_invocation_id) gid: vec3<u32>) {
    if !inside(gid) {
        return;
    }
    let plane = gid.z % p.planes;
    let k = gid.z / p.planes;
    let reach = blur_reach(k);
    let base = p.src_off + k * p.src_stride + plane * p.h * p.w + gid.x;
    var acc = 0.0;
    var norm = 0.0;
    for (var d = -reach; d <= reach; d++) {
        let sy = i32(gid.y) + d;
        if sy >= 0 && sy < i32(p.h) {
            let q = blur_tap(k, d);
            acc += q * src[base + u32(sy) * p.w];
            norm += q;
        }
    }
    let i = p.dst_off + k * p.dst_stride + (plane * p.h + gid.y) * p.w + gid.x;
    if p.mode == 0u {
        dst[i] = acc / norm;
    } else {
        dst[i] -= acc / norm;
    }
}

// The lighting stage at (h, w), one invocation per pixel (planes 1): the raw maps (3 planes
// per image in `src`) give a scale for dark pixels, one for bright pixels and a shift, applied
// to the image's `c_in` planes in `dst`. Scales stay in (0.1, 1.9], so contrast never flips.
@compute @workgroup_size(16, 16, 1)
fn cs_light(@builtin(global_invocation_id) gid: vec3<u32>) {
    if !inside(gid) {
        return;
    }
    let k = gid.z;
    let n = p.h * p.w;
    let px = gid.y * p.w + gid.x;
    let raw = p.src_off + k * p.src_stride + px;
    let s_black = sigmoid(clamp(src[raw], -3.0, 3.0)) * 1.8 + 0.1;
    let s_white = sigmoid(clamp(src[raw + n], -3.0, 3.0)) * 1.8 + 0.1;
    let shift = tanh(clamp(src[raw + 2u * n], -3.0, 3.0)) * 0.3;
    for (var ch = 0u; ch < p.c_in; ch++) {
        let i = p.dst_off + k * p.dst_stride + ch * n + px;
        let v = dst[i];
        dst[i] = v * select(s_white, s_black, v < 0.0) + shift;
    }
}

// The background's change at the training size (h, w), in place where its texture is
// (`dst`): the smooth ramp (per channel an offset and x and y slopes, at
// `tab_off + k tab_stride`: offsets, then x slopes, then y slopes) plus the texture scaled
// down to RMS `value` at most. The texture's sum of squares is the sum of the image's
// `chunks` partials (see cs_reduce) at `tab2_off`.
@compute @workgroup_size(16, 16, 1)
fn cs_bg_finish(@builtin(global_invocation_id) gid: vec3<u32>) {
    if !inside(gid) {
        return;
    }
    let c = p.planes;
    let ch = gid.z % c;
    let k = gid.z / c;
    var ss = 0.0;
    for (var j = 0u; j < p.chunks; j++) {
        ss += auxf(p.tab2_off + 4u * (k * p.chunks + j));
    }
    let rms = sqrt(ss / f32(c * p.h * p.w) + 1e-12);
    let factor = min(p.value / rms, 1.0);
    let ramp = p.tab_off + k * p.tab_stride;
    let u = (f32(gid.x) + 0.5) / f32(p.w) - 0.5;
    let v = (f32(gid.y) + 0.5) / f32(p.h) - 0.5;
    let shift = auxf(ramp + ch) + auxf(ramp + c + ch) * u + auxf(ramp + 2u * c + ch) * v;
    let i = p.dst_off + k * p.dst_stride + (ch * p.h + gid.y) * p.w + gid.x;
    dst[i] = shift + dst[i] * factor;
}

var<workgroup> part_sum: array<f32, 256>;
var<workgroup> part_min: array<f32, 256>;
var<workgroup> part_max: array<f32, 256>;

// Partial reductions of each image's `planes` × h × w values, one workgroup per (chunk of
// `chunk_len` values, image): the sum of squares (mode 0) or of magnitudes (mode 1), the min
// and the max, written as (sum, min, max, 0) at `dst_off + 4 (k chunks + chunk)`. The CPU (or a
// later kernel) adds the chunks up.
@compute @workgroup_size(256, 1, 1)
fn cs_reduce(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let k = wid.y;
    let chunk = wid.x;
    let n = p.planes * p.h * p.w;
    let start = chunk * p.chunk_len;
    let end = min(start + p.chunk_len, n);
    let base = p.src_off + k * p.src_stride;
    var s = 0.0;
    var lo = 3.0e38;
    var hi = -3.0e38;
    for (var e = start + lid; e < end; e += 256u) {
        let v = src[base + e];
        s += select(abs(v), v * v, p.mode == 0u);
        lo = min(lo, v);
        hi = max(hi, v);
    }
    part_sum[lid] = s;
    part_min[lid] = lo;
    part_max[lid] = hi;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half >>= 1u) {
        if lid < half {
            part_sum[lid] += part_sum[lid + half];
            part_min[lid] = min(part_min[lid], part_min[lid + half]);
            part_max[lid] = max(part_max[lid], part_max[lid + half]);
        }
        workgroupBarrier();
    }
    if lid == 0u {
        let o = p.dst_off + 4u * (k * p.chunks + chunk);
        dst[o] = part_sum[0];
        dst[o + 1u] = part_min[0];
        dst[o + 2u] = part_max[0];
        dst[o + 3u] = 0.0;
    }
}

// The last step over every plane at (h, w): adds the sensor noise (`src`, laid out as the
// image) times `value` when mode is 1, then clamps to [-1, 1].
@compute @workgroup_size(16, 16, 1)
fn cs_finish(@builtin(global_invocation_id) gid: vec3<u32>) {
    if !inside(gid) {
        return;
    }
    let plane = gid.z % p.planes;
    let k = gid.z / p.planes;
    let at = (plane * p.h + gid.y) * p.w + gid.x;
    let i = p.dst_off + k * p.dst_stride + at;
    var v = dst[i];
    if p.mode == 1u {
        v += src[p.src_off + k * p.src_stride + at] * p.value;
    }
    dst[i] = clamp(v, -1.0, 1.0);
}
