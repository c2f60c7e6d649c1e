//! `rendergan fit`: learns the scene's content from the user's unlabelled photos. The config
//! (and the model files it uses) mark distributions with `fit: true`; their written ranges are
//! the search space; separable CMA-ES ([`search`]) moves each marked distribution
//! within its range so that renders of the config, at the training resolution, show what the
//! photos show ([`objective`]: how much of the frame differs from its border, in how many blobs
//! of what size, how busy, at what scales, in what colours). Only sampling changes, so labels
//! stay exact. The fitted config ([`write`]) is checked on scenes the search never saw before
//! it replaces the written one; the report ([`page`]) shows ranges, figures, content warnings
//! and the photos covered worst, before and after. This module renders through `train`'s
//! [`Synth`] and measures with `eval`'s features; it writes nothing but the fitted file and its
//! report.

pub mod marks;
pub mod objective;
pub mod objects;
pub mod page;
pub mod resume;
pub mod search;
pub mod write;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_yaml::Value;

use crate::config::locate::Seg;
use crate::config::{self, Config, Dist, InputError};
use crate::eval::content::{self, Content};
use crate::eval::{metrics, Features};
use crate::pixels::photos::RealSet;
use crate::scene::seed;
use crate::train::synth::{ShrunkIds, ShrunkLabelled, Synth, SUPERSAMPLE};
use marks::{Mark, PER_MARK};
use objective::Objective;
use objects::Objects;

/// Fewest photos a fit accepts: with fewer it fits where one or two frames happen to show
/// their objects, not the photos' kind of scene.
pub const MIN_PHOTOS: usize = 3;
/// Crops of each photo the objective compares with (side: the photo's shorter side, so a crop
/// sees what a render of the config sees), so that a few photos still give a distribution.
const CROPS_AT_LEAST: usize = 96;
const MAX_CROPS_PER_PHOTO: usize = 8;
/// Candidates judged per search coordinate by default (two a mark): the known-scene test
/// (five marks) needed about 400 to land within its tolerances.
const BUDGET_PER_DIM: usize = 40;

/// The default `--budget` for `marks` marked distributions: 40 candidates a coordinate, at
/// least 200.
pub fn default_budget(marks: usize) -> usize {
    (BUDGET_PER_DIM * marks * PER_MARK).max(200)
}

/// A `--budget` below this share of the default for its marks gets a warning.
const FEW_CANDIDATES: f64 = 0.25;

/// What a `--budget` far below [`default_budget`] risks, or `None`.
fn budget_warning(budget: usize, marks: usize) -> Option<String> {
    let default = default_budget(marks);
    ((budget as f64) < FEW_CANDIDATES * default as f64).then(|| format!(
        "--budget {budget} is under a quarter of the default for {marks} marked distribution(s) ({default}): the search may stop far from the best fit; drop --budget, or mark fewer distributions"
    ))
}

/// Photos the report shows as covered worst.
const WORST: usize = 6;

/// What `rendergan fit` is asked.
#[derive(Debug, Clone)]
pub struct FitOptions {
    pub config: PathBuf,
    pub real: PathBuf,
    /// The fitted config to write.
    pub out: PathBuf,
    /// The report folder.
    pub report: PathBuf,
    /// Candidate configs judged in all; `None`: [`default_budget`] for the number of marks.
    pub budget: Option<usize>,
    /// Renders each candidate is judged on.
    pub renders: usize,
    /// Side of the square renders and photo crops compared [default: train.resolution].
    pub res: Option<usize>,
    pub seed: u64,
    pub overwrite: bool,
    /// Go on from the search the report folder saved (a stopped fit of the same settings).
    pub resume: bool,
    pub show_progress: bool,
}

/// One marked distribution, as written and as fitted.
#[derive(Debug, Clone, Serialize)]
pub struct Fitted {
    pub path: String,
    /// The model file it is written in, for a model's parameter.
    pub model_file: Option<PathBuf>,
    pub written: String,
    pub fitted: String,
    /// Mean and standard deviation of what each draws.
    pub written_moments: [f64; 2],
    pub fitted_moments: [f64; 2],
    /// Whether the fit moved this one and its draws are still about the written ones (mean
    /// within 0.15 and spread above 0.85 of the written spread): the photos did not pin it down,
    /// whatever the fitted parameters read like (a normal with a std far beyond its bounds
    /// draws nearly uniformly). False when the fit did not improve (nothing was fitted).
    pub about_as_written: bool,
}

/// [`Fitted::about_as_written`] for these moments.
fn about_as_written([wm, ws]: [f64; 2], [fm, fs]: [f64; 2]) -> bool {
    ws > 0.0 && fs >= 0.85 * ws && (fm - wm).abs() <= 0.15 * ws
}

/// A set of renders as the report compares it with the photos.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// The objective on held-out scenes (1-D Wasserstein distances of the content descriptors,
    /// averaged per group; lower is closer, 0 = the photos' distribution).
    pub objective: f64,
    /// Mean distance of a photo to its nearest render on eval's features (units of the photos'
    /// median 5-NN radius; ≤ 1: as close as photos are to each other).
    pub photo_distance: f64,
    /// The labelled objects in these renders: how many a scene, how large.
    pub objects: Objects,
    pub content: Content,
    /// `rendergan train`'s content warnings for these renders against the photos.
    pub content_warnings: Vec<String>,
    /// Per descriptor entry (see `objective::NAMES`): (photos' mean, renders' mean).
    pub descriptors: Vec<(String, f64, f64)>,
}

/// A photo the written config covers worst, with its nearest render before and after.
#[derive(Debug, Clone, Serialize)]
pub struct Worst {
    pub photo: PathBuf,
    pub distance_before: f64,
    pub distance_after: f64,
    /// Image files in the report folder: the photo's crop, its nearest render before, after.
    pub tiles: [String; 3],
}

/// What `rendergan fit` reports (`report.json`).
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    pub config: PathBuf,
    pub real: PathBuf,
    pub fitted_config: PathBuf,
    pub photos: usize,
    pub photo_crops: usize,
    /// What the objective counts objects of: the photos' foreground's kinds of colour.
    pub photo_colours: String,
    /// Which of those kinds the labelled objects are (found on the renders), whose entries weigh
    /// half the objective.
    pub labelled_kinds: String,
    pub resolution: usize,
    /// The output's size in pixels (the config's); the objects' sizes are told in its height.
    pub width: u32,
    pub height: u32,
    pub renders_per_candidate: usize,
    pub candidates: usize,
    pub seed: u64,
    /// Whether the fitted config beat the written one on held-out scenes (if not, the written
    /// config was written out unchanged).
    pub improved: bool,
    /// The objective on the search's own scenes, per generation (best so far).
    pub history: Vec<f64>,
    pub params: Vec<Fitted>,
    pub before: Side,
    pub after: Side,
    /// The labelled objects as written and fitted, in a line ([`objects::summary`]).
    pub objects: String,
    pub worst: Vec<Worst>,
    /// Whether the fitted file kept the config's comments and layout.
    pub comments_kept: bool,
    pub warnings: Vec<String>,
    /// Seconds the fit took, over all its runs when it was resumed.
    pub seconds: f64,
}

fn input(msg: String) -> anyhow::Error {
    InputError(msg).into()
}

/// The checks that need no rendering: the output paths, the photos.
fn check_paths(o: &FitOptions) -> anyhow::Result<()> {
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    };
    if same(&o.out, &o.config) {
        return Err(input(format!(
            "-o {}: that is the config itself; give another file (the written config is kept, so a fit can be compared and undone)",
            o.out.display()
        )));
    }
    if o.resume && o.overwrite {
        return Err(input(
            "--resume and --overwrite: give one (--resume goes on with the saved search, --overwrite starts again)".into(),
        ));
    }
    if o.out.exists() && !o.overwrite && !o.resume {
        return Err(input(format!(
            "-o {}: the file exists; pass --overwrite to replace it, or give another name",
            o.out.display()
        )));
    }
    if o.budget == Some(0) {
        return Err(input(
            "--budget 0: give at least 1 candidate (or drop --budget for the default)".into(),
        ));
    }
    if o.renders < 8 {
        return Err(input(format!(
            "--renders {}: give at least 8 renders a candidate (or drop --renders for the default)",
            o.renders
        )));
    }
    Ok(())
}

/// Renders of `cfg` (`n` scenes from the synth's stream, made by [`Synth::supersampled`]) as
/// RGB CHW images, shrunk as photos are.
fn renders(synth: &mut Synth, cfg: &Config, n: usize) -> anyhow::Result<Vec<Vec<f32>>> {
    synth.set_config(cfg);
    synth.shrunk(0, n, RENDER_BATCH, 3)
}

/// [`renders`] with their instance ids at the rendered side (the same images).
fn renders_ids(synth: &mut Synth, cfg: &Config, n: usize) -> anyhow::Result<ShrunkIds> {
    synth.set_config(cfg);
    synth.shrunk_ids(0, n, RENDER_BATCH, 3)
}

/// [`renders`] with their labelled pixels (the same images).
fn labelled_renders(synth: &mut Synth, cfg: &Config, n: usize) -> anyhow::Result<ShrunkLabelled> {
    synth.set_config(cfg);
    synth.shrunk_labelled(0, n, RENDER_BATCH, 3)
}

/// Renders a fit makes at a time.
const RENDER_BATCH: usize = 16;

/// The config at point `x` of the search space, validated as a file would be.
fn candidate(o: &FitOptions, root: &Value, marks: &[Mark], x: &[f64]) -> anyhow::Result<Config> {
    let v = marks::apply(root, marks, x);
    let text = serde_yaml::to_string(&v).expect("a YAML tree serialises");
    config::load_text(&o.config, text)
        .with_context(|| "a fitted candidate failed the config's checks (a bug: candidates stay inside the written ranges)")
}

/// The photos of `--real`, checked: the compared side `res` usable, enough photos.
fn photos(o: &FitOptions, res: usize) -> anyhow::Result<RealSet> {
    if !(32..=256).contains(&res) {
        return Err(input(format!(
            "--res {res}: give a side of 32 to 256 pixels (the default is train.resolution)"
        )));
    }
    let real = RealSet::load_flag(&o.real, (res * 4) as u32, "--real")?;
    if real.images.len() < MIN_PHOTOS {
        return Err(input(format!(
            "--real {}: {} usable photo(s); fit needs at least {MIN_PHOTOS} (20 or more of different scenes for a fit you can trust), or it fits where one or two frames happen to show their objects{}",
            o.real.display(),
            real.images.len(),
            real.skipped().map(|s| format!(" ({s})")).unwrap_or_default()
        )));
    }
    Ok(real)
}

/// The report's warnings: the photos', a fitted mean at the end of its range, a fit that did
/// not improve.
fn fit_warnings(
    (real, cfg): (&RealSet, &Config),
    marks: &[Mark],
    params: &[Fitted],
    (before, after): (f64, f64),
) -> Vec<String> {
    let n = real.images.len();
    let mut warnings: Vec<String> = real.skipped().into_iter().collect();
    if n < crate::eval::FEW_PHOTOS {
        warnings.push(format!(
            "only {n} photo(s): the fit matches what these photos show, not your domain; give 20 or more photos of different scenes for a fit you can trust"
        ));
    }
    if after < before {
        warnings.extend(
            marks
                .iter()
                .zip(params)
                .filter_map(|(m, p)| m.at_edge(p.fitted_moments[0], p.fitted_moments[1])),
        );
        warnings.extend(
            marks
                .iter()
                .zip(params)
                .filter(|(m, _)| labelled_count(&m.path, cfg))
                .filter_map(|(_, p)| one_count(p)),
        );
    } else {
        warnings.push(format!(
            "the fitted distributions did not beat the written ones on held-out scenes (objective {after:.4} vs {before:.4}); the config was written unchanged: widen the marked ranges, mark what differs (see the descriptors), or give more photos"
        ));
    }
    warnings
}

/// The entry of `cfg.objects` whose count the mark at `path` is (`objects[i].count`).
fn count_entry<'a>(path: &[Seg], cfg: &'a Config) -> Option<&'a crate::config::ObjectSpec> {
    match path {
        [Seg::Key(o), Seg::Index(i), Seg::Key(c)] if o == "objects" && c == "count" => {
            cfg.objects.get(*i)
        }
        _ => None,
    }
}

/// Whether a scenery entry's (`label: false`) count is marked: then the fit can put the
/// photos' clutter into the scene rather than into the labelled objects.
fn scenery_marked(cfg: &Config, marks: &[Mark]) -> bool {
    marks
        .iter()
        .any(|m| count_entry(&m.path, cfg).is_some_and(|e| e.class.is_none()))
}

/// Whether the mark at `path` is the count of a labelled object's entry (scenery's counts,
/// `label: false` clutter, are no detector's business).
fn labelled_count(path: &[Seg], cfg: &Config) -> bool {
    count_entry(path, cfg).is_some_and(|e| e.class.is_some())
}

/// A warning when a labelled object's marked count ([`labelled_count`]), written as a range,
/// was fitted to nearly one value: the search settles on the count that matches the photos
/// best on average, and a detector trained on scenes that all hold the same number of objects
/// never sees the others (pills: 7 capsules in every scene, draws 7.02 ± 0.14, where the photos
/// hold 1 to 22).
fn one_count(p: &Fitted) -> Option<String> {
    let ([wm, ws], [fm, fs]) = (p.written_moments, p.fitted_moments);
    (ws > 0.5 && fs < 0.25).then(|| {
        format!(
            "{}: fitted to nearly one value ({:.0} in almost every scene, draws {fm:.2} ± {fs:.2}; written {wm:.1} ± {ws:.1}): a detector trained on it sees that many objects in every image; if your photos hold different numbers, write the range they hold by hand (or leave it marked and fit with a larger --budget)",
            p.path,
            fm.round()
        )
    })
}

/// A warning when marked counts of objects placed with `no_overlap` draw more than the
/// placement area holds in `cfg`'s first `n` scenes: the objects that find no room are left
/// out, so a count above what fits changes nothing the renders show, and the fit cannot learn
/// it (wbc: 31 red cells drawn a scene, 12 placed, 18 left out).
fn overlap_warning(cfg: &Config, marks: &[Mark], n: u64) -> Option<String> {
    let crowded: Vec<&str> = marks
        .iter()
        .filter(|m| count_entry(&m.path, cfg).is_some_and(|e| e.placement.no_overlap))
        .map(|m| m.name.as_str())
        .collect();
    if crowded.is_empty() || n == 0 {
        return None;
    }
    let (placed, left) = crate::scene::placed_and_left_out(cfg, n);
    let share = left as f64 / (placed + left).max(1) as f64;
    (share > crate::scene::LEFT_OUT).then(|| {
        format!(
            "{:.0} % of the drawn objects found no room (placement.no_overlap) in the fitted config's scenes ({:.1} a scene left out, {:.1} placed): a count above what fits changes nothing the renders show, so the fit cannot raise {} past it (objects are placed in the config's order: the later entries lose); widen the placement's x/y ranges, or let them overlap (no_overlap: false), and fit again",
            100.0 * share,
            left as f64 / n as f64,
            placed as f64 / n as f64,
            crowded.join(", ")
        )
    })
}

/// Crops of the photos at the compared side `res` (each photo's shorter side, so a crop sees
/// what a render sees), at least [`CROPS_AT_LEAST`] in all, with the photo each came from.
fn photo_crops(real: &RealSet, res: usize, seed: u64) -> (Vec<usize>, Vec<Vec<f32>>) {
    let per = CROPS_AT_LEAST
        .div_ceil(real.images.len())
        .clamp(1, MAX_CROPS_PER_PHOTO);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ seed::FIT_CROPS);
    let (mut groups, mut crops) = (Vec::new(), Vec::new());
    for k in 0..real.images.len() {
        for _ in 0..per {
            groups.push(k);
            crops.push(real.crop_of(k, &mut rng, res as u32, |_| 1.0, 3));
        }
    }
    (groups, crops)
}

/// The fitted distribution of each mark (`None` for all when the fit did not improve), and
/// each mark as the report shows it.
fn fitted_params(marks: &[Mark], x: &[f64], improved: bool) -> (Vec<Option<Dist>>, Vec<Fitted>) {
    let dists: Vec<Option<Dist>> = marks
        .iter()
        .enumerate()
        .map(|(k, m)| improved.then(|| m.dist(&x[k * PER_MARK..(k + 1) * PER_MARK])))
        .collect();
    let params = marks
        .iter()
        .zip(&dists)
        .map(|(m, d)| {
            let f = d.clone().unwrap_or_else(|| m.written.clone());
            let (wm, ws) = Mark::moments(&m.written);
            let (fm, fs) = Mark::moments(&f);
            Fitted {
                path: m.name.clone(),
                model_file: m.model_file.clone(),
                written: m.written.to_string(),
                fitted: f.to_string(),
                written_moments: [wm, ws],
                fitted_moments: [fm, fs],
                // a fit that did not improve fitted nothing: written is what it keeps
                about_as_written: d.is_some() && about_as_written([wm, ws], [fm, fs]),
            }
        })
        .collect();
    (dists, params)
}

/// Runs the fit and writes the fitted config and the report. Long: its steps in order (the
/// photos, the search, the comparison on held-out scenes, the files), each a few calls; they
/// share the photos' crops, the objective and the renders.
pub fn fit(o: &FitOptions) -> anyhow::Result<FitReport> {
    let t0 = std::time::Instant::now();
    check_paths(o)?;
    let written = config::load(&o.config)?;
    let text = std::fs::read_to_string(&o.config)
        .with_context(|| format!("cannot read {}", o.config.display()))?;
    let root: Value = serde_yaml::from_str(&text).context("the config parsed a moment ago")?;
    let marks = marks::find(&o.config, &root, &written)?;
    let res = o.res.unwrap_or(written.train.resolution);
    let real = photos(o, res)?;
    let (groups, crops) = photo_crops(&real, res, o.seed);
    let kinds = objective::Kinds::of_photos(&crops, res);
    let photo_desc = objective::describe_all(&crops, res, &kinds);
    // where the search starts, settled before anything is rendered
    let dims = marks.len() * PER_MARK;
    let budget = o.budget.unwrap_or_else(|| default_budget(marks.len()));
    let key = resume::key(&written, &marks, &real, (o.seed, o.renders, res));
    let start_at = resume::start(o, &key, budget)?;
    let few = budget_warning(budget, marks.len());
    // said now to a user watching the progress bar; the summary at the end says it again
    if let (Some(w), true) = (&few, o.show_progress) {
        eprintln!("rendergan: warning: {w}");
    }
    let replaces_own = matches!(start_at, resume::Start::Resumed { same_out: true, .. });
    if o.out.exists() && !o.overwrite && !replaces_own {
        return Err(input(format!(
            "-o {}: the file exists{}; pass --overwrite to replace it, or give another name",
            o.out.display(),
            if o.resume {
                " and is not the output of the saved search in the report folder"
            } else {
                ""
            }
        )));
    }
    // seconds the earlier runs of a resumed fit took
    let mut earlier = 0.0;
    let resumed = match start_at {
        resume::Start::Resumed { state, seconds, .. } => {
            earlier = seconds;
            Some(*state)
        }
        resume::Start::NothingSaved => {
            eprintln!(
                "rendergan: --resume: no saved search in {}; fitting from the start",
                o.report.display()
            );
            None
        }
        resume::Start::Fresh => None,
    };
    std::fs::create_dir_all(&o.report)
        .with_context(|| format!("cannot create the report folder {}", o.report.display()))?;

    let ctx = crate::train::synth::open_device()?;
    let mut synth = Synth::supersampled(&written, res, seed::FIT_SCENES, &ctx)?;
    let (start_imgs, start_masks) = labelled_renders(&mut synth, &written, o.renders)?;
    let start = objective::describe_all(&start_imgs, res, &kinds);
    let labelled = objective::Labelled::of_renders(&kinds, &start_imgs, &start_masks, res);
    let obj = Objective::new(photo_desc, &start, &labelled);

    let out_abs = resume::out_path(&o.out);
    let start_x: Vec<f64> = (0..dims).map(|k| marks::START[k % PER_MARK]).collect();
    let total = search::points(budget, dims);
    let bar = progress_bar(total as u64, o.show_progress);
    // without a terminal (a log file, a cluster job) the bar is hidden: a line a generation
    let log_lines = o.show_progress && !std::io::stderr().is_terminal();
    let written_score = obj.score(&start);
    bar.set_message(format!("objective {written_score:.4} as written"));
    bar.set_position(resumed.as_ref().map_or(0, |s| s.used) as u64);
    let (best, history) = search::minimise(
        &start_x,
        budget,
        o.seed ^ seed::FIT_SEARCH,
        resumed,
        |xs| {
            let mut scores = Vec::with_capacity(xs.len());
            for x in xs {
                let cfg = candidate(o, &root, &marks, x)?;
                let d =
                    objective::describe_all(&renders(&mut synth, &cfg, o.renders)?, res, &kinds);
                scores.push(obj.score(&d));
                bar.inc(1);
            }
            Ok(scores)
        },
        |state| {
            let b = state.history.last().copied().unwrap_or(f64::NAN);
            bar.set_message(format!("objective {b:.4} (as written {written_score:.4})"));
            if log_lines {
                eprintln!(
                    "rendergan: fit: {}/{total} candidates, objective {b:.4} (as written {written_score:.4}), {:.0} s",
                    state.used,
                    earlier + t0.elapsed().as_secs_f64()
                );
            }
            resume::Saved {
                rendergan: env!("CARGO_PKG_VERSION").into(),
                key: key.clone(),
                budget,
                dims,
                out: out_abs.clone(),
                seconds: earlier + t0.elapsed().as_secs_f64(),
                state: state.clone(),
            }
            .write(&o.report)
        },
    )?;
    bar.finish_and_clear();

    // before and after, on scenes the search never judged
    let fitted_cfg = candidate(o, &root, &marks, &best.x)?;
    let mut held = Synth::supersampled(&written, res, seed::FIT_HELD, &ctx)?;
    let n_held = 2 * o.renders;
    let (before_imgs, before_ids) = renders_ids(&mut held, &written, n_held)?;
    let (after_imgs, after_ids) = renders_ids(&mut held, &fitted_cfg, n_held)?;
    let (b_desc, a_desc) = (
        objective::describe_all(&before_imgs, res, &kinds),
        objective::describe_all(&after_imgs, res, &kinds),
    );
    let (b_obj, a_obj) = (obj.score(&b_desc), obj.score(&a_desc));
    let improved = a_obj < b_obj;

    let real_content = content::measure(&crops, 3, res);
    let rendered = SUPERSAMPLE * res;
    let side = |desc: &[Vec<f64>], (imgs, ids): (&[Vec<f32>], &[Vec<u32>]), objective, distance| {
        let c = content::measure(imgs, 3, res);
        Side {
            objective,
            photo_distance: distance,
            objects: Objects::of(ids, rendered, &written.labels, written.height),
            content: c,
            content_warnings: content::mismatch(&real_content, &c, None),
            descriptors: obj
                .compare(desc)
                .into_iter()
                .zip(objective::names(&kinds))
                .map(|((p, r), n)| (n, p, r))
                .collect(),
        }
    };
    let cover = Coverage::new(
        &crops,
        &groups,
        real.images.len(),
        &before_imgs,
        &after_imgs,
        res,
    );
    let before = side(&b_desc, (&before_imgs, &before_ids), b_obj, cover.mean[0]);
    let after = side(&a_desc, (&after_imgs, &after_ids), a_obj, cover.mean[1]);

    let (dists, params) = fitted_params(&marks, &best.x, improved);
    let mut warnings: Vec<String> = few.into_iter().collect();
    warnings.extend(fit_warnings(
        (&real, &written),
        &marks,
        &params,
        (b_obj, a_obj),
    ));
    let kept = if improved { &fitted_cfg } else { &written };
    warnings.extend(overlap_warning(kept, &marks, n_held as u64));
    let compared: &[&Objects] = if improved {
        &[&before.objects, &after.objects]
    } else {
        &[&before.objects]
    };
    warnings.extend(objects::too_small(compared));
    let worst = cover.worst(o, &real, &crops, &before_imgs, &after_imgs, res)?;
    let comments_kept = write_fitted(
        o,
        &text,
        &root,
        &marks,
        (&best.x, &dists),
        improved,
        header_lines(o, (&real, res, &text), &params, improved, b_obj, a_obj),
    )?;

    let report = FitReport {
        config: o.config.clone(),
        real: o.real.clone(),
        fitted_config: o.out.clone(),
        photos: real.images.len(),
        photo_crops: crops.len(),
        photo_colours: format!("the photos' foreground holds {}", kinds.summary()),
        labelled_kinds: labelled.summary(&kinds),
        resolution: res,
        width: written.width,
        height: written.height,
        renders_per_candidate: o.renders,
        candidates: history.len() * search::population(dims),
        seed: o.seed,
        improved,
        history,
        params,
        objects: objects::summary(
            &before.objects,
            improved.then_some(&after.objects),
            (written.width, written.height),
            scenery_marked(&written, &marks),
        ),
        before,
        after,
        worst,
        comments_kept,
        warnings,
        seconds: earlier + t0.elapsed().as_secs_f64(),
    };
    let samples = [&before_imgs, &after_imgs].map(|imgs| imgs.iter().take(16).cloned().collect());
    page::write(&report, &o.report, &samples, res)?;
    Ok(report)
}

/// Writes the fitted config to `-o` (the written one unchanged when the fit did not improve),
/// model and photo folders referred to from where it lies, comments kept where the file
/// allows; it must load as a config first. Returns whether the comments were kept.
fn write_fitted(
    o: &FitOptions,
    text: &str,
    root: &Value,
    marks: &[Mark],
    (x, dists): (&[f64], &[Option<Dist>]),
    improved: bool,
    header: Vec<String>,
) -> anyhow::Result<bool> {
    let out_dir = o
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let moved = write::moved_paths(root, &o.config, out_dir);
    let mut fitted_root = if improved {
        marks::apply(root, marks, x)
    } else {
        root.clone()
    };
    for (old, new) in &moved {
        rewrite_refs(&mut fitted_root, old, new);
    }
    let (fitted_text, comments_kept) =
        write::fitted_text(text, &fitted_root, marks, dists, &moved, &header);
    // the file must load as a config before it replaces anything
    let fitted_path = absolute_beside(&o.out);
    config::load_text(&fitted_path, fitted_text.clone())
        .context("the fitted config failed the config's checks (a bug; nothing was written)")?;
    std::fs::write(&o.out, &fitted_text)
        .with_context(|| format!("cannot write {}", o.out.display()))?;

    Ok(comments_kept)
}

/// `out` as a path the config loader resolves relative files against.
fn absolute_beside(out: &Path) -> PathBuf {
    if out.is_absolute() {
        out.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| out.to_path_buf(), |d| d.join(out))
    }
}

/// Rewrites the file references `old` → `new` in a config's tree (model files, background
/// photos), for a fitted file written outside the config's folder.
fn rewrite_refs(root: &mut Value, old: &str, new: &str) {
    if let Some(Value::Sequence(objs)) = root.get_mut("objects") {
        for o in objs {
            if o.get("model").and_then(Value::as_str) == Some(old) {
                o["model"] = Value::String(new.into());
            }
        }
    }
    if let Some(images) = root.get_mut("background").and_then(|b| b.get_mut("images")) {
        if images.get("dir").and_then(Value::as_str) == Some(old) {
            images["dir"] = Value::String(new.into());
        }
    }
}

/// What an earlier fit's header says each mark was first written as (`  <mark>: was <d>`, or
/// `...; first written <d>` after a refit), so a refit's header keeps the user's own range.
fn first_written(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .map_while(|l| l.strip_prefix(write::HEADER))
        .filter_map(|l| {
            let (name, was) = l.trim_start().split_once(": was ")?;
            let first = was.split_once("; first written ").map_or(was, |(_, f)| f);
            Some((bare(name).to_string(), first.trim().to_string()))
        })
        .collect()
}

/// A mark's name without the model file it was read from: `objects[0].params.tint (ball.yaml
/// params.tint)` is `objects[0].params.tint` again once a fit has written it into the config.
fn bare(name: &str) -> &str {
    name.split_once(" (").map_or(name, |(b, _)| b)
}

fn header_lines(
    o: &FitOptions,
    (real, res, text): (&RealSet, usize, &str),
    params: &[Fitted],
    improved: bool,
    before: f64,
    after: f64,
) -> Vec<String> {
    let first = first_written(text);
    let was = |p: &Fitted| match first.get(bare(&p.path)) {
        Some(f) if *f != p.written => format!("was {}; first written {f}", p.written),
        _ => format!("was {}", p.written),
    };
    let mut h = vec![format!(
        "{} against {} photos in {} (--seed {}, {} renders a candidate, compared at {}²)",
        o.config.display(),
        real.images.len(),
        o.real.display(),
        o.seed,
        o.renders,
        res,
    )];
    if improved {
        h.push(format!(
            "objective on held-out scenes {before:.4} as written -> {after:.4} fitted (lower is closer); report: {}",
            o.report.join("index.html").display()
        ));
        for p in params {
            h.push(format!("  {}: {}", p.path, was(p)));
        }
    } else {
        h.push(format!(
            "no fitted distribution beat the written ones ({after:.4} vs {before:.4}); the config is unchanged"
        ));
        // an earlier fit's record of what the user wrote stays
        for p in params {
            if let Some(f) = first.get(bare(&p.path)) {
                h.push(format!("  {}: first written {f}", p.path));
            }
        }
    }
    h
}

fn progress_bar(len: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} candidates  {msg}  ETA {eta}")
            .expect("the progress template is valid"),
    );
    bar
}

/// How well the renders before and after cover each photo, on eval's features.
struct Coverage {
    /// Per photo: distance to the nearest render before, after, and that render's index.
    photo: Vec<[(f64, usize); 2]>,
    mean: [f64; 2],
}

impl Coverage {
    fn new(
        crops: &[Vec<f32>],
        groups: &[usize],
        photos: usize,
        before: &[Vec<f32>],
        after: &[Vec<f32>],
        res: usize,
    ) -> Coverage {
        let f = Features::new(3);
        let (mut fr, mut fb, mut fa) = (
            f.embed(crops, res),
            f.embed(before, res),
            f.embed(after, res),
        );
        let pooled: Vec<Vec<f32>> = fr.iter().chain(&fb).cloned().collect();
        metrics::standardise(&pooled, &mut [&mut fr, &mut fb, &mut fa]);
        let per_side = |fg: &[Vec<f32>]| -> Vec<(f64, usize)> {
            let unc = metrics::uncovered(&fr, fg);
            (0..photos)
                .map(|k| {
                    let mine: Vec<&(f64, usize)> = unc
                        .iter()
                        .zip(groups)
                        .filter(|(_, g)| **g == k)
                        .map(|(u, _)| u)
                        .collect();
                    let d = mine.iter().map(|u| u.0).sum::<f64>() / mine.len().max(1) as f64;
                    let near = mine
                        .iter()
                        .min_by(|a, b| a.0.total_cmp(&b.0))
                        .map_or(0, |u| u.1);
                    (d, near)
                })
                .collect()
        };
        let (b, a) = (per_side(&fb), per_side(&fa));
        let mean = |s: &[(f64, usize)]| s.iter().map(|x| x.0).sum::<f64>() / s.len().max(1) as f64;
        Coverage {
            mean: [mean(&b), mean(&a)],
            photo: b.into_iter().zip(a).map(|(x, y)| [x, y]).collect(),
        }
    }

    /// The photos covered worst before the fit, with their tiles written into the report.
    fn worst(
        &self,
        o: &FitOptions,
        real: &RealSet,
        crops: &[Vec<f32>],
        before: &[Vec<f32>],
        after: &[Vec<f32>],
        res: usize,
    ) -> anyhow::Result<Vec<Worst>> {
        let mut order: Vec<usize> = (0..self.photo.len()).collect();
        order.sort_by(|a, b| self.photo[*b][0].0.total_cmp(&self.photo[*a][0].0));
        let per = crops.len() / self.photo.len().max(1);
        let mut out = Vec::new();
        for (rank, &k) in order.iter().take(WORST).enumerate() {
            let tiles = [
                (format!("worst{rank}_photo.png"), &crops[k * per]),
                (
                    format!("worst{rank}_before.png"),
                    &before[self.photo[k][0].1],
                ),
                (format!("worst{rank}_after.png"), &after[self.photo[k][1].1]),
            ];
            for (name, img) in &tiles {
                page::tile(img, res)
                    .save(o.report.join(name))
                    .with_context(|| format!("cannot write {}", o.report.join(name).display()))?;
            }
            out.push(Worst {
                photo: real.files[k].clone(),
                distance_before: self.photo[k][0].0,
                distance_after: self.photo[k][1].0,
                tiles: tiles.map(|t| t.0),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(count: &str, x: f64, no_overlap: bool) -> (Config, Vec<Mark>) {
        let text = format!(
            "seed: 3\ncount: 4\nimage: {{width: 64, height: 64}}\ncamera: {{distance: 8, elevation: 90, azimuth: 0, fov: 40, roll: 0}}\nlights: {{count: 1, elevation: 70, intensity: 0.7, ambient: 0.35}}\nbackground: {{color: [0.5, 0.5, 0.5]}}\nobjects:\n  - model: sphere\n    count: {count}\n    placement: {{x: {{uniform: [-{x}, {x}]}}, y: {{uniform: [-{x}, {x}]}}, no_overlap: {no_overlap}}}\n"
        );
        with_marks(&text)
    }

    /// A config from its text and the marks fit finds in it (none when it has none).
    fn with_marks(text: &str) -> (Config, Vec<Mark>) {
        let path = Path::new("scene.yaml");
        let cfg = config::load_text(path, text.to_string()).unwrap();
        let root: Value = serde_yaml::from_str(text).unwrap();
        let marks = marks::find(path, &root, &cfg).unwrap_or_default();
        (cfg, marks)
    }

    /// A diagnostic, not a check: the objective of several configs on one scale (the first
    /// config's renders and the photos fix it, as a fit of that config would), with each
    /// descriptor entry's term, to see whether the objective ranks configs as a detector does.
    #[test]
    #[ignore = "diagnostic: RG_RANK_PHOTOS=<photo dir> RG_RANK=<wide.yaml>,<a.yaml>,..."]
    fn rank_configs_on_one_scale() {
        let (Ok(dir), Ok(list)) = (std::env::var("RG_RANK_PHOTOS"), std::env::var("RG_RANK"))
        else {
            eprintln!(
                "rank_configs_on_one_scale: RG_RANK_PHOTOS and RG_RANK not set; nothing ranked"
            );
            return;
        };
        let paths: Vec<PathBuf> = list.split(',').map(PathBuf::from).collect();
        let base = config::load(&paths[0]).unwrap();
        let res = base.train.resolution;
        let o = FitOptions {
            config: paths[0].clone(),
            real: dir.into(),
            out: "unused.yaml".into(),
            report: "unused".into(),
            budget: None,
            renders: 64,
            res: None,
            seed: 1,
            overwrite: false,
            resume: false,
            show_progress: false,
        };
        let real = photos(&o, res).unwrap();
        let (_, crops) = photo_crops(&real, res, o.seed);
        let kinds = objective::Kinds::of_photos(&crops, res);
        let photo_desc = objective::describe_all(&crops, res, &kinds);
        let ctx = crate::train::synth::open_device().unwrap();
        let mut synth = Synth::supersampled(&base, res, seed::FIT_SCENES, &ctx).unwrap();
        // the labelled kinds come from the first config's renders, as its fit finds them
        let mut labelled = None;
        let descs: Vec<Vec<Vec<f64>>> = paths
            .iter()
            .map(|p| {
                let c = config::load(p).unwrap();
                let (imgs, masks) = labelled_renders(&mut synth, &c, o.renders).unwrap();
                labelled.get_or_insert_with(|| {
                    objective::Labelled::of_renders(&kinds, &imgs, &masks, res)
                });
                objective::describe_all(&imgs, res, &kinds)
            })
            .collect();
        let labelled = labelled.expect("RG_RANK names at least one config");
        println!("{}", labelled.summary(&kinds));
        let obj = Objective::new(photo_desc.clone(), &descs[0], &labelled);
        let plain = Objective::new(photo_desc, &descs[0], &objective::Labelled::default());
        let names = objective::names(&kinds);
        for (p, d) in paths.iter().zip(&descs) {
            println!(
                "{}: objective {:.4} (without the labelled kinds' half {:.4})",
                p.display(),
                obj.score(d),
                plain.score(d)
            );
            for (n, t) in names.iter().zip(obj.per_entry(d)) {
                println!("  {n:40} {t:.3}");
            }
        }
    }

    #[test]
    fn a_refit_keeps_what_the_user_first_wrote() {
        let once = "# rendergan fit: x.yaml against 9 photos\n# rendergan fit:   camera.distance: was {uniform: [3, 12]}\ncamera:\n  distance: 5  # was: not a header\n";
        let f = first_written(once);
        assert_eq!(f.len(), 1);
        assert_eq!(f["camera.distance"], "{uniform: [3, 12]}");
        let twice = "# rendergan fit:   camera.distance: was {normal: {mean: 5, std: 1, min: 3, max: 12}}; first written {uniform: [3, 12]}\n";
        assert_eq!(
            first_written(twice)["camera.distance"],
            "{uniform: [3, 12]}"
        );
        assert!(first_written("camera: {distance: 5}\n").is_empty());
        // a model file's parameter, named with its file before the first fit wrote it in
        let model = "# rendergan fit:   objects[0].params.tint (ball.yaml params.tint): was {uniform: [0.5, 0.97]}\n";
        assert_eq!(
            first_written(model)["objects[0].params.tint"],
            "{uniform: [0.5, 0.97]}"
        );
    }

    #[test]
    fn a_fit_that_left_a_distribution_as_written_says_so() {
        // {uniform: [3, 20]} draws 11.5 ± 4.9; a normal with a std far beyond its bounds draws
        // about the same, whatever its mean reads
        let m = |text: &str| {
            let d = Dist::from_value(&serde_yaml::from_str(text).unwrap()).unwrap();
            let (mean, sd) = Mark::moments(&d);
            [mean, sd]
        };
        let written = m("{uniform: [3, 20]}");
        assert!(about_as_written(
            written,
            m("{normal: {mean: 16.87, std: 33.92, min: 3, max: 20}}")
        ));
        assert!(!about_as_written(
            written,
            m("{normal: {mean: 7.8, std: 0.3, min: 3, max: 20}}")
        ));
        assert!(
            !about_as_written(written, m("{uniform: [10, 20]}")),
            "moved and narrowed"
        );
        assert!(
            !about_as_written(m("{int: [1, 1]}"), m("{int: [1, 1]}")),
            "nothing to spread"
        );
    }

    #[test]
    fn a_count_fitted_to_one_value_is_named() {
        let fitted = |path: &str, written: [f64; 2], fitted: [f64; 2]| Fitted {
            path: path.into(),
            model_file: None,
            written: String::new(),
            fitted: String::new(),
            written_moments: written,
            fitted_moments: fitted,
            about_as_written: false,
        };
        let w =
            one_count(&fitted("objects[1].count", [6.0, 3.7], [7.021, 0.143])).expect("a warning");
        assert!(
            w.starts_with("objects[1].count: fitted to nearly one value (7 in almost every scene"),
            "{w}"
        );
        assert_eq!(
            one_count(&fitted("objects[1].count", [6.0, 3.7], [7.0, 1.2])),
            None
        );
        assert_eq!(
            one_count(&fitted("objects[0].count", [1.0, 0.0], [1.0, 0.0])),
            None,
            "written as one value"
        );
        // only labelled objects' counts
        let cfg = config::load_text(
            Path::new("c.yaml"),
            "count: 1\nimage: {width: 64, height: 64}\ncamera: {distance: 5, elevation: 60, fov: 40}\nobjects:\n  - {model: box, label: false}\n  - {model: sphere}\n".into(),
        )
        .unwrap();
        let at = |i: usize, last: &str| {
            vec![
                Seg::Key("objects".into()),
                Seg::Index(i),
                Seg::Key(last.into()),
            ]
        };
        assert!(labelled_count(&at(1, "count"), &cfg));
        assert!(!labelled_count(&at(0, "count"), &cfg), "scenery");
        assert!(!labelled_count(&at(1, "scale"), &cfg), "not a count");
        assert!(!labelled_count(&[Seg::Key("camera".into())], &cfg));
    }

    #[test]
    fn budgets_far_below_the_default_are_named() {
        // 3 marks: default 240
        assert_eq!(default_budget(3), 240);
        assert_eq!(budget_warning(240, 3), None);
        assert_eq!(
            budget_warning(60, 3),
            None,
            "a quarter is still enough to say nothing"
        );
        let w = budget_warning(24, 3).expect("a warning");
        assert!(w.contains("--budget 24") && w.contains("(240)"), "{w}");
    }

    #[test]
    fn scenery_with_a_marked_count_is_told_apart() {
        let marked = |objects: &str| {
            let text = format!(
                "count: 1\nimage: {{width: 64, height: 64}}\ncamera: {{distance: {{uniform: [4, 9], fit: true}}, elevation: 60, fov: 40}}\nobjects:\n{objects}"
            );
            let (cfg, marks) = with_marks(&text);
            scenery_marked(&cfg, &marks)
        };
        assert!(marked(
            "  - {model: sphere}\n  - {model: clutter, label: false, count: {int: [0, 6], fit: true}}\n"
        ));
        assert!(
            !marked("  - {model: sphere, count: {int: [1, 6], fit: true}}\n"),
            "labelled"
        );
        assert!(
            !marked("  - {model: sphere}\n  - {model: cloth, label: false, params: {r: {uniform: [0, 1], fit: true}}}\n"),
            "scenery marked, but not its count"
        );
    }

    #[test]
    fn counts_that_find_no_room_are_named() {
        // 20-30 spheres kept apart in a 1 × 1 area: most are left out
        let (cfg, marks) = scene("{int: [20, 30], fit: true}", 0.5, true);
        let w = overlap_warning(&cfg, &marks, 8).expect("a warning");
        assert!(
            w.contains("objects[0].count") && w.contains("no_overlap"),
            "{w}"
        );
        // room enough, objects allowed to overlap, or the count not marked: nothing to say
        let (cfg, marks) = scene("{int: [1, 3], fit: true}", 6.0, true);
        assert_eq!(overlap_warning(&cfg, &marks, 8), None);
        let (cfg, marks) = scene("{int: [20, 30], fit: true}", 0.5, false);
        assert_eq!(overlap_warning(&cfg, &marks, 8), None);
        let (cfg, _) = scene("{int: [20, 30]}", 0.5, true);
        assert_eq!(overlap_warning(&cfg, &[], 8), None);
    }
}
