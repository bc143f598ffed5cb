//! What the caller asks for (`ReportOptions`) and what it gets back (`ReportOutput`).

use std::path::PathBuf;

/// Which bench runs supply the per-item evidence (charts of distributions, CSVs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RunSelection {
    /// The most recently started run (the default).
    #[default]
    Latest,
    /// One run by id; the summary then also uses only that run's measurements.
    Run(String),
    /// Every run under `runs/`.
    All,
}

/// Options of one report.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    pub runs: RunSelection,
    /// Where to write the HTML; default `NOA_HOME/reports/index.html`. The CSV files go
    /// beside it.
    pub out: Option<PathBuf>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    pub html_path: PathBuf,
    pub csv_paths: Vec<PathBuf>,
    /// Runs whose items were read.
    pub runs: Vec<String>,
    /// Models with at least one measured quality figure in the summary.
    pub models_measured: usize,
    /// Models that failed in the selected runs or in the registry, with the reason.
    pub failed_models: Vec<(String, String)>,
    /// Problems with the inputs that did not stop the report (also shown in it).
    pub warnings: Vec<String>,
}
