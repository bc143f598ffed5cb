//! [`RemoteClient`]: one OpenAI-compatible endpoint, its API key variable and its time
//! limits, with the calls noa makes. Every call goes through [`RemoteClient::send`],
//! which holds the retry policy: connection errors, 429 and 5xx are retried (waiting
//! what `Retry-After` asks, else backing off) until the answer's status line arrives;
//! after that nothing is retried, because part of the answer may have been used.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use noa_registry::RemoteModel;
use noa_registry::remote::normalize_endpoint;
use serde_json::Value;

use crate::config::ClientConfig;
use crate::error::RemoteError;
use crate::retry;
use crate::sse::SseParser;
use crate::stream::{EndState, StreamEvent, TextStream, truncate};
use crate::wire::{
    self, ChatRequest, Completion, CompletionRequest, Kind, Message, Sampling, ServedModel,
};

/// The tokio runtime a client's connections live on; shut down without waiting when
/// the last client (or stream) using it is dropped, so dropping one never blocks.
pub(crate) struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    pub(crate) fn handle(&self) -> tokio::runtime::Handle {
        match &self.0 {
            Some(rt) => rt.handle().clone(),
            // `0` is only `None` inside `drop`.
            None => tokio::runtime::Handle::current(),
        }
    }

    /// Block on `fut` for at most `wait` (the timer is made inside the runtime, which
    /// it needs).
    pub(crate) fn within<F: std::future::Future>(
        &self,
        wait: Duration,
        fut: F,
    ) -> Result<F::Output, tokio::time::error::Elapsed> {
        self.handle().block_on(async move { tokio::time::timeout(wait, fut).await })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// A blocking client for one OpenAI-compatible endpoint. Cheap to clone (clones share
/// connections); safe to use from many threads at once.
#[derive(Clone)]
pub struct RemoteClient {
    http: reqwest::Client,
    rt: Arc<Runtime>,
    endpoint: String,
    api_key_env: Option<String>,
    config: ClientConfig,
}

impl std::fmt::Debug for RemoteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteClient")
            .field("endpoint", &self.endpoint)
            .field("api_key_env", &self.api_key_env)
            .finish()
    }
}

/// What [`RemoteClient::verify`] learnt.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    /// The model's entry in `GET /models`.
    pub listed: ServedModel,
    /// The tiny completion's answer.
    pub reply: Completion,
    /// A version or digest, if the server reports one: the completion's
    /// `system_fingerprint`, else the listing's `digest` or `version`.
    pub version: Option<String>,
}

impl RemoteClient {
    /// A client for `endpoint` (with or without `/v1`; see
    /// [`noa_registry::remote::normalize_endpoint`]), sending the key held in the
    /// variable `api_key_env` when one is named.
    pub fn new(
        endpoint: &str,
        api_key_env: Option<&str>,
        config: ClientConfig,
    ) -> Result<Self, RemoteError> {
        let endpoint = normalize_endpoint(endpoint).map_err(|reason| {
            RemoteError::InvalidEndpoint { endpoint: endpoint.to_owned(), reason }
        })?;
        let unreachable =
            |message: String| RemoteError::Unreachable { url: endpoint.clone(), message };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("noa-remote")
            .enable_all()
            .build()
            .map_err(|e| unreachable(format!("cannot start the client's runtime: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("noa/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| unreachable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            rt: Arc::new(Runtime(Some(rt))),
            endpoint,
            api_key_env: api_key_env.map(str::to_owned),
            config,
        })
    }

    /// A client for a registered remote model.
    pub fn for_model(model: &RemoteModel, config: ClientConfig) -> Result<Self, RemoteError> {
        Self::new(&model.endpoint, model.api_key_env.as_deref(), config)
    }

    /// The canonical endpoint, `/v1` included.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The same client with other limits (connections stay shared).
    pub fn with_config(&self, config: ClientConfig) -> Self {
        Self { config, ..self.clone() }
    }

    /// `GET {endpoint}/models`.
    pub fn list_models(&self) -> Result<Vec<ServedModel>, RemoteError> {
        let (v, url, _, _) = self.json_call(reqwest::Method::GET, "/models", None)?;
        wire::parse_models(&v).map_err(|message| RemoteError::BadResponse { url, message })
    }

    /// One non-streamed chat completion.
    pub fn chat(&self, req: &ChatRequest) -> Result<Completion, RemoteError> {
        self.whole(Kind::Chat, req.body(false))
    }

    /// One non-streamed text completion.
    pub fn completion(&self, req: &CompletionRequest) -> Result<Completion, RemoteError> {
        self.whole(Kind::Text, req.body(false))
    }

    /// Score every token of `prompt` (`/completions` with `echo`, `logprobs` and
    /// `max_tokens` 0). A server that does not score prompts answers with an error
    /// or without `logprobs`: both are errors here.
    pub fn score(&self, model: &str, prompt: &str) -> Result<wire::PromptScores, RemoteError> {
        let body = wire::score_body(model, prompt);
        let (v, url, _, _) =
            self.json_call(reqwest::Method::POST, Kind::Text.path(), Some(body))?;
        wire::parse_scores(&v).map_err(|message| RemoteError::BadResponse { url, message })
    }

    /// A streamed chat completion; returns once the answer's status line arrived.
    pub fn chat_stream(&self, req: &ChatRequest) -> Result<TextStream, RemoteError> {
        self.stream(Kind::Chat, req.body(true))
    }

    /// A streamed text completion (`/completions`, for base models).
    pub fn completion_stream(&self, req: &CompletionRequest) -> Result<TextStream, RemoteError> {
        self.stream(Kind::Text, req.body(true))
    }

    /// Does `model` answer here: listed by `GET /models`, and one tiny chat completion
    /// (temperature 0, a few tokens) succeeds.
    pub fn verify(&self, model: &str) -> Result<Verification, RemoteError> {
        let models = self.list_models()?;
        let Some(listed) = models.iter().find(|m| m.id == model).cloned() else {
            let mut served: Vec<_> =
                models.iter().take(20).map(|m| format!("`{}`", m.id)).collect();
            if models.len() > 20 {
                served.push(format!("and {} more", models.len() - 20));
            }
            let served = if served.is_empty() { "nothing".to_owned() } else { served.join(", ") };
            return Err(RemoteError::ModelNotServed {
                endpoint: self.endpoint.clone(),
                model: model.to_owned(),
                served,
            });
        };
        let reply = self.chat(&ChatRequest {
            model: model.to_owned(),
            messages: vec![Message::user("Reply with the single word OK.")],
            sampling: Sampling {
                max_tokens: Some(4),
                temperature: Some(0.0),
                seed: Some(0),
                stop: Vec::new(),
            },
        })?;
        let version =
            reply.system_fingerprint.clone().filter(|s| !s.is_empty()).or_else(|| listed.version());
        Ok(Verification { listed, reply, version })
    }

    fn whole(&self, kind: Kind, body: Value) -> Result<Completion, RemoteError> {
        let sent_at = Instant::now();
        let (v, url, attempts, received_at) =
            self.json_call(reqwest::Method::POST, kind.path(), Some(body))?;
        let p = wire::parse_piece(kind, true, &v)
            .map_err(|message| RemoteError::BadResponse { url, message })?;
        Ok(Completion {
            text: p.text.unwrap_or_default(),
            finish_reason: p.finish_reason,
            usage: p.usage,
            model: p.model,
            system_fingerprint: p.system_fingerprint,
            sent_at,
            received_at,
            attempts,
        })
    }

    /// A request whose whole answer is one JSON document: (document, url, attempts,
    /// when it was read).
    fn json_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(Value, String, u32, Instant), RemoteError> {
        let deadline = Instant::now() + self.config.deadline;
        let url = format!("{}{path}", self.endpoint);
        let (resp, attempts) =
            self.rt.handle().block_on(self.send(method, &url, body.as_ref(), deadline))?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let bytes = match self.rt.within(remaining, resp.bytes()) {
            Err(_) => return Err(self.deadline_error(&url)),
            Ok(Err(e)) => {
                return Err(RemoteError::StreamCut { url, received: 0, message: describe(&e) });
            }
            Ok(Ok(b)) => b,
        };
        let v = serde_json::from_slice(&bytes).map_err(|e| RemoteError::BadResponse {
            url: url.clone(),
            message: format!(
                "not JSON ({e}): `{}`",
                truncate(&String::from_utf8_lossy(&bytes), 200)
            ),
        })?;
        Ok((v, url, attempts, Instant::now()))
    }

    fn stream(&self, kind: Kind, body: Value) -> Result<TextStream, RemoteError> {
        let sent_at = Instant::now();
        let deadline = sent_at + self.config.deadline;
        let url = format!("{}{}", self.endpoint, kind.path());
        let (response, attempts) = self.rt.handle().block_on(self.send(
            reqwest::Method::POST,
            &url,
            Some(&body),
            deadline,
        ))?;
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let mut stream = TextStream {
            rt: self.rt.clone(),
            response,
            kind,
            url,
            deadline,
            deadline_len: self.config.deadline,
            stall: self.config.stall_timeout,
            parser: SseParser::default(),
            queue: VecDeque::new(),
            state: EndState::default(),
            sent_at,
            attempts,
        };
        if is_json {
            self.unstreamed(&mut stream);
        }
        Ok(stream)
    }

    /// A server that ignored `stream: true` and sent one JSON answer: read it whole and
    /// queue it as one delta and the end.
    fn unstreamed(&self, s: &mut TextStream) {
        s.state.done = true;
        let remaining = s.deadline.saturating_duration_since(Instant::now());
        let read = self.rt.within(remaining, read_all(&mut s.response));
        let at = Instant::now();
        let piece = match read {
            Err(_) => Err(self.deadline_error(&s.url)),
            Ok(Err(message)) => {
                Err(RemoteError::StreamCut { url: s.url.clone(), received: 0, message })
            }
            Ok(Ok(bytes)) => serde_json::from_slice::<Value>(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|v| wire::parse_piece(s.kind, s.kind == Kind::Chat, &v))
                .map_err(|message| RemoteError::BadResponse { url: s.url.clone(), message }),
        };
        match piece {
            Err(e) => s.queue.push_back(Err(e)),
            Ok(p) => {
                if let Some(text) = p.text.filter(|t| !t.is_empty()) {
                    s.queue.push_back(Ok(StreamEvent::Delta { text, at }));
                }
                s.queue.push_back(Ok(StreamEvent::End(crate::stream::StreamEnd {
                    finish_reason: p.finish_reason,
                    usage: p.usage,
                    system_fingerprint: p.system_fingerprint,
                    at,
                })));
            }
        }
    }

    fn deadline_error(&self, url: &str) -> RemoteError {
        RemoteError::Deadline { url: url.to_owned(), deadline: self.config.deadline }
    }

    /// The API key, read from its variable now (so a rotated key is picked up).
    fn api_key(&self) -> Result<Option<String>, RemoteError> {
        let Some(var) = &self.api_key_env else { return Ok(None) };
        match std::env::var(var) {
            Ok(k) if !k.trim().is_empty() => Ok(Some(k.trim().to_owned())),
            _ => Err(RemoteError::MissingKey { var: var.clone() }),
        }
    }

    /// Send until a success status arrives, retrying what may be retried; returns the
    /// response (its body unread) and the attempts made.
    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<(reqwest::Response, u32), RemoteError> {
        let mut attempt = 0u32;
        loop {
            let err = match self.attempt(method.clone(), url, body, deadline).await {
                Ok(resp) => return Ok((resp, attempt + 1)),
                Err(e) => e,
            };
            if !err.is_retryable() || attempt >= self.config.max_retries {
                return Err(err);
            }
            let Some(wait) = retry::delay(&err, attempt, &self.config) else { return Err(err) };
            if Instant::now() + wait >= deadline {
                return Err(err);
            }
            tracing::debug!(url, attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One attempt: a success response, or the error (with the server's message).
    async fn attempt(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<reqwest::Response, RemoteError> {
        let mut rb = self.http.request(method, url);
        if let Some(key) = self.api_key()? {
            rb = rb.bearer_auth(key);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let resp = match tokio::time::timeout(remaining, rb.send()).await {
            Err(_) => return Err(self.deadline_error(url)),
            Ok(Err(e)) => {
                return Err(RemoteError::Unreachable {
                    url: url.to_owned(),
                    message: describe(&e),
                });
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
        // The error body is short; do not let a server that never ends it hold us.
        let wait = deadline.saturating_duration_since(Instant::now()).min(Duration::from_secs(10));
        let text = match tokio::time::timeout(wait, resp.text()).await {
            Ok(Ok(t)) => t,
            _ => String::new(),
        };
        Err(RemoteError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
            message: status_message(status, &text),
            retry_after,
        })
    }
}

/// The server's own words for an error status: the OpenAI error object's message, or
/// the start of the body, or the status's reason.
fn status_message(status: reqwest::StatusCode, body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.get("error")
            .map(wire::error_message)
            .or_else(|| v.get("message").and_then(Value::as_str).map(str::to_owned))
    });
    match from_json {
        Some(m) => m,
        None if !body.trim().is_empty() => truncate(body.trim(), 300).to_owned(),
        None => status.canonical_reason().unwrap_or("no message").to_owned(),
    }
}

async fn read_all(resp: &mut reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A reqwest error with its causes (reqwest's own message alone is often just
/// "error sending request").
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
