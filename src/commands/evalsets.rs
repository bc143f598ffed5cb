//! `noa evalsets` (placeholder: being built).

use super::{Context, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum EvalsetsCommand {
    /// Placeholder until this command is built.
    List,
}

pub fn run(_args: EvalsetsCommand, _ctx: &Context) -> anyhow::Result<Outcome> {
    anyhow::bail!("`noa evalsets` is not built yet")
}
