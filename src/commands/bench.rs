//! `noa bench` (placeholder: being built).

use super::{Context, Outcome};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

pub fn run(_args: BenchArgs, _ctx: &Context) -> anyhow::Result<Outcome> {
    anyhow::bail!("`noa bench` is not built yet")
}
