//! Handlers for routing, feedback, model listing, metrics and health. Feedback fsyncs
//! its log line, so it runs on the blocking pool.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, ApiJson, AppState, blocking};
use crate::decision::Decision;
use crate::feedback::FeedbackAck;
use crate::requirements::TaskRequirements;

pub async fn route(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<TaskRequirements>,
) -> Result<Json<Decision>, ApiError> {
    match s.router.select(&req) {
        Ok(d) => {
            s.metrics.decision(&d.model, d.policy);
            Ok(Json(d))
        }
        Err(e) => {
            s.metrics.route_error();
            Err(e.into())
        }
    }
}

/// Body of `POST /v1/feedback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    pub decision_id: String,
    pub reward: f64,
    #[serde(default)]
    pub latency_ms: Option<f64>,
}

pub async fn feedback(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<FeedbackBody>,
) -> Result<Json<FeedbackAck>, ApiError> {
    let router = s.router.clone();
    let (id, reward, latency) = (body.decision_id, body.reward, body.latency_ms);
    let result = blocking(move || router.feedback(&id, reward, latency)).await?;
    match result {
        Ok(ack) => {
            s.metrics.feedback(&ack.model);
            if let Some(l) = latency {
                s.metrics.latency(&ack.model, l);
            }
            Ok(Json(ack))
        }
        Err(e) => {
            s.metrics.feedback_rejected();
            Err(e.into())
        }
    }
}

pub async fn models(State(s): State<AppState>) -> impl IntoResponse {
    let loaded = s.backend.loaded();
    let runtime = s.backend.runtime();
    let cooling = s.router.cooling();
    let stats = s.router.model_stats();
    let mut data = vec![json!({"id": "auto", "object": "model", "created": 0, "owned_by": "noa"})];
    for (row, st) in s.router.table().rows.iter().zip(stats) {
        let use_cases: Vec<&str> = noa_registry::UseCase::ALL
            .iter()
            .zip(row.supports)
            .filter(|(_, s)| *s)
            .map(|(u, _)| u.as_str())
            .collect();
        data.push(json!({
            "id": &*row.id,
            "object": "model",
            "created": 0,
            "owned_by": "noa",
            "noa": {
                "installed": row.installed,
                "loaded": loaded.iter().any(|l| **l == *row.id),
                "state": model_state(&row.id, &runtime, &cooling),
                "restarts": runtime.iter().find(|r| *r.id == *row.id).map_or(0, |r| r.restarts),
                "last_crash": runtime.iter().find(|r| *r.id == *row.id).and_then(|r| r.last_crash.clone()),
                "memory_bytes": runtime.iter().find(|r| *r.id == *row.id).map(|r| r.memory_bytes),
                "worker_pid": runtime.iter().find(|r| *r.id == *row.id).and_then(|r| r.pid),
                "privacy": row.privacy,
                "use_cases": use_cases,
                "feedback": st.feedback,
            }
        }));
    }
    Json(json!({"object": "list", "data": data}))
}

/// `cooling_down` after an engine failure, else the backend's `loading`, `ready` or
/// `crashed`, else `unloaded`.
fn model_state(
    id: &str,
    runtime: &[crate::backend::ModelRuntime],
    cooling: &[(String, (f64, String))],
) -> &'static str {
    if cooling.iter().any(|c| c.0 == id) {
        return "cooling_down";
    }
    runtime.iter().find(|r| r.id == id).map_or("unloaded", |r| r.state)
}

pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let mut text = s.metrics.render();
    text.push_str(&super::metrics::render_runtime(&s.backend.runtime(), &s.router.cooling()));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

pub async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    Json(
        json!({"status": "ok", "models": s.router.table().rows.len(), "pending_decisions": s.router.pending_count()}),
    )
}
