//! Live router totals from the router's logs in `NOA_HOME/router/`: `feedback.jsonl`
//! (append-only, one record per reward or measured latency, each naming its decision,
//! use case and model) and `decisions.jsonl` (append-only, one record per decision). The report reads them tolerantly, one JSON object per line, without
//! depending on the router crate: unknown fields are ignored and unreadable lines
//! (a torn last line after a crash) are counted, so a log written by a newer router
//! never breaks the report.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// File name of the feedback log inside `NOA_HOME/router/`.
pub const FEEDBACK_FILE: &str = "feedback.jsonl";
/// File name of the decision log inside `NOA_HOME/router/`.
pub const DECISIONS_FILE: &str = "decisions.jsonl";

/// Totals for one model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelTotals {
    /// Decisions in the current decision log.
    pub decisions: u64,
    /// Rewards received.
    pub feedback: u64,
    pub reward_sum: f64,
    pub latency_sum_ms: f64,
    pub latency_n: u64,
    pub use_cases: BTreeSet<String>,
}

impl ModelTotals {
    pub fn mean_reward(&self) -> Option<f64> {
        (self.feedback > 0).then(|| self.reward_sum / self.feedback as f64)
    }
    pub fn mean_latency_ms(&self) -> Option<f64> {
        (self.latency_n > 0).then(|| self.latency_sum_ms / self.latency_n as f64)
    }
}

/// Totals over the logs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackTotals {
    /// Records in the feedback log.
    pub lines: u64,
    /// Lines of either log that are not a JSON object.
    pub unreadable: u64,
    /// Feedback records whose model could not be told.
    pub unattributed_feedback: u64,
    /// Decisions in the decision log.
    pub decisions: u64,
    pub by_model: BTreeMap<String, ModelTotals>,
}

/// Count rewards, latencies and decisions per model.
pub fn totals(feedback: &str, decisions: Option<&str>) -> FeedbackTotals {
    let mut t = FeedbackTotals::default();
    let mut decision_model: BTreeMap<String, String> = BTreeMap::new();
    for obj in objects(decisions.unwrap_or_default(), &mut t.unreadable) {
        let Some(model) = str_field(&obj, &["model", "model_id", "chosen"]) else { continue };
        if let Some(id) = str_field(&obj, &["id", "decision_id"]) {
            decision_model.insert(id, model.clone());
        }
        t.decisions += 1;
        let m = t.by_model.entry(model).or_default();
        m.decisions += 1;
        m.use_cases.extend(str_field(&obj, &["use_case"]));
    }
    let mut unreadable = 0;
    for obj in objects(feedback, &mut unreadable) {
        t.lines += 1;
        let model = str_field(&obj, &["model", "model_id", "chosen"]).or_else(|| {
            str_field(&obj, &["decision_id"]).and_then(|d| decision_model.get(&d).cloned())
        });
        let Some(model) = model else {
            t.unattributed_feedback += 1;
            continue;
        };
        let m = t.by_model.entry(model).or_default();
        m.use_cases.extend(str_field(&obj, &["use_case"]));
        let kind = str_field(&obj, &["kind"]).unwrap_or_default();
        let reward = obj.get("reward").and_then(Value::as_f64);
        if let Some(r) = reward.filter(|_| kind != "latency") {
            m.feedback += 1;
            m.reward_sum += r;
        }
        // A reward's latency that the server had already measured itself is not new.
        let already_measured =
            kind == "reward" && obj.get("latency_applied") == Some(&Value::Bool(false));
        if let Some(l) = obj.get("latency_ms").and_then(Value::as_f64).filter(|_| !already_measured)
        {
            m.latency_sum_ms += l;
            m.latency_n += 1;
        }
    }
    t.lines += unreadable;
    t.unreadable += unreadable;
    t
}

/// The JSON objects of a JSON-lines text, counting lines that are not one.
fn objects(text: &str, unreadable: &mut u64) -> Vec<serde_json::Map<String, Value>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(o)) => out.push(o),
            _ => *unreadable += 1,
        }
    }
    out
}

/// The first of `keys` present as a string (or an object with an `id`).
fn str_field(obj: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match obj.get(*k)? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rewards_latencies_and_decisions_by_model() {
        let decisions = r#"{"id":"d1","use_case":"qa","model":"a","policy":"thompson","probability":0.8}
{"id":"d2","use_case":"qa","model":"b","policy":"thompson","probability":0.2}
{"id":"d3","use_case":"qa","model":"b"
"#;
        let feedback = r#"{"kind":"latency","decision_id":"d1","use_case":"qa","model":"a","latency_ms":100.0}
{"kind":"reward","decision_id":"d1","use_case":"qa","model":"a","reward":1.0,"latency_ms":120.0,"latency_applied":false}
{"kind":"reward","decision_id":"d2","use_case":"qa","reward":0.5,"latency_ms":300.0}
{"kind":"reward","decision_id":"zz","use_case":"qa","reward":0.5}
{"kind":"reward","decis
"#;
        let t = totals(feedback, Some(decisions));
        assert_eq!((t.lines, t.unreadable, t.decisions, t.unattributed_feedback), (5, 2, 2, 1));
        let a = &t.by_model["a"];
        assert_eq!((a.decisions, a.feedback), (1, 1));
        assert_eq!(a.mean_latency_ms(), Some(100.0), "the server-measured latency counts once");
        let b = &t.by_model["b"];
        assert_eq!(b.mean_reward(), Some(0.5), "model found through the decision log");
        assert_eq!(b.mean_latency_ms(), Some(300.0));
    }
}
