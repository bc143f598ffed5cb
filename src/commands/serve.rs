//! `noa serve` (placeholder: being built).

use super::{Context, Outcome};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

pub fn run(_args: ServeArgs, _ctx: &Context) -> anyhow::Result<Outcome> {
    anyhow::bail!("`noa serve` is not built yet")
}
