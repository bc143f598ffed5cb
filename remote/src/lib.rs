//! A blocking client for OpenAI-compatible servers (llama-server, vLLM, Ollama, TGI, a
//! hosted API, another `noa serve`), so `noa bench` can measure remote models and
//! `noa serve` can forward to them.
//!
//! - [`RemoteClient::list_models`]: `GET {endpoint}/models`;
//! - [`RemoteClient::chat_stream`] / [`RemoteClient::completion_stream`]: streamed
//!   `POST /chat/completions` and `POST /completions`, each text delta stamped with the
//!   client-side [`std::time::Instant`] it arrived at, so time to first token and
//!   inter-token gaps are measured at the client, network included;
//! - [`RemoteClient::chat`]: one non-streamed answer; [`RemoteClient::verify`]: is the
//!   model listed, and does it answer;
//! - [`RemoteClient::score`]: a prompt's tokens scored (`echo` + `logprobs`), for
//!   multiple choice by log-likelihood.
//!
//! Failures are a typed [`RemoteError`]: connection errors, 429 and 5xx answers are
//! retried with exponential backoff and jitter (honouring `Retry-After`) only *before*
//! any byte of the answer arrived; a stream cut half-way is an error that says so, never
//! a silently shorter text. Every request has a deadline; a stream that goes silent for
//! longer than the stall timeout is cut.
//!
//! Blocking, over an async client: the callers are plain threads (bench) and tokio's
//! blocking pool (serve). Each [`RemoteClient`] owns a one-worker tokio runtime that
//! drives reqwest's connections, and callers block on it; unlike `reqwest::blocking`
//! (one timeout applied per read) this lets the whole-request deadline and the
//! per-chunk stall timeout be enforced exactly with tokio timers. Call it from a plain
//! thread or `spawn_blocking`, never from inside an async task.

mod backend;
mod client;
mod config;
mod error;
mod retry;
mod sse;
mod stream;
mod wire;

pub use backend::{RemoteBackend, engine_error};
pub use client::{RemoteClient, Verification};
pub use config::ClientConfig;
pub use error::RemoteError;
pub use stream::{StreamEnd, StreamEvent, TextStream};
pub use wire::{
    ChatRequest, Completion, CompletionRequest, Message, PromptScores, Sampling, ServedModel, Usage,
};
