//! What a caller asks the router for: the use case, hard limits (privacy, quality,
//! latency, allow/deny lists), the expected size of the request, and optionally which
//! policy to use. Also turns a request into the fixed-size feature vector LinUCB sees.

use std::str::FromStr;

use noa_registry::{PrivacyTier, UseCase};
use serde::{Deserialize, Serialize};

use crate::error::RouteError;

/// Extra numeric request features a caller may pass (beyond use case and sizes).
pub const EXTRA_FEATURES: usize = 4;
/// Length of the LinUCB feature vector: bias, use-case one-hot, log prompt length,
/// expected output tokens, extra features.
pub const FEATURES: usize = 1 + UseCase::ALL.len() + 2 + EXTRA_FEATURES;

/// A request for a routing decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRequirements {
    /// Accepts the aliases of [`UseCase`]'s `FromStr` (`code`, `tools`, ...).
    #[serde(deserialize_with = "de_use_case")]
    pub use_case: UseCase,
    /// Most permissive privacy tier allowed (`local` accepts only local models).
    #[serde(default)]
    pub privacy: Option<PrivacyTier>,
    /// Lower bound of the quality estimate must reach this, in [0, 1].
    #[serde(default)]
    pub min_quality: Option<f64>,
    /// Predicted p95 end-to-end latency must not exceed this, milliseconds.
    #[serde(default)]
    pub max_latency_ms: Option<f64>,
    /// Expected prompt tokens (default: the measured mean of the suite).
    #[serde(default)]
    pub prompt_tokens: Option<u32>,
    /// Expected output tokens (default: the measured mean of the suite).
    #[serde(default)]
    pub output_tokens: Option<u32>,
    /// Only these models (empty: all).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Never these models.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Override the server's policy for this request.
    #[serde(default)]
    pub policy: Option<PolicyKind>,
    /// Up to four extra numeric features for the contextual policy.
    #[serde(default)]
    pub features: Vec<f64>,
}

impl TaskRequirements {
    pub fn new(use_case: UseCase) -> Self {
        Self {
            use_case,
            privacy: None,
            min_quality: None,
            max_latency_ms: None,
            prompt_tokens: None,
            output_tokens: None,
            allow: Vec::new(),
            deny: Vec::new(),
            policy: None,
            features: Vec::new(),
        }
    }

    /// Reject values no model could be judged against.
    pub fn validate(&self) -> Result<(), RouteError> {
        let bad = |field, reason: String| Err(RouteError::InvalidRequirements { field, reason });
        if let Some(q) = self.min_quality
            && !(0.0..=1.0).contains(&q)
        {
            return bad("min_quality", format!("`{q}` is not in [0, 1]"));
        }
        if let Some(l) = self.max_latency_ms
            && !(l.is_finite() && l > 0.0)
        {
            return bad("max_latency_ms", format!("`{l}` is not a positive number"));
        }
        if self.features.len() > EXTRA_FEATURES {
            return bad(
                "features",
                format!("{} given, at most {EXTRA_FEATURES} allowed", self.features.len()),
            );
        }
        if let Some(f) = self.features.iter().find(|f| !f.is_finite()) {
            return bad("features", format!("`{f}` is not a finite number"));
        }
        Ok(())
    }
}

/// Deserialise a use case by name or alias, with the list of names on error.
pub fn de_use_case<'de, D: serde::Deserializer<'de>>(d: D) -> Result<UseCase, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// Position of a use case in [`UseCase::ALL`], used to index per-use-case tables.
pub fn uc_index(u: UseCase) -> usize {
    match u {
        UseCase::CodeGeneration => 0,
        UseCase::Reasoning => 1,
        UseCase::Qa => 2,
        UseCase::FunctionCalling => 3,
        UseCase::InstructionFollowing => 4,
        UseCase::Agent => 5,
        UseCase::Vision => 6,
        UseCase::General => 7,
    }
}

/// The LinUCB context of a request.
pub fn feature_vector(
    use_case: UseCase,
    prompt_tokens: f64,
    output_tokens: f64,
    extra: &[f64],
) -> [f64; FEATURES] {
    let mut x = [0.0; FEATURES];
    x[0] = 1.0;
    x[1 + uc_index(use_case)] = 1.0;
    let base = 1 + UseCase::ALL.len();
    // Scaled so typical values sit near 1 and no feature dominates the ridge.
    x[base] = (1.0 + prompt_tokens.max(0.0)).ln() / 8.0;
    x[base + 1] = output_tokens.max(0.0) / 1024.0;
    for (slot, v) in x[base + 2..].iter_mut().zip(extra) {
        *slot = *v;
    }
    x
}

/// How the router picks among the models that pass the hard constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// Thompson sampling per (use case, model) on Beta posteriors (the default).
    Thompson,
    /// LinUCB over request features.
    Linucb,
    /// Highest measured quality, no exploration.
    Greedy,
    /// Uniformly at random.
    Random,
    /// Each survivor in turn.
    RoundRobin,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 5] = [
        PolicyKind::Thompson,
        PolicyKind::Linucb,
        PolicyKind::Greedy,
        PolicyKind::Random,
        PolicyKind::RoundRobin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Thompson => "thompson",
            PolicyKind::Linucb => "linucb",
            PolicyKind::Greedy => "greedy",
            PolicyKind::Random => "random",
            PolicyKind::RoundRobin => "round_robin",
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PolicyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        match norm.as_str() {
            "thompson" | "ts" => Ok(PolicyKind::Thompson),
            "linucb" | "lin_ucb" => Ok(PolicyKind::Linucb),
            "greedy" => Ok(PolicyKind::Greedy),
            "random" => Ok(PolicyKind::Random),
            "round_robin" | "roundrobin" | "rr" => Ok(PolicyKind::RoundRobin),
            _ => Err(format!(
                "unknown policy `{s}` (expected one of: thompson, linucb, greedy, random, round_robin)"
            )),
        }
    }
}
