//! `rendergan train`: learns the augmentation stages adversarially against a folder of the
//! user's unlabeled photos. `data` loads real crops, `run` owns the run folder, `gan` is the loop.
//! Only this module and `augment` touch burn.

pub mod data;
pub mod ema;
pub mod gan;
pub mod run;

pub use gan::{train, TrainOptions};
