//! The llama.cpp engine. A [`Model`] is a handle to one loaded GGUF, in this process
//! ([`LocalModel`]) or in a supervised worker process ([`isolated`]) so that a fault
//! in llama.cpp never takes the caller down. Inside, a worker thread owns the
//! llama.cpp context (contexts are not `Send`), callers talk to it over channels, and
//! many sequences are decoded together in one batch for throughput (continuous
//! batching). Every model file passes our own GGUF header check before llama.cpp sees
//! it, so a bad file is an error, never an abort.
//!
//! Operations: chat templates rendered from the GGUF's own Jinja template
//! ([`Model::render_chat`]), generation with stop strings, max tokens, temperature and
//! seed, GBNF / JSON-schema constraints and streaming ([`Model::generate`],
//! [`Model::generate_batch`], [`Model::generate_stream`]), continuation log-likelihoods
//! ([`Model::loglikelihood_batch`]), llama-bench style throughput ([`Model::speed`]),
//! and a memory-bounded pool of loaded models for the router ([`ModelPool`]).

mod backend;
mod error;
mod generate;
mod handle;
pub mod header;
pub mod isolated;
pub mod json_schema;
mod loglik;
mod model;
pub mod pool;
mod prefix;
mod sampler;
mod shared;
mod speed;
mod template;
mod text;
pub mod types;
mod worker;

pub use error::EngineError;
pub use handle::Model;
pub use isolated::{WorkerState, worker_main};
pub use json_schema::json_schema_to_gbnf;
pub use model::LocalModel;
pub use noa_infer::{EventStream, ModelBackend, ModelRuntime, first_json_object_end};
pub use pool::{ModelPool, PoolBudget};
pub use speed::SpeedRequest;
pub use template::TemplateKind;
pub use types::*;

/// The fault switch for engine workers (see [`isolated::fault`]).
pub const FAULT_ENV: &str = noa_registry::env_vars::NOA_ENGINE_FAULT;

/// Version of ggml inside the pinned `llama-cpp-sys-2` (from its `ggml/CMakeLists.txt`).
const GGML_VERSION: &str = "0.26.0";

/// Identifies the llama.cpp build (binding version, ggml version, backend), used as
/// the `engine_build` part of measurement keys. Stable across runs on one build.
pub fn engine_build() -> String {
    let mut backends: Vec<String> = llama_cpp_2::list_llama_ggml_backend_devices()
        .into_iter()
        .map(|d| d.backend.to_lowercase())
        .collect();
    backends.sort();
    backends.dedup();
    if backends.is_empty() {
        backends.push("cpu".into());
    }
    format!("llama-cpp-2-0.1.160+ggml-{GGML_VERSION}+{}", backends.join("-"))
}

/// llama.cpp's account of this build and machine: the CPU features its kernels were
/// compiled to use (`AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | ...`) and its backends.
/// Run it in a worker (`noa doctor` does) when the build is in doubt.
#[allow(unsafe_code)]
pub fn system_info() -> Result<String, EngineError> {
    backend::backend()?;
    // SAFETY: llama.cpp returns a pointer to its own static NUL-terminated buffer (or
    // null); it is read at once and never freed or kept.
    let p = unsafe { llama_cpp_sys_2::llama_print_system_info() };
    if p.is_null() {
        return Ok(String::new());
    }
    // SAFETY: non-null and NUL-terminated, as above.
    Ok(unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().trim().to_owned())
}
