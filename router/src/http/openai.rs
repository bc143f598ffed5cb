//! The OpenAI chat-completions wire format, as much of it as a local model can honour:
//! messages (string or text-part content), `max_tokens`/`max_completion_tokens`,
//! `temperature`, `seed`, `stop`, `stream` (+ `stream_options.include_usage`); and the
//! text completions of `/v1/completions` (one `prompt`, `echo`, `logprobs`). Fields
//! clients commonly send that do not apply here are accepted and ignored; a wrong type
//! for a field that does apply is a 400. The `noa` extension field carries routing
//! requirements for `"model": "auto"`.

use noa_registry::{PrivacyTier, UseCase};
use serde::Deserialize;

use crate::requirements::{PolicyKind, de_use_case};

fn de_opt_use_case<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<UseCase>, D::Error> {
    de_use_case(d).map(Some)
}

/// `POST /v1/chat/completions` body.
#[derive(Debug, Deserialize)]
pub struct ChatCompletionRequest {
    pub model: String,
    pub messages: Vec<InMessage>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    pub stop: Option<Stop>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub n: Option<u32>,
    /// noa's routing requirements for `"model": "auto"`.
    #[serde(default)]
    pub noa: Option<NoaOptions>,
}

/// `POST /v1/completions` body.
#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
    pub model: String,
    pub prompt: PromptIn,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    pub stop: Option<Stop>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub n: Option<u32>,
    /// Put the prompt before the completion (with `max_tokens` 0: score the prompt).
    #[serde(default)]
    pub echo: Option<bool>,
    /// Log-probabilities of the echoed prompt's tokens (top 1 alternative).
    #[serde(default)]
    pub logprobs: Option<u32>,
    #[serde(default)]
    pub noa: Option<NoaOptions>,
}

/// One prompt, as a string or an array holding one string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PromptIn {
    One(String),
    Many(Vec<String>),
}

/// A message as clients send it.
#[derive(Debug, Deserialize)]
pub struct InMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
}

/// String content, or an array of typed parts (only text parts are supported).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s],
            Stop::Many(v) => v,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// Routing requirements in a chat request (all optional; `use_case` defaults to the
/// server's default, normally `general`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoaOptions {
    #[serde(default, deserialize_with = "de_opt_use_case")]
    pub use_case: Option<UseCase>,
    #[serde(default)]
    pub privacy: Option<PrivacyTier>,
    #[serde(default)]
    pub min_quality: Option<f64>,
    #[serde(default)]
    pub max_latency_ms: Option<f64>,
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub deny: Vec<String>,
    #[serde(default)]
    pub policy: Option<PolicyKind>,
    #[serde(default)]
    pub features: Vec<f64>,
}
