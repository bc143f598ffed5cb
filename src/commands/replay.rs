//! `noa replay` (placeholder: being built).

use super::{Context, Outcome};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {}

pub fn run(_args: ReplayArgs, _ctx: &Context) -> anyhow::Result<Outcome> {
    anyhow::bail!("`noa replay` is not built yet")
}
