//! The report folder of `rendergan eval`: `report.json` (everything measured), `index.html` (the
//! page a person reads: scores with what they mean, warnings, the photos covered worst beside
//! their nearest generated images, per-class counts, histograms with thin bins marked) and the
//! thumbnails it shows. Self-contained: the folder can be moved or mailed.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::manifest_stats::{DatasetStats, Histogram};
use super::report::Report;

/// Side of the thumbnails, pixels.
const THUMB: u32 = 160;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes a thumbnail of `src` as `dir/thumbs/name`; returns its path relative to `dir`.
fn thumb(src: &Path, dir: &Path, name: &str) -> anyhow::Result<String> {
    let img = image::open(src)
        .with_context(|| format!("cannot read {}", src.display()))?
        .thumbnail(THUMB, THUMB)
        .into_rgb8();
    let rel = format!("thumbs/{name}.png");
    let path = dir.join(&rel);
    img.save(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(rel)
}

/// An inline SVG bar chart of `h`, thin bins in orange.
fn svg(h: &Histogram) -> String {
    let (w, hgt) = (360.0, 90.0);
    let max = h.counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = w / h.counts.len() as f64;
    let mut s = format!(r#"<svg width="{w}" height="{}" role="img">"#, hgt + 16.0);
    for (b, c) in h.counts.iter().enumerate() {
        let bh = hgt * *c as f64 / max;
        let colour = if h.thin.contains(&b) {
            "#e8871e"
        } else {
            "#4a7bb7"
        };
        let (lo, hi) = h.bin(b);
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{lo:.3} – {hi:.3}: {c}</title></rect>"#,
            b as f64 * bw + 1.0,
            hgt - bh,
            bw - 2.0,
            bh.max(0.5)
        );
    }
    let _ = write!(
        s,
        r#"<text x="0" y="{}" font-size="11">{:.3}</text><text x="{w}" y="{}" font-size="11" text-anchor="end">{:.3}</text></svg>"#,
        hgt + 13.0,
        h.lo,
        hgt + 13.0,
        h.hi
    );
    s
}

fn histograms(out: &mut String, title: &str, hs: &[Histogram]) {
    if hs.is_empty() {
        return;
    }
    let _ = write!(out, "<h2>{}</h2><div class=grid>", esc(title));
    for h in hs {
        let thin: Vec<String> = h
            .thin
            .iter()
            .map(|b| {
                let (lo, hi) = h.bin(*b);
                format!("{lo:.2}–{hi:.2}")
            })
            .collect();
        let _ = write!(
            out,
            "<figure><figcaption><b>{}</b> — mean {:.3}, std {:.3}, n {}{}</figcaption>{}</figure>",
            esc(&h.name),
            h.mean,
            h.std,
            h.n,
            if thin.is_empty() {
                String::new()
            } else {
                format!("<br><span class=thin>thin: {}</span>", thin.join(", "))
            },
            svg(h)
        );
    }
    out.push_str("</div>");
}

fn dataset_section(out: &mut String, d: &DatasetStats) {
    let _ = write!(
        out,
        "<h2>Per class ({} images)</h2><table><tr><th>class</th><th>drawn</th><th>labelled</th><th>images with it</th><th>mean box side (px)</th><th>mean visibility</th></tr>",
        d.images
    );
    for (name, c) in &d.classes {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.2}</td></tr>",
            esc(name),
            c.drawn,
            c.labelled,
            c.images,
            c.mean_size,
            c.mean_visibility
        );
    }
    out.push_str("</table><p>drawn = objects the scenes placed; labelled = those visible enough for a label (labels.min_visible_pixels, min_visibility).</p>");
    if let Some(s) = &d.label_safety {
        let _ = write!(
            out,
            "<h2>Label safety</h2><p>{} objects judged (raw contrast with the ring just outside the mask ≥ {}); {} kept under {:.0} % of it after the learned stages; median kept {:.2}, lowest {:.2}.</p>",
            s.judged,
            super::manifest_stats::MIN_CONTRAST,
            s.at_risk,
            100.0 * super::manifest_stats::KEPT_CONTRAST,
            s.median_kept,
            s.min_kept
        );
    }
    histograms(out, "Sampled (thin bins in orange)", &d.sampled);
    histograms(out, "Learned stages, per image", &d.stages);
}

/// Writes the report folder `dir`. Long: the page's sections in the order they appear.
pub fn write(r: &Report, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("thumbs"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_string_pretty(r)?;
    let jp = dir.join("report.json");
    std::fs::write(&jp, json).with_context(|| format!("cannot write {}", jp.display()))?;
    let mut h = String::new();
    h.push_str("<!doctype html><meta charset=utf-8><title>rendergan eval</title><style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}.warn{background:#fff3e0;padding:6px;border-left:4px solid #e8871e}.grid{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}.thin{color:#c05a00}img{margin:2px}</style>");
    let _ = write!(
        h,
        "<h1>rendergan eval</h1><p>real photos: <code>{}</code> ({} photos, {} crops) — generated: <code>{}</code> ({} images) — {:.1} s</p>",
        esc(&r.real.display().to_string()),
        r.real_photos,
        r.real_crops,
        esc(&r.images.display().to_string()),
        r.generated_images,
        r.seconds
    );
    for w in &r.warnings {
        let _ = write!(h, "<p class=warn>{}</p>", esc(w));
    }
    let _ = write!(
        h,
        "<h2>Scores</h2><table><tr><th>measure</th><th>value</th><th>best</th><th>what it says</th></tr>\
<tr><td>C2ST accuracy</td><td>{:.3} ± {:.3}</td><td>0.5</td><td>a linear classifier on fixed random conv features tells photos from generated images this often on held-out folds</td></tr>\
<tr><td>KID</td><td>{:.3} ± {:.3}</td><td>0</td><td>distance between the two feature distributions</td></tr>\
<tr><td>precision</td><td>{:.3}</td><td>1</td><td>generated images that fall among the photos</td></tr>\
<tr><td>recall</td><td>{:.3}</td><td>1</td><td>photos that fall among the generated images</td></tr>\
<tr><td>density</td><td>{:.3}</td><td>≈1</td><td>how crowded the photos' neighbourhoods are with generated images</td></tr>\
<tr><td>coverage</td><td>{:.3}</td><td>1</td><td>photos with a generated image as close as their real neighbours</td></tr>\
<tr><td>spread ratio</td><td>{:.3}</td><td>≈1</td><td>typical neighbour distance of generated images over that of photos; far below 1 = collapse</td></tr></table>",
        r.c2st.accuracy,
        r.c2st.std,
        r.kid[0],
        r.kid[1],
        r.prdc.precision,
        r.prdc.recall,
        r.prdc.density,
        r.prdc.coverage,
        r.spread_ratio
    );
    if let Some(p) = &r.detector {
        let value = match (p.score, &p.cannot_rank) {
            (Some(s), _) => format!("{s:.3}"),
            (None, Some(why)) => format!("cannot rank: {}", esc(why)),
            (None, None) => "cannot rank".into(),
        };
        let _ = write!(
            h,
            "<h2>Detector probe</h2><table><tr><th>measure</th><th>value</th><th>best</th><th>what it says</th></tr>\
<tr><td>probe score</td><td>{value}</td><td>1</td><td>a tiny detector trained on the set's labels ({} images, {} steps) behaves on the photos as on held-out images of the set: peaks per image and strongest response, each as the smaller over the larger, multiplied</td></tr>\
<tr><td>peaks per image</td><td>{:.2} photos / {:.2} set</td><td>equal</td><td>confident detections per image ({:.2} labelled objects per set image)</td></tr>\
<tr><td>strongest response</td><td>{:.3} photos / {:.3} set</td><td>equal</td><td>mean of each image's strongest heatmap cell</td></tr>",
            p.train_images,
            p.steps,
            p.photos.peaks,
            p.renders.peaks,
            p.objects_per_image,
            p.photos.top,
            p.renders.top
        );
        if let (Some(ap50), Some(ap)) = (p.photo_ap50, p.photo_ap) {
            let _ = write!(
                h,
                "<tr><td>AP50 / AP on your labelled photos</td><td>{ap50:.3} / {ap:.3}</td><td>1</td><td>the probe's boxes on the {} photos of --real-labels, scored as COCOeval does: what a detector trained on the set finds in your photos</td></tr>",
                p.labelled_photos
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Photos the set covers worst</h2><p>Distance to the nearest generated image, in units of the photos' typical distance to each other (≤ 1 is covered). Each photo beside its nearest generated images: what the scene would need to make.</p><table>");
    for (i, u) in r.covered_worst.iter().enumerate() {
        let mut row = format!(
            "<tr><td>{:.2}<br><small>{}</small></td><td>",
            u.distance,
            esc(&file_name(&u.photo))
        );
        let t = thumb(&u.photo, dir, &format!("worst_{:02}_real", i + 1))?;
        let _ = write!(row, "<img src=\"{t}\" title=\"photo\">");
        for (j, n) in u.nearest.iter().enumerate() {
            let t = thumb(n, dir, &format!("worst_{:02}_near_{}", i + 1, j + 1))?;
            let _ = write!(
                row,
                "<img src=\"{t}\" title=\"{}\">",
                esc(&n.display().to_string())
            );
        }
        row.push_str("</td></tr>");
        h.push_str(&row);
    }
    h.push_str("</table>");
    if let Some(d) = &r.dataset {
        dataset_section(&mut h, d);
    }
    let hp = dir.join("index.html");
    std::fs::write(&hp, h).with_context(|| format!("cannot write {}", hp.display()))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
