//! Two real `noa serve` replicas sharing their learned state through a real
//! `redis-server` (`--state redis://...`): feedback through one changes the other's
//! choices, a decision made by one takes feedback through the other (once), a storm
//! of feedback through both at once and a `kill -9` of a replica mid-storm lose no
//! acknowledged update, and Redis killed and restarted mid-run costs feedback a 503
//! (decisions still answered) and nothing else. No model is needed (routing only).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestHome;
use common::redis::Redis;
use common::serve::{Server, http};
use serde_json::{Value, json};

fn replica(redis: &Redis) -> (TestHome, Server) {
    let home = TestHome::new();
    let reg = noa_router::testing::registry_with(3);
    std::fs::write(home.path().join("models.json"), serde_json::to_vec_pretty(&reg).expect("json"))
        .expect("write registry");
    let server = Server::start(&home, &["--state", &redis.url(), "--state-refresh", "100"], &[]);
    (home, server)
}

/// A decision for `body`: (id, model, the whole decision).
fn route(addr: &str, body: Value) -> (String, String, Value) {
    let (status, text) = http(addr, "POST", "/v1/route", Some(&body)).expect("route");
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("decision json");
    (
        v["decision_id"].as_str().expect("id").to_owned(),
        v["model"].as_str().expect("model").to_owned(),
        v,
    )
}

fn feedback(addr: &str, id: &str, reward: f64) -> std::io::Result<(u16, String)> {
    http(addr, "POST", "/v1/feedback", Some(&json!({"decision_id": id, "reward": reward})))
}

/// Feedback counted per model by `GET /v1/models`, summed.
fn feedback_total(addr: &str) -> u64 {
    let (_, text) = http(addr, "GET", "/v1/models", None).expect("models");
    let v: Value = serde_json::from_str(&text).expect("json");
    v["data"].as_array().expect("data").iter().filter_map(|m| m["noa"]["feedback"].as_u64()).sum()
}

/// Each candidate's posterior mean quality for code, as this replica sees it.
fn posterior(addr: &str) -> Vec<(String, f64)> {
    let (_, _, d) = route(addr, json!({"use_case": "code", "policy": "greedy"}));
    let mut c: Vec<(String, f64)> = d["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| {
            (
                c["model"].as_str().expect("model").to_owned(),
                c["estimated_quality"].as_f64().expect("q"),
            )
        })
        .collect();
    c.sort_by(|a, b| a.0.cmp(&b.0));
    c
}

/// Stream length and the per-(use case, model) counts, summed, as Redis holds them.
fn redis_counts(redis: &Redis) -> (u64, u64) {
    let xlen = redis.cli(&["XLEN", "noa:feedback"]).parse().expect("XLEN");
    let flat = redis.cli(&["HGETALL", "noa:feedback_counts"]);
    let counted = flat.lines().skip(1).step_by(2).map(|n| n.parse::<u64>().expect("count")).sum();
    (xlen, counted)
}

const REFRESHED: Duration = Duration::from_millis(600);

#[test]
fn feedback_through_one_replica_changes_the_others_choices() {
    let redis = Redis::start();
    let (_ha, a) = replica(&redis);
    let (_hb, b) = replica(&redis);
    let linucb = json!({"use_case": "code", "policy": "linucb"});
    let (_, first, _) = route(&b.addr, linucb.clone());
    let mut moved = false;
    for _ in 0..300 {
        let (id, model, _) = route(&a.addr, linucb.clone());
        if model != first {
            moved = true;
            break;
        }
        let (status, body) = feedback(&a.addr, &id, 0.0).expect("feedback");
        assert_eq!(status, 200, "{body}");
    }
    assert!(moved, "replica A never moved off `{first}` despite zero rewards");
    std::thread::sleep(REFRESHED);
    let (_, now, _) = route(&b.addr, linucb);
    assert_ne!(now, first, "replica B still picks `{first}`: A's feedback did not reach it");
    assert_eq!(posterior(&a.addr), posterior(&b.addr), "the replicas' posteriors differ");

    // A decision made by B takes feedback through A, exactly once, wherever repeated.
    let (id, _, _) = route(&b.addr, json!({"use_case": "code"}));
    std::thread::sleep(REFRESHED);
    assert_eq!(feedback(&a.addr, &id, 1.0).expect("feedback").0, 200);
    assert_eq!(feedback(&a.addr, &id, 1.0).expect("feedback").0, 409);
    let (status, body) = feedback(&b.addr, &id, 1.0).expect("feedback");
    assert_eq!(status, 409, "{body}");
}

#[test]
fn feedback_storm_through_both_replicas_loses_nothing() {
    let redis = Redis::start();
    let (_ha, a) = replica(&redis);
    let (_hb, b) = replica(&redis);
    let ids: Vec<String> = (0..300)
        .map(|i| route(if i % 2 == 0 { &a.addr } else { &b.addr }, json!({"use_case": "code"})).0)
        .collect();
    std::thread::sleep(REFRESHED);
    // Every decision's feedback goes to both replicas at once: exactly one may win.
    let senders: Vec<_> = [a.addr.clone(), b.addr.clone(), a.addr.clone(), b.addr.clone()]
        .into_iter()
        .enumerate()
        .map(|(k, addr)| {
            let ids = ids.clone();
            std::thread::spawn(move || {
                let order: Vec<&String> =
                    if k < 2 { ids.iter().collect() } else { ids.iter().rev().collect() };
                order
                    .into_iter()
                    .map(|id| (id.clone(), feedback(&addr, id, 0.7).expect("feedback").0))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut wins = std::collections::HashMap::<String, usize>::new();
    for s in senders {
        for (id, status) in s.join().expect("sender") {
            assert!(status == 200 || status == 409, "feedback for `{id}` answered {status}");
            *wins.entry(id).or_default() += usize::from(status == 200);
        }
    }
    assert!(wins.values().all(|w| *w == 1), "a decision took feedback other than once: {wins:?}");
    assert_eq!(redis_counts(&redis), (300, 300), "Redis lost or doubled an acknowledged update");
    std::thread::sleep(REFRESHED);
    assert_eq!((feedback_total(&a.addr), feedback_total(&b.addr)), (300, 300));
    assert_eq!(posterior(&a.addr), posterior(&b.addr), "the replicas did not converge");
}

#[test]
fn kill_9_of_a_replica_mid_storm_loses_nothing_acknowledged() {
    let redis = Redis::start();
    let (_ha, mut a) = replica(&redis);
    let (_hb, b) = replica(&redis);
    let ids: Vec<String> =
        (0..400).map(|_| route(&a.addr, json!({"use_case": "code"})).0).collect();
    std::thread::sleep(REFRESHED);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let (ids, acked, addr) = (ids.clone(), acked.clone(), a.addr.clone());
        std::thread::spawn(move || {
            for id in &ids {
                match feedback(&addr, id, 0.9) {
                    Ok((200, _)) => acked.lock().expect("lock").push(id.clone()),
                    // A died mid-request (no answer, or a cut one): not acknowledged.
                    Ok((0, _)) | Err(_) => return,
                    Ok((status, body)) => {
                        panic!("feedback refused before the kill: {status} {body}")
                    }
                }
            }
        })
    };
    while acked.lock().expect("lock").len() < 100 {
        std::thread::sleep(Duration::from_millis(5));
    }
    a.child.kill().expect("kill -9");
    let _ = a.child.wait();
    sender.join().expect("sender");
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() < ids.len(), "the storm ended before the kill; nothing was tested");
    let stream = redis.cli(&["XRANGE", "noa:feedback", "-", "+"]);
    for id in &acked {
        assert!(stream.contains(id.as_str()), "acknowledged feedback for `{id}` is not in Redis");
    }
    // Every decision A made still takes its feedback through B, once.
    for id in &ids {
        let (status, body) = feedback(&b.addr, id, 0.9).expect("feedback");
        let recorded = stream.contains(id.as_str());
        assert_eq!(status, if recorded { 409 } else { 200 }, "`{id}`: {body}");
    }
    assert_eq!(redis_counts(&redis), (400, 400));
    assert_eq!(feedback_total(&b.addr), 400);
}

#[test]
fn redis_killed_and_restarted_mid_run() {
    let mut redis = Redis::start();
    let (_ha, a) = replica(&redis);
    let (_hb, b) = replica(&redis);
    let code = json!({"use_case": "code"});
    let (before, _, _) = route(&a.addr, code.clone());
    let (during, _, _) = route(&a.addr, code.clone());
    assert_eq!(feedback(&a.addr, &before, 1.0).expect("feedback").0, 200);

    redis.kill9();
    let (made_while_down, _, _) = route(&a.addr, code.clone());
    let (status, body) = feedback(&a.addr, &during, 1.0).expect("feedback");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Redis") && body.contains("not recorded"), "{body}");
    assert_eq!(route(&b.addr, code.clone()).0.len(), 17, "decisions go on while Redis is away");

    redis.restart();
    std::thread::sleep(Duration::from_millis(1000));
    let (status, body) = feedback(&a.addr, &during, 1.0).expect("feedback");
    assert_eq!(status, 200, "refused feedback is taken once Redis is back: {body}");
    let (status, body) = feedback(&b.addr, &made_while_down, 1.0).expect("feedback");
    assert_eq!(
        status, 200,
        "a decision made while Redis was away reaches the other replica: {body}"
    );
    assert_eq!(
        redis_counts(&redis),
        (3, 3),
        "the append-only file kept the feedback before the kill"
    );
    std::thread::sleep(REFRESHED);
    assert_eq!((feedback_total(&a.addr), feedback_total(&b.addr)), (3, 3));
}

#[test]
fn unreachable_redis_is_a_clear_startup_error() {
    let home = TestHome::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let out = home.run(&["serve", "--addr", "127.0.0.1:0", "--state", &url]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&url) && err.contains("redis-server"), "{err}");
}
