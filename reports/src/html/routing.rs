//! Routing results: the offline replay of the routing policies (`router/replay.json`)
//! with its charts, and the live router's totals from its feedback log.

use noa_registry::runs::ReplayReport;
use serde::Serialize;

use super::evidence::{FigureView, figures};
use super::or_dash;
use crate::Report;
use crate::charts::{fmt_ms, fmt_num};
use crate::feedback::{FeedbackTotals, ModelTotals};

/// The id of the regret chart, shown full width above the others.
const REGRET_CHART: &str = "chart-replay-regret";

/// The `routing` section; each part is absent until its input exists.
#[derive(Serialize)]
pub struct Routing {
    replay: Option<Replay>,
    feedback: Option<Feedback>,
}

#[derive(Serialize)]
struct Replay {
    runs: Vec<String>,
    requests: u64,
    /// `1, 2, 3`.
    seeds: String,
    created_at: String,
    regret: Option<FigureView>,
    /// The other replay charts, side by side.
    others: Vec<FigureView>,
    policies: Vec<PolicyRow>,
}

#[derive(Serialize)]
struct PolicyRow {
    policy: String,
    quality: String,
    latency: String,
    regret_vs_oracle: String,
    regret_vs_best_fixed: String,
    /// `qwen 60%, gemma 40%`.
    share: String,
}

#[derive(Serialize)]
struct Feedback {
    lines: u64,
    unreadable: u64,
    decisions: u64,
    models: Vec<FeedbackRow>,
}

#[derive(Serialize)]
struct FeedbackRow {
    model: String,
    decisions: u64,
    rewards: u64,
    mean_reward: String,
    mean_latency: String,
    use_cases: String,
}

pub fn routing(r: &Report) -> Routing {
    Routing {
        replay: r.inputs.replay.as_ref().map(|rep| replay(r, rep)),
        feedback: r.inputs.feedback.as_ref().map(feedback),
    }
}

fn replay(r: &Report, rep: &ReplayReport) -> Replay {
    let charts = &r.figures.replay;
    let policies = rep
        .policies
        .iter()
        .map(|p| PolicyRow {
            policy: p.policy.clone(),
            quality: format!("{:.3}", p.mean_quality),
            latency: fmt_ms(p.mean_latency_ms),
            regret_vs_oracle: fmt_num(p.regret_vs_oracle),
            regret_vs_best_fixed: fmt_num(p.regret_vs_best_fixed),
            share: p
                .model_share
                .iter()
                .map(|(m, s)| format!("{m} {:.0}%", s * 100.0))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    Replay {
        runs: rep.runs.clone(),
        requests: rep.requests,
        seeds: rep.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        created_at: rep.created_at.to_string(),
        regret: charts.iter().find(|f| f.id == REGRET_CHART).map(FigureView::new),
        others: figures(charts.iter().filter(|f| f.id != REGRET_CHART)),
        policies,
    }
}

fn feedback(t: &FeedbackTotals) -> Feedback {
    Feedback {
        lines: t.lines,
        unreadable: t.unreadable,
        decisions: t.decisions,
        models: t.by_model.iter().map(|(m, x)| feedback_row(m, x)).collect(),
    }
}

fn feedback_row(model: &str, x: &ModelTotals) -> FeedbackRow {
    FeedbackRow {
        model: model.to_owned(),
        decisions: x.decisions,
        rewards: x.feedback,
        mean_reward: or_dash(x.mean_reward().map(|v| format!("{v:.3}"))),
        mean_latency: or_dash(x.mean_latency_ms().map(fmt_ms)),
        use_cases: x.use_cases.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    }
}
