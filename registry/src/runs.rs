//! The files a bench run leaves behind (`runs/<run-id>/manifest.json` and
//! `items.jsonl`) and the replay results the router writes (`router/replay.json`).
//! `bench` writes them; `router` (replay) and `reports` read them. One definition here
//! keeps the three in step.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema::{HardwareFingerprint, UseCase};

/// File name of the per-item results inside a run folder.
pub const ITEMS_FILE: &str = "items.jsonl";
/// File name of the run manifest inside a run folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of replay results inside `NOA_HOME/router/`.
pub const REPLAY_FILE: &str = "replay.json";

/// One line of `items.jsonl`: one model's answer to one suite item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ItemRecord {
    pub run_id: String,
    pub model_id: String,
    pub model_sha256: String,
    pub suite: String,
    pub suite_version: String,
    pub use_case: UseCase,
    /// Item id, unique within the suite.
    pub item_id: String,
    /// sha256 of the exact prompt text given to the engine.
    pub prompt_sha256: String,
    /// The exact text of the first prompt: the rendered chat template or raw prompt
    /// of the first generation, or the shared context of a log-likelihood item (its
    /// continuations are the item's choices). Lets a peer harness be given the same
    /// input, and a user see what the model saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Hash of the generation settings (max tokens, temperature, seed, grammar...).
    pub settings_hash: String,
    pub engine_build: String,
    /// The model's raw output (or, for log-likelihood items, the chosen option).
    pub output: String,
    /// Score in [0, 1].
    pub score: f64,
    /// Free-form scorer explanation (which check failed, the parsed answer...).
    #[serde(default)]
    pub detail: Option<String>,
    pub prompt_tokens: u32,
    /// Of `prompt_tokens`, those whose KV cells were copied from a shared prefix (or
    /// reused) instead of decoded for this item.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shared_tokens: u32,
    pub gen_tokens: u32,
    pub timings: ItemTimings,
    /// Set when the item could not be run (engine error, timeout); score is then 0.
    #[serde(default)]
    pub error: Option<String>,
    /// Set when this record was reused from an earlier run's identical item (same
    /// model file, suite version, prompt, settings and engine build): that run's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_from: Option<String>,
}

/// Timings of one item, milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct ItemTimings {
    /// Time to first generated token (prompt processing included).
    pub ttft_ms: f64,
    /// Whole request, submission to last token.
    pub e2e_ms: f64,
    /// Mean gap between generated tokens.
    pub inter_token_ms: f64,
    /// Every gap between generated tokens, for percentiles.
    #[serde(default)]
    pub inter_token_gaps_ms: Vec<f64>,
    pub prompt_tps: f64,
    pub gen_tps: f64,
}

/// `manifest.json` of a run: everything needed to trace a number back to its cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunManifest {
    pub run_id: String,
    /// RFC 3339.
    pub started_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    pub engine_build: String,
    pub hardware: HardwareFingerprint,
    pub models: Vec<RunModel>,
    pub suites: Vec<RunSuite>,
    /// Settings the run was started with (limit, seed, batch size, threads, budget...).
    pub settings: serde_json::Value,
    /// What a reader should know about how the run went (stopped by the time budget,
    /// resumed, suites skipped...).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A model in a run and how it fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunModel {
    pub id: String,
    /// The model file's sha256; for a remote model, a stand-in naming the endpoint,
    /// served model and reported version (it keys the answer cache).
    pub sha256: String,
    /// Which server, served model and version answered, for a remote model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::RemoteKey>,
    pub status: RunModelStatus,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub load_ms: Option<f64>,
    #[serde(default)]
    pub peak_memory_bytes: Option<u64>,
    /// Each time the engine died under this model: the items it had in flight (not
    /// scored; `noa bench --resume` runs them again) and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crashes: Vec<EngineCrash>,
}

/// Where a model stands in a run. Written as the words manifests have always held
/// (`pending`, `running`, `ok`, `failed`, `skipped`), so older manifests still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunModelStatus {
    /// Not started yet (or a failed model given another try by `--resume`).
    Pending,
    /// Being measured now, or interrupted while it was.
    Running,
    /// Every suite measured.
    Ok,
    /// It would not load, or its engine kept crashing: `RunModel::error` says why.
    Failed,
    /// Nothing left to run for it (every item done or cached).
    Skipped,
}

impl RunModelStatus {
    /// The word the manifest holds.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// A status equals the word a manifest holds for it, so readers of `manifest.json`
/// as text and of [`RunManifest`] agree (`status == "failed"`).
impl PartialEq<&str> for RunModelStatus {
    fn eq(&self, word: &&str) -> bool {
        self.as_str() == *word
    }
}

impl std::fmt::Display for RunModelStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The engine's worker died (or hung and was killed) during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EngineCrash {
    /// RFC 3339.
    pub at: String,
    pub suite: String,
    /// Items in flight when it died: recorded here, never scored.
    pub items: Vec<String>,
    /// "SIGILL (Illegal instruction)", "hung: no answer for 120 s (killed)"...
    pub cause: String,
}

/// A suite in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunSuite {
    pub id: String,
    pub version: String,
    pub use_case: UseCase,
    pub items: u64,
    /// Set when the suite was skipped (data absent): the message saying how to get it.
    #[serde(default)]
    pub skipped: Option<String>,
}

/// `router/replay.json`: offline evaluation of every policy on recorded outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplayReport {
    /// RFC 3339.
    pub created_at: String,
    /// Runs whose items were replayed.
    pub runs: Vec<String>,
    pub seeds: Vec<u64>,
    /// Requests per seed.
    pub requests: u64,
    pub policies: Vec<PolicyReplay>,
    /// Where the policies' priors came from: `cross-fit` (each fold's priors from the
    /// other folds' items), `in-sample`, `registry` or `declared`. Empty in files
    /// written before the choice existed (they used `registry`).
    #[serde(default)]
    pub priors: String,
    /// Folds of a cross-fitted replay; 0 for the other priors.
    #[serde(default)]
    pub folds: u32,
    /// The drift scenario, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftReplay>,
}

/// A replay in which one model's outcomes change halfway through each run: how much
/// each policy lost after the change, and how soon it stopped trusting that model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DriftReplay {
    /// Per use case, the model whose scores become 0 at the change.
    pub models: Vec<(UseCase, String)>,
    /// What changed and when, in words (the models follow).
    pub change: String,
    /// Requests of one use case in the sliding window recovery is read from (before
    /// recovery was read per use case: requests of every affected use case).
    pub window: u32,
    /// A policy has recovered once the drifted model's share of the window is below
    /// this, and stays below it to the end of the run.
    pub threshold: f64,
    /// Requests per seed of the drift scenario, over all folds: enough that each
    /// counted use case gets its share after the change (0 in older files).
    #[serde(default)]
    pub requests: u64,
    /// Mean score another model must reach in a use case for recovery to be read
    /// there (0 in older files).
    #[serde(default)]
    pub margin: f64,
    /// The use cases recovery was read in: those where another model reaches `margin`.
    #[serde(default)]
    pub counted: Vec<UseCase>,
    pub policies: Vec<PolicyDrift>,
}

/// One policy under drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PolicyDrift {
    pub policy: String,
    /// Cumulative regret against the per-item oracle before the change (sum over
    /// folds, mean over seeds).
    pub regret_before_change: f64,
    /// The same after the change, against the oracle of the changed outcomes.
    pub regret_after_change: f64,
    /// Per run (seed × fold) and counted use case: requests of that use case after
    /// the change until the policy recovered for good; `None` when it never did.
    pub recovery: Vec<Option<u64>>,
    /// The median of `recovery` (the later of the two middle runs for an even count),
    /// a run that never recovered counting as longer than any; `None` when at least
    /// half the runs never recovered.
    pub recovery_median: Option<f64>,
}

/// One policy's replay results, averaged over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PolicyReplay {
    pub policy: String,
    pub mean_quality: f64,
    pub mean_latency_ms: f64,
    /// Final cumulative regret against the per-item oracle.
    pub regret_vs_oracle: f64,
    /// Final cumulative regret against the best fixed model per use case.
    pub regret_vs_best_fixed: f64,
    /// Cumulative regret against the oracle after each request (mean over seeds).
    pub regret_curve: Vec<f64>,
    /// Share of requests sent to each model.
    pub model_share: Vec<(String, f64)>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_status_reads_and_writes_the_words_manifests_hold() {
        for word in ["pending", "running", "ok", "failed", "skipped"] {
            let status: RunModelStatus = serde_json::from_value(word.into()).unwrap();
            assert_eq!(status.as_str(), word);
            assert_eq!(serde_json::to_value(status).unwrap(), word);
            assert!(status == word);
        }
        assert!(serde_json::from_value::<RunModelStatus>("done".into()).is_err());
    }
}
