//! The headline table: for every model and use case, the measured quality with its
//! interval, p95 latency and tokens/s, and which model wins each use case.
//!
//! Quality figures come from the registry's measurements, which are authoritative (they
//! are what the router uses); per-item aggregates stand in only for a (model, suite)
//! pair the registry lacks, and each figure says which source it came from. A use case
//! spread over several suites pools them weighted by item count; `general` pools
//! instruction following and Q&A.

use std::collections::{BTreeMap, BTreeSet};

use noa_registry::runs::RunModelStatus;
use noa_registry::{Latency, Measurement, Registry, UseCase};

use crate::aggregate::{ItemAggregates, SuiteScore};
use crate::inputs::Inputs;
use crate::options::RunSelection;
use crate::stats::{self, Interval};

/// Where a figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A measurement in `models.json`.
    Registry,
    /// Aggregated from `runs/<id>/items.jsonl` because the registry has none.
    Items,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Registry => "registry",
            Source::Items => "run items",
        }
    }
}

/// One model on one suite.
#[derive(Debug, Clone)]
pub struct SuiteFigure {
    pub model: String,
    pub suite: String,
    pub use_case: UseCase,
    pub quality: Option<Interval>,
    pub latency: Option<Latency>,
    pub e2e_p95_ms: Option<f64>,
    pub gen_tps: Option<f64>,
    pub prompt_tps: Option<f64>,
    pub run_id: String,
    pub engine_build: String,
    pub hardware: String,
    pub timestamp: String,
    pub peak_memory_bytes: Option<u64>,
    pub failure: Option<String>,
    pub source: Source,
}

/// One model on one use case.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub quality: Option<Interval>,
    pub e2e_p95_ms: Option<f64>,
    pub gen_tps: Option<f64>,
    pub prompt_tps: Option<f64>,
    pub suites: Vec<String>,
    pub sources: BTreeSet<&'static str>,
    /// `general` with only one of its two components measured.
    pub partial: bool,
    pub failure: Option<String>,
    pub best: bool,
}

/// The winner of one use case.
#[derive(Debug, Clone)]
pub struct Winner {
    pub model: String,
    pub quality: Interval,
    pub e2e_p95_ms: Option<f64>,
    pub runner_up: Option<(String, Interval)>,
}

impl Winner {
    /// True when the winner's interval lies wholly above the runner-up's.
    pub fn is_clear(&self) -> bool {
        self.runner_up.as_ref().is_none_or(|(_, r)| self.quality.low > r.high)
    }
}

/// The summary of a report.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub models: Vec<String>,
    pub cells: BTreeMap<(String, UseCase), Cell>,
    pub winners: BTreeMap<UseCase, Winner>,
    pub figures: Vec<SuiteFigure>,
    /// (model, reason) for every model that failed.
    pub failures: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

impl Summary {
    pub fn cell(&self, model: &str, uc: UseCase) -> Option<&Cell> {
        self.cells.get(&(model.to_owned(), uc))
    }
    pub fn measured_models(&self) -> usize {
        self.models
            .iter()
            .filter(|m| {
                UseCase::ALL.iter().any(|u| self.cell(m, *u).is_some_and(|c| c.quality.is_some()))
            })
            .count()
    }
}

/// Build the summary from the registry and the item aggregates.
pub fn build(inputs: &Inputs, items: &ItemAggregates) -> Summary {
    let mut s = Summary {
        figures: registry_figures(&inputs.registry, &inputs.selection),
        ..Summary::default()
    };
    let selected: BTreeSet<&str> = inputs.runs.iter().map(|r| r.id.as_str()).collect();
    for sc in &items.suites {
        match s.figures.iter().find(|f| f.model == sc.model && f.suite == sc.suite) {
            Some(f) => {
                if let Some(q) = f.quality.filter(|_| selected.contains(f.run_id.as_str()))
                    && (q.mean - sc.mean).abs() > 0.005
                {
                    s.warnings.push(format!(
                        "`{}` on `{}`: the registry says {:.3} but run `{}`'s items average {:.3}",
                        sc.model, sc.suite, q.mean, f.run_id, sc.mean
                    ));
                }
            }
            None => s.figures.push(item_figure(sc, inputs)),
        }
    }
    s.failures = failures(inputs, &s.figures);

    let mut models: BTreeSet<String> =
        inputs.registry.models.iter().map(|m| m.id.clone()).collect();
    models.extend(s.figures.iter().map(|f| f.model.clone()));
    models.extend(s.failures.iter().map(|(m, _)| m.clone()));
    for run in &inputs.runs {
        models.extend(run.manifest.iter().flat_map(|m| m.models.iter().map(|x| x.id.clone())));
    }
    s.models = models.into_iter().collect();

    for model in &s.models {
        let whole_failure = s.failures.iter().find(|(m, _)| m == model).map(|(_, r)| r.clone());
        for uc in UseCase::ALL {
            let mut cell = cell_for(&s.figures, model, uc);
            if cell.quality.is_none() && cell.failure.is_none() {
                cell.failure = whole_failure.clone();
            }
            s.cells.insert((model.clone(), uc), cell);
        }
    }
    for uc in UseCase::ALL {
        let mut ranked: Vec<(&String, Interval, Option<f64>)> = s
            .models
            .iter()
            .filter_map(|m| {
                let c = s.cells.get(&(m.clone(), uc))?;
                Some((m, c.quality?, c.e2e_p95_ms))
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.1.mean
                .total_cmp(&a.1.mean)
                .then(a.2.unwrap_or(f64::INFINITY).total_cmp(&b.2.unwrap_or(f64::INFINITY)))
        });
        if let Some((m, q, p95)) = ranked.first() {
            let winner = Winner {
                model: (*m).clone(),
                quality: *q,
                e2e_p95_ms: *p95,
                runner_up: ranked.get(1).map(|(m, q, _)| ((*m).clone(), *q)),
            };
            if let Some(c) = s.cells.get_mut(&((*m).clone(), uc)) {
                c.best = true;
            }
            s.winners.insert(uc, winner);
        }
    }
    s
}

/// The registry's measurements that the report uses: with `--run`, that run's only;
/// otherwise the latest per (model, suite).
fn registry_figures(reg: &Registry, sel: &RunSelection) -> Vec<SuiteFigure> {
    let selected = |m: &Measurement| match sel {
        RunSelection::Run(id) => &m.run_id == id,
        _ => true,
    };
    let mut figures = Vec::new();
    for model in &reg.models {
        for m in model.latest_per_suite(selected) {
            figures.push(SuiteFigure {
                model: model.id.clone(),
                suite: m.key.suite.clone(),
                use_case: m.use_case,
                quality: m.quality.as_ref().map(|q| Interval {
                    mean: q.mean,
                    n: q.n,
                    low: q.ci_low,
                    high: q.ci_high,
                }),
                e2e_p95_ms: m.latency.as_ref().map(|l| l.e2e_ms.p95),
                gen_tps: m.latency.as_ref().map(|l| l.gen_tps).filter(|v| *v > 0.0),
                prompt_tps: m.latency.as_ref().map(|l| l.prompt_tps).filter(|v| *v > 0.0),
                latency: m.latency.clone(),
                run_id: m.run_id.clone(),
                engine_build: m.key.engine_build.clone(),
                hardware: m.key.hardware.clone(),
                timestamp: m.timestamp.clone(),
                peak_memory_bytes: m.peak_memory_bytes,
                failure: m.failure.clone(),
                source: Source::Registry,
            });
        }
    }
    figures.sort_by(|a, b| (&a.model, &a.suite).cmp(&(&b.model, &b.suite)));
    figures
}

fn item_figure(sc: &SuiteScore, inputs: &Inputs) -> SuiteFigure {
    let run = inputs.runs.iter().rev().find(|r| r.items.iter().any(|i| i.model_id == sc.model));
    let manifest = run.and_then(|r| r.manifest.as_ref());
    SuiteFigure {
        model: sc.model.clone(),
        suite: sc.suite.clone(),
        use_case: sc.use_case,
        quality: Some(Interval { mean: sc.mean, n: sc.n, low: sc.ci_low, high: sc.ci_high }),
        latency: None,
        e2e_p95_ms: sc.e2e_p95_ms,
        gen_tps: sc.gen_tps,
        prompt_tps: sc.prompt_tps,
        run_id: run.map(|r| r.id.clone()).unwrap_or_default(),
        engine_build: manifest.map(|m| m.engine_build.clone()).unwrap_or_default(),
        hardware: manifest.map(|m| m.hardware.id.clone()).unwrap_or_default(),
        timestamp: manifest.map(|m| m.started_at.clone()).unwrap_or_default(),
        peak_memory_bytes: None,
        failure: None,
        source: Source::Items,
    }
}

/// Every failed model with its reason: from the selected runs' manifests and from
/// the registry's measurements in use.
fn failures(inputs: &Inputs, figures: &[SuiteFigure]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |m: &str, r: &str| {
        if !out.iter().any(|(om, or)| om == m && or == r) {
            out.push((m.to_owned(), r.to_owned()));
        }
    };
    for run in &inputs.runs {
        for m in run
            .manifest
            .iter()
            .flat_map(|m| &m.models)
            .filter(|m| m.status == RunModelStatus::Failed)
        {
            add(&m.id, m.error.as_deref().unwrap_or("failed (no reason recorded)"));
        }
    }
    for f in figures.iter().filter(|f| f.quality.is_none()) {
        if let Some(r) = &f.failure {
            add(&f.model, r);
        }
    }
    out
}

fn cell_for(figures: &[SuiteFigure], model: &str, uc: UseCase) -> Cell {
    let parts: Vec<&SuiteFigure> = figures
        .iter()
        .filter(|f| f.model == model && (f.use_case == uc || uc.components().contains(&f.use_case)))
        .collect();
    let measured: Vec<&SuiteFigure> =
        parts.iter().copied().filter(|f| f.quality.is_some()).collect();
    let mut cell = Cell {
        quality: stats::pool(&measured.iter().filter_map(|f| f.quality).collect::<Vec<_>>()),
        e2e_p95_ms: measured.iter().filter_map(|f| f.e2e_p95_ms).reduce(f64::max),
        gen_tps: weighted(&measured, |f| f.gen_tps),
        prompt_tps: weighted(&measured, |f| f.prompt_tps),
        suites: measured.iter().map(|f| f.suite.clone()).collect(),
        sources: measured.iter().map(|f| f.source.as_str()).collect(),
        failure: parts.iter().find_map(|f| f.failure.clone()).filter(|_| measured.is_empty()),
        ..Cell::default()
    };
    if uc.components().len() > 1 && cell.quality.is_some() {
        cell.partial = uc.components().iter().any(|c| !measured.iter().any(|f| f.use_case == *c));
    }
    cell
}

fn weighted(figs: &[&SuiteFigure], value: impl Fn(&SuiteFigure) -> Option<f64>) -> Option<f64> {
    let (sum, w) = figs.iter().fold((0.0, 0.0), |(s, w), f| match (value(f), f.quality) {
        (Some(v), Some(q)) => (s + v * q.n.max(1) as f64, w + q.n.max(1) as f64),
        _ => (s, w),
    });
    (w > 0.0).then(|| sum / w)
}
