//! The `rendergan` binary. Exit codes: 0 success, 1 a run failed (device, disk, ...),
//! 2 bad input (config, flags): the message names the file, field or flag and the fix.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rendergan::cli::Cli::parse();
    match rendergan::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rendergan: {err:#}");
            ExitCode::from(rendergan::cli::exit_code(&err))
        }
    }
}
