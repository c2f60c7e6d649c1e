// Scene shader: one vertex stage, three fragment stages.
//   fs_color  – shaded colour (Lambert + ambient + Blinn-Phong specular, per-part pattern)
//   fs_labels – instance id (u32), camera-frame depth (f32) and camera-frame normal
//   fs_cover  – 1 wherever the object covers a pixel (the "rendered alone" atlas)
// Vertices arrive in world space; per-draw data (material, instance, image) and per-image data
// (camera, lights) come from storage buffers indexed by the vertex's draw id.

struct View {
    clip_from_world: mat4x4<f32>,
    cam_row0: vec4<f32>,
    cam_row1: vec4<f32>,
    cam_row2: vec4<f32>,
    cam_pos: vec4<f32>,
    light_dir: array<vec4<f32>, 4>,
    light_col: array<vec4<f32>, 4>,
    // x: ambient, y: number of lights, z, w: image width and height
    ambient: vec4<f32>,
};

struct Draw {
    color: vec4<f32>,
    color2: vec4<f32>,
    // x: pattern (0 solid, 1 stripes, 2 checker, 3 noise, 4 veins, 5 gradient, 6 hole), y: scale,
    // z: specular, w: shininess
    params: vec4<f32>,
    // x: instance id (0xffff: scenery), y: view (image) index in the batch, z: coverage slice
    ids: vec4<u32>,
};

@group(0) @binding(0) var<storage, read> views: array<View>;
@group(0) @binding(1) var<storage, read> draws: array<Draw>;

struct VertexIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) local: vec3<f32>,
    @location(3) draw: u32,
};

struct VertexOut {
    @builtin(position) @invariant clip: vec4<f32>,
    @location(0) world: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) local: vec3<f32>,
    @location(3) @interpolate(flat) draw: u32,
};

@vertex
fn vs_main(v: VertexIn) -> VertexOut {
    let vi = draws[v.draw].ids.y;
    var out: VertexOut;
    out.clip = views[vi].clip_from_world * vec4<f32>(v.position, 1.0);
    out.world = v.position;
    out.normal = v.normal;
    out.local = v.local;
    out.draw = v.draw;
    return out;
}

fn hash3(p: vec3<f32>) -> f32 {
    let q = fract(p * vec3<f32>(0.1031, 0.1030, 0.0973));
    let r = q + dot(q, q.yzx + 33.33);
    return fract((r.x + r.y) * r.z);
}

fn value_noise(p: vec3<f32>) -> f32 {
    let i = floor(p);
    let f = fract(p);
    let u = f * f * (3.0 - 2.0 * f);
    let n000 = hash3(i);
    let n100 = hash3(i + vec3<f32>(1.0, 0.0, 0.0));
    let n010 = hash3(i + vec3<f32>(0.0, 1.0, 0.0));
    let n110 = hash3(i + vec3<f32>(1.0, 1.0, 0.0));
    let n001 = hash3(i + vec3<f32>(0.0, 0.0, 1.0));
    let n101 = hash3(i + vec3<f32>(1.0, 0.0, 1.0));
    let n011 = hash3(i + vec3<f32>(0.0, 1.0, 1.0));
    let n111 = hash3(i + vec3<f32>(1.0, 1.0, 1.0));
    let x00 = mix(n000, n100, u.x);
    let x10 = mix(n010, n110, u.x);
    let x01 = mix(n001, n101, u.x);
    let x11 = mix(n011, n111, u.x);
    return mix(mix(x00, x10, u.y), mix(x01, x11, u.y), u.z);
}

fn pattern_mix(params: vec4<f32>, local: vec3<f32>) -> f32 {
    let kind = u32(params.x);
    let p = local / max(params.y, 1e-6);
    if (kind == 1u) {
        return step(0.5, fract(p.z));
    }
    if (kind == 2u) {
        let c = floor(p.x) + floor(p.y) + floor(p.z);
        return c - 2.0 * floor(c * 0.5);
    }
    if (kind == 3u) {
        let n = 0.5 * value_noise(p) + 0.3 * value_noise(p * 2.03 + 7.1) + 0.2 * value_noise(p * 4.01 + 3.3);
        return clamp((n - 0.3) * 1.6, 0.0, 1.0);
    }
    if (kind == 4u) {
        // a leaf's veins: a midrib along x and lateral veins every `scale` running out towards
        // the tip at about 50 degrees; the blade lies in the part's xy plane
        let mid = 1.0 - smoothstep(0.05, 0.1, abs(p.y));
        let t = fract(p.x - 0.85 * abs(p.y));
        let lateral = 1.0 - smoothstep(0.03, 0.07, min(t, 1.0 - t));
        return max(mid, 0.7 * lateral);
    }
    if (kind == 5u) {
        // colour → color2 from z = -scale to z = +scale of the part (a fruit ripening from below)
        return smoothstep(-1.0, 1.0, p.z);
    }
    return 0.0;
}

fn facing_normal(n: vec3<f32>, front: bool) -> vec3<f32> {
    let m = normalize(n);
    return select(-m, m, front);
}

@fragment
fn fs_color(in: VertexOut, @builtin(front_facing) front: bool) -> @location(0) vec4<f32> {
    // fields are read through the storage pointers: copying whole structs per fragment is slow
    // on software rasterisers
    let params = draws[in.draw].params;
    if (params.x > 5.5) {
        // a hole: material missing, the background shows through (composited later by alpha)
        return vec4<f32>(0.0);
    }
    let vi = draws[in.draw].ids.y;
    var base = draws[in.draw].color.rgb;
    if (params.x > 0.5) {
        base = mix(base, draws[in.draw].color2.rgb, pattern_mix(params, in.local));
    }
    let n = facing_normal(in.normal, front);
    let v = normalize(views[vi].cam_pos.xyz - in.world);
    let amb = views[vi].ambient;
    var diffuse = vec3<f32>(amb.x);
    var spec = vec3<f32>(0.0);
    let count = u32(amb.y);
    for (var i = 0u; i < count; i = i + 1u) {
        let l = views[vi].light_dir[i].xyz;
        let c = views[vi].light_col[i].rgb;
        let ndl = max(dot(n, l), 0.0);
        diffuse = diffuse + c * ndl;
        if (ndl > 0.0 && params.z > 0.0) {
            let h = normalize(l + v);
            spec = spec + c * params.z * pow(max(dot(n, h), 0.0), params.w);
        }
    }
    return vec4<f32>(clamp(base * diffuse + spec, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}

struct LabelsOut {
    @location(0) id: u32,
    @location(1) depth: f32,
};

@fragment
fn fs_labels(in: VertexOut) -> LabelsOut {
    let ids = draws[in.draw].ids;
    var out: LabelsOut;
    out.id = ids.x;
    out.depth = dot(views[ids.y].cam_row2.xyz, in.world - views[ids.y].cam_pos.xyz);
    return out;
}

@fragment
fn fs_ids(in: VertexOut) -> @location(0) u32 {
    return draws[in.draw].ids.x;
}

struct LabelsNormalsOut {
    @location(0) id: u32,
    @location(1) depth: f32,
    @location(2) normal: vec4<f32>,
};

@fragment
fn fs_labels_normals(in: VertexOut, @builtin(front_facing) front: bool) -> LabelsNormalsOut {
    let ids = draws[in.draw].ids;
    let vi = ids.y;
    let n = facing_normal(in.normal, front);
    let nc = vec3<f32>(dot(views[vi].cam_row0.xyz, n), dot(views[vi].cam_row1.xyz, n), dot(views[vi].cam_row2.xyz, n));
    var out: LabelsNormalsOut;
    out.id = ids.x;
    out.depth = dot(views[vi].cam_row2.xyz, in.world - views[vi].cam_pos.xyz);
    out.normal = vec4<f32>(nc * 0.5 + 0.5, 1.0);
    return out;
}

// Coverage of each instance drawn alone: one bit per pixel in the instance's slice of `cover`.
// Setting a bit is idempotent, so overlapping triangles of one object count once.
@group(0) @binding(2) var<storage, read_write> cover: array<atomic<u32>>;

@fragment
fn fs_cover(in: VertexOut) {
    let ids = draws[in.draw].ids;
    let size = vec2<u32>(views[ids.y].ambient.zw);
    let x = u32(in.clip.x);
    let y = u32(in.clip.y) - ids.y * size.y;
    let p = y * size.x + x;
    let words = (size.x * size.y + 31u) / 32u;
    atomicOr(&cover[ids.z * words + p / 32u], 1u << (p % 32u));
}
