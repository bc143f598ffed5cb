//! Thompson sampling per (use case, model) on Beta posteriors. Priors come from the
//! measured score with its pseudo-count capped (so live feedback can overturn a bench
//! result) or, for unmeasured models, from the declared quality with a weak weight.
//! Feedback counts of a use case are discounted on every new observation of that use
//! case, so the posterior follows slow drift; a change detector per arm
//! ([`super::change`]) catches a model that breaks (or recovers) after a long history:
//! the arm then forgets its counts from before the change and its measured prior
//! keeps only the weight of a declared one. The probability of the chosen arm is computed
//! by integrating normal approximations of the posteriors, cheap enough to return
//! with every decision.

use rand::Rng;
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};

use super::change::Cusum;
use crate::config::RouterConfig;
use crate::decision::QualitySource;
use crate::table::{CandidateTable, N_UC};

/// Fallback prior mean for a model with neither measurement nor declared quality.
const UNINFORMED: f64 = 0.5;

/// Discounted feedback counts of one arm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmStats {
    /// Sum of rewards.
    pub s: f64,
    /// Sum of (1 - reward).
    pub f: f64,
}

#[derive(Debug, Clone, Copy)]
struct Prior {
    a0: f64,
    b0: f64,
    source: QualitySource,
    ci_low: Option<f64>,
}

/// Beta posteriors for every (model, use case).
#[derive(Debug, Clone)]
pub struct Thompson {
    priors: Vec<[Prior; N_UC]>,
    /// Each prior's mean as built: what greedy ranks by, whatever the detector does
    /// (apart from `priors`, which every decision reads, so those stay as small).
    prior_means: Vec<[f64; N_UC]>,
    pub(crate) stats: Vec<[ArmStats; N_UC]>,
    /// Change detectors. Not in snapshots: after a restart they start from zero, and
    /// a prior weakened by an alarm is whole again until the detector fires anew.
    cusum: Vec<[Cusum; N_UC]>,
    discount: f64,
    lower_z: f64,
    change_shift: f64,
    change_threshold: f64,
    declared_weight: f64,
}

impl Thompson {
    pub fn new(table: &CandidateTable, config: &RouterConfig) -> Self {
        let priors: Vec<[Prior; N_UC]> = table
            .rows
            .iter()
            .map(|row| {
                std::array::from_fn(|u| match row.quality[u] {
                    Some(q) => {
                        let m = (q.n as f64).min(config.prior_cap);
                        Prior {
                            a0: 0.5 + q.mean * m,
                            b0: 0.5 + (1.0 - q.mean) * m,
                            source: QualitySource::Measured,
                            ci_low: Some(q.ci_low),
                        }
                    }
                    None => {
                        let q = row.declared_quality.unwrap_or(UNINFORMED);
                        let m = config.declared_weight;
                        Prior {
                            a0: 0.5 + q * m,
                            b0: 0.5 + (1.0 - q) * m,
                            source: QualitySource::Declared,
                            ci_low: None,
                        }
                    }
                })
            })
            .collect();
        let prior_means =
            priors.iter().map(|row| row.map(|p: Prior| p.a0 / (p.a0 + p.b0))).collect();
        Self {
            priors,
            prior_means,
            stats: vec![[ArmStats::default(); N_UC]; table.rows.len()],
            cusum: vec![[Cusum::default(); N_UC]; table.rows.len()],
            discount: config.discount.clamp(0.0, 1.0),
            lower_z: config.lower_z,
            change_shift: config.change_shift,
            change_threshold: config.change_threshold,
            declared_weight: config.declared_weight.max(0.0),
        }
    }

    /// Beta parameters of the posterior.
    pub fn posterior(&self, model: usize, uc: usize) -> (f64, f64) {
        let p = &self.priors[model][uc];
        let s = &self.stats[model][uc];
        (p.a0 + s.s, p.b0 + s.f)
    }

    pub fn mean(&self, model: usize, uc: usize) -> f64 {
        let (a, b) = self.posterior(model, uc);
        a / (a + b)
    }

    /// Mean of the prior alone (what greedy-on-measured ranks by; no feedback, and no
    /// detected change, moves it).
    pub fn prior_mean(&self, model: usize, uc: usize) -> f64 {
        self.prior_means[model][uc]
    }

    fn normal(&self, model: usize, uc: usize) -> (f64, f64) {
        let (a, b) = self.posterior(model, uc);
        let n = a + b;
        (a / n, (a * b / (n * n * (n + 1.0))).sqrt().max(1e-6))
    }

    /// The lower bound checked against `min_quality`: the measured 95% interval while
    /// no feedback arrived, else the posterior's lower quantile.
    pub fn lower_bound(&self, model: usize, uc: usize) -> (f64, QualitySource) {
        let p = &self.priors[model][uc];
        let s = &self.stats[model][uc];
        let has_feedback = s.s + s.f > 1e-9;
        if !has_feedback && let Some(ci) = p.ci_low {
            return (ci, QualitySource::Measured);
        }
        let (m, sd) = self.normal(model, uc);
        let source = if has_feedback { QualitySource::Feedback } else { p.source };
        ((m - self.lower_z * sd).clamp(0.0, 1.0), source)
    }

    pub fn source(&self, model: usize, uc: usize) -> QualitySource {
        let s = &self.stats[model][uc];
        if s.s + s.f > 1e-9 { QualitySource::Feedback } else { self.priors[model][uc].source }
    }

    /// One draw from the posterior.
    pub fn sample(&self, rng: &mut impl Rng, model: usize, uc: usize) -> f64 {
        let (a, b) = self.posterior(model, uc);
        match Beta::new(a, b) {
            Ok(d) => d.sample(rng),
            Err(_) => a / (a + b),
        }
    }

    /// Record a reward: discount the use case's counts, then add the observation.
    /// Once the arm's feedback outweighs its prior (before that, the posterior moves
    /// fast enough by itself, and a bench result gets its say), its change detector
    /// watches it; on an alarm the arm keeps only the evidence since the change, and a
    /// prior heavier than a declared one is cut to that weight (same mean): the bench
    /// measured the model as it was before the change.
    pub fn update(&mut self, model: usize, uc: usize, reward: f64) {
        let expected = self.mean(model, uc);
        if self.discount < 1.0 {
            for row in &mut self.stats {
                row[uc].s *= self.discount;
                row[uc].f *= self.discount;
            }
        }
        let prior_weight = self.prior_weight(model, uc);
        let s = &mut self.stats[model][uc];
        let watched = s.s + s.f >= prior_weight;
        s.s += reward;
        s.f += 1.0 - reward;
        let cusum = &mut self.cusum[model][uc];
        if !watched {
            *cusum = Cusum::default();
            return;
        }
        if let Some((succ, fail)) =
            cusum.observe(expected, reward, self.change_shift, self.change_threshold)
        {
            self.stats[model][uc] = ArmStats { s: succ, f: fail };
            let p = &mut self.priors[model][uc];
            if prior_weight > self.declared_weight {
                let q = (p.a0 - 0.5) / prior_weight;
                p.a0 = 0.5 + q * self.declared_weight;
                p.b0 = 0.5 + (1.0 - q) * self.declared_weight;
            }
        }
    }

    /// Pseudo-observations in the arm's prior (beyond the Jeffreys half-counts).
    fn prior_weight(&self, model: usize, uc: usize) -> f64 {
        let p = &self.priors[model][uc];
        p.a0 + p.b0 - 1.0
    }

    /// The normal approximations of `survivors`' posteriors (mean, sd), in order: all
    /// [`propensity`] needs, so it can run without the router's lock.
    pub fn normals(&self, uc: usize, survivors: &[usize]) -> Vec<(f64, f64)> {
        survivors.iter().map(|&m| self.normal(m, uc)).collect()
    }
}

/// P(the draw of arm `chosen` is the largest), given each arm's posterior as a normal
/// approximation (`normals`, from [`Thompson::normals`]): Simpson integration of the
/// chosen arm's density times the others' distribution functions, skipping arms that
/// cannot compete over the window.
pub fn propensity(normals: &[(f64, f64)], chosen: usize) -> f64 {
    if normals.len() <= 1 {
        return 1.0;
    }
    const STEPS: usize = 24;
    let (mi, si) = normals[chosen];
    let (lo, hi) = (mi - 6.0 * si, mi + 6.0 * si);
    let mut others: Vec<(f64, f64)> = Vec::with_capacity(normals.len());
    for (j, &(mj, sj)) in normals.iter().enumerate() {
        if j == chosen {
            continue;
        }
        if (lo - mj) / sj > 7.0 {
            continue; // always below the chosen arm's window: factor 1
        }
        if (hi - mj) / sj < -7.0 {
            return 1e-9; // always above: the chosen arm practically never wins
        }
        others.push((mj, 1.0 / sj));
    }
    let h = (hi - lo) / STEPS as f64;
    let mut sum = 0.0;
    for k in 0..=STEPS {
        let x = lo + h * k as f64;
        let z = (x - mi) / si;
        let mut v = (-0.5 * z * z).exp();
        for &(mj, inv) in &others {
            v *= norm_cdf((x - mj) * inv);
            if v < 1e-300 {
                break;
            }
        }
        let w = if k == 0 || k == STEPS {
            1.0
        } else if k % 2 == 1 {
            4.0
        } else {
            2.0
        };
        sum += w * v;
    }
    let p = sum * h / 3.0 / (si * (2.0 * std::f64::consts::PI).sqrt());
    p.clamp(1e-9, 1.0)
}

/// Standard normal distribution function, exact to ~1.2e-7 (erfc approximation).
pub fn norm_cdf_exact(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Table of Φ on [-8, 8] in steps of 1/32 for the propensity integral.
const CDF_STEPS_PER_UNIT: f64 = 32.0;
const CDF_RANGE: f64 = 8.0;
const CDF_LEN: usize = (2.0 * CDF_RANGE * CDF_STEPS_PER_UNIT) as usize + 1;
static CDF_TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();

/// Φ(z) by linear interpolation in a table (error < 4e-5): the propensity integral
/// evaluates it a few hundred times per decision, so it must not cost an `exp`.
pub fn norm_cdf(z: f64) -> f64 {
    let table = CDF_TABLE.get_or_init(|| {
        (0..CDF_LEN).map(|i| norm_cdf_exact(i as f64 / CDF_STEPS_PER_UNIT - CDF_RANGE)).collect()
    });
    if z <= -CDF_RANGE {
        return 0.0;
    }
    if z >= CDF_RANGE {
        return 1.0;
    }
    let x = (z + CDF_RANGE) * CDF_STEPS_PER_UNIT;
    let i = x as usize;
    let f = x - i as f64;
    match (table.get(i), table.get(i + 1)) {
        (Some(a), Some(b)) => a + (b - a) * f,
        _ => norm_cdf_exact(z),
    }
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabulated_cdf_is_close_to_the_exact_one() {
        for i in -1000..=1000 {
            let z = f64::from(i) / 100.0;
            assert!((norm_cdf(z) - norm_cdf_exact(z)).abs() < 5e-5, "z = {z}");
        }
        assert!((norm_cdf_exact(1.96) - 0.975).abs() < 1e-4);
    }
}
