//! The tables behind the page, written as CSV beside it with polars, so every figure
//! can be checked or re-plotted elsewhere. Files are always written, with their header
//! row, even when empty, so scripts can rely on them existing.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use noa_registry::UseCase;

use crate::aggregate::{ItemAggregates, Pcts};
use crate::error::Result;
use crate::inputs::Inputs;
use crate::summary::Summary;

/// Names and descriptions of the CSV files a report writes (replay and feedback only
/// when their inputs exist).
pub fn file_list(inputs: &Inputs) -> Vec<(String, String)> {
    let mut v = vec![
        (
            "summary.csv",
            "model × use case: quality, interval, p95 latency, tokens/s, winner (the summary table)",
        ),
        (
            "measurements.csv",
            "every (model, suite) figure used, with run id, engine build and hardware",
        ),
        (
            "items_by_suite.csv",
            "per-item evidence aggregated by model and suite (polars over items.jsonl)",
        ),
        (
            "latency.csv",
            "ttft, inter-token and end-to-end p50/p95/p99 and tokens/s per model, from items",
        ),
    ];
    if inputs.replay.is_some() {
        v.push(("replay.csv", "routing policies replayed offline: quality, latency, regret"));
    }
    if inputs.feedback.is_some() {
        v.push(("feedback.csv", "live router totals per model from the feedback log"));
    }
    v.into_iter().map(|(a, b)| (a.to_owned(), b.to_owned())).collect()
}

/// Write every CSV into `dir`; returns their paths.
pub fn write_all(
    dir: &Path,
    inputs: &Inputs,
    s: &Summary,
    items: &ItemAggregates,
) -> Result<Vec<PathBuf>> {
    let mut frames = vec![
        ("summary.csv", summary(s)?),
        ("measurements.csv", measurements(s)?),
        ("items_by_suite.csv", by_suite(items)?),
        ("latency.csv", latency(items)?),
    ];
    if let Some(r) = &inputs.replay {
        let p = &r.policies;
        frames.push((
            "replay.csv",
            DataFrame::new(vec![
                Column::new(
                    "policy".into(),
                    p.iter().map(|x| x.policy.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "mean_quality".into(),
                    p.iter().map(|x| x.mean_quality).collect::<Vec<_>>(),
                ),
                Column::new(
                    "mean_latency_ms".into(),
                    p.iter().map(|x| x.mean_latency_ms).collect::<Vec<_>>(),
                ),
                Column::new(
                    "regret_vs_oracle".into(),
                    p.iter().map(|x| x.regret_vs_oracle).collect::<Vec<_>>(),
                ),
                Column::new(
                    "regret_vs_best_fixed".into(),
                    p.iter().map(|x| x.regret_vs_best_fixed).collect::<Vec<_>>(),
                ),
            ])?,
        ));
    }
    if let Some(t) = &inputs.feedback {
        let m = &t.by_model;
        frames.push((
            "feedback.csv",
            DataFrame::new(vec![
                Column::new("model".into(), m.keys().cloned().collect::<Vec<_>>()),
                Column::new(
                    "decisions".into(),
                    m.values().map(|x| x.decisions).collect::<Vec<_>>(),
                ),
                Column::new("feedback".into(), m.values().map(|x| x.feedback).collect::<Vec<_>>()),
                Column::new(
                    "mean_reward".into(),
                    m.values().map(|x| x.mean_reward()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "mean_latency_ms".into(),
                    m.values().map(|x| x.mean_latency_ms()).collect::<Vec<_>>(),
                ),
            ])?,
        ));
    }
    let mut paths = Vec::new();
    for (name, mut df) in frames {
        let path = dir.join(name);
        let mut bytes = Vec::new();
        CsvWriter::new(&mut bytes).include_header(true).finish(&mut df)?;
        crate::report::write_atomic(&path, &bytes)?;
        paths.push(path);
    }
    Ok(paths)
}

fn summary(s: &Summary) -> PolarsResult<DataFrame> {
    let (mut model, mut uc, mut status, mut mean, mut lo, mut hi, mut n) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut p95, mut gtps, mut ptps, mut best, mut partial, mut suites, mut source, mut failure) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for m in &s.models {
        for u in UseCase::ALL {
            let c = s.cell(m, u).cloned().unwrap_or_default();
            model.push(m.clone());
            uc.push(u.as_str());
            status.push(match (&c.quality, &c.failure) {
                (Some(_), _) => "measured",
                (None, Some(_)) => "failed",
                _ => "not measured",
            });
            mean.push(c.quality.map(|q| q.mean));
            lo.push(c.quality.map(|q| q.low));
            hi.push(c.quality.map(|q| q.high));
            n.push(c.quality.map(|q| q.n));
            p95.push(c.e2e_p95_ms);
            gtps.push(c.gen_tps);
            ptps.push(c.prompt_tps);
            best.push(c.best);
            partial.push(c.partial);
            suites.push(c.suites.join(" "));
            source.push(c.sources.iter().copied().collect::<Vec<_>>().join(" + "));
            failure.push(c.failure.unwrap_or_default());
        }
    }
    DataFrame::new(vec![
        Column::new("model".into(), model),
        Column::new("use_case".into(), uc),
        Column::new("status".into(), status),
        Column::new("quality_mean".into(), mean),
        Column::new("ci_low".into(), lo),
        Column::new("ci_high".into(), hi),
        Column::new("n".into(), n),
        Column::new("e2e_p95_ms".into(), p95),
        Column::new("gen_tps".into(), gtps),
        Column::new("prompt_tps".into(), ptps),
        Column::new("best".into(), best),
        Column::new("partial".into(), partial),
        Column::new("suites".into(), suites),
        Column::new("source".into(), source),
        Column::new("failure".into(), failure),
    ])
}

fn measurements(s: &Summary) -> PolarsResult<DataFrame> {
    let f = &s.figures;
    let strs = |g: fn(&crate::summary::SuiteFigure) -> String| f.iter().map(g).collect::<Vec<_>>();
    let nums =
        |g: fn(&crate::summary::SuiteFigure) -> Option<f64>| f.iter().map(g).collect::<Vec<_>>();
    let mut cols = vec![
        Column::new("model".into(), strs(|x| x.model.clone())),
        Column::new("suite".into(), strs(|x| x.suite.clone())),
        Column::new("use_case".into(), strs(|x| x.use_case.as_str().to_owned())),
        Column::new("source".into(), strs(|x| x.source.as_str().to_owned())),
        Column::new("quality_mean".into(), nums(|x| x.quality.map(|q| q.mean))),
        Column::new("ci_low".into(), nums(|x| x.quality.map(|q| q.low))),
        Column::new("ci_high".into(), nums(|x| x.quality.map(|q| q.high))),
        Column::new("n".into(), f.iter().map(|x| x.quality.map(|q| q.n)).collect::<Vec<_>>()),
    ];
    type Get = fn(&noa_registry::Latency) -> &noa_registry::Percentiles;
    let measures: [(&str, Get); 3] =
        [("ttft", |l| &l.ttft_ms), ("inter_token", |l| &l.inter_token_ms), ("e2e", |l| &l.e2e_ms)];
    for (name, get) in measures {
        for (tag, pick) in [("p50", 0), ("p95", 1), ("p99", 2)] {
            let v: Vec<Option<f64>> = f
                .iter()
                .map(|x| {
                    x.latency
                        .as_ref()
                        .map(get)
                        .map(|p| [p.p50, p.p95, p.p99][pick])
                        .or(if name == "e2e" && pick == 1 { x.e2e_p95_ms } else { None })
                })
                .collect();
            cols.push(Column::new(format!("{name}_{tag}_ms").into(), v));
        }
    }
    cols.extend([
        Column::new("prompt_tps".into(), nums(|x| x.prompt_tps)),
        Column::new("gen_tps".into(), nums(|x| x.gen_tps)),
        Column::new("load_ms".into(), nums(|x| x.latency.as_ref().map(|l| l.load_ms))),
        Column::new(
            "peak_memory_bytes".into(),
            f.iter().map(|x| x.peak_memory_bytes).collect::<Vec<_>>(),
        ),
        Column::new("run_id".into(), strs(|x| x.run_id.clone())),
        Column::new("engine_build".into(), strs(|x| x.engine_build.clone())),
        Column::new("hardware".into(), strs(|x| x.hardware.clone())),
        Column::new("timestamp".into(), strs(|x| x.timestamp.clone())),
        Column::new("failure".into(), strs(|x| x.failure.clone().unwrap_or_default())),
    ]);
    DataFrame::new(cols)
}

fn by_suite(items: &ItemAggregates) -> PolarsResult<DataFrame> {
    let s = &items.suites;
    DataFrame::new(vec![
        Column::new("model".into(), s.iter().map(|x| x.model.clone()).collect::<Vec<_>>()),
        Column::new("suite".into(), s.iter().map(|x| x.suite.clone()).collect::<Vec<_>>()),
        Column::new("use_case".into(), s.iter().map(|x| x.use_case.as_str()).collect::<Vec<_>>()),
        Column::new("n".into(), s.iter().map(|x| x.n).collect::<Vec<_>>()),
        Column::new("mean".into(), s.iter().map(|x| x.mean).collect::<Vec<_>>()),
        Column::new("ci_low".into(), s.iter().map(|x| x.ci_low).collect::<Vec<_>>()),
        Column::new("ci_high".into(), s.iter().map(|x| x.ci_high).collect::<Vec<_>>()),
        Column::new("interval".into(), s.iter().map(|x| x.interval).collect::<Vec<_>>()),
        Column::new("errors".into(), s.iter().map(|x| x.errors).collect::<Vec<_>>()),
        Column::new("e2e_p95_ms".into(), s.iter().map(|x| x.e2e_p95_ms).collect::<Vec<_>>()),
        Column::new("prompt_tps".into(), s.iter().map(|x| x.prompt_tps).collect::<Vec<_>>()),
        Column::new("gen_tps".into(), s.iter().map(|x| x.gen_tps).collect::<Vec<_>>()),
    ])
}

fn latency(items: &ItemAggregates) -> PolarsResult<DataFrame> {
    let l = &items.latency;
    let mut cols = vec![
        Column::new("model".into(), l.iter().map(|x| x.model.clone()).collect::<Vec<_>>()),
        Column::new("items".into(), l.iter().map(|x| x.items).collect::<Vec<_>>()),
    ];
    type Get = fn(&crate::aggregate::ModelLatency) -> Option<Pcts>;
    let measures: [(&str, Get); 3] =
        [("ttft", |x| x.ttft), ("inter_token", |x| x.inter_token), ("e2e", |x| x.e2e)];
    for (name, get) in measures {
        cols.push(Column::new(
            format!("{name}_p50_ms").into(),
            l.iter().map(|x| get(x).map(|p| p.p50)).collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            format!("{name}_p95_ms").into(),
            l.iter().map(|x| get(x).map(|p| p.p95)).collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            format!("{name}_p99_ms").into(),
            l.iter().map(|x| get(x).map(|p| p.p99)).collect::<Vec<_>>(),
        ));
    }
    cols.extend([
        Column::new("prompt_tps".into(), l.iter().map(|x| x.prompt_tps).collect::<Vec<_>>()),
        Column::new("gen_tps".into(), l.iter().map(|x| x.gen_tps).collect::<Vec<_>>()),
        Column::new(
            "mean_prompt_tokens".into(),
            l.iter().map(|x| x.mean_prompt_tokens).collect::<Vec<_>>(),
        ),
        Column::new(
            "mean_gen_tokens".into(),
            l.iter().map(|x| x.mean_gen_tokens).collect::<Vec<_>>(),
        ),
    ]);
    DataFrame::new(cols)
}
