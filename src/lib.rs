//! rendergan: labeled image datasets from parametric 3D models rendered with WGSL shaders, the
//! RenderGAN way. The data flows one way: `config` → `scene` → `render` → `labels` → `dataset`,
//! with `generate` running the job and `cli` parsing the command line; `pixels` is the CPU image
//! floor under all of them (see docs/architecture.md, "Layout of the code").

pub mod augment;
pub mod cli;
pub mod config;
pub mod dataset;
pub mod eval;
pub mod fit;
pub mod generate;
pub mod labels;
pub mod merge;
pub mod outdir;
pub mod pixels;
pub mod render;
pub mod scene;
pub mod shaders;
pub mod train;

#[cfg(test)]
pub(crate) mod test_support {
    use crate::scene::{BackgroundSample, Camera, Instance, Scene};

    /// A scene with `n` empty instances, for label tests that build frames by hand.
    pub fn empty_scene(w: u32, h: u32, n: u32) -> Scene {
        let camera = Camera::orbit(
            glam::Vec3::ZERO,
            5.0,
            45.0,
            0.0,
            0.0,
            60.0,
            w,
            h,
            0.1,
            100.0,
        );
        Scene {
            index: 0,
            seed: 0,
            val: false,
            camera,
            lights: vec![],
            ambient: 0.2,
            background: BackgroundSample::Color { color: [0.0; 3] },
            instances: (1..=n)
                .map(|id| Instance {
                    id,
                    class: Some(0),
                    entry: 0,
                    parent: None,
                    group: false,
                    model: "m".into(),
                    params: Default::default(),
                    attributes: Default::default(),
                    world_from_model: glam::Mat4::IDENTITY,
                    parts: vec![],
                    keypoints: vec![],
                })
                .collect(),
            skipped_for_overlap: 0,
            invalid: None,
            emphasis: None,
        }
    }
}
