//! Every random stream of the tool, named in one place. Image i of a run draws from
//! `image(seed, i)` alone; the other streams are salts mixed with a seed, so no two uses share
//! numbers and a change to one never moves another. Changing a value here changes outputs.

/// Mixes two 64-bit numbers into a well-spread seed (splitmix64 finaliser).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b
        .wrapping_add(0x9E37_79B9_7F4A_7C15)
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of image `index` of a run.
pub fn image_seed(run_seed: u64, index: u64) -> u64 {
    mix(run_seed, index)
}

/// Which split image `index` belongs to: a pure function of (seed, index, fraction).
pub fn is_val(run_seed: u64, index: u64, val_fraction: f64) -> bool {
    let u = (mix(run_seed ^ SPLIT, index) >> 11) as f64 / (1u64 << 53) as f64;
    u < val_fraction
}

/// Salt of the train/val split (xor-ed into the run seed).
pub const SPLIT: u64 = 0x5EED_5EED_5EED_5EED;
/// Salt of an image's learned-augmentation noise (mixed with the image's seed).
pub const AUGMENT_NOISE: u64 = 0xA06_A06;
/// Scene streams of training batches and of the probe's renders (mixed with the run seed, so
/// they are apart from any dataset's images).
pub const TRAIN_SCENES: u64 = 0x7EA1_7EA1;
pub const PROBE_SCENES: u64 = 0x9B0B_E001;
/// Per-step randomness of training: real crops, history picks, DiffAugment (xor-ed into the run
/// seed, then mixed with the step).
pub const TRAIN_STEP: u64 = 0x5EA1;
/// The real crops of the content check before step 1 (mixed with the run seed).
pub const CONTENT_CROPS: u64 = 0xC0_7E47;
/// Where training cuts its crop from a render made at the output's size.
pub const CROP_WINDOW: u64 = 0xC409_3140;
/// The final, 8-fold probe of a run's verdict (xor-ed into the run seed).
pub const VERDICT: u64 = 0xF1A1;
/// The probe's patch positions.
pub const PROBE_PATCHES: u64 = 0x9A7C;
/// The fixed random convolution of the realism features, and their patch draws (xor-ed).
pub const FEATURE_EMBEDDING: u64 = 0x5EED_FEA7;
pub const FEATURE_PATCHES: u64 = 0x11_EA2;
/// The C2ST's fold shuffles (xor-ed into its seed).
pub const C2ST_FOLDS: u64 = 0xF01D;
/// `emphasis:`: the plain scenes its tails are fitted on (mixed with the scene number), an
/// image's further candidates (xor-ed into its seed, mixed with the candidate number) and its
/// accept draws (mixed with its seed).
pub const EMPHASIS_PILOT: u64 = 0xE3F4_A515;
pub const EMPHASIS_DRAW: u64 = 0xE3F4_D4A3;
pub const EMPHASIS_ACCEPT: u64 = 0xE3F4_ACC7;
/// `rendergan fit`: the scenes every candidate is judged on, the held-out scenes of its
/// before/after check and report (mixed with the run seed), and the photo crops and search
/// draws (xor-ed into `--seed`).
pub const FIT_SCENES: u64 = 0xF17_5CE0;
pub const FIT_HELD: u64 = 0xF17_4E1D;
pub const FIT_CROPS: u64 = 0xF17_C409;
pub const FIT_SEARCH: u64 = 0xF17_5EA2;
