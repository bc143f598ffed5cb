//! Evaluation: suites, their scorers, and the batched, resumable runner that turns
//! model answers into measurements in the registry.

pub mod kind;
