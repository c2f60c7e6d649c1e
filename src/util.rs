//! Small helpers shared by several stages.

use std::path::{Path, PathBuf};

/// Image files under `dir`, walked recursively, sorted so runs are reproducible.
pub fn image_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && crate::dataset::image_io::is_image_path(e.path()))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}
