//! The client against a loopback OpenAI-compatible fake that misbehaves on purpose:
//! it answers normally, streams slowly, answers 500, 503 then recovers, 429 with
//! `Retry-After: 1`, stalls, goes silent mid-stream, drops a stream half-way, refuses a
//! bad request and checks the API key; scores a prompt's tokens (`echo` + `logprobs`).
//! Each test checks what the client did (attempts the server counted, the wait it
//! honoured, the error kind and its message).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use noa_remote::{
    ChatRequest, ClientConfig, CompletionRequest, Message, RemoteClient, RemoteError, Sampling,
    StreamEvent,
};
use serde_json::{Value, json};

type Hits = Arc<Mutex<HashMap<String, u32>>>;

/// A fake on a free loopback port, running on its own thread; its hit counts by mode.
fn fake() -> (String, Hits) {
    let hits: Hits = Arc::default();
    let app = axum::Router::new()
        .route("/{mode}/v1/models", get(models))
        .route("/{mode}/v1/chat/completions", post(answer))
        .route("/{mode}/v1/completions", post(answer))
        .with_state(hits.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    (format!("http://{}", rx.recv().unwrap()), hits)
}

async fn models(Path(mode): Path<String>) -> Response {
    let _ = mode;
    axum::Json(json!({"object": "list", "data": [
        {"id": "tiny", "object": "model", "created": 1, "owned_by": "fake", "digest": "sha256:abc"},
        {"id": "other", "object": "model"}
    ]}))
    .into_response()
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn delta(kind: &str, text: &str) -> Value {
    if kind == "text" {
        json!({"choices": [{"index": 0, "text": text, "finish_reason": null}]})
    } else {
        json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
    }
}

/// The normal streamed answer: three deltas, the finish reason, usage, `[DONE]`.
fn normal_chunks(kind: &str) -> Vec<Bytes> {
    let mut out: Vec<Bytes> =
        ["Hel", "lo", " world"].iter().map(|t| sse(&delta(kind, t))).collect();
    out.push(sse(
        &json!({"choices": [{"index": 0, "delta": {}, "text": "", "finish_reason": "stop"}]}),
    ));
    out.push(sse(&json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})));
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

fn streamed(chunks: Vec<Bytes>, gap: Duration) -> Response {
    let s = futures_util::stream::iter(chunks).then(move |c| async move {
        tokio::time::sleep(gap).await;
        Ok::<_, Infallible>(c)
    });
    ([("content-type", "text/event-stream")], Body::from_stream(s)).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message, "type": "fake"}}))).into_response()
}

async fn answer(
    State(hits): State<Hits>,
    Path(mode): Path<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let n = {
        let mut h = hits.lock().unwrap();
        let n = h.entry(mode.clone()).or_default();
        *n += 1;
        *n
    };
    let kind = if body.get("prompt").is_some() { "text" } else { "chat" };
    let stream = body["stream"] == true;
    match mode.as_str() {
        // Tokens of three characters; each scores -0.5 and is the most likely, but for
        // "ghi", where "X" was likelier.
        "score" if body["echo"] == true && body["max_tokens"] == 0 => {
            let prompt: Vec<char> = body["prompt"].as_str().unwrap_or_default().chars().collect();
            let tokens: Vec<String> = prompt.chunks(3).map(|c| c.iter().collect()).collect();
            let n = tokens.len();
            let lps: Vec<Value> =
                (0..n).map(|i| if i == 0 { Value::Null } else { json!(-0.5) }).collect();
            let top: Vec<Value> = (0..n)
                .map(|i| match i {
                    0 => Value::Null,
                    i if tokens[i] == "ghi" => json!({"X": -0.1, "ghi": -0.5}),
                    i => json!({tokens[i].clone(): -0.5}),
                })
                .collect();
            let offsets: Vec<usize> = (0..n).map(|i| 3 * i).collect();
            return axum::Json(json!({"choices": [{"index": 0, "text": body["prompt"],
                "logprobs": {"tokens": tokens, "token_logprobs": lps, "top_logprobs": top,
                             "text_offset": offsets}}]}))
            .into_response();
        }
        "fail500" => return error(StatusCode::INTERNAL_SERVER_ERROR, "model crashed"),
        "flaky" if n <= 2 => return error(StatusCode::SERVICE_UNAVAILABLE, "loading"),
        "busy" if n == 1 => {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down")
                .into_response();
        }
        "bad" => return error(StatusCode::BAD_REQUEST, "messages must not be empty"),
        "stall" => tokio::time::sleep(Duration::from_secs(60)).await,
        "key" => {
            let want = format!("Bearer {}", std::env::var("HOME").unwrap_or_default());
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
                return error(StatusCode::UNAUTHORIZED, "bad key");
            }
        }
        "stallmid" => {
            let first = futures_util::stream::iter([Ok::<_, Infallible>(sse(&delta(kind, "Hel")))]);
            let body = Body::from_stream(first.chain(futures_util::stream::pending()));
            return ([("content-type", "text/event-stream")], body).into_response();
        }
        "drop" => {
            let parts: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(sse(&delta(kind, "Hel"))),
                Ok(sse(&delta(kind, "lo"))),
                Err(std::io::Error::other("backend died")),
            ];
            // Headers and two deltas go out before the connection is dropped.
            let body = Body::from_stream(futures_util::stream::iter(parts).then(|p| async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                p
            }));
            return ([("content-type", "text/event-stream")], body).into_response();
        }
        _ => {}
    }
    if !stream {
        return axum::Json(json!({
            "model": "tiny", "system_fingerprint": "fp-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1}
        }))
        .into_response();
    }
    let gap = if mode == "slow" { Duration::from_millis(200) } else { Duration::ZERO };
    streamed(normal_chunks(kind), gap)
}

fn config() -> ClientConfig {
    ClientConfig {
        deadline: Duration::from_secs(5),
        stall_timeout: Duration::from_millis(500),
        max_retries: 3,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        ..ClientConfig::default()
    }
}

fn client(base: &str, mode: &str) -> RemoteClient {
    RemoteClient::new(&format!("{base}/{mode}/v1"), None, config()).unwrap()
}

fn chat() -> ChatRequest {
    ChatRequest {
        model: "tiny".into(),
        messages: vec![Message::user("hi")],
        sampling: Sampling { max_tokens: Some(8), temperature: Some(0.0), ..Sampling::default() },
    }
}

fn hits(h: &Hits, mode: &str) -> u32 {
    h.lock().unwrap().get(mode).copied().unwrap_or(0)
}

fn deltas(events: &[StreamEvent]) -> Vec<(&str, Instant)> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Delta { text, at } => Some((text.as_str(), *at)),
            StreamEvent::End(_) => None,
        })
        .collect()
}

#[test]
fn a_normal_stream_yields_timed_deltas_then_the_end_with_usage() {
    let (base, h) = fake();
    let stream = client(&base, "ok").chat_stream(&chat()).unwrap();
    let sent = stream.sent_at;
    assert_eq!(stream.attempts, 1);
    let events: Vec<StreamEvent> = stream.map(Result::unwrap).collect();
    let d = deltas(&events);
    assert_eq!(d.iter().map(|(t, _)| *t).collect::<String>(), "Hello world");
    assert!(d.iter().all(|(_, at)| *at >= sent));
    let StreamEvent::End(end) = events.last().unwrap() else { panic!("no end: {events:?}") };
    assert_eq!(end.finish_reason.as_deref(), Some("stop"));
    assert_eq!(end.usage.as_ref().map(|u| u.completion_tokens), Some(3));
    assert_eq!(hits(&h, "ok"), 1);

    // The raw-prompt endpoint streams the same way.
    let req = CompletionRequest {
        model: "tiny".into(),
        prompt: "Hel".into(),
        sampling: Sampling::default(),
    };
    let (text, end) = client(&base, "ok").completion_stream(&req).unwrap().collect_text().unwrap();
    assert_eq!((text.as_str(), end.finish_reason.as_deref()), ("Hello world", Some("stop")));
}

#[test]
fn a_slow_stream_shows_its_gaps_at_the_client() {
    let (base, _) = fake();
    let events: Vec<_> =
        client(&base, "slow").chat_stream(&chat()).unwrap().map(Result::unwrap).collect();
    let d = deltas(&events);
    assert_eq!(d.len(), 3);
    for w in d.windows(2) {
        let gap = w[1].1 - w[0].1;
        assert!(
            gap >= Duration::from_millis(150),
            "gap {gap:?}: deltas were not stamped as they arrived"
        );
    }
}

#[test]
fn a_500_is_retried_up_to_the_limit_and_carries_the_server_message() {
    let (base, h) = fake();
    let err = client(&base, "fail500").chat_stream(&chat()).unwrap_err();
    assert!(matches!(err, RemoteError::Status { status: 500, .. }), "{err}");
    assert!(err.to_string().contains("model crashed"), "{err}");
    assert!(err.is_retryable() && err.is_backend_failure());
    assert_eq!(hits(&h, "fail500"), 4, "one attempt and three retries");
}

#[test]
fn a_recovering_server_is_retried_until_it_answers() {
    let (base, h) = fake();
    let c = client(&base, "flaky").chat(&chat()).unwrap();
    assert_eq!((c.text.as_str(), c.attempts), ("OK", 3));
    assert_eq!(c.system_fingerprint.as_deref(), Some("fp-1"));
    assert_eq!(hits(&h, "flaky"), 3);
}

#[test]
fn a_429_with_retry_after_is_waited_for() {
    let (base, h) = fake();
    let start = Instant::now();
    let (text, _) = client(&base, "busy").chat_stream(&chat()).unwrap().collect_text().unwrap();
    assert_eq!(text, "Hello world");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 not honoured: {:?}",
        start.elapsed()
    );
    assert_eq!(hits(&h, "busy"), 2);
}

#[test]
fn a_bad_request_is_not_retried_and_is_told_apart_from_a_backend_failure() {
    let (base, h) = fake();
    let err = client(&base, "bad").chat(&chat()).unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.is_bad_request() && !err.is_retryable(), "{err}");
    assert!(err.to_string().contains("messages must not be empty"), "{err}");
    assert_eq!(hits(&h, "bad"), 1);
}

#[test]
fn a_server_that_never_answers_hits_the_deadline_once() {
    let (base, h) = fake();
    let cfg = ClientConfig { deadline: Duration::from_secs(1), ..config() };
    let c = RemoteClient::new(&format!("{base}/stall/v1"), None, cfg).unwrap();
    let start = Instant::now();
    let err = c.chat_stream(&chat()).unwrap_err();
    assert!(matches!(err, RemoteError::Deadline { .. }), "{err}");
    assert!(err.is_backend_failure() && !err.is_retryable());
    assert!(start.elapsed() >= Duration::from_secs(1) && start.elapsed() < Duration::from_secs(30));
    assert_eq!(hits(&h, "stall"), 1);
}

#[test]
fn a_stream_that_goes_silent_is_cut_not_truncated() {
    let (base, _) = fake();
    let mut s = client(&base, "stallmid").chat_stream(&chat()).unwrap();
    assert!(matches!(s.next(), Some(Ok(StreamEvent::Delta { .. }))));
    let err = s.next().unwrap().unwrap_err();
    assert!(matches!(err, RemoteError::StreamCut { received: 1, .. }), "{err}");
    assert!(err.to_string().contains("no data for 0.5s"), "{err}");
    assert!(s.next().is_none());
}

#[test]
fn a_stream_dropped_half_way_is_an_error_that_says_so() {
    let (base, h) = fake();
    let err = client(&base, "drop").chat_stream(&chat()).unwrap().collect_text().unwrap_err();
    assert!(matches!(err, RemoteError::StreamCut { received: 2, .. }), "{err}");
    assert!(err.to_string().contains("cut off after 2 text deltas"), "{err}");
    assert!(!err.is_retryable() && err.is_backend_failure());
    assert_eq!(hits(&h, "drop"), 1, "bytes had arrived: no retry");
}

#[test]
fn a_refused_connection_is_unreachable_after_the_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let c = RemoteClient::new(&format!("http://127.0.0.1:{port}"), None, config()).unwrap();
    assert_eq!(c.endpoint(), format!("http://127.0.0.1:{port}/v1"));
    let err = c.list_models().unwrap_err();
    assert!(matches!(err, RemoteError::Unreachable { .. }) && err.is_retryable(), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

#[test]
fn the_key_is_read_from_the_named_variable_at_call_time() {
    let (base, h) = fake();
    let ok = RemoteClient::new(&format!("{base}/key/v1"), Some("HOME"), config()).unwrap();
    assert_eq!(ok.chat(&chat()).unwrap().text, "OK");
    let missing = "REMOTE_TEST_KEY_THAT_IS_NOT_SET";
    let c = RemoteClient::new(&format!("{base}/key/v1"), Some(missing), config()).unwrap();
    let err = c.chat(&chat()).unwrap_err();
    assert_eq!(err, RemoteError::MissingKey { var: missing.into() });
    assert!(err.to_string().contains(missing));
    assert_eq!(hits(&h, "key"), 1, "nothing is sent without the key");
    let unauthorised =
        RemoteClient::new(&format!("{base}/key/v1"), Some("PATH"), config()).unwrap();
    let err = unauthorised.chat(&chat()).unwrap_err();
    assert!(err.status() == Some(401) && err.is_backend_failure() && !err.is_retryable(), "{err}");
}

#[test]
fn verify_checks_the_listing_and_one_answer() {
    let (base, _) = fake();
    let v = client(&base, "ok").verify("tiny").unwrap();
    assert_eq!(v.listed.id, "tiny");
    assert_eq!(v.version.as_deref(), Some("fp-1"));
    assert_eq!(v.reply.text, "OK");
    let err = client(&base, "ok").verify("missing").unwrap_err();
    assert!(err.to_string().contains("does not serve model `missing`"), "{err}");
    assert!(err.to_string().contains("`tiny`, `other`"), "{err}");
}

#[test]
fn the_client_works_from_tokio_s_blocking_pool() {
    let (base, _) = fake();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let text = rt.block_on(async move {
        tokio::task::spawn_blocking(move || {
            let c = client(&base, "ok");
            let (text, _) = c.chat_stream(&chat()).unwrap().collect_text().unwrap();
            drop(c);
            text
        })
        .await
        .unwrap()
    });
    assert_eq!(text, "Hello world");
}

#[test]
fn a_prompt_scored_by_the_server_gives_the_continuation_s_log_likelihood() {
    use noa_infer::{EngineError, LoglikelihoodRequest, ModelBackend};
    let (base, _) = fake();
    let backend = |mode: &str| noa_remote::RemoteBackend::new(client(&base, mode), "tiny", 2);
    let requests = vec![
        LoglikelihoodRequest::new("abcdef", "ghi"),
        LoglikelihoodRequest::new("abc", "defghi"),
        LoglikelihoodRequest::new("abc", "def"),
    ];
    let out = backend("score").loglikelihood_batch(requests.clone());
    let got: Vec<(f64, u32, bool)> = out
        .iter()
        .map(|r| r.as_ref().map(|l| (l.logprob, l.tokens, l.is_greedy)).unwrap())
        .collect();
    // "ghi" was not the likeliest token; the others were.
    assert_eq!(got, vec![(-0.5, 1, false), (-1.0, 2, false), (-0.5, 1, true)]);

    // Per token, for `noa serve` in front of this server: the whole text, first token
    // unscored.
    let mut whole = LoglikelihoodRequest::new("", "abcdefghi");
    whole.per_token = true;
    let scored = backend("score").loglikelihood_batch(vec![whole]).remove(0).unwrap();
    let texts: Vec<&str> = scored.per_token.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(texts, ["abc", "def", "ghi"]);
    assert_eq!(scored.per_token[0].logprob, None);
    assert_eq!(scored.per_token[2].top_text, "X");

    // A server that answers without `logprobs`, or refuses the request: not offered,
    // so the bench says "not measured" with the reason; a failing server is a failure.
    for mode in ["ok", "bad"] {
        match backend(mode).loglikelihood_batch(requests[..1].to_vec()).remove(0) {
            Err(EngineError::Unsupported(why)) => assert!(why.contains("echo"), "{why}"),
            other => panic!("{mode}: {other:?}"),
        }
    }
    match backend("fail500").loglikelihood_batch(requests[..1].to_vec()).remove(0) {
        Err(EngineError::Unavailable(why)) => assert!(why.contains("model crashed"), "{why}"),
        other => panic!("fail500: {other:?}"),
    }
}
