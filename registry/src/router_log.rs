//! The router's two append-only logs under `NOA_HOME/router/`: `decisions.jsonl` (one
//! record per routing decision) and `feedback.jsonl` (one record per reward or measured
//! latency). `noa serve` writes and replays them; `noa report` reads them for its live
//! totals. Declaring the records here, beside the run files, keeps writer and reader on
//! one definition instead of the reader guessing field names.
//!
//! Readers ignore fields they do not know, so a log written by a newer router still
//! reads. The field names are the on-disk format: renaming one breaks existing logs.

use serde::{Deserialize, Serialize};

use crate::schema::UseCase;

/// File name of the feedback log inside `NOA_HOME/router/`.
pub const FEEDBACK_FILE: &str = "feedback.jsonl";
/// File name of the decision log inside `NOA_HOME/router/`.
pub const DECISIONS_FILE: &str = "decisions.jsonl";

/// One line of `decisions.jsonl` (and a pending decision in the router's snapshot).
///
/// `P` is the policy that decided. The router uses its own policy enum, so a name it
/// does not know is an error when it replays its log; a reader that only counts (the
/// report) keeps it as text, so a policy added later does not make lines unreadable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord<P = String> {
    pub id: String,
    pub use_case: UseCase,
    pub model: String,
    pub policy: P,
    pub probability: f64,
    pub features: Vec<f64>,
    /// p95 predicted from the measurements alone (before feedback calibration).
    #[serde(default)]
    pub predicted_p95_ms: Option<f64>,
    #[serde(default)]
    pub latency_observed: bool,
    pub unix_ms: u64,
}

/// What a feedback line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// The caller's reward (and maybe latency); closes the decision.
    Reward,
    /// A latency measured by the server itself (chat completions); the decision stays open.
    Latency,
}

/// One line of `feedback.jsonl`. Self-contained: replay needs nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    pub kind: FeedbackKind,
    pub decision_id: String,
    pub use_case: UseCase,
    pub model: String,
    #[serde(default)]
    pub reward: Option<f64>,
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// Whether `latency_ms` updated the latency model (not when the server had
    /// already measured this decision's latency itself).
    #[serde(default)]
    pub latency_applied: bool,
    #[serde(default)]
    pub predicted_p95_ms: Option<f64>,
    pub features: Vec<f64>,
    pub unix_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_the_on_disk_format() {
        let d = DecisionRecord {
            id: "d1".into(),
            use_case: UseCase::Qa,
            model: "m".into(),
            policy: "thompson".to_owned(),
            probability: 0.5,
            features: vec![1.0],
            predicted_p95_ms: None,
            latency_observed: false,
            unix_ms: 7,
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"id":"d1","use_case":"qa","model":"m","policy":"thompson","probability":0.5,"features":[1.0],"predicted_p95_ms":null,"latency_observed":false,"unix_ms":7}"#
        );
        let f: FeedbackRecord = serde_json::from_str(
            r#"{"kind":"latency","decision_id":"d1","use_case":"qa","model":"m","latency_ms":9,"features":[],"unix_ms":8,"added_later":1}"#,
        )
        .unwrap();
        assert_eq!((f.kind, f.latency_ms, f.reward), (FeedbackKind::Latency, Some(9.0), None));
    }
}
