//! `noa serve` as a real subprocess on loopback: routing and feedback over HTTP,
//! `kill -9` in the middle of a feedback stream, restart, and nothing acknowledged is
//! lost; decisions made before the kill still take feedback. Also a graceful SIGTERM
//! that leaves a snapshot. No model is needed (routing only), so the registry is built
//! in the test.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestHome;
use common::serve::{Server, http};
use serde_json::{Value, json};

fn registry(home: &TestHome) {
    let reg = noa_router::testing::registry_with(3);
    std::fs::write(home.path().join("models.json"), serde_json::to_vec_pretty(&reg).expect("json"))
        .expect("write registry");
}

fn route(addr: &str) -> String {
    let (status, body) =
        http(addr, "POST", "/v1/route", Some(&json!({"use_case": "code"}))).expect("route");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("decision json");
    v["decision_id"].as_str().expect("id").to_owned()
}

fn feedback(addr: &str, id: &str) -> std::io::Result<(u16, String)> {
    http(
        addr,
        "POST",
        "/v1/feedback",
        Some(&json!({"decision_id": id, "reward": 0.9, "latency_ms": 250.0})),
    )
}

#[test]
fn kill_9_loses_no_acknowledged_feedback() {
    let home = TestHome::new();
    registry(&home);
    let mut server = Server::start(&home, &["--snapshot-interval", "1"], &[]);
    let addr = server.addr.clone();
    let ids: Vec<String> = (0..400).map(|_| route(&addr)).collect();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (ids, acked, stop, addr) = (ids.clone(), acked.clone(), stop.clone(), addr.clone());
        std::thread::spawn(move || {
            let mut attempted = 0;
            for id in &ids[..300] {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                attempted += 1;
                match feedback(&addr, id) {
                    Ok((200, _)) => acked.lock().expect("lock").push(id.clone()),
                    Ok((status, body)) => {
                        panic!("feedback refused before the kill: {status} {body}")
                    }
                    Err(_) => break, // the server died mid-request: not acknowledged
                }
            }
            attempted
        })
    };
    // Let feedback flow (and at least one periodic snapshot happen), then kill -9.
    std::thread::sleep(Duration::from_millis(1500));
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    stop.store(true, Ordering::Relaxed);
    let attempted = sender.join().expect("sender");
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 5, "too little feedback went through before the kill: {}", acked.len());
    assert!(home.path().join("router/snapshot.json").is_file(), "a periodic snapshot was written");

    let server = Server::start(&home, &[], &[]);
    for id in &acked {
        let (status, body) = feedback(&server.addr, id).expect("feedback");
        assert_eq!(status, 409, "acknowledged feedback for `{id}` was lost: {body}");
    }
    // The one request in flight at the kill may or may not have been recorded; every
    // decision after it was never given feedback and must still take it.
    for id in &ids[attempted.min(ids.len())..] {
        let (status, body) = feedback(&server.addr, id).expect("feedback");
        assert_eq!(status, 200, "decision `{id}` made before the kill was forgotten: {body}");
    }
    let (_, models) = http(&server.addr, "GET", "/v1/models", None).expect("models");
    let v: Value = serde_json::from_str(&models).expect("json");
    let total: u64 = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["noa"]["feedback"].as_u64())
        .sum();
    let expected = (acked.len() + ids.len() - attempted) as u64;
    assert!(
        total == expected || total == expected + 1,
        "feedback total {total}, expected {expected} (+1 in flight)"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_gracefully_with_a_snapshot() {
    let home = TestHome::new();
    registry(&home);
    let mut server = Server::start(&home, &["--snapshot-interval", "3600"], &[]);
    let id = route(&server.addr);
    assert_eq!(feedback(&server.addr, &id).expect("feedback").0, 200);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = server.child.wait().expect("wait");
    assert!(exit.success(), "noa serve exited with {exit}");
    let snap: Value = serde_json::from_slice(
        &std::fs::read(home.path().join("router/snapshot.json")).expect("snapshot"),
    )
    .expect("json");
    assert_eq!(snap["done"], json!([id]));
    let log = std::fs::metadata(home.path().join("router/decisions.jsonl")).expect("decision log");
    assert!(log.len() > 0, "the decision log is append-only");
    assert_eq!(snap["decisions_offset"], log.len(), "the snapshot covers the whole log");
}

#[test]
fn serve_reports_a_busy_address_as_the_users_error() {
    let home = TestHome::new();
    registry(&home);
    let server = Server::start(&home, &[], &[]);
    let out = home.run(&["serve", "--addr", &server.addr]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot listen on") && err.contains("hint:"), "{err}");
}

#[test]
fn a_second_server_on_the_same_home_is_refused() {
    let home = TestHome::new();
    registry(&home);
    let _server = Server::start(&home, &[], &[]);
    let out = home.run(&["serve", "--addr", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another `noa serve`") && err.contains("hint:"), "{err}");
}
