//! WGSL sources, compiled into the binary so it runs from any folder.

/// The scene shader: colour, label targets and the alone atlas.
pub const SCENE: &str = include_str!("../shaders/scene.wgsl");

/// The augmentation chain's forward pass as compute kernels (`augment::gpu`).
pub const AUGMENT: &str = include_str!("../shaders/augment.wgsl");

/// The chain's ends when it runs between render and readback: compositing the render over its
/// background into the chain's input, and packing the result into RGBA8 rows (`augment::gpu`).
pub const AUGMENT_IO: &str = include_str!("../shaders/augment_io.wgsl");
