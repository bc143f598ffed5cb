//! The router: which local model should answer this request? Hard constraints first
//! (use case, privacy tier, memory fit, predicted p95 latency, quality lower bound),
//! then a policy among the survivors — Thompson sampling on priors built from `noa
//! bench` measurements (the default), LinUCB over request features, or the greedy,
//! random and round-robin baselines. Feedback updates the posteriors and the latency
//! model and is fsynced before it is acknowledged (or, for replicas sharing their state,
//! committed to Redis: [`shared`]). `replay` scores policies offline on
//! recorded per-item outcomes, and `http` serves it all, including an
//! OpenAI-compatible chat endpoint, over axum. Inference is behind
//! [`backend::Backends`] and the shared [`noa_infer::ModelBackend`] interface, so
//! this crate never needs a model or an engine.

pub mod backend;
pub mod config;
pub mod decision;
pub mod error;
mod feedback;
pub mod http;
pub mod policy;
pub mod replay;
pub mod requirements;
mod router;
pub mod shared;
pub mod store;
pub mod table;
pub mod testing;

pub use backend::{BackendError, Backends, ModelBackend};
pub use config::RouterConfig;
pub use decision::{Decision, QualitySource, RankedCandidate, RejectedModel, Rejection};
pub use error::{FeedbackError, RouteError, SharedError, StoreError};
pub use feedback::{FeedbackAck, ModelStats};
pub use requirements::{PolicyKind, TaskRequirements};
pub use router::Router;
