//! Live router totals from the router's logs in `NOA_HOME/router/`: `feedback.jsonl`
//! (append-only, one record per reward or measured latency, each naming its decision,
//! use case and model) and `decisions.jsonl` (append-only, one record per decision).
//! Both are read as the registry's typed records ([`noa_registry::router_log`]), the
//! ones the router writes. Unknown fields are ignored, so a log from a newer router
//! still reads, and a line that does not parse as a record (a torn last line after a
//! crash) is skipped and counted rather than breaking the report.

use std::collections::{BTreeMap, BTreeSet};

use noa_registry::router_log::{DecisionRecord, FeedbackKind, FeedbackRecord};
use serde::de::DeserializeOwned;

pub use noa_registry::router_log::{DECISIONS_FILE, FEEDBACK_FILE};

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
    /// Lines in the feedback log, readable or not.
    pub lines: u64,
    /// Lines of either log that are not a record the router writes.
    pub unreadable: u64,
    /// Decisions in the decision log.
    pub decisions: u64,
    pub by_model: BTreeMap<String, ModelTotals>,
}

/// Count rewards, latencies and decisions per model.
pub fn totals(feedback: &str, decisions: Option<&str>) -> FeedbackTotals {
    let mut t = FeedbackTotals::default();
    // The policy stays text: a policy added by a newer router is no reason to skip a line.
    let (decisions, unreadable) = records::<DecisionRecord>(decisions.unwrap_or_default());
    t.unreadable += unreadable;
    for d in &decisions {
        t.decisions += 1;
        let m = t.by_model.entry(d.model.clone()).or_default();
        m.decisions += 1;
        m.use_cases.insert(d.use_case.as_str().to_owned());
    }
    let (feedback, unreadable) = records::<FeedbackRecord>(feedback);
    t.lines = feedback.len() as u64 + unreadable;
    t.unreadable += unreadable;
    for f in &feedback {
        add_feedback(t.by_model.entry(f.model.clone()).or_default(), f);
    }
    t
}

/// One feedback record into its model's totals.
fn add_feedback(m: &mut ModelTotals, f: &FeedbackRecord) {
    m.use_cases.insert(f.use_case.as_str().to_owned());
    if let Some(r) = f.reward.filter(|_| f.kind == FeedbackKind::Reward) {
        m.feedback += 1;
        m.reward_sum += r;
    }
    // A reward's latency that the server had already measured itself is not new.
    let new_latency = f.kind == FeedbackKind::Latency || f.latency_applied;
    if let Some(l) = f.latency_ms.filter(|_| new_latency) {
        m.latency_sum_ms += l;
        m.latency_n += 1;
    }
}

/// The records of a JSON-lines text, and how many non-blank lines are not one.
fn records<T: DeserializeOwned>(text: &str) -> (Vec<T>, u64) {
    let mut out = Vec::new();
    let mut unreadable = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(r) => out.push(r),
            Err(_) => unreadable += 1,
        }
    }
    (out, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rewards_latencies_and_decisions_by_model() {
        let decisions = r#"{"id":"d1","use_case":"qa","model":"a","policy":"thompson","probability":0.8,"features":[1.0],"unix_ms":1}
{"id":"d2","use_case":"qa","model":"b","policy":"a_policy_added_later","probability":0.2,"features":[1.0],"unix_ms":2}
{"id":"d3","use_case":"qa","model":"b"
"#;
        let feedback = r#"{"kind":"latency","decision_id":"d1","use_case":"qa","model":"a","latency_ms":100.0,"latency_applied":true,"features":[1.0],"unix_ms":3}
{"kind":"reward","decision_id":"d1","use_case":"qa","model":"a","reward":1.0,"latency_ms":120.0,"latency_applied":false,"features":[1.0],"unix_ms":4}
{"kind":"reward","decision_id":"d2","use_case":"qa","model":"b","reward":0.5,"latency_ms":300.0,"latency_applied":true,"features":[1.0],"unix_ms":5,"a_field_added_later":1}
{"kind":"reward","decision_id":"zz","use_case":"qa","reward":0.5}
{"kind":"reward","decis
"#;
        let t = totals(feedback, Some(decisions));
        // The record without a model is not one the router writes: unreadable, like the
        // torn lines of both logs.
        assert_eq!((t.lines, t.unreadable, t.decisions), (5, 3, 2));
        let a = &t.by_model["a"];
        assert_eq!((a.decisions, a.feedback), (1, 1));
        assert_eq!(a.mean_latency_ms(), Some(100.0), "the server-measured latency counts once");
        let b = &t.by_model["b"];
        assert_eq!(b.decisions, 1, "a policy this report does not know still reads");
        assert_eq!(b.mean_reward(), Some(0.5));
        assert_eq!(b.mean_latency_ms(), Some(300.0));
        assert_eq!(b.use_cases.iter().collect::<Vec<_>>(), ["qa"]);
    }

    /// The router's own logs, written through `noa_router`, read back here: the
    /// record types are shared, so a field renamed on one side fails this test.
    #[test]
    fn logs_written_by_the_router_are_read_back() {
        use noa_registry::UseCase;
        use noa_router::testing::registry_with;
        use noa_router::{Router, RouterConfig, TaskRequirements};

        let dir = tempfile::tempdir().unwrap();
        let config = RouterConfig { seed: Some(1), ..RouterConfig::default() };
        let router = Router::open(&registry_with(3), config, dir.path()).unwrap();
        let req = TaskRequirements::new(UseCase::CodeGeneration);
        let mut chosen = Vec::new();
        for i in 0..6 {
            let d = router.select(&req).unwrap();
            if i < 4 {
                router.observe_latency(&d.decision_id, 200.0).unwrap();
                router.feedback(&d.decision_id, 1.0, Some(250.0)).unwrap();
            }
            chosen.push(d.model.to_string());
        }
        drop(router);

        let read = |name| std::fs::read_to_string(dir.path().join(name)).unwrap();
        let t = totals(&read(FEEDBACK_FILE), Some(&read(DECISIONS_FILE)));
        assert_eq!((t.lines, t.unreadable, t.decisions), (8, 0, 6));
        let decided: u64 = t.by_model.values().map(|m| m.decisions).sum();
        let rewarded: u64 = t.by_model.values().map(|m| m.feedback).sum();
        let latencies: u64 = t.by_model.values().map(|m| m.latency_n).sum();
        assert_eq!((decided, rewarded, latencies), (6, 4, 4), "{t:?}");
        for (model, m) in &t.by_model {
            assert_eq!(m.decisions, chosen.iter().filter(|c| *c == model).count() as u64);
            assert_eq!(m.use_cases.iter().collect::<Vec<_>>(), ["code_generation"]);
            if m.latency_n > 0 {
                assert_eq!(
                    m.mean_latency_ms(),
                    Some(200.0),
                    "the server's measurement counts once"
                );
            }
        }
    }
}
