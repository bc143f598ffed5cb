//! The live part of the latency model. The measured figures give a predicted p95 for
//! a request's size; observed latencies of this model's requests calibrate it with an
//! exponentially weighted log-normal fit of observed/predicted (or of the observed
//! latency itself for a model the bench never timed).

use serde::{Deserialize, Serialize};

use crate::table::LatencyParams;

const Z95: f64 = 1.645;
/// Observations before feedback fully replaces the measured prediction's scale.
const BLEND: f64 = 10.0;

/// Exponentially weighted mean and variance (weight 1/n at first, then 5%).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Ew {
    pub n: u64,
    pub mean: f64,
    pub var: f64,
}

impl Ew {
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let a = (1.0 / self.n as f64).max(0.05);
        let d = x - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
    }
    fn q95(&self) -> f64 {
        self.mean + Z95 * self.var.max(0.0).sqrt()
    }
}

/// What feedback taught about one model's latency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyObs {
    /// ln(observed / predicted p95).
    pub log_ratio: Ew,
    /// ln(observed ms).
    pub log_ms: Ew,
}

impl LatencyObs {
    /// Predicted p95 end-to-end latency, ms; `None` when nothing is known.
    pub fn predict(&self, params: Option<&LatencyParams>, prompt: f64, output: f64) -> Option<f64> {
        match params {
            Some(p) => {
                let base = p.predict_p95(prompt, output);
                if self.log_ratio.n == 0 {
                    return Some(base);
                }
                let w = self.log_ratio.n as f64 / (self.log_ratio.n as f64 + BLEND);
                Some(base * (w * self.log_ratio.q95()).exp())
            }
            None if self.log_ms.n >= 3 => Some(self.log_ms.q95().exp()),
            None => None,
        }
    }

    pub fn observe(&mut self, predicted: Option<f64>, observed_ms: f64) {
        let obs = observed_ms.max(0.01);
        self.log_ms.push(obs.ln());
        if let Some(p) = predicted.filter(|p| *p > 0.0) {
            self.log_ratio.push((obs / p).ln());
        }
    }
}
