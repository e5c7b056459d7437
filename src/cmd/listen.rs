//! `wspipe listen`: a WebSocket server.

use crate::cli::{GlobalArgs, ListenArgs};

pub async fn run(_args: ListenArgs, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("listen is not implemented yet")
}
