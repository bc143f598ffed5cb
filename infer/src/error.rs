//! The one error type of running a model, whichever engine runs it. Callers (bench,
//! router) match on the variant to tell a bad model from a bad request from a broken
//! engine; messages name the value.

/// Everything that can go wrong running a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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
    /// The worker process running the model died or hung (see `isolated`): the
    /// request was not answered. `cause` says how: "SIGILL (Illegal instruction)",
    /// "hung: no answer for 120 s", with llama.cpp's last words when it left any.
    #[error("engine crashed: {cause}")]
    Crashed { cause: String },
    /// A remote server refused the request itself (a 4xx other than auth, not-found,
    /// timeout and rate limit): another model would refuse it too.
    #[error("the server refused the request: {0}")]
    Rejected(String),
    /// The engine cannot do this kind of request at all (a server without
    /// log-probabilities asked to score a continuation); the reason says why.
    #[error("not supported by this model's engine: {0}")]
    Unsupported(String),
}

/// How the engine says a model could not be loaded because its worker process died
/// while loading it; the cause follows.
pub const DIED_WHILE_LOADING: &str = "the engine worker died while loading it: ";

/// How a worker killed by an illegal instruction is described (see `isolated`): the
/// start of its crash cause, and of the reason a load it died in failed with.
pub const ILLEGAL_INSTRUCTION: &str = "SIGILL (Illegal instruction)";

impl EngineError {
    /// The engine's worker died of an illegal instruction, while loading or later:
    /// llama.cpp was built with instructions this CPU lacks, and a rebuild here fixes
    /// it.
    pub fn is_illegal_instruction(&self) -> bool {
        match self {
            Self::Crashed { cause } => cause.starts_with(ILLEGAL_INSTRUCTION),
            Self::Load { reason, .. } => reason
                .strip_prefix(DIED_WHILE_LOADING)
                .is_some_and(|cause| cause.starts_with(ILLEGAL_INSTRUCTION)),
            _ => false,
        }
    }

    /// The engine failed, not the request: its worker died or hung, the model could
    /// not be (re)loaded. A bench item that met one was not answered, so it must not
    /// be scored (a resume runs it again); a server may try another model.
    pub fn is_engine_failure(&self) -> bool {
        matches!(
            self,
            Self::WorkerGone
                | Self::Crashed { .. }
                | Self::Load { .. }
                | Self::BadModel { .. }
                | Self::Unavailable(_)
        )
    }
}
