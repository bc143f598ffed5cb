//! Builders for registries with known measurements, used by this crate's tests, the
//! benchmarks and the end-to-end tests of `noa serve`. Real `Registry` values, only
//! synthesised instead of measured.

use noa_registry::{
    Declared, InstalledFile, Latency, Measurement, MeasurementKey, ModelEntry, Percentiles,
    PrivacyTier, Quality, Registry, UseCase,
};

/// A registered, installed model of `size` bytes that declares `use_cases`.
pub fn model(id: &str, size: u64, use_cases: &[UseCase]) -> ModelEntry {
    ModelEntry {
        id: id.to_owned(),
        family: "test".to_owned(),
        parameters: None,
        quantization: None,
        file: Some(InstalledFile {
            path: format!("models/{id}.gguf"),
            size,
            sha256: format!("{:0>64}", id.len()),
            verified_at: "2026-01-01T00:00:00Z".to_owned(),
        }),
        remote: None,
        gguf: None,
        sources: Vec::new(),
        declared: Declared {
            use_cases: use_cases.to_vec(),
            privacy: PrivacyTier::Local,
            priority: None,
            quality: None,
            vision: false,
        },
        measured: Vec::new(),
    }
}

/// A measurement of `mean` quality over `n` items with a normal-approximation 95%
/// interval and a latency model of `ttft_ms` to first token plus `itl_ms` per token.
pub fn measurement(
    model_sha: &str,
    use_case: UseCase,
    mean: f64,
    n: u64,
    ttft_ms: f64,
    itl_ms: f64,
) -> Measurement {
    let half = 1.96 * (mean * (1.0 - mean) / n.max(1) as f64).sqrt();
    let p = |v: f64| Percentiles { p50: v * 0.8, p95: v, p99: v * 1.1 };
    Measurement {
        key: MeasurementKey {
            model_sha256: model_sha.to_owned(),
            suite: format!("{}@1", use_case.as_str()),
            engine_build: "test".to_owned(),
            hardware: "test".to_owned(),
            remote: None,
        },
        use_case,
        quality: Some(Quality {
            mean,
            n,
            ci_low: (mean - half).max(0.0),
            ci_high: (mean + half).min(1.0),
        }),
        latency: Some(Latency {
            load_ms: 100.0,
            ttft_ms: p(ttft_ms),
            inter_token_ms: p(itl_ms),
            e2e_ms: p(ttft_ms + 100.0 * itl_ms),
            prompt_tps: 500.0,
            gen_tps: 1000.0 / itl_ms.max(1e-3),
            mean_prompt_tokens: 200.0,
            mean_gen_tokens: 100.0,
        }),
        peak_memory_bytes: None,
        run_id: "test-run".to_owned(),
        timestamp: "2026-01-01T00:00:00Z".to_owned(),
        failure: None,
    }
}

/// Add a measurement to `entry`.
pub fn measured(
    mut entry: ModelEntry,
    use_case: UseCase,
    mean: f64,
    n: u64,
    ttft_ms: f64,
    itl_ms: f64,
) -> ModelEntry {
    let sha = entry.file.as_ref().map(|f| f.sha256.clone()).unwrap_or_default();
    entry.measured.push(measurement(&sha, use_case, mean, n, ttft_ms, itl_ms));
    entry
}

/// `n` installed models measured on code generation and Q&A with spread-out quality
/// and speed: the benchmark's 20-candidate registry.
pub fn registry_with(n: usize) -> Registry {
    let mut reg = Registry::default();
    for i in 0..n {
        let uses = [
            UseCase::CodeGeneration,
            UseCase::Qa,
            UseCase::InstructionFollowing,
            UseCase::Reasoning,
        ];
        let q = 0.3 + 0.6 * (i as f64 / n.max(1) as f64);
        let m = model(&format!("model-{i:02}"), 500 << 20, &uses);
        let m =
            measured(m, UseCase::CodeGeneration, q, 164, 50.0 + 10.0 * i as f64, 5.0 + i as f64);
        let m =
            measured(m, UseCase::Qa, 1.0 - q * 0.5, 200, 40.0 + 10.0 * i as f64, 5.0 + i as f64);
        reg.upsert(m);
    }
    reg
}
