//! What a run needs of the machine: memory for its image size, and worker threads.

use anyhow::Result;

use crate::config::{Config, InputError};

/// About how much memory a run of `cfg` needs at its peak, for large images (where it matters):
/// peak resident memory measured on lavapipe at 4096², 3 images, was 1.74 GB without
/// antialiasing and 2.79 GB with 4× (about 100 and 165 bytes per pixel); 8192², 1 image, 2.9 GB.
pub fn memory_estimate(cfg: &Config) -> u64 {
    let per_pixel: u64 = if cfg.antialias > 1 { 180 } else { 110 };
    (cfg.width as u64) * (cfg.height as u64) * per_pixel + (200 << 20)
}

/// The memory this machine has free now (Linux: MemAvailable), or `None` where it cannot be told.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuses, before anything is rendered, an image size this machine cannot hold in memory (by
/// [`memory_estimate`]; too large a size used to abort on allocation).
pub fn check_memory(cfg: &Config) -> Result<()> {
    let need = memory_estimate(cfg);
    if let Some(free) = available_memory() {
        if need > free {
            return Err(InputError(format!(
                "{}: image {}×{}{} needs about {:.1} GB of memory, and this machine has {:.1} GB \
                 free; make image.width/height smaller{}",
                cfg.file.display(),
                cfg.width,
                cfg.height,
                if cfg.antialias > 1 {
                    " with render.antialias: 4"
                } else {
                    ""
                },
                need as f64 / 1e9,
                free as f64 / 1e9,
                if cfg.antialias > 1 {
                    " or set render.antialias: 1"
                } else {
                    ""
                }
            ))
            .into());
        }
    }
    Ok(())
}

/// Worker threads when `--threads` is not given: `RAYON_NUM_THREADS` when it is a positive whole
/// number (the variable every rayon program and the learning code honour), else all cores.
pub fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_estimate_grows_with_pixels_and_antialiasing() {
        let mut cfg = crate::config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tiny.yaml"
        )))
        .unwrap();
        cfg.width = 8192;
        cfg.height = 8192;
        cfg.antialias = 1;
        let plain = memory_estimate(&cfg);
        cfg.antialias = 4;
        let aa = memory_estimate(&cfg);
        // the measured peaks: 2.9 GB for one 8192² image; more in flight with more images
        assert!((5e9..9e9).contains(&(plain as f64)), "{plain}");
        assert!(aa > plain && aa < 15_000_000_000, "{aa}");
        cfg.width = 64;
        cfg.height = 64;
        assert!(memory_estimate(&cfg) < 300 << 20);
        assert!(check_memory(&cfg).is_ok(), "a 64² config always fits");
    }
}
