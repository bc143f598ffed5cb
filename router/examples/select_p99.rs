//! Decision latency percentiles with 20 candidate models: a manual timing loop into an
//! hdrhistogram (criterion reports means; the target is on p99). Run with
//! `cargo run --release -p noa-router --example select_p99 [N] [redis://HOST:PORT]`;
//! with a Redis URL the routers keep their state there (as `noa serve --state`), so the
//! figures show what shared state costs the decision path (it should cost nothing:
//! decisions read the local copy and hand their record to a writer thread).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use noa_registry::UseCase;
use noa_router::testing::registry_with;
use noa_router::{PolicyKind, Router, RouterConfig, TaskRequirements};

fn main() {
    let iterations: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let state = std::env::args().nth(2);
    let registry = registry_with(20);
    println!(
        "policy        p50_ns   p99_ns  p999_ns   max_ns  (20 candidates, {iterations} decisions, state {})",
        state.as_deref().unwrap_or("in memory")
    );
    for policy in PolicyKind::ALL {
        let config = RouterConfig { policy, seed: Some(7), ..RouterConfig::default() };
        let router = match &state {
            Some(url) => Router::open_shared(&registry, config, url, Duration::from_millis(200))
                .unwrap_or_else(|e| {
                    eprintln!("error: {e}");
                    std::process::exit(1)
                }),
            None => Arc::new(Router::in_memory(&registry, config)),
        };
        let mut req = TaskRequirements::new(UseCase::CodeGeneration);
        req.prompt_tokens = Some(300);
        req.output_tokens = Some(200);
        let mut hist =
            Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("histogram bounds");
        // Feedback now and then keeps posteriors moving, as in service: from another
        // thread, as the server's blocking pool does, so the timed thread never blocks
        // on a feedback's fsync or Redis round trip (which would leave the next
        // decision's caches cold and put that decision, 1 in 64, at the p99).
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let feeder = {
            let router = router.clone();
            std::thread::spawn(move || {
                for id in rx {
                    let _ = router.feedback(&id, 0.5, None);
                }
            })
        };
        for i in 0..iterations + 10_000 {
            let t = Instant::now();
            let d = std::hint::black_box(router.select(std::hint::black_box(&req)));
            let ns = t.elapsed().as_nanos() as u64;
            if i >= 10_000 {
                let _ = hist.record(ns.max(1));
            }
            if i % 64 == 0
                && let Ok(d) = d
            {
                let _ = tx.send(d.decision_id);
            }
        }
        drop(tx);
        let _ = feeder.join();
        println!(
            "{:<12} {:>8} {:>8} {:>8} {:>8}",
            policy.as_str(),
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
            hist.max()
        );
    }
}
