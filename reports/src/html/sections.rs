//! The plain sections: the header, the alerts (failed models, unfinished runs, notes
//! on the inputs), the summary table of measured figures, and (apart, labelled) the
//! declared priors.

use noa_registry::UseCase;
use serde::Serialize;

use super::{or_dash, use_case_title};
use crate::Report;
use crate::charts::{fmt_ms, fmt_num};
use crate::summary::Cell;

/// The page header: when, from how many items of which runs, on what machine.
#[derive(Serialize)]
pub struct Header {
    items: usize,
    runs: Vec<String>,
    host: Option<Host>,
}

#[derive(Serialize)]
struct Host {
    cpu: String,
    cores: u32,
}

pub fn header(r: &Report) -> Header {
    let host = r
        .inputs
        .runs
        .iter()
        .rev()
        .find_map(|x| x.manifest.as_ref())
        .map(|m| Host { cpu: m.hardware.cpu.clone(), cores: m.hardware.cores });
    Header {
        items: r.items.items,
        runs: r.inputs.runs.iter().map(|x| x.id.clone()).collect(),
        host,
    }
}

/// Failed models and input problems, shown before any figure.
#[derive(Serialize)]
pub struct Alerts {
    measured: Measured,
    unfinished: Vec<UnfinishedRun>,
    failures: Vec<Failure>,
    warnings: Vec<String>,
}

/// How much has been measured, as far as the alerts care.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Measured {
    /// No models and no failures: nothing was ever run.
    Nothing,
    /// Models, but none with a measured quality.
    NoQuality,
    Some,
}

#[derive(Serialize)]
struct UnfinishedRun {
    id: String,
    items: usize,
}

#[derive(Serialize)]
struct Failure {
    model: String,
    reason: String,
}

pub fn alerts(r: &Report) -> Alerts {
    let s = &r.summary;
    let measured = if s.failures.is_empty() && s.models.is_empty() {
        Measured::Nothing
    } else if s.measured_models() == 0 {
        Measured::NoQuality
    } else {
        Measured::Some
    };
    let unfinished = r
        .inputs
        .runs
        .iter()
        .filter(|run| run.manifest.as_ref().is_some_and(|m| m.finished_at.is_none()))
        .map(|run| UnfinishedRun { id: run.id.clone(), items: run.items.len() })
        .collect();
    let failures = s
        .failures
        .iter()
        .map(|(m, why)| Failure { model: m.clone(), reason: why.clone() })
        .collect();
    Alerts { measured, unfinished, failures, warnings: r.warnings.clone() }
}

/// Model × use case: measured quality (95% interval), p95 latency, tokens/s.
#[derive(Serialize)]
pub struct SummaryTable {
    /// Use case titles, one column each.
    columns: Vec<&'static str>,
    rows: Vec<SummaryRow>,
}

#[derive(Serialize)]
struct SummaryRow {
    model: String,
    /// Why the model failed, when it failed before measuring anything: the row is
    /// then one cell.
    failure: Option<String>,
    cells: Vec<SummaryCell>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum SummaryCell {
    Measured {
        best: bool,
        mean: String,
        /// The figure was computed from run items because the registry has none.
        from_items: bool,
        partial: bool,
        /// `0.51–0.72`.
        range: String,
        n: u64,
        /// `p95 850 ms · 12 tok/s`.
        speed: String,
    },
    Failed {
        reason: String,
    },
    NotMeasured,
}

pub fn summary_table(r: &Report) -> SummaryTable {
    let s = &r.summary;
    let rows = s
        .models
        .iter()
        .map(|model| {
            let measured =
                UseCase::ALL.iter().any(|u| s.cell(model, *u).is_some_and(|c| c.quality.is_some()));
            let failure = s
                .failures
                .iter()
                .find(|(m, _)| m == model)
                .filter(|_| !measured)
                .map(|(_, why)| why.clone());
            let cells = match failure {
                Some(_) => Vec::new(),
                None => UseCase::ALL.iter().map(|uc| summary_cell(s.cell(model, *uc))).collect(),
            };
            SummaryRow { model: model.clone(), failure, cells }
        })
        .collect();
    SummaryTable { columns: UseCase::ALL.iter().map(|u| use_case_title(*u)).collect(), rows }
}

/// One cell: the score big, its interval and size, then speed; or why there is none.
fn summary_cell(c: Option<&Cell>) -> SummaryCell {
    let Some(c) = c else { return SummaryCell::NotMeasured };
    if let Some(q) = c.quality {
        let speed = [
            c.e2e_p95_ms.map(|p| format!("p95 {}", fmt_ms(p))),
            c.gen_tps.map(|t| format!("{} tok/s", fmt_num(t))),
        ];
        return SummaryCell::Measured {
            best: c.best,
            mean: format!("{:.2}", q.mean),
            from_items: c.sources.contains("run items"),
            partial: c.partial,
            range: format!("{:.2}–{:.2}", q.low, q.high),
            n: q.n,
            speed: speed.into_iter().flatten().collect::<Vec<_>>().join(" · "),
        };
    }
    match &c.failure {
        Some(why) => SummaryCell::Failed { reason: why.clone() },
        None => SummaryCell::NotMeasured,
    }
}

/// One model as the catalog declares it, kept apart from anything measured.
#[derive(Serialize)]
pub struct Declared {
    id: String,
    family: String,
    quantization: String,
    parameters: String,
    use_cases: String,
    privacy: String,
    priority: String,
    quality: String,
    vision: &'static str,
}

pub fn declared(r: &Report) -> Vec<Declared> {
    r.inputs
        .registry
        .models
        .iter()
        .map(|m| {
            let d = &m.declared;
            let ucs: Vec<&str> = d.use_cases.iter().map(|u| u.as_str()).collect();
            Declared {
                id: m.id.clone(),
                family: m.family.clone(),
                quantization: or_dash(m.quantization.clone()),
                parameters: or_dash(m.parameters.map(|p| format!("{:.2} B", p as f64 / 1e9))),
                use_cases: ucs.join(", "),
                privacy: format!("{:?}", d.privacy).to_lowercase(),
                priority: or_dash(d.priority.map(|p| format!("{p:?}").to_lowercase())),
                quality: or_dash(d.quality.map(|q| format!("{q:.2}"))),
                vision: if d.vision { "yes" } else { "no" },
            }
        })
        .collect()
}
