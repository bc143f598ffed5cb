//! Per-item evidence, aggregated with polars: the selected runs' `items.jsonl` records
//! become one frame, grouped by (model, suite, use case) for scores and by model for
//! latency and throughput. Intervals are computed here from polars' mean/std/n:
//! Wilson when every score is 0 or 1, a normal interval for graded scores.
//! Errored items count as score 0 (as the bench records them) but are left out of the
//! latency and tokens/s figures, whose timings they do not have.

use polars::prelude::*;

use noa_registry::UseCase;
use noa_registry::stats::score_interval;

use crate::inputs::RunData;

/// Score of one model on one suite, from its items.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteScore {
    pub model: String,
    /// `<suite id>@<version>`.
    pub suite: String,
    pub use_case: UseCase,
    pub n: u64,
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// `wilson` or `normal`.
    pub interval: &'static str,
    pub errors: u64,
    pub e2e_p95_ms: Option<f64>,
    pub prompt_tps: Option<f64>,
    pub gen_tps: Option<f64>,
}

/// p50/p95/p99 of one latency, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pcts {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Latency and throughput of one model over all its timed items.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelLatency {
    pub model: String,
    pub items: u64,
    pub ttft: Option<Pcts>,
    pub inter_token: Option<Pcts>,
    pub e2e: Option<Pcts>,
    pub prompt_tps: Option<f64>,
    pub gen_tps: Option<f64>,
    pub mean_prompt_tokens: Option<f64>,
    pub mean_gen_tokens: Option<f64>,
}

/// Everything aggregated from the items of the selected runs.
#[derive(Debug, Clone, Default)]
pub struct ItemAggregates {
    pub items: usize,
    pub suites: Vec<SuiteScore>,
    pub latency: Vec<ModelLatency>,
}

/// Aggregate the items of `runs`.
pub fn aggregate(runs: &[RunData]) -> PolarsResult<ItemAggregates> {
    let items: usize = runs.iter().map(|r| r.items.len()).sum();
    if items == 0 {
        return Ok(ItemAggregates::default());
    }
    let frame = items_frame(runs)?;
    let suites = by_suite(&frame)?;
    let latency = by_model(&frame, &gaps_frame(runs)?)?;
    Ok(ItemAggregates { items, suites, latency })
}

/// One row per item. Timings are null for errored items, tokens/s null when zero
/// (log-likelihood items generate nothing).
fn items_frame(runs: &[RunData]) -> PolarsResult<DataFrame> {
    let all = runs.iter().flat_map(|r| r.items.iter());
    let timed = |v: f64, ok: bool| (ok && v.is_finite() && v > 0.0).then_some(v);
    let mut model = Vec::new();
    let mut suite = Vec::new();
    let mut use_case = Vec::new();
    let mut score = Vec::new();
    let mut failed = Vec::new();
    let (mut ttft, mut e2e, mut ptps, mut gtps, mut ptok, mut gtok) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for it in all {
        let ok = it.error.is_none();
        model.push(it.model_id.clone());
        suite.push(format!("{}@{}", it.suite, it.suite_version));
        use_case.push(it.use_case.as_str());
        score.push(if it.score.is_finite() { it.score.clamp(0.0, 1.0) } else { 0.0 });
        failed.push(u32::from(!ok));
        ttft.push(timed(it.timings.ttft_ms, ok));
        e2e.push(timed(it.timings.e2e_ms, ok));
        ptps.push(timed(it.timings.prompt_tps, ok));
        gtps.push(timed(it.timings.gen_tps, ok));
        ptok.push(ok.then_some(f64::from(it.prompt_tokens)));
        gtok.push(ok.then_some(f64::from(it.gen_tokens)));
    }
    DataFrame::new(vec![
        Column::new("model".into(), model),
        Column::new("suite".into(), suite),
        Column::new("use_case".into(), use_case),
        Column::new("score".into(), score),
        Column::new("failed".into(), failed),
        Column::new("ttft_ms".into(), ttft),
        Column::new("e2e_ms".into(), e2e),
        Column::new("prompt_tps".into(), ptps),
        Column::new("gen_tps".into(), gtps),
        Column::new("prompt_tokens".into(), ptok),
        Column::new("gen_tokens".into(), gtok),
    ])
}

/// Every gap between generated tokens, one row each; the item's mean gap stands in
/// when the bench did not record the individual gaps.
fn gaps_frame(runs: &[RunData]) -> PolarsResult<DataFrame> {
    let mut model = Vec::new();
    let mut gap = Vec::new();
    for it in runs.iter().flat_map(|r| r.items.iter()).filter(|it| it.error.is_none()) {
        let t = &it.timings;
        if t.inter_token_gaps_ms.is_empty() {
            if it.gen_tokens > 1 && t.inter_token_ms.is_finite() && t.inter_token_ms > 0.0 {
                model.push(it.model_id.clone());
                gap.push(t.inter_token_ms);
            }
        } else {
            for g in t.inter_token_gaps_ms.iter().filter(|g| g.is_finite() && **g >= 0.0) {
                model.push(it.model_id.clone());
                gap.push(*g);
            }
        }
    }
    DataFrame::new(vec![Column::new("model".into(), model), Column::new("gap_ms".into(), gap)])
}

fn q(name: &str, p: f64, alias: &str) -> Expr {
    col(name).quantile(lit(p), QuantileMethod::Linear).alias(alias)
}

fn by_suite(frame: &DataFrame) -> PolarsResult<Vec<SuiteScore>> {
    let out = frame
        .clone()
        .lazy()
        .group_by([col("model"), col("suite"), col("use_case")])
        .agg([
            col("score").count().alias("n"),
            col("score").mean().alias("mean"),
            col("score").std(1).alias("sd"),
            // 0 exactly when every score is 0 or 1 (pass/fail items).
            (col("score") * (lit(1.0) - col("score"))).max().alias("graded"),
            col("failed").sum().alias("errors"),
            q("e2e_ms", 0.95, "e2e_p95_ms"),
            col("prompt_tps").mean().alias("prompt_tps"),
            col("gen_tps").mean().alias("gen_tps"),
        ])
        .sort(["model", "suite"], SortMultipleOptions::default())
        .collect()?;
    let model = strings(&out, "model")?;
    let suite = strings(&out, "suite")?;
    let use_case = strings(&out, "use_case")?;
    let n = floats(&out, "n")?;
    let mean = floats(&out, "mean")?;
    let sd = floats(&out, "sd")?;
    let graded = floats(&out, "graded")?;
    let errors = floats(&out, "errors")?;
    let e2e = floats(&out, "e2e_p95_ms")?;
    let ptps = floats(&out, "prompt_tps")?;
    let gtps = floats(&out, "gen_tps")?;
    let mut rows = Vec::with_capacity(out.height());
    for i in 0..out.height() {
        let n_i = n[i].unwrap_or(0.0) as u64;
        let m = mean[i].unwrap_or(0.0);
        let pass_fail = graded[i].unwrap_or(0.0) <= 1e-12;
        let (lo, hi, method) = score_interval(m, sd[i].unwrap_or(f64::NAN), n_i, pass_fail);
        rows.push(SuiteScore {
            model: model[i].clone(),
            suite: suite[i].clone(),
            // The frame was built from `UseCase::as_str`, so this always parses.
            use_case: use_case[i].parse().unwrap_or(UseCase::General),
            n: n_i,
            mean: m,
            ci_low: lo,
            ci_high: hi,
            interval: method.as_str(),
            errors: errors[i].unwrap_or(0.0) as u64,
            e2e_p95_ms: e2e[i],
            prompt_tps: ptps[i],
            gen_tps: gtps[i],
        });
    }
    Ok(rows)
}

fn by_model(frame: &DataFrame, gaps: &DataFrame) -> PolarsResult<Vec<ModelLatency>> {
    let mut aggs = vec![col("ttft_ms").count().alias("timed")];
    for name in ["ttft_ms", "e2e_ms"] {
        for (p, tag) in [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")] {
            aggs.push(q(name, p, &format!("{name}_{tag}")));
        }
    }
    for name in ["prompt_tps", "gen_tps", "prompt_tokens", "gen_tokens"] {
        aggs.push(col(name).mean());
    }
    let out = frame
        .clone()
        .lazy()
        .group_by([col("model")])
        .agg(aggs)
        .sort(["model"], SortMultipleOptions::default())
        .collect()?;
    let gap_out = gaps
        .clone()
        .lazy()
        .group_by([col("model")])
        .agg([q("gap_ms", 0.5, "p50"), q("gap_ms", 0.95, "p95"), q("gap_ms", 0.99, "p99")])
        .collect()?;
    let gap_models = strings(&gap_out, "model")?;
    let (g50, g95, g99) =
        (floats(&gap_out, "p50")?, floats(&gap_out, "p95")?, floats(&gap_out, "p99")?);
    let pcts = |df: &DataFrame, name: &str| -> PolarsResult<Vec<Option<Pcts>>> {
        let a = floats(df, &format!("{name}_p50"))?;
        let b = floats(df, &format!("{name}_p95"))?;
        let c = floats(df, &format!("{name}_p99"))?;
        Ok((0..df.height())
            .map(|i| match (a[i], b[i], c[i]) {
                (Some(p50), Some(p95), Some(p99)) => Some(Pcts { p50, p95, p99 }),
                _ => None,
            })
            .collect())
    };
    let model = strings(&out, "model")?;
    let timed = floats(&out, "timed")?;
    let ttft = pcts(&out, "ttft_ms")?;
    let e2e = pcts(&out, "e2e_ms")?;
    let (ptps, gtps) = (floats(&out, "prompt_tps")?, floats(&out, "gen_tps")?);
    let (ptok, gtok) = (floats(&out, "prompt_tokens")?, floats(&out, "gen_tokens")?);
    let mut rows = Vec::new();
    for i in 0..out.height() {
        let inter_token = gap_models
            .iter()
            .position(|m| *m == model[i])
            .and_then(|j| Some(Pcts { p50: g50[j]?, p95: g95[j]?, p99: g99[j]? }));
        rows.push(ModelLatency {
            model: model[i].clone(),
            items: timed[i].unwrap_or(0.0) as u64,
            ttft: ttft[i],
            inter_token,
            e2e: e2e[i],
            prompt_tps: ptps[i],
            gen_tps: gtps[i],
            mean_prompt_tokens: ptok[i],
            mean_gen_tokens: gtok[i],
        });
    }
    Ok(rows)
}

fn strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.into_iter().map(|s| s.unwrap_or_default().to_owned()).collect())
}

fn floats(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.into_iter().map(|v| v.filter(|x| x.is_finite())).collect())
}
