//! wspipe: a command-line WebSocket tool. Parses, runs, exits with the code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = wspipe::cli::parse();
    ExitCode::from(wspipe::run(cli) as u8)
}
