//! WGSL sources, compiled into the binary so it runs from any folder.

/// The scene shader: colour, label targets and the alone atlas.
pub const SCENE: &str = include_str!("../shaders/scene.wgsl");

/// The augmentation chain's forward pass as compute kernels (`augment::gpu`).
pub const AUGMENT: &str = include_str!("../shaders/augment.wgsl");
