//! The worker protocol: one JSON object per line, each way. The parent first sends
//! [`Load`], the worker answers [`Response::Ready`] (or `LoadFailed`) and then serves
//! requests concurrently, each tagged with an id the parent chose. Generation sends a
//! `Token` event per generated piece (for streams, and as a sign of life for a
//! watchdog) and one `Generated` at the end. Deadlines travel as milliseconds left,
//! since an `Instant` means nothing in another process.

use serde::{Deserialize, Serialize};

use crate::{
    ChatMessage, EngineConfig, EngineError, GenerateRequest, Generation, Loglikelihood,
    LoglikelihoodRequest, ModelInfo, SpeedRequest, SpeedResult, TemplateKind,
};

/// The first line a worker reads: what to load.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Load {
    pub path: String,
    pub config: EngineConfig,
    /// Inference requests the model's earlier workers were sent (so a fault set for the
    /// n-th request fires once per model, not once per worker).
    pub requests_before: u64,
}

/// Parent → worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    Generate { id: u64, request: GenerateRequest, deadline_ms: Option<u64> },
    Loglikelihood { id: u64, requests: Vec<LoglikelihoodRequest> },
    Speed { id: u64, request: SpeedRequest },
    Render { id: u64, messages: Vec<ChatMessage> },
    CountTokens { id: u64, text: String },
}

impl Request {
    /// Requests that run the model (the ones a fault switch counts).
    pub(crate) fn is_inference(&self) -> bool {
        matches!(self, Self::Generate { .. } | Self::Loglikelihood { .. } | Self::Speed { .. })
    }
}

/// Worker → parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub(crate) enum Response {
    Ready { info: ModelInfo, template: TemplateKind, bos: String, system_info: String },
    LoadFailed { error: EngineError },
    Token { id: u64, text: String },
    Generated { id: u64, result: Result<Generation, EngineError> },
    Loglikelihood { id: u64, results: Vec<Result<Loglikelihood, EngineError>> },
    Speed { id: u64, result: Result<SpeedResult, EngineError> },
    Rendered { id: u64, result: Result<String, EngineError> },
    Counted { id: u64, tokens: usize },
}

/// One line of JSON (no newline inside: serde_json escapes them).
pub(crate) fn encode<T: Serialize>(msg: &T) -> Result<String, EngineError> {
    let mut line = serde_json::to_string(msg)
        .map_err(|e| EngineError::Unavailable(format!("cannot encode a worker message: {e}")))?;
    line.push('\n');
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FinishReason, Prompt, RequestTimings};

    #[test]
    fn messages_round_trip_on_one_line() {
        let req = Request::Generate {
            id: 7,
            request: GenerateRequest::chat(vec![ChatMessage::new("user", "a\nb")], 8),
            deadline_ms: Some(1500),
        };
        let line = encode(&req).unwrap();
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        let back: Request = serde_json::from_str(&line).unwrap();
        match back {
            Request::Generate { id, request, deadline_ms } => {
                assert_eq!((id, deadline_ms), (7, Some(1500)));
                assert_eq!(request.prompt, Prompt::Chat(vec![ChatMessage::new("user", "a\nb")]));
            }
            other => panic!("{other:?}"),
        }
        let generation = Generation {
            text: "x".into(),
            prompt_tokens: 3,
            cached_tokens: 0,
            gen_tokens: 1,
            finish: FinishReason::Eog,
            timings: RequestTimings::default(),
            rendered_prompt: "p".into(),
        };
        for resp in [
            Response::Generated { id: 1, result: Ok(generation) },
            Response::Generated { id: 2, result: Err(EngineError::DeadlinePassed) },
            Response::Speed { id: 3, result: Err(EngineError::Crashed { cause: "x".into() }) },
        ] {
            let line = encode(&resp).unwrap();
            let back: Response = serde_json::from_str(&line).unwrap();
            assert_eq!(format!("{back:?}"), format!("{resp:?}"));
        }
    }
}
