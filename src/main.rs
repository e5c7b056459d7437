//! wspipe: a command-line WebSocket tool. Parses, runs, exits with the code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = wspipe::cli::Cli::parse();
    ExitCode::from(wspipe::run(cli) as u8)
}
