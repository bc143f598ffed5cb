//! Snapshots of what the user reads: the tables and `--json` documents of `models
//! list`, `route`, `evalsets list` and `doctor`, from the real binary over the real
//! test models, and the error of `speed` with an unknown model. A change to any of
//! them shows up as a reviewable diff in `tests/snapshots/` instead of slipping by.
//!
//! What differs between machines and runs (temporary paths, timings, the CPU and its
//! features, free disk and memory, dates, random ids) is redacted, so the snapshots
//! hold on any machine. The evaluation data is pointed at an empty folder for the same
//! reason. Run with `INSTA_UPDATE=no` (or `CI` set) so a missing snapshot fails
//! instead of being written; accept a reviewed change with `cargo insta accept` or one
//! run with `INSTA_UPDATE=always`.

mod common;

use std::process::Output;

use common::TestHome;
use serde_json::Value;

/// A home with both test models registered through `noa models add` (the path a user
/// takes), under ids that are not catalog ids, and an empty evaluation data folder.
struct Fixture {
    home: TestHome,
    evalsets: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let fx = Self { home: TestHome::new(), evalsets: tempfile::tempdir().expect("tempdir") };
        for (id, path, uses) in [
            ("smol", common::smollm2(), &["general", "qa"][..]),
            ("gemma", common::gemma3(), &["general"]),
        ] {
            let mut args = vec!["models", "add", path.to_str().expect("utf-8 path"), "--id", id];
            for u in uses {
                args.extend(["--use-case", u]);
            }
            fx.run(&args, 0);
        }
        fx
    }

    /// `noa <args>`, asserting its exit code.
    fn run(&self, args: &[&str], code: i32) -> Output {
        let out = self
            .home
            .noa()
            .env("NOA_EVALSETS_DIR", self.evalsets.path())
            .args(args)
            .output()
            .expect("run noa");
        assert_eq!(
            out.status.code(),
            Some(code),
            "`noa {}`\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn stdout(&self, args: &[&str]) -> String {
        String::from_utf8(self.run(args, 0).stdout).expect("utf-8 stdout")
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.stdout(args)).expect("JSON on stdout")
    }

    /// Snapshot settings: the temporary folders and the test models' folder by name,
    /// dates as `[date]`, plus `extra` (pattern, replacement) filters.
    fn settings(&self, extra: &[(&str, &str)]) -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        s.set_prepend_module_to_snapshot(false);
        let dirs = [
            (self.home.path().to_path_buf(), "[home]"),
            (self.evalsets.path().to_path_buf(), "[evalsets]"),
            (noa_registry::testing::test_models_dir(), "[test-models]"),
        ];
        for (dir, name) in dirs {
            s.add_filter(&regex_escape(&dir.display().to_string()), name);
        }
        s.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[date]");
        for (pattern, replacement) in extra {
            s.add_filter(pattern, *replacement);
        }
        s
    }
}

/// `pattern` matching `text` literally.
fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// Set `key` to `with` in every object of `v` (at any depth) that `when` accepts.
fn redact(v: &mut Value, key: &str, with: &str, when: &dyn Fn(&Value) -> bool) {
    match v {
        Value::Object(map) => {
            if map.contains_key(key) && when(&Value::Object(map.clone())) {
                map.insert(key.to_owned(), Value::from(with));
            }
            map.values_mut().for_each(|c| redact(c, key, with, when));
        }
        Value::Array(items) => items.iter_mut().for_each(|c| redact(c, key, with, when)),
        _ => {}
    }
}

#[test]
fn models_list_table_and_json() {
    let fx = Fixture::new();
    let settings = fx.settings(&[]);
    settings.bind(|| {
        insta::assert_snapshot!("models_list", fx.stdout(&["models", "list"]));
        insta::assert_json_snapshot!("models_list_json", fx.json(&["models", "list", "--json"]));
    });
}

#[test]
fn route_table_and_json() {
    let fx = Fixture::new();
    // Greedy and a fixed memory budget: the same decision on any machine.
    let args = ["route", "--use-case", "general", "--policy", "greedy", "--memory-budget", "64G"];
    let mut json = fx.json(&[&args[..], &["--json"]].concat());
    for key in ["decision_id", "unix_ms"] {
        redact(&mut json, key, &format!("[{key}]"), &|_| true);
    }
    fx.settings(&[]).bind(|| {
        insta::assert_snapshot!("route", fx.stdout(&args));
        insta::assert_json_snapshot!("route_json", json);
    });
    // A request nothing can serve names the constraint that emptied the set (exit 1).
    let out = fx.run(&["route", "--use-case", "vision", "--memory-budget", "64G"], 1);
    fx.settings(&[]).bind(|| {
        insta::assert_snapshot!("route_no_candidate", String::from_utf8_lossy(&out.stderr));
    });
}

#[test]
fn evalsets_list_table_and_json() {
    let fx = Fixture::new();
    fx.settings(&[]).bind(|| {
        insta::assert_snapshot!("evalsets_list", fx.stdout(&["evalsets", "list"]));
        insta::assert_json_snapshot!(
            "evalsets_list_json",
            fx.json(&["evalsets", "list", "--json"])
        );
    });
}

/// `doctor` with both test models: the checks, in order, and the self-test of each
/// architecture; the machine's own figures are redacted.
#[test]
fn doctor_table_and_json() {
    let fx = Fixture::new();
    let named =
        |names: &'static [&'static str]| move |c: &Value| names.iter().any(|n| c["name"] == *n);
    let mut json = fx.json(&["doctor", "--json"]);
    redact(&mut json, "detail", "[machine]", &named(&["cpu", "engine build", "llama.cpp build"]));
    // Free disk and memory decide the status too (and a fix when short).
    for key in ["status", "detail", "fix"] {
        redact(&mut json, key, "[machine]", &named(&["disk", "memory"]));
    }
    let filters = [
        (r"(?m)^(\w+ +(cpu|engine build|llama\.cpp build) +).*$", "${1}[machine]"),
        (r"(?m)^\w+( +(disk|memory) +).*\n( +fix: .*\n)?", "[machine]${1}[machine]\n"),
        (r" in \d+(\.\d+)? m?s\b", " in [time]"),
    ];
    fx.settings(&filters).bind(|| {
        insta::assert_snapshot!("doctor", fx.stdout(&["doctor"]));
        insta::assert_json_snapshot!("doctor_json", json);
    });
}

/// Exit codes as the README promises: an unknown model is the user's failure (1), said
/// on stderr with a hint, as in `bench` and `models`.
#[test]
fn speed_with_an_unknown_model_exits_1() {
    let fx = Fixture::new();
    let out = fx.run(&["speed", "no-such-model"], 1);
    assert!(out.stdout.is_empty());
    fx.settings(&[]).bind(|| {
        insta::assert_snapshot!("speed_unknown_model", String::from_utf8_lossy(&out.stderr));
    });
}
