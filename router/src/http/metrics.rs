//! Prometheus counters and histograms for `GET /metrics`, kept in flat atomic arrays
//! indexed by model so the hot path never takes a lock or allocates.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::requirements::PolicyKind;
use crate::table::CandidateTable;

/// Upper bounds of the latency histogram buckets, milliseconds.
const BUCKETS_MS: [f64; 12] =
    [10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0];

#[derive(Debug, Default)]
struct PerModel {
    decisions: AtomicU64,
    feedback: AtomicU64,
    completions: AtomicU64,
    engine_failures: AtomicU64,
    buckets: [AtomicU64; BUCKETS_MS.len()],
    count: AtomicU64,
    /// Microseconds, so the sum stays an integer.
    sum_us: AtomicU64,
}

/// The service's counters.
#[derive(Debug)]
pub struct Metrics {
    models: Vec<String>,
    per_model: Vec<PerModel>,
    per_policy: [AtomicU64; PolicyKind::ALL.len()],
    route_errors: AtomicU64,
    feedback_rejected: AtomicU64,
}

impl Metrics {
    pub fn new(table: &CandidateTable) -> Self {
        Self {
            models: table.rows.iter().map(|r| r.id.to_string()).collect(),
            per_model: table.rows.iter().map(|_| PerModel::default()).collect(),
            per_policy: Default::default(),
            route_errors: AtomicU64::new(0),
            feedback_rejected: AtomicU64::new(0),
        }
    }

    fn at(&self, model: &str) -> Option<&PerModel> {
        self.models.iter().position(|m| m == model).map(|i| &self.per_model[i])
    }

    pub fn decision(&self, model: &str, policy: PolicyKind) {
        if let Some(m) = self.at(model) {
            m.decisions.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(i) = PolicyKind::ALL.iter().position(|p| *p == policy) {
            self.per_policy[i].fetch_add(1, Ordering::Relaxed);
        }
    }
    pub fn route_error(&self) {
        self.route_errors.fetch_add(1, Ordering::Relaxed);
    }
    pub fn feedback(&self, model: &str) {
        if let Some(m) = self.at(model) {
            m.feedback.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub fn feedback_rejected(&self) {
        self.feedback_rejected.fetch_add(1, Ordering::Relaxed);
    }
    pub fn completion(&self, model: &str) {
        if let Some(m) = self.at(model) {
            m.completions.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub fn engine_failure(&self, model: &str) {
        if let Some(m) = self.at(model) {
            m.engine_failures.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub fn latency(&self, model: &str, ms: f64) {
        let Some(m) = self.at(model) else { return };
        if let Some(i) = BUCKETS_MS.iter().position(|b| ms <= *b) {
            m.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        m.count.fetch_add(1, Ordering::Relaxed);
        m.sum_us.fetch_add((ms.max(0.0) * 1000.0) as u64, Ordering::Relaxed);
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let counter = |out: &mut String, name: &str, help: &str, f: &dyn Fn(&PerModel) -> u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (id, m) in self.models.iter().zip(&self.per_model) {
                let _ = writeln!(out, "{name}{{model=\"{}\"}} {}", escape(id), f(m));
            }
        };
        counter(&mut out, "noa_decisions_total", "Routing decisions per chosen model.", &|m| {
            get(&m.decisions)
        });
        counter(&mut out, "noa_feedback_total", "Feedback recorded per model.", &|m| {
            get(&m.feedback)
        });
        counter(
            &mut out,
            "noa_chat_completions_total",
            "Chat completions served per model.",
            &|m| get(&m.completions),
        );
        counter(
            &mut out,
            "noa_engine_failures_total",
            "Requests whose model's engine crashed, hung or would not load.",
            &|m| get(&m.engine_failures),
        );
        let _ = writeln!(
            out,
            "# HELP noa_decisions_by_policy_total Routing decisions per policy.\n# TYPE noa_decisions_by_policy_total counter"
        );
        for (p, c) in PolicyKind::ALL.iter().zip(&self.per_policy) {
            let _ = writeln!(out, "noa_decisions_by_policy_total{{policy=\"{p}\"}} {}", get(c));
        }
        let _ = writeln!(
            out,
            "# HELP noa_route_errors_total Routing requests no model could serve.\n# TYPE noa_route_errors_total counter\nnoa_route_errors_total {}",
            get(&self.route_errors)
        );
        let _ = writeln!(
            out,
            "# HELP noa_feedback_rejected_total Feedback refused (unknown, repeated, out of range).\n# TYPE noa_feedback_rejected_total counter\nnoa_feedback_rejected_total {}",
            get(&self.feedback_rejected)
        );
        let name = "noa_request_latency_ms";
        let _ = writeln!(
            out,
            "# HELP {name} End-to-end latency of served or reported requests per model, milliseconds.\n# TYPE {name} histogram"
        );
        for (id, m) in self.models.iter().zip(&self.per_model) {
            let id = escape(id);
            let mut cum = 0;
            for (b, c) in BUCKETS_MS.iter().zip(&m.buckets) {
                cum += get(c);
                let _ = writeln!(out, "{name}_bucket{{model=\"{id}\",le=\"{b}\"}} {cum}");
            }
            let count = get(&m.count);
            let _ = writeln!(out, "{name}_bucket{{model=\"{id}\",le=\"+Inf\"}} {count}");
            let _ =
                writeln!(out, "{name}_sum{{model=\"{id}\"}} {}", get(&m.sum_us) as f64 / 1000.0);
            let _ = writeln!(out, "{name}_count{{model=\"{id}\"}} {count}");
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Gauges of each model's engine: its state, restarts and memory, and the models
/// cooling down after a failure.
pub fn render_runtime(
    runtime: &[crate::backend::ModelRuntime],
    cooling: &[(String, (f64, String))],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP noa_model_state Engine state per model (1 for its current state).\n# TYPE noa_model_state gauge"
    );
    for r in runtime {
        let _ =
            writeln!(out, "noa_model_state{{model=\"{}\",state=\"{}\"}} 1", escape(&r.id), r.state);
    }
    for (id, _) in cooling {
        let _ =
            writeln!(out, "noa_model_state{{model=\"{}\",state=\"cooling_down\"}} 1", escape(id));
    }
    let _ = writeln!(
        out,
        "# HELP noa_engine_restarts_total Engine workers restarted per model.\n# TYPE noa_engine_restarts_total counter"
    );
    for r in runtime {
        let _ = writeln!(
            out,
            "noa_engine_restarts_total{{model=\"{}\"}} {}",
            escape(&r.id),
            r.restarts
        );
    }
    let _ = writeln!(
        out,
        "# HELP noa_model_memory_bytes Resident memory per loaded model (measured for engine workers).\n# TYPE noa_model_memory_bytes gauge"
    );
    for r in runtime {
        let _ = writeln!(
            out,
            "noa_model_memory_bytes{{model=\"{}\"}} {}",
            escape(&r.id),
            r.memory_bytes
        );
    }
    out
}
