//! `noa serve` with the real default models (smollm2-135m-instruct and gemma-3-270m):
//! chat completions to `auto` answered by the chosen local model, streamed over SSE,
//! and the official `openai` Python client working against it unmodified.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::TestHome;
use noa_registry::{Declared, InstalledFile, ModelEntry, PrivacyTier, Registry, UseCase};
use serde_json::{Value, json};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn entry(id: &str, path: &Path) -> ModelEntry {
    ModelEntry {
        id: id.to_owned(),
        family: "test".to_owned(),
        parameters: None,
        quantization: None,
        file: Some(InstalledFile {
            path: path.display().to_string(),
            size: std::fs::metadata(path).expect("model file").len(),
            sha256: "0".repeat(64),
            verified_at: "2026-01-01T00:00:00Z".to_owned(),
        }),
        gguf: None,
        sources: Vec::new(),
        declared: Declared {
            use_cases: vec![UseCase::General, UseCase::Qa, UseCase::InstructionFollowing],
            privacy: PrivacyTier::Local,
            priority: None,
            quality: Some(0.3),
            vision: false,
        },
        measured: Vec::new(),
    }
}

fn start() -> (TestHome, Server) {
    let home = TestHome::new();
    let mut reg = Registry::default();
    reg.upsert(entry("smollm2-135m-instruct", &common::smollm2()));
    reg.upsert(entry("gemma-3-270m", &common::gemma3()));
    std::fs::write(home.path().join("models.json"), serde_json::to_vec(&reg).expect("json"))
        .expect("registry");
    let mut child = home
        .noa()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--ctx",
            "1024",
            "--parallel",
            "1",
            "--threads",
            "2",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn noa serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).expect("noa serve printed its address");
    (home, Server { child, addr })
}

/// POST JSON; returns status, raw header block and body.
fn post(addr: &str, path: &str, body: &Value) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(300))).expect("timeout");
    let body = body.to_string();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head.to_ascii_lowercase(), dechunk(head, body))
}

/// Undo `Transfer-Encoding: chunked` (streamed responses).
fn dechunk(head: &str, body: &str) -> String {
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
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
    let (status, head, body) = post(&server.addr, "/v1/chat/completions", &req);
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
    let (status, head, body) = post(&server.addr, "/v1/chat/completions", &stream_req);
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
    let (_, _, body) = post(&server.addr, "/v1/chat/completions", &plain);
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
