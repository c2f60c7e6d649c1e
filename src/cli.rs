//! The command line: `generate`, `bench`, `devices` and `validate`. Parses flags with clap and
//! calls the library; errors come back as `anyhow` chains for `main` to print.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::augment::infer::{AugmentOn, RunsOn};
use crate::config::{self, ConfigError};
use crate::generate::{self, Options};
use crate::render;
use crate::train::LearnOn;

/// Exit code for bad input: a config, flag or file the user must fix.
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "rendergan",
    version,
    about = "Labeled image datasets from parametric 3D models rendered with WGSL (RenderGAN)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Render a dataset from a config (COCO, YOLO, masks, depth, manifest, preview).
    Generate(GenerateArgs),
    /// Measure throughput on a config; prints one JSON line.
    Bench(BenchArgs),
    /// Learn the augmentation stages from a folder of your unlabeled photos.
    Train(TrainArgs),
    /// How real a dataset looks: a fresh small classifier learns to tell your photos from its
    /// images; held-out accuracy near 0.5 means they look alike, near 1.0 means easy to tell.
    Realism(RealismArgs),
    /// Measure a dataset against your photos: realism (C2ST, KID), fidelity and diversity
    /// (precision, recall, density, coverage), the photos it covers worst, collapse alarms,
    /// per-class counts, sampled and learned-stage histograms, label safety. Writes a report
    /// folder (report.json, index.html).
    Eval(EvalArgs),
    /// Fit the distributions a config marks with `fit: true` (object counts, camera distance,
    /// colours, ...) to your unlabelled photos, within their written ranges; writes the fitted
    /// config and a report folder (report.json, index.html).
    Fit(FitArgs),
    /// List the graphics adapters wgpu can see, best first.
    Devices,
    /// Check a config and its model files without rendering anything.
    Validate {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Join the datasets of `generate --shard i/n` into the one a single machine would make.
    Merge {
        /// The merged dataset's folder.
        out: PathBuf,
        /// The shard folders, in any order.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Replace an existing non-empty output folder (swapped only after the merge completes).
        #[arg(long)]
        overwrite: bool,
    },
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The YAML config.
    #[arg(short, long)]
    pub config: PathBuf,
    /// Output folder (default: output.dir in the config, else output/<config name>).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Number of images (overrides count in the config).
    #[arg(short = 'n', long)]
    pub count: Option<u64>,
    /// Run seed (overrides seed in the config).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads for labels and encoding (default: RAYON_NUM_THREADS if set, else all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replace an existing non-empty output folder (swapped only after the run completes).
    #[arg(long)]
    pub overwrite: bool,
    /// Render devices in parallel (default: 2 on a software rasteriser, 1 on a GPU).
    #[arg(long)]
    pub render_threads: Option<usize>,
    /// Apply a trained run folder (from `rendergan train -o`) to every image; labels are unchanged.
    #[arg(long)]
    pub augment: Option<PathBuf>,
    /// Where --augment runs the trained chain: auto = the render device's compute shaders on a
    /// GPU, the CPU on a software rasteriser (faster there).
    #[arg(long, value_enum, default_value_t = AugmentOn::Auto)]
    pub augment_on: AugmentOn,
    /// Finish the unfinished dataset a stopped run (killed, failed) of the same config, seed,
    /// count and -o left: only the missing images are rendered, and the result is the same as
    /// an uninterrupted run's.
    #[arg(long)]
    pub resume: bool,
    /// Make only shard I of N (0-based) of the run's images, with their global names, as a
    /// complete dataset; `rendergan merge` joins the shards. `auto` reads the index (and count)
    /// from Slurm (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX; give the count: auto/N).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<ShardArg>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The YAML config the synthetic images are rendered from (its `train:` section is optional).
    #[arg(short, long)]
    pub config: PathBuf,
    /// Folder of real photos (searched recursively; png, jpg, bmp, tiff, webp).
    #[arg(long)]
    pub real: PathBuf,
    /// Run folder: checkpoints, samples/, metrics.csv.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Number of steps (overrides train.steps).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Overrides train.learn_at: `output` (default) learns on crops of renders at the output's
    /// size (blur and noise in output pixels), `whole` on whole renders at train.resolution.
    #[arg(long, value_enum)]
    pub learn_at: Option<config::LearnAt>,
    /// Where to learn.
    #[arg(long, value_enum, default_value_t = LearnOn::Auto)]
    pub device: LearnOn,
    /// No per-step log lines.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The two folders `realism` and `eval` compare, and how each is cropped.
#[derive(Args, Debug)]
pub struct Compare {
    /// Folder of real photos (searched recursively).
    #[arg(long)]
    pub real: PathBuf,
    /// The images to compare: a dataset folder from `generate` (its images/; eval also reads
    /// its manifest.jsonl) or any folder of images (searched recursively).
    #[arg(long)]
    pub images: PathBuf,
    /// Side of the square crops compared.
    #[arg(long, default_value_t = 64)]
    pub res: usize,
    /// Crop side of the real photos as a fraction of their shorter side (use the middle of the
    /// config's train.real_crop, so objects are as large as training saw them).
    #[arg(long, default_value_t = 1.0)]
    pub crop: f64,
    /// Crop side of the images as a fraction of their shorter side (1.0: whole images, which
    /// is how training sees renders: the whole scene).
    #[arg(long, default_value_t = 1.0)]
    pub images_crop: f64,
}

impl Compare {
    /// Refuses crop fractions outside (0, 1] and crop sides outside 8..=512.
    fn check(&self) -> Result<()> {
        for (flag, v) in [("--crop", self.crop), ("--images-crop", self.images_crop)] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(crate::config::InputError(format!(
                    "{flag} {v}: a fraction of the shorter side in (0, 1]"
                ))
                .into());
            }
        }
        if !(8..=512).contains(&self.res) {
            return Err(crate::config::InputError(format!(
                "--res {}: give a crop side between 8 and 512 pixels",
                self.res
            ))
            .into());
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct RealismArgs {
    #[command(flatten)]
    pub compare: Compare,
    /// Training steps of each fold's classifier (batch 16).
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Crops drawn from each folder (4 folds: each crop is held out once).
    #[arg(long, default_value_t = 256)]
    pub samples: usize,
    /// Seed of the crops and the classifier.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub compare: Compare,
    /// Report folder [default: the dataset folder's name + `.eval`, beside it].
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Crops per real photo.
    #[arg(long, default_value_t = 4)]
    pub crops_per_photo: usize,
    /// Most generated images measured (spread evenly over the set).
    #[arg(long, default_value_t = 1000)]
    pub max_images: usize,
    /// Photos listed as covered worst.
    #[arg(long, default_value_t = 8)]
    pub worst: usize,
    /// Training steps of the detector probe (a tiny detector trained on the set's labels and
    /// run on the photos; needs a dataset folder with its manifest); 0: no probe.
    #[arg(long, default_value_t = 300)]
    pub detector_steps: usize,
    /// COCO json with box labels of (some of) the --real photos (file_name as under --real):
    /// the probe's boxes are scored on them (detector.photo_ap50, photo_ap), the figure that
    /// says what a detector trained on the set finds in your photos.
    #[arg(long, value_name = "COCO.json")]
    pub real_labels: Option<PathBuf>,
    /// Seed of the crops and folds.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct FitArgs {
    /// The YAML config, with `fit: true` on the distributions fit may change.
    #[arg(short, long)]
    pub config: PathBuf,
    /// Folder of your photos (unlabelled; searched recursively).
    #[arg(long)]
    pub real: PathBuf,
    /// The fitted config to write (same schema, runnable as is).
    #[arg(short, long, value_name = "FITTED.yaml")]
    pub out: PathBuf,
    /// Report folder [default: the fitted config's name + `.fit`, beside it].
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Candidate configs judged in all (more: a finer fit, longer), in whole generations of
    /// the search (rounded down, at least one generation) [default: 80 per marked distribution, at
    /// least 200].
    #[arg(long)]
    pub budget: Option<usize>,
    /// Renders each candidate is judged on.
    #[arg(long, default_value_t = 64)]
    pub renders: usize,
    /// Side of the square renders and photo crops compared [default: train.resolution].
    #[arg(long)]
    pub res: Option<usize>,
    /// Seed of the search and of the photo crops (the scenes follow the config's seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replace an existing fitted config (and a stopped fit's saved search).
    #[arg(long)]
    pub overwrite: bool,
    /// Go on with a stopped fit from its report folder's search.json (saved after every
    /// generation): the same config, photos, --seed, --renders and --res; it ends as a fit never
    /// stopped would. A finished one is judged and written again. --budget may be raised.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The YAML config (configs/bench.yaml is the reference).
    #[arg(short, long, default_value = "configs/bench.yaml")]
    pub config: PathBuf,
    /// Number of images (overrides count in the config).
    #[arg(short = 'n', long)]
    pub count: Option<u64>,
    /// Worker threads (default: RAYON_NUM_THREADS if set, else all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Render devices in parallel (default: 2 on a software rasteriser, 1 on a GPU).
    #[arg(long)]
    pub render_threads: Option<usize>,
    /// Apply a trained run folder, to measure `generate --augment`.
    #[arg(long)]
    pub augment: Option<PathBuf>,
    /// Where --augment runs the trained chain (as generate's).
    #[arg(long, value_enum, default_value_t = AugmentOn::Auto)]
    pub augment_on: AugmentOn,
    /// Measure training steps instead (the config's own renders stand in for real photos).
    #[arg(long)]
    pub train: bool,
    /// With --train: steps to time (after 2 warm-up steps).
    #[arg(long, default_value_t = 20)]
    pub steps: u64,
    /// With --train: training resolution (overrides train.resolution).
    #[arg(long)]
    pub res: Option<usize>,
    /// With --train: where to learn.
    #[arg(long, value_enum, default_value_t = LearnOn::Auto)]
    pub device: LearnOn,
}

/// `--shard` as written: `I/N`, `auto` (a Slurm array) or `auto/N` (a Kubernetes Indexed Job);
/// its syntax is checked when the command line is read, the cluster's variables when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    /// Shard I of N.
    Given(u64, u64),
    /// From the scheduler's variables, with the count when given.
    Auto(Option<u64>),
}

const SHARD_FORMS: &str =
    "give I/N (0-based, e.g. 3/8), auto (Slurm array) or auto/N (Kubernetes Indexed Job, N = completions)";

impl std::str::FromStr for ShardArg {
    type Err = String;

    fn from_str(v: &str) -> Result<ShardArg, String> {
        let bad = |why: String| format!("{why}; {SHARD_FORMS}");
        let (i, n) = v.split_once('/').unwrap_or((v, ""));
        let count = match n.trim() {
            "" => None,
            n => Some(
                n.parse::<u64>()
                    .map_err(|_| bad(format!("{n:?} is not a number")))?,
            ),
        };
        match i.trim() {
            "auto" => Ok(ShardArg::Auto(count)),
            i => {
                let i = i
                    .parse::<u64>()
                    .map_err(|_| bad(format!("{i:?} is not a number")))?;
                let n = count.ok_or_else(|| bad("no shard count".into()))?;
                Ok(ShardArg::Given(i, n))
            }
        }
    }
}

impl ShardArg {
    /// (index, total): as given, or from Slurm's or Kubernetes' variables.
    pub fn resolve(self) -> Result<(u64, u64)> {
        let env = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
        };
        let count = match self {
            ShardArg::Given(i, n) => return Ok((i, n)),
            ShardArg::Auto(count) => count,
        };
        let given = count.map_or("auto".to_string(), |n| format!("auto/{n}"));
        let bad = |why: &str| -> anyhow::Error {
            crate::config::InputError(format!("--shard {given}: {why}; {SHARD_FORMS}")).into()
        };
        if let Some(task) = env("SLURM_ARRAY_TASK_ID") {
            let first = env("SLURM_ARRAY_TASK_MIN").unwrap_or(0);
            let n = count
                .or_else(|| env("SLURM_ARRAY_TASK_COUNT"))
                .ok_or_else(|| bad("SLURM_ARRAY_TASK_COUNT is not set"))?;
            return Ok((task.saturating_sub(first), n));
        }
        if let Some(i) = env("JOB_COMPLETION_INDEX") {
            let n = count.ok_or_else(|| bad("JOB_COMPLETION_INDEX gives no count: use auto/N"))?;
            return Ok((i, n));
        }
        Err(bad(
            "neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set",
        ))
    }
}

fn load(path: &std::path::Path) -> Result<config::Config> {
    config::load(path).map_err(anyhow::Error::new)
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Devices => devices(),
        Command::Validate { config } => validate(config),
        Command::Generate(a) => generate_cmd(a),
        Command::Train(a) => train_cmd(a),
        Command::Realism(a) => realism_cmd(a),
        Command::Eval(a) => eval_cmd(a),
        Command::Fit(a) => fit_cmd(a),
        Command::Bench(a) if a.train => bench_train_cmd(a),
        Command::Bench(a) => bench_cmd(a),
        Command::Merge {
            out,
            shards,
            overwrite,
        } => {
            let t = std::time::Instant::now();
            let s = crate::merge::merge(&out, &shards, overwrite)?;
            println!(
                "rendergan: merged {} shards, {} images, into {} in {:.1} s",
                s.shards,
                s.images,
                out.display(),
                t.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `rendergan devices`: the adapters wgpu sees, best first.
fn devices() -> Result<ExitCode> {
    let list = render::adapters();
    if list.is_empty() {
        println!("no adapters found: {}", render::DeviceError::NoAdapter);
        return Ok(ExitCode::from(1));
    }
    for (i, a) in list.iter().enumerate() {
        println!(
            "{}{}  backend={}  type={}  driver={}",
            if i == 0 { "* " } else { "  " },
            a.name,
            a.backend,
            a.kind,
            a.driver
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `rendergan validate`: loads and checks a config and its model files.
fn validate(config: PathBuf) -> Result<ExitCode> {
    let cfg = load(&config)?;
    generate::check_memory(&cfg)?;
    // what only fit reads, the `fit: true` marks in the config and its model files: a mark fit
    // would refuse is said, but generate and train take the config as it is
    let (marks, refused) = match crate::fit::marks::of_file(&config, &cfg) {
        Ok(found) => found,
        Err(e) => (Vec::new(), vec![e]),
    };
    for e in &refused {
        eprintln!("rendergan: warning: `rendergan fit` would refuse this config: {e:#}");
    }
    println!(
        "{}: ok — {} images of {}×{}, {} class{} ({})",
        config.display(),
        cfg.count,
        cfg.width,
        cfg.height,
        cfg.classes.len(),
        if cfg.classes.len() == 1 { "" } else { "es" },
        cfg.classes
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !cfg.emphasis.rules.is_empty() {
        for line in crate::scene::emphasis::describe(&cfg) {
            println!("{line}");
        }
    }
    if let Some(w) = crate::scene::crowding(&cfg) {
        eprintln!("rendergan: warning: {w}");
    }
    if !marks.is_empty() {
        let names: Vec<&str> = marks.iter().map(|m| m.name.as_str()).collect();
        println!(
            "{} distribution(s) marked fit: true, for `rendergan fit`: {}",
            marks.len(),
            names.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `rendergan generate`.
fn generate_cmd(a: GenerateArgs) -> Result<ExitCode> {
    let overrides = config::Overrides {
        count: a.count,
        seed: a.seed,
        out: a.out.clone(),
        augment: a.augment.clone(),
        train_resolution: None,
    };
    let cfg = config::load_with(&a.config, &overrides)?;
    let opts = Options {
        threads: a.threads,
        overwrite: a.overwrite,
        progress: !a.quiet,
        render_threads: a.render_threads,
        augment_on: a.augment_on,
        resume: a.resume,
        shard: a.shard.map(ShardArg::resolve).transpose()?,
    };
    if opts.resume {
        use crate::dataset::journal::{finished, Finished};
        match finished(&cfg.output.dir, &cfg, opts.shard) {
            Finished::Same => {
                println!(
                    "rendergan: --resume: {} already holds this run, finished (same config, seed, count{}); nothing to do",
                    cfg.output.dir.display(),
                    if opts.shard.is_some() { ", shard" } else { "" }
                );
                return Ok(ExitCode::SUCCESS);
            }
            Finished::Other(what) if !opts.overwrite => {
                return Err(crate::config::InputError(format!(
                    "--resume: {} holds a finished run that differs from this one ({}); pass --overwrite to replace it, or -o another folder",
                    cfg.output.dir.display(),
                    what.join(", ")
                ))
                .into());
            }
            _ => {}
        }
    }
    generate::check_output(&cfg.output.dir, opts.overwrite)?;
    generate::check_memory(&cfg)?;
    if let Some(run) = &cfg.augment {
        crate::dataset::run_folder::read_run_info(run)?;
        warn_if_unhelpful(run);
    }
    if !cfg.emphasis.rules.is_empty() && !a.quiet {
        for line in crate::scene::emphasis::describe(&cfg) {
            eprintln!("rendergan: {line}");
        }
    }
    if let Some(w) = crate::scene::crowding(&cfg) {
        eprintln!("rendergan: warning: {w}");
    }
    let ctxs = generate::open_devices(opts.render_threads)?;
    let s = generate::run(&cfg, &ctxs, &opts)?;
    println!(
        "rendergan: wrote {} images{}, {} annotations to {} in {:.1} s ({:.0} images/s, {} threads, {}{})",
        s.images,
        if s.resumed > 0 {
            format!(
                " ({} of them kept from the stopped run)",
                s.resumed
            )
        } else {
            String::new()
        },
        s.annotations,
        s.dir.display(),
        s.elapsed.as_secs_f64(),
        s.images_per_second(),
        s.threads,
        s.adapter,
        match s.augment_on {
            Some(RunsOn::Gpu) => "; augmented on the render device",
            Some(RunsOn::Cpu) => "; augmented on the CPU",
            None => "",
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `rendergan train`.
fn train_cmd(a: TrainArgs) -> Result<ExitCode> {
    let mut cfg = load(&a.config)?;
    if let Some(at) = a.learn_at {
        cfg.train.learn_at = at;
    }
    let opts = crate::train::TrainOptions {
        real: a.real,
        out: a.out,
        steps: a.steps,
        resume: a.resume,
        device: a.device,
        quiet: a.quiet,
        probe: true,
    };
    crate::train::train(&cfg, &opts)?;
    println!("rendergan: training run in {}", opts.out.display());
    Ok(ExitCode::SUCCESS)
}

/// `rendergan fit`.
fn fit_cmd(a: FitArgs) -> Result<ExitCode> {
    let report = a.report.clone().unwrap_or_else(|| {
        let stem = a
            .out
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "fitted".into());
        a.out.with_file_name(format!("{stem}.fit"))
    });
    let opts = crate::fit::FitOptions {
        config: a.config,
        real: a.real,
        out: a.out,
        report,
        budget: a.budget,
        renders: a.renders,
        res: a.res,
        seed: a.seed,
        overwrite: a.overwrite,
        resume: a.resume,
        show_progress: !a.quiet,
    };
    let r = crate::fit::fit(&opts)?;
    eprintln!("rendergan: {}; {}", r.photo_colours, r.labelled_kinds);
    for w in &r.warnings {
        eprintln!("rendergan: warning: {w}");
    }
    if r.improved {
        for p in &r.params {
            // the draws' mean and spread beside the distribution: a weighted choice over a
            // count's values is hard to read, and a count is what the fit gets wrong most
            eprintln!(
                "rendergan: {}: {} (draws {:.3} ± {:.3}) -> {} (draws {:.3} ± {:.3}){}",
                p.path,
                p.written,
                p.written_moments[0],
                p.written_moments[1],
                p.fitted,
                p.fitted_moments[0],
                p.fitted_moments[1],
                if p.about_as_written {
                    ": about as written (the photos did not pin it down)"
                } else {
                    ""
                }
            );
        }
    }
    for w in &r.after.content_warnings {
        eprintln!("rendergan: still after the fit: {w}");
    }
    eprintln!("rendergan: {}", r.objects);
    eprintln!(
        "rendergan: {} {} (objective on held-out scenes {:.4} as written -> {:.4}); report: {}",
        if r.improved {
            "wrote the fitted config"
        } else {
            "wrote the config unchanged to"
        },
        opts.out.display(),
        r.before.objective,
        r.after.objective,
        opts.report.join("index.html").display()
    );
    let round = |v: f64| (v * 10000.0).round() / 10000.0;
    println!(
        "{}",
        serde_json::json!({
            "improved": r.improved,
            "objective_before": round(r.before.objective),
            "objective_after": round(r.after.objective),
            "photo_distance_before": round(r.before.photo_distance),
            "photo_distance_after": round(r.after.photo_distance),
            "fitted": r.params.iter().map(|p| (p.path.clone(), p.fitted.clone())).collect::<std::collections::BTreeMap<_, _>>(),
            "seconds": round(r.seconds),
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn eval_cmd(a: EvalArgs) -> Result<ExitCode> {
    a.compare.check()?;
    for (flag, v) in [
        ("--crops-per-photo", a.crops_per_photo),
        ("--max-images", a.max_images),
    ] {
        if v == 0 {
            return Err(crate::config::InputError(format!("{flag} 0: give at least 1")).into());
        }
    }
    let c = a.compare;
    let out = a.out.clone().unwrap_or_else(|| {
        let name = c
            .images
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "images".into());
        c.images.with_file_name(format!("{name}.eval"))
    });
    let opts = crate::eval::report::EvalOptions {
        real: c.real,
        images: c.images,
        res: c.res,
        crop: c.crop,
        images_crop: c.images_crop,
        crops_per_photo: a.crops_per_photo,
        max_images: a.max_images,
        worst: a.worst,
        detector_steps: a.detector_steps,
        real_labels: a.real_labels,
        seed: a.seed,
    };
    let r = crate::eval::report::evaluate(&opts)?;
    // made only now, so a run refused for its input leaves nothing behind
    std::fs::create_dir_all(&out).map_err(|e| {
        crate::config::InputError(format!(
            "-o {}: cannot create the report folder ({e}); give a folder you can write",
            out.display()
        ))
    })?;
    crate::eval::page::write(&r, &out)?;
    for w in &r.warnings {
        eprintln!("rendergan: warning: {w}");
    }
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "c2st": round(r.c2st.accuracy),
            "c2st_std": round(r.c2st.std),
            "kid": round(r.kid[0]),
            "precision": round(r.prdc.precision),
            "recall": round(r.prdc.recall),
            "density": round(r.prdc.density),
            "coverage": round(r.prdc.coverage),
            "spread_ratio": round(r.spread_ratio),
            "detector": r.detector.as_ref().map(|p| serde_json::json!({
                "score": p.score.map(round),
                "cannot_rank": p.cannot_rank,
                "photo_peaks": round(p.photos.peaks),
                "photo_top": round(p.photos.top),
                "photo_heat": round(p.photos.heat),
                "render_peaks": round(p.renders.peaks),
                "render_top": round(p.renders.top),
                "render_heat": round(p.renders.heat),
                "objects_per_image": round(p.objects_per_image),
                "photo_ap50": p.photo_ap50.map(round),
                "photo_ap": p.photo_ap.map(round),
                "labelled_photos": p.labelled_photos,
            })),
            "covered_worst": r.covered_worst.iter().map(|u| &u.photo).collect::<Vec<_>>(),
            "warnings": r.warnings.len(),
            "report": out.join("index.html"),
            "seconds": round(r.seconds),
        })
    );
    Ok(ExitCode::SUCCESS)
}

/// `rendergan realism`.
fn realism_cmd(a: RealismArgs) -> Result<ExitCode> {
    a.compare.check()?;
    let c = &a.compare;
    let r = crate::eval::realism(
        &c.real,
        &c.images,
        c.res,
        [c.crop, c.images_crop],
        a.samples,
        a.steps,
        a.seed,
    )?;
    for w in &r.warnings {
        eprintln!("rendergan: warning: {w}");
    }
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "real": c.real,
            "images": c.images,
            "accuracy": round(r.c2st.accuracy),
            "std": round(r.c2st.std),
            "folds": r.c2st.folds,
            "loss": round(r.c2st.loss),
            "features": {
                "accuracy": round(r.features.accuracy),
                "std": round(r.features.std),
                "loss": round(r.features.loss),
            },
            "real_photos": r.real_photos,
            "image_files": r.images,
            "warnings": r.warnings,
            "note": "held-out accuracy of fresh conv classifiers telling the two folders apart (mean ± std over 4 folds): 0.5 = indistinguishable, 1.0 = trivially different; loss = held-out cross-entropy, higher = harder to tell apart; features = the same test with a linear classifier on fixed random conv features (the probe rendergan train reports)",
        })
    );
    Ok(ExitCode::SUCCESS)
}

/// `rendergan bench --train`: training step time.
fn bench_train_cmd(a: BenchArgs) -> Result<ExitCode> {
    let cfg = config::load_with(
        &a.config,
        &config::Overrides {
            train_resolution: a.res,
            ..Default::default()
        },
    )?;
    let dir = tempfile_dir()?;
    let secs = bench_train(&cfg, &dir, a.steps.max(1), a.device);
    let _ = std::fs::remove_dir_all(&dir);
    let secs = secs?;
    let line = serde_json::json!({
        "config": a.config,
        "train_resolution": cfg.train.resolution,
        "learn_at": format!("{:?}", cfg.train.learn_at).to_lowercase(),
        "render": cfg.train.render_size(cfg.height),
        "batch": cfg.train.batch,
        "steps": secs.len(),
        "device": a.device,
        "seconds_per_step_median": (median(&secs) * 1000.0).round() / 1000.0,
        "stages": {
            "blur": cfg.train.blur, "lighting": cfg.train.lighting,
            "background": cfg.train.background, "detail": cfg.train.detail,
            "noise": cfg.train.noise,
        },
    });
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

/// `rendergan bench`: generation throughput.
fn bench_cmd(a: BenchArgs) -> Result<ExitCode> {
    let dir = tempfile_dir()?;
    let opts = Options {
        threads: a.threads,
        render_threads: a.render_threads,
        augment_on: a.augment_on,
        ..Options::scratch()
    };
    // the same validated path as generate's flags
    let cfg = config::load_with(
        &a.config,
        &config::Overrides {
            count: a.count,
            out: Some(dir.join("bench")),
            augment: a.augment,
            ..Default::default()
        },
    )?;
    let ctxs = generate::open_devices(opts.render_threads)?;
    // warm-up: pipeline compilation and first allocations are not throughput
    let mut warm = cfg.clone();
    warm.count = (cfg.batch as u64).min(cfg.count);
    generate::run(&warm, &ctxs, &opts)?;
    let s = generate::run(&cfg, &ctxs, &opts)?;
    let _ = std::fs::remove_dir_all(&dir);
    let per_stage = cfg
        .augment
        .as_deref()
        .map(|run| stage_times(run, cfg.width as usize, cfg.height as usize))
        .transpose()?;
    let ms = |d: std::time::Duration| {
        (d.as_secs_f64() * 1000.0 / s.images.max(1) as f64 * 1000.0).round() / 1000.0
    };
    let line = serde_json::json!({
        "config": a.config,
        "images": s.images,
        "width": cfg.width,
        "height": cfg.height,
        "seconds": (s.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "images_per_s": (s.images_per_second() * 10.0).round() / 10.0,
        "threads": s.threads,
        "adapter": s.adapter,
        "augment_on": s.augment_on,
        "ms_per_image": {
            "render": ms(s.render),
            "readback": ms(s.readback),
            "augment": ms(s.augment),
            "labels": ms(s.stages.labels),
            "encode": ms(s.stages.encode),
            "write": ms(s.stages.write),
        },
        "augment_ms_per_image_per_stage": per_stage,
        "note": "render and readback are wall time summed over render threads; augment is wall time summed over the workers (on the CPU) or over the render threads (on the render device, where the chain runs in the render's own submission: its device time is in render, augment is setting it up and reading its stats); labels, encode and write are CPU time summed over worker threads; augment_ms_per_image_per_stage: the CPU forward of the trained chain with one stage on at a time (none: the chain's fixed cost), 16 images of the config's size on all worker threads, wall time per image",
    });
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

/// Where the CPU forward of the trained chain in `run` spends its time on `w` × `h` images: the
/// chain with one stage on at a time, and none, on 16 images (wall milliseconds per image).
fn stage_times(run: &std::path::Path, w: usize, h: usize) -> Result<serde_json::Value> {
    use crate::augment::stages::{Stage, Switches};
    let (info, bytes) = crate::dataset::run_folder::read_applied(run)?;
    let weights = crate::augment::infer::trained_weights(&info.stages, bytes)?;
    let c = info.stages.channels;
    let n = 16;
    let images: Vec<Vec<f32>> = (0..n)
        .map(|k| {
            (0..c * h * w)
                .map(|i| ((i * 7 + k * 13) % 97) as f32 / 48.5 - 1.0)
                .collect()
        })
        .collect();
    let alphas: Vec<Vec<f32>> = (0..n)
        .map(|_| {
            (0..h * w)
                .map(|i| ((i % w) * 2 >= w) as u8 as f32)
                .collect()
        })
        .collect();
    let seeds: Vec<u64> = (0..n as u64).collect();
    let scale = h as f32 / info.resolution as f32;
    let mut out = serde_json::Map::new();
    for stage in Stage::ALL.map(Some).into_iter().chain([None]) {
        let mut wts = weights.clone();
        wts.flags = Switches::only(stage);
        let mut x = images.clone();
        let t = std::time::Instant::now();
        wts.apply(&mut x, &alphas, &seeds, (h, w), scale);
        let ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let name = stage.map_or("none", Stage::name);
        out.insert(name.into(), ((ms * 1000.0).round() / 1000.0).into());
    }
    Ok(out.into())
}

/// Times `steps` training steps (after 2 warm-up steps) on the config, with 64 of its own
/// renders at the training resolution standing in for real photos. Seconds per step.
fn bench_train(
    cfg: &config::Config,
    dir: &std::path::Path,
    steps: u64,
    device: LearnOn,
) -> Result<Vec<f64>> {
    // the stand-in photos: 64 renders of the scene at the training resolution (a validated
    // 64 or 128, so the size needs no other check)
    let res = cfg.train.resolution as u32;
    let mut real = cfg.clone();
    real.width = res;
    real.height = res;
    real.count = 64;
    real.augment = None;
    let opts = Options::scratch();
    real.output.dir = dir.join("real");
    let ctxs = generate::open_devices(None)?;
    generate::run(&real, &ctxs, &opts)?;
    drop(ctxs);
    let run = dir.join("run");
    crate::train::train(
        cfg,
        &crate::train::TrainOptions {
            real: dir.join("real").join("images"),
            out: run.clone(),
            steps: Some(steps + 2),
            resume: false,
            device,
            quiet: true,
            probe: false,
        },
    )?;
    // the first two steps are warm-up (allocations, kernel compilation)
    let secs = crate::dataset::run_folder::metrics_column(&run, "step_seconds")?;
    Ok(secs.into_iter().skip(2).collect())
}

/// Says so when the run's own verdict was not to apply its chain: learning did not bring the
/// renders closer to the photos, or hid objects (runs stopped before their last step have no
/// verdict yet).
fn warn_if_unhelpful(run: &std::path::Path) {
    let Ok(outcome) = crate::train::probe::Outcome::read(run) else {
        return;
    };
    match outcome.verdict {
        Some(v) if !v.helped() => {
            eprintln!(
                "rendergan: warning: {}: training's verdict was to leave the renders as they are (held-out realism raw {}, learned {}); its verdict:",
                run.display(),
                v.raw,
                v.learned
            );
            for line in v.lines().iter().skip(1) {
                eprintln!("rendergan:   {line}");
            }
        }
        None => eprintln!(
            "rendergan: warning: {}: training stopped at step {} before its verdict; the best checkpoint so far (step {}) is applied",
            run.display(),
            crate::dataset::run_folder::read_run_info(run).map(|i| i.step).unwrap_or(0),
            outcome.best.step
        ),
        _ => {}
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn tempfile_dir() -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("rendergan-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    Ok(d)
}

/// Maps an error to the exit code: 2 for bad input, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<ConfigError>().is_some()
        || err.downcast_ref::<crate::config::InputError>().is_some()
        || err.downcast_ref::<crate::pixels::PixelsError>().is_some()
    {
        EXIT_BAD_INPUT
    } else {
        1
    }
}
