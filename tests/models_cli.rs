//! End-to-end tests of `noa models` through the real binary with a fresh `NOA_HOME`:
//! the full catalog listing, bad GGUF files, a malformed registry left untouched, the
//! phased dry-run plan, add/verify/rm of a local model, and many `noa` processes
//! registering models at the same time without losing an entry.

mod common;

use std::process::Command;

use common::TestHome;
use noa_registry::gguf::Value;
use noa_registry::gguf::writer::GgufWriter;

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tiny_gguf(seed: u32) -> Vec<u8> {
    GgufWriter::new("llama")
        .kv("general.name", Value::String(format!("tiny-{seed}")))
        .f32_tensor("w", &[32, 4], seed as f32)
        .to_bytes()
}

#[test]
fn list_json_has_all_nineteen_catalog_models() {
    let home = TestHome::new();
    let rows = json(&home.run_ok(&["models", "list", "--json"]));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 19);
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in [
        "deepseek-coder-v2-lite-instruct",
        "llama-3.1-8b-instruct",
        "gemma-3-270m-it",
        "smollm2-135m-instruct",
        "gemma-3-270m",
        "qwen2.5-coder-0.5b-instruct",
        "qwen2.5-coder-1.5b-instruct",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(rows.iter().all(|r| r["status"] == "not installed" && r["measurements"] == 0));
    let defaults: Vec<_> =
        rows.iter().filter(|r| r["default"] == true).map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(defaults, ["smollm2-135m-instruct", "gemma-3-270m", "qwen2.5-coder-0.5b-instruct"]);
    // The human table lists them too.
    let table = home.run_ok(&["models", "list"]);
    assert_eq!(table.lines().count(), 20, "{table}");
}

#[test]
fn empty_truncated_and_corrupt_gguf_files_are_refused() {
    let home = TestHome::new();
    let dir = tempfile::tempdir().unwrap();
    let good = tiny_gguf(1);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("empty.gguf", vec![], "the file is empty"),
        ("truncated.gguf", good[..good.len() - 40].to_vec(), "truncated"),
        (
            "corrupt.gguf",
            {
                let mut b = good.clone();
                b[0] = b'X';
                b
            },
            "no GGUF magic",
        ),
        ("text.gguf", b"definitely not a model\n".to_vec(), "no GGUF magic"),
    ];
    for (name, bytes, why) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let out = home.run(&["models", "add", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(name) && err.contains(why), "{name}: {err}");
    }
    assert!(!home.path().join("models.json").exists(), "nothing may be registered");
}

#[test]
fn malformed_registry_is_reported_with_position_and_left_untouched() {
    let home = TestHome::new();
    let bad = "{\n  \"schema\": 1,\n  \"models\": [}\n";
    let reg = home.path().join("models.json");
    std::fs::write(&reg, bad).unwrap();
    for args in [
        vec!["models", "list"],
        vec!["models", "verify"],
        vec!["models", "pull", "--defaults", "--dry-run"],
    ] {
        let out = home.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("line 3, column"), "{args:?}: {}", stderr(&out));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ok.gguf");
    std::fs::write(&p, tiny_gguf(2)).unwrap();
    let out = home.run(&["models", "add", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&reg).unwrap(), bad);
}

#[test]
fn dry_run_prints_phases_totals_and_disk_room() {
    let home = TestHome::new();
    let text = home.run_ok(&["models", "pull", "--all", "--dry-run", "--bandwidth", "100Mbit"]);
    for want in ["high", "medium", "low", "total", "disk:", "bandwidth 100 Mbit/s"] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    let plan = json(&home.run_ok(&[
        "models",
        "pull",
        "--all",
        "--dry-run",
        "--json",
        "--bandwidth",
        "1Gbit",
    ]));
    let count: usize = plan["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["models"].as_array().unwrap().len())
        .sum();
    assert_eq!(count, 19);
    let total = plan["total_bytes"].as_u64().unwrap();
    assert!(total > 40_000_000_000, "{total}");
    let secs = plan["total_seconds"].as_f64().unwrap();
    assert!((secs - total as f64 * 8.0 / 1e9).abs() < 1.0);
    // Nothing was downloaded.
    assert!(!home.path().join("models").exists());
    let out = home.run(&["models", "pull", "no-such-model", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("`no-such-model`"), "{}", stderr(&out));
}

#[test]
fn add_verify_detects_a_changed_file_and_rm_keeps_foreign_files() {
    let home = TestHome::new();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("My-Model.Q8_0.gguf");
    std::fs::copy(common::smollm2(), &p).unwrap();
    let id = home.run_ok(&[
        "models",
        "add",
        p.to_str().unwrap(),
        "--use-case",
        "code",
        "--use-case",
        "qa",
    ]);
    assert_eq!(id.trim(), "my-model.q8_0");
    let rows = json(&home.run_ok(&["models", "list", "--json"]));
    let row = rows.as_array().unwrap().iter().find(|r| r["id"] == "my-model.q8_0").unwrap().clone();
    assert_eq!(row["status"], "installed");
    assert_eq!(row["gguf"]["architecture"], "llama");
    assert_eq!(row["use_cases"], serde_json::json!(["code_generation", "qa"]));
    assert_eq!(row["sha256"], "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
    assert!(home.run_ok(&["models", "verify"]).contains("my-model.q8_0\tok"));
    // Flip one byte in the middle: verify must fail with exit 1.
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    let out = home.run(&["models", "verify", "my-model.q8_0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("MISMATCH"));
    home.run_ok(&["models", "rm", "my-model.q8_0"]);
    assert!(p.exists(), "a file noa did not install is not deleted");
    let out = home.run(&["models", "rm", "my-model.q8_0"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn concurrent_processes_registering_models_keep_every_entry() {
    let home = TestHome::new();
    let dir = tempfile::tempdir().unwrap();
    let n = 12;
    let files: Vec<_> = (0..n)
        .map(|i| {
            let p = dir.path().join(format!("m{i}.gguf"));
            std::fs::write(&p, tiny_gguf(i)).unwrap();
            p
        })
        .collect();
    // All at once: each process locks, reads, adds its entry and renames atomically.
    let mut procs: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Command::new(common::noa_bin())
                .env("NOA_HOME", home.path())
                .args(["models", "add", p.to_str().unwrap(), "--id", &format!("model-{i:02}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for p in procs.iter_mut() {
        assert!(p.wait().unwrap().success());
    }
    let rows = json(&home.run_ok(&["models", "list", "--json"]));
    let ids: Vec<&str> =
        rows.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    for i in 0..n {
        assert!(ids.contains(&format!("model-{i:02}").as_str()), "{ids:?}");
        assert!(ids.contains(&format!("model-{i:02}").as_str()), "{ids:?}");
    }
    assert_eq!(ids.len(), 19 + n as usize);
}

/// Exit codes as the README promises: a bad flag or an unknown model is the user's
/// failure (1), `--help` is not a failure at all.
#[test]
fn bad_arguments_exit_1_and_help_exits_0() {
    let home = TestHome::new();
    for args in
        [&["bench", "--no-such-flag"][..], &["models", "frobnicate"], &["speed", "no-such-model"]]
    {
        let out = home.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("error"), "{args:?}: {}", stderr(&out));
    }
    let out = home.run(&["bench", "--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--allocation"));
}
