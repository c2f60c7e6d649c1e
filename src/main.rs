//! The `rendergan` binary. Exit codes: 0 success, 1 a run failed (device, disk, ...),
//! 2 bad input (config, flags): the message names the file, field or flag and the fix.

use std::process::ExitCode;

use clap::Parser;

/// glibc's allocator gives blocks over 128 KiB pages of their own and hands free pages at the
/// heap's top back to the system; a 256² image's buffers (the chain's planes and noise, about
/// 2.5 MB an image) were then faulted in anew for every image, a third of `--augment`'s time
/// (measured: the chain 3.4 → 2.1 ms an image on one thread). Kept instead: blocks up to 64 MiB
/// come from the heap, and it is trimmed only past 256 MiB free.
fn keep_freed_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of the allocator's thresholds, before any thread starts
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

/// Output piped into a reader that stops early (`rendergan validate -c x.yaml | head -1`) ends
/// the process quietly, as for other command-line tools, instead of a panic on the failed
/// print: Rust ignores SIGPIPE by default, so every write to the closed pipe would fail.
fn die_on_closed_pipe() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: restores the default action of one signal, before any thread starts
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    keep_freed_pages();
    die_on_closed_pipe();
    let cli = rendergan::cli::Cli::parse();
    match rendergan::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rendergan: {err:#}");
            ExitCode::from(rendergan::cli::exit_code(&err))
        }
    }
}
