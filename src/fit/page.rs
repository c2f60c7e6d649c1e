//! The report of `rendergan fit` a person reads: `report.json`, and `index.html` with each
//! marked distribution as written and as fitted, the objective before and after, the content
//! warnings `rendergan train` would give before and after, the descriptor means beside the
//! photos', renders before and after, and the photos covered worst with their nearest render
//! before and after. Images are written beside it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use image::RgbImage;

use super::{FitReport, Side};
use crate::pixels::chw::from_chw;

/// Side of the report's tiles in pixels.
const TILE: u32 = 128;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One CHW RGB image (`res` × `res`, [-1, 1]) as a report tile.
pub fn tile(img: &[f32], res: usize) -> RgbImage {
    let rgb = from_chw(img, 3, res as u32, res as u32);
    image::imageops::resize(&rgb, TILE, TILE, image::imageops::FilterType::Triangle)
}

/// A grid of tiles, 8 a row.
fn sheet(images: &[Vec<f32>], res: usize) -> RgbImage {
    let tiles: Vec<RgbImage> = images.iter().map(|i| tile(i, res)).collect();
    let rows: Vec<Vec<RgbImage>> = tiles.chunks(8).map(|c| c.to_vec()).collect();
    crate::train::samples::grid(&rows)
}

fn warnings(h: &mut String, side: &Side) {
    if side.content_warnings.is_empty() {
        h.push_str("<p>none</p>");
    }
    for w in &side.content_warnings {
        let _ = write!(h, "<p class=warn>{}</p>", esc(w));
    }
}

/// Writes `report.json`, `index.html` and the images into `dir`; `samples` are renders
/// before and after. Long: the page's sections in the order they appear.
pub fn write(
    r: &FitReport,
    dir: &Path,
    samples: &[Vec<Vec<f32>>; 2],
    res: usize,
) -> anyhow::Result<()> {
    let jp = dir.join("report.json");
    std::fs::write(&jp, serde_json::to_string_pretty(r)?)
        .with_context(|| format!("cannot write {}", jp.display()))?;
    for (name, s) in [("before.png", &samples[0]), ("after.png", &samples[1])] {
        let p = dir.join(name);
        sheet(s, res)
            .save(&p)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    let mut h = String::from("<!doctype html><meta charset=utf-8><title>rendergan fit</title><style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,td.l{text-align:left}.warn{background:#fff3e0;padding:6px;border-left:4px solid #e8871e}img{margin:2px}code{font-size:90%}</style>");
    let _ = write!(
        h,
        "<h1>rendergan fit</h1><p>config <code>{}</code> → <code>{}</code>; photos <code>{}</code> ({} photos, {} crops); {} candidates × {} renders at {}²; seed {}; {:.0} s; {}; {}.</p>",
        esc(&r.config.display().to_string()),
        esc(&r.fitted_config.display().to_string()),
        esc(&r.real.display().to_string()),
        r.photos,
        r.photo_crops,
        r.candidates,
        r.renders_per_candidate,
        r.resolution,
        r.seed,
        r.seconds,
        esc(&r.photo_colours),
        esc(&r.labelled_kinds)
    );
    let _ = write!(
        h,
        "<p><b>{}</b> Objective on held-out scenes (content distance to the photos, lower is closer): {:.4} as written → {:.4} fitted. Mean distance of a photo to its nearest render on eval's features: {:.2} → {:.2}.</p>",
        if r.improved {
            "The fitted config is closer to the photos."
        } else {
            "No fitted distribution beat the written ones: the config was written unchanged."
        },
        r.before.objective,
        r.after.objective,
        r.before.photo_distance,
        r.after.photo_distance
    );
    for w in &r.warnings {
        let _ = write!(h, "<p class=warn>{}</p>", esc(w));
    }
    let _ = write!(h, "<p>{}.</p>", esc(&r.objects));
    h.push_str("<h2>Marked distributions</h2><table><tr><th>where</th><th>written</th><th>mean ± sd</th><th>fitted</th><th>mean ± sd</th></tr>");
    for p in &r.params {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=l><code>{}</code></td><td>{:.3} ± {:.3}</td><td class=l><code>{}</code></td><td>{:.3} ± {:.3}{}</td></tr>",
            esc(&p.path),
            esc(&p.written),
            p.written_moments[0],
            p.written_moments[1],
            esc(&p.fitted),
            p.fitted_moments[0],
            p.fitted_moments[1],
            if p.about_as_written {
                "<br><small>about as written: the photos did not pin it down</small>"
            } else {
                ""
            }
        );
    }
    h.push_str("</table><h2>Content warnings (as <code>rendergan train</code> words them, whole frames)</h2><h3>as written</h3>");
    warnings(&mut h, &r.before);
    h.push_str("<h3>fitted</h3>");
    warnings(&mut h, &r.after);
    h.push_str("<h2>What the images show (means)</h2><table><tr><th>descriptor</th><th>photos</th><th>as written</th><th>fitted</th></tr>");
    for (b, a) in r.before.descriptors.iter().zip(&r.after.descriptors) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            esc(&b.0),
            b.1,
            b.2,
            a.2
        );
    }
    h.push_str("</table><h2>Renders as written</h2><img src=before.png><h2>Renders fitted</h2><img src=after.png>");
    h.push_str("<h2>Photos covered worst by the written config</h2><p>Each: the photo (as the fit sees it), its nearest render as written, its nearest render fitted; distances in units of the photos' median 5-NN radius.</p><table><tr><th>photo</th><th>photo</th><th>as written</th><th>fitted</th></tr>");
    for w in &r.worst {
        let _ = write!(
            h,
            "<tr><td>{}</td><td><img src=\"{}\"></td><td><img src=\"{}\"><br>{:.2}</td><td><img src=\"{}\"><br>{:.2}</td></tr>",
            esc(&w.photo.display().to_string()),
            w.tiles[0],
            w.tiles[1],
            w.distance_before,
            w.tiles[2],
            w.distance_after
        );
    }
    h.push_str("</table>");
    let hp = dir.join("index.html");
    std::fs::write(&hp, h).with_context(|| format!("cannot write {}", hp.display()))?;
    Ok(())
}
