//! `wspipe chat`: a chat client.

use crate::cli::{ChatArgs, GlobalArgs};

pub async fn run(_args: ChatArgs, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("chat is not implemented yet")
}
