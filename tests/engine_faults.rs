//! No fault in llama.cpp takes `noa bench` or `noa serve` down: with the real default
//! models in engine worker processes and `NOA_ENGINE_FAULT` making them die the ways
//! llama.cpp can (illegal instruction, segfault, abort) or `kill -9` from outside, the
//! run goes on and says what happened, and the server answers 502 and routes around.

mod common;

use std::path::{Path, PathBuf};

use common::serve::{Server, header};
use common::{TestHome, gemma3, model_entry, smollm2, write_registry};
use noa_registry::UseCase;
use noa_registry::runs::{ItemRecord, RunManifest};
use serde_json::{Value, json};

const SMOL: &str = "smollm2-135m-instruct";
const GEMMA: &str = "gemma-3-270m";

fn defaults(home: &TestHome, use_cases: &[UseCase]) {
    write_registry(
        home,
        vec![model_entry(SMOL, &smollm2(), use_cases), model_entry(GEMMA, &gemma3(), use_cases)],
    );
}

fn bench(home: &TestHome, args: &[&str], fault: Option<&str>) -> Value {
    let mut cmd = home.noa();
    cmd.args(["bench", "--json", "--quiet"]).args(args);
    match fault {
        Some(f) => cmd.env("NOA_ENGINE_FAULT", f),
        None => cmd.env_remove("NOA_ENGINE_FAULT"),
    };
    let out = cmd.output().expect("run noa bench");
    assert!(
        out.status.success(),
        "noa bench failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bench --json")
}

fn run_dir(home: &TestHome, v: &Value) -> PathBuf {
    home.path().join("runs").join(v["run_id"].as_str().unwrap())
}

fn manifest(dir: &Path) -> RunManifest {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn items(dir: &Path, model: &str) -> Vec<ItemRecord> {
    let text = std::fs::read_to_string(dir.join("items.jsonl")).unwrap_or_default();
    let all: Vec<ItemRecord> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    all.into_iter().filter(|r| r.model_id == model).collect()
}

const SUITE: [&str; 8] =
    ["--suites", "gsm8k", "--limit", "4", "--max-tokens", "24", "--no-cache", "--batch=2"];

#[test]
fn bench_outlives_a_model_whose_engine_always_crashes_and_resume_retries_it() {
    let home = TestHome::new();
    defaults(&home, &[UseCase::Reasoning]);
    let first = bench(&home, &SUITE, Some("gemma:sigill"));
    let dir = run_dir(&home, &first);
    let m = manifest(&dir);
    let smol = m.models.iter().find(|x| x.id == SMOL).unwrap();
    let gemma = m.models.iter().find(|x| x.id == GEMMA).unwrap();
    // The other model's results are complete.
    assert_eq!(smol.status, "ok", "{smol:?}");
    assert_eq!(items(&dir, SMOL).len(), 4);
    // The crashing model: restarted twice, then failed with the reason; the items it
    // had in flight are in the manifest, none of them scored.
    assert_eq!(gemma.status, "failed", "{gemma:?}");
    let error = gemma.error.as_deref().unwrap_or_default();
    assert!(error.contains("SIGILL (Illegal instruction)") && error.contains("3 times"), "{error}");
    assert_eq!(gemma.crashes.len(), 3, "{:?}", gemma.crashes);
    assert!(gemma.crashes.iter().all(|c| c.suite == "gsm8k" && !c.items.is_empty()));
    assert!(items(&dir, GEMMA).is_empty(), "a crashed item must not be scored");
    let note = m.notes.iter().find(|n| n.contains("engine crashed")).expect("a note");
    assert!(
        note.contains("engine crashed: SIGILL (Illegal instruction)")
            && note.contains("on item gsm8k/")
            && note.contains("hint"),
        "{note}"
    );
    // `--resume` retries it: now it runs clean, and nothing is done twice.
    let run_id = first["run_id"].as_str().unwrap().to_owned();
    bench(&home, &["--resume", &run_id], None);
    let m = manifest(&dir);
    assert!(m.models.iter().all(|x| x.status == "ok"), "{:?}", m.models);
    assert_eq!(items(&dir, GEMMA).len(), 4);
    assert_eq!(items(&dir, SMOL).len(), 4);
}

#[test]
fn bench_restarts_a_worker_that_crashes_once_and_finishes_every_item() {
    let home = TestHome::new();
    defaults(&home, &[UseCase::Reasoning]);
    let v = bench(&home, &[&SUITE[..], &["--models", SMOL]].concat(), Some("smollm:abort@2"));
    let dir = run_dir(&home, &v);
    let m = manifest(&dir);
    let smol = &m.models[0];
    assert_eq!(smol.status, "ok", "{smol:?}");
    assert_eq!(smol.crashes.len(), 1, "{:?}", smol.crashes);
    assert!(smol.crashes[0].cause.contains("SIGABRT"), "{:?}", smol.crashes);
    let recorded = items(&dir, SMOL);
    assert_eq!(recorded.len(), 4, "every item done after the restart");
    assert!(recorded.iter().all(|r| r.error.is_none()), "{recorded:?}");
    assert!(m.notes.iter().any(|n| n.contains("restarting its worker (1 of 2)")), "{:?}", m.notes);
}

fn chat(allow: Option<&str>, stream: bool) -> Value {
    let mut body = json!({
        "model": "auto",
        "messages": [{"role": "user", "content": "Name a colour."}],
        "max_tokens": 16,
        "stream": stream,
    });
    if let Some(m) = allow {
        body["noa"] = json!({"allow": [m]});
    }
    body
}

fn model_info(server: &Server, id: &str) -> Value {
    let (status, _, body) = server.get("/v1/models");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    v["data"].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap()["noa"].clone()
}

#[test]
fn serve_answers_502_when_an_engine_dies_and_routes_auto_requests_around_it() {
    let home = TestHome::new();
    defaults(&home, &[UseCase::General]);
    // Each model's worker dies on that model's second request (after its first token).
    let server = Server::start(
        &home,
        &["--ctx", "512", "--parallel", "1", "--threads", "2", "--cooldown", "600"],
        &[("NOA_ENGINE_FAULT", "segv@2")],
    );
    // A first auto request to SmolLM2 works; its decision awaits feedback.
    let (status, head, body) = server.post("/v1/chat/completions", &chat(Some(SMOL), false));
    assert_eq!(status, 200, "{body}");
    let decision = header(&head, "x-noa-decision-id").unwrap().to_owned();
    // The second dies mid-request: an OpenAI-shaped 502 naming the cause.
    let (status, _, body) = server.post("/v1/chat/completions", &chat(Some(SMOL), false));
    assert_eq!(status, 502, "{body}");
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["error"]["code"], "engine_crashed", "{body}");
    assert!(err["error"]["message"].as_str().unwrap().contains("SIGSEGV"), "{body}");
    assert_eq!(model_info(&server, SMOL)["state"], "cooling_down");
    // The next auto request goes to the other model; SmolLM2 is rejected, with why.
    let (status, head, body) = server.post("/v1/chat/completions", &chat(None, false));
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&head, "x-noa-model"), Some(GEMMA));
    let (_, _, route) = server.post("/v1/route", &json!({"use_case": "general"}));
    assert!(route.contains("\"cooling_down\"") && route.contains("SIGSEGV"), "{route}");
    // A worker killed from outside is replaced; its next request (Gemma's second)
    // dies mid-stream: the stream ends with an error event, not a hang.
    let pid = model_info(&server, GEMMA)["worker_pid"].as_u64().expect("gemma's worker pid");
    let st = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(st.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(model_info(&server, GEMMA)["state"], "crashed");
    let (status, _, body) = server.post("/v1/chat/completions", &chat(Some(GEMMA), true));
    assert_eq!(status, 200);
    assert!(body.contains("\"content\""), "a delta came first: {body}");
    assert!(body.contains("engine_crashed") && body.contains("SIGSEGV"), "{body}");
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    // A pinned request still reaches a cooling model: a fresh worker answers.
    let pinned =
        json!({"model": SMOL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8});
    let (status, _, body) = server.post("/v1/chat/completions", &pinned);
    assert_eq!(status, 200, "{body}");
    let info = model_info(&server, SMOL);
    assert_eq!(info["restarts"], 1, "{info}");
    assert!(info["last_crash"].as_str().unwrap().contains("SIGSEGV"), "{info}");
    // Feedback on the decision made before all this is still accepted.
    let (status, _, body) =
        server.post("/v1/feedback", &json!({"decision_id": decision, "reward": 1.0}));
    assert_eq!(status, 200, "{body}");
    let (_, _, metrics) = server.get("/metrics");
    assert!(
        metrics.contains(&format!("noa_engine_failures_total{{model=\"{SMOL}\"}} 1")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("noa_engine_restarts_total{{model=\"{GEMMA}\"}} 1")),
        "{metrics}"
    );
    assert!(metrics.contains("state=\"cooling_down\""), "{metrics}");
}

#[test]
fn doctor_passes_on_a_good_build_and_names_a_faulting_architecture() {
    let home = TestHome::new();
    let mut smol = model_entry(SMOL, &smollm2(), &[UseCase::General]);
    let mut gemma = model_entry(GEMMA, &gemma3(), &[UseCase::General]);
    for (e, arch) in [(&mut smol, "llama"), (&mut gemma, "gemma3")] {
        e.gguf = Some(noa_registry::GgufSummary {
            version: 3,
            architecture: arch.into(),
            context_length: None,
            file_type: None,
            chat_template: false,
            parameter_count: None,
            tensor_count: 1,
        });
    }
    write_registry(&home, vec![smol, gemma]);
    let out =
        home.noa().args(["doctor", "--json"]).env_remove("NOA_ENGINE_FAULT").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let named = |n: &str| {
        checks.iter().find(|c| c["name"] == n).unwrap_or_else(|| panic!("{n}: {checks:?}"))
    };
    assert_eq!(named("self-test llama")["status"], "ok");
    assert_eq!(named("self-test gemma3")["status"], "ok");
    // The build's features, as a worker reports them: x86 builds here use AVX at least.
    let build = named("llama.cpp build");
    assert_eq!(build["status"], "ok", "{build}");
    if cfg!(target_arch = "x86_64") {
        assert!(build["detail"].as_str().unwrap().contains("AVX"), "{build}");
        assert!(!build["detail"].as_str().unwrap().contains("AMX"), "{build}");
    }
    // A faulting architecture: exit 1, the signal named, and a fix.
    let out = home.noa().args(["doctor"]).env("NOA_ENGINE_FAULT", "gemma:sigill").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("self-test gemma3")).unwrap();
    assert!(line.starts_with("FAIL") && line.contains("SIGILL"), "{text}");
    assert!(text.contains("fix:"), "{text}");
}
