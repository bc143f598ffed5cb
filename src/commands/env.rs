//! `noa env`: every environment variable noa reads, which commands read it and what it
//! sets, printed from the one list in `noa_registry::env_vars` so that `--help` can
//! point here instead of repeating every name. Values are never printed (one of them
//! is a token); only whether each is set.

use std::io::Write;

use noa_registry::env_vars::{self, EnvVar};
use serde_json::json;

use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct EnvArgs {
    /// Print JSON (an array of `{name, read_by, doc, set}`).
    #[arg(long)]
    pub json: bool,
    /// Print the Markdown table the README's "Environment variables" section holds.
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
}

pub fn run(args: EnvArgs) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    if args.markdown {
        out.write_all(env_vars::markdown().as_bytes())?;
    } else if args.json {
        let rows: Vec<_> = env_vars::ALL.iter().map(row).collect();
        super::write_json(&mut out, &rows)?;
    } else {
        for v in env_vars::ALL {
            let set = if is_set(v) { "  (set)" } else { "" };
            writeln!(out, "{}  [{}]{set}", v.name, v.read_by)?;
            writeln!(out, "    {}", v.summary())?;
        }
    }
    Ok(Outcome::Success)
}

/// One variable as JSON.
fn row(v: &EnvVar) -> serde_json::Value {
    json!({"name": v.name, "read_by": v.read_by, "doc": v.summary(), "set": is_set(v)})
}

/// Whether the variable is set to something non-empty in this process.
fn is_set(v: &EnvVar) -> bool {
    std::env::var_os(v.name).is_some_and(|s| !s.is_empty())
}
