//! `noa models` (placeholder: being built).

use super::{Context, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// Placeholder until this command is built.
    List,
}

pub fn run(_args: ModelsCommand, _ctx: &Context) -> anyhow::Result<Outcome> {
    anyhow::bail!("`noa models` is not built yet")
}
