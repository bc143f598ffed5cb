//! Models in supervised worker processes (the `noa-engine-worker` binary): the same
//! answers as in process, and every way a worker can fail — an illegal instruction, a
//! segfault, an abort, a hang, `kill -9` — costs the requests in flight an
//! `EngineError::Crashed` naming the cause, never the test process; the next request
//! gets a fresh worker.

use std::process::Command;
use std::time::Duration;

use noa_engine::{
    ChatMessage, EngineConfig, EngineError, GenerateRequest, LoglikelihoodRequest, Model,
    StreamEvent, WorkerCommand, WorkerState,
};

use crate::common::{GEMMA, SMOLLM, config, model_path, smollm};

fn worker(fault: Option<&str>, hang: Duration) -> WorkerCommand {
    WorkerCommand {
        program: env!("CARGO_BIN_EXE_noa-engine-worker").into(),
        args: Vec::new(),
        hang_timeout: hang,
        env: fault.map(|f| vec![("NOA_ENGINE_FAULT".to_owned(), f.to_owned())]).unwrap_or_default(),
    }
}

fn load(file: &str, fault: Option<&str>) -> Model {
    let cfg = EngineConfig { worker: Some(worker(fault, Duration::from_secs(60))), ..config() };
    Model::load(&model_path(file), &cfg).expect("start a worker")
}

fn ask(q: &str, max_tokens: u32) -> GenerateRequest {
    GenerateRequest::chat(vec![ChatMessage::new("user", q)], max_tokens)
}

fn crash_cause(e: EngineError) -> String {
    match e {
        EngineError::Crashed { cause } => cause,
        other => panic!("expected a crash, got {other:?}"),
    }
}

#[test]
fn a_worker_answers_exactly_as_the_model_in_process() {
    let w = load(SMOLLM, None);
    assert!(matches!(w, Model::Worker(_)));
    assert_ne!(w.worker_pid(), Some(std::process::id()));
    let local = &Model::InProcess(smollm().clone());
    for q in ["Name a colour.", "What is 2+2?"] {
        let a = w.generate(ask(q, 12)).unwrap();
        let b = local.generate(ask(q, 12)).unwrap();
        assert_eq!((a.text, a.prompt_tokens, a.finish), (b.text, b.prompt_tokens, b.finish));
    }
    let conv = [ChatMessage::new("system", "Be brief."), ChatMessage::new("user", "Hi")];
    assert_eq!(w.render_chat(&conv).unwrap(), local.render_chat(&conv).unwrap());
    assert_eq!(w.template_kind(), local.template_kind());
    assert_eq!(w.count_tokens("Hello there").unwrap(), local.count_tokens("Hello there").unwrap());
    let ll = |m: &Model| {
        m.loglikelihood_batch(vec![LoglikelihoodRequest::new("The sky is", " blue")])
            .pop()
            .unwrap()
            .unwrap()
            .logprob
    };
    assert_eq!(ll(&w), ll(local));
    // A stream arrives piece by piece and ends with the whole text.
    let events: Vec<StreamEvent> =
        w.generate_stream(ask("Say hello.", 8)).unwrap().iter().collect();
    let Some(StreamEvent::Done(done)) = events.last() else { panic!("{events:?}") };
    let pieces: String = events
        .iter()
        .filter_map(|e| if let StreamEvent::Token(t) = e { Some(t.as_str()) } else { None })
        .collect();
    assert_eq!(pieces, done.text);
    // Its memory is measured from the worker process.
    let rss = w.resident_bytes().expect("worker VmRSS");
    assert!(rss > 50 << 20, "{rss}");
    assert_eq!(w.state(), WorkerState::Ready);
}

#[test]
fn each_fault_fails_the_request_in_flight_and_the_next_request_gets_a_new_worker() {
    for (fault, signal) in [("sigill@2", "SIGILL"), ("segv@2", "SIGSEGV"), ("abort@2", "SIGABRT")] {
        let m = load(SMOLLM, Some(fault));
        let first = m.generate(ask("Name a colour.", 6)).unwrap();
        let pid = m.worker_pid();
        let cause = crash_cause(m.generate(ask("Name a colour.", 6)).unwrap_err());
        assert!(cause.contains(signal), "{fault}: {cause}");
        assert!(cause.contains("NOA_ENGINE_FAULT"), "stderr's last words: {cause}");
        assert_eq!(m.state(), WorkerState::Crashed);
        // Restarted: the third request is answered, the same way, by another process.
        let third = m.generate(ask("Name a colour.", 6)).unwrap();
        assert_eq!(third.text, first.text);
        assert_ne!(m.worker_pid(), pid);
        assert_eq!((m.restarts(), m.crashes().len()), (1, 1), "{fault}");
    }
}

#[test]
fn a_crash_mid_stream_ends_the_stream_with_the_cause_after_its_first_token() {
    let m = load(SMOLLM, Some("smollm:segv"));
    let events: Vec<StreamEvent> =
        m.generate_stream(ask("Count to ten.", 32)).unwrap().iter().collect();
    assert!(matches!(events.first(), Some(StreamEvent::Token(_))), "{events:?}");
    match events.last() {
        Some(StreamEvent::Failed(EngineError::Crashed { cause })) => {
            assert!(cause.contains("SIGSEGV"), "{cause}")
        }
        other => panic!("{other:?}"),
    }
    // Batched requests in flight all fail, each with the cause.
    let all = m.generate_batch(vec![ask("a", 8), ask("b", 8), ask("c", 8)]);
    assert!(all.into_iter().all(|r| matches!(r, Err(EngineError::Crashed { .. }))));
}

#[test]
fn a_hung_worker_is_killed_after_the_hang_timeout() {
    let cfg =
        EngineConfig { worker: Some(worker(Some("hang@1"), Duration::from_secs(2))), ..config() };
    let m = Model::load(&model_path(GEMMA), &cfg).unwrap();
    let t0 = std::time::Instant::now();
    let cause = crash_cause(m.generate(ask("Hello", 4)).unwrap_err());
    assert!(cause.starts_with("hung: no answer for"), "{cause}");
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    assert!(m.generate(ask("Hello", 4)).is_ok(), "the restarted worker answers");
}

#[test]
fn a_worker_killed_from_outside_is_reported_as_sigkill_and_replaced() {
    let m = load(SMOLLM, None);
    let pid = m.worker_pid().unwrap();
    // A long generation in flight when the kill lands.
    let rx = m.generate_stream(ask("Write a long story about a dog.", 400)).unwrap();
    assert!(matches!(rx.recv().unwrap(), StreamEvent::Token(_)));
    let st = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(st.success());
    let last = rx.iter().last().unwrap();
    match last {
        StreamEvent::Failed(EngineError::Crashed { cause }) => {
            assert!(cause.contains("SIGKILL"), "{cause}")
        }
        other => panic!("{other:?}"),
    }
    assert!(m.generate(ask("Name a colour.", 4)).is_ok());
}

#[test]
fn a_bad_model_file_fails_to_load_with_a_clear_error_and_no_worker_left() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.gguf");
    let good = std::fs::read(model_path(SMOLLM)).unwrap();
    std::fs::write(&bad, &good[..good.len() / 3]).unwrap();
    let cfg = EngineConfig { worker: Some(worker(None, Duration::from_secs(60))), ..config() };
    match Model::load(&bad, &cfg) {
        Err(EngineError::BadModel { .. } | EngineError::Load { .. }) => {}
        other => panic!("{other:?}"),
    }
}
