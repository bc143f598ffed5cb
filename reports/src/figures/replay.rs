//! Charts of the offline replay of routing policies (`router/replay.json`): cumulative
//! regret curves, and mean quality and latency per policy.

use noa_registry::runs::ReplayReport;

use super::{FULL, Figure, HALF};
use crate::charts::{self, BarRow, Curve, fmt_ms};
use crate::error::Result;

pub(super) fn replay_figures(r: &ReplayReport) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    let curves: Vec<Curve> = r
        .policies
        .iter()
        .filter(|p| !p.regret_curve.is_empty())
        .map(|p| Curve { name: p.policy.clone(), values: p.regret_curve.clone() })
        .collect();
    if !curves.is_empty() {
        out.push(Figure {
            id: "chart-replay-regret".into(),
            svg: charts::regret_curves("Cumulative regret per routing policy", &curves, FULL)?,
            caption: format!(
                "Lower is better. Mean over {} seed(s) of {} replayed requests; each policy has its own dash pattern and marker.",
                r.seeds.len(),
                r.requests
            ),
        });
    }
    let bars = |value: fn(&noa_registry::runs::PolicyReplay) -> f64,
                text: fn(f64) -> String|
     -> Vec<BarRow> {
        let mut rows: Vec<BarRow> = r
            .policies
            .iter()
            .enumerate()
            .map(|(i, p)| BarRow {
                label: p.policy.clone(),
                value: value(p),
                ci: None,
                text: text(value(p)),
                color: charts::model_color(i),
                marker: Some(i),
            })
            .collect();
        rows.sort_by(|a, b| b.value.total_cmp(&a.value));
        rows
    };
    if !r.policies.is_empty() {
        let q = bars(|p| p.mean_quality, |v| format!("{v:.3}"));
        out.push(Figure {
            id: "chart-replay-quality".into(),
            svg: charts::hbar(
                "Mean quality per policy",
                "mean score of the chosen model",
                &q,
                Some(1.0),
                HALF,
            )?,
            caption: "Higher is better.".into(),
        });
        let l = bars(|p| p.mean_latency_ms, fmt_ms);
        out.push(Figure {
            id: "chart-replay-latency".into(),
            svg: charts::hbar("Mean latency per policy", "ms per request", &l, None, HALF)?,
            caption: "Lower is better.".into(),
        });
    }
    Ok(out)
}
