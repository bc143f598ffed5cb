//! The few statistics the report needs beyond what polars computes: pooling several
//! suites into one use-case figure, and the Pareto front of quality against latency.
//! A single suite's interval comes from [`noa_registry::stats`], the rule `noa bench`
//! stored in the registry with, so a figure from run items matches one from the registry.

use noa_registry::stats::Z95;

/// A mean with its 95% interval and the method that produced it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub mean: f64,
    pub n: u64,
    pub low: f64,
    pub high: f64,
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
