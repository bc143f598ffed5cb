//! The engine's one error type. Callers (bench, router) match on the variant to tell
//! a bad model from a bad request from a broken worker; messages name the value.

/// Everything that can go wrong in the engine.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    #[error("the request's deadline passed before it finished")]
    DeadlinePassed,
    #[error("engine not available: {0}")]
    Unavailable(String),
}
