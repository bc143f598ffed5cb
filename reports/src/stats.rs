//! The few statistics the report needs beyond what polars computes: 95% intervals for
//! a mean score (Wilson for pass/fail items, normal for graded ones), pooling several
//! suites into one use-case figure, and the Pareto front of quality against latency.

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A mean with its 95% interval and the method that produced it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub mean: f64,
    pub n: u64,
    pub low: f64,
    pub high: f64,
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

/// Normal interval of a mean of graded scores in [0, 1] with sample std `sd`.
pub fn normal(mean: f64, sd: f64, n: u64) -> (f64, f64) {
    if n < 2 || !sd.is_finite() {
        return (0.0, 1.0);
    }
    let half = Z95 * sd / (n as f64).sqrt();
    ((mean - half).max(0.0), (mean + half).min(1.0))
}

/// Pool several independent means (one per suite) into one, weighting by item count.
/// The interval treats each part's half-width as 1.96 standard errors.
pub fn pool(parts: &[Interval]) -> Option<Interval> {
    let n: u64 = parts.iter().map(|p| p.n).sum();
    if n == 0 {
        return None;
    }
    if let [only] = parts {
        return Some(*only);
    }
    let total = n as f64;
    let mean = parts.iter().map(|p| p.mean * p.n as f64).sum::<f64>() / total;
    let var = parts
        .iter()
        .map(|p| {
            let se = (p.high - p.low) / (2.0 * Z95);
            (p.n as f64 / total).powi(2) * se * se
        })
        .sum::<f64>();
    let half = Z95 * var.sqrt();
    Some(Interval { mean, n, low: (mean - half).max(0.0), high: (mean + half).min(1.0) })
}

/// Indices of the points on the Pareto front when lower `x` (latency) and higher `y`
/// (quality) are better, ordered by increasing `x`.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        points[a].0.total_cmp(&points[b].0).then(points[b].1.total_cmp(&points[a].1))
    });
    let mut front = Vec::new();
    let mut best_y = f64::NEG_INFINITY;
    for i in order {
        if points[i].1 > best_y {
            best_y = points[i].1;
            front.push(i);
        }
    }
    front
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        // 8 of 10: the textbook Wilson interval is about [0.490, 0.943].
        let (lo, hi) = wilson(0.8, 10);
        assert!((lo - 0.4902).abs() < 1e-3, "{lo}");
        assert!((hi - 0.9433).abs() < 1e-3, "{hi}");
        // Never outside [0, 1], even at the edges.
        let (lo, hi) = wilson(0.0, 5);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.0 && hi < 1.0);
    }

    #[test]
    fn pooling_weights_by_n() {
        let a = Interval { mean: 1.0, n: 30, low: 0.9, high: 1.0 };
        let b = Interval { mean: 0.0, n: 10, low: 0.0, high: 0.3 };
        let p = pool(&[a, b]).unwrap();
        assert!((p.mean - 0.75).abs() < 1e-12);
        assert_eq!(p.n, 40);
        assert!(p.low < 0.75 && p.high > 0.75);
    }

    #[test]
    fn pareto_front_drops_dominated_points() {
        // (latency, quality): b is slower and worse than a; d is dominated by c.
        let pts = [(100.0, 0.5), (200.0, 0.4), (300.0, 0.9), (400.0, 0.8), (50.0, 0.1)];
        assert_eq!(pareto_front(&pts), vec![4, 0, 2]);
    }
}
