//! `POST /v1/chat/completions`: `"model": "auto"` asks the router (requirements from
//! the `noa` body field or `x-noa-*` headers), any other model id pins that model.
//! Inference runs on the blocking pool; streamed tokens cross from the engine's
//! channel to the SSE response through a bounded async channel. The latency the
//! server measured is fed back to the router as the decision's latency observation.
//! The text completions of `POST /v1/completions` (`text.rs`) go through the same
//! routing, fallback and streaming, shaped as [`Shape::Text`].

use std::collections::VecDeque;
use std::convert::Infallible;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::openai::{ChatCompletionRequest, Content, NoaOptions};
use super::{ApiError, ApiJson, AppState, blocking, request_id};
use crate::backend::{
    BackendError, ChatMessage, EngineError, EventStream, GenerateRequest, Generation,
    LoglikelihoodRequest, Prompt, StreamEvent,
};
use crate::requirements::TaskRequirements;

const DEFAULT_MAX_TOKENS: u32 = 256;

/// The model a request goes to and the decision behind it (none when pinned).
pub(super) struct Target {
    model: String,
    decision_id: Option<String>,
    /// What an `auto` request asked the router for (to choose again on a fallback).
    requirements: Option<TaskRequirements>,
}

/// Which OpenAI response format an answer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// `chat.completion` (`/v1/chat/completions`).
    Chat,
    /// `text_completion` (`/v1/completions`).
    Text,
}

/// What a request asks of the model it goes to.
#[derive(Debug, Clone)]
pub(super) enum Work {
    Generate {
        request: GenerateRequest,
        stream: bool,
        include_usage: bool,
        shape: Shape,
        /// Text to put before the generated text (`echo` of a text completion).
        echo: Option<String>,
    },
    /// Score every token of a text (`/v1/completions` with `echo` and `max_tokens` 0),
    /// with their log-probabilities when `logprobs`.
    Score { prompt: String, logprobs: bool },
}

pub async fn completions(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    if body.messages.is_empty() {
        return Err(
            ApiError::invalid("invalid_value", "`messages` must not be empty").param("messages")
        );
    }
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("invalid_value", "only `n` = 1 is supported").param("n"));
    }
    let messages = messages(&body)?;
    let max_tokens = body.max_completion_tokens.or(body.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS);
    let request = generate_request(
        Prompt::Chat(messages),
        max_tokens,
        body.temperature,
        body.seed,
        body.stop.map(|s| s.into_vec()).unwrap_or_default(),
    );
    let target = target(&s, &headers, &body.model, body.noa, &request)?;
    let work = Work::Generate {
        request,
        stream: body.stream.unwrap_or(false),
        include_usage: body.stream_options.is_some_and(|o| o.include_usage),
        shape: Shape::Chat,
        echo: None,
    };
    answer(&s, target, work).await
}

/// A generation request as the OpenAI fields give it (temperature 0 and seed 0 unless
/// set).
pub(super) fn generate_request(
    prompt: Prompt,
    max_tokens: u32,
    temperature: Option<f32>,
    seed: Option<i64>,
    stop: Vec<String>,
) -> GenerateRequest {
    GenerateRequest {
        prompt,
        max_tokens,
        temperature: temperature.unwrap_or(0.0).max(0.0),
        seed: seed.unwrap_or(0) as u32,
        stop,
        constraint: None,
        deadline: None,
        shared_prefix: None,
        stop_after_json: false,
    }
}

/// Do `work` on `target`'s model and answer with the routing headers. An `auto`
/// request whose chosen model cannot be started (it would not load, its worker would
/// not come up, its server is down) goes to the next candidate, at most
/// `max_fallbacks` times; each hop is named in `x-noa-fallbacks`.
pub(super) async fn answer(
    s: &AppState,
    mut target: Target,
    work: Work,
) -> Result<Response, ApiError> {
    let mut hops: Vec<String> = Vec::new();
    let mut resp = loop {
        let attempt = match &work {
            Work::Generate { request, stream: true, include_usage, shape, .. } => {
                stream_response(s, &target, request.clone(), *include_usage, *shape).await
            }
            Work::Generate { request, shape, echo, .. } => {
                complete_response(s, &target, request.clone(), *shape, echo.as_deref()).await
            }
            Work::Score { prompt, logprobs } => {
                score_response(s, &target, prompt.clone(), *logprobs).await
            }
        };
        match attempt {
            Ok(r) => break r,
            Err(e) if e.model_unavailable && hops.len() < s.options.max_fallbacks => {
                let Some(mut tr) = target.requirements.take() else { return Err(e) };
                hops.push(format!("{}: {}", target.model, e.message));
                tr.deny.push(target.model.clone());
                target = choose(s, tr).map_err(|_| e)?;
            }
            Err(e) => return Err(e),
        }
    };
    let h = resp.headers_mut();
    if !hops.is_empty()
        && let Ok(v) = HeaderValue::from_str(&hops.join("; ").replace(['\r', '\n'], " "))
    {
        h.insert("x-noa-fallbacks", v);
    }
    if let Ok(v) = HeaderValue::from_str(&target.model) {
        h.insert("x-noa-model", v);
    }
    if let Some(id) = target.decision_id.as_deref().and_then(|d| HeaderValue::from_str(d).ok()) {
        h.insert("x-noa-decision-id", id);
    }
    Ok(resp)
}

fn messages(body: &ChatCompletionRequest) -> Result<Vec<ChatMessage>, ApiError> {
    body.messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let content = match &m.content {
                None => String::new(),
                Some(Content::Text(t)) => t.clone(),
                Some(Content::Parts(parts)) => {
                    let mut out = String::new();
                    for p in parts {
                        match (p.kind.as_str(), &p.text) {
                            ("text", Some(t)) => out.push_str(t),
                            (kind, _) => {
                                return Err(ApiError::invalid(
                                    "unsupported_content",
                                    format!(
                                        "content part type `{kind}` is not supported (text only)"
                                    ),
                                )
                                .param(format!("messages[{i}].content")));
                            }
                        }
                    }
                    out
                }
            };
            Ok(ChatMessage { role: m.role.clone(), content })
        })
        .collect()
}

/// Route (`auto`) or pin (a model id).
pub(super) fn target(
    s: &AppState,
    headers: &HeaderMap,
    model: &str,
    noa: Option<NoaOptions>,
    req: &GenerateRequest,
) -> Result<Target, ApiError> {
    if model != "auto" {
        if s.router.table().index_of(model).is_none() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!(
                    "model `{model}` does not exist here; use `auto` or one of `GET /v1/models`"
                ),
            )
            .param("model"));
        }
        return Ok(Target { model: model.to_owned(), decision_id: None, requirements: None });
    }
    let mut opts = noa.unwrap_or_default();
    apply_headers(headers, &mut opts)?;
    let mut tr = TaskRequirements::new(opts.use_case.unwrap_or(s.options.default_use_case));
    tr.privacy = opts.privacy;
    tr.min_quality = opts.min_quality;
    tr.max_latency_ms = opts.max_latency_ms;
    tr.allow = opts.allow;
    tr.deny = opts.deny;
    tr.policy = opts.policy;
    tr.features = opts.features;
    // Roughly four characters per token; the router only needs the order of magnitude.
    let chars: usize = match &req.prompt {
        Prompt::Chat(messages) => messages.iter().map(|m| m.content.len() + m.role.len() + 4).sum(),
        Prompt::Raw(text) => text.len(),
    };
    tr.prompt_tokens = Some((chars / 4).max(1) as u32);
    tr.output_tokens = Some(req.max_tokens);
    choose(s, tr)
}

/// Ask the router.
fn choose(s: &AppState, tr: TaskRequirements) -> Result<Target, ApiError> {
    match s.router.select(&tr) {
        Ok(d) => {
            s.metrics.decision(&d.model, d.policy);
            Ok(Target {
                model: d.model.to_string(),
                decision_id: Some(d.decision_id),
                requirements: Some(tr),
            })
        }
        Err(e) => {
            s.metrics.route_error();
            Err(e.into())
        }
    }
}

/// Requirements from `x-noa-*` headers override the body's.
fn apply_headers(h: &HeaderMap, o: &mut NoaOptions) -> Result<(), ApiError> {
    fn get<'a>(h: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
        h.get(name)
            .map(|v| {
                v.to_str().map_err(|_| {
                    ApiError::invalid("invalid_header", format!("header `{name}` is not text"))
                        .param(name)
                })
            })
            .transpose()
    }
    fn parse<T: FromStr>(h: &HeaderMap, name: &str) -> Result<Option<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        get(h, name)?
            .map(|v| {
                v.trim().parse::<T>().map_err(|e| {
                    ApiError::invalid("invalid_header", format!("header `{name}`: `{v}`: {e}"))
                        .param(name)
                })
            })
            .transpose()
    }
    let list = |v: &str| {
        v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect::<Vec<_>>()
    };
    if let Some(u) = parse(h, "x-noa-use-case")? {
        o.use_case = Some(u);
    }
    if let Some(p) = get(h, "x-noa-privacy")? {
        o.privacy = Some(serde_json::from_value(json!(p.trim())).map_err(|_| {
            ApiError::invalid(
                "invalid_header",
                format!("header `x-noa-privacy`: `{p}` is not one of local, private, cloud"),
            )
            .param("x-noa-privacy")
        })?);
    }
    if let Some(q) = parse(h, "x-noa-min-quality")? {
        o.min_quality = Some(q);
    }
    if let Some(l) = parse(h, "x-noa-max-latency-ms")? {
        o.max_latency_ms = Some(l);
    }
    if let Some(p) = parse(h, "x-noa-policy")? {
        o.policy = Some(p);
    }
    if let Some(a) = get(h, "x-noa-allow")? {
        o.allow = list(a);
    }
    if let Some(d) = get(h, "x-noa-deny")? {
        o.deny = list(d);
    }
    Ok(())
}

fn created() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn completion_id(target: &Target, shape: Shape) -> String {
    let prefix = match shape {
        Shape::Chat => "chatcmpl",
        Shape::Text => "cmpl",
    };
    match &target.decision_id {
        Some(d) => format!("{prefix}-{d}"),
        None => format!("{prefix}-{:016x}", rand::random::<u64>()),
    }
}

impl Target {
    /// The model and decision without the requirements: what the latency feedback
    /// needs once the response is under way.
    fn detached(&self) -> Target {
        Target {
            model: self.model.clone(),
            decision_id: self.decision_id.clone(),
            requirements: None,
        }
    }
}

/// A backend failure as the client sees it; an engine at fault (crashed, would not
/// load) is cooled down so `auto` requests go elsewhere meanwhile.
fn backend_failed(s: &AppState, model: &str, e: BackendError) -> ApiError {
    if e.is_engine_failure() {
        s.metrics.engine_failure(model);
        s.router.cool_down(model, s.options.cooldown, e.to_string());
        tracing::warn!(model, error = %e, "engine failed; cooling the model down");
    }
    e.into()
}

/// Feed the measured latency back and count it (on the blocking pool: it fsyncs).
fn record_latency(s: &AppState, target: &Target, ms: f64) {
    s.metrics.completion(&target.model);
    s.metrics.latency(&target.model, ms);
    if let Some(id) = &target.decision_id
        && let Err(e) = s.router.observe_latency(id, ms)
    {
        tracing::warn!(decision = %id, error = %e, "latency not recorded");
    }
}

fn usage(out: &Generation) -> serde_json::Value {
    json!({
        "prompt_tokens": out.prompt_tokens,
        "completion_tokens": out.gen_tokens,
        "total_tokens": out.prompt_tokens + out.gen_tokens,
    })
}

async fn complete_response(
    s: &AppState,
    target: &Target,
    req: GenerateRequest,
    shape: Shape,
    echo: Option<&str>,
) -> Result<Response, ApiError> {
    let backend = s.backend.clone();
    let model = target.model.clone();
    let start = Instant::now();
    let out: Generation = blocking(move || {
        backend.model(&model)?.generate(req).map_err(|e| BackendError::engine(&model, e))
    })
    .await?
    .map_err(|e| backend_failed(s, &target.model, e))?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let (s2, t2) = (s.clone(), target.detached());
    let _ = blocking(move || record_latency(&s2, &t2, ms)).await;
    let finish = out.finish.openai();
    let (object, choice) = match shape {
        Shape::Chat => (
            "chat.completion",
            json!({
                "index": 0,
                "message": {"role": "assistant", "content": out.text},
                "finish_reason": finish,
                "logprobs": null,
            }),
        ),
        Shape::Text => (
            "text_completion",
            json!({
                "index": 0,
                "text": format!("{}{}", echo.unwrap_or_default(), out.text),
                "finish_reason": finish,
                "logprobs": null,
            }),
        ),
    };
    let body = json!({
        "id": completion_id(target, shape),
        "object": object,
        "created": created(),
        "model": target.model,
        "choices": [choice],
        "usage": usage(&out),
        "noa": {"decision_id": target.decision_id, "latency_ms": ms},
    });
    Ok(axum::Json(body).into_response())
}

/// Score every token of `prompt` and answer as a text completion that echoes it:
/// `logprobs` holds `tokens`, `token_logprobs` (null for a first token nothing
/// predicts), `top_logprobs` (the most likely token at each position: top 1 only,
/// whatever `logprobs` asked) and `text_offset` (characters).
async fn score_response(
    s: &AppState,
    target: &Target,
    prompt: String,
    logprobs: bool,
) -> Result<Response, ApiError> {
    let backend = s.backend.clone();
    let model = target.model.clone();
    let start = Instant::now();
    let mut request = LoglikelihoodRequest::new("", prompt.clone());
    request.per_token = true;
    let scored = blocking(move || {
        let out = backend.model(&model)?.loglikelihood_batch(vec![request]).pop();
        out.unwrap_or(Err(EngineError::WorkerGone)).map_err(|e| BackendError::engine(&model, e))
    })
    .await?
    .map_err(|e| backend_failed(s, &target.model, e))?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let (s2, t2) = (s.clone(), target.detached());
    let _ = blocking(move || record_latency(&s2, &t2, ms)).await;
    let tokens = &scored.per_token;
    let lp = if logprobs {
        let mut offset = 0;
        let mut text_offset = Vec::with_capacity(tokens.len());
        for t in tokens {
            text_offset.push(offset);
            offset += t.text.chars().count();
        }
        let top = |t: &noa_infer::TokenLogprob| {
            t.top_logprob.map(|lp| {
                let mut m = serde_json::Map::new();
                m.insert(t.top_text.clone(), json!(lp));
                serde_json::Value::Object(m)
            })
        };
        json!({
            "tokens": tokens.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
            "token_logprobs": tokens.iter().map(|t| t.logprob).collect::<Vec<_>>(),
            "top_logprobs": tokens.iter().map(top).collect::<Vec<_>>(),
            "text_offset": text_offset,
        })
    } else {
        serde_json::Value::Null
    };
    let n = tokens.len();
    let body = json!({
        "id": completion_id(target, Shape::Text),
        "object": "text_completion",
        "created": created(),
        "model": target.model,
        "choices": [{"index": 0, "text": prompt, "finish_reason": "length", "logprobs": lp}],
        "usage": {"prompt_tokens": n, "completion_tokens": 0, "total_tokens": n},
        "noa": {"decision_id": target.decision_id, "latency_ms": ms},
    });
    Ok(axum::Json(body).into_response())
}

/// Start the backend's stream, relay it off the blocking pool, and answer it as SSE.
async fn stream_response(
    s: &AppState,
    target: &Target,
    req: GenerateRequest,
    include_usage: bool,
    shape: Shape,
) -> Result<Response, ApiError> {
    let backend = s.backend.clone();
    let model = target.model.clone();
    let start = Instant::now();
    let rx = blocking(move || {
        backend.model(&model)?.generate_stream(req).map_err(|e| BackendError::engine(&model, e))
    })
    .await?
    .map_err(|e| backend_failed(s, &target.model, e))?;
    let events = relay(s, target, rx, start);
    let chunks = Arc::new(Chunker {
        id: completion_id(target, shape),
        created: created(),
        model: target.model.clone(),
        shape,
    });
    Ok(Sse::new(sse(events, chunks, include_usage, request_id::current())).into_response())
}

/// Move the engine's events to an async channel on the blocking pool, recording the
/// latency when generation is done and cooling the model down if its engine crashed.
fn relay(
    s: &AppState,
    target: &Target,
    rx: EventStream,
    start: Instant,
) -> tokio::sync::mpsc::Receiver<StreamEvent> {
    let (tx, arx) = tokio::sync::mpsc::channel::<StreamEvent>(64);
    let (s2, t2) = (s.clone(), target.detached());
    tokio::task::spawn_blocking(move || {
        for ev in rx {
            let last = !matches!(ev, StreamEvent::Token(_));
            if matches!(ev, StreamEvent::Done(_)) {
                record_latency(&s2, &t2, start.elapsed().as_secs_f64() * 1000.0);
            }
            if let StreamEvent::Failed(e) = &ev {
                drop(backend_failed(&s2, &t2.model, BackendError::engine(&t2.model, e.clone())));
            }
            if tx.blocking_send(ev).is_err() || last {
                break;
            }
        }
    });
    arx
}

/// What every chunk of one streamed completion repeats.
struct Chunker {
    id: String,
    created: u64,
    model: String,
    shape: Shape,
}

impl Chunker {
    /// A chunk carrying `text` (none: an empty one) and the finish reason, if any.
    fn chunk(&self, text: Option<&str>, finish: Option<&str>) -> serde_json::Value {
        let (object, choice) = match self.shape {
            Shape::Chat => {
                let delta = text.map_or_else(|| json!({}), |t| json!({"content": t}));
                (
                    "chat.completion.chunk",
                    json!({"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}),
                )
            }
            Shape::Text => (
                "text_completion",
                json!({
                    "index": 0, "text": text.unwrap_or_default(), "finish_reason": finish,
                    "logprobs": null,
                }),
            ),
        };
        json!({
            "id": self.id, "object": object, "created": self.created, "model": self.model,
            "choices": [choice],
        })
    }

    /// What goes before the first token: a chat stream names the role first.
    fn opening(&self) -> Option<String> {
        let role = json!({"index": 0, "delta": {"role": "assistant", "content": ""},
            "finish_reason": null, "logprobs": null});
        (self.shape == Shape::Chat).then(|| {
            json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [role],
            })
            .to_string()
        })
    }
}

/// The SSE stream: the opening chunk, if any, then the payloads of each event.
fn sse(
    events: tokio::sync::mpsc::Receiver<StreamEvent>,
    chunks: Arc<Chunker>,
    include_usage: bool,
    request_id: String,
) -> impl futures_util::Stream<Item = Result<Event, Infallible>> {
    let state = (events, chunks.opening().into_iter().collect::<VecDeque<_>>(), false);
    futures_util::stream::unfold(state, move |(mut rx, mut queue, mut finished)| {
        let (chunks, request_id) = (chunks.clone(), request_id.clone());
        async move {
            if queue.is_empty() && !finished {
                let ev = rx.recv().await;
                finished = payloads(ev, &chunks, include_usage, &request_id, &mut queue);
            }
            let data = queue.pop_front()?;
            Some((Ok::<_, Infallible>(Event::default().data(data)), (rx, queue, finished)))
        }
    })
}

/// Queue the SSE `data:` payloads of one engine event (`None`: the engine went away);
/// true when the stream ends with them.
fn payloads(
    ev: Option<StreamEvent>,
    chunks: &Chunker,
    include_usage: bool,
    request_id: &str,
    queue: &mut VecDeque<String>,
) -> bool {
    let err = match ev {
        Some(StreamEvent::Token(t)) => {
            queue.push_back(chunks.chunk(Some(&t), None).to_string());
            return false;
        }
        Some(StreamEvent::Done(out)) => {
            queue.push_back(chunks.chunk(None, Some(out.finish.openai())).to_string());
            if include_usage {
                let mut u = chunks.chunk(None, None);
                u["choices"] = json!([]);
                u["usage"] = usage(&out);
                queue.push_back(u.to_string());
            }
            queue.push_back("[DONE]".to_owned());
            return true;
        }
        Some(StreamEvent::Failed(e)) => ApiError::from(BackendError::engine(&chunks.model, e)),
        None => ApiError::internal("inference_failed", "generation ended without a result"),
    };
    queue.push_back(err.body(request_id).to_string());
    queue.push_back("[DONE]".to_owned());
    true
}
