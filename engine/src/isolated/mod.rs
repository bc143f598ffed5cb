//! llama.cpp out of the caller's process. llama.cpp is C++: it can abort
//! (`GGML_ASSERT`), fault (an illegal instruction in a kernel its build misjudged), or
//! be killed for memory, and any of these ends the process it runs in. So, as Ollama,
//! LM Studio and llama-swap do, each loaded model can live in a worker process: the
//! `noa` binary in worker mode, running a [`LocalModel`](crate::LocalModel) and
//! talking JSON lines over its stdin/stdout ([`protocol`]). The parent's
//! [`WorkerModel`] supervises it: a worker that dies or goes silent fails the requests
//! it held with [`EngineError::Crashed`](crate::EngineError) naming the signal, and
//! the next request starts a fresh worker. `NOA_ENGINE_FAULT` makes a worker fail on
//! purpose, for tests ([`fault`]).

pub mod fault;
mod memory;
pub(crate) mod protocol;
mod supervisor;
mod worker_main;

pub use memory::resident_bytes;
pub use supervisor::{WorkerModel, WorkerState};
pub use worker_main::worker_main;
