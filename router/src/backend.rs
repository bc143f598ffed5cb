//! The seam between the HTTP service and inference: [`Backends`] hands the service a
//! [`ModelBackend`] for a model id — the interface `noa bench` runs models through
//! too. The binary implements it over the llama.cpp engine (models loaded on demand,
//! least recently used unloaded under a memory budget); tests implement it with
//! fakes. Calls are blocking: the HTTP layer runs them on the blocking pool, never on
//! the executor.

use std::sync::Arc;

pub use noa_infer::{
    ChatMessage, EngineError, EventStream, FinishReason, GenerateRequest, Generation,
    LoglikelihoodRequest, ModelBackend, ModelRuntime, Prompt, StreamEvent, TokenLogprob,
};

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
    /// What an engine's failure on `model` means to the service: its engine at fault
    /// (crashed, gone, would not load), the request at fault (too long for the
    /// context), or inference failing otherwise.
    pub fn engine(model: &str, e: EngineError) -> Self {
        let model = model.to_owned();
        match e {
            EngineError::Crashed { cause } => Self::Crashed { model, cause },
            EngineError::WorkerGone => Self::Crashed { model, cause: e.to_string() },
            EngineError::PromptTooLong { .. }
            | EngineError::Rejected(_)
            | EngineError::Unsupported(_) => Self::BadRequest(e.to_string()),
            EngineError::BadModel { .. }
            | EngineError::Load { .. }
            | EngineError::Unavailable(_) => Self::Unavailable { model, reason: e.to_string() },
            other => Self::Failed(other.to_string()),
        }
    }

    /// The model's engine is at fault (crashed, or would not load): cool it down.
    pub fn is_engine_failure(&self) -> bool {
        matches!(self, Self::Crashed { .. } | Self::Unavailable { .. })
    }
}

/// The models the service can run, by id. Implementations block; callers keep them
/// off the async executor.
pub trait Backends: Send + Sync + 'static {
    /// The model behind `model_id`, loaded (or connected to) if it is not yet.
    fn model(&self, model_id: &str) -> Result<Arc<dyn ModelBackend>, BackendError>;
    /// Models currently loaded (for `/v1/models` and metrics).
    fn loaded(&self) -> Vec<String> {
        Vec::new()
    }
    /// State of each model the backend has loaded or is loading.
    fn runtime(&self) -> Vec<ModelRuntime> {
        Vec::new()
    }
}
