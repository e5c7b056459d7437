//! wspipe: a command-line WebSocket tool. Parses, runs, maps the result to an exit code.

mod cli;
mod cmd;
mod conn;
mod exit;
mod expect;
mod record;

use std::process::ExitCode;

use clap::Parser;

use crate::exit::{Exit, exit_code_of, is_broken_pipe};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    conn::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(Exit::Failure as u8);
        }
    };
    let result = runtime.block_on(cmd::run(cli));
    // Threads blocked on stdin must not keep the process alive.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let code = exit_code_of(&err);
            if code != Exit::Interrupted {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(code as u8)
        }
    }
}
