//! The simulation itself: one router per (policy, seed, fold) serves that fold's
//! items in a seeded random order and sees only the chosen model's outcome; what each
//! request cost is kept as a [`Step`], and the accumulators turn steps into the
//! report's figures.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use noa_registry::UseCase;
use noa_registry::runs::{PolicyDrift, PolicyReplay};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

use super::ReplayError;
use super::cases::{BestFixed, Case, Plan};
use crate::config::RouterConfig;
use crate::requirements::{PolicyKind, TaskRequirements};
use crate::router::Router;

/// What one simulated request produced.
pub(super) struct Step {
    pub use_case: UseCase,
    pub model: Arc<str>,
    /// The chosen model's score (after any drift).
    pub score: f64,
    pub latency_ms: f64,
    /// The best score any model had on this item (after any drift).
    pub oracle: f64,
    /// The best fixed model's score on this item (its mean when it has no outcome).
    pub fixed: f64,
    /// The item's use case has a drifted model and that model has an outcome here.
    pub affected: bool,
    /// The chosen model is this use case's drifted model.
    pub drifted: bool,
}

/// Everything a segment needs besides its plan.
pub(super) struct World<'a> {
    pub cases: &'a [Case<'a>],
    pub best: &'a BestFixed<'a>,
    /// Per use case, the model whose scores become 0 halfway through each segment.
    pub drift: Option<&'a BTreeMap<UseCase, String>>,
}

/// Serve `requests` requests of `plan`'s cases with a fresh router. Drifted models
/// score 0 from request `requests / 2` on.
pub(super) fn run_segment(
    world: &World<'_>,
    plan: &Plan,
    policy: PolicyKind,
    seed: u64,
    requests: usize,
) -> Result<Vec<Step>, ReplayError> {
    let route = |e: &dyn std::fmt::Display| ReplayError::Route(e.to_string());
    // Same order and policy draws for every policy; fold 0 (and a single plan, so the
    // non-cross-fitted replays are those of before folds existed) keeps the seed.
    let seed = seed ^ (u64::from(plan.fold) << 32);
    let config =
        RouterConfig { policy, seed: Some(seed), max_pending: 16, ..RouterConfig::default() };
    let router = Router::in_memory(&plan.registry, config);
    let mut order = plan.cases.clone();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut steps = Vec::with_capacity(requests);
    for r in 0..requests {
        if order.is_empty() {
            break;
        }
        if r % order.len() == 0 {
            order.shuffle(&mut rng);
        }
        let case = &world.cases[order[r % order.len()]];
        let target = world
            .drift
            .and_then(|d| d.get(&case.use_case))
            .map(String::as_str)
            .filter(|m| case.outcomes.contains_key(m));
        let changed = target.filter(|_| r >= requests / 2);
        let score_of = |m: &str| if changed == Some(m) { 0.0 } else { case.score(m) };
        let mut req = TaskRequirements::new(case.use_case);
        req.prompt_tokens = Some(case.prompt_tokens);
        req.allow = case.outcomes.keys().map(|m| (*m).to_owned()).collect();
        let d = router.select(&req).map_err(|e| route(&e))?;
        let (score, latency_ms) = (score_of(&d.model), case.latency(&d.model));
        router.feedback(&d.decision_id, score, Some(latency_ms)).map_err(|e| route(&e))?;
        let fixed = world.best.get(&case.use_case).map_or(0.0, |(m, mean)| {
            if case.outcomes.contains_key(m) { score_of(m) } else { *mean }
        });
        steps.push(Step {
            use_case: case.use_case,
            drifted: target == Some(&*d.model),
            model: d.model,
            score,
            latency_ms,
            oracle: case.outcomes.keys().map(|&m| score_of(m)).fold(0.0, f64::max),
            fixed,
            affected: target.is_some(),
        });
    }
    Ok(steps)
}

/// The stationary replay's figures for one policy, summed over seeds.
pub(super) struct Acc {
    curve: Vec<f64>,
    quality: f64,
    latency: f64,
    regret: f64,
    regret_fixed: f64,
    share: BTreeMap<String, f64>,
}

impl Acc {
    pub fn new(requests: usize) -> Self {
        Acc {
            curve: vec![0.0; requests],
            quality: 0.0,
            latency: 0.0,
            regret: 0.0,
            regret_fixed: 0.0,
            share: BTreeMap::new(),
        }
    }

    /// Add one seed's steps, every fold's in turn (regret keeps summing across folds).
    pub fn add_seed(&mut self, steps: &[Step]) {
        let mut regret = 0.0;
        for (slot, s) in self.curve.iter_mut().zip(steps) {
            regret += s.oracle - s.score;
            *slot += regret;
        }
        for s in steps {
            self.regret_fixed += s.fixed - s.score;
            self.quality += s.score;
            self.latency += s.latency_ms;
            *self.share.entry(s.model.to_string()).or_default() += 1.0;
        }
        self.regret += regret;
    }

    pub fn finish(self, policy: &str, seeds: f64, requests: f64) -> PolicyReplay {
        let total = (seeds * requests).max(1.0);
        PolicyReplay {
            policy: policy.to_owned(),
            mean_quality: self.quality / total,
            mean_latency_ms: self.latency / total,
            regret_vs_oracle: self.regret / seeds,
            regret_vs_best_fixed: self.regret_fixed / seeds,
            regret_curve: self.curve.into_iter().map(|c| c / seeds).collect(),
            model_share: self.share.into_iter().map(|(m, n)| (m, n / total)).collect(),
        }
    }
}

/// The drift scenario's figures for one policy.
pub(super) struct DriftAcc {
    before: f64,
    after: f64,
    recovery: Vec<Option<u64>>,
    window: usize,
    threshold: f64,
}

impl DriftAcc {
    pub fn new(window: u32, threshold: f64) -> Self {
        DriftAcc {
            before: 0.0,
            after: 0.0,
            recovery: Vec::new(),
            window: window as usize,
            threshold,
        }
    }

    /// Add one segment (one seed × fold) whose change came at `steps.len() / 2`.
    /// Recovery is read per `counted` use case (where the drift can be seen), in that
    /// use case's own requests: what a policy learns about one use case tells it
    /// nothing about another's model.
    pub fn add_segment(&mut self, steps: &[Step], counted: &BTreeSet<UseCase>) {
        let change = steps.len() / 2;
        for (i, s) in steps.iter().enumerate() {
            let slot = if i < change { &mut self.before } else { &mut self.after };
            *slot += s.oracle - s.score;
        }
        for &u in counted {
            let own = |s: &&Step| s.affected && s.use_case == u;
            let picks: Vec<bool> = steps.iter().filter(own).map(|s| s.drifted).collect();
            let before = steps[..change].iter().filter(own).count();
            // A run with nothing to recover from says nothing about recovery.
            if picks.len() > before {
                self.recovery.push(recovery(&picks, before, self.window, self.threshold));
            }
        }
    }

    pub fn finish(self, policy: &str, seeds: f64) -> PolicyDrift {
        PolicyDrift {
            policy: policy.to_owned(),
            regret_before_change: self.before / seeds,
            regret_after_change: self.after / seeds,
            recovery_median: median(&self.recovery),
            recovery: self.recovery,
        }
    }
}

/// `picks`: whether each request of one use case went to the drifted model, the
/// first `change` of them before the change. Returns the requests after the change
/// until the drifted model's share of the last `window` requests (those before the
/// change included) fell below `threshold` *and stayed there to the end of the run*:
/// 0 when that held from the change on, `None` when the run ended above it. Only a
/// full window counts, so a sparse use case cannot recover by chance, and a policy
/// that dips below the threshold by chance (as `random` does) and comes back has not
/// recovered.
pub(super) fn recovery(
    picks: &[bool],
    change: usize,
    window: usize,
    threshold: f64,
) -> Option<u64> {
    let mut hits = 0usize;
    let mut since = None;
    for (i, &drifted) in picks.iter().enumerate() {
        hits += usize::from(drifted);
        if i >= window {
            hits -= usize::from(picks[i - window]);
        }
        if i + 1 < change {
            continue;
        }
        let below = i + 1 >= window && (hits as f64) < threshold * window as f64;
        since = if below { since.or(Some((i + 1 - change) as u64)) } else { None };
    }
    since
}

/// The median run, the later of the two middle ones for an even count; a run that
/// never recovered counts as longer than any that did.
fn median(runs: &[Option<u64>]) -> Option<f64> {
    let mut v: Vec<u64> = runs.iter().map(|r| r.unwrap_or(u64::MAX)).collect();
    v.sort_unstable();
    v.get(v.len() / 2).filter(|m| **m != u64::MAX).map(|m| *m as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recovery over request kinds: 0 to someone else, 1 to the drifted model, 2 a
    /// request of another use case (left out, as `add_segment` leaves it out).
    fn rec(picks: &[u8], change: usize, window: usize, threshold: f64) -> Option<u64> {
        let own: Vec<bool> = picks.iter().filter(|p| **p != 2).map(|p| *p == 1).collect();
        let before = picks[..change].iter().filter(|p| **p != 2).count();
        recovery(&own, before, window, threshold)
    }

    #[test]
    fn recovery_counts_affected_requests_after_the_change() {
        // Window 4, threshold 0.5: recovered once at most 1 of the last 4 is drifted.
        let s = [1, 1, 1, 1, /* change */ 0, 2, 0, 1, 0, 0];
        assert_eq!(rec(&s, 4, 4, 0.5), Some(4)); // [1, 1, 1, 0] ... [0, 0, 1, 0]
        assert_eq!(rec(&[0, 0, 0, 0, 1, 0, 0], 4, 4, 0.5), Some(0));
        assert_eq!(rec(&[1, 1, 1, 1, 1, 0, 0], 4, 4, 0.5), None);
        // A window never filled never counts.
        assert_eq!(rec(&[0, 0, 2, 2], 2, 4, 0.5), None);
    }

    #[test]
    fn recovery_must_last_to_the_end_of_the_run() {
        // Below the threshold at the change, then back to the drifted model: not
        // recovered (the measure before it had to last counted this as 0).
        assert_eq!(rec(&[0, 0, 0, 0, 1, 1], 4, 4, 0.5), None);
        // Below, above, below again: recovered from the second time on.
        assert_eq!(rec(&[1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0], 4, 4, 0.5), Some(8));
    }

    #[test]
    fn median_treats_never_as_longest() {
        assert_eq!(median(&[Some(3), None, Some(1)]), Some(3.0));
        assert_eq!(median(&[Some(3), None, None, Some(1)]), None);
        assert_eq!(median(&[Some(3), Some(5), None, Some(1)]), Some(5.0));
        assert_eq!(median(&[]), None);
    }
}
