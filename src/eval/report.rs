//! `rendergan eval`: how well a generated dataset stands for a folder of real photos, on the
//! features of the fixed random embedding ([`super::features`]): a k-fold linear C2ST, KID,
//! precision/recall and density/coverage, the real photos the set covers worst (each with its
//! nearest generated images), and alarms for a collapsed set. What the dataset holds per class,
//! per stage and per sampled quantity comes from its manifest ([`super::manifest_stats`]). The
//! page a person reads is [`super::page`].

use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::c2st::{C2st, Side};
use super::features::{linear_c2st, Features};
use super::manifest_stats::{self, DatasetStats};
use super::metrics::{self, Prdc};
use crate::pixels::photos::RealSet;

/// What `rendergan eval` measures with.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub real: PathBuf,
    /// A dataset folder (its `images/` and `manifest.jsonl` are used) or a folder of images.
    pub images: PathBuf,
    /// Side of the square crops the embedding sees.
    pub res: usize,
    /// Crop side of a real photo, as a fraction of its shorter side.
    pub crop: f64,
    /// Crop side of a generated image, as a fraction of its shorter side.
    pub images_crop: f64,
    /// Crops per real photo.
    pub crops_per_photo: usize,
    /// Most generated images used (spread evenly over the set).
    pub max_images: usize,
    /// Real photos listed as covered worst.
    pub worst: usize,
    /// Training steps of the detector probe ([`super::detector`]); 0: no probe.
    pub detector_steps: usize,
    /// A COCO file labelling (some of) the photos: the probe's boxes are scored on them.
    pub real_labels: Option<PathBuf>,
    pub seed: u64,
}

/// A real photo the generated set explains badly, with the generated images nearest to it.
#[derive(Debug, Clone, Serialize)]
pub struct Uncovered {
    pub photo: PathBuf,
    /// Distance to the nearest generated crop in units of the real crops' median 5-NN radius,
    /// averaged over the photo's crops (≤ 1: as close as real photos are to each other).
    pub distance: f64,
    /// The nearest generated images, nearest first.
    pub nearest: Vec<PathBuf>,
}

/// Everything `rendergan eval` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub real: PathBuf,
    pub images: PathBuf,
    pub real_photos: usize,
    pub real_crops: usize,
    pub generated_images: usize,
    /// Linear classifier on the features, 4 folds (crops of one photo stay in one fold).
    pub c2st: C2st,
    /// KID on the standardised features (mean, std over subsets); 0 = same distribution.
    pub kid: [f64; 2],
    #[serde(flatten)]
    pub prdc: Prdc,
    /// Median 5-NN radius of the generated crops over that of the real crops: far below 1 means
    /// the generated images are much more alike than the photos are (collapse).
    pub spread_ratio: f64,
    pub covered_worst: Vec<Uncovered>,
    /// Per-photo distance (same units as [`Uncovered::distance`]) of every photo, in file order.
    pub photo_distances: Vec<(PathBuf, f64)>,
    pub dataset: Option<DatasetStats>,
    /// The detector probe: `None` for a folder without a manifest (no labels to train on) or
    /// with `--detector-steps 0`.
    pub detector: Option<super::detector::Probe>,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

/// Fewest generated images eval measures.
pub const MIN_GENERATED: usize = 10;
/// Fewest real crops for neighbourhood measures that are more than rough.
const FEW_REAL_CROPS: usize = 100;

/// Runs the evaluation. Long: its measurements in order (manifest, photos, embedding, each
/// figure, the probe), each a call, sharing the crops and embeddings.
pub fn evaluate(o: &EvalOptions) -> anyhow::Result<Report> {
    let t0 = std::time::Instant::now();
    // a bad manifest is refused before minutes of work
    let manifest = manifest_stats::read_lines(&o.images)?;
    let dataset = manifest.as_deref().map(manifest_stats::stats);
    let res = o.res;
    let real = RealSet::load_flag(&o.real, (res * 4) as u32, "--real")?;
    let labels = match &o.real_labels {
        None => Vec::new(),
        Some(path) => {
            if o.detector_steps == 0 || manifest.is_none() {
                return Err(crate::config::InputError(format!(
                    "--real-labels {}: the labels score the detector probe, which needs a dataset folder with its manifest.jsonl as --images and --detector-steps above 0",
                    path.display()
                ))
                .into());
            }
            super::photo_labels::read(path, &real)?
        }
    };
    let gen = RealSet::load_flag(
        &super::image_folder(&o.images),
        (res * 4) as u32,
        "--images",
    )?;
    if gen.images.len() < MIN_GENERATED {
        return Err(crate::config::InputError(format!(
            "--images {}: {} usable image(s); eval needs at least {MIN_GENERATED} to measure a set (each image's neighbours set the scale)",
            o.images.display(),
            gen.images.len()
        ))
        .into());
    }
    let per = o.crops_per_photo.max(1);
    let Crops {
        real_groups,
        real_crops,
        used,
        gen_crops,
    } = crops(o, &real, &gen);
    let f = Features::new(3);
    let (mut fr, mut fg) = (f.embed(&real_crops, res), f.embed(&gen_crops, res));
    let c2st = linear_c2st(
        Side {
            items: &fr,
            groups: Some(&real_groups),
        },
        Side {
            items: &fg,
            groups: Some(&used),
        },
        4,
        o.seed,
    );
    // by the pooled spread: a feature nearly constant on the photos must not blow up the
    // distances of generated images that vary in it (measured: KID 40–100 by real-only scaling)
    let pooled: Vec<Vec<f32>> = fr.iter().chain(&fg).cloned().collect();
    metrics::standardise(&pooled, &mut [&mut fr, &mut fg]);
    let (kid, kid_std) = metrics::kid(&fr, &fg, 10, 200, o.seed);
    let prdc = metrics::prdc(&fr, &fg);
    let spread_ratio = metrics::median(metrics::knn_radii(&fg, metrics::K))
        / metrics::median(metrics::knn_radii(&fr, metrics::K));
    let unc = metrics::uncovered(&fr, &fg);
    // a photo's distance: the mean over its crops
    let photo_distance: Vec<f64> = (0..real.images.len())
        .map(|k| {
            let d: Vec<f64> = (0..unc.len())
                .filter(|i| real_groups[*i] == k)
                .map(|i| unc[i].0)
                .collect();
            d.iter().sum::<f64>() / d.len().max(1) as f64
        })
        .collect();
    let mut order: Vec<usize> = (0..real.images.len()).collect();
    order.sort_by(|a, b| photo_distance[*b].total_cmp(&photo_distance[*a]));
    let covered_worst = order
        .iter()
        .take(o.worst)
        .map(|&k| Uncovered {
            photo: real.files[k].clone(),
            distance: photo_distance[k],
            nearest: nearest_images(&fr, &real_groups, k, &fg, &used, &gen.files, 3),
        })
        .collect();
    let mut warnings = super::real_set_warnings(&real, o.crop);
    if real_crops.len() < FEW_REAL_CROPS {
        warnings.push(format!(
            "only {} real crops ({} photo(s) × {per}): precision, recall, density and coverage rest on each crop's 5 nearest neighbours and are rough below {FEW_REAL_CROPS}; give 25 or more photos (more crops of the same photos only find their own copies)",
            real_crops.len(),
            real.images.len()
        ));
    }
    if c2st.accuracy >= super::SATURATED {
        warnings.push(format!(
            "c2st saturated ({:.3}): a linear classifier tells every photo from every generated image, so c2st cannot rank sets this far from the photos (two such sets score the same); compare kid and coverage, and look at the photos covered worst for what the scene lacks",
            c2st.accuracy
        ));
    }
    warnings.extend(collapse_warnings(&prdc, spread_ratio));
    if let Some(d) = &dataset {
        warnings.extend(d.warnings.iter().cloned());
    }
    let detector = detector_probe(o, manifest.as_deref(), &real, &labels);
    if let Some(why) = detector.as_ref().and_then(|p| p.cannot_rank.as_ref()) {
        warnings.push(format!("detector probe: {why}"));
    }
    Ok(Report {
        real: o.real.clone(),
        images: o.images.clone(),
        real_photos: real.images.len(),
        real_crops: real_crops.len(),
        generated_images: used.len(),
        c2st,
        kid: [kid, kid_std],
        prdc,
        spread_ratio,
        covered_worst,
        photo_distances: real.files.iter().cloned().zip(photo_distance).collect(),
        dataset,
        detector,
        warnings,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The detector probe of the dataset against the photos, when the dataset has labels.
fn detector_probe(
    o: &EvalOptions,
    manifest: Option<&[crate::labels::manifest::ManifestLine]>,
    real: &RealSet,
    labels: &[super::photo_labels::PhotoLabels],
) -> Option<super::detector::Probe> {
    use super::detector;
    let manifest = manifest.filter(|_| o.detector_steps > 0)?;
    let samples = detector::dataset_samples(&o.images, manifest, 3);
    let photos: Vec<Vec<f32>> = real
        .images
        .iter()
        .map(|im| detector::letterbox(im, 3).0)
        .collect();
    // the labels in the letterboxed pixels of their photo
    let boxes: Vec<(usize, Vec<[f32; 4]>)> = labels
        .iter()
        .map(|l| {
            let s = detector::RES as f32 / l.size.0.max(l.size.1) as f32;
            (l.index, l.boxes.iter().map(|b| b.map(|v| v * s)).collect())
        })
        .collect();
    Some(detector::probe(
        &samples,
        &photos,
        &boxes,
        3,
        o.detector_steps,
        o.seed,
    ))
}

/// The crops eval measures: `crops_per_photo` of every photo (so each photo has a distance of
/// its own) with the photo each came from, and one of each generated image used (at most
/// `max_images`, spread evenly over the set) with its index.
struct Crops {
    real_groups: Vec<usize>,
    real_crops: Vec<Vec<f32>>,
    used: Vec<usize>,
    gen_crops: Vec<Vec<f32>>,
}

fn crops(o: &EvalOptions, real: &RealSet, gen: &RealSet) -> Crops {
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let res = o.res as u32;
    let (mut real_groups, mut real_crops) = (Vec::new(), Vec::new());
    for k in 0..real.images.len() {
        for _ in 0..o.crops_per_photo.max(1) {
            real_groups.push(k);
            real_crops.push(real.crop_of(k, &mut rng, res, |_| o.crop, 3));
        }
    }
    let n = gen.images.len();
    let used: Vec<usize> = if n <= o.max_images {
        (0..n).collect()
    } else {
        (0..o.max_images).map(|i| i * n / o.max_images).collect()
    };
    let gen_crops = used
        .iter()
        .map(|&k| gen.crop_of(k, &mut rng, res, |_| o.images_crop, 3))
        .collect();
    Crops {
        real_groups,
        real_crops,
        used,
        gen_crops,
    }
}

/// The `count` generated images nearest to any crop of photo `k`, nearest first, each once.
fn nearest_images(
    fr: &[Vec<f32>],
    groups: &[usize],
    k: usize,
    fg: &[Vec<f32>],
    used: &[usize],
    files: &[PathBuf],
    count: usize,
) -> Vec<PathBuf> {
    let mut pairs: Vec<(f64, usize)> = Vec::new();
    for x in fr
        .iter()
        .zip(groups)
        .filter(|(_, g)| **g == k)
        .map(|(x, _)| x)
    {
        for (j, y) in fg.iter().enumerate() {
            pairs.push((metrics::d2(x, y), used[j]));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<PathBuf> = Vec::new();
    for (_, j) in pairs {
        if out.len() == count {
            break;
        }
        if !out.contains(&files[j]) {
            out.push(files[j].clone());
        }
    }
    out
}

/// Warnings when the generated set is far less varied than the photos.
pub fn collapse_warnings(p: &Prdc, spread_ratio: f64) -> Vec<String> {
    let mut out = Vec::new();
    if spread_ratio < 0.5 {
        out.push(format!(
            "collapse: the generated images are much more alike than the photos (their typical distance to a neighbour is {:.0} % of the photos'); widen the config's distributions or check the learned stages' spread below",
            100.0 * spread_ratio
        ));
    }
    if p.coverage < 0.25 && p.precision > 2.0 * p.coverage.max(0.05) {
        out.push(format!(
            "collapse: the generated images look like part of the photos (precision {:.2}) but cover only {:.0} % of them (coverage {:.2}); see the photos covered worst",
            p.precision,
            100.0 * p.coverage,
            p.coverage
        ));
    }
    out
}
