//! LiteLLM, configured with `noa serve` as an OpenAI-compatible provider, gets answers
//! through it unmodified. A real `noa serve` runs the two real test models; LiteLLM
//! (pinned, in the virtual environment `scripts/setup.sh` makes) calls it the way its
//! users would (`openai/<model>` with `api_base`), pinned and `auto`, streamed and not,
//! with noa's routing hints in the body and in headers. Every answer must be the one
//! an identical `noa serve` gives when asked directly (temperature 0): same text,
//! finish reason, token counts and chosen model; the routing decision's headers reach
//! the LiteLLM caller, whose feedback on that decision is accepted; an error comes back
//! as the OpenAI error class LiteLLM maps it to. A machine without the LiteLLM
//! environment fails with the fix.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::serve::{Server, header};
use common::{TestHome, gemma3, model_entry, smollm2, write_registry};
use noa_registry::{UseCase, env_vars};
use serde_json::{Value, json};

/// The Python of LiteLLM's virtual environment: `NOA_LITELLM_PYTHON`, else the one
/// `scripts/setup.sh` makes.
fn litellm_python() -> PathBuf {
    let python =
        std::env::var_os(env_vars::NOA_LITELLM_PYTHON).map(PathBuf::from).unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
            home.join(".cache/noa/venv-litellm/bin/python")
        });
    assert!(
        python.is_file(),
        "no LiteLLM environment at {}: run scripts/setup.sh, which installs the pinned \
         LiteLLM (scripts/litellm-requirements.txt) there, or set NOA_LITELLM_PYTHON",
        python.display()
    );
    python
}

/// Each of `calls` made through LiteLLM against `base`; one JSON answer per call.
fn through_litellm(base: &str, calls: &[Value]) -> Vec<Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/litellm_client.py");
    let mut child = Command::new(litellm_python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start LiteLLM's Python");
    let input = json!({"base": base, "calls": calls}).to_string();
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write calls");
    let out = child.wait_with_output().expect("LiteLLM client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "LiteLLM client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a JSON answer"))
        .collect();
    assert_eq!(answers.len(), calls.len(), "one answer per call: {stdout}");
    answers
}

fn call(model: &str, content: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 16, "temperature": 0, "seed": 3, "stream": stream,
    })
}

/// The same request straight to `noa serve` (hints from LiteLLM's `extra_body` or
/// `extra_headers` go in the `noa` field): what LiteLLM should hand back, in its
/// terms (text, finish reason, usage when not streamed, the `x-noa-model` header).
fn direct(server: &Server, c: &Value) -> Value {
    let mut body = c.clone();
    let obj = body.as_object_mut().expect("object");
    obj.remove("extra_body");
    obj.remove("extra_headers");
    if let Some(noa) = c.pointer("/extra_body/noa") {
        body["noa"] = noa.clone();
    }
    if let Some(h) = c.get("extra_headers").and_then(Value::as_object) {
        let hint = |k: &str| h.get(k).cloned().unwrap_or(Value::Null);
        body["noa"] = json!({"use_case": hint("x-noa-use-case"), "policy": hint("x-noa-policy")});
    }
    let (status, head, text) = server.post("/v1/chat/completions", &body);
    if status != 200 {
        return json!({"status": status, "body": text});
    }
    let model = header(&head, "x-noa-model").expect("x-noa-model");
    if c["stream"] == true {
        let (mut streamed, mut finish) = (String::new(), Value::Null);
        for data in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
            if data != "[DONE]" {
                let v: Value = serde_json::from_str(data).expect("chunk");
                let choice = &v["choices"][0];
                streamed.push_str(choice["delta"]["content"].as_str().unwrap_or_default());
                if !choice["finish_reason"].is_null() {
                    finish = choice["finish_reason"].clone();
                }
            }
        }
        return json!({"text": streamed, "finish_reason": finish, "model": model});
    }
    let v: Value = serde_json::from_str(&text).expect("json");
    let choice = &v["choices"][0];
    json!({
        "text": choice["message"]["content"],
        "finish_reason": choice["finish_reason"],
        "usage": {
            "prompt_tokens": v["usage"]["prompt_tokens"],
            "completion_tokens": v["usage"]["completion_tokens"],
        },
        "model": model,
    })
}

/// A `noa serve` running both test models, its routing seeded.
fn server() -> (TestHome, Server) {
    let home = TestHome::new();
    write_registry(
        &home,
        vec![
            model_entry("smollm2", &smollm2(), &[UseCase::General, UseCase::Qa]),
            model_entry("gemma3", &gemma3(), &[UseCase::General, UseCase::Qa]),
        ],
    );
    let server = Server::start(&home, &["--threads", "2", "--seed", "9"], &[]);
    (home, server)
}

#[test]
fn litellm_gets_noa_serves_answers_unmodified() {
    // Two identical servers, given the same requests in the same order: one through
    // LiteLLM, one directly. (One server cannot answer both: a prompt it has seen is
    // partly served from its prefix cache, and llama.cpp's numbers depend on how a
    // prompt is split into decode calls, so a repeated request may continue
    // differently even at temperature 0.)
    let (_lite_home, lite) = server();
    let (_direct_home, plain) = server();
    let base = format!("http://{}/v1", lite.addr);

    let mut auto_body = call("auto", "What is the capital of France?", false);
    auto_body["extra_body"] = json!({"noa": {"use_case": "qa", "policy": "greedy"}});
    let mut auto_headers = call("auto", "Name a colour.", true);
    auto_headers["extra_headers"] = json!({"x-noa-use-case": "general", "x-noa-policy": "greedy"});
    let calls = vec![
        call("smollm2", "Name a colour.", false),
        call("gemma3", "Name a colour.", true),
        auto_body,
        auto_headers,
        call("no-such-model", "Name a colour.", false),
    ];
    let answers = through_litellm(&base, &calls);
    let expected: Vec<Value> = calls.iter().map(|c| direct(&plain, c)).collect();

    for (i, (a, e)) in answers.iter().zip(&expected).enumerate().take(4) {
        // Everything LiteLLM hands back is what noa serve answered, and the routing
        // decision's headers reach the LiteLLM caller.
        assert!(!e["text"].as_str().unwrap_or_default().is_empty(), "{i}: {e}");
        assert_eq!(a["text"], e["text"], "{i}: LiteLLM {a} vs direct {e}");
        assert_eq!(a["finish_reason"], e["finish_reason"], "{i}: {a} vs {e}");
        assert_eq!(a["headers"]["x-noa-model"], e["model"], "{i}: {a} vs {e}");
        if calls[i]["stream"] == true {
            assert!(a["chunks"].as_u64().unwrap_or(0) > 1, "{i}: streamed: {a}");
        } else {
            assert_eq!(a["usage"], e["usage"], "{i}: {a} vs {e}");
        }
    }
    assert_eq!(answers[1]["headers"]["x-noa-model"], "gemma3");

    // `auto`: the caller gets the decision id and can give feedback on it.
    for a in &answers[2..4] {
        let id = a["headers"]["x-noa-decision-id"].as_str().expect("decision id reaches LiteLLM");
        let (status, _, body) =
            lite.post("/v1/feedback", &json!({"decision_id": id, "reward": 1.0}));
        assert_eq!(status, 200, "{body}");
    }

    // An unknown model: noa's OpenAI-shaped 404 becomes LiteLLM's NotFoundError, with
    // noa's message.
    assert_eq!(expected[4]["status"], 404, "{}", expected[4]);
    let e = &answers[4]["error"];
    assert_eq!(e["status"].as_u64(), Some(404), "{e}");
    assert_eq!(e["class"].as_str(), Some("NotFoundError"), "{e}");
    assert!(e["message"].as_str().unwrap_or_default().contains("no-such-model"), "{e}");
}
