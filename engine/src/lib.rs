//! The llama.cpp engine. A [`Model`] is a handle to one loaded GGUF: a worker thread
//! owns the llama.cpp context (contexts are not `Send`), callers talk to it over
//! channels, and many sequences are decoded together in one batch for throughput.
//! Every model file passes our own GGUF header check before llama.cpp sees it, so a
//! bad file is an error, never an abort.
//!
//! CONTRACT (kept stable for `bench` and `router`; implementation in progress):
//! the public signatures below and the types in [`types`].

pub mod types;

use std::path::Path;

pub use types::*;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("model file `{path}` is not a usable GGUF: {reason}")]
    BadModel { path: String, reason: String },
    #[error("llama.cpp failed to load `{path}`: {reason}")]
    Load { path: String, reason: String },
    #[error("prompt of {tokens} tokens does not fit the context of {n_ctx} tokens")]
    PromptTooLong { tokens: u32, n_ctx: u32 },
    #[error("chat template could not be rendered: {0}")]
    Template(String),
    #[error("invalid constraint: {0}")]
    Constraint(String),
    #[error("decode failed: {0}")]
    Decode(String),
    #[error("the model's worker thread has stopped")]
    WorkerGone,
    #[error("engine not available: {0}")]
    Unavailable(String),
}

/// A loaded model. Cheap to clone; all clones talk to the same worker thread. The
/// worker stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Model {
    info: std::sync::Arc<ModelInfo>,
}

impl Model {
    /// Check the GGUF header, then load the model and create its context on a new
    /// worker thread. Blocking.
    pub fn load(path: &Path, config: &EngineConfig) -> Result<Model, EngineError> {
        let _ = config;
        Err(EngineError::Unavailable(format!("loading `{}`: not built yet", path.display())))
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Render `messages` with the model's own chat template, generation prompt appended.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        let _ = messages;
        Err(EngineError::WorkerGone)
    }

    /// One request, blocking until done.
    pub fn generate(&self, request: GenerateRequest) -> Result<Generation, EngineError> {
        let _ = request;
        Err(EngineError::WorkerGone)
    }

    /// Many requests decoded together (up to `n_seq_max` at a time); results in order.
    pub fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>> {
        requests.into_iter().map(|_| Err(EngineError::WorkerGone)).collect()
    }

    /// Stream one request's tokens; the last event is `Done` or `Failed`.
    pub fn generate_stream(
        &self,
        request: GenerateRequest,
    ) -> Result<std::sync::mpsc::Receiver<StreamEvent>, EngineError> {
        let _ = request;
        Err(EngineError::WorkerGone)
    }

    /// Log-likelihood of each continuation, batched; results in order.
    pub fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        requests.into_iter().map(|_| Err(EngineError::WorkerGone)).collect()
    }

    /// llama-bench style pp/tg measurement (`n_prompt` 0 or `n_gen` 0 skips that test).
    pub fn speed(
        &self,
        n_prompt: u32,
        n_gen: u32,
        repetitions: u32,
    ) -> Result<SpeedResult, EngineError> {
        let _ = (n_prompt, n_gen, repetitions);
        Err(EngineError::WorkerGone)
    }
}

/// Identifies the llama.cpp build (binding version, ggml version, backend), used as
/// the `engine_build` part of measurement keys.
pub fn engine_build() -> String {
    "llama-cpp-2-0.1.160".to_owned()
}
