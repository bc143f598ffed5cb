//! `noa route` and `noa replay` through the real binary, on a registry and bench run
//! files built in the test.

mod common;

use common::TestHome;
use noa_registry::UseCase;
use noa_registry::runs::{ItemRecord, ItemTimings};
use serde_json::Value;

fn registry(home: &TestHome) {
    let reg = noa_router::testing::registry_with(4);
    std::fs::write(home.path().join("models.json"), serde_json::to_vec(&reg).expect("json"))
        .expect("write registry");
}

#[test]
fn route_explains_choice_and_rejections() {
    let home = TestHome::new();
    registry(&home);
    let out = home.run_ok(&[
        "route",
        "--use-case",
        "code",
        "--max-latency-ms",
        "700",
        "--prompt-tokens",
        "200",
        "--output-tokens",
        "100",
        "--policy",
        "greedy",
    ]);
    assert!(out.starts_with("chosen: model-01 "), "{out}");
    assert!(
        out.contains("candidates") && out.contains("rejected:") && out.contains("predicted p95"),
        "{out}"
    );
    let json = home.run_ok(&["route", "--use-case", "qa", "--json", "--deny", "model-00"]);
    let v: Value = serde_json::from_str(&json).expect("decision json");
    assert_eq!(v["use_case"], "qa");
    assert_eq!(v["rejected"][0]["model"], "model-00");
    assert_eq!(v["rejected"][0]["reason"]["constraint"], "denied");
    // Nothing can serve: the user's error, naming the constraint.
    let out = home.run(&["route", "--use-case", "code", "--min-quality", "0.99"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("min_quality") && err.contains("hint:"), "{err}");
    let out = home.run(&["route", "--use-case", "cooking"]);
    assert_eq!(out.status.code(), Some(1), "an unknown use case is the user's failure");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cooking"));
}

fn item(model: &str, i: usize, score: f64) -> ItemRecord {
    ItemRecord {
        run_id: "r1".into(),
        model_id: model.into(),
        model_sha256: "0".repeat(64),
        suite: "code".into(),
        suite_version: "1".into(),
        use_case: UseCase::CodeGeneration,
        item_id: format!("i{i}"),
        prompt_sha256: "0".repeat(64),
        settings_hash: "s".into(),
        engine_build: "t".into(),
        output: String::new(),
        score,
        detail: None,
        prompt_tokens: 50,
        shared_tokens: 0,
        gen_tokens: 10,
        timings: ItemTimings { e2e_ms: 100.0, ..ItemTimings::default() },
        error: None,
        cached_from: None,
        prompt: None,
    }
}

#[test]
fn replay_writes_the_report_and_prints_a_table() {
    let home = TestHome::new();
    registry(&home);
    let run = home.path().join("runs/r1");
    std::fs::create_dir_all(&run).expect("mkdir");
    let mut lines = String::new();
    for i in 0..30 {
        for (m, s) in [
            ("model-00", f64::from(u8::from(i % 3 == 0))),
            ("model-03", f64::from(u8::from(i % 4 != 0))),
        ] {
            lines.push_str(&serde_json::to_string(&item(m, i, s)).expect("json"));
            lines.push('\n');
        }
    }
    std::fs::write(run.join("items.jsonl"), lines).expect("items");
    let out = home.run_ok(&["replay", "--seeds", "2", "--requests", "120"]);
    for p in ["thompson", "linucb", "greedy", "random", "round_robin"] {
        assert!(out.contains(p), "{out}");
    }
    let report: Value = serde_json::from_slice(
        &std::fs::read(home.path().join("router/replay.json")).expect("replay.json"),
    )
    .expect("json");
    assert_eq!(report["runs"], serde_json::json!(["r1"]));
    assert_eq!(report["requests"], 120);
    assert_eq!(report["policies"].as_array().map(Vec::len), Some(5));
    let empty = TestHome::new();
    let out = empty.run(&["replay"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("noa bench"));
}
