//! `noa speed` (placeholder: being built).

use super::{Context, Outcome};

#[derive(Debug, clap::Args)]
pub struct SpeedArgs {}

pub fn run(_args: SpeedArgs, _ctx: &Context) -> anyhow::Result<Outcome> {
    anyhow::bail!("`noa speed` is not built yet")
}
