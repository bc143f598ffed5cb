//! The seam between *what a suite asks* and *how the runner runs it*. A [`TaskKind`]
//! (HumanEval, GSM8K, multiple choice, BFCL, IFEval, agent tasks, exact match...)
//! turns raw data records into [`Item`]s and each item into an [`Episode`]: a small
//! state machine that asks the engine for generations or log-likelihoods and finally
//! returns a [`Score`]. Single-turn items take one step; agent tasks take several.
//! The runner batches the steps of many episodes together, so kinds never see the
//! engine or the batching.

use noa_engine::{GenerateRequest, Generation, Loglikelihood, LoglikelihoodRequest};
use serde::{Deserialize, Serialize};

/// One evaluation item, as parsed by its kind from a raw data record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Unique within the suite (the dataset's own id where it has one).
    pub id: String,
    /// Kind-specific fields (prompt, tests, answer, options...).
    pub data: serde_json::Value,
}

/// Generation settings of a suite (from `suite.toml`, overridable on the command line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenSettings {
    pub max_tokens: u32,
    #[serde(default)]
    pub temperature: f32,
    #[serde(default)]
    pub seed: u32,
    /// Extra stop strings on top of the kind's own.
    #[serde(default)]
    pub stop: Vec<String>,
    /// Grammar/JSON-schema constrained output where the kind supports it.
    #[serde(default)]
    pub constrained: bool,
    /// Optional prompt template with `{prompt}` (and kind-specific) placeholders.
    #[serde(default)]
    pub prompt_template: Option<String>,
    /// Whether to send prompts through the model's chat template (default) or raw.
    /// A model without a chat template (a base model) always gets raw prompts
    /// (`runner::plan::model_settings`).
    #[serde(default = "yes")]
    pub chat: bool,
    /// Seconds a scorer subprocess (e.g. Python unit tests) may run.
    #[serde(default = "default_scorer_timeout")]
    pub scorer_timeout_s: f64,
    /// Most turns of a multi-step episode.
    #[serde(default = "default_max_turns")]
    pub max_turns: u32,
}

fn yes() -> bool {
    true
}
fn default_scorer_timeout() -> f64 {
    10.0
}
fn default_max_turns() -> u32 {
    6
}

impl Default for GenSettings {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.0,
            seed: 0,
            stop: Vec::new(),
            constrained: false,
            prompt_template: None,
            chat: true,
            scorer_timeout_s: default_scorer_timeout(),
            max_turns: default_max_turns(),
        }
    }
}

/// What an episode asks for next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Generate(GenerateRequest),
    Loglikelihood(Vec<LoglikelihoodRequest>),
    Done(Score),
}

/// The engine's answer to the previous [`Step`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Generated(Generation),
    Loglikelihoods(Vec<Loglikelihood>),
}

/// The outcome of one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// In [0, 1].
    pub value: f64,
    /// What the scorer saw: the parsed answer, the failing check...
    pub detail: Option<String>,
    /// The text recorded as the model's output (for multi-turn: the transcript).
    pub output: String,
}

/// One item being worked through. `step(None)` starts it; each later call passes the
/// reply to the previous step. Must never panic on model output.
pub trait Episode: Send {
    fn step(&mut self, reply: Option<Reply>) -> Step;
}

/// A family of items that share prompt building and scoring.
pub trait TaskKind: Send + Sync {
    /// The `kind` name used in `suite.toml`.
    fn name(&self) -> &'static str;
    /// Parse one raw record (the `index`-th of the data file). Errors name the problem.
    fn parse(&self, raw: &serde_json::Value, index: usize) -> Result<Item, String>;
    /// Start an episode for `item`.
    fn episode(&self, item: &Item, settings: &GenSettings) -> Box<dyn Episode>;
    /// Most generation requests one item makes (several for multi-turn kinds): with
    /// `max_tokens`, what a time budget weighs a suite's items by.
    fn max_requests(&self, _settings: &GenSettings) -> u32 {
        1
    }
}
