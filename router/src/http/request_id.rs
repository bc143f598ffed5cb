//! A request id on every request: in a tracing span around the handler, in the
//! `x-request-id` response header, and in the body of a 500. The client quotes it;
//! the operator finds the logged cause under it. That is how a 500 can say nothing
//! about our internals and still be traced.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

/// The header that carries the id both ways.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    /// The id of the request whose handler is running on this task.
    static CURRENT: String;
}

/// The id of the request being handled, when called from inside its handler (where
/// error responses are built); a fresh one elsewhere, so an error is never without.
pub fn current() -> String {
    CURRENT.try_with(Clone::clone).unwrap_or_else(|_| fresh())
}

fn fresh() -> String {
    format!("req_{:016x}", rand::random::<u64>())
}

/// An id from a proxy in front of us is kept if it is short and plain (it goes into
/// logs and headers), so one id follows the request end to end.
fn from_client(req: &Request) -> Option<String> {
    let v = req.headers().get(HEADER)?.to_str().ok()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    (!v.is_empty() && v.len() <= 64 && v.chars().all(plain)).then(|| v.to_owned())
}

/// Middleware: assign the id, run the request in a span that names it, echo it back.
pub async fn assign(req: Request, next: Next) -> Response {
    let id = from_client(&req).unwrap_or_else(fresh);
    let span = tracing::info_span!("request", request_id = %id);
    let mut resp = CURRENT.scope(id.clone(), next.run(req).instrument(span)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    resp
}
