//! Tunables of a [`crate::Router`], with defaults that suit a single machine.

use crate::requirements::PolicyKind;

/// How a router is set up. Every field has a sensible default.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterConfig {
    /// Policy used when a request names none.
    pub policy: PolicyKind,
    /// Most pseudo-observations a measured score counts for in a prior, so live
    /// feedback can overturn a bench result.
    pub prior_cap: f64,
    /// Pseudo-observations behind a declared (catalog) quality: a weak prior.
    pub declared_weight: f64,
    /// Discount applied to a use case's feedback counts on each new observation
    /// (1 = no drift; 0.998 remembers roughly the last 500 observations).
    pub discount: f64,
    /// Shift of an arm's mean reward (either way) the Thompson change detector looks
    /// for; 0.25 catches a model that breaks, not the noise of a few bad answers.
    pub change_shift: f64,
    /// Alarm level of that detector, a log-likelihood ratio: 5 takes about 12
    /// straight failures of a model that scored 0.5. A model that does not change
    /// alarms about once per 400–1700 of its observations (simulated); such a false
    /// alarm costs little (the arm keeps its latest dozen observations and a weak
    /// prior at its measured mean). Infinity turns the detector off.
    pub change_threshold: f64,
    /// LinUCB exploration width.
    pub linucb_alpha: f64,
    /// Memory models may use, bytes; `None` skips the memory constraint.
    pub memory_bytes: Option<u64>,
    /// Fixed overhead added to a model's file size when checking memory fit.
    pub memory_overhead_bytes: u64,
    /// Overhead proportional to file size (KV cache, buffers).
    pub memory_overhead_fraction: f64,
    /// Seed of the policy RNG; `None` seeds from the OS.
    pub seed: Option<u64>,
    /// Decisions awaiting feedback that are remembered (oldest forgotten first).
    pub max_pending: usize,
    /// z-score of the quality lower bound taken from a posterior (1.645: 5% quantile).
    pub lower_z: f64,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            policy: PolicyKind::Thompson,
            prior_cap: 20.0,
            declared_weight: 2.0,
            discount: 0.998,
            change_shift: 0.25,
            change_threshold: 5.0,
            linucb_alpha: 0.5,
            memory_bytes: None,
            memory_overhead_bytes: 256 << 20,
            memory_overhead_fraction: 0.1,
            seed: None,
            max_pending: 100_000,
            lower_z: 1.645,
        }
    }
}
