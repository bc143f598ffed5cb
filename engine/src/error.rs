//! The engine's error type is the interface's ([`noa_infer::EngineError`]), so bench
//! and serve handle a local engine's failures and a remote server's alike. The crash
//! descriptions the supervisor writes are defined beside it, where the predicates that
//! read them live.

pub use noa_infer::{DIED_WHILE_LOADING, EngineError, ILLEGAL_INSTRUCTION};
