//! The one process-wide llama.cpp backend. `LlamaBackend::init` fails when called a
//! second time in a process (tests load models from parallel threads), so it lives in
//! a `OnceLock`. llama.cpp's own chatter (it warns about things users cannot change)
//! is dropped unless the tracing filter enables debug output for target `llama-cpp-2`
//! (`-vv`, or `RUST_LOG=llama-cpp-2=debug`), in which case it goes to tracing.

use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::{LogOptions, send_logs_to_tracing};

use crate::EngineError;

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The initialised backend, initialising it (and the log redirection) on first use.
pub(crate) fn backend() -> Result<&'static LlamaBackend, EngineError> {
    let backend = BACKEND.get_or_init(|| {
        let wanted = tracing::enabled!(target: "llama-cpp-2", tracing::Level::DEBUG);
        send_logs_to_tracing(LogOptions::default().with_logs_enabled(wanted));
        LlamaBackend::init().map_err(|e| e.to_string())
    });
    backend.as_ref().map_err(|e| EngineError::Unavailable(format!("llama.cpp backend: {e}")))
}
