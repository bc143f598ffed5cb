//! The top of the report: the bench's decision per use case, then who wins each use
//! case, with its numbers and whether its lead is real.

use noa_registry::{Decision, DecisionStatus, PairStatus, UseCase};
use serde::Serialize;

use super::{fmt_quality, use_case_title};
use crate::Report;
use crate::charts::fmt_ms;
use crate::summary::Winner;

/// The `verdict` section.
#[derive(Serialize)]
pub struct Verdict {
    /// The latest decision per use case; empty when the bench has decided nothing.
    decisions: Vec<DecisionRow>,
    /// One card per use case, in the order of [`UseCase::ALL`].
    cards: Vec<Card>,
}

/// One use case's latest decision: status, leader, and the leader's paired difference
/// to each rival with its anytime-valid interval.
#[derive(Serialize)]
struct DecisionRow {
    use_case: String,
    title: &'static str,
    status: &'static str,
    /// Settled or tied (highlighted), as against still open.
    decided: bool,
    /// The further items an open decision is estimated to need.
    more_items: Option<u64>,
    leader: String,
    items: u64,
    pairs: Vec<Pair>,
}

#[derive(Serialize)]
struct Pair {
    rival: String,
    /// `+0.300 [+0.050, +0.550]`.
    difference: String,
    status: &'static str,
    n: u64,
}

/// A use case's card: its winner, or why there is none.
#[derive(Serialize)]
struct Card {
    use_case: String,
    title: &'static str,
    winner: Option<WinnerCard>,
    missing: Option<Missing>,
}

#[derive(Serialize)]
struct WinnerCard {
    model: String,
    badge: &'static str,
    meter: Meter,
    /// `0.62 (0.51–0.72)`.
    quality: String,
    n: u64,
    p95: Option<String>,
    lead: Lead,
}

/// How far ahead the winner is of the runner-up.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Lead {
    Only,
    Clear { rival: String, mean: String },
    Overlap { rival: String, mean: String },
}

/// Why a use case has no winner; the template says what to do about it.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Missing {
    VisionModel,
    Models,
    Suite,
}

/// A 0–1 meter, in percent of its width: the interval as a band, the mean as a tick.
#[derive(Serialize)]
struct Meter {
    left: String,
    width: String,
    mean: String,
}

pub fn verdict(r: &Report) -> Verdict {
    let cards = UseCase::ALL
        .into_iter()
        .map(|uc| {
            let winner = r.summary.winners.get(&uc);
            Card {
                use_case: uc.to_string(),
                title: use_case_title(uc),
                winner: winner.map(winner_card),
                missing: winner.is_none().then(|| missing(r, uc)),
            }
        })
        .collect();
    Verdict { decisions: decisions(r), cards }
}

fn winner_card(w: &Winner) -> WinnerCard {
    let q = &w.quality;
    let lead = match &w.runner_up {
        None => Lead::Only,
        Some((m, rq)) if w.is_clear() => {
            Lead::Clear { rival: m.clone(), mean: format!("{:.2}", rq.mean) }
        }
        Some((m, rq)) => Lead::Overlap { rival: m.clone(), mean: format!("{:.2}", rq.mean) },
    };
    let badge = if q.mean <= 0.0 {
        "every model scored 0"
    } else if w.is_clear() && w.runner_up.is_some() {
        "★ winner"
    } else {
        "★ best measured"
    };
    WinnerCard {
        model: w.model.clone(),
        badge,
        meter: meter(q.mean, q.low, q.high),
        quality: fmt_quality(q),
        n: q.n,
        p95: w.e2e_p95_ms.map(fmt_ms),
        lead,
    }
}

fn missing(r: &Report, uc: UseCase) -> Missing {
    if uc == UseCase::Vision && !r.inputs.registry.models.iter().any(|m| m.declared.vision) {
        Missing::VisionModel
    } else if r.summary.models.is_empty() {
        Missing::Models
    } else {
        Missing::Suite
    }
}

fn meter(mean: f64, low: f64, high: f64) -> Meter {
    let pct = |v: f64| (v.clamp(0.0, 1.0) * 100.0 * 10.0).round() / 10.0;
    Meter {
        left: pct(low).to_string(),
        width: (pct(high) - pct(low)).max(0.5).to_string(),
        mean: pct(mean).to_string(),
    }
}

/// The latest decision of each use case that has one.
fn decisions(r: &Report) -> Vec<DecisionRow> {
    UseCase::ALL
        .into_iter()
        .filter_map(|uc| {
            let of_uc = r.inputs.registry.decisions.iter().filter(|d| d.use_case == uc);
            of_uc.max_by(|a, b| a.timestamp.cmp(&b.timestamp))
        })
        .map(decision_row)
        .collect()
}

fn decision_row(d: &Decision) -> DecisionRow {
    let pairs = d
        .pairs
        .iter()
        .map(|p| Pair {
            rival: p.rival.clone(),
            difference: format!("{:+.3} [{:+.3}, {:+.3}]", p.mean, p.ci_low, p.ci_high),
            status: match p.status {
                PairStatus::Ahead => "ahead",
                PairStatus::Tied => "tied",
                PairStatus::Open => "open",
            },
            n: p.n,
        })
        .collect();
    let open = d.status == DecisionStatus::Open;
    DecisionRow {
        use_case: d.use_case.to_string(),
        title: use_case_title(d.use_case),
        status: d.status.as_str(),
        decided: !open,
        more_items: d.further_items.filter(|_| open),
        leader: d.leader.clone(),
        items: d.items,
        pairs,
    }
}
