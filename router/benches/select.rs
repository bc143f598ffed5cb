//! Decision latency with 20 candidate models, per policy (criterion reports the mean;
//! `examples/select_p99.rs` reports p50/p99 from an hdrhistogram).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use noa_registry::UseCase;
use noa_router::testing::registry_with;
use noa_router::{PolicyKind, Router, RouterConfig, TaskRequirements};

fn bench(c: &mut Criterion) {
    let registry = registry_with(20);
    let mut group = c.benchmark_group("select_20_candidates");
    for policy in PolicyKind::ALL {
        let router = Router::in_memory(
            &registry,
            RouterConfig { policy, seed: Some(1), ..RouterConfig::default() },
        );
        let mut req = TaskRequirements::new(UseCase::CodeGeneration);
        req.prompt_tokens = Some(300);
        req.output_tokens = Some(200);
        group.bench_function(policy.as_str(), |b| {
            b.iter(|| black_box(router.select(black_box(&req))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
