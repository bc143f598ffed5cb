//! Feedback: bad input changes nothing, each decision takes feedback once (also under
//! concurrency), and everything acknowledged survives a restart with or without a
//! snapshot, including a torn last log line.

use std::sync::Arc;

use noa_registry::UseCase;
use noa_router::store::{DECISIONS_FILE, FEEDBACK_FILE, SNAPSHOT_FILE};
use noa_router::testing::registry_with;
use noa_router::{FeedbackError, PolicyKind, Router, RouterConfig, TaskRequirements};

fn cfg() -> RouterConfig {
    RouterConfig { policy: PolicyKind::Thompson, seed: Some(1), ..RouterConfig::default() }
}

fn req() -> TaskRequirements {
    TaskRequirements::new(UseCase::CodeGeneration)
}

fn posterior(router: &Router, model: &str) -> f64 {
    let mut r = req();
    r.allow = vec![model.to_owned()];
    router.select(&r).expect("decision").candidates[0].estimated_quality
}

#[test]
fn bad_feedback_is_refused_and_changes_nothing() {
    let router = Router::in_memory(&registry_with(3), cfg());
    let d = router.select(&req()).expect("decision");
    let before = posterior(&router, &d.model);
    for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            router.feedback(&d.decision_id, bad, None),
            Err(FeedbackError::RewardOutOfRange(_))
        ));
    }
    assert!(matches!(
        router.feedback(&d.decision_id, 0.5, Some(-3.0)),
        Err(FeedbackError::BadLatency(_))
    ));
    assert!(matches!(
        router.feedback("d00000000000000ff", 0.5, None),
        Err(FeedbackError::UnknownDecision(_))
    ));
    assert!(matches!(
        router.feedback("not-an-id", 0.5, None),
        Err(FeedbackError::UnknownDecision(_))
    ));
    assert_eq!(
        posterior(&router, &d.model),
        before,
        "refused feedback must not move the posterior"
    );
    router.feedback(&d.decision_id, 1.0, Some(120.0)).expect("first feedback");
    let after = posterior(&router, &d.model);
    assert!(after > before);
    let err = router.feedback(&d.decision_id, 0.0, None).expect_err("second feedback");
    assert!(matches!(err, FeedbackError::AlreadyRecorded(_)));
    assert!(err.to_string().contains(&d.decision_id));
    assert_eq!(posterior(&router, &d.model), after);
}

#[test]
fn concurrent_feedback_for_one_decision_has_exactly_one_winner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = Arc::new(Router::open(&registry_with(3), cfg(), dir.path()).expect("open"));
    for _ in 0..20 {
        let d = router.select(&req()).expect("decision");
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (router, barrier, id) =
                    (router.clone(), barrier.clone(), d.decision_id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    router.feedback(&id, f64::from(i) / 8.0, None)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "{results:?}");
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| matches!(e, FeedbackError::AlreadyRecorded(_)))
        );
    }
    let log = std::fs::read_to_string(dir.path().join(FEEDBACK_FILE)).expect("log");
    assert_eq!(log.lines().count(), 20, "one logged line per decision");
}

#[test]
fn restart_keeps_acknowledged_feedback_and_open_decisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = registry_with(3);
    let (acked, open, mean) = {
        let router = Router::open(&reg, cfg(), dir.path()).expect("open");
        let mut acked = Vec::new();
        for i in 0..30 {
            let d = router.select(&req()).expect("decision");
            router
                .feedback(&d.decision_id, if i % 3 == 0 { 1.0 } else { 0.2 }, Some(100.0))
                .expect("feedback");
            acked.push(d.decision_id);
            if i == 10 {
                router.snapshot().expect("snapshot");
            }
        }
        let open = router.select(&req()).expect("decision");
        (acked, open, posterior(&router, "model-01"))
        // dropped without a final snapshot: as after kill -9
    };
    let router = Router::open(&reg, cfg(), dir.path()).expect("reopen");
    for id in &acked {
        assert!(
            matches!(router.feedback(id, 0.5, None), Err(FeedbackError::AlreadyRecorded(_))),
            "{id}"
        );
    }
    assert!((posterior(&router, "model-01") - mean).abs() < 1e-12, "posterior restored exactly");
    let total: u64 = router.model_stats().iter().map(|s| s.feedback).sum();
    assert_eq!(total, 30);
    router
        .feedback(&open.decision_id, 1.0, None)
        .expect("a decision made before the restart takes feedback");
    assert!(dir.path().join(SNAPSHOT_FILE).is_file());
}

#[test]
fn torn_last_line_is_cut_and_the_rest_kept() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = registry_with(2);
    let id = {
        let router = Router::open(&reg, cfg(), dir.path()).expect("open");
        let d = router.select(&req()).expect("decision");
        router.feedback(&d.decision_id, 1.0, None).expect("feedback");
        d.decision_id
    };
    for file in [FEEDBACK_FILE, DECISIONS_FILE] {
        let mut f =
            std::fs::OpenOptions::new().append(true).open(dir.path().join(file)).expect("log");
        f.write_all(b"{\"kind\":\"rew").expect("torn write");
    }
    let router = Router::open(&reg, cfg(), dir.path()).expect("reopen despite torn lines");
    assert!(matches!(router.feedback(&id, 0.5, None), Err(FeedbackError::AlreadyRecorded(_))));
    let d = router.select(&req()).expect("decision");
    router.feedback(&d.decision_id, 0.0, None).expect("log appends cleanly after repair");
    drop(router);
    let router = Router::open(&reg, cfg(), dir.path()).expect("reopen again");
    assert!(matches!(
        router.feedback(&d.decision_id, 0.5, None),
        Err(FeedbackError::AlreadyRecorded(_))
    ));
}

#[test]
fn corrupt_log_line_is_an_error_not_a_silent_loss() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(FEEDBACK_FILE), "not json\n").expect("write");
    let err = Router::open(&registry_with(2), cfg(), dir.path()).expect_err("corrupt log");
    let msg = err.to_string();
    assert!(msg.contains(FEEDBACK_FILE) && msg.contains("line 1"), "{msg}");
}

#[test]
fn latency_feedback_recalibrates_predictions() {
    let router = Router::in_memory(&registry_with(2), cfg());
    let mut r = req();
    r.allow = vec!["model-00".into()];
    r.prompt_tokens = Some(200);
    r.output_tokens = Some(100);
    let before =
        router.select(&r).expect("decision").candidates[0].predicted_p95_ms.expect("measured");
    for _ in 0..40 {
        let d = router.select(&r).expect("decision");
        router.observe_latency(&d.decision_id, before * 3.0).expect("latency");
        assert!(matches!(
            router.observe_latency(&d.decision_id, 1.0),
            Err(FeedbackError::AlreadyRecorded(_))
        ));
        router.feedback(&d.decision_id, 1.0, None).expect("reward after latency");
    }
    let after =
        router.select(&r).expect("decision").candidates[0].predicted_p95_ms.expect("measured");
    assert!(
        after > before * 2.0,
        "prediction {before:.0} → {after:.0} ms after observing 3x slower requests"
    );
}
