//! What bench and serve send to a model and what comes back, whichever engine runs it:
//! llama.cpp in this process, a supervised worker process, or a remote
//! OpenAI-compatible server. Kept free of any engine's types so callers, remote
//! clients and fakes in tests need nothing from the llama.cpp binding.

use serde::{Deserialize, Serialize};

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: content.into() }
    }
}

/// What to feed the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Rendered with the model's own chat template (from its GGUF metadata), with the
    /// generation prompt appended. Falls back to plain text for models without one.
    Chat(Vec<ChatMessage>),
    /// Used verbatim (plain completion, few-shot prompts for base models).
    Raw(String),
}

/// Output constraint for generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// GBNF grammar text with a `root` rule.
    Gbnf(String),
    /// A JSON schema; the output must be JSON valid against it.
    JsonSchema(serde_json::Value),
}

/// A generation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    pub prompt: Prompt,
    pub max_tokens: u32,
    /// Generation stops before the first occurrence of any of these (not included).
    #[serde(default)]
    pub stop: Vec<String>,
    /// 0 means greedy.
    #[serde(default)]
    pub temperature: f32,
    #[serde(default)]
    pub seed: u32,
    #[serde(default)]
    pub constraint: Option<Constraint>,
    /// Give up on the request if it has not finished by this instant (a time budget):
    /// it then fails with [`EngineError::DeadlinePassed`](crate::EngineError::DeadlinePassed) and its
    /// sequence slot is freed at once.
    #[serde(skip)]
    pub deadline: Option<std::time::Instant>,
    /// How many leading bytes of the rendered prompt other requests share (see
    /// the engine's `prefix_share` setting). The engine shares the tokens of the prompt that
    /// these bytes tokenize to on their own, so a boundary inside a word costs nothing
    /// but a token. Ignored when sharing is off or the prefix is short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_prefix: Option<u32>,
    /// Stop right after the first JSON object in the output (see
    /// [`first_json_object_end`](crate::first_json_object_end)), for a protocol of one
    /// JSON object per reply. A backend that cannot stop there generates on; the reader
    /// cuts the text at the same place.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_after_json: bool,
}

impl GenerateRequest {
    /// Greedy chat generation with no stops and no constraint.
    pub fn chat(messages: Vec<ChatMessage>, max_tokens: u32) -> Self {
        Self {
            prompt: Prompt::Chat(messages),
            max_tokens,
            stop: Vec::new(),
            temperature: 0.0,
            seed: 0,
            constraint: None,
            deadline: None,
            shared_prefix: None,
            stop_after_json: false,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End-of-generation token.
    Eog,
    /// A stop string matched.
    Stop,
    /// `max_tokens` reached (or the context filled up).
    Length,
    /// The grammar/JSON constraint was satisfied.
    Constraint,
}

impl FinishReason {
    /// The word the OpenAI API uses in `finish_reason`: `length` when `max_tokens` (or
    /// the context) ended it, else `stop`.
    pub fn openai(self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::Eog | Self::Stop | Self::Constraint => "stop",
        }
    }
}

/// Timings of one request, milliseconds, measured on the worker thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RequestTimings {
    /// Waiting for the worker before work on this request began.
    pub queue_ms: f64,
    /// From start of work to the first generated token (prompt processing included).
    pub ttft_ms: f64,
    /// Gaps between consecutive generated tokens.
    pub inter_token_ms: Vec<f64>,
    /// From start of work to the last token.
    pub e2e_ms: f64,
    /// Prompt tokens / prompt processing time.
    pub prompt_tps: f64,
    /// Generated tokens / generation time.
    pub gen_tps: f64,
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: u32,
    /// Leading prompt tokens whose KV cells were reused from an earlier request with
    /// the same prefix (not decoded again).
    #[serde(default)]
    pub cached_tokens: u32,
    pub gen_tokens: u32,
    pub finish: FinishReason,
    pub timings: RequestTimings,
    /// The exact prompt text given to the tokenizer (after the chat template).
    pub rendered_prompt: String,
}

/// A streamed generation event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StreamEvent {
    /// A piece of text (whole UTF-8 characters only).
    Token(String),
    /// The end, with the whole result.
    Done(Generation),
    /// The request failed.
    Failed(crate::EngineError),
}

/// Score `continuation` after `context` (multiple choice by log-likelihood).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoglikelihoodRequest {
    /// Used verbatim; render a chat template yourself if wanted.
    pub context: String,
    pub continuation: String,
    /// Also report each token (what `/v1/completions` with `echo` and `logprobs`
    /// answers). With an empty `context` the whole `continuation` is scored: from its
    /// second token when the model adds no BOS token (the first has nothing before it).
    #[serde(default)]
    pub per_token: bool,
}

impl LoglikelihoodRequest {
    pub fn new(context: impl Into<String>, continuation: impl Into<String>) -> Self {
        Self { context: context.into(), continuation: continuation.into(), per_token: false }
    }
}

/// One token of a scored text, for [`LoglikelihoodRequest::per_token`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    /// The token's text (bytes that are not whole UTF-8 characters are replaced).
    pub text: String,
    /// Its log-probability given the tokens before it; `None` for a token nothing
    /// predicts (the first, when the model adds no BOS token).
    pub logprob: Option<f64>,
    /// The most likely token at this position, and its log-probability.
    pub top_text: String,
    pub top_logprob: Option<f64>,
}

/// The continuation's log-probability under the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loglikelihood {
    /// Sum of the continuation tokens' log-probabilities (natural log).
    pub logprob: f64,
    /// Number of continuation tokens.
    pub tokens: u32,
    /// Whether every continuation token was the argmax (lm-eval's `is_greedy`).
    pub is_greedy: bool,
    /// Prompt processing time for this request, milliseconds.
    pub elapsed_ms: f64,
    /// Every token of the scored text, BOS aside, when the request asked for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_token: Vec<TokenLogprob>,
}
