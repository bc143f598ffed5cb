//! `noa serve` with the real default models (smollm2-135m-instruct and gemma-3-270m):
//! chat completions to `auto` answered by the chosen local model, streamed over SSE,
//! and the official `openai` Python client working against it unmodified.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::TestHome;
use common::serve::{Server, header};
use noa_registry::UseCase;
use serde_json::{Value, json};

/// Both default models registered for the use cases an `auto` chat asks about, and
/// `noa serve` over them with a small context, one sequence and two threads.
fn start() -> (TestHome, Server) {
    let home = TestHome::new();
    let uses = [UseCase::General, UseCase::Qa, UseCase::InstructionFollowing];
    common::write_registry(
        &home,
        vec![
            common::model_entry("smollm2-135m-instruct", &common::smollm2(), &uses),
            common::model_entry("gemma-3-270m", &common::gemma3(), &uses),
        ],
    );
    let args = ["--ctx", "1024", "--parallel", "1", "--threads", "2"];
    let server = Server::start(&home, &args, &[]);
    (home, server)
}

#[test]
fn auto_chat_completion_and_stream_answer_from_a_real_model() {
    let (_home, server) = start();
    let req = json!({
        "model": "auto",
        "messages": [{"role": "user", "content": "Say hello in one word."}],
        "max_tokens": 8,
        "temperature": 0,
    });
    let (status, head, body) = server.post("/v1/chat/completions", &req);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let model = header(&head, "x-noa-model").expect("x-noa-model header");
    assert!(["smollm2-135m-instruct", "gemma-3-270m"].contains(&model), "{model}");
    assert_eq!(v["model"], model);
    assert!(header(&head, "x-noa-decision-id").is_some_and(|d| d.starts_with('d')));
    let text = v["choices"][0]["message"]["content"].as_str().expect("content");
    assert!(!text.trim().is_empty(), "empty answer from {model}");
    let completion = v["usage"]["completion_tokens"].as_u64().expect("usage");
    assert!((1..=8).contains(&completion), "{completion} tokens");
    assert!(v["usage"]["prompt_tokens"].as_u64().is_some_and(|p| p > 3));

    let mut stream_req = req.clone();
    stream_req["stream"] = json!(true);
    stream_req["model"] = json!("smollm2-135m-instruct");
    let (status, head, body) = server.post("/v1/chat/completions", &stream_req);
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    let datas: Vec<&str> =
        body.split("\n\n").filter_map(|e| e.trim().strip_prefix("data: ")).collect();
    assert_eq!(datas.last(), Some(&"[DONE]"), "{body}");
    let chunks: Vec<Value> =
        datas[..datas.len() - 1].iter().map(|d| serde_json::from_str(d).expect("chunk")).collect();
    let streamed: String =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert!(!streamed.trim().is_empty(), "{body}");
    assert!(chunks.iter().any(|c| !c["choices"][0]["finish_reason"].is_null()));
    // Greedy decoding: the stream says what the plain completion of the same model says.
    let mut plain = req.clone();
    plain["model"] = json!("smollm2-135m-instruct");
    let (_, _, body) = server.post("/v1/chat/completions", &plain);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["choices"][0]["message"]["content"].as_str(), Some(streamed.as_str()));
}

/// A venv with the official `openai` client under `~/.cache/noa/venv-openai`.
fn openai_python() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    let venv = home.join(".cache/noa/venv-openai");
    let python = venv.join("bin/python");
    let has = |p: &Path| {
        Command::new(p).args(["-c", "import openai"]).status().is_ok_and(|s| s.success())
    };
    if !has(&python) {
        let ok = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "openai"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok && has(&python),
            "could not install the `openai` Python package into `{}`; run `python3 -m venv {0} && {0}/bin/pip install openai`",
            venv.display()
        );
    }
    python
}

const CLIENT: &str = r#"
import json, sys
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1], api_key="unused")
models = [m.id for m in client.models.list()]
r = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Name a colour."}], max_tokens=6, temperature=0)
parts = []
for chunk in client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Count to three."}], max_tokens=6, stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        parts.append(chunk.choices[0].delta.content)
try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    err = None
except Exception as e:
    err = type(e).__name__
print(json.dumps({"models": models, "model": r.model, "content": r.choices[0].message.content,
                  "usage": r.usage.completion_tokens, "stream": "".join(parts), "error": err}))
"#;

#[test]
fn official_openai_python_client_works_unmodified() {
    let python = openai_python();
    let (_home, server) = start();
    let out = Command::new(python)
        .args(["-c", CLIENT, &format!("http://{}/v1", server.addr)])
        .output()
        .expect("run python");
    assert!(out.status.success(), "client failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("client output json");
    assert!(
        v["models"]
            .as_array()
            .is_some_and(|m| m.contains(&json!("auto")) && m.contains(&json!("gemma-3-270m"))),
        "{v}"
    );
    assert!(
        ["smollm2-135m-instruct", "gemma-3-270m"].contains(&v["model"].as_str().unwrap_or("")),
        "{v}"
    );
    assert!(v["content"].as_str().is_some_and(|c| !c.trim().is_empty()), "{v}");
    assert!(v["usage"].as_u64().is_some_and(|u| u >= 1), "{v}");
    assert!(v["stream"].as_str().is_some_and(|c| !c.trim().is_empty()), "{v}");
    assert_eq!(v["error"], "NotFoundError", "{v}");
}
