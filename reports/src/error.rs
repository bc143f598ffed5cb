//! Why a report could not be written. Every variant names the file or value at fault,
//! so the CLI can print it as is; bad data *inside* runs (an unreadable line, a
//! missing manifest) is not an error but a warning shown in the report itself.

use std::path::PathBuf;

/// A report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `models.json` exists but is not a valid registry; it is left untouched.
    #[error("registry `{path}` could not be read: {message} (line {line}, column {column})")]
    Registry { path: PathBuf, line: usize, column: usize, message: String },
    /// `--run <id>` named a run that has no folder under `runs/`.
    #[error("run `{id}` not found in `{runs_dir}` (runs there: {available})")]
    RunNotFound { id: String, runs_dir: PathBuf, available: String },
    /// A file the report needs could not be read or written.
    #[error("`{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// polars failed while aggregating per-item records.
    #[error("aggregating per-item records failed: {0}")]
    Aggregate(#[from] polars::error::PolarsError),
    /// plotters failed to draw a chart.
    #[error("drawing chart `{chart}` failed: {message}")]
    Chart { chart: String, message: String },
    /// A page template failed to render: a fault in noa's templates, not in the data.
    #[error("rendering the report page failed: {message}")]
    Render { message: String },
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io { path: path.into(), source }
    }

    /// True when the cause is something the user can fix (a bad `--run`, a broken
    /// registry file) rather than a fault inside noa.
    pub fn is_user_error(&self) -> bool {
        matches!(self, ReportError::Registry { .. } | ReportError::RunNotFound { .. })
    }
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;
