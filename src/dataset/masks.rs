//! The per-pixel label images: 16-bit instance ids (`masks/`), 16-bit depth (`depth/`) and
//! camera-frame normals as RGB (`normals/`).

use std::path::{Path, PathBuf};

use super::png;
use crate::config::Config;
use crate::pixels::composite;
use crate::render::{Frame, SCENERY_ID};

/// The label images of one frame the config asks for, as (path, PNG bytes): `root/<kind>/
/// <split>/<name>.png`.
pub fn files(
    cfg: &Config,
    frame: &Frame,
    root: &Path,
    split: &str,
    name: &str,
) -> Vec<(PathBuf, Vec<u8>)> {
    let (w, h) = (frame.width, frame.height);
    let path = |kind: &str| root.join(kind).join(split).join(format!("{name}.png"));
    let mut files = Vec::new();
    if cfg.output.masks {
        let ids = frame
            .ids
            .iter()
            .map(|&v| if v == SCENERY_ID { 0 } else { v as u16 });
        files.push((path("masks"), png::png_u16(ids, w, h)));
    }
    if cfg.output.depth {
        let s = cfg.output.depth_scale;
        let d = frame
            .depth
            .iter()
            .map(|&z| (z as f64 * s).round().clamp(0.0, 65535.0) as u16);
        files.push((path("depth"), png::png_u16(d, w, h)));
    }
    if let Some(n) = &frame.normals {
        // background stays black: RGBA (n · 0.5 + 0.5, 1) where drawn, all zero elsewhere
        let rgb = composite::drop_alpha(n);
        files.push((path("normals"), png::png_rgb(&rgb, w, h)));
    }
    files
}
