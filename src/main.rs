//! The `rendergan` binary. Exit codes: 0 success, 1 a run failed (device, disk, ...),
//! 2 bad input (config, flags): the message names the file, field or flag and the fix.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Mesa's Vulkan loader probes Wayland and prints an error when this is unset, as it is on
    // headless machines; nothing here uses a display, so any folder will do.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    let cli = rendergan::cli::Cli::parse();
    match rendergan::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rendergan: {err:#}");
            ExitCode::from(rendergan::cli::exit_code(&err))
        }
    }
}
