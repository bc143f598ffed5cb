//! Offline evaluation of routing policies on what `noa bench` recorded. Each item of
//! `runs/*/items.jsonl` with outcomes for several models becomes a simulated request
//! (seeded random order, repeated up to a request count); the policy under test picks
//! a model and sees only that model's outcome (score as reward, end-to-end latency),
//! exactly as it would live. Cumulative regret is measured against the per-item
//! oracle and against the best fixed model per use case.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use noa_registry::runs::{ITEMS_FILE, ItemRecord, PolicyReplay, ReplayReport};
use noa_registry::{Declared, InstalledFile, ModelEntry, PrivacyTier, Registry, UseCase};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

use crate::config::RouterConfig;
use crate::requirements::{PolicyKind, TaskRequirements};
use crate::router::Router;

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
    #[error("routing failed during replay: {0}")]
    Route(String),
}

/// Where a replay router's priors come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priors {
    /// The registry's measured scores, as `noa serve` would use them.
    Registry,
    /// Declared values only: policies must learn from the replayed feedback.
    Declared,
}

/// Replay settings.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub seeds: Vec<u64>,
    /// Requests per seed; `None`: three passes over the items.
    pub requests: Option<u64>,
    pub policies: Vec<PolicyKind>,
    pub priors: Priors,
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

/// One simulated request: the item and each model's recorded outcome.
struct Case {
    use_case: UseCase,
    prompt_tokens: u32,
    /// model id → (score, e2e ms)
    outcomes: BTreeMap<String, (f64, f64)>,
}

fn cases(items: &[ItemRecord]) -> Vec<Case> {
    let mut by_item: BTreeMap<(String, String), Case> = BTreeMap::new();
    for it in items {
        let case = by_item.entry((it.suite.clone(), it.item_id.clone())).or_insert_with(|| Case {
            use_case: it.use_case,
            prompt_tokens: it.prompt_tokens,
            outcomes: BTreeMap::new(),
        });
        let score = if it.score.is_finite() { it.score.clamp(0.0, 1.0) } else { 0.0 };
        // Later runs replace earlier outcomes of the same model.
        case.outcomes.insert(it.model_id.clone(), (score, it.timings.e2e_ms.max(0.0)));
    }
    by_item.into_values().collect()
}

/// The registry the replay router is built from: every model with outcomes, marked
/// installed, with measured priors kept or stripped.
fn replay_registry(registry: &Registry, cases: &[Case], priors: Priors) -> Registry {
    let mut reg = Registry::default();
    let mut seen: BTreeMap<&str, Vec<UseCase>> = BTreeMap::new();
    for c in cases {
        for m in c.outcomes.keys() {
            let ucs = seen.entry(m.as_str()).or_default();
            if !ucs.contains(&c.use_case) {
                ucs.push(c.use_case);
            }
        }
    }
    for (id, ucs) in seen {
        let mut entry = registry.get(id).cloned().unwrap_or_else(|| ModelEntry {
            id: id.to_owned(),
            family: String::new(),
            parameters: None,
            quantization: None,
            file: None,
            gguf: None,
            sources: Vec::new(),
            declared: Declared {
                use_cases: Vec::new(),
                privacy: PrivacyTier::Local,
                priority: None,
                quality: None,
                vision: false,
            },
            measured: Vec::new(),
        });
        for u in ucs {
            if !entry.declared.use_cases.contains(&u) {
                entry.declared.use_cases.push(u);
            }
        }
        entry.file = Some(InstalledFile {
            path: String::new(),
            size: 0,
            sha256: String::new(),
            verified_at: String::new(),
        });
        if priors == Priors::Declared {
            entry.measured.clear();
        }
        reg.upsert(entry);
    }
    reg
}

/// Replay every policy in `opts` over `items`.
pub fn replay(
    registry: &Registry,
    runs: Vec<String>,
    items: &[ItemRecord],
    opts: &ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    let cases = cases(items);
    let reg = replay_registry(registry, &cases, opts.priors);
    // Best fixed model per use case: highest mean score over that use case's items.
    let mut sums: HashMap<(UseCase, &str), (f64, f64)> = HashMap::new();
    for c in &cases {
        for (m, (s, _)) in &c.outcomes {
            let e = sums.entry((c.use_case, m.as_str())).or_default();
            e.0 += s;
            e.1 += 1.0;
        }
    }
    let mut best_fixed: HashMap<UseCase, (&str, f64)> = HashMap::new();
    for ((u, m), (s, n)) in &sums {
        let m: &str = m;
        let mean = s / n;
        let slot = best_fixed.entry(*u).or_insert((m, mean));
        if mean > slot.1 || (mean == slot.1 && m < slot.0) {
            *slot = (m, mean);
        }
    }
    let requests = opts.requests.unwrap_or(cases.len() as u64 * 3).max(1);
    let mut policies = Vec::new();
    for &policy in &opts.policies {
        let mut acc = Acc::new(requests as usize);
        for &seed in &opts.seeds {
            let config = RouterConfig {
                policy,
                seed: Some(seed),
                max_pending: 16,
                ..RouterConfig::default()
            };
            let router = Router::in_memory(&reg, config);
            let mut order: Vec<usize> = (0..cases.len()).collect();
            let mut rng = SmallRng::seed_from_u64(seed);
            let (mut regret, mut regret_fixed) = (0.0, 0.0);
            for r in 0..requests as usize {
                if r % cases.len() == 0 {
                    order.shuffle(&mut rng);
                }
                let case = &cases[order[r % cases.len()]];
                let mut req = TaskRequirements::new(case.use_case);
                req.prompt_tokens = Some(case.prompt_tokens);
                req.allow = case.outcomes.keys().cloned().collect();
                let d = router.select(&req).map_err(|e| ReplayError::Route(e.to_string()))?;
                let (score, latency) = case.outcomes.get(&*d.model).copied().unwrap_or((0.0, 0.0));
                router
                    .feedback(&d.decision_id, score, Some(latency))
                    .map_err(|e| ReplayError::Route(e.to_string()))?;
                let oracle = case.outcomes.values().map(|o| o.0).fold(0.0, f64::max);
                let fixed = best_fixed
                    .get(&case.use_case)
                    .map_or(0.0, |(m, mean)| case.outcomes.get(*m).map_or(*mean, |o| o.0));
                regret += oracle - score;
                regret_fixed += fixed - score;
                acc.curve[r] += regret;
                acc.quality += score;
                acc.latency += latency;
                *acc.share.entry(d.model.to_string()).or_default() += 1.0;
            }
            acc.regret += regret;
            acc.regret_fixed += regret_fixed;
        }
        policies.push(acc.finish(policy.as_str(), opts.seeds.len().max(1) as f64, requests as f64));
    }
    Ok(ReplayReport {
        created_at: now_rfc3339(),
        runs,
        seeds: opts.seeds.clone(),
        requests,
        policies,
    })
}

struct Acc {
    curve: Vec<f64>,
    quality: f64,
    latency: f64,
    regret: f64,
    regret_fixed: f64,
    share: BTreeMap<String, f64>,
}

impl Acc {
    fn new(n: usize) -> Self {
        Acc {
            curve: vec![0.0; n],
            quality: 0.0,
            latency: 0.0,
            regret: 0.0,
            regret_fixed: 0.0,
            share: BTreeMap::new(),
        }
    }
    fn finish(self, policy: &str, seeds: f64, requests: f64) -> PolicyReplay {
        let total = seeds * requests;
        PolicyReplay {
            policy: policy.to_owned(),
            mean_quality: self.quality / total,
            mean_latency_ms: self.latency / total,
            regret_vs_oracle: self.regret / seeds,
            regret_vs_best_fixed: self.regret_fixed / seeds,
            regret_curve: self.curve.into_iter().map(|c| c / seeds).collect(),
            model_share: self.share.into_iter().map(|(m, n)| (m, n / total)).collect(),
        }
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
