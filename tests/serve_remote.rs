//! `noa serve` in front of a remote model: a second, real `noa serve` running the
//! SmolLM2 test model is registered as a `lan` (private-tier) remote model, beside a
//! `cloud` one whose server is gone. Pinned and `auto` chat completions reach the
//! remote model and come back as it answered them (temperature 0: the same text as
//! asking it directly), streamed too; a request whose privacy tier allows only local
//! models gets a 503 instead of a forbidden model; the dead server answers 503 and is
//! cooled down, never a silent stand-in.

mod common;

use common::serve::{Server, header};
use common::{TestHome, model_entry, remote_entry, smollm2, write_registry};
use noa_registry::{PrivacyTier, UseCase};
use serde_json::{Value, json};

fn chat(model: &str, noa: Value, stream: bool) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": "Name a colour."}],
        "max_tokens": 12, "temperature": 0, "seed": 1, "stream": stream, "noa": noa,
    })
}

fn text(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["choices"][0]["message"]["content"].as_str().expect("content").to_owned()
}

#[test]
fn serve_forwards_to_a_remote_model_within_the_privacy_tier() {
    let upstream_home = TestHome::new();
    write_registry(&upstream_home, vec![model_entry("smollm2", &smollm2(), &[UseCase::General])]);
    // Every prompt decoded whole, so asking twice gives the same answer.
    let upstream = Server::start(&upstream_home, &["--threads", "2", "--no-prefix-cache"], &[]);

    let home = TestHome::new();
    let lan = format!("http://{}/v1", upstream.addr);
    write_registry(
        &home,
        vec![
            remote_entry("lan-smol", &lan, "smollm2", PrivacyTier::Private, &[UseCase::General]),
            remote_entry(
                "cloud-gone",
                "http://127.0.0.1:9/v1",
                "gone",
                PrivacyTier::Cloud,
                &[UseCase::General],
            ),
        ],
    );
    let front = Server::start(&home, &["--seed", "5"], &[]);

    // Pinned: the remote model's own answer, unmodified.
    let (status, _, direct) =
        upstream.post("/v1/chat/completions", &chat("smollm2", json!({}), false));
    assert_eq!(status, 200, "{direct}");
    let (status, head, body) =
        front.post("/v1/chat/completions", &chat("lan-smol", json!({}), false));
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&head, "x-noa-model"), Some("lan-smol"));
    assert_eq!(text(&body), text(&direct), "temperature 0: the same text as asking it directly");

    // Streamed through as it arrives, ending with [DONE].
    let (status, _, sse) = front.post("/v1/chat/completions", &chat("lan-smol", json!({}), true));
    assert_eq!(status, 200, "{sse}");
    let mut streamed = String::new();
    for data in sse.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if data != "[DONE]" {
            let v: Value = serde_json::from_str(data).expect("chunk");
            streamed.push_str(v["choices"][0]["delta"]["content"].as_str().unwrap_or_default());
        }
    }
    assert!(sse.trim_end().ends_with("data: [DONE]"), "{sse}");
    assert_eq!(streamed, text(&direct));

    // `auto` under the private tier: only the lan model may serve it, every time.
    for _ in 0..4 {
        let req = chat("auto", json!({"privacy": "private"}), false);
        let (status, head, body) = front.post("/v1/chat/completions", &req);
        assert_eq!(status, 200, "{body}");
        assert_eq!(header(&head, "x-noa-model"), Some("lan-smol"), "{head}");
    }

    // A local-only request: no model here may serve it, so 503, not a remote one.
    let (status, head, body) =
        front.post("/v1/chat/completions", &chat("auto", json!({"privacy": "local"}), false));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no_permitted_model"), "{body}");
    assert_eq!(header(&head, "x-noa-model"), None);

    // The cloud model's server is gone: a clear 503 naming it, then it cools down.
    let (status, _, body) =
        front.post("/v1/chat/completions", &chat("cloud-gone", json!({}), false));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("cloud-gone") && body.contains("model_unavailable"), "{body}");
    let (_, _, metrics) = front.get("/metrics");
    assert!(metrics.contains("cloud-gone"), "{metrics}");
}
