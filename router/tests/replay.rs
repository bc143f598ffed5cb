//! Offline replay on recorded per-item outcomes: items are read from real
//! `runs/<id>/items.jsonl` files, learning policies beat random, and regret is
//! measured against the per-item oracle and the best fixed model.

use noa_registry::runs::{ITEMS_FILE, ItemRecord, ItemTimings};
use noa_registry::{Registry, UseCase};
use noa_router::PolicyKind;
use noa_router::replay::{Priors, ReplayError, ReplayOptions, load_items, replay};

fn item(model: &str, use_case: UseCase, i: usize, score: f64, e2e: f64) -> ItemRecord {
    ItemRecord {
        run_id: "run-1".into(),
        model_id: model.into(),
        model_sha256: "0".repeat(64),
        suite: format!("{use_case}-suite"),
        suite_version: "1".into(),
        use_case,
        item_id: format!("item-{i}"),
        prompt_sha256: "0".repeat(64),
        settings_hash: "s".into(),
        engine_build: "test".into(),
        output: String::new(),
        score,
        detail: None,
        prompt_tokens: 100,
        gen_tokens: 20,
        timings: ItemTimings { e2e_ms: e2e, ..ItemTimings::default() },
        error: None,
        cached_from: None,
        prompt: None,
    }
}

/// `good` wins code items 80% of the time, `fast` 30%; on Q&A it is the other way round.
fn write_run(runs: &std::path::Path) {
    let dir = runs.join("run-1");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut lines = String::new();
    for i in 0..50 {
        for (uc, good, fast) in [
            (UseCase::CodeGeneration, i % 5 != 0, i % 10 < 3),
            (UseCase::Qa, i % 10 < 3, i % 5 != 0),
        ] {
            for (m, ok, ms) in [("good", good, 900.0), ("fast", fast, 200.0)] {
                let rec = item(m, uc, i, if ok { 1.0 } else { 0.0 }, ms);
                lines.push_str(&serde_json::to_string(&rec).expect("json"));
                lines.push('\n');
            }
        }
    }
    std::fs::write(dir.join(ITEMS_FILE), lines).expect("write items");
}

#[test]
fn learning_policies_beat_random_and_regret_is_against_oracle_and_best_fixed() {
    let home = tempfile::tempdir().expect("tempdir");
    let runs = home.path().join("runs");
    write_run(&runs);
    let (ids, items) = load_items(&runs, &[]).expect("items");
    assert_eq!(ids, ["run-1"]);
    assert_eq!(items.len(), 200);
    let opts = ReplayOptions {
        seeds: vec![1, 2, 3],
        requests: Some(600),
        policies: PolicyKind::ALL.to_vec(),
        priors: Priors::Declared,
    };
    let report = replay(&Registry::default(), ids, &items, &opts).expect("replay");
    assert_eq!(report.requests, 600);
    let get = |p: &str| report.policies.iter().find(|r| r.policy == p).expect(p);
    let (ts, lin, random) = (get("thompson"), get("linucb"), get("random"));
    assert!(
        ts.regret_vs_oracle < random.regret_vs_oracle * 0.8,
        "thompson {} vs random {}",
        ts.regret_vs_oracle,
        random.regret_vs_oracle
    );
    assert!(
        lin.regret_vs_oracle < random.regret_vs_oracle,
        "linucb {} vs random {}",
        lin.regret_vs_oracle,
        random.regret_vs_oracle
    );
    // Best fixed per use case scores 0.8; the oracle 0.9 (items where either wins).
    assert!(ts.mean_quality > 0.65 && ts.mean_quality <= 0.9, "{}", ts.mean_quality);
    assert!((random.mean_quality - 0.55).abs() < 0.06, "{}", random.mean_quality);
    assert!(random.regret_vs_best_fixed > 100.0);
    assert!(ts.regret_vs_best_fixed < random.regret_vs_best_fixed);
    assert_eq!(ts.regret_curve.len(), 600);
    assert!(
        ts.regret_curve.windows(2).all(|w| w[1] >= w[0] - 1e-9),
        "regret vs oracle never decreases"
    );
    assert!((random.mean_latency_ms - 550.0).abs() < 60.0);
    let share: f64 = ts.model_share.iter().map(|s| s.1).sum();
    assert!((share - 1.0).abs() < 1e-9);
}

#[test]
fn missing_runs_are_clear_errors() {
    let home = tempfile::tempdir().expect("tempdir");
    assert!(matches!(load_items(&home.path().join("runs"), &[]), Err(ReplayError::NoItems(_))));
    assert!(matches!(
        load_items(&home.path().join("runs"), &["nope".into()]),
        Err(ReplayError::UnknownRun(_))
    ));
    let dir = home.path().join("runs/bad");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(ITEMS_FILE), "{}\n").expect("write");
    match load_items(&home.path().join("runs"), &[]) {
        Err(ReplayError::Parse { line, .. }) => assert_eq!(line, 1),
        other => panic!("expected a parse error, got {other:?}"),
    }
}
