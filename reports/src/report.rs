//! The report pipeline: load the inputs, aggregate the items with polars, build the
//! summary, draw the charts, render the page, and write it with its CSV files.

use std::fs;
use std::path::{Path, PathBuf};

use noa_registry::NoaHome;

use crate::aggregate::{self, ItemAggregates};
use crate::charts::ModelStyles;
use crate::error::{ReportError, Result};
use crate::figures::{self, Figures};
use crate::inputs::{self, Inputs};
use crate::options::{ReportOptions, ReportOutput};
use crate::summary::{self, Summary};
use crate::{export, html};

/// Everything the page shows, computed once.
#[derive(Debug, Clone)]
pub struct Report {
    pub generated_at: String,
    pub inputs: Inputs,
    pub items: ItemAggregates,
    pub summary: Summary,
    pub figures: Figures,
    pub warnings: Vec<String>,
    /// CSV file names (relative to the page) and what each holds.
    pub csv_files: Vec<(String, String)>,
}

/// Compute a report without writing anything.
pub fn compute(home: &NoaHome, options: &ReportOptions) -> Result<Report> {
    let inputs = inputs::load(home, &options.runs)?;
    let items = aggregate::aggregate(&inputs.runs)?;
    let summary = summary::build(&inputs, &items);
    let styles = ModelStyles::new(&summary.models);
    let figures = figures::draw(&summary, &items, inputs.replay.as_ref(), &styles)?;
    let mut warnings = inputs.warnings.clone();
    warnings.extend(summary.warnings.iter().cloned());
    Ok(Report {
        generated_at: now(),
        csv_files: export::file_list(&inputs),
        inputs,
        items,
        summary,
        figures,
        warnings,
    })
}

/// Build the report and write the HTML file and its CSV files.
pub fn build(home: &NoaHome, options: &ReportOptions) -> Result<ReportOutput> {
    let report = compute(home, options)?;
    let html_path = options.out.clone().unwrap_or_else(|| home.reports_dir().join("index.html"));
    let dir = match html_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| ReportError::io(&dir, e))?;
    let csv_paths = export::write_all(&dir, &report.inputs, &report.summary, &report.items)?;
    write_atomic(&html_path, html::render(&report)?.as_bytes())?;
    Ok(ReportOutput {
        html_path,
        csv_paths,
        runs: report.inputs.runs.iter().map(|r| r.id.clone()).collect(),
        models_measured: report.summary.measured_models(),
        failed_models: report.summary.failures.clone(),
        warnings: report.warnings,
    })
}

/// Write `bytes` to `path` through a temporary file in the same folder, so a reader
/// never sees half a report.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    noa_registry::atomic::write_atomic(path, bytes).map_err(|e| ReportError::io(e.path, e.source))
}

fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    t.format(&time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .unwrap_or_else(|_| t.to_string())
}
