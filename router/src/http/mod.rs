//! The HTTP service: `pub fn app(state) -> axum::Router` so tests drive it with
//! `oneshot` and a fake backend, and [`serve`] to run it on a listener until a
//! shutdown signal, then snapshot the router's state.
//!
//! Routes: `POST /v1/route`, `POST /v1/feedback`, `GET /v1/models`,
//! `POST /v1/chat/completions` and `POST /v1/completions` (OpenAI-compatible, streaming
//! over SSE; text completions also score a prompt's tokens), `GET /metrics`,
//! `GET /healthz`. Every error, including unknown routes, wrong methods, bodies over
//! the limit and timeouts, is OpenAI-shaped JSON; every response names its request in
//! `x-request-id`.

mod chat;
pub mod error;
mod handlers;
pub mod metrics;
pub mod openai;
pub mod request_id;
mod text;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use noa_registry::UseCase;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiJson};
pub use metrics::Metrics;

use crate::backend::Backends;
use crate::router::Router;

/// Limits and defaults of the service.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Largest accepted request body, bytes.
    pub body_limit: usize,
    /// Longest a request may take before a 504.
    pub request_timeout: Duration,
    /// Use case of an `auto` chat completion that names none.
    pub default_use_case: UseCase,
    /// How long `auto` requests avoid a model whose engine crashed or would not load.
    pub cooldown: Duration,
    /// Other candidates an `auto` request may try when its chosen model cannot start.
    pub max_fallbacks: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            body_limit: 2 << 20,
            request_timeout: Duration::from_secs(300),
            default_use_case: UseCase::General,
            cooldown: Duration::from_secs(30),
            max_fallbacks: 2,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub router: Arc<Router>,
    pub backend: Arc<dyn Backends>,
    pub metrics: Arc<Metrics>,
    pub options: HttpOptions,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("options", &self.options).finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(router: Arc<Router>, backend: Arc<dyn Backends>, options: HttpOptions) -> Self {
        let metrics = Arc::new(Metrics::new(router.table()));
        Self { router, backend, metrics, options }
    }
}

/// The service's routes.
pub fn app(state: AppState) -> axum::Router {
    let limit = state.options.body_limit;
    axum::Router::new()
        .route("/v1/route", post(handlers::route))
        .route("/v1/feedback", post(handlers::feedback))
        .route("/v1/models", get(handlers::models))
        .route("/v1/chat/completions", post(chat::completions))
        .route("/v1/completions", post(text::completions))
        .route("/metrics", get(handlers::metrics))
        .route("/healthz", get(handlers::healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), timeout))
        .layer(axum::middleware::from_fn(request_id::assign))
        .layer(DefaultBodyLimit::max(limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "unknown_url",
        format!("unknown route `{} {}`", req.method(), req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_allowed",
        format!("method `{}` is not allowed on `{}`", req.method(), req.uri().path()),
    )
}

/// Per-request deadline: past it the client gets a 504 and the work is abandoned.
async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.options.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout_error",
            "timeout",
            format!("request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// Run `f` on the blocking pool (inference blocks, feedback fsyncs); a panic there is
/// a 500 whose cause is logged, not sent.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal("internal", e.to_string()))
}

/// Serve `app(state)` on `listener` until `shutdown` resolves, then write a snapshot
/// of the router's learned state.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = state.router.clone();
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await?;
    tokio::task::spawn_blocking(move || router.snapshot())
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)
}
