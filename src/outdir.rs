//! The output folder of a run: checks before anything is rendered (a named folder that is not
//! the working folder, kept unless `--overwrite`), the swap of a finished dataset into place
//! through hidden sibling folders, and the recovery of what a killed run left there. It does
//! not know what a dataset holds.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::InputError;

/// Checks the output folder before anything is rendered: it must be a folder that can be
/// swapped into place (a named folder that does not hold the working folder), and an existing
/// non-empty folder is kept unless `--overwrite` was given.
pub fn check_output(dir: &Path, overwrite: bool) -> Result<()> {
    check_folder(
        dir,
        overwrite,
        "--resume if it is this run's (finished or not), or -o to write elsewhere",
    )
}

/// [`check_output`] for `merge`'s OUT, whose message names what merge takes.
pub fn check_merge_output(dir: &Path, overwrite: bool) -> Result<()> {
    check_folder(dir, overwrite, "or give merge another OUT folder")
}

/// [`check_output`], `elsewhere` saying in the message what else the command can do.
fn check_folder(dir: &Path, overwrite: bool, elsewhere: &str) -> Result<()> {
    let unusable = |why: String| -> anyhow::Error { InputError(why).into() };
    if dir.file_name().is_none() {
        // "", ".", "..", "/", "a/..": the finished dataset is renamed into place, which needs a
        // folder of its own
        return Err(unusable(format!(
            "output folder {:?} (output.dir or -o) does not end in a folder name: the dataset is \
             written to a folder of its own and moved into place when complete; give one, e.g. -o \
             output/dataset",
            dir.display().to_string()
        )));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(unusable(format!(
            "output path {} (output.dir or -o) exists and is not a folder; pass -o with another path",
            dir.display()
        )));
    }
    recover(dir)?;
    if let (Ok(d), Ok(cwd)) = (
        dir.canonicalize(),
        std::env::current_dir().and_then(|c| c.canonicalize()),
    ) {
        if cwd.starts_with(&d) {
            return Err(unusable(format!(
                "output folder {} (output.dir or -o) holds the current working folder {}, so it \
                 cannot be replaced; write to a folder below it, e.g. -o {}",
                dir.display(),
                cwd.display(),
                dir.join("dataset").display()
            )));
        }
    }
    let non_empty = dir.is_dir()
        && std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the output folder {}", dir.display()))?
            .next()
            .is_some();
    if non_empty && !overwrite {
        return Err(unusable(format!(
            "output folder {} already holds files; pass --overwrite to replace it (it is swapped only \
             after the new run completes), {elsewhere}",
            dir.display()
        )));
    }
    Ok(())
}

/// Creates folder `dir` of the output (`-o`'s parent, or the run's hidden folder); a folder this
/// user cannot write there (no permission, a read-only mount, a file in the way, a file system
/// that holds no folders of its own such as /proc) is bad input (exit 2) that names the folder.
pub fn create_output_folder(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        use std::io::ErrorKind::*;
        let why = format!(
            "cannot create {} for the output (output.dir or -o): {e}",
            dir.display()
        );
        if matches!(
            e.kind(),
            PermissionDenied | ReadOnlyFilesystem | NotADirectory | AlreadyExists | NotFound
        ) {
            InputError(format!("{why}; pass -o with a folder you can write")).into()
        } else {
            anyhow::anyhow!(why)
        }
    })
}

/// The hidden folders a run keeps beside its output folder `OUT`: `.OUT.partial-PID` while it
/// writes, `.OUT.complete-PID` once the dataset is whole, `.OUT.old-PID` for the replaced
/// dataset between the two renames of the swap. A run killed at any moment leaves only these,
/// and the next run on `OUT` finishes or clears them ([`recover`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sibling {
    Complete,
    Old,
    Partial,
}

impl Sibling {
    fn tag(self) -> &'static str {
        match self {
            Sibling::Complete => "complete",
            Sibling::Old => "old",
            Sibling::Partial => "partial",
        }
    }
}

/// The folder `dir` lies in (`.` for a bare name).
pub fn parent_of(dir: &Path) -> &Path {
    dir.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The hidden sibling of kind `kind` that process `pid` uses for `final_dir`.
pub fn sibling(final_dir: &Path, kind: Sibling, pid: u32) -> PathBuf {
    let name = final_dir.file_name().unwrap_or_default().to_string_lossy();
    final_dir.with_file_name(format!(".{name}.{}-{pid}", kind.tag()))
}

/// Whether process `pid` may still be running: on Linux it is whether /proc has it and it is not
/// a zombie (a process killed whose parent has not reaped it yet, as `timeout -s KILL` leaves
/// it); where that cannot be told, every process counts as running, so nothing of it is touched.
fn alive(pid: u32) -> bool {
    if pid == std::process::id() || !Path::new("/proc/self").is_dir() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // the state follows the command's closing parenthesis
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
        Err(_) => Path::new(&format!("/proc/{pid}")).exists(),
    }
}

/// Moves aside an unfinished dataset named with this process's own id, found before this
/// process made one: a stopped process with the same id left it (a container's process ids
/// start again at 1, so a retried Kubernetes pod has its predecessor's). It gets an id no process
/// has (0, then from `u32::MAX` down), so [`stale_partials`] finds it for `--resume`. Returns
/// where it went. Only one process may write an output folder at a time: a predecessor still
/// running under the same id in another namespace (a pod replaced before it ended) is not told
/// apart (docs/clusters.md).
pub fn set_aside_own_partial(final_dir: &Path) -> Result<Option<PathBuf>> {
    let own = sibling(final_dir, Sibling::Partial, std::process::id());
    if !own.exists() {
        return Ok(None);
    }
    if !Path::new("/proc/self").is_dir() {
        // where stopped processes cannot be told, nothing would ever resume or clear it
        std::fs::remove_dir_all(&own)
            .with_context(|| format!("cannot remove {}", own.display()))?;
        return Ok(None);
    }
    let free = std::iter::once(0)
        .chain((0..1000).map(|k| u32::MAX - k))
        .map(|id| sibling(final_dir, Sibling::Partial, id))
        .find(|p| !p.exists())
        .context("no free name to set an unfinished dataset aside under")?;
    std::fs::rename(&own, &free).with_context(|| {
        format!(
            "cannot move the unfinished dataset {} of a stopped process with this process's id aside to {}",
            own.display(),
            free.display()
        )
    })?;
    Ok(Some(free))
}

/// The hidden folders beside `final_dir` left by runs that are no longer running, by kind;
/// with `own_gone`, before this process has made any, those under its own id too (a stopped
/// process with the same id left them: a retried pod in a fresh PID namespace).
fn stale_siblings(final_dir: &Path, own_gone: bool) -> Vec<(Sibling, u32, PathBuf)> {
    let name = final_dir.file_name().unwrap_or_default().to_string_lossy();
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(parent_of(final_dir)) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        for kind in [Sibling::Complete, Sibling::Old, Sibling::Partial] {
            let pid = rest
                .strip_prefix(kind.tag())
                .and_then(|r| r.strip_prefix('-'))
                .and_then(|r| r.parse::<u32>().ok());
            if let Some(pid) = pid {
                let gone = (own_gone && pid == std::process::id()) || !alive(pid);
                if gone && e.path().is_dir() {
                    found.push((kind, pid, e.path()));
                }
            }
        }
    }
    found.sort();
    found
}

/// Finishes what runs killed on `final_dir` left in their swap (see [`Sibling`]), and says what
/// it did: a complete dataset that was not yet swapped in is swapped in (that run was allowed to
/// replace the folder), and a replaced dataset whose swap finished is deleted (or put back if
/// the folder is missing). Unfinished datasets are left for `--resume` ([`stale_partials`]);
/// a run that completes removes them ([`remove_stale_partials`]).
pub fn recover(final_dir: &Path) -> Result<()> {
    // called before this process makes a sibling of its own: one under its id is a stopped
    // process's
    for (kind, pid, path) in stale_siblings(final_dir, true) {
        let say = |what: &str| {
            eprintln!(
                "rendergan: {what} ({} of process {pid}, which is no longer running)",
                path.display()
            )
        };
        match kind {
            Sibling::Complete => {
                swap_in(&path, final_dir, pid)
                    .context("cannot finish the swap a stopped run began")?;
                say(&format!(
                    "finished the swap a stopped run began: {} now holds the dataset it completed",
                    final_dir.display()
                ));
            }
            Sibling::Old if !final_dir.exists() => {
                std::fs::rename(&path, final_dir).with_context(|| {
                    format!(
                        "cannot put the dataset of {} back from {}",
                        final_dir.display(),
                        path.display()
                    )
                })?;
                say(&format!(
                    "put the earlier dataset back into {}",
                    final_dir.display()
                ));
            }
            Sibling::Old => {
                std::fs::remove_dir_all(&path).with_context(|| {
                    format!(
                        "cannot remove {}, left by a stopped run; remove it by hand",
                        path.display()
                    )
                })?;
                say("removed a replaced dataset");
            }
            Sibling::Partial => {}
        }
    }
    Ok(())
}

/// The unfinished datasets (`.OUT.partial-PID`) that stopped runs left beside `final_dir`, with
/// their process ids.
pub fn stale_partials(final_dir: &Path) -> Vec<(u32, PathBuf)> {
    stale_siblings(final_dir, false)
        .into_iter()
        .filter(|(k, ..)| *k == Sibling::Partial)
        .map(|(_, pid, p)| (pid, p))
        .collect()
}

/// Removes the unfinished datasets of stopped runs beside `final_dir` (once a run on it has
/// completed, nothing can resume them), and says so.
pub fn remove_stale_partials(final_dir: &Path) -> Result<()> {
    for (pid, path) in stale_partials(final_dir) {
        std::fs::remove_dir_all(&path).with_context(|| {
            format!(
                "cannot remove {}, left by a stopped run; remove it by hand",
                path.display()
            )
        })?;
        eprintln!(
            "rendergan: removed an unfinished dataset ({} of process {pid}, which is no longer \
             running)",
            path.display()
        );
    }
    Ok(())
}

/// Moves the finished dataset in `work` to `final_dir`: first renamed to its complete name, then
/// [`swap_in`]. Every error says where the data is.
pub fn swap_into_place(work: &Path, final_dir: &Path, pid: u32) -> Result<()> {
    let complete = sibling(final_dir, Sibling::Complete, pid);
    std::fs::rename(work, &complete).with_context(|| {
        format!(
            "cannot rename the finished dataset {} to {}",
            work.display(),
            complete.display()
        )
    })?;
    swap_in(&complete, final_dir, pid)
}

/// Puts the complete dataset `complete` in place of `final_dir`: the old folder aside (as
/// process `pid`'s old sibling), the new one in, the old one deleted.
fn swap_in(complete: &Path, final_dir: &Path, pid: u32) -> Result<()> {
    let old = sibling(final_dir, Sibling::Old, pid);
    if final_dir.exists() {
        std::fs::rename(final_dir, &old).with_context(|| {
            format!(
                "cannot move the old {} aside to {}; the finished dataset is in {}",
                final_dir.display(),
                old.display(),
                complete.display()
            )
        })?;
    }
    std::fs::rename(complete, final_dir).with_context(|| {
        format!(
            "cannot move the finished dataset from {} to {}{}",
            complete.display(),
            final_dir.display(),
            if old.exists() {
                format!("; the old one is in {}", old.display())
            } else {
                String::new()
            }
        )
    })?;
    if old.exists() {
        std::fs::remove_dir_all(&old).with_context(|| {
            format!(
                "the new dataset is in {}, but the old one in {} could not be removed",
                final_dir.display(),
                old.display()
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_unreaped_process_is_not_running() {
        if !Path::new("/proc/self").is_dir() {
            return; // where /proc cannot tell, every process counts as running
        }
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // not waited for: once it exits it is a zombie until reaped
        let t = std::time::Instant::now();
        while alive(pid) && t.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!alive(pid), "an exited, unreaped process counts as running");
        child.wait().unwrap();
        assert!(alive(std::process::id()));
    }

    #[test]
    fn an_unfinished_dataset_under_this_process_id_is_set_aside_for_resume() {
        // a retried pod gets its predecessor's process id in a fresh namespace
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        assert_eq!(set_aside_own_partial(&out).unwrap(), None);
        let own = sibling(&out, Sibling::Partial, std::process::id());
        std::fs::create_dir_all(own.join("images")).unwrap();
        let moved = set_aside_own_partial(&out).unwrap().expect("set aside");
        assert!(!own.exists() && moved.join("images").is_dir());
        assert_eq!(moved, sibling(&out, Sibling::Partial, 0));
        if Path::new("/proc/self").is_dir() {
            assert_eq!(stale_partials(&out), vec![(0, moved.clone())]);
        }
        // a complete dataset under this id, not yet swapped in, is finished before any work
        let complete = sibling(&out, Sibling::Complete, std::process::id());
        std::fs::create_dir_all(complete.join("images")).unwrap();
        recover(&out).unwrap();
        assert!(!complete.exists() && out.join("images").is_dir());
        // a second one goes beside it
        std::fs::create_dir_all(&own).unwrap();
        let again = set_aside_own_partial(&out).unwrap().expect("set aside");
        assert_eq!(again, sibling(&out, Sibling::Partial, u32::MAX));
    }
}
