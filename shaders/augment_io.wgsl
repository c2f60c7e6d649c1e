// The trained chain's ends when it runs between render and readback (src/augment/gpu/fused.rs):
// `cs_composite` puts the render's premultiplied RGBA8 rows over each image's background and
// writes what the chain takes (CHW floats in [-1, 1], the coverage) and the composite's rows;
// `cs_pack` turns the chain's result back into RGBA8 rows (alpha 255) for the readback. The
// integer and float steps are src/pixels/composite.rs's and src/pixels/chw.rs's.
//
// Rows are the render's readback layout: `row` u32 words each (one RGBA8 pixel a word, padded),
// `h` rows an image, image after image. The grid is (x, y, image).

struct Io {
    images: u32,
    h: u32,
    w: u32,
    // the chain's channels: 3, or 1 (grey: the channels averaged, and repeated on the way back)
    c: u32,
    row: u32,
    // where the coverage goes in the chain's table, or 0xffffffff for nowhere
    alpha_off: u32,
    // where the composite's rows go in `out`
    before_off: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Io;
@group(0) @binding(1) var<storage, read> colour: array<u32>;
// each image's background, one RGB8 pixel a word, w × h an image
@group(0) @binding(2) var<storage, read> back: array<u32>;
@group(0) @binding(3) var<storage, read_write> img: array<f32>;
// the chain's table: f32 values by their bits
@group(0) @binding(4) var<storage, read_write> table: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<u32>;

fn channel(v: u32, k: u32) -> u32 {
    return (v >> (8u * k)) & 255u;
}

fn inside(gid: vec3<u32>) -> bool {
    return gid.x < p.w && gid.y < p.h && gid.z < p.images;
}

// pixels.chw's byte → [-1, 1]
fn unit(v: u32) -> f32 {
    return f32(v) / 127.5 - 1.0;
}

// pixels.chw's [-1, 1] → byte (rounded half up)
fn byte(v: f32) -> u32 {
    return min(u32((clamp(v, -1.0, 1.0) + 1.0) * 127.5 + 0.5), 255u);
}

@compute @workgroup_size(16, 16, 1)
fn cs_composite(@builtin(global_invocation_id) gid: vec3<u32>) {
    if !inside(gid) {
        return;
    }
    let k = gid.z;
    let n = p.h * p.w;
    let px = gid.y * p.w + gid.x;
    let at = (k * p.h + gid.y) * p.row + gid.x;
    let src = colour[at];
    let bg = back[k * n + px];
    let a = channel(src, 3u);
    // out = c + (1 − a)·bg in integers, as composite.rs
    var rgb = vec3<u32>(0u);
    for (var i = 0u; i < 3u; i++) {
        let s = channel(src, i);
        let b = channel(bg, i);
        var v = b;
        if a == 255u {
            v = s;
        } else if a > 0u {
            v = min(s + (255u - a) * b / 255u, 255u);
        }
        rgb[i] = v;
    }
    let base = k * p.c * n + px;
    if p.c == 1u {
        img[base] = (unit(rgb.x) + unit(rgb.y) + unit(rgb.z)) / 3.0;
    } else {
        for (var i = 0u; i < 3u; i++) {
            img[base + i * n] = unit(rgb[i]);
        }
    }
    if p.alpha_off != 0xffffffffu {
        table[p.alpha_off + k * n + px] = bitcast<u32>(f32(a) / 255.0);
    }
    out[p.before_off + at] = rgb.x | (rgb.y << 8u) | (rgb.z << 16u) | (255u << 24u);
}

@compute @workgroup_size(16, 16, 1)
fn cs_pack(@builtin(global_invocation_id) gid: vec3<u32>) {
    if !inside(gid) {
        return;
    }
    let k = gid.z;
    let n = p.h * p.w;
    let px = gid.y * p.w + gid.x;
    let base = k * p.c * n + px;
    var rgb = vec3<u32>(0u);
    for (var i = 0u; i < 3u; i++) {
        rgb[i] = byte(img[base + min(i, p.c - 1u) * n]);
    }
    out[(k * p.h + gid.y) * p.row + gid.x] = rgb.x | (rgb.y << 8u) | (rgb.z << 16u) | (255u << 24u);
}
