//! Which model wins each use case, decided from paired comparisons. Every model
//! answers the same items, so what is compared is the per-item difference between the
//! leader and each rival: item difficulty cancels out, and the interval on a mean
//! difference is far tighter than two independent intervals on the same items.
//!
//! The bench looks at these intervals after every round and stops spending items on a
//! use case once it is decided, so a fixed-n interval would be peeked at repeatedly
//! and lose its coverage. Each difference's interval is instead an *anytime-valid*
//! confidence sequence: the betting ("hedged capital") sequence of Waudby-Smith &
//! Ramdas (2023, JRSS-B, Theorem 3 with the predictable plug-in bets of their eq. 26),
//! which holds its 95% coverage simultaneously at every number of items, and adapts to
//! the variance (two models that both fail an item add a zero, which narrows it fast).
//! The stream of a pair is taken in the order its differences became known: the
//! later of the two records in `items.jsonl`.

use std::collections::BTreeMap;

use noa_registry::runs::ItemRecord;
use noa_registry::{Decision, DecisionStatus, PairStatus, PairedDifference, PairedModel, UseCase};

/// 1 − coverage of every interval.
pub const ALPHA: f64 = 0.05;
/// Differences within ± this count as ties unless `--tie-margin` says otherwise.
pub const DEFAULT_TIE_MARGIN: f64 = 0.05;
/// Candidate means, evenly over [0, 1] in the mapped scale (0.001 in difference units).
const GRID: usize = 2001;
/// The bets' cap, `c` in the paper (which suggests 1/2 to 3/4): a bet never risks
/// more than this share of the capital. The larger end proves ties sooner — with
/// every difference 0, a ±0.05 tie takes about 95 items rather than 140 (no interval
/// can do it in fewer than about 60: a 5% chance per item of a difference would still
/// go unseen that long).
const BET_CAP: f64 = 0.75;
/// Further items are not estimated past this.
const MAX_ESTIMATE: u64 = 100_000;

/// An anytime-valid confidence sequence for the mean of differences in [−1, 1].
#[derive(Debug, Clone)]
pub struct ConfidenceSequence {
    alpha: f64,
    /// Log capital of the bets on "the mean is above m" / "below m", per grid point.
    log_up: Vec<f64>,
    log_down: Vec<f64>,
    /// Running maximum of the hedged log capital: the sequence is intersected over time.
    log_max: Vec<f64>,
    n: u64,
    sum: f64,
    /// Σ (x_i − μ̂_i)², for the plug-in variance.
    sq_dev: f64,
    /// Plain sums of d, for the sample mean and variance.
    d_sum: f64,
    d_sq: f64,
}

impl ConfidenceSequence {
    pub fn new(alpha: f64) -> Self {
        Self {
            alpha,
            log_up: vec![0.0; GRID],
            log_down: vec![0.0; GRID],
            log_max: vec![f64::NEG_INFINITY; GRID],
            n: 0,
            sum: 0.0,
            sq_dev: 0.0,
            d_sum: 0.0,
            d_sq: 0.0,
        }
    }

    /// Observe one difference (clamped to [−1, 1]).
    pub fn push(&mut self, d: f64) {
        let d = if d.is_finite() { d.clamp(-1.0, 1.0) } else { 0.0 };
        let x = (d + 1.0) / 2.0;
        let t = (self.n + 1) as f64;
        // The bet is fixed before x is seen: variance from the first t − 1 values.
        let var = (0.25 + self.sq_dev) / t;
        let bet = (2.0 * (2.0 / self.alpha).ln() / (var * t * (1.0 + t).ln())).sqrt();
        // The hedge puts half the capital on each side (θ = 1/2).
        let log_half = 0.5f64.ln();
        for j in 0..GRID {
            let m = j as f64 / (GRID - 1) as f64;
            let up = bet.min(BET_CAP / m);
            let down = bet.min(BET_CAP / (1.0 - m));
            self.log_up[j] += (up * (x - m)).ln_1p();
            self.log_down[j] += (-down * (x - m)).ln_1p();
            let hedged = log_half + self.log_up[j].max(self.log_down[j]);
            self.log_max[j] = self.log_max[j].max(hedged);
        }
        self.n += 1;
        self.sum += x;
        let mean_now = (0.5 + self.sum) / (self.n as f64 + 1.0);
        self.sq_dev += (x - mean_now).powi(2);
        self.d_sum += d;
        self.d_sq += d * d;
    }

    pub fn n(&self) -> u64 {
        self.n
    }

    /// Mean of the differences seen (0 before any).
    pub fn mean(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.d_sum / self.n as f64 }
    }

    /// Sample variance of the differences (0 before two).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as f64;
        ((self.d_sq - self.d_sum * self.d_sum / n) / (n - 1.0)).max(0.0)
    }

    /// The interval on the mean difference: every candidate no bet has multiplied its
    /// capital by 1/α against (its hull). [−1, 1] before any item.
    pub fn interval(&self) -> (f64, f64) {
        let threshold = (1.0 / self.alpha).ln();
        let kept = |j: &usize| self.log_max[*j] < threshold;
        let lo = (0..GRID).find(kept);
        let hi = (0..GRID).rev().find(kept);
        let to_d = |j: usize| 2.0 * (j as f64 / (GRID - 1) as f64) - 1.0;
        match (lo, hi) {
            (Some(lo), Some(hi)) => (to_d(lo), to_d(hi)),
            // Only rounding can exclude every candidate: fall back to the point.
            _ => (self.mean(), self.mean()),
        }
    }
}

/// How a decision is reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecideSettings {
    pub tie_margin: f64,
    pub alpha: f64,
}

impl Default for DecideSettings {
    fn default() -> Self {
        Self { tie_margin: DEFAULT_TIE_MARGIN, alpha: ALPHA }
    }
}

/// Where a decision was measured, copied into it.
#[derive(Debug, Clone)]
pub struct DecisionMeta {
    pub hardware: String,
    pub engine_build: String,
    pub run_id: String,
    pub timestamp: String,
}

/// Decide `use_case` among `models` from `records` (one run's items, in the order
/// they were recorded). `None` when fewer than two of the models have items in it.
pub fn decide(
    use_case: UseCase,
    models: &[String],
    records: &[ItemRecord],
    settings: DecideSettings,
    meta: &DecisionMeta,
) -> Option<Decision> {
    let table = paired_table(use_case, models, records);
    let present: Vec<&String> =
        models.iter().filter(|m| table.values().any(|row| row.contains_key(m.as_str()))).collect();
    if present.len() < 2 {
        return None;
    }
    let common: Vec<&BTreeMap<&str, (f64, usize)>> =
        table.values().filter(|row| present.iter().all(|m| row.contains_key(m.as_str()))).collect();
    let mean_of = |m: &str| {
        let rows: Vec<f64> = if common.is_empty() {
            table.values().filter_map(|row| row.get(m).map(|s| s.0)).collect()
        } else {
            common.iter().filter_map(|row| row.get(m).map(|s| s.0)).collect()
        };
        if rows.is_empty() { 0.0 } else { rows.iter().sum::<f64>() / rows.len() as f64 }
    };
    let mut ranked: Vec<PairedModel> =
        present.iter().map(|m| PairedModel { id: (*m).clone(), mean: mean_of(m) }).collect();
    // Highest mean first; ties by id, so the order is stable.
    ranked.sort_by(|a, b| b.mean.total_cmp(&a.mean).then_with(|| a.id.cmp(&b.id)));
    let leader = ranked[0].id.clone();
    let mut pairs = Vec::new();
    let mut further: Option<u64> = None;
    for rival in ranked.iter().skip(1) {
        let cs = pair_sequence(&table, &leader, &rival.id, settings.alpha);
        let (lo, hi) = cs.interval();
        let status = pair_status(lo, hi, settings.tie_margin);
        if status == PairStatus::Open {
            let need = further_items(&cs, settings);
            further = Some(further.map_or(need, |f| f.max(need)));
        }
        pairs.push(PairedDifference {
            rival: rival.id.clone(),
            n: cs.n(),
            mean: cs.mean(),
            ci_low: lo,
            ci_high: hi,
            status,
        });
    }
    let status = if pairs.iter().all(|p| p.status == PairStatus::Tied) {
        DecisionStatus::Tied
    } else if pairs.iter().all(|p| p.status != PairStatus::Open) {
        DecisionStatus::Settled
    } else {
        DecisionStatus::Open
    };
    Some(Decision {
        use_case,
        hardware: meta.hardware.clone(),
        engine_build: meta.engine_build.clone(),
        run_id: meta.run_id.clone(),
        timestamp: meta.timestamp.clone(),
        status,
        leader,
        tie_margin: settings.tie_margin,
        confidence: 1.0 - settings.alpha,
        items: common.len() as u64,
        models: ranked,
        pairs,
        further_items: further,
    })
}

/// A decision for every use case with items from at least two of `models`.
pub fn decide_all(
    models: &[String],
    records: &[ItemRecord],
    settings: DecideSettings,
    meta: &DecisionMeta,
) -> Vec<Decision> {
    UseCase::ALL.iter().filter_map(|&u| decide(u, models, records, settings, meta)).collect()
}

/// Per (suite, item): per model, (score, position in `records`).
type PairedTable<'a> = BTreeMap<(&'a str, &'a str), BTreeMap<&'a str, (f64, usize)>>;

/// (suite, item) → model → (score, position in `records`), for `use_case`'s items.
/// A later record of the same model and item replaces an earlier one.
fn paired_table<'a>(
    use_case: UseCase,
    models: &'a [String],
    records: &'a [ItemRecord],
) -> PairedTable<'a> {
    let mut table = PairedTable::new();
    for (pos, r) in records.iter().enumerate() {
        if !use_case.components().contains(&r.use_case) {
            continue;
        }
        let Some(model) = models.iter().find(|m| **m == r.model_id) else { continue };
        let score = if r.score.is_finite() { r.score.clamp(0.0, 1.0) } else { 0.0 };
        table
            .entry((r.suite.as_str(), r.item_id.as_str()))
            .or_default()
            .insert(model.as_str(), (score, pos));
    }
    table
}

/// The confidence sequence of `leader − rival`, fed in the order the differences
/// became known.
fn pair_sequence(
    table: &PairedTable<'_>,
    leader: &str,
    rival: &str,
    alpha: f64,
) -> ConfidenceSequence {
    let mut diffs: Vec<(usize, f64)> = table
        .values()
        .filter_map(|row| {
            let (a, pa) = row.get(leader)?;
            let (b, pb) = row.get(rival)?;
            Some(((*pa).max(*pb), a - b))
        })
        .collect();
    diffs.sort_by_key(|d| d.0);
    let mut cs = ConfidenceSequence::new(alpha);
    for (_, d) in diffs {
        cs.push(d);
    }
    cs
}

fn pair_status(lo: f64, hi: f64, margin: f64) -> PairStatus {
    if lo > 0.0 {
        PairStatus::Ahead
    } else if lo >= -margin && hi <= margin {
        PairStatus::Tied
    } else {
        PairStatus::Open
    }
}

/// Further paired items an open comparison needs, estimated from its mean and spread
/// so far: the first n at which an interval of this width (the normal-mixture
/// boundary of Howard et al. 2021 at the sample variance) would separate the mean
/// from zero or fit it inside the tie margin, whichever comes first, less the items
/// already used. An estimate, not a promise: the differences still to come decide.
pub fn further_items(cs: &ConfidenceSequence, settings: DecideSettings) -> u64 {
    let gap = cs.mean().abs();
    // A floor on the variance: a handful of identical differences says little.
    let var = cs.variance().max(0.25 / (cs.n() as f64 + 1.0)).max(1e-3);
    let a = settings.alpha / 2.0;
    let half_width = |n: f64| {
        let v = n * var + 1.0;
        (v * (v / (a * a)).ln()).sqrt() / n
    };
    let first_below = |target: f64| -> u64 {
        if target <= 0.0 {
            return MAX_ESTIMATE;
        }
        let (mut lo, mut hi) = (1u64, 1u64);
        while half_width(hi as f64) >= target {
            if hi >= MAX_ESTIMATE {
                return MAX_ESTIMATE;
            }
            lo = hi;
            hi = (hi * 2).min(MAX_ESTIMATE);
        }
        while lo < hi {
            let mid = (lo + hi) / 2;
            if half_width(mid as f64) < target { hi = mid } else { lo = mid + 1 }
        }
        hi
    };
    let separate = first_below(gap);
    let tie = first_below(settings.tie_margin - gap);
    separate.min(tie).saturating_sub(cs.n()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn sequence_covers_and_narrows() {
        let mut cs = ConfidenceSequence::new(ALPHA);
        assert_eq!(cs.interval(), (-1.0, 1.0));
        for i in 0..200 {
            cs.push(if i % 2 == 0 { 1.0 } else { 0.0 });
        }
        let (lo, hi) = cs.interval();
        assert!(lo < 0.5 && 0.5 < hi, "{lo} {hi}");
        assert!(lo > 0.0, "200 items of mean 0.5 exclude 0: {lo}");
        assert!(hi - lo < 0.5, "{lo} {hi}");
    }

    #[test]
    fn identical_answers_settle_as_a_tie() {
        // Both models fail (or pass) every item: the differences are all zero.
        let mut cs = ConfidenceSequence::new(ALPHA);
        let mut n = 0;
        while !matches!(pair_status(cs.interval().0, cs.interval().1, 0.05), PairStatus::Tied) {
            cs.push(0.0);
            n += 1;
            assert!(n < 400, "no tie after 400 identical items: {:?}", cs.interval());
        }
        // A tie needs real evidence, not a handful of items.
        assert!((60..=120).contains(&n), "tied after {n} items");
    }

    /// Outcomes of a model pair on one item: +1, 0 or −1 with mean `delta`.
    fn draw(rng: &mut impl Rng, delta: f64) -> f64 {
        // P(+1) = 0.25 + delta/2, P(−1) = 0.25 − delta/2, P(0) = 0.5.
        let u: f64 = rng.random();
        if u < 0.25 + delta / 2.0 {
            1.0
        } else if u < 0.5 {
            -1.0
        } else {
            0.0
        }
    }

    /// The coverage check: over many runs that stop whenever they like, the sequence
    /// misses the true difference at most α of the time. A fixed-n interval looked at
    /// after every item, run beside it, misses far more often — which is why the bench
    /// does not use one.
    #[test]
    fn anytime_coverage_holds_where_peeking_fails() {
        for (delta, runs) in [(0.1, 300), (0.0, 300), (0.4, 300)] {
            let (rate, peek_rate) = miss_rates(delta, runs, 300);
            println!(
                "difference {delta}: miss rate over {runs} runs of 300 items: sequence {rate:.3}, \
                 peeked normal interval {peek_rate:.3}"
            );
            assert!(rate <= ALPHA, "confidence sequence missed {rate} at {delta}");
            assert!(peek_rate > 2.0 * ALPHA, "the peeked interval should miss often: {peek_rate}");
        }
    }

    /// Over `runs` runs of `steps` paired outcomes of mean `delta`: how often the
    /// sequence ever excluded `delta`, and how often a normal 95% interval recomputed
    /// after every item (from the tenth) did.
    fn miss_rates(delta: f64, runs: usize, steps: usize) -> (f64, f64) {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let (mut missed, mut peeked_missed) = (0, 0);
        for _ in 0..runs {
            let mut cs = ConfidenceSequence::new(ALPHA);
            let (mut sum, mut sq) = (0.0, 0.0);
            let (mut miss, mut peek_miss) = (false, false);
            for t in 1..=steps {
                let d = draw(&mut rng, delta);
                cs.push(d);
                sum += d;
                sq += d * d;
                let (lo, hi) = cs.interval();
                miss |= delta < lo - 1e-3 || delta > hi + 1e-3;
                if t >= 10 {
                    let n = t as f64;
                    let mean = sum / n;
                    let half = 1.96 * ((sq / n - mean * mean).max(0.0) / n).sqrt();
                    peek_miss |= (mean - delta).abs() > half;
                }
            }
            missed += usize::from(miss);
            peeked_missed += usize::from(peek_miss);
        }
        (missed as f64 / runs as f64, peeked_missed as f64 / runs as f64)
    }

    fn rec(model: &str, suite: &str, item: usize, score: f64) -> ItemRecord {
        let mut r: ItemRecord = serde_json::from_value(serde_json::json!({
            "run_id": "r", "model_id": model, "model_sha256": "", "suite": suite,
            "suite_version": "1", "use_case": "reasoning", "item_id": format!("{item}"),
            "prompt_sha256": "", "settings_hash": "", "engine_build": "", "output": "",
            "score": score, "prompt_tokens": 1, "gen_tokens": 1,
            "timings": {"ttft_ms": 1.0, "e2e_ms": 1.0, "inter_token_ms": 1.0, "prompt_tps": 1.0, "gen_tps": 1.0}
        }))
        .expect("record");
        r.score = score;
        r
    }

    fn meta() -> DecisionMeta {
        DecisionMeta {
            hardware: "h".into(),
            engine_build: "e".into(),
            run_id: "r".into(),
            timestamp: "t".into(),
        }
    }

    #[test]
    fn decisions_settle_tie_or_stay_open() {
        let models: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut records = Vec::new();
        for i in 0..200 {
            // a passes 80%, b 20% (on different items), c always equals a.
            let a = if i % 5 == 0 { 0.0 } else { 1.0 };
            let b = if i % 5 == 1 { 1.0 } else { 0.0 };
            records.push(rec("a", "s", i, a));
            records.push(rec("b", "s", i, b));
            records.push(rec("c", "s", i, a));
        }
        let d = decide(UseCase::Reasoning, &models, &records, DecideSettings::default(), &meta())
            .expect("decision");
        assert_eq!(d.items, 200);
        assert_eq!(d.models.len(), 3);
        assert_eq!(d.leader, "a", "a and c tie on the mean; the id breaks it");
        let ab = d.pairs.iter().find(|p| p.rival == "b").expect("a vs b");
        assert_eq!(ab.status, PairStatus::Ahead, "{d:?}");
        let same = d.pairs.iter().find(|p| p.mean == 0.0).expect("a vs c");
        assert_eq!(same.status, PairStatus::Tied, "{d:?}");
        assert_eq!(d.status, DecisionStatus::Settled);
        assert!(d.further_items.is_none());

        // Six items cannot settle a 0.2 gap: open, with an estimate of what it needs.
        let few: Vec<ItemRecord> =
            records.iter().filter(|r| r.item_id.parse::<usize>().unwrap() < 6).cloned().collect();
        let two = &models[..2];
        let d = decide(UseCase::Reasoning, two, &few, DecideSettings::default(), &meta())
            .expect("decision");
        assert_eq!(d.status, DecisionStatus::Open, "{d:?}");
        let need = d.further_items.expect("an estimate");
        assert!((5..=1000).contains(&need), "{need}");
        // Another use case's items, or one model alone, decide nothing.
        assert!(decide(UseCase::Qa, two, &few, DecideSettings::default(), &meta()).is_none());
        assert!(
            decide(UseCase::Reasoning, &models[..1], &few, DecideSettings::default(), &meta())
                .is_none()
        );
    }
}
