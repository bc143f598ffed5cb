//! The interface between noa's measuring and routing and whatever runs a model. Bench
//! and serve depend on this crate, not on an engine: the llama.cpp engine
//! (`noa-engine`) implements [`ModelBackend`] for local GGUF files, and the same trait
//! is the seam for a remote OpenAI-compatible server and for fakes in tests.

mod backend;
mod error;
pub mod json_end;
pub mod types;

pub use backend::{EventStream, ModelBackend, ModelRuntime};
pub use error::{DIED_WHILE_LOADING, EngineError, ILLEGAL_INSTRUCTION};
pub use json_end::{JsonObjectEnd, first_json_object_end};
pub use types::*;
