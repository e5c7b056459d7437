//! wspipe as a library: the binary is a thin wrapper over [`run`], and tests use the
//! clap definitions (completions and man page freshness) from here.

/// std's `eprintln!` panics when stderr is closed (`wspipe ... 2>&1 | head -1`);
/// this one, which shadows it in every module below, drops the line instead, as a
/// closed stdout ends the run quietly.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod chat_wire;
pub mod cli;
pub mod cmd;
pub mod conn;
pub mod exit;
pub mod expect;
pub mod record;
pub mod ui;

use crate::exit::{Exit, exit_code_of, is_broken_pipe};

/// Runs a parsed command line to its end and returns the process exit code,
/// having printed the one-line error (if any) on stderr.
pub fn run(cli: cli::Cli) -> Exit {
    conn::tls::install_crypto_provider();
    let stderr_style = ui::style::Style::for_stderr(cli.global.color);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return Exit::Failure;
        }
    };
    let result = runtime.block_on(cmd::run(cli));
    // Threads blocked on stdin must not keep the process alive.
    runtime.shutdown_background();
    match result {
        Ok(()) => Exit::Success,
        Err(err) if is_broken_pipe(&err) => Exit::Success,
        Err(err) => {
            let code = exit_code_of(&err);
            if code != Exit::Interrupted {
                eprintln!("{} {err:#}", stderr_style.error("error:"));
            }
            code
        }
    }
}
