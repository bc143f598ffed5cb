//! The engine's request and result types: what `bench` and `router` send to a loaded
//! model and what comes back. Kept free of llama.cpp types so callers (and fakes in
//! tests) need nothing from the binding.

use serde::{Deserialize, Serialize};

/// How to load a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Threads for generation and for prompt processing (default: available cores).
    pub threads: u32,
    /// Context size per sequence, tokens. The context holds `n_ctx * n_seq_max` tokens.
    pub n_ctx: u32,
    /// Most sequences decoded together in one batch.
    pub n_seq_max: u32,
    /// Logical batch size for prompt processing, tokens.
    pub n_batch: u32,
    /// Layers offloaded to a GPU backend (0 on CPU builds).
    pub gpu_layers: u32,
    /// Reuse a finished request's prompt KV cells for the next prompt sharing their
    /// prefix (multi-turn chats, few-shot preambles, a long shared system prompt).
    /// Faster (2.1x on the agent and GSM8K suites here), but not bit-reproducible:
    /// llama.cpp's logits depend slightly on how a prompt is split into decode calls,
    /// enough to flip near-tied greedy tokens (14 of 32 outputs differed, 31 of 32
    /// scores agreed; llama.cpp's server documents the same for `cache_prompt`). So
    /// it is off by default and in `noa bench` (a score must not depend on what ran
    /// before the item), and on in `noa serve`, where latency counts.
    #[serde(default)]
    pub prefix_cache: bool,
    /// Decode a prompt prefix that many requests declare they share
    /// ([`GenerateRequest::shared_prefix`]: a few-shot preamble, a system prompt, a tool
    /// list) once, alone, in a sequence of its own, and copy its KV cells to each of
    /// those requests. Unlike `prefix_cache`, a request's cells then do not depend on
    /// what ran before it: they are always the same decode of the same tokens, so
    /// `noa bench` uses it. Takes one more sequence's worth of context.
    #[serde(default)]
    pub prefix_share: bool,
    /// Flash attention: llama.cpp's `auto` (on wherever the backend has it), or forced.
    #[serde(default)]
    pub flash_attn: FlashAttention,
    /// Run the model in a supervised worker process started with this command (see
    /// [`WorkerCommand`]), so a fault in llama.cpp kills the worker, not the caller.
    /// `None`: in this process. Not part of the config's identity (not serialised).
    #[serde(skip)]
    pub worker: Option<WorkerCommand>,
}

/// How to start an engine worker process: a program (the `noa` binary itself) and the
/// arguments that put it in worker mode, where it calls [`worker_main`](crate::worker_main).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    pub program: std::path::PathBuf,
    pub args: Vec<String>,
    /// A worker silent this long while requests wait on it is taken as hung and killed.
    pub hang_timeout: std::time::Duration,
    /// Extra environment for the worker (e.g. `NOA_ENGINE_FAULT` for one model).
    pub env: Vec<(String, String)>,
}

impl WorkerCommand {
    /// Default hang timeout: long enough for a log-likelihood batch or a speed test,
    /// which report nothing until done.
    pub const DEFAULT_HANG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

    /// This very executable, with `args` selecting its worker mode.
    pub fn current_exe(args: &[&str]) -> std::io::Result<Self> {
        Ok(Self {
            program: std::env::current_exe()?,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            hang_timeout: Self::DEFAULT_HANG_TIMEOUT,
            env: Vec::new(),
        })
    }
}

/// llama.cpp's flash-attention policy. On this project's 2-core CPU machine,
/// llama.cpp's own `llama-batched-bench` generates 20-40% faster with it off for
/// SmolLM2-135M (and about the same for Gemma 3 270M), and with it off a batched
/// `noa bench` gave outputs identical to one-at-a-time runs (32 of 32, against 5 of
/// 32 with it on). So `noa bench` and `noa serve` turn it off; `noa speed` keeps
/// `auto`, as `llama-bench` does, so the two compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlashAttention {
    #[default]
    Auto,
    On,
    Off,
}

impl FlashAttention {
    pub(crate) fn llama(self) -> llama_cpp_sys_2::llama_flash_attn_type {
        use llama_cpp_sys_2 as sys;
        match self {
            Self::Auto => sys::LLAMA_FLASH_ATTN_TYPE_AUTO,
            Self::On => sys::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            Self::Off => sys::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        }
    }
}

impl std::str::FromStr for FlashAttention {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            _ => Err(format!("`{s}` is not a flash-attention policy: use auto, on or off")),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        Self {
            threads,
            n_ctx: 2048,
            n_seq_max: 8,
            n_batch: 512,
            gpu_layers: 0,
            prefix_cache: false,
            prefix_share: false,
            flash_attn: FlashAttention::Auto,
            worker: None,
        }
    }
}

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
    /// it then fails with [`EngineError::DeadlinePassed`](crate::EngineError) and its
    /// sequence slot is freed at once.
    #[serde(skip)]
    pub deadline: Option<std::time::Instant>,
    /// How many leading bytes of the rendered prompt other requests share (see
    /// [`EngineConfig::prefix_share`]). The engine shares the tokens of the prompt that
    /// these bytes tokenize to on their own, so a boundary inside a word costs nothing
    /// but a token. Ignored when sharing is off or the prefix is short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_prefix: Option<u32>,
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
}

/// Facts about a loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub path: String,
    pub load_ms: f64,
    pub n_ctx_train: u32,
    pub n_vocab: u32,
    pub n_params: u64,
    pub size_bytes: u64,
    /// The GGUF's `tokenizer.chat_template`, if any.
    pub chat_template: Option<String>,
    pub config: EngineConfig,
}

/// llama-bench style throughput figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedResult {
    /// Prompt tokens per test (llama-bench `-p`), 0 when not run.
    pub n_prompt: u32,
    /// Generated tokens per test (llama-bench `-n`), 0 when not run.
    pub n_gen: u32,
    pub threads: u32,
    pub repetitions: u32,
    /// tokens/s mean and standard deviation over repetitions.
    pub pp_tps_mean: f64,
    pub pp_tps_stddev: f64,
    pub tg_tps_mean: f64,
    pub tg_tps_stddev: f64,
}
