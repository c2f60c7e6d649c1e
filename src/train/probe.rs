//! Held-out realism while training: a fixed set of real crops the discriminator never trains on
//! (whole photos held out when there are enough of them) and a fixed set of renders. Every few
//! steps the averaged chain is applied to those renders and a fresh classifier (C2ST, k folds)
//! says how far they are from the held-out crops; the best checkpoint is what `generate
//! --augment` applies, and the run ends with a verdict: raw renders vs learned, whether the
//! learned chain keeps the objects visible (label safety), and, when learning did not help or
//! hides objects, which stage to switch off.

use std::path::Path;

use anyhow::Context;
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::keep::judged_objects;
use super::synth::SynthBatch;
use crate::augment::infer::batch_inputs;
use crate::augment::model::Chain;
use crate::augment::stages::{Scales, Stage};
use crate::dataset::run_folder::{write_atomic, OUTCOME};
use crate::eval::manifest_stats::{LabelSafety, KEPT_CONTRAST};
use crate::eval::{linear_c2st, C2st, Features, Side};
use crate::labels::contrast::{chw_grey, Region};
use crate::pixels::photos::RealSet;

/// Images on each side of the probe.
pub const PROBE_IMAGES: usize = 128;
/// A chain that leaves more than this share of the probe renders' objects under
/// [`KEPT_CONTRAST`] of their contrast is not handed over, however realistic it looks.
pub const MAX_AT_RISK: f64 = 0.10;
/// Folds of the probe during training, and of the final verdict.
const FOLDS_DURING: usize = 4;
const FOLDS_FINAL: usize = 8;

/// The fixed images of the probe, and their features.
pub struct Probe {
    features: Features,
    held: Vec<Vec<f32>>,
    /// The photo each held-out crop came from.
    groups: Vec<usize>,
    renders: SynthBatch,
    /// Output pixels per training pixel of the renders (crops at the output's scale, or whole).
    scales: Scales,
    /// Per render, the objects label safety judges and their raw contrasts.
    objects: Vec<Vec<(f32, Region)>>,
    channels: usize,
    res: usize,
    /// The held-out crops come from photos the discriminator never sees.
    pub disjoint: bool,
}

/// One realism measurement, as the run folder records it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Score {
    pub accuracy: f64,
    /// Standard deviation of the accuracy over folds.
    pub std: f64,
    pub loss: f64,
    pub folds: usize,
}

impl From<C2st> for Score {
    fn from(c: C2st) -> Score {
        Score {
            accuracy: c.accuracy,
            std: c.std,
            loss: c.loss,
            folds: c.folds,
        }
    }
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} ± {:.2}", self.accuracy, self.std)
    }
}

impl Score {
    /// Lower is closer to the photos: accuracy first; the held-out loss breaks ties and still
    /// ranks when every accuracy is 1.0.
    pub fn key(&self) -> f64 {
        self.accuracy - 0.02 * self.loss.min(1.0)
    }

    /// Clearly closer to the photos than `other`: lower accuracy by two standard errors of the
    /// difference (each the spread over folds / √folds) and at least 0.03; when both saturate
    /// at 1.0, a clearly higher held-out loss.
    pub fn beats(&self, other: &Score) -> bool {
        if self.accuracy >= 0.98 && other.accuracy >= 0.98 {
            return self.loss > other.loss * 1.25 + 0.01;
        }
        let se2 = |s: &Score| s.std.powi(2) / s.folds.max(1) as f64;
        let se = (se2(self) + se2(other)).sqrt();
        self.accuracy < other.accuracy - (2.0 * se).max(0.03)
    }
}

impl Probe {
    /// Draws `PROBE_IMAGES` crops from `held` (photos kept from the discriminator, or all
    /// photos when there are too few to spare; `crop` draws a crop's side as a share of the
    /// photo's shorter side, the busiest of `tries` is kept) and takes `renders` (`channels`, `res`², at `scales`) as the
    /// synthetic side.
    pub fn new(
        held: &RealSet,
        disjoint: bool,
        (crop, tries): (impl Fn(&mut ChaCha8Rng) -> f64, usize),
        renders: SynthBatch,
        (channels, res, scales): (usize, usize, Scales),
        seed: u64,
    ) -> Probe {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (groups, crops): (Vec<usize>, Vec<Vec<f32>>) = (0..PROBE_IMAGES)
            .map(|_| held.crop_busiest(&mut rng, res as u32, &crop, channels, tries))
            .unzip();
        let features = Features::new(channels);
        let patches = patches(&crops, channels, res, seed);
        Probe {
            held: features.embed(&patches, res / 2),
            groups,
            features,
            objects: objects_of(&renders, channels, res),
            renders,
            scales,
            channels,
            res,
            disjoint,
        }
    }

    /// Number of held-out real crops (one patch of each is compared).
    pub fn held_out(&self) -> usize {
        self.held.len()
    }

    /// The raw renders, one CHW image each.
    pub fn raw(&self) -> Vec<Vec<f32>> {
        self.renders.split(self.channels * self.res * self.res)
    }

    /// The probe renders through `chain` (no gradients kept).
    pub fn apply(&self, chain: &Chain, device: &Device) -> Vec<Vec<f32>> {
        let (c, r) = (self.channels, self.res);
        let n = c * r * r;
        let mut out = Vec::with_capacity(self.renders.seeds.len());
        for (k, seeds) in self.renders.seeds.chunks(16).enumerate() {
            let first = k * 16;
            let b = seeds.len();
            let x = self.renders.images[first * n..(first + b) * n].to_vec();
            let alphas = &self.renders.alphas[first..first + b];
            let windows = &self.renders.windows[first..first + b];
            let (a, z) = batch_inputs(seeds, alphas, c, r, r, self.scales, Some(windows), device);
            let xt = Tensor::<4>::from_data(TensorData::new(x, [b, c, r, r]), device);
            let y = chain.forward(xt, a, &z, self.scales).image().detach();
            let v = crate::augment::model::values(y);
            out.extend(v.chunks(n).map(|s| s.to_vec()));
        }
        out
    }

    /// C2ST of `images` against the held-out real crops on the fixed features of one
    /// half-size patch of each; `thorough` (more folds) for the final verdict.
    pub fn score(&self, images: &[Vec<f32>], thorough: bool, seed: u64) -> Score {
        let folds = if thorough { FOLDS_FINAL } else { FOLDS_DURING };
        let f = self.features.embed(
            &patches(images, self.channels, self.res, PATCH_SEED),
            self.res / 2,
        );
        let held = Side {
            items: &self.held,
            groups: Some(&self.groups),
        };
        linear_c2st(held, Side::plain(&f), folds, seed).into()
    }

    /// How varied `images` are next to the held-out real crops: the median distance of an
    /// image's patch features to its 5th nearest neighbour over that of the real crops' (both
    /// standardised together). Far below the raw renders' figure means the chain makes its
    /// images alike (collapse).
    pub fn spread(&self, images: &[Vec<f32>]) -> f64 {
        use crate::eval::metrics::{knn_radii, median, standardise, K};
        let mut f = self.features.embed(
            &patches(images, self.channels, self.res, PATCH_SEED),
            self.res / 2,
        );
        let mut held = self.held.clone();
        let pooled: Vec<Vec<f32>> = held.iter().chain(&f).cloned().collect();
        standardise(&pooled, &mut [&mut held, &mut f]);
        median(knn_radii(&f, K)) / median(knn_radii(&held, K)).max(1e-9)
    }

    /// Label safety of `images` (the probe renders through a chain, in order): how much of each
    /// object's raw contrast with the ring just outside its mask they keep. `None` when no
    /// object has contrast enough to judge.
    pub fn safety(&self, images: &[Vec<f32>]) -> Option<LabelSafety> {
        let plane = self.res * self.res;
        let mut kept = Vec::new();
        for (k, (now, objects)) in images.iter().zip(&self.objects).enumerate() {
            let grey = chw_grey(now, self.channels, plane);
            for (raw, r) in objects {
                let after = r.contrast(&grey);
                kept.push((after as f64 / *raw as f64, format!("probe render {k}")));
            }
        }
        (!kept.is_empty()).then(|| LabelSafety::from_kept(&mut kept))
    }
}

/// Per render of `renders` (`c` channels, `res` × `res`), the objects label safety judges.
fn objects_of(renders: &SynthBatch, c: usize, res: usize) -> Vec<Vec<(f32, Region)>> {
    renders
        .split(c * res * res)
        .iter()
        .zip(&renders.ids)
        .map(|(image, ids)| judged_objects(image, ids, c, res))
        .collect()
}

/// The collapse alarms of a training run, each said once: a stage whose per-image value has
/// ~no spread over a batch, and a chain whose images are far less varied than the raw renders.
#[derive(Default)]
pub struct Collapse {
    said: Vec<String>,
    /// The first probe step at which the learned images were far more alike than the raw ones.
    pub spread_at: Option<u64>,
}

impl Collapse {
    /// New warnings for the batch statistics `st` and the probe images' spread (`learned`,
    /// against the raw renders' `raw`) at `step`.
    pub fn check(
        &mut self,
        st: &crate::augment::stages::StageStats,
        spread: Option<(f64, f64)>,
        step: u64,
    ) -> Vec<String> {
        use crate::eval::manifest_stats::{stage_collapse, Histogram};
        let f = |v: &[f32]| v.iter().map(|x| *x as f64).collect::<Vec<f64>>();
        let hs: Vec<Histogram> = st
            .per_image()
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| Histogram::new(n, &f(v)))
            .collect();
        let mut out: Vec<(String, String)> = stage_collapse(&hs)
            .into_iter()
            .map(|(name, w)| (name, format!("step {step}: {w}")))
            .collect();
        if let Some((learned, raw)) = spread {
            if learned < 0.5 * raw {
                self.spread_at.get_or_insert(step);
                out.push((
                    "spread".into(),
                    format!(
                        "step {step}: collapse: the learned images are far more alike than the raw renders (spread {learned:.2} vs {raw:.2} of the held-out photos'); coverage of the photos is falling; the run keeps its best checkpoint, but look at samples/ and consider fewer steps or a lower lr_g"
                    ),
                ));
            }
        }
        out.into_iter()
            .filter(|(k, _)| {
                let new = !self.said.contains(k);
                if new {
                    self.said.push(k.clone());
                }
                new
            })
            .map(|(_, w)| w)
            .collect()
    }
}

/// Seed of where the patch of each probe render lies (the same every time, so successive
/// probes compare the same patches).
const PATCH_SEED: u64 = crate::scene::seed::PROBE_PATCHES;

/// One square patch of half the side from each CHW image (`res` × `res`), at a random place.
/// The probe compares patches rather than whole crops: the stages change how things look, not
/// how a crop is laid out (content is the content check's business), and a few photos hold
/// many more distinct patches than distinct crops.
fn patches(images: &[Vec<f32>], c: usize, res: usize, seed: u64) -> Vec<Vec<f32>> {
    let p = res / 2;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    images
        .iter()
        .map(|img| {
            let (y0, x0) = (rng.gen_range(0..=res - p), rng.gen_range(0..=res - p));
            let mut out = Vec::with_capacity(c * p * p);
            for ch in 0..c {
                for y in y0..y0 + p {
                    let row = ch * res * res + y * res + x0;
                    out.extend_from_slice(&img[row..row + p]);
                }
            }
            out
        })
        .collect()
}

/// What the verdict concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Judgement {
    /// More like the photos, objects kept: `generate --augment` applies the chain.
    #[serde(rename = "helped")]
    Helped,
    #[serde(rename = "no better")]
    NoBetter,
    #[serde(rename = "worse")]
    Worse,
    /// More like the photos, but the objects the labels claim fade into their surroundings.
    #[serde(rename = "hides objects")]
    HidesObjects,
}

/// A chain measured on the probe: realism, and label safety.
pub struct Measured {
    pub score: Score,
    pub safety: Option<LabelSafety>,
}

/// How a training ended, as `run.json` records it and the last lines print it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// Raw renders against the held-out crops.
    pub raw: Score,
    /// The applied (best) checkpoint against the held-out crops.
    pub learned: Score,
    /// The step of the best checkpoint (0: the starting chain, nearly the raw renders).
    pub best_step: u64,
    pub outcome: Judgement,
    /// How the best checkpoint keeps the probe renders' objects (`None`: none to judge).
    #[serde(default)]
    pub label_safety: Option<LabelSafety>,
    /// The applied chain with one stage switched off, when learning did not help.
    pub without: Vec<(String, Score)>,
    /// The share of objects at risk with one stage switched off, when the chain hides objects.
    #[serde(default)]
    pub without_at_risk: Vec<(String, f64)>,
    /// Held-out real crops, and whether they came from photos the discriminator never saw.
    pub held_out: usize,
    pub disjoint: bool,
}

impl Verdict {
    /// Judges `learned` (checkpoint `best_step`) against `raw` on `probe`'s held-out crops;
    /// `ablate` measures the chain with one stage off and is called only when the chain is not
    /// handed over.
    pub fn judge(
        raw: Score,
        learned: Measured,
        best_step: u64,
        probe: &Probe,
        ablate: impl FnMut(Stage) -> Option<Measured>,
        stages: &[Stage],
    ) -> Verdict {
        Verdict::of(
            raw,
            learned,
            best_step,
            (probe.held_out(), probe.disjoint),
            ablate,
            stages,
        )
    }

    /// [`Verdict::judge`] given the number of held-out crops and whether they are disjoint.
    fn of(
        raw: Score,
        learned: Measured,
        best_step: u64,
        (held_out, disjoint): (usize, bool),
        mut ablate: impl FnMut(Stage) -> Option<Measured>,
        stages: &[Stage],
    ) -> Verdict {
        let hides = |m: &Option<LabelSafety>| m.as_ref().is_some_and(|s| s.share() > MAX_AT_RISK);
        let outcome = if learned.score.beats(&raw) {
            if hides(&learned.safety) {
                Judgement::HidesObjects
            } else {
                Judgement::Helped
            }
        } else if raw.beats(&learned.score) {
            Judgement::Worse
        } else {
            Judgement::NoBetter
        };
        let (mut without, mut without_at_risk) = (Vec::new(), Vec::new());
        if outcome != Judgement::Helped {
            for &s in stages {
                if let Some(m) = ablate(s) {
                    if outcome == Judgement::HidesObjects {
                        let share = m.safety.as_ref().map_or(0.0, LabelSafety::share);
                        without_at_risk.push((s.name().to_string(), share));
                    }
                    without.push((s.name().to_string(), m.score));
                }
            }
        }
        Verdict {
            raw,
            learned: learned.score,
            best_step,
            outcome,
            label_safety: learned.safety,
            without,
            without_at_risk,
            held_out,
            disjoint,
        }
    }

    /// Whether `generate --augment` applies the learned chain.
    pub fn helped(&self) -> bool {
        self.outcome == Judgement::Helped
    }

    /// The lines that end a training run. Long: one sentence per outcome and finding, in the
    /// order they are printed.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "realism on {} held-out real crops{} (a fresh classifier's accuracy telling them from the images: 0.5 = indistinguishable, 1.0 = trivially different): raw renders {}, learned {} (step {}); over {} folds, where the probes during training take {}, so the raw figure said at the start may differ by about its ±",
            self.held_out,
            if self.disjoint { "" } else { " (from the same photos the discriminator saw: too few photos to hold some out)" },
            self.raw,
            self.learned,
            self.best_step,
            self.raw.folds,
            FOLDS_DURING
        )];
        if let Some(s) = &self.label_safety {
            out.push(format!(
                "label safety on {} held-out renders: {} of {} objects keep under {:.0} % of their contrast with the ring just outside their mask after the learned stages (median kept {:.2}); more than {:.0} % and the chain is not applied",
                PROBE_IMAGES,
                s.at_risk,
                s.judged,
                100.0 * KEPT_CONTRAST,
                s.median_kept,
                100.0 * MAX_AT_RISK
            ));
        }
        let kept_aside = if self.best_step == 0 {
            "no probe after the start scored better than the starting chain; that chain is kept as generator_best.bpk".to_string()
        } else {
            format!(
                "the best learned weights, those of step {}, are kept as generator_best.bpk",
                self.best_step
            )
        };
        match self.outcome {
            Judgement::Helped => out.push(format!(
                "verdict: learning helped: the learned images look more like the photos than the raw renders and keep their objects; generate --augment applies the step-{} weights. This is realism, not a detector's gain (on bench/simreal it did not predict YOLO's AP): score a detector on labelled photos, or give eval --real-labels, before you rely on it",
                self.best_step
            )),
            Judgement::HidesObjects => {
                let share = self.label_safety.as_ref().map_or(0.0, LabelSafety::share);
                out.push(format!(
                    "verdict: learning brought the images closer to the photos but hides objects: {:.0} % of the objects the labels claim fade into their surroundings (blurred or painted over); generate --augment with this run leaves the renders as they are ({kept_aside}: copy it over generator.bpk to apply it anyway)",
                    100.0 * share
                ));
                let safe: Vec<&(String, f64)> = self
                    .without_at_risk
                    .iter()
                    .filter(|(_, r)| *r <= MAX_AT_RISK)
                    .collect();
                if safe.is_empty() {
                    let mut worst: Vec<&(String, f64)> = self.without_at_risk.iter().collect();
                    worst.sort_by(|a, b| a.1.total_cmp(&b.1));
                    let two: Vec<String> =
                        worst.iter().take(2).map(|(s, _)| format!("{s}: false")).collect();
                    out.push(format!(
                        "no single stage switched off keeps them (at risk without each: {}): switch off the first two (train.stages: {{{}}}), or move the camera closer so the objects are larger at the training resolution, and train again",
                        worst
                            .iter()
                            .map(|(s, r)| format!("{s} {:.0} %", 100.0 * r))
                            .collect::<Vec<_>>()
                            .join(", "),
                        two.join(", ")
                    ));
                } else {
                    let names: Vec<String> = safe
                        .iter()
                        .map(|(s, r)| format!("{s} ({:.0} % at risk without it)", 100.0 * r))
                        .collect();
                    out.push(format!(
                        "switching off {} keeps the objects: set train.stages: {{{}: false}} and train again",
                        names.join(" or "),
                        safe[0].0
                    ));
                }
            }
            outcome => {
                out.push(format!(
                    "verdict: learning did {}; generate --augment with this run leaves the renders as they are ({kept_aside}: copy it over generator.bpk to apply it anyway)",
                    if outcome == Judgement::Worse { "harm: the learned images look less like the photos than the raw renders" } else { "not help: the learned images look no more like the photos than the raw renders" },
                ));
                let helps: Vec<&(String, Score)> = self
                    .without
                    .iter()
                    .filter(|(_, s)| s.beats(&self.learned))
                    .collect();
                if helps.is_empty() {
                    out.push("no single stage is to blame (switching each off does not help): check the content warnings above, the crop size (train.real_crop) and whether the photos show what the config renders".into());
                } else {
                    let names: Vec<String> = helps
                        .iter()
                        .map(|(s, sc)| format!("{s} ({sc} without it)"))
                        .collect();
                    let keys: Vec<String> =
                        helps.iter().map(|(s, _)| format!("{s}: false")).collect();
                    out.push(format!(
                        "switching off {} brings the images closer to the photos: set train.stages: {{{}}} and train again",
                        names.join(", "),
                        keys.join(", ")
                    ));
                }
            }
        }
        out
    }
}

/// The best checkpoint so far: its step and held-out realism.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Best {
    pub step: u64,
    pub score: Score,
}

/// What a run learned about its own realism: `training.json` in the run folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// Raw renders against the held-out crops, measured before the first step.
    pub raw: Score,
    /// The checkpoint `generate --augment` applies.
    pub best: Best,
    /// The final comparison, once the run has reached its last step.
    pub verdict: Option<Verdict>,
}

impl Outcome {
    /// Reads `training.json` of a run folder.
    pub fn read(dir: &Path) -> anyhow::Result<Outcome> {
        let p = dir.join(OUTCOME);
        let text = std::fs::read_to_string(&p).with_context(|| {
            format!("cannot read {}; the run folder is incomplete", p.display())
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not a training outcome", p.display()))
    }

    /// Writes it atomically.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        write_atomic(
            &dir.join(OUTCOME),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(accuracy: f64, loss: f64) -> Score {
        Score {
            accuracy,
            std: 0.02,
            loss,
            folds: 4,
        }
    }

    /// A figure with `at_risk` of 20 objects kept at 0.1, the rest at 0.9.
    fn safety(at_risk: usize) -> Option<LabelSafety> {
        let mut kept: Vec<(f64, String)> = (0..20)
            .map(|i| {
                (
                    if i < at_risk { 0.1 } else { 0.9 },
                    format!("probe render {i}"),
                )
            })
            .collect();
        Some(LabelSafety::from_kept(&mut kept))
    }

    fn measured(accuracy: f64, at_risk: usize) -> Measured {
        Measured {
            score: s(accuracy, 0.3),
            safety: safety(at_risk),
        }
    }

    #[test]
    fn a_chain_that_hides_objects_is_not_handed_over_and_the_stage_to_blame_is_named() {
        let stages = [Stage::Blur, Stage::Noise];
        let v = Verdict::of(
            s(0.95, 0.2),
            measured(0.8, 10),
            300,
            (128, true),
            |stage| Some(measured(0.85, if stage == Stage::Blur { 0 } else { 10 })),
            &stages,
        );
        assert_eq!(v.outcome, Judgement::HidesObjects);
        assert!(!v.helped());
        let text = v.lines().join("\n");
        assert!(text.contains("10 of 20 objects"), "{text}");
        assert!(text.contains("hides objects"), "{text}");
        assert!(text.contains("set train.stages: {blur: false}"), "{text}");
        assert!(
            text.contains("those of step 300, are kept as generator_best.bpk"),
            "{text}"
        );
        // as safe as the threshold allows: handed over, and nothing ablated
        let v = Verdict::of(
            s(0.95, 0.2),
            measured(0.8, 2),
            300,
            (128, true),
            |_| panic!("a chain that helped is not ablated"),
            &stages,
        );
        assert_eq!(v.outcome, Judgement::Helped);
        // no single stage keeps them: says so with each stage's figure
        let v = Verdict::of(
            s(0.95, 0.2),
            measured(0.8, 10),
            300,
            (128, true),
            |stage| Some(measured(0.85, if stage == Stage::Blur { 8 } else { 4 })),
            &stages,
        );
        let text = v.lines().join("\n");
        assert!(text.contains("noise 20 %, blur 40 %"), "{text}");
        assert!(
            text.contains("train.stages: {noise: false, blur: false}"),
            "{text}"
        );
        // no better and hiding: the realism verdict speaks, no safety advice
        let v = Verdict::of(
            s(0.8, 0.3),
            measured(0.8, 10),
            0,
            (128, true),
            |_| Some(measured(0.8, 10)),
            &stages,
        );
        assert_eq!(v.outcome, Judgement::NoBetter);
        assert!(v.without_at_risk.is_empty());
        assert!(v
            .lines()
            .join(" ")
            .contains("that chain is kept as generator_best.bpk"));
        // the outcome reads and writes as before
        let json = serde_json::to_string(&v).unwrap();
        assert!(json.contains("\"outcome\":\"no better\""), "{json}");
    }

    /// Probe renders of two squares each on grey: 3 × 3 px (id 1) and 12 × 12 px (id 2).
    fn squares_probe(c: usize, r: usize, n: usize) -> Probe {
        let inside = |p: usize, x0: usize, side: usize| {
            let (x, y) = (p % r, p / r);
            (x0..x0 + side).contains(&x) && (8..8 + side).contains(&y)
        };
        let ids: Vec<u32> = (0..r * r)
            .map(|p| {
                if inside(p, 4, 3) {
                    1
                } else if inside(p, 14, 12) {
                    2
                } else {
                    0
                }
            })
            .collect();
        let plane: Vec<f32> = ids
            .iter()
            .map(|&i| if i > 0 { 0.6 } else { -0.4 })
            .collect();
        let image: Vec<f32> = (0..c).flat_map(|_| plane.clone()).collect();
        let alpha: Vec<f32> = ids.iter().map(|&i| (i > 0) as u8 as f32).collect();
        let renders = SynthBatch {
            images: (0..n).flat_map(|_| image.clone()).collect(),
            alphas: vec![alpha; n],
            ids: vec![ids; n],
            seeds: (0..n as u64).collect(),
            windows: vec![
                crate::augment::stages::Window {
                    y: 0,
                    x: 0,
                    frame: (r, r)
                };
                n
            ],
        };
        Probe {
            features: Features::new(c),
            held: Vec::new(),
            groups: Vec::new(),
            objects: objects_of(&renders, c, r),
            renders,
            scales: Scales::uniform(1.0),
            channels: c,
            res: r,
            disjoint: true,
        }
    }

    #[test]
    fn a_strong_blur_erases_small_objects_and_keeps_large_ones() {
        use crate::augment::stages::StageConfig;
        let device = Device::flex();
        let probe = squares_probe(3, 32, 4);
        let stages = StageConfig::default();
        let kept = probe.safety(&probe.apply(&Chain::identity(&stages, &device), &device));
        let kept = kept.expect("objects to judge");
        assert_eq!((kept.judged, kept.at_risk), (8, 0), "{kept:?}");
        assert!((kept.min_kept - 1.0).abs() < 1e-3, "{kept:?}");
        let blurred = probe.apply(&Chain::blurring(&stages, 2.9, &device), &device);
        let lost = probe.safety(&blurred).unwrap();
        eprintln!("{lost:?}");
        assert_eq!(lost.at_risk, 4, "the four small squares: {lost:?}");
        assert!(
            lost.median_kept > KEPT_CONTRAST,
            "the large squares: {lost:?}"
        );
    }

    #[test]
    fn saturated_scores_rank_by_loss_and_close_ones_do_not_beat() {
        assert!(s(0.7, 0.6).beats(&s(0.9, 0.3)));
        assert!(!s(0.89, 0.3).beats(&s(0.9, 0.3)));
        assert!(s(1.0, 0.2).beats(&s(1.0, 0.05)));
        assert!(!s(1.0, 0.05).beats(&s(1.0, 0.045)));
        assert!(s(0.7, 0.6).key() < s(0.9, 0.3).key());
        assert!(s(1.0, 0.2).key() < s(1.0, 0.05).key());
    }
}
