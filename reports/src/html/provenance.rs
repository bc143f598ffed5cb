//! The provenance of every number: the run manifests with model hashes, suite
//! versions, engine build and hardware, the registry measurements used, and the CSV
//! files written beside the page.

use noa_registry::runs::{RunManifest, RunModel, RunSuite};
use serde::Serialize;

use super::or_dash;
use crate::Report;
use crate::charts::fmt_ms;
use crate::inputs::RunData;
use crate::summary::Source;

/// The `provenance` section: every selected run, then where the summary's figures
/// came from.
#[derive(Serialize)]
pub struct Provenance {
    runs: Vec<Run>,
    /// (model, suite) figures the summary uses, and how many came from where.
    figures: usize,
    from_registry: usize,
    from_items: usize,
}

#[derive(Serialize)]
struct Run {
    id: String,
    /// Item records read.
    items: usize,
    manifest: Option<Manifest>,
}

#[derive(Serialize)]
struct Manifest {
    started_at: String,
    finished_at: String,
    engine_build: String,
    hardware: Hardware,
    models: Vec<ModelRow>,
    suites: Vec<SuiteRow>,
    /// Item records reused from earlier identical runs.
    cached: usize,
    notes: Vec<String>,
    /// The run's settings as indented JSON.
    settings: String,
}

#[derive(Serialize)]
struct Hardware {
    cpu: String,
    cores: u32,
    /// `62.7 GiB`.
    memory: String,
    gpu: String,
    os: String,
    id: String,
}

#[derive(Serialize)]
struct ModelRow {
    id: String,
    sha256: String,
    status: &'static str,
    error: Option<String>,
    load: String,
    peak_memory: String,
}

#[derive(Serialize)]
struct SuiteRow {
    id: String,
    version: String,
    use_case: String,
    items: u64,
    skipped: Option<String>,
}

pub fn provenance(r: &Report) -> Provenance {
    let figures = &r.summary.figures;
    let count = |source: Source| figures.iter().filter(|f| f.source == source).count();
    Provenance {
        runs: r.inputs.runs.iter().map(run).collect(),
        figures: figures.len(),
        from_registry: count(Source::Registry),
        from_items: count(Source::Items),
    }
}

fn run(run: &RunData) -> Run {
    Run {
        id: run.id.clone(),
        items: run.items.len(),
        manifest: run.manifest.as_ref().map(|m| manifest(m, run)),
    }
}

fn manifest(m: &RunManifest, run: &RunData) -> Manifest {
    let h = &m.hardware;
    Manifest {
        started_at: m.started_at.clone(),
        finished_at: m.finished_at.clone().unwrap_or_else(|| "not finished".into()),
        engine_build: m.engine_build.clone(),
        hardware: Hardware {
            cpu: h.cpu.clone(),
            cores: h.cores,
            memory: format!("{:.1} GiB", h.memory_bytes as f64 / (1u64 << 30) as f64),
            gpu: h.gpu.clone().unwrap_or_else(|| "none".into()),
            os: h.os.clone(),
            id: h.id.clone(),
        },
        models: m.models.iter().map(model_row).collect(),
        suites: m.suites.iter().map(suite_row).collect(),
        cached: run.items.iter().filter(|i| i.cached_from.is_some()).count(),
        notes: m.notes.clone(),
        settings: serde_json::to_string_pretty(&m.settings).unwrap_or_default(),
    }
}

fn model_row(x: &RunModel) -> ModelRow {
    ModelRow {
        id: x.id.clone(),
        sha256: x.sha256.clone(),
        status: x.status.as_str(),
        error: x.error.clone(),
        load: or_dash(x.load_ms.map(fmt_ms)),
        peak_memory: or_dash(
            x.peak_memory_bytes.map(|b| format!("{:.0} MiB", b as f64 / 1048576.0)),
        ),
    }
}

fn suite_row(s: &RunSuite) -> SuiteRow {
    SuiteRow {
        id: s.id.clone(),
        version: s.version.clone(),
        use_case: s.use_case.to_string(),
        items: s.items,
        skipped: s.skipped.clone(),
    }
}

/// A CSV file written beside the page (its name relative to the page) and what it holds.
#[derive(Serialize)]
pub struct CsvFile {
    name: String,
    what: String,
}

pub fn files(r: &Report) -> Vec<CsvFile> {
    r.csv_files
        .iter()
        .map(|(name, what)| CsvFile { name: name.clone(), what: what.clone() })
        .collect()
}
