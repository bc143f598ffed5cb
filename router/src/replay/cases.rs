//! The replayed items as simulated requests, the deterministic fold split, and the
//! registries the replay routers are built from. Cross-fitted priors are written as
//! ordinary registry measurements, so the replay router reads them exactly as `noa
//! serve` reads what `noa bench` measured, and nothing in the router needs to know
//! it is being replayed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use noa_registry::runs::ItemRecord;
use noa_registry::{
    InstalledFile, Latency, Measurement, MeasurementKey, ModelEntry, Percentiles, Quality,
    Registry, UseCase,
};

use super::{DriftTarget, Priors, ReplayError};

/// z for a two-sided 95% interval.
const Z95: f64 = 1.96;

/// One simulated request: an item and each model's recorded outcome.
#[derive(Clone)]
pub(super) struct Case<'a> {
    pub use_case: UseCase,
    pub prompt_tokens: u32,
    /// Hash of (suite, item id): decides the item's fold.
    pub key: u64,
    /// model id → its record for this item (the latest run's, when several).
    pub outcomes: BTreeMap<&'a str, &'a ItemRecord>,
}

impl Case<'_> {
    /// The recorded score of `model`, clamped to [0, 1]; 0 when it has none.
    pub fn score(&self, model: &str) -> f64 {
        self.outcomes.get(model).map_or(0.0, |r| score(r))
    }

    /// The recorded end-to-end latency of `model`, ms; 0 when it has none.
    pub fn latency(&self, model: &str) -> f64 {
        self.outcomes.get(model).map_or(0.0, |r| r.timings.e2e_ms.max(0.0))
    }
}

fn score(r: &ItemRecord) -> f64 {
    if r.score.is_finite() { r.score.clamp(0.0, 1.0) } else { 0.0 }
}

/// Group records by (suite, item id); later runs replace earlier outcomes of a model.
pub(super) fn cases(items: &[ItemRecord]) -> Vec<Case<'_>> {
    let mut by_item: BTreeMap<(&str, &str), Case<'_>> = BTreeMap::new();
    for it in items {
        let case = by_item.entry((&it.suite, &it.item_id)).or_insert_with(|| Case {
            use_case: it.use_case,
            prompt_tokens: it.prompt_tokens,
            key: item_hash(&it.suite, &it.item_id),
            outcomes: BTreeMap::new(),
        });
        case.outcomes.insert(&it.model_id, it);
    }
    by_item.into_values().collect()
}

/// FNV-1a over suite and item id: stable across Rust versions and platforms (unlike
/// the standard library's hasher), so a split is the same wherever it is computed.
fn item_hash(suite: &str, item_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in suite.bytes().chain([0xff]).chain(item_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The fold (of `folds`) an item of `suite` falls in: a hash of suite and item id, so
/// every policy and seed, and every later replay of the same items, sees one split.
pub fn fold_of(suite: &str, item_id: &str, folds: u32) -> u32 {
    (item_hash(suite, item_id) % u64::from(folds.max(1))) as u32
}

/// Per use case, the model with the highest mean score over that use case's items
/// (ties to the smaller id), and that mean.
pub(super) type BestFixed<'a> = HashMap<UseCase, (&'a str, f64)>;

pub(super) fn best_fixed<'a>(cases: &[Case<'a>]) -> BestFixed<'a> {
    let mut best: BestFixed<'a> = HashMap::new();
    for ((u, m), mean) in means(cases) {
        let slot = best.entry(u).or_insert((m, mean));
        if mean > slot.1 || (mean == slot.1 && m < slot.0) {
            *slot = (m, mean);
        }
    }
    best
}

/// Mean score of each (use case, model) over the items it has outcomes for.
fn means<'a>(cases: &[Case<'a>]) -> BTreeMap<(UseCase, &'a str), f64> {
    let mut sums: BTreeMap<(UseCase, &str), (f64, f64)> = BTreeMap::new();
    for c in cases {
        for (m, r) in &c.outcomes {
            let e = sums.entry((c.use_case, m)).or_default();
            e.0 += score(r);
            e.1 += 1.0;
        }
    }
    sums.into_iter().map(|(k, (s, n))| (k, s / n)).collect()
}

/// The drifted use cases in which the drift can be seen on the items `held` (one
/// plan's): another model's mean score on them is at least `margin`. Only there does
/// keeping the broken model (now scoring 0) lose at least `margin` a request, and only
/// there can outcomes tell a policy that it broke; where every other model scores as
/// low as the broken one now does (a suite no model passes, a fold whose only item
/// nobody solves), staying costs nothing, so recovery is not read there.
pub(super) fn visible_drift(
    cases: &[Case<'_>],
    held: &[usize],
    drift: &BTreeMap<UseCase, String>,
    margin: f64,
) -> BTreeSet<UseCase> {
    let held: Vec<Case<'_>> = held.iter().map(|&i| cases[i].clone()).collect();
    let means = means(&held);
    drift
        .iter()
        .filter(|(u, broken)| {
            means.iter().any(|((v, m), mean)| v == *u && m != broken && *mean >= margin)
        })
        .map(|(u, _)| *u)
        .collect()
}

/// Per use case, the model whose scores drop in the drift scenario.
pub(super) fn drift_models(
    cases: &[Case<'_>],
    best: &BestFixed<'_>,
    target: &DriftTarget,
) -> Result<BTreeMap<UseCase, String>, ReplayError> {
    let out: BTreeMap<UseCase, String> = match target {
        DriftTarget::Best => best.iter().map(|(u, (m, _))| (*u, (*m).to_owned())).collect(),
        DriftTarget::Model(id) => cases
            .iter()
            .filter(|c| c.outcomes.contains_key(id.as_str()))
            .map(|c| (c.use_case, id.clone()))
            .collect(),
    };
    match target {
        DriftTarget::Model(id) if out.is_empty() => Err(ReplayError::UnknownDriftModel(id.clone())),
        _ => Ok(out),
    }
}

/// One replay router's world: the registry it is built from and the cases it serves.
pub(super) struct Plan {
    pub fold: u32,
    pub registry: Registry,
    /// Indices into the cases.
    pub cases: Vec<usize>,
}

/// The routers of one replay: one per fold that holds items under cross-fitting
/// (priors from the other folds' items), else one over every item.
pub(super) fn plans(
    registry: &Registry,
    cases: &[Case<'_>],
    priors: Priors,
    folds: u32,
) -> Vec<Plan> {
    let all: Vec<usize> = (0..cases.len()).collect();
    let single = |measured: Option<BTreeMap<&str, Vec<Measurement>>>| {
        vec![Plan {
            fold: 0,
            registry: replay_registry(registry, cases, measured),
            cases: all.clone(),
        }]
    };
    match priors {
        Priors::Registry => single(None),
        Priors::Declared => single(Some(BTreeMap::new())),
        Priors::InSample => single(Some(measured(cases.iter()))),
        Priors::CrossFit => (0..folds)
            .filter_map(|f| {
                let in_fold = |c: &Case<'_>| c.key % u64::from(folds) == u64::from(f);
                let held: Vec<usize> =
                    all.iter().copied().filter(|&i| in_fold(&cases[i])).collect();
                if held.is_empty() {
                    return None;
                }
                let train = measured(cases.iter().filter(|c| !in_fold(c)));
                Some(Plan {
                    fold: f,
                    registry: replay_registry(registry, cases, Some(train)),
                    cases: held,
                })
            })
            .collect(),
    }
}

/// The registry a replay router is built from: every model with outcomes, marked
/// installed and declaring the use cases it has items in (so a model with no
/// training items in a fold is still a candidate, on its declared prior). Its
/// measurements are the registry's (`None`) or replaced by `measured`.
fn replay_registry(
    registry: &Registry,
    cases: &[Case<'_>],
    measured: Option<BTreeMap<&str, Vec<Measurement>>>,
) -> Registry {
    let mut seen: BTreeMap<&str, Vec<UseCase>> = BTreeMap::new();
    for c in cases {
        for m in c.outcomes.keys() {
            let ucs = seen.entry(m).or_default();
            if !ucs.contains(&c.use_case) {
                ucs.push(c.use_case);
            }
        }
    }
    // A fresh registry: nothing else of the user's (hosts, the bench's decisions, whose
    // paired priors come from these same items) reaches the replay router.
    let mut reg = Registry::default();
    for (id, ucs) in seen {
        let mut entry = registry.get(id).cloned().unwrap_or_else(|| ModelEntry::bare(id));
        for u in ucs {
            if !entry.declared.use_cases.contains(&u) {
                entry.declared.use_cases.push(u);
            }
        }
        entry.file = Some(InstalledFile {
            path: String::new(),
            size: 0,
            sha256: String::new(),
            verified_at: String::new(),
        });
        if let Some(measured) = &measured {
            entry.measured = measured.get(id).cloned().unwrap_or_default();
        }
        reg.upsert(entry);
    }
    reg
}

/// What a bench run would have measured on `train` alone: per (model, use case) one
/// measurement with the mean score and the latency percentiles of those items.
fn measured<'a>(train: impl Iterator<Item = &'a Case<'a>>) -> BTreeMap<&'a str, Vec<Measurement>> {
    let mut groups: BTreeMap<(&str, UseCase), Vec<&ItemRecord>> = BTreeMap::new();
    for c in train {
        for (m, r) in &c.outcomes {
            groups.entry((m, c.use_case)).or_default().push(r);
        }
    }
    let mut out: BTreeMap<&str, Vec<Measurement>> = BTreeMap::new();
    for ((m, u), recs) in groups {
        out.entry(m).or_default().push(measurement(u, &recs));
    }
    out
}

fn measurement(use_case: UseCase, recs: &[&ItemRecord]) -> Measurement {
    let scores: Vec<f64> = recs.iter().map(|r| score(r)).collect();
    Measurement {
        key: MeasurementKey {
            model_sha256: recs.first().map(|r| r.model_sha256.clone()).unwrap_or_default(),
            suite: format!("replay-{use_case}@1"),
            engine_build: "replay".to_owned(),
            hardware: "replay".to_owned(),
            remote: None,
        },
        use_case,
        quality: quality(&scores),
        latency: latency(recs),
        peak_memory_bytes: None,
        run_id: "replay".to_owned(),
        timestamp: String::new(),
        failure: None,
    }
}

/// Mean with a normal 95% interval. Only the `min_quality` constraint reads the
/// interval, and replayed requests set none, so no finer interval is needed here.
fn quality(scores: &[f64]) -> Option<Quality> {
    let n = scores.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let mean = scores.iter().sum::<f64>() / nf;
    let var = if n < 2 {
        0.25
    } else {
        scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (nf - 1.0)
    };
    let half = Z95 * (var / nf).sqrt();
    Some(Quality {
        mean,
        n: n as u64,
        ci_low: (mean - half).max(0.0),
        ci_high: (mean + half).min(1.0),
    })
}

/// Latency figures over the items that ran, as the bench aggregates them.
fn latency(recs: &[&ItemRecord]) -> Option<Latency> {
    let ok: Vec<&ItemRecord> = recs.iter().copied().filter(|r| r.error.is_none()).collect();
    if ok.is_empty() {
        return None;
    }
    let n = ok.len() as f64;
    let positive_mean = |f: fn(&ItemRecord) -> f64| {
        let v: Vec<f64> = ok.iter().map(|r| f(r)).filter(|x| x.is_finite() && *x > 0.0).collect();
        if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 }
    };
    let gaps: Vec<f64> =
        ok.iter().flat_map(|r| r.timings.inter_token_gaps_ms.iter().copied()).collect();
    let inter_token = if gaps.is_empty() {
        percentiles(ok.iter().map(|r| r.timings.inter_token_ms).collect())
    } else {
        percentiles(gaps)
    };
    Some(Latency {
        load_ms: 0.0,
        ttft_ms: percentiles(ok.iter().map(|r| r.timings.ttft_ms).collect()),
        inter_token_ms: inter_token,
        e2e_ms: percentiles(ok.iter().map(|r| r.timings.e2e_ms).collect()),
        prompt_tps: positive_mean(|r| r.timings.prompt_tps),
        gen_tps: positive_mean(|r| r.timings.gen_tps),
        mean_prompt_tokens: ok.iter().map(|r| f64::from(r.prompt_tokens)).sum::<f64>() / n,
        mean_gen_tokens: ok.iter().map(|r| f64::from(r.gen_tokens)).sum::<f64>() / n,
    })
}

/// Nearest-rank p50/p95/p99 of the finite, non-negative values (0 when none).
fn percentiles(mut v: Vec<f64>) -> Percentiles {
    v.retain(|x| x.is_finite() && *x >= 0.0);
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let rank = (q * v.len() as f64).ceil() as usize;
        v.get(rank.clamp(1, v.len().max(1)) - 1).copied().unwrap_or(0.0)
    };
    Percentiles { p50: at(0.50), p95: at(0.95), p99: at(0.99) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_split_is_stable_and_roughly_even() {
        // Pinned values: a change of hash would silently change every replay's split.
        assert_eq!(item_hash("", ""), 0xaf64_724c_8602_eb6e);
        assert_eq!(item_hash("code", "item-7"), 0x1101_a3ea_915d_20d6);
        let mut counts = [0u32; 3];
        for i in 0..3000 {
            counts[fold_of("code", &format!("item-{i}"), 3) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
        assert_eq!(fold_of("code", "item-7", 2), fold_of("code", "item-7", 2));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let p = percentiles((1..=100).map(f64::from).collect());
        assert_eq!((p.p50, p.p95, p.p99), (50.0, 95.0, 99.0));
        assert_eq!(percentiles(Vec::new()).p95, 0.0);
        assert_eq!(percentiles(vec![f64::NAN, 3.0]).p50, 3.0);
    }
}
