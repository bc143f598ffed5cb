//! The candidate table: everything the constraints and priors need about each model,
//! computed once from the registry so that a decision reads flat arrays instead of
//! walking measurements. `general` is built as the aggregate of instruction following
//! and Q&A measurements. Where `noa bench` decided a use case from paired comparisons,
//! the compared models' quality priors are their means over the items every one of
//! them answered: estimates on the same items, so their order is the bench's order.

use std::sync::Arc;

use noa_registry::{
    Decision, Measurement, ModelEntry, PrivacyTier, Registry, UseCase, cmp_timestamps,
};

use crate::config::RouterConfig;
use crate::decision::BenchEvidence;
use crate::requirements::uc_index;

/// Number of use cases (per-use-case arrays are this long).
pub const N_UC: usize = UseCase::ALL.len();

/// A measured quality, aggregated over the latest measurement of each suite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasuredQuality {
    pub mean: f64,
    pub n: u64,
    pub ci_low: f64,
}

/// The measured latency figures a prediction is scaled from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyParams {
    pub ttft_p95_ms: f64,
    pub inter_token_p95_ms: f64,
    pub prompt_tps: f64,
    pub mean_prompt_tokens: f64,
    pub mean_gen_tokens: f64,
}

impl LatencyParams {
    /// Predicted p95 end-to-end latency: the measured p95 time to first token, moved
    /// by the prompt-length difference at the measured prompt speed, plus one p95
    /// inter-token gap per output token.
    pub fn predict_p95(&self, prompt_tokens: f64, output_tokens: f64) -> f64 {
        let shift = if self.prompt_tps > 0.0 {
            (prompt_tokens - self.mean_prompt_tokens) * 1000.0 / self.prompt_tps
        } else {
            0.0
        };
        let ttft = (self.ttft_p95_ms + shift).max(self.ttft_p95_ms * 0.1);
        ttft + output_tokens.max(0.0) * self.inter_token_p95_ms
    }
}

/// One model as the router sees it.
#[derive(Debug, Clone)]
pub struct ModelRow {
    pub id: Arc<str>,
    pub installed: bool,
    pub privacy: PrivacyTier,
    /// File size plus overhead, bytes (0 when not installed).
    pub memory_bytes: u64,
    pub supports: [bool; N_UC],
    pub quality: [Option<MeasuredQuality>; N_UC],
    pub declared_quality: Option<f64>,
    pub latency: [Option<LatencyParams>; N_UC],
}

/// All models, in registry order.
#[derive(Debug, Clone, Default)]
pub struct CandidateTable {
    pub rows: Vec<ModelRow>,
    /// Per use case, the latest bench decision, cited by routing decisions.
    pub evidence: [Option<Arc<BenchEvidence>>; N_UC],
}

impl CandidateTable {
    pub fn build(registry: &Registry, config: &RouterConfig) -> Self {
        let mut rows: Vec<ModelRow> = registry.models.iter().map(|m| row(m, config)).collect();
        let mut evidence: [Option<Arc<BenchEvidence>>; N_UC] = Default::default();
        for u in UseCase::ALL {
            let Some(d) = latest_decision(registry, u) else { continue };
            paired_priors(&mut rows, d);
            evidence[uc_index(u)] = Some(Arc::new(BenchEvidence {
                status: d.status,
                leader: d.leader.clone(),
                items: d.items,
                further_items: d.further_items,
                run_id: d.run_id.clone(),
                timestamp: d.timestamp.clone(),
            }));
        }
        Self { rows, evidence }
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.rows.iter().position(|r| &*r.id == id)
    }
}

/// The most recent decision for `use_case`.
fn latest_decision(registry: &Registry, use_case: UseCase) -> Option<&Decision> {
    registry
        .decisions
        .iter()
        .filter(|d| d.use_case == use_case && d.items > 0)
        .max_by(|a, b| cmp_timestamps(&a.timestamp, &b.timestamp))
}

/// Replace the quality prior of every model `d` compared by its mean over the items
/// they all answered; the interval's lower end (for `min_quality`) stays the model's
/// own, from all its items.
fn paired_priors(rows: &mut [ModelRow], d: &Decision) {
    let u = uc_index(d.use_case);
    for m in &d.models {
        let Some(row) = rows.iter_mut().find(|r| *r.id == *m.id) else { continue };
        let mean = if m.mean.is_finite() { m.mean.clamp(0.0, 1.0) } else { continue };
        let ci_low = row.quality[u].map_or(0.0, |q| q.ci_low.min(mean));
        row.quality[u] = Some(MeasuredQuality { mean, n: d.items, ci_low });
        row.supports[u] = true;
    }
}

fn usable(m: &Measurement) -> bool {
    m.failure.is_none()
}

fn aggregate_quality(ms: &[&Measurement]) -> Option<MeasuredQuality> {
    let qs: Vec<_> = ms.iter().filter_map(|m| m.quality.as_ref()).filter(|q| q.n > 0).collect();
    let n: u64 = qs.iter().map(|q| q.n).sum();
    if n == 0 {
        return None;
    }
    let w = |f: &dyn Fn(&noa_registry::Quality) -> f64| {
        qs.iter().map(|q| f(q) * q.n as f64).sum::<f64>() / n as f64
    };
    let clamp = |v: f64| if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
    Some(MeasuredQuality { mean: clamp(w(&|q| q.mean)), n, ci_low: clamp(w(&|q| q.ci_low)) })
}

fn latency_of(m: &Measurement) -> Option<LatencyParams> {
    let l = m.latency.as_ref()?;
    let p = LatencyParams {
        ttft_p95_ms: l.ttft_ms.p95,
        inter_token_p95_ms: l.inter_token_ms.p95,
        prompt_tps: l.prompt_tps,
        mean_prompt_tokens: l.mean_prompt_tokens,
        mean_gen_tokens: l.mean_gen_tokens,
    };
    let ok = [
        p.ttft_p95_ms,
        p.inter_token_p95_ms,
        p.prompt_tps,
        p.mean_prompt_tokens,
        p.mean_gen_tokens,
    ]
    .iter()
    .all(|v| v.is_finite() && *v >= 0.0);
    ok.then_some(p)
}

fn row(entry: &ModelEntry, config: &RouterConfig) -> ModelRow {
    let declared = &entry.declared;
    let mut supports = [false; N_UC];
    let mut quality = [None; N_UC];
    let mut latency = [None; N_UC];
    // Fallback latency: the most recent measurement of any use case.
    let any_latency = entry
        .measured
        .iter()
        .filter(|m| usable(m) && m.latency.is_some())
        .max_by(|a, b| cmp_timestamps(&a.timestamp, &b.timestamp))
        .and_then(latency_of);
    for u in UseCase::ALL {
        let i = uc_index(u);
        let ms = entry.latest_per_suite(|m| usable(m) && u.components().contains(&m.use_case));
        quality[i] = aggregate_quality(&ms);
        latency[i] = ms
            .iter()
            .filter(|m| m.latency.is_some())
            .max_by(|a, b| cmp_timestamps(&a.timestamp, &b.timestamp))
            .and_then(|m| latency_of(m))
            .or(any_latency);
        let declared_uc = u.components().iter().any(|c| declared.use_cases.contains(c))
            || declared.use_cases.contains(&u)
            || (u == UseCase::Vision && declared.vision);
        supports[i] = declared_uc || quality[i].is_some();
    }
    let memory_bytes = entry.file.as_ref().map_or(0, |f| {
        f.size
            .saturating_add((f.size as f64 * config.memory_overhead_fraction) as u64)
            .saturating_add(config.memory_overhead_bytes)
    });
    ModelRow {
        id: Arc::from(entry.id.as_str()),
        // A remote model is as usable as an installed file: its server holds it.
        installed: entry.file.is_some() || entry.remote.is_some(),
        privacy: declared.privacy,
        memory_bytes,
        supports,
        quality,
        declared_quality: declared.quality.filter(|q| q.is_finite()).map(|q| q.clamp(0.0, 1.0)),
        latency,
    }
}
