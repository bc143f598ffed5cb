//! Every chart of the report, drawn from the summary, the item aggregates and the
//! replay results. Each figure records which source its numbers came from, so the
//! captions can say so.

use std::collections::BTreeMap;

use noa_registry::UseCase;
use noa_registry::runs::ReplayReport;

use crate::aggregate::{ItemAggregates, Pcts};
use crate::charts::{self, BarRow, LatencyRow, ModelStyles, ScatterPoint, fmt_num};
use crate::error::Result;
use crate::html::use_case_title;
use crate::summary::Summary;

mod replay;
use replay::replay_figures;

const FULL: u32 = 1040;
const HALF: u32 = 520;

/// One chart and what to say under it.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Stable `id` of the `<figure>` element.
    pub id: String,
    pub svg: String,
    pub caption: String,
}

/// All charts, by section.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub tradeoff: Vec<Figure>,
    pub suites: Vec<Figure>,
    pub latency: Vec<Figure>,
    pub throughput: Vec<Figure>,
    pub replay: Vec<Figure>,
}

/// Draw every chart there is data for.
pub fn draw(
    s: &Summary,
    items: &ItemAggregates,
    replay: Option<&ReplayReport>,
    styles: &ModelStyles,
) -> Result<Figures> {
    Ok(Figures {
        tradeoff: tradeoff(s, styles)?,
        suites: suites(s, items, styles)?,
        latency: latency(s, items, styles)?,
        throughput: throughput(s, items, styles)?,
        replay: replay.map(replay_figures).transpose()?.unwrap_or_default(),
    })
}

fn tradeoff(s: &Summary, styles: &ModelStyles) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    for uc in UseCase::ALL {
        let mut points = Vec::new();
        let mut unplotted = Vec::new();
        for m in &s.models {
            let Some(c) = s.cell(m, uc) else { continue };
            match (c.quality, c.e2e_p95_ms) {
                (Some(q), Some(l)) => points.push(ScatterPoint {
                    model: m.clone(),
                    marker: styles.index(m),
                    color: styles.color(m),
                    latency_ms: l,
                    quality: q,
                }),
                (Some(_), None) => unplotted.push(m.clone()),
                _ => {}
            }
        }
        if points.is_empty() {
            continue;
        }
        let title = format!("{}: quality vs p95 latency", use_case_title(uc));
        let mut caption = "Up and to the left is better. Whiskers: 95% interval of quality. Dashed line and ◆: the Pareto \
                           front (no other model is both faster and better)."
            .to_owned();
        if !unplotted.is_empty() {
            caption.push_str(&format!(
                " Not plotted (no latency recorded): {}.",
                unplotted.join(", ")
            ));
        }
        out.push(Figure {
            id: format!("chart-tradeoff-{uc}"),
            svg: charts::quality_latency(&title, &points, HALF)?,
            caption,
        });
    }
    Ok(out)
}

fn suites(s: &Summary, items: &ItemAggregates, styles: &ModelStyles) -> Result<Vec<Figure>> {
    // suite -> (use case, rows)
    let mut by_suite: BTreeMap<String, (UseCase, Vec<BarRow>)> = BTreeMap::new();
    let from_items = !items.suites.is_empty();
    let row = |model: &str, mean: f64, lo: f64, hi: f64, n: u64| BarRow {
        label: model.to_owned(),
        value: mean,
        ci: Some((lo, hi)),
        text: format!("{mean:.2} ({lo:.2}–{hi:.2}) · n {n}"),
        color: styles.color(model),
        marker: Some(styles.index(model)),
    };
    if from_items {
        for sc in &items.suites {
            let e = by_suite.entry(sc.suite.clone()).or_insert((sc.use_case, Vec::new()));
            e.1.push(row(&sc.model, sc.mean, sc.ci_low, sc.ci_high, sc.n));
        }
    } else {
        for f in &s.figures {
            if let Some(q) = f.quality {
                let e = by_suite.entry(f.suite.clone()).or_insert((f.use_case, Vec::new()));
                e.1.push(row(&f.model, q.mean, q.low, q.high, q.n));
            }
        }
    }
    let source = if from_items {
        "From the selected runs' items: Wilson interval for pass/fail items, normal interval for graded ones."
    } else {
        "From the registry's measurements (no per-item records in the selected runs)."
    };
    let mut out = Vec::new();
    for (suite, (uc, mut rows)) in by_suite {
        rows.sort_by(|a, b| b.value.total_cmp(&a.value));
        let title = format!("{suite} ({})", use_case_title(uc));
        out.push(Figure {
            id: format!("chart-suite-{}", slug(&suite)),
            svg: charts::hbar(
                &title,
                "mean score (0–1), whisker = 95% interval",
                &rows,
                Some(1.0),
                FULL,
            )?,
            caption: source.to_owned(),
        });
    }
    Ok(out)
}

type LatencyOf = fn(&crate::aggregate::ModelLatency) -> Option<Pcts>;

fn latency(s: &Summary, items: &ItemAggregates, styles: &ModelStyles) -> Result<Vec<Figure>> {
    let measures: [(&str, &str, LatencyOf); 3] = [
        ("ttft", "Time to first token", |l| l.ttft),
        ("inter-token", "Inter-token latency", |l| l.inter_token),
        ("e2e", "End-to-end latency per request", |l| l.e2e),
    ];
    let mut out = Vec::new();
    for (id, title, get) in measures {
        // Per-item latencies where the runs are here, else the registry's summary.
        let measured: Vec<(String, Pcts)> = if !items.latency.is_empty() {
            items.latency.iter().filter_map(|l| get(l).map(|p| (l.model.clone(), p))).collect()
        } else {
            registry_latency(s, id)
        };
        let mut rows: Vec<LatencyRow> = measured
            .into_iter()
            .map(|(m, p)| LatencyRow {
                color: styles.color(&m),
                model: m,
                p50: p.p50,
                p95: p.p95,
                p99: p.p99,
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        rows.sort_by(|a, b| a.p95.total_cmp(&b.p95));
        let source = if items.latency.is_empty() {
            "registry measurements (suite with the most items per model)"
        } else {
            "all timed items of the selected runs"
        };
        out.push(Figure {
            id: format!("chart-latency-{id}"),
            svg: charts::latency_ranges(title, &rows, FULL)?,
            caption: format!("● p50 · ▲ p95 · ✕ p99, fastest first. Source: {source}."),
        });
    }
    Ok(out)
}

/// Per model, the latency percentiles of its registry measurement with the most items.
fn registry_latency(s: &Summary, which: &str) -> Vec<(String, Pcts)> {
    let mut best: BTreeMap<&str, (u64, Pcts)> = BTreeMap::new();
    for f in &s.figures {
        let (Some(l), Some(q)) = (&f.latency, f.quality) else { continue };
        let p = match which {
            "ttft" => &l.ttft_ms,
            "inter-token" => &l.inter_token_ms,
            _ => &l.e2e_ms,
        };
        let p = Pcts { p50: p.p50, p95: p.p95, p99: p.p99 };
        if best.get(f.model.as_str()).is_none_or(|(n, _)| q.n > *n) {
            best.insert(&f.model, (q.n, p));
        }
    }
    best.into_iter().map(|(m, (_, p))| (m.to_owned(), p)).collect()
}

fn throughput(s: &Summary, items: &ItemAggregates, styles: &ModelStyles) -> Result<Vec<Figure>> {
    let mut per_model: BTreeMap<String, (Option<f64>, Option<f64>)> = BTreeMap::new();
    let source = if items.latency.is_empty() {
        for m in &s.models {
            let cells: Vec<_> = UseCase::ALL
                .iter()
                .filter_map(|u| s.cell(m, *u))
                .filter(|c| c.quality.is_some())
                .collect();
            let avg = |f: fn(&crate::summary::Cell) -> Option<f64>| {
                let v: Vec<f64> = cells.iter().filter_map(|c| f(c)).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            per_model.insert(m.clone(), (avg(|c| c.prompt_tps), avg(|c| c.gen_tps)));
        }
        "registry measurements"
    } else {
        for l in &items.latency {
            per_model.insert(l.model.clone(), (l.prompt_tps, l.gen_tps));
        }
        "mean over the selected runs' timed items"
    };
    let mut out = Vec::new();
    for (id, title, pick) in [
        ("prompt", "Prompt processing tokens/s", 0usize),
        ("generation", "Generation tokens/s", 1usize),
    ] {
        let mut rows: Vec<BarRow> = per_model
            .iter()
            .filter_map(|(m, v)| (if pick == 0 { v.0 } else { v.1 }).map(|t| (m, t)))
            .map(|(m, t)| BarRow {
                label: m.clone(),
                value: t,
                ci: None,
                text: format!("{} tok/s", fmt_num(t)),
                color: styles.color(m),
                marker: Some(styles.index(m)),
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        rows.sort_by(|a, b| b.value.total_cmp(&a.value));
        out.push(Figure {
            id: format!("chart-tps-{id}"),
            svg: charts::hbar(title, "tokens per second (higher is better)", &rows, None, HALF)?,
            caption: format!("Source: {source}."),
        });
    }
    Ok(out)
}

/// A string safe for an `id` attribute.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect()
}
