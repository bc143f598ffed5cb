//! The HTTP surface through `app(state).oneshot()` with a fake backend (these tests are
//! about the service, not inference): routing, feedback, model listing, chat
//! completions with and without streaming, and every error shape.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use noa_infer::{Loglikelihood, LoglikelihoodRequest, RequestTimings};
use noa_router::backend::{
    BackendError, Backends, ChatMessage, EngineError, EventStream, FinishReason, GenerateRequest,
    Generation, ModelBackend, Prompt, StreamEvent,
};
use noa_router::http::{AppState, HttpOptions, app};
use noa_router::testing::registry_with;
use noa_router::{PolicyKind, Router, RouterConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A fake model: answers every request with `answer(request)` (the text, or why not),
/// optionally after a pause, and streams it as one event per word.
struct Fake<F> {
    answer: F,
    pause: std::time::Duration,
}

fn generation(text: String, max_tokens: u32) -> Generation {
    Generation {
        text,
        prompt_tokens: 7,
        cached_tokens: 0,
        gen_tokens: max_tokens.min(3),
        finish: FinishReason::Stop,
        timings: RequestTimings::default(),
        rendered_prompt: String::new(),
    }
}

impl<F> ModelBackend for Fake<F>
where
    F: Fn(&GenerateRequest) -> Result<String, EngineError> + Send + Sync,
{
    fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>> {
        std::thread::sleep(self.pause);
        requests.iter().map(|r| Ok(generation((self.answer)(r)?, r.max_tokens))).collect()
    }
    fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        requests.iter().map(|_| Err(EngineError::Unsupported("fake".into()))).collect()
    }
    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        Ok(messages.iter().map(|m| m.content.as_str()).collect())
    }
    fn generate_stream(&self, request: GenerateRequest) -> Result<EventStream, EngineError> {
        let out = self.generate(request)?;
        let mut events: Vec<StreamEvent> =
            out.text.split_inclusive(' ').map(|w| StreamEvent::Token(w.to_owned())).collect();
        events.push(StreamEvent::Done(out));
        Ok(Box::new(events.into_iter()))
    }
}

/// Echoes the last user message back, word by word when streaming; `model-02` does
/// not load.
struct Echo;

impl Backends for Echo {
    fn model(&self, model_id: &str) -> Result<Arc<dyn ModelBackend>, BackendError> {
        if model_id == "model-02" {
            return Err(BackendError::Unavailable {
                model: model_id.into(),
                reason: "fake load failure".into(),
            });
        }
        let id = model_id.to_owned();
        let answer = move |r: &GenerateRequest| {
            let last = match &r.prompt {
                Prompt::Chat(m) => m.last().map_or("", |m| m.content.as_str()),
                Prompt::Raw(text) => text,
            };
            Ok(format!("{id}: {last}"))
        };
        Ok(Arc::new(Fake { answer, pause: std::time::Duration::ZERO }))
    }
}

fn state(dir: &std::path::Path, options: HttpOptions) -> AppState {
    let config =
        RouterConfig { policy: PolicyKind::Thompson, seed: Some(3), ..RouterConfig::default() };
    let router = Arc::new(Router::open(&registry_with(3), config, dir).expect("router"));
    AppState::new(router, Arc::new(Echo), options)
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut b = Request::builder().method(method).uri(uri);
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body.map_or_else(Body::empty, |s| Body::from(s.to_owned()))).expect("request");
    let resp = app(state.clone()).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes().to_vec();
    (status, headers, bytes)
}

async fn json_call(
    state: &AppState,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let (status, _, bytes) = call(state, method, uri, body, &[]).await;
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

/// The OpenAI error shape, with its `code`.
fn assert_error(v: &Value, code: &str) {
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(e["type"].is_string(), "{v}");
    assert!(e.get("param").is_some(), "{v}");
    assert_eq!(e["code"], code, "{v}");
}

#[tokio::test]
async fn route_then_feedback_then_repeat_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = state(dir.path(), HttpOptions::default());
    let (status, d) = json_call(
        &s,
        "POST",
        "/v1/route",
        Some(r#"{"use_case":"code_generation","max_latency_ms":100000}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    let id = d["decision_id"].as_str().expect("decision id").to_owned();
    assert!(d["model"].as_str().is_some_and(|m| m.starts_with("model-")));
    assert!(d["probability"].as_f64().is_some_and(|p| p > 0.0 && p <= 1.0));
    assert_eq!(d["candidates"].as_array().map(Vec::len), Some(3));
    let fb = json!({"decision_id": id, "reward": 0.75, "latency_ms": 420.0}).to_string();
    let (status, ack) = json_call(&s, "POST", "/v1/feedback", Some(&fb)).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(ack["decision_id"], id.as_str());
    let (status, err) = json_call(&s, "POST", "/v1/feedback", Some(&fb)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&err, "feedback_already_recorded");
    let unknown = json!({"decision_id": "d00000000000000ff", "reward": 0.5}).to_string();
    let (status, err) = json_call(&s, "POST", "/v1/feedback", Some(&unknown)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&err, "unknown_decision");
    let (_, d2) = json_call(&s, "POST", "/v1/route", Some(r#"{"use_case":"code"}"#)).await;
    for bad in [json!(1.5), json!(-1)] {
        let body = json!({"decision_id": d2["decision_id"], "reward": bad}).to_string();
        let (status, err) = json_call(&s, "POST", "/v1/feedback", Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_error(&err, "reward_out_of_range");
    }
    let (_, metrics, body) = call(&s, "GET", "/metrics", None, &[]).await;
    let text = String::from_utf8(body).expect("utf-8");
    assert!(metrics["content-type"].to_str().unwrap_or("").starts_with("text/plain"));
    assert!(text.contains("noa_decisions_total{model=\"model-0"), "{text}");
    assert!(text.contains("noa_feedback_total"), "{text}");
    assert!(text.contains("noa_feedback_rejected_total 4"), "{text}");
    assert!(text.contains("noa_request_latency_ms_bucket{model="), "{text}");
}

#[tokio::test]
async fn route_errors_are_openai_shaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = state(dir.path(), HttpOptions { body_limit: 4096, ..HttpOptions::default() });
    let cases: Vec<(&str, &str, Option<String>, StatusCode, &str)> = vec![
        ("POST", "/v1/route", Some("{not json".into()), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            "POST",
            "/v1/route",
            Some(r#"{"use_case": "qa", "min_quality": "high"}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_type",
        ),
        (
            "POST",
            "/v1/route",
            Some(r#"{"min_quality": 0.5}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_type",
        ),
        (
            "POST",
            "/v1/route",
            Some(r#"{"use_case": "cooking"}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_type",
        ),
        (
            "POST",
            "/v1/route",
            Some(r#"{"use_case": "qa", "bogus": 1}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_type",
        ),
        (
            "POST",
            "/v1/route",
            Some(r#"{"use_case": "qa", "min_quality": 2}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_requirements",
        ),
        (
            "POST",
            "/v1/route",
            Some(r#"{"use_case": "vision"}"#.into()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_candidate",
        ),
        (
            "POST",
            "/v1/feedback",
            Some(r#"{"decision_id": 3, "reward": 1}"#.into()),
            StatusCode::BAD_REQUEST,
            "invalid_type",
        ),
        (
            "POST",
            "/v1/route",
            Some(format!(r#"{{"use_case":"qa","allow":["{}"]}}"#, "x".repeat(10_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        ("GET", "/v1/nothing", None, StatusCode::NOT_FOUND, "unknown_url"),
        ("GET", "/v1/route", None, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (
            "DELETE",
            "/v1/chat/completions",
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (method, uri, body, want, code) in cases {
        let (status, v) = json_call(&s, method, uri, body.as_deref()).await;
        assert_eq!(status, want, "{method} {uri}: {v}");
        assert_error(&v, code);
    }
    let (status, _, body) =
        call(&s, "POST", "/v1/route", Some("{}"), &[("content-type", "text/plain")]).await;
    assert!(status.is_client_error());
    assert!(
        serde_json::from_slice::<Value>(&body).is_ok_and(|v| v["error"]["message"].is_string())
    );
}

#[tokio::test]
async fn models_and_health() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = state(dir.path(), HttpOptions::default());
    let (status, v) = json_call(&s, "GET", "/v1/models", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> =
        v["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["auto", "model-00", "model-01", "model-02"]);
    assert_eq!(v["data"][1]["noa"]["installed"], true);
    let (status, v) = json_call(&s, "GET", "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["status"], "ok");
}

#[tokio::test]
async fn chat_completion_auto_routes_and_names_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = state(dir.path(), HttpOptions::default());
    let body = json!({
        "model": "auto",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        "max_tokens": 5,
        "temperature": 0,
        "user": "ignored-extra-field",
        "noa": {"use_case": "qa", "deny": ["model-02"]},
    })
    .to_string();
    let (status, headers, bytes) = call(&s, "POST", "/v1/chat/completions", Some(&body), &[]).await;
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(status, StatusCode::OK, "{v}");
    let model = headers["x-noa-model"].to_str().expect("model header").to_owned();
    let id = headers["x-noa-decision-id"].to_str().expect("decision header").to_owned();
    assert_eq!(v["model"], model.as_str());
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], format!("{model}: hello"));
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["total_tokens"], 10);
    // The server's own latency went in; the reward is still the caller's to give.
    let fb = json!({"decision_id": id, "reward": 1.0}).to_string();
    let (status, ack) = json_call(&s, "POST", "/v1/feedback", Some(&fb)).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    let log = std::fs::read_to_string(dir.path().join("feedback.jsonl")).expect("feedback log");
    assert!(log.lines().any(|l| l.contains("\"kind\":\"latency\"") && l.contains(&id)), "{log}");
    // Requirements may come in headers instead.
    let body =
        json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let (status, headers, _) = call(
        &s,
        "POST",
        "/v1/chat/completions",
        Some(&body),
        &[("x-noa-use-case", "code"), ("x-noa-allow", "model-01")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-noa-model"], "model-01");
    let (status, _, bytes) =
        call(&s, "POST", "/v1/chat/completions", Some(&body), &[("x-noa-min-quality", "lots")])
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&serde_json::from_slice(&bytes).expect("json"), "invalid_header");
}

#[tokio::test]
async fn chat_completion_pins_a_model_and_reports_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = state(dir.path(), HttpOptions::default());
    let body =
        json!({"model": "model-01", "messages": [{"role": "user", "content": "x"}]}).to_string();
    let (status, headers, _) = call(&s, "POST", "/v1/chat/completions", Some(&body), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-noa-model"], "model-01");
    assert!(headers.get("x-noa-decision-id").is_none());
    let cases = [
        (
            json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}),
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            json!({"model": "model-02", "messages": [{"role": "user", "content": "x"}]}),
            StatusCode::SERVICE_UNAVAILABLE,
            "model_unavailable",
        ),
        (json!({"model": "auto", "messages": []}), StatusCode::BAD_REQUEST, "invalid_value"),
        (json!({"model": "auto", "messages": "hi"}), StatusCode::BAD_REQUEST, "invalid_type"),
        (
            json!({"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": "many"}),
            StatusCode::BAD_REQUEST,
            "invalid_type",
        ),
        (
            json!({"model": "auto", "messages": [{"role": "user", "content": "x"}], "noa": {"use_case": "vision"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_candidate",
        ),
        (
            json!({"model": "auto", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
            StatusCode::BAD_REQUEST,
            "unsupported_content",
        ),
    ];
    for (body, want, code) in cases {
        let (status, v) =
            json_call(&s, "POST", "/v1/chat/completions", Some(&body.to_string())).await;
        assert_eq!(status, want, "{body}: {v}");
        assert_error(&v, code);
    }
}

#[tokio::test]
async fn chat_completion_streams_sse_chunks_then_done() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = state(dir.path(), HttpOptions::default());
    let body = json!({
        "model": "auto",
        "messages": [{"role": "user", "content": "one two three"}],
        "stream": true,
        "stream_options": {"include_usage": true},
        "noa": {"allow": ["model-00"]},
    })
    .to_string();
    let (status, headers, bytes) = call(&s, "POST", "/v1/chat/completions", Some(&body), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap_or("").starts_with("text/event-stream"));
    assert_eq!(headers["x-noa-model"], "model-00");
    let text = String::from_utf8(bytes).expect("utf-8");
    let datas: Vec<&str> = text
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| e.strip_prefix("data: ").unwrap_or_else(|| panic!("not a data event: {e:?}")))
        .collect();
    assert_eq!(datas.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = datas[..datas.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).expect("chunk json"))
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "model-00: one two three");
    assert!(
        chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "model-00")
    );
    let finish: Vec<&Value> =
        chunks.iter().map(|c| &c["choices"][0]["finish_reason"]).filter(|f| !f.is_null()).collect();
    assert_eq!(finish, [&json!("stop")]);
    let usage = chunks.last().expect("usage chunk");
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 7);
}

/// A backend slower than the server's deadline.
struct Slow;

impl Backends for Slow {
    fn model(&self, _: &str) -> Result<Arc<dyn ModelBackend>, BackendError> {
        let answer = |_: &GenerateRequest| Err(EngineError::Decode("too late".into()));
        Ok(Arc::new(Fake { answer, pause: std::time::Duration::from_millis(600) }))
    }
}

#[tokio::test]
async fn slow_requests_time_out_with_504() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = Arc::new(
        Router::open(&registry_with(2), RouterConfig::default(), dir.path()).expect("router"),
    );
    let options = HttpOptions {
        request_timeout: std::time::Duration::from_millis(100),
        ..HttpOptions::default()
    };
    let s = AppState::new(router, Arc::new(Slow), options);
    let body = json!({"model": "auto", "messages": [{"role": "user", "content": "x"}]}).to_string();
    let (status, v) = json_call(&s, "POST", "/v1/chat/completions", Some(&body)).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{v}");
    assert_error(&v, "timeout");
}

#[tokio::test]
async fn an_auto_request_whose_model_cannot_start_falls_back_and_that_model_cools_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = state(dir.path(), HttpOptions::default());
    let body = json!({
        "model": "auto",
        "messages": [{"role": "user", "content": "x"}],
        "noa": {"allow": ["model-01", "model-02"]},
    })
    .to_string();
    let mut fell_back = 0;
    for _ in 0..20 {
        let (status, headers, bytes) =
            call(&s, "POST", "/v1/chat/completions", Some(&body), &[]).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
        assert_eq!(headers["x-noa-model"], "model-01");
        if let Some(h) = headers.get("x-noa-fallbacks") {
            fell_back += 1;
            let h = h.to_str().unwrap();
            assert!(h.starts_with("model-02: ") && h.contains("fake load failure"), "{h}");
        }
    }
    // Once: then model-02 is cooling down and no longer chosen.
    assert_eq!(fell_back, 1);
    let (_, v) = json_call(&s, "POST", "/v1/route", Some(r#"{"use_case":"general"}"#)).await;
    let rejected = v["rejected"].as_array().unwrap();
    assert!(
        rejected
            .iter()
            .any(|r| r["model"] == "model-02" && r["reason"]["constraint"] == "cooling_down"),
        "{v}"
    );
    // With nothing left to fall back to, the client gets the model's own error.
    let only = json!({
        "model": "auto",
        "messages": [{"role": "user", "content": "x"}],
        "noa": {"allow": ["model-02"]},
    });
    let (status, v) = json_call(&s, "POST", "/v1/chat/completions", Some(&only.to_string())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

/// A backend whose failures carry text no client should see.
struct Leaky;

const SECRET: &str = "/srv/noa/models/secret.gguf: ggml_abort at llama.cpp:1234";

/// Fails at once, and a stream fails after its first word.
struct LeakyModel;

impl ModelBackend for LeakyModel {
    fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>> {
        requests.iter().map(|_| Err(EngineError::Decode(SECRET.into()))).collect()
    }
    fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        requests.iter().map(|_| Err(EngineError::Decode(SECRET.into()))).collect()
    }
    fn render_chat(&self, _: &[ChatMessage]) -> Result<String, EngineError> {
        Err(EngineError::Template(SECRET.into()))
    }
    fn generate_stream(&self, _: GenerateRequest) -> Result<EventStream, EngineError> {
        let events = [
            StreamEvent::Token("half ".into()),
            StreamEvent::Failed(EngineError::Decode(SECRET.into())),
        ];
        Ok(Box::new(events.into_iter()))
    }
}

impl Backends for Leaky {
    fn model(&self, _: &str) -> Result<Arc<dyn ModelBackend>, BackendError> {
        Ok(Arc::new(LeakyModel))
    }
}

/// A `tracing` writer that keeps what was logged, to check the cause is there.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A 500 answers a generic message and the request id (body and `x-request-id`), and
/// the cause is logged under that id; a 4xx keeps its helpful message.
#[tokio::test]
async fn a_500_names_the_request_id_not_the_cause_which_is_logged() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::ERROR)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().expect("tempdir");
    let router = Arc::new(
        Router::open(&registry_with(2), RouterConfig::default(), dir.path()).expect("router"),
    );
    let s = AppState::new(router, Arc::new(Leaky), HttpOptions::default());
    let body = json!({"model": "model-01", "messages": [{"role": "user", "content": "x"}]});
    let (status, headers, bytes) =
        call(&s, "POST", "/v1/chat/completions", Some(&body.to_string()), &[]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("secret") && !text.contains("ggml"), "{text}");
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert_error(&v, "inference_failed");
    let id = headers["x-request-id"].to_str().expect("ascii").to_owned();
    assert_eq!(v["error"]["request_id"], id.as_str(), "{v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains(&id)), "{v}");
    let logged = log.text();
    assert!(logged.lines().any(|l| l.contains(&id) && l.contains(SECRET)), "{logged}");

    // Streamed: the failure after the first tokens is an SSE error event, just as quiet.
    let body = json!({"model": "model-01", "stream": true,
        "messages": [{"role": "user", "content": "x"}]});
    let (status, headers, bytes) =
        call(&s, "POST", "/v1/chat/completions", Some(&body.to_string()), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&bytes);
    let id = headers["x-request-id"].to_str().expect("ascii").to_owned();
    assert!(!text.contains("secret") && text.contains(&id), "{text}");
    assert!(text.contains("inference_failed") && text.trim_end().ends_with("data: [DONE]"));
    assert!(log.text().lines().any(|l| l.contains(&id) && l.contains(SECRET)));

    // A client's mistake keeps its message, and has a request id too.
    let body = json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]});
    let (status, headers, bytes) =
        call(&s, "POST", "/v1/chat/completions", Some(&body.to_string()), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("`nope`")), "{v}");
    assert!(headers.contains_key("x-request-id"));

    // An id from a proxy in front is kept; one that is not plain text is replaced.
    let (_, headers, _) = call(&s, "GET", "/healthz", None, &[("x-request-id", "edge-42")]).await;
    assert_eq!(headers["x-request-id"], "edge-42");
    let (_, headers, _) = call(&s, "GET", "/healthz", None, &[("x-request-id", "a b")]).await;
    assert_ne!(headers["x-request-id"], "a b");
}
