//! `noa route`: ask the router for the best model for a task and see why — the chosen
//! model, the probability it was chosen with, the ranked candidates with their quality
//! and latency estimates, and every rejected model with its reason. Uses what `noa
//! serve` learned (snapshot + feedback log) without writing anything.

use std::io::Write;

use anyhow::Context as _;
use noa_registry::{PrivacyTier, RegistryStore, UseCase};
use noa_router::{Decision, PolicyKind, RouteError, Router, RouterConfig, TaskRequirements};

use super::{Context, Outcome, UserError};

#[derive(Debug, clap::Args)]
pub struct RouteArgs {
    /// What the task is: code, reasoning, qa, function_calling, instruction_following,
    /// agent, vision or general.
    #[arg(long, env = noa_registry::env_vars::NOA_USE_CASE, default_value = "general")]
    pub use_case: UseCase,
    /// Most permissive privacy tier allowed: local, private (or lan) or cloud.
    #[arg(long, env = noa_registry::env_vars::NOA_PRIVACY, value_parser = parse_privacy)]
    pub privacy: Option<PrivacyTier>,
    /// Lowest acceptable quality lower bound, in [0, 1].
    #[arg(long, env = noa_registry::env_vars::NOA_MIN_QUALITY)]
    pub min_quality: Option<f64>,
    /// Highest acceptable predicted p95 latency, milliseconds.
    #[arg(long, env = noa_registry::env_vars::NOA_MAX_LATENCY_MS)]
    pub max_latency_ms: Option<f64>,
    /// Expected prompt tokens.
    #[arg(long, env = noa_registry::env_vars::NOA_PROMPT_TOKENS)]
    pub prompt_tokens: Option<u32>,
    /// Expected output tokens.
    #[arg(long, env = noa_registry::env_vars::NOA_OUTPUT_TOKENS)]
    pub output_tokens: Option<u32>,
    /// Only consider these models (comma-separated or repeated).
    #[arg(long, env = noa_registry::env_vars::NOA_ALLOW, value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Never consider these models.
    #[arg(long, env = noa_registry::env_vars::NOA_DENY, value_delimiter = ',')]
    pub deny: Vec<String>,
    /// Policy: thompson, linucb, greedy, random, round_robin.
    #[arg(long, env = noa_registry::env_vars::NOA_POLICY, default_value = "thompson")]
    pub policy: PolicyKind,
    /// Memory models may use, e.g. `6G` (default: what the OS reports available).
    #[arg(long, env = noa_registry::env_vars::NOA_MEMORY_BUDGET, value_parser = super::serve::parse_bytes)]
    pub memory_budget: Option<u64>,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `local`, `private` (or `lan`), `cloud`: the registry's one spelling rule.
fn parse_privacy(s: &str) -> Result<PrivacyTier, String> {
    s.parse()
}

pub fn run(args: RouteArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let registry = RegistryStore::open(&ctx.home).load().context("reading the model registry")?;
    let memory = args.memory_budget.or_else(noa_engine::pool::available_memory);
    let config =
        RouterConfig { policy: args.policy, memory_bytes: memory, ..RouterConfig::default() };
    let router = Router::open_read_only(&registry, config, &ctx.home.router_dir())
        .context("reading the router's feedback log")?;
    let req = TaskRequirements {
        privacy: args.privacy,
        min_quality: args.min_quality,
        max_latency_ms: args.max_latency_ms,
        prompt_tokens: args.prompt_tokens,
        output_tokens: args.output_tokens,
        allow: args.allow,
        deny: args.deny,
        ..TaskRequirements::new(args.use_case)
    };
    let decision = match router.select(&req) {
        Ok(d) => d,
        Err(RouteError::InvalidRequirements { field, reason }) => {
            return Err(UserError::new(format!(
                "invalid `--{}`: {reason}",
                field.replace('_', "-")
            ))
            .into());
        }
        Err(e @ RouteError::NoCandidate { .. }) => {
            let hint = if registry.models.is_empty() {
                "install a model with `noa models pull`"
            } else {
                "relax the constraint named above, or install/bench more models"
            };
            return Err(UserError::new(e.to_string()).hint(hint).into());
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        super::write_json(&mut out, &decision)?;
    } else {
        explain(&mut out, &decision)?;
    }
    Ok(Outcome::Success)
}

fn explain(out: &mut impl Write, d: &Decision) -> std::io::Result<()> {
    let chosen = d.candidates.iter().find(|c| c.model == d.model);
    writeln!(
        out,
        "chosen: {}  (use case {}, policy {}, chosen with probability {:.3})",
        d.model, d.use_case, d.policy, d.probability
    )?;
    if let Some(c) = chosen {
        let why = match d.policy {
            PolicyKind::Thompson => "its posterior draw was the highest",
            PolicyKind::Linucb => "its upper confidence bound for this request was the highest",
            PolicyKind::Greedy => "its measured quality is the highest",
            PolicyKind::Random => "picked uniformly at random",
            PolicyKind::RoundRobin => "its turn in the rotation",
        };
        let lat = c
            .predicted_p95_ms
            .map_or("latency not measured".to_owned(), |l| format!("predicted p95 {l:.0} ms"));
        writeln!(
            out,
            "why: {why} among {} candidate(s); estimated quality {:.3} ({}), lower bound {:.3}, {lat}",
            d.candidates.len(),
            c.estimated_quality,
            format!("{:?}", c.quality_source).to_lowercase(),
            c.quality_lower_bound
        )?;
    }
    writeln!(out, "\ncandidates (best estimated quality first):")?;
    writeln!(
        out,
        "  {:<32} {:>8} {:>8} {:<9} {:>10} {:>8}",
        "model", "quality", "lower", "source", "p95 ms", "score"
    )?;
    for c in &d.candidates {
        let lat = c.predicted_p95_ms.map_or("-".to_owned(), |l| format!("{l:.0}"));
        let source = format!("{:?}", c.quality_source).to_lowercase();
        writeln!(
            out,
            "  {:<32} {:>8.3} {:>8.3} {:<9} {:>10} {:>8.3}",
            c.model, c.estimated_quality, c.quality_lower_bound, source, lat, c.policy_score
        )?;
    }
    if !d.rejected.is_empty() {
        writeln!(out, "\nrejected:")?;
        for r in &d.rejected {
            writeln!(out, "  {:<32} {}", r.model, r.reason)?;
        }
    }
    Ok(())
}
