//! `noa route` (placeholder: being built).

use super::{Context, Outcome};

#[derive(Debug, clap::Args)]
pub struct RouteArgs {}

pub fn run(_args: RouteArgs, _ctx: &Context) -> anyhow::Result<Outcome> {
    anyhow::bail!("`noa route` is not built yet")
}
