//! `noa replay`: score every routing policy offline on the per-item outcomes `noa
//! bench` recorded, where each simulated request reveals only the chosen model's
//! outcome. Prints a table and writes `NOA_HOME/router/replay.json` for the report.

use std::io::Write;

use anyhow::Context as _;
use noa_registry::RegistryStore;
use noa_registry::runs::REPLAY_FILE;
use noa_router::PolicyKind;
use noa_router::replay::{Priors, ReplayError, ReplayOptions, load_items, replay};

use super::{Context, Outcome, UserError};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Run ids to replay (comma-separated; default: every run under `NOA_HOME/runs`).
    #[arg(long, env = "NOA_RUNS", value_delimiter = ',')]
    pub runs: Vec<String>,
    /// Number of seeds (orders of the simulated requests) to average over.
    #[arg(long, env = "NOA_REPLAY_SEEDS", default_value_t = 5)]
    pub seeds: u64,
    /// Simulated requests per seed (default: three passes over the items).
    #[arg(long, env = "NOA_REPLAY_REQUESTS")]
    pub requests: Option<u64>,
    /// Policies to evaluate (default: all).
    #[arg(long, env = "NOA_REPLAY_POLICIES", value_delimiter = ',')]
    pub policies: Vec<PolicyKind>,
    /// Start the policies from the registry's measured scores (`registry`) or from
    /// declared values only (`declared`, so they must learn from the replay).
    #[arg(long, env = "NOA_REPLAY_PRIORS", default_value = "registry", value_parser = ["registry", "declared"])]
    pub priors: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ReplayArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let registry = RegistryStore::open(&ctx.home).load().context("reading the model registry")?;
    let (runs, items) = match load_items(&ctx.home.runs_dir(), &args.runs) {
        Ok(v) => v,
        Err(e @ (ReplayError::NoItems(_) | ReplayError::UnknownRun(_))) => {
            return Err(UserError::new(e.to_string())
                .hint("run `noa bench` first, or pass `--runs` with existing run ids")
                .into());
        }
        Err(e) => return Err(e.into()),
    };
    let opts = ReplayOptions {
        seeds: (1..=args.seeds.max(1)).collect(),
        requests: args.requests,
        policies: if args.policies.is_empty() { PolicyKind::ALL.to_vec() } else { args.policies },
        priors: if args.priors == "declared" { Priors::Declared } else { Priors::Registry },
    };
    let report = replay(&registry, runs, &items, &opts)?;
    let dir = ctx.home.router_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let path = dir.join(REPLAY_FILE);
    let tmp = dir.join(format!("{REPLAY_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing `{}`", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing `{}`", path.display()))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} items from {} run(s), {} requests x {} seeds; regret is cumulative (sum of score lost)",
            items.len(),
            report.runs.len(),
            report.requests,
            report.seeds.len()
        )?;
        writeln!(
            out,
            "{:<12} {:>8} {:>10} {:>14} {:>14}  share",
            "policy", "quality", "latency ms", "regret/oracle", "regret/fixed"
        )?;
        for p in &report.policies {
            let share: Vec<String> =
                p.model_share.iter().map(|(m, s)| format!("{m} {:.0}%", s * 100.0)).collect();
            writeln!(
                out,
                "{:<12} {:>8.3} {:>10.0} {:>14.1} {:>14.1}  {}",
                p.policy,
                p.mean_quality,
                p.mean_latency_ms,
                p.regret_vs_oracle,
                p.regret_vs_best_fixed,
                share.join(", ")
            )?;
        }
        if !ctx.quiet {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(Outcome::Success)
}
