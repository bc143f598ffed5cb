//! `noa report`: one self-contained HTML file that shows, at a glance, which local model
//! wins each use case on this machine, at what latency, and how the routing policies
//! compare — with the evidence behind every number.
//!
//! Inputs are files under `NOA_HOME`: the registry (`models.json`, whose measurements
//! are the authoritative per (model, suite) figures), the bench runs
//! (`runs/<id>/manifest.json` + `items.jsonl`, the per-item evidence and distributions,
//! aggregated with polars), `router/replay.json` and the router's feedback log. Charts
//! are inline SVG drawn with plotters; nothing on the page is fetched from a network.
//! The tables are also written as CSV beside the page. This crate never calls the engine.

mod aggregate;
mod charts;
mod error;
mod export;
mod feedback;
mod figures;
mod html;
mod inputs;
mod options;
mod report;
mod stats;
mod summary;

pub use error::{ReportError, Result};
pub use feedback::FEEDBACK_FILE;
pub use options::{ReportOptions, ReportOutput, RunSelection};
pub(crate) use report::Report;
pub use report::build;
