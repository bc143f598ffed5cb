//! What can go wrong talking to a remote model, typed so callers can act on it: the
//! client retries what [`RemoteError::is_retryable`] says, and the router tells a
//! backend failure (cool the model down, fall back to another) from a bad request
//! (the caller's to fix; another model would refuse it too) with
//! [`RemoteError::is_bad_request`].

use std::time::Duration;

/// A failed call to an OpenAI-compatible server. Every variant names the URL (or the
/// variable) it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RemoteError {
    /// No connection (refused, DNS, TLS, connect timeout) or it broke before any
    /// answer arrived.
    #[error("cannot reach `{url}`: {message}")]
    Unreachable { url: String, message: String },
    /// The server answered with an error status; `message` is what it said.
    #[error("`{url}` answered HTTP {status}: {message}")]
    Status { url: String, status: u16, message: String, retry_after: Option<Duration> },
    /// The answer is not what the OpenAI API describes.
    #[error("`{url}` sent an answer noa cannot read: {message}")]
    BadResponse { url: String, message: String },
    /// A streamed answer stopped before the server said it was finished.
    #[error("the stream from `{url}` was cut off after {received} text deltas: {message}")]
    StreamCut { url: String, received: usize, message: String },
    /// The request's deadline passed.
    #[error("`{url}` did not finish within the {}s deadline", deadline.as_secs_f64())]
    Deadline { url: String, deadline: Duration },
    /// The variable that should hold the API key is unset or empty.
    #[error("the API key variable `{var}` is not set (the key is read from it at each request)")]
    MissingKey { var: String },
    /// The endpoint is not a usable URL.
    #[error("{reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    /// `GET /models` does not list the model.
    #[error("`{endpoint}` does not serve model `{model}` (it lists: {served})")]
    ModelNotServed { endpoint: String, model: String, served: String },
}

impl RemoteError {
    /// Worth another attempt of the same request: the connection failed, or the
    /// server said 429 or 5xx. Only ever applied before any byte of an answer arrived.
    pub fn is_retryable(&self) -> bool {
        match self {
            RemoteError::Unreachable { .. } => true,
            RemoteError::Status { status, .. } => *status == 429 || (500..600).contains(status),
            _ => false,
        }
    }

    /// The request itself was refused (400, 413, 422 and other 4xx apart from 401,
    /// 403, 404, 408 and 429): another backend would refuse it too, so a router
    /// should return it to the caller rather than cool the backend down or fall back.
    /// Everything else is the backend's (or its configuration's) failure.
    pub fn is_bad_request(&self) -> bool {
        matches!(self, RemoteError::Status { status, .. }
            if (400..500).contains(status) && !matches!(status, 401 | 403 | 404 | 408 | 429))
    }

    /// The opposite of [`Self::is_bad_request`]: cool this backend down, try another.
    pub fn is_backend_failure(&self) -> bool {
        !self.is_bad_request()
    }

    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RemoteError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> RemoteError {
        RemoteError::Status { url: "u".into(), status, message: String::new(), retry_after: None }
    }

    #[test]
    fn retryable_and_bad_request_are_disjoint_and_as_documented() {
        assert!(status(429).is_retryable() && status(503).is_retryable());
        assert!(!status(400).is_retryable() && status(400).is_bad_request());
        assert!(status(422).is_bad_request() && !status(401).is_bad_request());
        assert!(status(404).is_backend_failure() && status(500).is_backend_failure());
        let cut = RemoteError::StreamCut { url: "u".into(), received: 2, message: "x".into() };
        assert!(!cut.is_retryable() && cut.is_backend_failure());
        assert!(RemoteError::Unreachable { url: "u".into(), message: "m".into() }.is_retryable());
    }
}
