//! Turning command-line options into a concrete plan: which models (resolved against
//! the registry), which suites (loaded, sampled, or skipped with the reason), which
//! engine settings; creating the run folder and its manifest, or reopening both for
//! `--resume`, where the plan stored in the manifest wins so a resumed run does
//! exactly what the interrupted one set out to do.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use noa_engine::FlashAttention;
use noa_registry::runs::{RunManifest, RunModel, RunModelStatus, RunSuite};
use noa_registry::store::RegistryStore;
use noa_registry::{ModelEntry, NoaHome, UseCase};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::files::{RunDir, latest_run, new_run_id};
use super::{Progress, RunError};
use crate::kind::GenSettings;
use crate::suite::data::{DataEnv, load};
use crate::suite::{LoadedSuite, Suite, SuiteSet};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Model ids; empty means every installed model.
    pub models: Vec<String>,
    /// Suite ids; empty means every suite (of `use_cases`, when given).
    pub suites: Vec<String>,
    pub use_cases: Vec<UseCase>,
    /// Items per suite, overriding each suite's default.
    pub limit: Option<usize>,
    /// Cap on every suite's `max_tokens` (quick runs, tests).
    pub max_tokens: Option<u32>,
    pub time_budget: Option<Duration>,
    /// `Some(None)`: resume the latest run; `Some(Some(id))`: that run.
    pub resume: Option<Option<String>>,
    /// Sequences decoded together (engine `n_seq_max`).
    pub batch: u32,
    /// Requests in flight at once to a remote model's server.
    pub endpoint_parallel: u32,
    /// Engine threads.
    pub threads: u32,
    /// Context per sequence, tokens.
    pub n_ctx: u32,
    pub flash_attn: FlashAttention,
    /// Reuse prompt prefixes' KV cells between requests (see `EngineConfig`).
    pub prefix_cache: bool,
    /// Decode a suite's shared prompt prefix once per model and copy its KV cells to
    /// every item (see `EngineConfig::prefix_share`).
    pub prefix_share: bool,
    pub scorer_threads: usize,
    pub no_cache: bool,
    /// Extra suite folders (after the built-in suites).
    pub suite_dirs: Vec<PathBuf>,
    /// Write measurements into `models.json` (off for throwaway benchmark runs).
    pub write_registry: bool,
    /// Run each model in a supervised engine worker process started this way (so a
    /// crash in llama.cpp costs the items in flight, not the run); `None`: in process.
    pub worker: Option<noa_engine::WorkerCommand>,
    /// How items are spent: a fixed sample per suite, or rounds that go on only where
    /// the comparison between models is still undecided.
    pub allocation: Allocation,
    /// Paired differences within ± this are ties.
    pub tie_margin: f64,
    /// Sequential allocation: at most this many items per suite (the pool its rounds
    /// draw from, in the suite's sample order).
    pub max_items: usize,
}

/// How `noa bench` spends its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocation {
    /// Every suite's sample (its `limit`, or `--limit`), the same for every model.
    Fixed,
    /// Rounds: the first is the fixed sample; after each, every use case whose
    /// leader is not yet separated from (or tied with) each rival gets more items,
    /// for the models still in an undecided comparison, until the budget ends.
    #[default]
    Sequential,
}

impl std::str::FromStr for Allocation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fixed" => Ok(Self::Fixed),
            "sequential" => Ok(Self::Sequential),
            _ => Err(format!("`{s}` is not an allocation (`sequential` or `fixed`)")),
        }
    }
}

/// Manifests written before allocation was a setting ran fixed samples.
fn fixed() -> Allocation {
    Allocation::Fixed
}

fn default_tie_margin() -> f64 {
    crate::decide::DEFAULT_TIE_MARGIN
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            models: Vec::new(),
            suites: Vec::new(),
            use_cases: Vec::new(),
            limit: None,
            max_tokens: None,
            time_budget: None,
            resume: None,
            batch: 8,
            endpoint_parallel: 4,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get() as u32),
            n_ctx: 2048,
            flash_attn: FlashAttention::Off,
            prefix_cache: false,
            prefix_share: true,
            scorer_threads: 2,
            no_cache: false,
            suite_dirs: Vec::new(),
            write_registry: true,
            worker: None,
            allocation: Allocation::Sequential,
            tie_margin: crate::decide::DEFAULT_TIE_MARGIN,
            max_items: DEFAULT_MAX_ITEMS,
        }
    }
}

/// The resolved plan, stored as the manifest's `settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    pub models: Vec<String>,
    pub suites: Vec<String>,
    pub limit: Option<usize>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    pub batch: u32,
    /// Runs recorded before the setting existed sent one request at a time.
    #[serde(default = "one")]
    pub endpoint_parallel: u32,
    pub threads: u32,
    pub n_ctx: u32,
    /// Runs recorded before the setting existed used llama.cpp's `auto`.
    #[serde(default)]
    pub flash_attn: FlashAttention,
    #[serde(default)]
    pub prefix_cache: bool,
    #[serde(default)]
    pub prefix_share: bool,
    pub scorer_threads: usize,
    pub no_cache: bool,
    pub write_registry: bool,
    pub suite_dirs: Vec<PathBuf>,
    #[serde(default)]
    pub time_budget_s: Option<f64>,
    #[serde(default = "fixed")]
    pub allocation: Allocation,
    #[serde(default = "default_tie_margin")]
    pub tie_margin: f64,
    #[serde(default)]
    pub max_items: usize,
}

/// Sequential allocation's smallest first round per suite (without `--limit`).
const MIN_FIRST_ROUND: usize = 2;

/// Sequential allocation's default pool per suite.
pub const DEFAULT_MAX_ITEMS: usize = 200;

pub(super) struct Prepared {
    pub run: RunDir,
    pub manifest: RunManifest,
    pub plan: RunPlan,
    pub suites: Vec<LoadedSuite>,
    /// Per suite, the items of the first round (the fixed sample); the rest of
    /// `suites[i].items` is the pool later rounds draw from.
    pub first_round: Vec<usize>,
    pub models: Vec<ModelEntry>,
}

pub(super) fn prepare(
    home: &NoaHome,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<Prepared, RunError> {
    let registry = RegistryStore::open(home).load()?;
    let runs_dir = home.runs_dir();
    let resumed = match &options.resume {
        None => None,
        Some(id) => Some(reopen(&runs_dir, id.as_deref())?),
    };
    let plan = resumed.as_ref().map(|(_, _, plan)| plan);
    let model_ids = match plan {
        Some(plan) => plan.models.clone(),
        None if options.models.is_empty() => {
            // Every model that can answer: installed files and registered servers.
            registry
                .models
                .iter()
                .filter(|m| m.file.is_some() || m.remote.is_some())
                .map(|m| m.id.clone())
                .collect()
        }
        None => options.models.clone(),
    };
    let mut models = Vec::new();
    for id in &model_ids {
        let entry = registry.get(id).ok_or_else(|| RunError::UnknownModel(id.clone()))?;
        models.push(entry.clone());
    }
    if models.is_empty() {
        return Err(RunError::NoModels);
    }
    let set = SuiteSet::discover(plan.map_or(&options.suite_dirs, |p| &p.suite_dirs))?;
    let chosen: Vec<&Suite> = match plan {
        Some(plan) => set.select(&plan.suites)?,
        None => set
            .select(&options.suites)?
            .into_iter()
            .filter(|s| {
                options.use_cases.is_empty() || options.use_cases.contains(&s.manifest.use_case)
            })
            .collect(),
    };
    let sampling = plan.map_or_else(|| Sampling::of_options(options), Sampling::of_plan);
    let loaded = load_suites(chosen, &DataEnv::from_env(home), &sampling, progress)?;
    let (run, manifest, plan) = match resumed {
        Some((run, manifest, plan)) => (run, reopened(manifest), plan),
        None => {
            let plan = new_plan(options, model_ids, &loaded.run_suites);
            let run = RunDir::new(&runs_dir, &new_run_id());
            run.create()?;
            let manifest = new_manifest(&run, &models, loaded.run_suites, &plan);
            (run, manifest, plan)
        }
    };
    let Loaded { suites, first_round, .. } = loaded;
    Ok(Prepared { run, manifest, plan, suites, first_round, models })
}

/// The run `id` (the latest when `None`): its folder, manifest and stored plan.
fn reopen(runs_dir: &Path, id: Option<&str>) -> Result<(RunDir, RunManifest, RunPlan), RunError> {
    let id = match id {
        Some(id) => id.to_owned(),
        None => latest_run(runs_dir).ok_or_else(|| RunError::NoSuchRun("(latest)".into()))?,
    };
    let run = RunDir::new(runs_dir, &id);
    if !run.manifest_path().is_file() {
        return Err(RunError::NoSuchRun(id));
    }
    let manifest = run.read_manifest()?;
    let plan: RunPlan = serde_json::from_value(manifest.settings.clone()).map_err(|e| {
        RunError::Corrupt { path: run.manifest_path().display().to_string(), reason: e.to_string() }
    })?;
    Ok((run, manifest, plan))
}

/// A resumed run's manifest, unfinished again. A model that failed (its engine kept
/// crashing, it would not load) gets another chance: resuming is how a user retries it.
fn reopened(mut manifest: RunManifest) -> RunManifest {
    manifest.finished_at = None;
    for m in manifest.models.iter_mut().filter(|m| m.status == RunModelStatus::Failed) {
        m.status = RunModelStatus::Pending;
        m.error = None;
    }
    manifest
}

/// How many items each suite runs: from the options, or a resumed run's plan.
struct Sampling {
    limit: Option<usize>,
    max_tokens: Option<u32>,
    allocation: Allocation,
    max_items: usize,
}

impl Sampling {
    fn of_options(o: &RunOptions) -> Self {
        Sampling {
            limit: o.limit,
            max_tokens: o.max_tokens,
            allocation: o.allocation,
            max_items: o.max_items,
        }
    }

    fn of_plan(p: &RunPlan) -> Self {
        Sampling {
            limit: p.limit,
            max_tokens: p.max_tokens,
            allocation: p.allocation,
            max_items: p.max_items,
        }
    }

    /// A suite's first round and the pool later rounds draw from, given its default
    /// sample. Sequential rounds start from a third of a suite's default sample, so that
    /// most of the time is left for the rounds that go where the answer is still open
    /// (a first round of half the sample took five of the default bench's nine
    /// minutes, and left too little for them); `--limit` sets
    /// the first round exactly.
    fn sizes(&self, default_limit: Option<usize>) -> (Option<usize>, Option<usize>) {
        let sample = self.limit.or(default_limit);
        let first = match (self.allocation, self.limit) {
            (Allocation::Sequential, None) => {
                sample.map(|n| n.div_ceil(3).max(MIN_FIRST_ROUND).min(n))
            }
            _ => sample,
        };
        let pool = match (self.allocation, sample) {
            (Allocation::Sequential, Some(n)) => Some(n.max(self.max_items)),
            (_, sample) => sample,
        };
        (first, pool)
    }
}

/// The chosen suites, loaded: those whose data is present, with their first rounds,
/// and every chosen suite as the manifest records it (skipped ones with the reason).
struct Loaded {
    suites: Vec<LoadedSuite>,
    first_round: Vec<usize>,
    run_suites: Vec<RunSuite>,
}

fn load_suites(
    chosen: Vec<&Suite>,
    env: &DataEnv,
    sampling: &Sampling,
    progress: &dyn Progress,
) -> Result<Loaded, RunError> {
    let mut out = Loaded { suites: Vec::new(), first_round: Vec::new(), run_suites: Vec::new() };
    for suite in chosen {
        let m = &suite.manifest;
        let (first, pool) = sampling.sizes(m.sampling.limit);
        let (items, skipped) = match load(suite, env, pool)? {
            Ok(mut loaded) => {
                if let Some(cap) = sampling.max_tokens {
                    let mut g = loaded.suite.settings();
                    g.max_tokens = g.max_tokens.min(cap);
                    loaded.suite.manifest.generation = Some(g);
                }
                let n = first.unwrap_or(usize::MAX).min(loaded.items.len());
                out.first_round.push(n);
                out.suites.push(loaded);
                (n as u64, None)
            }
            Err(how) => {
                progress.message(&format!("suite `{}` skipped: data absent; {how}", m.id));
                (0, Some(how))
            }
        };
        out.run_suites.push(RunSuite {
            id: m.id.clone(),
            version: m.version.clone(),
            use_case: m.use_case,
            items,
            skipped,
        });
    }
    Ok(out)
}

/// A new run's plan, from the options and what they resolved to.
fn new_plan(options: &RunOptions, models: Vec<String>, suites: &[RunSuite]) -> RunPlan {
    RunPlan {
        models,
        suites: suites.iter().map(|s| s.id.clone()).collect(),
        limit: options.limit,
        max_tokens: options.max_tokens,
        batch: options.batch.max(1),
        endpoint_parallel: options.endpoint_parallel.max(1),
        threads: options.threads.max(1),
        n_ctx: options.n_ctx,
        flash_attn: options.flash_attn,
        prefix_cache: options.prefix_cache,
        prefix_share: options.prefix_share,
        scorer_threads: options.scorer_threads.max(1),
        no_cache: options.no_cache,
        write_registry: options.write_registry,
        suite_dirs: options.suite_dirs.clone(),
        time_budget_s: options.time_budget.map(|d| d.as_secs_f64()),
        allocation: options.allocation,
        tie_margin: options.tie_margin,
        max_items: options.max_items,
    }
}

/// A new run's manifest: every model pending, started now.
fn new_manifest(
    run: &RunDir,
    models: &[ModelEntry],
    suites: Vec<RunSuite>,
    plan: &RunPlan,
) -> RunManifest {
    let engine_build = noa_engine::engine_build();
    RunManifest {
        run_id: run.id.clone(),
        started_at: noa_registry::now_rfc3339(),
        finished_at: None,
        hardware: noa_registry::hardware::fingerprint(&engine_build),
        engine_build,
        models: models
            .iter()
            .map(|m| RunModel {
                id: m.id.clone(),
                sha256: model_identity(m),
                remote: m.remote.as_ref().map(|r| r.key()),
                status: RunModelStatus::Pending,
                error: None,
                load_ms: None,
                peak_memory_bytes: None,
                crashes: Vec::new(),
            })
            .collect(),
        suites,
        settings: serde_json::to_value(plan).unwrap_or_default(),
        notes: Vec::new(),
    }
}

/// The settings `suite` runs with on a model: the suite's own, except that a model
/// without a chat template (a base model) gets the kinds' plain-completion prompts
/// (few-shot where a kind has them) instead of a made-up `role: content` transcript.
pub fn model_settings(suite: &LoadedSuite, has_chat_template: bool) -> GenSettings {
    let mut settings = suite.suite.settings();
    settings.chat &= has_chat_template;
    settings
}

/// Hash of everything about a suite's prompting that changes answers (`settings` from
/// `model_settings`).
pub fn settings_hash(suite: &LoadedSuite, settings: &GenSettings, plan: &RunPlan) -> String {
    let mut h = Sha256::new();
    h.update(suite.kind.name().as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(settings).unwrap_or_default());
    // The attention kernel changes the numbers, so results are cached apart.
    if plan.flash_attn != FlashAttention::Auto {
        h.update(format!("\0flash_attn={:?}", plan.flash_attn).as_bytes());
    }
    // Reused prefix cells do too (slightly; see `EngineConfig::prefix_cache`).
    if plan.prefix_cache {
        h.update(b"\0prefix_cache");
    }
    // So does a shared prefix decoded apart from the rest of the prompt.
    if plan.prefix_share {
        h.update(b"\0prefix_share");
    }
    hex::encode(&h.finalize()[..8])
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// `8m`, `90s`, `1h30m`, `2.5m`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("`{text}` is not a duration (try `8m`, `90s`, `1h30m`)");
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return if secs >= 0.0 && secs.is_finite() {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(bad())
        };
    }
    let mut total = 0.0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(bad()),
        };
        let n: f64 = num.parse().map_err(|_| bad())?;
        total += n * unit;
        num.clear();
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// `8m`, `1m30s`, `45s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// What identifies a model's answers in the cache and the item records: its file's
/// sha256, or for a remote model its endpoint, served name and reported version.
fn model_identity(m: &noa_registry::ModelEntry) -> String {
    match (&m.file, &m.remote) {
        (Some(f), _) => f.sha256.clone(),
        (None, Some(r)) => {
            let k = r.key();
            format!("remote:{}#{}@{}", k.endpoint, k.model, k.version.unwrap_or_default())
        }
        (None, None) => String::new(),
    }
}

fn one() -> u32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("8m").unwrap(), Duration::from_secs(480));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2.5m").unwrap(), Duration::from_secs(150));
        for bad in ["", "8x", "m", "5m3", "-1"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(480)), "8m");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }
}
