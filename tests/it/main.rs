//! Integration tests: one binary, split by concern. They render with whatever adapter wgpu finds
//! (Mesa's lavapipe on CPU-only machines: `apt-get install -y mesa-vulkan-drivers`).

mod augment;
mod bad_input;
mod common;
mod deploy;
mod determinism;
mod eval;
mod fit;
mod fuzz;
mod golden;
mod invariants;
mod layers;
mod resume;
mod scenes;
mod shards;
