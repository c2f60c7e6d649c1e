//! Folder walks: every file under a folder (sorted, links followed, with limits on entries and
//! depth), and the image files among them.

use std::path::{Path, PathBuf};

/// The most entries (files and folders) a folder walk visits, and the deepest it goes: far more
/// than any image folder, and a stop for a walk given `/` by mistake.
pub const MAX_WALK_ENTRIES: usize = 200_000;
pub const MAX_WALK_DEPTH: usize = 16;

/// Every file under `dir`, walked recursively (links followed), sorted so runs are
/// reproducible; an error when the walk passes [`MAX_WALK_ENTRIES`] or [`MAX_WALK_DEPTH`].
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .max_depth(MAX_WALK_DEPTH);
    for (n, e) in walk.into_iter().filter_map(Result::ok).enumerate() {
        if n >= MAX_WALK_ENTRIES {
            return Err(format!(
                "{} holds more than {MAX_WALK_ENTRIES} files and folders; give the folder that \
                 holds the images",
                dir.display()
            ));
        }
        if e.file_type().is_dir() && e.depth() == MAX_WALK_DEPTH {
            return Err(format!(
                "{} has folders nested more than {MAX_WALK_DEPTH} levels deep (e.g. {}); give \
                 the folder that holds the images",
                dir.display(),
                e.path().display()
            ));
        }
        if e.file_type().is_file() {
            files.push(e.into_path());
        }
    }
    files.sort();
    Ok(files)
}

/// True when `path` has an image extension the `image` crate reads.
pub fn is_image_path(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("png" | "jpg" | "jpeg" | "bmp" | "tif" | "tiff" | "webp")
    )
}

/// Image files under `dir` (see [`files_under`]).
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    Ok(files_under(dir)?
        .into_iter()
        .filter(|f| is_image_path(f))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_stop_at_the_depth_limit_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut deep = dir.path().to_path_buf();
        for i in 0..MAX_WALK_DEPTH - 1 {
            deep.push(format!("d{i}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("a.png"), b"x").unwrap();
        assert_eq!(image_files(dir.path()).unwrap(), [deep.join("a.png")]);
        std::fs::create_dir(deep.join("one_more")).unwrap();
        let err = image_files(dir.path()).unwrap_err();
        assert!(err.contains("nested more than 16 levels"), "{err}");
    }
}
