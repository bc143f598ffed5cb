//! Live router totals from the router's feedback log (`NOA_HOME/router/feedback.jsonl`).
//! The report reads the log tolerantly, one JSON object per line: a line with a
//! `reward` is feedback, any other line naming a model is a decision. Unknown fields
//! are ignored and unreadable lines counted, so the report never breaks on a log
//! written by a newer router.

use std::collections::BTreeMap;

use serde_json::Value;

/// File name of the feedback log inside `NOA_HOME/router/`.
pub const FEEDBACK_FILE: &str = "feedback.jsonl";

/// Totals for one model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelTotals {
    pub decisions: u64,
    pub feedback: u64,
    pub reward_sum: f64,
    pub latency_sum_ms: f64,
    pub latency_n: u64,
}

impl ModelTotals {
    pub fn mean_reward(&self) -> Option<f64> {
        (self.feedback > 0).then(|| self.reward_sum / self.feedback as f64)
    }
    pub fn mean_latency_ms(&self) -> Option<f64> {
        (self.latency_n > 0).then(|| self.latency_sum_ms / self.latency_n as f64)
    }
}

/// Totals over the whole log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackTotals {
    pub lines: u64,
    pub unreadable: u64,
    /// Feedback lines whose model could not be told (it lives in the decision).
    pub unattributed_feedback: u64,
    pub by_model: BTreeMap<String, ModelTotals>,
}

const MODEL_KEYS: [&str; 5] = ["model", "model_id", "chosen", "chosen_model", "arm"];
const LATENCY_KEYS: [&str; 4] = ["latency_ms", "observed_latency_ms", "e2e_ms", "latency"];

/// Count decisions and feedback per model in the text of a feedback log.
pub fn totals(text: &str) -> FeedbackTotals {
    let mut t = FeedbackTotals::default();
    // A feedback line may only carry its decision id: remember which model each
    // decision went to.
    let mut decision_model: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        t.lines += 1;
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
            t.unreadable += 1;
            continue;
        };
        // Some logs wrap the record: {"kind": "...", "decision": {...}} etc.
        let flat = flatten(&obj);
        let model = MODEL_KEYS.iter().find_map(|k| flat.get(*k).copied().and_then(model_name));
        let decision_id = ["decision_id", "id"]
            .iter()
            .find_map(|k| flat.get(*k).copied().and_then(|v| v.as_str().map(str::to_owned)));
        let reward = flat.get("reward").copied().and_then(Value::as_f64);
        match reward {
            Some(r) => {
                let model =
                    model.or_else(|| decision_id.and_then(|d| decision_model.get(&d).cloned()));
                let Some(model) = model else {
                    t.unattributed_feedback += 1;
                    continue;
                };
                let m = t.by_model.entry(model).or_default();
                m.feedback += 1;
                m.reward_sum += r;
                if let Some(l) =
                    LATENCY_KEYS.iter().find_map(|k| flat.get(*k).copied().and_then(Value::as_f64))
                {
                    m.latency_sum_ms += l;
                    m.latency_n += 1;
                }
            }
            None => {
                let Some(model) = model else {
                    continue;
                };
                if let Some(d) = decision_id {
                    decision_model.insert(d, model.clone());
                }
                t.by_model.entry(model).or_default().decisions += 1;
            }
        }
    }
    t
}

/// A model named either as a string or as an object with an `id`.
fn model_name(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// Top-level fields plus those of nested objects (one level), top level winning.
fn flatten(obj: &serde_json::Map<String, Value>) -> BTreeMap<String, &Value> {
    let mut out = BTreeMap::new();
    for v in obj.values() {
        if let Value::Object(inner) = v {
            for (k, iv) in inner {
                out.entry(k.clone()).or_insert(iv);
            }
        }
    }
    for (k, v) in obj {
        out.insert(k.clone(), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_decisions_and_feedback_by_model() {
        let log = r#"{"kind":"decision","decision_id":"d1","model":"a","use_case":"qa"}
{"kind":"decision","decision_id":"d2","chosen":{"id":"b"}}
{"kind":"feedback","decision_id":"d1","reward":1.0,"latency_ms":100}
{"kind":"feedback","decision_id":"d2","reward":0.5}
not json
{"kind":"feedback","decision_id":"zz","reward":0.5}
"#;
        let t = totals(log);
        assert_eq!(t.lines, 6);
        assert_eq!(t.unreadable, 1);
        assert_eq!(t.unattributed_feedback, 1);
        let a = &t.by_model["a"];
        assert_eq!((a.decisions, a.feedback), (1, 1));
        assert_eq!(a.mean_latency_ms(), Some(100.0));
        assert_eq!(t.by_model["b"].mean_reward(), Some(0.5));
    }
}
