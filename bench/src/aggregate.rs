//! From per-item evidence to registry measurements: per (model, suite) the mean score
//! with its 95% interval ([`noa_registry::stats::quality`], which `noa report` also
//! uses: Wilson for pass/fail items, a normal interval for graded ones), latency
//! percentiles from hdrhistogram at microsecond resolution, mean tokens/s, load time
//! and peak memory; then written into `models.json` under the registry's lock,
//! replacing any measurement with the same key.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use noa_registry::runs::{ItemRecord, RunManifest, RunModelStatus};
use noa_registry::stats::quality;
use noa_registry::store::RegistryStore;
use noa_registry::{Decision, Latency, Measurement, MeasurementKey, NoaHome, Percentiles};

/// p50/p95/p99 of millisecond values, recorded in microseconds.
pub fn percentiles(values_ms: impl IntoIterator<Item = f64>) -> Percentiles {
    let zero = Percentiles { p50: 0.0, p95: 0.0, p99: 0.0 };
    // A day at microsecond resolution, 3 significant digits.
    let Ok(mut h) = Histogram::<u64>::new_with_bounds(1, 24 * 3_600_000_000, 3) else {
        return zero;
    };
    for v in values_ms {
        if v.is_finite() && v >= 0.0 {
            let _ = h.record(((v * 1000.0).round() as u64).clamp(1, h.high()));
        }
    }
    if h.is_empty() {
        return zero;
    }
    let at = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Percentiles { p50: at(0.50), p95: at(0.95), p99: at(0.99) }
}

/// Latency figures over a (model, suite)'s items that ran (cached records keep the
/// timings measured when they did run).
pub fn latency(records: &[&ItemRecord], load_ms: f64) -> Option<Latency> {
    let ok: Vec<&&ItemRecord> = records.iter().filter(|r| r.error.is_none()).collect();
    if ok.is_empty() {
        return None;
    }
    let n = ok.len() as f64;
    let mean = |f: &dyn Fn(&ItemRecord) -> f64| ok.iter().map(|r| f(r)).sum::<f64>() / n;
    let positive_mean = |f: &dyn Fn(&ItemRecord) -> f64| {
        let v: Vec<f64> = ok.iter().map(|r| f(r)).filter(|x| *x > 0.0).collect();
        if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 }
    };
    Some(Latency {
        load_ms,
        ttft_ms: percentiles(ok.iter().map(|r| r.timings.ttft_ms)),
        inter_token_ms: percentiles(
            ok.iter().flat_map(|r| r.timings.inter_token_gaps_ms.iter().copied()),
        ),
        e2e_ms: percentiles(ok.iter().map(|r| r.timings.e2e_ms)),
        prompt_tps: positive_mean(&|r| r.timings.prompt_tps),
        gen_tps: positive_mean(&|r| r.timings.gen_tps),
        mean_prompt_tokens: mean(&|r| f64::from(r.prompt_tokens)),
        mean_gen_tokens: mean(&|r| f64::from(r.gen_tokens)),
    })
}

/// One measurement per (model, suite) of the run, failed models included.
pub fn measurements(manifest: &RunManifest, items: &[ItemRecord]) -> Vec<(String, Measurement)> {
    let mut groups: BTreeMap<(&str, &str), Vec<&ItemRecord>> = BTreeMap::new();
    for r in items {
        groups.entry((r.model_id.as_str(), r.suite.as_str())).or_default().push(r);
    }
    let timestamp = manifest.finished_at.clone().unwrap_or_else(noa_registry::now_rfc3339);
    let mut out = Vec::new();
    for model in &manifest.models {
        for suite in manifest.suites.iter().filter(|s| s.skipped.is_none()) {
            let records =
                groups.get(&(model.id.as_str(), suite.id.as_str())).cloned().unwrap_or_default();
            let failure = (model.status == RunModelStatus::Failed)
                .then(|| model.error.clone().unwrap_or_default());
            if records.is_empty() && failure.is_none() {
                continue;
            }
            let scores: Vec<f64> = records.iter().map(|r| r.score).collect();
            // A remote model is keyed by its server, served name and version (and
            // this client machine); its stand-in digest is not a file's sha256.
            let key = MeasurementKey {
                model_sha256: if model.remote.is_some() {
                    String::new()
                } else {
                    model.sha256.clone()
                },
                suite: format!("{}@{}", suite.id, suite.version),
                engine_build: manifest.engine_build.clone(),
                hardware: manifest.hardware.id.clone(),
                remote: model.remote.clone(),
            };
            out.push((
                model.id.clone(),
                Measurement {
                    key,
                    use_case: suite.use_case,
                    quality: quality(&scores),
                    latency: latency(&records, model.load_ms.unwrap_or(0.0)),
                    peak_memory_bytes: model.peak_memory_bytes,
                    run_id: manifest.run_id.clone(),
                    timestamp: timestamp.clone(),
                    failure,
                },
            ));
        }
    }
    out
}

/// Write `measurements` into the registry (replacing equal keys), the run's
/// `decisions` (replacing those of the same use case and machine) and its hardware
/// fingerprint, in one locked atomic update.
pub fn write_back(
    home: &NoaHome,
    manifest: &RunManifest,
    measurements: &[(String, Measurement)],
    decisions: &[Decision],
) -> Result<(), noa_registry::Error> {
    RegistryStore::open(home).update(|reg| {
        for d in decisions {
            reg.decisions.retain(|old| (old.use_case, &old.hardware) != (d.use_case, &d.hardware));
            reg.decisions.push(d.clone());
        }
        reg.decisions.sort_by(|a, b| {
            (a.use_case.as_str(), &a.hardware).cmp(&(b.use_case.as_str(), &b.hardware))
        });
        reg.hosts.retain(|h| h.id != manifest.hardware.id);
        reg.hosts.push(manifest.hardware.clone());
        for (model_id, m) in measurements {
            if let Some(entry) = reg.get_mut(model_id) {
                entry.measured.retain(|old| old.key != m.key);
                entry.measured.push(m.clone());
            }
        }
        Ok::<_, noa_registry::Error>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_at_microsecond_resolution() {
        // 3 significant digits: within 0.1%.
        let near = |a: f64, b: f64| (a - b).abs() <= b * 0.001;
        let p = percentiles((1..=100).map(f64::from));
        assert!(near(p.p50, 50.0) && near(p.p95, 95.0) && near(p.p99, 99.0), "{p:?}");
        let p = percentiles([0.25, 0.25, 0.25]);
        assert!((p.p50 - 0.25).abs() < 0.001, "{p:?}");
        assert_eq!(percentiles([]).p99, 0.0);
    }
}
