//! One error type for the whole HTTP surface, rendered as OpenAI-shaped JSON
//! (`{"error":{"message","type","param","code"}}`), and a JSON extractor whose
//! rejections (malformed JSON, wrong types, body too large) render the same way.
//! A 500 is ours to fix and its text may name paths, engine output or OS errors: the
//! client gets a generic message and the request id, the log gets the cause.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::request_id;
use crate::backend::BackendError;
use crate::error::{FeedbackError, RouteError};

/// An HTTP error with an OpenAI-style body.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// The chosen model could not be started (no output yet): an `auto` request may
    /// fall back to the next candidate.
    pub model_unavailable: bool,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            param: None,
            code: Some(code),
            model_unavailable: false,
        }
    }
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", code, message)
    }
    /// A 500: something broke on our side. `message` is logged, never sent.
    pub fn internal(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", code, message)
    }
    pub fn param(mut self, p: impl Into<String>) -> Self {
        self.param = Some(p.into());
        self
    }
    /// The body the client sees, for the request `request_id`. A 500 is logged with
    /// its cause under that id and answers only the id and the code; every other error
    /// keeps its message, which is there to help the client.
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        if self.status != StatusCode::INTERNAL_SERVER_ERROR {
            return serde_json::json!({"error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }});
        }
        tracing::error!(request_id, code = ?self.code, cause = %self.message, "internal error");
        serde_json::json!({"error": {
            "message": format!(
                "internal server error; the server logged its cause under request id `{request_id}`"
            ),
            "type": self.kind,
            "param": null,
            "code": self.code,
            "request_id": request_id,
        }})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() && self.status != StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(status = %self.status, message = %self.message, "request failed");
        }
        let body = self.body(&request_id::current());
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<RouteError> for ApiError {
    fn from(e: RouteError) -> Self {
        match &e {
            RouteError::InvalidRequirements { field, .. } => {
                ApiError::invalid("invalid_requirements", e.to_string()).param(*field)
            }
            // Every model the request's privacy tier allows is gone: the service cannot
            // answer it now, and never sends it to a tier it forbids.
            RouteError::NoCandidate { constraint: "privacy", .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "no_permitted_model",
                e.to_string(),
            )
            .param("privacy"),
            RouteError::NoCandidate { constraint, .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request_error",
                "no_candidate",
                e.to_string(),
            )
            .param(*constraint),
        }
    }
}

impl From<FeedbackError> for ApiError {
    fn from(e: FeedbackError) -> Self {
        let msg = e.to_string();
        match e {
            FeedbackError::RewardOutOfRange(_) => {
                ApiError::invalid("reward_out_of_range", msg).param("reward")
            }
            FeedbackError::BadLatency(_) => {
                ApiError::invalid("invalid_latency", msg).param("latency_ms")
            }
            FeedbackError::UnknownDecision(_) => ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "unknown_decision",
                msg,
            )
            .param("decision_id"),
            FeedbackError::AlreadyRecorded(_) => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                "feedback_already_recorded",
                msg,
            )
            .param("decision_id"),
            FeedbackError::Store(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "store_failed",
                msg,
            ),
            FeedbackError::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "state_unavailable",
                msg,
            ),
        }
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        let msg = e.to_string();
        match e {
            BackendError::Unavailable { .. } => ApiError {
                model_unavailable: true,
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "model_unavailable",
                    msg,
                )
            },
            BackendError::BadRequest(_) => ApiError::invalid("invalid_request", msg),
            BackendError::Crashed { .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, "server_error", "engine_crashed", msg)
            }
            BackendError::Failed(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "inference_failed",
                msg,
            ),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let text = r.body_text();
        match r {
            JsonRejection::JsonDataError(_) => ApiError::invalid("invalid_type", text),
            JsonRejection::JsonSyntaxError(_) => ApiError::invalid("invalid_json", text),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                "unsupported_media_type",
                text,
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "payload_too_large",
                "request body is larger than the server's limit",
            ),
            other => ApiError::new(other.status(), "invalid_request_error", "invalid_body", text),
        }
    }
}

/// `axum::Json` with OpenAI-shaped rejections; wrong types are 400, not 422.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(v))
    }
}
