//! Helpers shared by the integration tests: fixture paths, a temp folder per test, running
//! `generate` through the library, and reading datasets back.

use std::path::{Path, PathBuf};

use rendergan::config::{self, Config};
use rendergan::generate::{self, Options, Summary};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests").join("fixtures").join(name)
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rendergan-test-")
        .tempdir()
        .expect("a temp folder")
}

pub fn load(path: &Path) -> Config {
    config::load(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Generates `cfg` into `out` with the given worker and render thread counts.
pub fn generate(cfg: &Config, out: &Path, threads: usize, render_threads: usize) -> Summary {
    let opts = Options {
        threads: Some(threads),
        render_threads: Some(render_threads),
        overwrite: true,
        ..Default::default()
    };
    let mut cfg = cfg.clone();
    cfg.output.dir = out.to_path_buf();
    let ctxs = generate::open_devices(opts.render_threads).expect(
        "a wgpu adapter; on CPU-only machines install Mesa's lavapipe: apt-get install -y mesa-vulkan-drivers",
    );
    generate::run(&cfg, &ctxs, &opts).unwrap_or_else(|e| panic!("{e:#}"))
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A 16-bit grey PNG as (width, height, values).
pub fn read_u16_png(path: &Path) -> (u32, u32, Vec<u16>) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_luma16();
    (img.width(), img.height(), img.into_raw())
}

/// The PNG files under `dir` (recursively), sorted.
pub fn pngs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    v.sort();
    v
}
