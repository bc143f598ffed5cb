//! The seam between the HTTP service and inference. The binary implements
//! [`ChatBackend`] over the llama.cpp engine (models loaded on demand, least recently
//! used unloaded under a memory budget); tests implement it with a fake. Calls are
//! blocking: the HTTP layer runs them on the blocking pool, never on the executor.

use serde::{Deserialize, Serialize};

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    /// 0 means greedy.
    pub temperature: f32,
    pub seed: u32,
    pub stop: Vec<String>,
}

/// A finished completion.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatOutput {
    pub text: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub finish_reason: FinishReason,
}

/// Why a completion ended, as OpenAI names it (`stop`, `length`) in `finish_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended it (end of generation, a stop string, a satisfied constraint).
    Stop,
    /// `max_tokens` reached (or the context filled up).
    Length,
}

impl FinishReason {
    /// The word the OpenAI API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
        }
    }
}

/// A streamed piece of a completion.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// Text to append.
    Delta(String),
    /// The end, with the totals.
    Done(ChatOutput),
    /// Generation failed part-way.
    Failed(String),
    /// The model's engine crashed part-way (the cause).
    Crashed(String),
}

/// What the backend says about one model it runs, for `/v1/models` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRuntime {
    pub id: String,
    /// `loading`, `ready` or `crashed`.
    pub state: &'static str,
    /// Engine workers started after the first.
    pub restarts: u64,
    /// Engine deaths so far, and the last one's cause.
    pub crashes: usize,
    pub last_crash: Option<String>,
    /// Resident memory, measured where `measured`, else estimated.
    pub memory_bytes: u64,
    pub measured: bool,
    /// The engine worker's process id, where there is one.
    pub pid: Option<u32>,
}

/// The events of a streamed completion.
pub type ChatStream = Box<dyn Iterator<Item = ChatEvent> + Send>;

/// Why inference failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The model is registered but cannot be used (file missing, failed to load).
    #[error("model `{model}` is unavailable: {reason}")]
    Unavailable { model: String, reason: String },
    /// The request cannot be served by this model (prompt too long...).
    #[error("{0}")]
    BadRequest(String),
    #[error("inference failed: {0}")]
    Failed(String),
    /// The model's engine crashed (or hung and was killed) under the request.
    #[error("the engine running model `{model}` crashed: {cause}")]
    Crashed { model: String, cause: String },
}

impl BackendError {
    /// The model's engine is at fault (crashed, or would not load): cool it down.
    pub fn is_engine_failure(&self) -> bool {
        matches!(self, Self::Crashed { .. } | Self::Unavailable { .. })
    }
}

/// Runs chat completions on a named model. Implementations block; callers keep them
/// off the async executor.
pub trait ChatBackend: Send + Sync + 'static {
    fn complete(&self, model_id: &str, req: ChatRequest) -> Result<ChatOutput, BackendError>;
    /// Start a streamed completion. Iterating blocks until the next event; the last
    /// one is `Done` or `Failed`.
    fn stream(&self, model_id: &str, req: ChatRequest) -> Result<ChatStream, BackendError>;
    /// Models currently loaded (for `/v1/models` and metrics).
    fn loaded(&self) -> Vec<String> {
        Vec::new()
    }
    /// State of each model the backend has loaded or is loading.
    fn runtime(&self) -> Vec<ModelRuntime> {
        Vec::new()
    }
}
