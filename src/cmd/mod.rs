//! The commands: each a short composition of `conn`, `record` and `ui`.

mod chat;
mod completions;
mod connect;
mod listen;
mod pipe;
mod send;

use crate::cli::{Cli, Command};

/// Runs the command the user asked for.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Connect(args) => connect::run(args, &global).await,
        Command::Send(args) => send::run(args, &global).await,
        Command::Listen(args) => listen::run(args, &global).await,
        Command::Chat(args) => chat::run(args, &global).await,
        Command::Completions(args) => completions::run(&args),
    }
}
