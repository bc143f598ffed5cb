//! `noa report` end to end: the real binary on a realistic `NOA_HOME` prints the
//! report's path on stdout and writes the CSV files beside it; a bad `--run` or a
//! broken registry is the user's error (exit 1) with a hint.

mod common;
#[path = "../reports/tests/fixture/mod.rs"]
mod fixture;

use common::TestHome;

#[test]
fn report_prints_its_path_and_writes_the_csv_files() {
    let home = TestHome::new();
    fixture::realistic(home.path());
    let stdout = home.run_ok(&["report"]);
    let path = std::path::PathBuf::from(stdout.trim());
    assert_eq!(path, home.path().join("reports/index.html"), "stdout is exactly the path");
    let html = std::fs::read_to_string(&path).expect("report written");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(fixture::CODER));
    for csv in [
        "summary.csv",
        "measurements.csv",
        "items_by_suite.csv",
        "latency.csv",
        "replay.csv",
        "feedback.csv",
    ] {
        assert!(home.path().join("reports").join(csv).is_file(), "{csv} missing");
    }

    let out = home.path().join("out/r.html");
    let stdout = home.run_ok(&["report", "--all-runs", "--out", out.to_str().unwrap()]);
    assert_eq!(stdout.trim(), out.to_str().unwrap());
    assert!(home.path().join("out/summary.csv").is_file());
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.contains(fixture::OLD_RUN) && html.contains(fixture::RUN),
        "--all-runs reads both runs"
    );
}

#[test]
fn report_on_an_empty_home_still_writes_a_page() {
    let home = TestHome::new();
    let stdout = home.run_ok(&["report", "--quiet"]);
    let html = std::fs::read_to_string(stdout.trim()).expect("report written");
    assert!(html.contains("Nothing has been measured yet"));
}

#[test]
fn unknown_run_is_the_users_error_with_a_hint() {
    let home = TestHome::new();
    fixture::realistic(home.path());
    let out = home.run(&["report", "--run", "no-such-run"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`no-such-run`") && stderr.contains(fixture::RUN), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout when nothing was written");
}

#[test]
fn broken_registry_is_the_users_error_and_kept() {
    let home = TestHome::new();
    std::fs::write(home.path().join("models.json"), "{ \"schema\": 1, \"models\": [").unwrap();
    let out = home.run(&["report"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("models.json") && stderr.contains("line 1"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(home.path().join("models.json")).unwrap(),
        "{ \"schema\": 1, \"models\": ["
    );
}
