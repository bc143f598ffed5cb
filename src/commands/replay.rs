//! `noa replay`: score every routing policy offline on the per-item outcomes `noa
//! bench` recorded, where each simulated request reveals only the chosen model's
//! outcome. Priors are cross-fitted by default, so no policy is scored on items its
//! priors were measured on; a drift scenario shows which policies notice a model that
//! broke. Prints both tables and writes `NOA_HOME/router/replay.json` for the report.

use std::io::Write;

use anyhow::Context as _;
use noa_registry::RegistryStore;
use noa_registry::runs::{REPLAY_FILE, ReplayReport};
use noa_router::PolicyKind;
use noa_router::replay::{DriftTarget, Priors, ReplayError, ReplayOptions, load_items, replay};

use super::{Context, Outcome, UserError};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Run ids to replay (comma-separated; default: every run under `NOA_HOME/runs`).
    #[arg(long, env = noa_registry::env_vars::NOA_RUNS, value_delimiter = ',')]
    pub runs: Vec<String>,
    /// Number of seeds (orders of the simulated requests) to average over.
    #[arg(long, env = noa_registry::env_vars::NOA_REPLAY_SEEDS, default_value_t = 5)]
    pub seeds: u64,
    /// Simulated requests per seed (default: three passes over the items).
    #[arg(long, env = noa_registry::env_vars::NOA_REPLAY_REQUESTS)]
    pub requests: Option<u64>,
    /// Policies to evaluate (default: all).
    #[arg(long, env = noa_registry::env_vars::NOA_REPLAY_POLICIES, value_delimiter = ',')]
    pub policies: Vec<PolicyKind>,
    /// Where the policies' priors come from: `cross-fit` (each fold of the items is
    /// replayed with priors measured on the other folds only, so no policy is scored
    /// on items its priors saw), `in-sample` (priors from every replayed item, which
    /// flatters `greedy`), `registry` (the registry's measured scores, as `noa serve`
    /// uses them) or `declared` (declared values only, so policies must learn).
    #[arg(long, env = noa_registry::env_vars::NOA_REPLAY_PRIORS, default_value = "cross-fit")]
    pub priors: Priors,
    /// Folds of `--priors cross-fit`; items are assigned by a hash of (suite, item id).
    #[arg(long, env = noa_registry::env_vars::NOA_REPLAY_FOLDS, default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..))]
    pub folds: u32,
    /// Drift scenario: from the middle of each run this model's scores become 0
    /// (`best`: each use case's best fixed model; `none`: skip the scenario).
    #[arg(long, env = noa_registry::env_vars::NOA_REPLAY_DRIFT, default_value = "best", value_name = "MODEL|best|none")]
    pub drift: String,
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
    let drift = match args.drift.trim() {
        "none" | "off" => None,
        d => Some(d.parse::<DriftTarget>().map_err(UserError::new)?),
    };
    let opts = ReplayOptions {
        seeds: (1..=args.seeds.max(1)).collect(),
        requests: args.requests,
        policies: if args.policies.is_empty() { PolicyKind::ALL.to_vec() } else { args.policies },
        priors: args.priors,
        folds: args.folds,
        drift,
    };
    let report = match replay(&registry, runs, &items, &opts) {
        Ok(r) => r,
        Err(e @ (ReplayError::UnknownDriftModel(_) | ReplayError::Folds(_))) => {
            return Err(UserError::new(e.to_string())
                .hint("pass `--drift` a model id from the replayed runs, `best` or `none`, and `--folds` of 2 or more")
                .into());
        }
        Err(e) => return Err(e.into()),
    };
    let dir = ctx.home.router_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let path = dir.join(REPLAY_FILE);
    noa_registry::atomic::write_atomic(&path, &serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing `{}`", path.display()))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        super::write_json(&mut out, &report)?;
    } else {
        print_regret(&mut out, &report, items.len())?;
        if report.drift.is_some() {
            writeln!(out)?;
            print_drift(&mut out, &report)?;
        }
        if !ctx.quiet {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(Outcome::Success)
}

/// The stationary replay: out-of-sample regret when the priors are cross-fitted.
fn print_regret(out: &mut impl Write, report: &ReplayReport, items: usize) -> std::io::Result<()> {
    let priors = if report.folds > 0 {
        format!(
            "cross-fit over {} folds (each fold replayed with priors from the other folds' items only)",
            report.folds
        )
    } else {
        report.priors.clone()
    };
    writeln!(
        out,
        "{items} items from {} run(s), {} requests x {} seeds; priors: {priors}",
        report.runs.len(),
        report.requests,
        report.seeds.len()
    )?;
    writeln!(
        out,
        "regret is cumulative (sum of score lost) against the per-item oracle and the best fixed model per use case"
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
    Ok(())
}

/// The drift scenario: regret before and after the change, and recovery.
fn print_drift(out: &mut impl Write, report: &ReplayReport) -> std::io::Result<()> {
    let Some(d) = &report.drift else { return Ok(()) };
    let models: Vec<String> = d.models.iter().map(|(u, m)| format!("`{m}` for {u}")).collect();
    writeln!(out, "drift: {} {}", d.change, models.join(", "))?;
    let counted: Vec<String> = d.counted.iter().map(ToString::to_string).collect();
    writeln!(
        out,
        "{} requests x {} seeds; recovery is read in {} (in the folds where another model scores at least {:.2}): requests of that use case after the change until fewer than {:.0}% of its last {} went to the drifted model, for good (median over runs x use cases)",
        d.requests,
        report.seeds.len(),
        if counted.is_empty() { "no use case".to_owned() } else { counted.join(", ") },
        d.margin,
        d.threshold * 100.0,
        d.window
    )?;
    writeln!(
        out,
        "{:<12} {:>14} {:>14} {:>10} {:>7}",
        "policy", "regret before", "regret after", "recovery", "never"
    )?;
    for p in &d.policies {
        let median = p.recovery_median.map_or_else(|| "never".to_owned(), |m| format!("{m:.0}"));
        let never = p.recovery.iter().filter(|r| r.is_none()).count();
        writeln!(
            out,
            "{:<12} {:>14.1} {:>14.1} {:>10} {:>7}",
            p.policy,
            p.regret_before_change,
            p.regret_after_change,
            median,
            format!("{never}/{}", p.recovery.len())
        )?;
    }
    Ok(())
}
