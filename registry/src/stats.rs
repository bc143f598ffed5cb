//! The 95% interval of a mean score, in one place: `noa bench` stores it in
//! `models.json` and `noa report` recomputes it from run items when the registry lacks
//! a measurement, so both must choose the same interval by the same rule. Pass/fail
//! items (every score 0 or 1) get the Wilson score interval, which keeps a real bound
//! at 0 or n successes; graded scores get a normal interval clamped to [0, 1].

use crate::schema::Quality;

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Which interval a mean score carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalMethod {
    /// Wilson score interval, for pass/fail items.
    Wilson,
    /// Mean ± z·s/√n, for graded items.
    Normal,
}

impl IntervalMethod {
    /// The name the report shows and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            IntervalMethod::Wilson => "wilson",
            IntervalMethod::Normal => "normal",
        }
    }
}

/// Wilson score interval of a proportion `p` observed over `n` pass/fail items.
pub fn wilson(p: f64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).max(0.0).sqrt() / denom;
    // At p = 0 or 1 the bound on that side is exact; keep rounding dust out of it.
    let low = if p <= 0.0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if p >= 1.0 { 1.0 } else { (centre + half).min(1.0) };
    (low, high)
}

/// Normal interval of a mean of graded scores in [0, 1] with sample std `sd`. Fewer
/// than two items (or no finite `sd`) say nothing: the whole of [0, 1].
pub fn normal(mean: f64, sd: f64, n: u64) -> (f64, f64) {
    if n < 2 || !sd.is_finite() {
        return (0.0, 1.0);
    }
    let half = Z95 * sd / (n as f64).sqrt();
    ((mean - half).max(0.0), (mean + half).min(1.0))
}

/// The 95% interval `(low, high)` of a mean score over `n` items with sample std `sd`:
/// Wilson when the items are `pass_fail`, otherwise normal. Returns the method too,
/// for readers who show which one was used.
pub fn score_interval(mean: f64, sd: f64, n: u64, pass_fail: bool) -> (f64, f64, IntervalMethod) {
    let ((low, high), method) = if pass_fail {
        (wilson(mean, n), IntervalMethod::Wilson)
    } else {
        (normal(mean, sd, n), IntervalMethod::Normal)
    };
    (low, high, method)
}

/// Mean and 95% interval of item scores in [0, 1]; `None` without items.
pub fn quality(scores: &[f64]) -> Option<Quality> {
    let n = scores.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let mean = scores.iter().sum::<f64>() / nf;
    let pass_fail = scores.iter().all(|s| *s == 0.0 || *s == 1.0);
    let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt();
    let (ci_low, ci_high, _) = score_interval(mean, sd, n as u64, pass_fail);
    Some(Quality { mean, n: n as u64, ci_low, ci_high })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn wilson_matches_known_values() {
        // 8 of 10: (0.4902, 0.9433) — e.g. statsmodels proportion_confint(method="wilson").
        let (lo, hi) = wilson(0.8, 10);
        assert!(close(lo, 0.4902) && close(hi, 0.9433), "{lo} {hi}");
        assert!((lo - 0.4902).abs() < 1e-3, "{lo}");
        assert!((hi - 0.9433).abs() < 1e-3, "{hi}");
        // 0 of 5 keeps a real upper bound, unlike the normal interval.
        let (lo, hi) = wilson(0.0, 5);
        assert!(close(lo, 0.0) && close(hi, 0.4345), "{lo} {hi}");
        // Never outside [0, 1], even at the edges.
        assert_eq!(lo, 0.0);
        assert!(hi > 0.0 && hi < 1.0);
        assert_eq!(wilson(0.0, 0), (0.0, 1.0));
    }

    #[test]
    fn quality_picks_wilson_or_normal() {
        let q = quality(&[1.0, 1.0, 0.0, 1.0]).unwrap();
        assert_eq!((q.mean, q.n), (0.75, 4));
        let (lo, hi) = wilson(0.75, 4);
        assert!(close(q.ci_low, lo) && close(q.ci_high, hi));
        let q = quality(&[0.5, 0.7, 0.9]).unwrap();
        // s = 0.2, n = 3 → half = 1.96 * 0.2 / √3 = 0.2263
        assert!(close(q.mean, 0.7) && close(q.ci_low, 0.4737) && close(q.ci_high, 0.9263), "{q:?}");
        assert!(quality(&[]).is_none());
    }

    #[test]
    fn one_graded_item_says_nothing_about_its_interval() {
        let q = quality(&[0.5]).unwrap();
        assert_eq!((q.ci_low, q.ci_high), (0.0, 1.0));
        assert_eq!(score_interval(0.5, f64::NAN, 3, false), (0.0, 1.0, IntervalMethod::Normal));
        assert_eq!(score_interval(1.0, 0.0, 3, true).2.as_str(), "wilson");
    }
}
