//! The CPU pixel floor: image folders (walks with limits), decoding photos, the background drawn
//! under a render and the compositing, the set of real photos training and `realism` crop from,
//! and RGB8 ↔ CHW float conversion. It imports nothing else of the crate; dataset, augment,
//! train and eval build on it.

pub mod chw;
pub mod composite;
pub mod folder;
pub mod load;
pub mod photos;

/// What goes wrong on this floor.
#[derive(Debug, thiserror::Error)]
pub enum PixelsError {
    /// A folder the user named (a flag, a config field) that cannot be used: bad input.
    #[error("{0}")]
    Unusable(String),
}
