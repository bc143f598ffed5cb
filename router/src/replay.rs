//! Offline evaluation of routing policies on what `noa bench` recorded. Each item of
//! `runs/*/items.jsonl` with outcomes for several models becomes a simulated request
//! (seeded random order, repeated up to a request count); the policy under test picks
//! a model and sees only that model's outcome (score as reward, end-to-end latency),
//! exactly as it would live. Cumulative regret is measured against the per-item
//! oracle and against the best fixed model per use case (the model with the highest
//! mean score over all that use case's items, in hindsight).
//!
//! **Priors are cross-fitted by default.** The registry's measured scores come from
//! the very items a replay scores, so a policy that trusts its priors (`greedy`) is
//! told each use case's answer before it is asked, and wins for that reason alone.
//! Instead, the items are split into K folds (default 2) by a hash of (suite, item
//! id) — the same split for every policy, seed and later replay — and each fold is
//! replayed by a fresh router whose priors are measurements computed from the *other*
//! folds' items only (per model and use case: mean score, and latency percentiles);
//! the folds' requests and regrets are summed. A policy is thus only ever scored on
//! items its priors never saw, as it would be on tomorrow's requests. `in-sample`
//! (priors from every replayed item), `registry` (the registry's measurements, what
//! earlier replays used) and `declared` (no measurements) remain for comparison.
//!
//! **Drift.** Bench results age: a model file is swapped for a broken one, a
//! template changes. In the drift scenario, halfway through each run (one seed ×
//! fold), a model — by default each use case's best fixed model — starts scoring 0.
//! Reported per policy: the regret before and after the change (against the oracle of
//! the changed outcomes) and the *recovery*, read per use case in that use case's own
//! requests: how many of them after the change until fewer than [`DRIFT_THRESHOLD`]
//! of the last [`DRIFT_WINDOW`] (a sliding window reaching back before the change)
//! went to the drifted model, for good — 0 if that held from the change on, "never"
//! if the run ended with more. For the measure to be fair to every policy:
//! - it is read only in use cases where the drift can be seen — another model scores
//!   at least [`DRIFT_MARGIN`] there, so staying costs that much per request (where
//!   no model scores, leaving the broken one gains nothing and nothing reveals it);
//! - each run of the scenario is long enough (whole passes over its fold's items) that
//!   every such use case gets at least [`DRIFT_AFTER`] requests after the change,
//!   however few items it has, and as many before it to learn whom to trust.
//!
//! Only scores drift: the reward is the score alone, and latency feeds only the
//! `max_latency_ms` constraint, which replayed requests do not set, so a latency
//! drift could not change any policy's choice.

mod cases;
mod sim;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use noa_registry::runs::{DriftReplay, ITEMS_FILE, ItemRecord, ReplayReport};
use noa_registry::{Registry, UseCase};

pub use cases::fold_of;

use crate::requirements::PolicyKind;
use cases::Plan;
use sim::{Acc, DriftAcc, World};

/// Requests of one use case in the window recovery is read from.
pub const DRIFT_WINDOW: u32 = 20;
/// Share of the window's requests the drifted model must fall below to count as left.
pub const DRIFT_THRESHOLD: f64 = 0.2;
/// Requests each counted use case gets after the change, at least.
pub const DRIFT_AFTER: usize = 100;
/// Mean score another model must reach in a use case for its drift to be visible.
pub const DRIFT_MARGIN: f64 = 0.2;

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("`{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` line {line}: {reason}")]
    Parse { path: String, line: usize, reason: String },
    #[error("run `{0}` has no `items.jsonl`")]
    UnknownRun(String),
    #[error("no recorded items to replay in `{0}` (run `noa bench` first)")]
    NoItems(String),
    #[error("cross-fitting needs at least 2 folds, not `{0}`")]
    Folds(u32),
    #[error("model `{0}` has no outcomes in the replayed runs, so it cannot drift")]
    UnknownDriftModel(String),
    #[error("routing failed during replay: {0}")]
    Route(String),
}

/// Where a replay router's priors come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priors {
    /// Per fold, measurements of the other folds' items only (the default).
    CrossFit,
    /// Measurements of every replayed item: flatters policies that trust priors.
    InSample,
    /// The registry's measured scores, as `noa serve` would use them (in-sample when
    /// they were measured on the replayed runs).
    Registry,
    /// Declared values only: policies must learn from the replayed feedback.
    Declared,
}

impl Priors {
    pub fn as_str(self) -> &'static str {
        match self {
            Priors::CrossFit => "cross-fit",
            Priors::InSample => "in-sample",
            Priors::Registry => "registry",
            Priors::Declared => "declared",
        }
    }
}

impl std::fmt::Display for Priors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priors {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "cross-fit" | "crossfit" => Ok(Priors::CrossFit),
            "in-sample" | "insample" => Ok(Priors::InSample),
            "registry" => Ok(Priors::Registry),
            "declared" => Ok(Priors::Declared),
            _ => Err(format!(
                "unknown priors `{s}` (expected one of: cross-fit, in-sample, registry, declared)"
            )),
        }
    }
}

/// Which model drifts in the drift scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftTarget {
    /// Each use case's best fixed model: the change that hurts a converged policy most.
    Best,
    /// This model, in every use case it has outcomes in.
    Model(String),
}

impl FromStr for DriftTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" => Err("a drift target is a model id or `best`".to_owned()),
            "best" => Ok(DriftTarget::Best),
            id => Ok(DriftTarget::Model(id.to_owned())),
        }
    }
}

/// Replay settings.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub seeds: Vec<u64>,
    /// Requests per seed, over all folds; `None`: three passes over the items.
    pub requests: Option<u64>,
    pub policies: Vec<PolicyKind>,
    pub priors: Priors,
    /// Folds of [`Priors::CrossFit`] (at least 2).
    pub folds: u32,
    /// Also run the drift scenario, with this model drifting.
    pub drift: Option<DriftTarget>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            seeds: (1..=5).collect(),
            requests: None,
            policies: PolicyKind::ALL.to_vec(),
            priors: Priors::CrossFit,
            folds: 2,
            drift: None,
        }
    }
}

/// Read the items of the given runs (all runs when empty), oldest run first.
pub fn load_items(
    runs_dir: &Path,
    runs: &[String],
) -> Result<(Vec<String>, Vec<ItemRecord>), ReplayError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| ReplayError::Io { path, source }
    };
    let mut ids: Vec<String> = if runs.is_empty() {
        match std::fs::read_dir(runs_dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .filter(|e| e.path().join(ITEMS_FILE).is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(runs_dir)(e)),
        }
    } else {
        runs.to_vec()
    };
    ids.sort();
    let mut items = Vec::new();
    for id in &ids {
        let path: PathBuf = runs_dir.join(id).join(ITEMS_FILE);
        if !path.is_file() {
            return Err(ReplayError::UnknownRun(id.clone()));
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let rec: ItemRecord = serde_json::from_str(line).map_err(|e| ReplayError::Parse {
                path: path.display().to_string(),
                line: i + 1,
                reason: e.to_string(),
            })?;
            items.push(rec);
        }
    }
    if items.is_empty() {
        return Err(ReplayError::NoItems(runs_dir.display().to_string()));
    }
    Ok((ids, items))
}

/// Replay every policy in `opts` over `items`: the stationary replay, then the drift
/// scenario when `opts.drift` asks for it.
pub fn replay(
    registry: &Registry,
    runs: Vec<String>,
    items: &[ItemRecord],
    opts: &ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    if opts.priors == Priors::CrossFit && opts.folds < 2 {
        return Err(ReplayError::Folds(opts.folds));
    }
    let cases = cases::cases(items);
    let best = cases::best_fixed(&cases);
    let drift = match &opts.drift {
        Some(t) => Some(cases::drift_models(&cases, &best, t)?),
        None => None,
    };
    let plans = cases::plans(registry, &cases, opts.priors, opts.folds);
    let requests = opts.requests.unwrap_or(cases.len() as u64 * 3).max(1);
    let split = split_requests(&plans, requests);
    let seeds = opts.seeds.len().max(1) as f64;
    // Per plan, the use cases recovery is read in.
    let counted: Vec<BTreeSet<UseCase>> = plans
        .iter()
        .map(|p| match &drift {
            Some(d) => cases::visible_drift(&cases, &p.cases, d, DRIFT_MARGIN),
            None => BTreeSet::new(),
        })
        .collect();
    let drift_split = drift_requests(&cases, &plans, &split, &counted);
    let mut policies = Vec::new();
    let mut drifts = Vec::new();
    for &policy in &opts.policies {
        let world = World { cases: &cases, best: &best, drift: None };
        let mut acc = Acc::new(requests as usize);
        for &seed in &opts.seeds {
            let mut steps = Vec::with_capacity(requests as usize);
            for (plan, &n) in plans.iter().zip(&split) {
                steps.extend(sim::run_segment(&world, plan, policy, seed, n)?);
            }
            acc.add_seed(&steps);
        }
        policies.push(acc.finish(policy.as_str(), seeds, requests as f64));
        if let Some(d) = &drift {
            let world = World { drift: Some(d), ..world };
            let mut acc = DriftAcc::new(DRIFT_WINDOW, DRIFT_THRESHOLD);
            for &seed in &opts.seeds {
                for ((plan, &n), counted) in plans.iter().zip(&drift_split).zip(&counted) {
                    let steps = sim::run_segment(&world, plan, policy, seed, n)?;
                    acc.add_segment(&steps, counted);
                }
            }
            drifts.push(acc.finish(policy.as_str(), seeds));
        }
    }
    Ok(ReplayReport {
        created_at: now_rfc3339(),
        runs,
        seeds: opts.seeds.clone(),
        requests,
        policies,
        priors: opts.priors.as_str().to_owned(),
        folds: if opts.priors == Priors::CrossFit { opts.folds } else { 0 },
        drift: drift.map(|d| DriftReplay {
            models: d.into_iter().collect(),
            change: "score 0 from the middle request of each run (one seed, one fold) on"
                .to_owned(),
            window: DRIFT_WINDOW,
            threshold: DRIFT_THRESHOLD,
            requests: drift_split.iter().sum::<usize>() as u64,
            margin: DRIFT_MARGIN,
            counted: counted.into_iter().flatten().collect::<BTreeSet<_>>().into_iter().collect(),
            policies: drifts,
        }),
    })
}

/// Requests of each plan in the drift scenario: its stationary share, or more — an
/// even number of whole passes over the plan's cases, so that each counted use case
/// gets at least [`DRIFT_AFTER`] requests after the change (at the middle) and as many
/// before it. A use case with one item in a fold thus gets 200 requests there.
fn drift_requests(
    cases: &[cases::Case<'_>],
    plans: &[Plan],
    split: &[usize],
    counted: &[BTreeSet<UseCase>],
) -> Vec<usize> {
    plans
        .iter()
        .zip(split)
        .zip(counted)
        .map(|((plan, &n), counted)| {
            let fewest = counted
                .iter()
                .map(|u| plan.cases.iter().filter(|&&i| cases[i].use_case == *u).count())
                .filter(|&k| k > 0)
                .min();
            let passes = fewest.map_or(0, |k| 2 * DRIFT_AFTER.div_ceil(k));
            n.max(passes * plan.cases.len())
        })
        .collect()
}

/// Requests per plan, in proportion to its cases and summing to `requests`.
fn split_requests(plans: &[Plan], requests: u64) -> Vec<usize> {
    let total: u128 = plans.iter().map(|p| p.cases.len() as u128).sum::<u128>().max(1);
    let mut cum = 0u128;
    let mut prev = 0u128;
    plans
        .iter()
        .map(|p| {
            cum += p.cases.len() as u128;
            let end = u128::from(requests) * cum / total;
            let n = end - prev;
            prev = end;
            n as usize
        })
        .collect()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
