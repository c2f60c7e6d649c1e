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
    // x: ambient, y: number of lights
    ambient: vec4<f32>,
};

struct Draw {
    color: vec4<f32>,
    color2: vec4<f32>,
    // x: pattern (0 solid, 1 stripes, 2 checker, 3 noise), y: scale, z: specular, w: shininess
    params: vec4<f32>,
    // x: instance id (0xffff: scenery), y: view index
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
    @builtin(position) clip: vec4<f32>,
    @location(0) world: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) local: vec3<f32>,
    @location(3) @interpolate(flat) draw: u32,
};

@vertex
fn vs_main(v: VertexIn) -> VertexOut {
    let view = views[draws[v.draw].ids.y];
    var out: VertexOut;
    out.clip = view.clip_from_world * vec4<f32>(v.position, 1.0);
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

fn pattern_mix(d: Draw, local: vec3<f32>) -> f32 {
    let kind = u32(d.params.x);
    let p = local / max(d.params.y, 1e-6);
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
    return 0.0;
}

fn facing_normal(n: vec3<f32>, front: bool) -> vec3<f32> {
    let m = normalize(n);
    return select(-m, m, front);
}

@fragment
fn fs_color(in: VertexOut, @builtin(front_facing) front: bool) -> @location(0) vec4<f32> {
    let d = draws[in.draw];
    let view = views[d.ids.y];
    let base = mix(d.color.rgb, d.color2.rgb, pattern_mix(d, in.local));
    let n = facing_normal(in.normal, front);
    let v = normalize(view.cam_pos.xyz - in.world);
    var diffuse = vec3<f32>(view.ambient.x);
    var spec = vec3<f32>(0.0);
    let count = u32(view.ambient.y);
    for (var i = 0u; i < count; i = i + 1u) {
        let l = view.light_dir[i].xyz;
        let c = view.light_col[i].rgb;
        let ndl = max(dot(n, l), 0.0);
        diffuse = diffuse + c * ndl;
        if (ndl > 0.0) {
            let h = normalize(l + v);
            spec = spec + c * d.params.z * pow(max(dot(n, h), 0.0), d.params.w);
        }
    }
    return vec4<f32>(clamp(base * diffuse + spec, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}

struct LabelsOut {
    @location(0) id: u32,
    @location(1) depth: f32,
    @location(2) normal: vec4<f32>,
};

@fragment
fn fs_labels(in: VertexOut, @builtin(front_facing) front: bool) -> LabelsOut {
    let d = draws[in.draw];
    let view = views[d.ids.y];
    let rel = in.world - view.cam_pos.xyz;
    let n = facing_normal(in.normal, front);
    let nc = vec3<f32>(dot(view.cam_row0.xyz, n), dot(view.cam_row1.xyz, n), dot(view.cam_row2.xyz, n));
    var out: LabelsOut;
    out.id = d.ids.x;
    out.depth = dot(view.cam_row2.xyz, rel);
    out.normal = vec4<f32>(nc * 0.5 + 0.5, 1.0);
    return out;
}

@fragment
fn fs_cover(in: VertexOut) -> @location(0) u32 {
    return 1u;
}
