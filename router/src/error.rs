//! Errors of the router library. Each names the offending value in backticks so an
//! agent (or a person reading `noa route`) can see what to change; the HTTP layer maps
//! them to OpenAI-shaped JSON errors with a status code.

use crate::decision::RejectedModel;

/// Why no decision could be made.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// A requirement is out of range (negative latency, quality above 1, NaN...).
    #[error("invalid requirement `{field}`: {reason}")]
    InvalidRequirements { field: &'static str, reason: String },
    /// The hard constraints left no model. `constraint` is the one that emptied the set.
    #[error("{message}")]
    NoCandidate { constraint: &'static str, message: String, rejected: Vec<RejectedModel> },
}

/// Why feedback was not recorded. No error changes any state.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error("reward `{0}` is not a number in [0, 1]")]
    RewardOutOfRange(f64),
    #[error("observed latency `{0}` ms is not a finite, non-negative number")]
    BadLatency(f64),
    #[error("decision `{0}` is unknown (never made here, or too old to be remembered)")]
    UnknownDecision(String),
    #[error("decision `{0}` already has feedback; each decision takes feedback once")]
    AlreadyRecorded(String),
    #[error("feedback log could not be written: {0}")]
    Store(#[from] StoreError),
    /// The shared state (Redis) could not take the feedback; nothing was recorded, so
    /// the caller may send it again once Redis is back.
    #[error(
        "feedback was not recorded: the shared router state is unavailable ({0}); send it again once Redis is back"
    )]
    Unavailable(#[from] SharedError),
}

/// Failures of the shared router state in Redis (`noa serve --state redis://...`).
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("{0}")]
    BadUrl(String),
    #[error("Redis is unreachable: {0}")]
    Io(String),
    #[error("Redis refused a command: {0}")]
    Command(String),
    #[error("Redis sent an unexpected reply: {0}")]
    Protocol(String),
    #[error("the shared state in Redis does not parse: {0}")]
    Corrupt(String),
}

/// Persistence failures of the feedback log, decision log and snapshot.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` line {line}: {reason}")]
    Corrupt { path: String, line: usize, reason: String },
    /// A record or snapshot that could not be turned into JSON; nothing was written.
    #[error("`{path}`: cannot serialise the record: {reason}")]
    Serialise { path: String, reason: String },
    /// Another process (a second `noa serve`) holds the router folder's lock.
    #[error("`{path}` is in use by another `noa serve`")]
    Busy { path: String },
    /// The snapshot could not be stored in the shared state (Redis).
    #[error("shared state: {0}")]
    Shared(#[from] SharedError),
}

impl StoreError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        StoreError::Io { path: path.display().to_string(), source }
    }

    pub(crate) fn serialise(path: &std::path::Path, e: serde_json::Error) -> Self {
        StoreError::Serialise { path: path.display().to_string(), reason: e.to_string() }
    }
}
