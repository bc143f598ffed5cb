//! Disjoint LinUCB: one ridge regression per model over the request's feature vector
//! (use-case one-hot, log prompt length, expected output tokens, caller features).
//! Measured scores enter as weighted pseudo-observations on the use-case features, so
//! the contextual policy starts where the bench left it. The inverse design matrix is
//! kept up to date with Sherman–Morrison, so scoring a model is O(d²) with no
//! allocation.

// Dense linear algebra on fixed-size arrays reads clearest with explicit indices.
#![allow(clippy::needless_range_loop)]

use serde::{Deserialize, Serialize};

use crate::config::RouterConfig;
use crate::requirements::{FEATURES, feature_vector};
use crate::table::CandidateTable;

type Vector = [f64; FEATURES];
type Matrix = [[f64; FEATURES]; FEATURES];

/// Feedback part of one model's regression (what a snapshot stores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinFeedback {
    /// Σ x xᵀ, row-major.
    pub xx: Vec<f64>,
    /// Σ r x.
    pub rx: Vec<f64>,
}

#[derive(Debug, Clone)]
struct Arm {
    a_inv: Matrix,
    b: Vector,
    theta: Vector,
    xx: Matrix,
    rx: Vector,
}

/// LinUCB state for every model.
#[derive(Debug, Clone)]
pub struct LinUcb {
    arms: Vec<Arm>,
    prior_a: Vec<Matrix>,
    prior_b: Vec<Vector>,
    alpha: f64,
}

const RIDGE: f64 = 1.0;

impl LinUcb {
    pub fn new(table: &CandidateTable, config: &RouterConfig) -> Self {
        let mut prior_a = Vec::with_capacity(table.rows.len());
        let mut prior_b = Vec::with_capacity(table.rows.len());
        for row in &table.rows {
            let mut a = [[0.0; FEATURES]; FEATURES];
            let mut b = [0.0; FEATURES];
            for i in 0..FEATURES {
                a[i][i] = RIDGE;
            }
            for (u, uc) in noa_registry::UseCase::ALL.into_iter().enumerate() {
                if !row.supports[u] {
                    continue;
                }
                let (q, w) = match (row.quality[u], row.declared_quality) {
                    (Some(q), _) => (q.mean, (q.n as f64).min(config.prior_cap)),
                    (None, Some(q)) => (q, config.declared_weight),
                    (None, None) => continue,
                };
                let x = feature_vector(uc, 0.0, 0.0, &[]);
                for i in 0..FEATURES {
                    b[i] += w * q * x[i];
                    for j in 0..FEATURES {
                        a[i][j] += w * x[i] * x[j];
                    }
                }
            }
            prior_a.push(a);
            prior_b.push(b);
        }
        let mut s = Self { arms: Vec::new(), prior_a, prior_b, alpha: config.linucb_alpha };
        s.arms = (0..table.rows.len())
            .map(|m| s.rebuild(m, [[0.0; FEATURES]; FEATURES], [0.0; FEATURES]))
            .collect();
        s
    }

    fn rebuild(&self, m: usize, xx: Matrix, rx: Vector) -> Arm {
        let mut a = self.prior_a[m];
        let mut b = self.prior_b[m];
        for i in 0..FEATURES {
            b[i] += rx[i];
            for j in 0..FEATURES {
                a[i][j] += xx[i][j];
            }
        }
        let a_inv = invert(a);
        let theta = mat_vec(&a_inv, &b);
        Arm { a_inv, b, theta, xx, rx }
    }

    /// (estimate, upper confidence bound) for model `m` in context `x`.
    pub fn score(&self, m: usize, x: &Vector) -> (f64, f64) {
        let arm = &self.arms[m];
        let est = dot(&arm.theta, x);
        let ax = mat_vec(&arm.a_inv, x);
        let width = dot(x, &ax).max(0.0).sqrt();
        (est, est + self.alpha * width)
    }

    pub fn update(&mut self, m: usize, x: &Vector, reward: f64) {
        let arm = &mut self.arms[m];
        let ax = mat_vec(&arm.a_inv, x);
        let denom = 1.0 + dot(x, &ax);
        for i in 0..FEATURES {
            for j in 0..FEATURES {
                arm.a_inv[i][j] -= ax[i] * ax[j] / denom;
                arm.xx[i][j] += x[i] * x[j];
            }
            arm.b[i] += reward * x[i];
            arm.rx[i] += reward * x[i];
        }
        arm.theta = mat_vec(&arm.a_inv, &arm.b);
    }

    pub fn feedback_state(&self, m: usize) -> LinFeedback {
        let arm = &self.arms[m];
        LinFeedback { xx: arm.xx.iter().flatten().copied().collect(), rx: arm.rx.to_vec() }
    }

    /// Restore a model's feedback part from a snapshot (ignored if malformed).
    pub fn restore(&mut self, m: usize, fb: &LinFeedback) {
        if fb.xx.len() != FEATURES * FEATURES || fb.rx.len() != FEATURES {
            return;
        }
        let mut xx = [[0.0; FEATURES]; FEATURES];
        for (i, row) in xx.iter_mut().enumerate() {
            row.copy_from_slice(&fb.xx[i * FEATURES..(i + 1) * FEATURES]);
        }
        let mut rx = [0.0; FEATURES];
        rx.copy_from_slice(&fb.rx);
        self.arms[m] = self.rebuild(m, xx, rx);
    }
}

fn dot(a: &Vector, b: &Vector) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn mat_vec(m: &Matrix, v: &Vector) -> Vector {
    std::array::from_fn(|i| dot(&m[i], v))
}

/// Gauss–Jordan inverse with partial pivoting; the matrix is symmetric positive
/// definite (ridge plus outer products), so pivots stay positive.
fn invert(mut a: Matrix) -> Matrix {
    let mut inv = [[0.0; FEATURES]; FEATURES];
    for (i, row) in inv.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for col in 0..FEATURES {
        let pivot = (col..FEATURES)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let p = a[col][col];
        if p.abs() < 1e-12 {
            continue;
        }
        for j in 0..FEATURES {
            a[col][j] /= p;
            inv[col][j] /= p;
        }
        for r in 0..FEATURES {
            if r != col {
                let f = a[r][col];
                if f != 0.0 {
                    for j in 0..FEATURES {
                        a[r][j] -= f * a[col][j];
                        inv[r][j] -= f * inv[col][j];
                    }
                }
            }
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_times_matrix_is_identity() {
        let mut a = [[0.0; FEATURES]; FEATURES];
        for i in 0..FEATURES {
            for j in 0..FEATURES {
                a[i][j] = if i == j { 3.0 } else { 1.0 / (1.0 + (i + j) as f64) };
            }
        }
        let inv = invert(a);
        for i in 0..FEATURES {
            for j in 0..FEATURES {
                let v: f64 = (0..FEATURES).map(|k| a[i][k] * inv[k][j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9, "({i},{j}) = {v}");
            }
        }
    }
}
