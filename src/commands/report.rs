//! `noa report` (placeholder: being built).

use super::{Context, Outcome};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {}

pub fn run(_args: ReportArgs, _ctx: &Context) -> anyhow::Result<Outcome> {
    anyhow::bail!("`noa report` is not built yet")
}
