//! Evaluation: suites, their scorers, and the batched, resumable runner that turns
//! model answers into measurements in the registry.
//!
//! - [`suite`]: the `suite.toml` format, finding suites, reading their data.
//! - [`kind`]: the seam between task kinds and the runner; [`kinds`]: the kinds.
//! - [`runner`]: batched, resumable, cached runs writing `runs/<id>/`.
//! - [`aggregate`]: per-item records into registry measurements.
//! - [`pull`]: fetching external suite data (`noa evalsets pull`).

pub mod aggregate;
pub mod decide;
pub mod kind;
pub mod kinds;
pub mod pull;
pub mod runner;
pub mod suite;

pub use runner::{Allocation, Progress, RunError, RunOptions, RunReport, run};
