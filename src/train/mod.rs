//! `rendergan train`: learns the augmentation stages adversarially against a folder of the
//! user's unlabeled photos. `synth` renders the synthetic side,
//! `discriminator` and `diffaug` are the discriminator and its augmentation, `keep` charges the chain for
//! objects it fades, `probe` measures held-out realism and judges the run, `samples` draws the sample grids, `gan` is the loop (the run folder's format is
//! `dataset::run_folder`). Only this
//! module, `augment` and `eval` touch burn.

pub mod device;
pub mod diffaug;
pub mod discriminator;
pub mod ema;
pub mod gan;
pub mod keep;
pub mod probe;
pub mod samples;
pub mod synth;

pub use device::{learning_device, LearnOn};
pub use gan::{train, TrainOptions};
