//! What a routing decision returns: the chosen model and the probability it was
//! chosen with (for off-policy evaluation), the ranked survivors with their estimates,
//! and every rejected model with the constraint that rejected it.

use std::sync::Arc;

use noa_registry::{DecisionStatus, PrivacyTier, UseCase};
use serde::{Deserialize, Serialize};

use crate::requirements::PolicyKind;

/// A routing decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Quote this id when sending feedback.
    pub decision_id: String,
    pub model: Arc<str>,
    pub use_case: UseCase,
    pub policy: PolicyKind,
    /// Probability the policy had of choosing `model` given the survivors: exact for
    /// random, round-robin, greedy and LinUCB; for Thompson sampling computed by
    /// numerical integration over normal approximations of the Beta posteriors.
    pub probability: f64,
    /// Survivors of the hard constraints, best estimated quality first.
    pub candidates: Vec<RankedCandidate>,
    /// Models that failed a hard constraint, with the reason.
    pub rejected: Vec<RejectedModel>,
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// What `noa bench` decided for this use case on this machine, when it has: the
    /// measured priors the choice started from are its paired estimates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Arc<BenchEvidence>>,
}

/// A use case's decision from `noa bench`'s paired comparisons, as a routing decision
/// cites it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchEvidence {
    /// `settled`, `tied` or `open`.
    pub status: DecisionStatus,
    /// The model the bench found best for the use case.
    pub leader: String,
    /// Items every compared model answered.
    pub items: u64,
    /// For an open use case, the further items an estimate says would decide it.
    #[serde(default)]
    pub further_items: Option<u64>,
    pub run_id: String,
    /// RFC 3339.
    pub timestamp: String,
}

/// A model that passed the hard constraints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedCandidate {
    pub model: Arc<str>,
    /// Posterior mean quality for this use case (measured prior plus feedback).
    pub estimated_quality: f64,
    /// The lower bound the `min_quality` constraint was checked against.
    pub quality_lower_bound: f64,
    /// Where the estimate comes from: `measured`, `declared` or `feedback`.
    pub quality_source: QualitySource,
    /// Predicted p95 end-to-end latency, if a latency model exists.
    pub predicted_p95_ms: Option<f64>,
    /// The policy's score (Thompson draw, LinUCB upper bound, mean...).
    pub policy_score: f64,
}

/// Where a quality estimate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualitySource {
    /// Bench measurements only.
    Measured,
    /// The catalog's declared prior only.
    Declared,
    /// Prior updated by live feedback.
    Feedback,
}

/// A model that failed a hard constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedModel {
    pub model: Arc<str>,
    pub reason: Rejection,
}

/// The hard constraint a model failed, in the order they are checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "constraint", rename_all = "snake_case")]
pub enum Rejection {
    NotAllowed,
    Denied,
    NotInstalled,
    /// Its engine crashed (or failed to load) moments ago; it is left alone a while.
    CoolingDown {
        seconds_left: f64,
        cause: String,
    },
    UseCase {
        use_case: UseCase,
    },
    Privacy {
        model_tier: PrivacyTier,
        allowed: PrivacyTier,
    },
    Memory {
        needed_bytes: u64,
        available_bytes: u64,
    },
    LatencyUnknown {
        max_ms: f64,
    },
    Latency {
        predicted_p95_ms: f64,
        max_ms: f64,
    },
    Quality {
        lower_bound: f64,
        min_quality: f64,
        source: QualitySource,
    },
}

impl Rejection {
    /// Position in the checking order (later constraints see fewer models).
    pub fn stage(&self) -> usize {
        match self {
            Rejection::NotAllowed | Rejection::Denied => 0,
            Rejection::NotInstalled | Rejection::CoolingDown { .. } => 1,
            Rejection::UseCase { .. } => 2,
            Rejection::Privacy { .. } => 3,
            Rejection::Memory { .. } => 4,
            Rejection::LatencyUnknown { .. } | Rejection::Latency { .. } => 5,
            Rejection::Quality { .. } => 6,
        }
    }

    /// The requirement's name, as in [`crate::TaskRequirements`].
    pub fn constraint(&self) -> &'static str {
        match self.stage() {
            0 => "allow/deny lists",
            1 => "installed and running",
            2 => "use_case",
            3 => "privacy",
            4 => "memory",
            5 => "max_latency_ms",
            _ => "min_quality",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MIB: f64 = (1 << 20) as f64;
        match self {
            Rejection::NotAllowed => write!(f, "not in the allow list"),
            Rejection::Denied => write!(f, "in the deny list"),
            Rejection::NotInstalled => write!(f, "not installed (no model file)"),
            Rejection::CoolingDown { seconds_left, cause } => {
                write!(
                    f,
                    "cooling down for {seconds_left:.0} s more after its engine failed: {cause}"
                )
            }
            Rejection::UseCase { use_case } => {
                write!(f, "does not support `{use_case}` (neither declared nor measured)")
            }
            Rejection::Privacy { model_tier, allowed } => write!(
                f,
                "privacy tier `{}` exceeds the allowed `{}`",
                tier(*model_tier),
                tier(*allowed)
            ),
            Rejection::Memory { needed_bytes, available_bytes } => write!(
                f,
                "needs {:.0} MiB, only {:.0} MiB available",
                *needed_bytes as f64 / MIB,
                *available_bytes as f64 / MIB
            ),
            Rejection::LatencyUnknown { max_ms } => {
                write!(f, "latency never measured, cannot promise {max_ms:.0} ms")
            }
            Rejection::Latency { predicted_p95_ms, max_ms } => {
                write!(f, "predicted p95 {predicted_p95_ms:.0} ms > max {max_ms:.0} ms")
            }
            Rejection::Quality { lower_bound, min_quality, source } => write!(
                f,
                "quality lower bound {lower_bound:.3} ({}) < min {min_quality:.3}",
                match source {
                    QualitySource::Measured => "measured 95% CI",
                    QualitySource::Declared => "declared prior only",
                    QualitySource::Feedback => "posterior with feedback",
                }
            ),
        }
    }
}

fn tier(t: PrivacyTier) -> &'static str {
    match t {
        PrivacyTier::Local => "local",
        PrivacyTier::Private => "private",
        PrivacyTier::Cloud => "cloud",
    }
}
