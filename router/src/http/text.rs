//! `POST /v1/completions`: OpenAI's text completions, for base models and few-shot
//! prompts, routed, pinned, streamed and falling back exactly as chat completions are
//! (`chat.rs`). With `echo` and `max_tokens` 0 the prompt is scored instead of
//! continued: each token's log-probability and the most likely token at its position
//! (`logprobs`), the way lm-evaluation-harness and `noa bench` score multiple choice
//! against a remote server.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::chat::{Shape, Work, answer, generate_request, target};
use super::openai::{CompletionRequest, PromptIn};
use super::{ApiError, ApiJson, AppState};
use crate::backend::Prompt;

/// OpenAI's default for text completions.
const DEFAULT_MAX_TOKENS: u32 = 16;

pub async fn completions(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CompletionRequest>,
) -> Result<Response, ApiError> {
    let prompt = match body.prompt {
        PromptIn::One(p) => p,
        PromptIn::Many(mut v) if v.len() == 1 => v.remove(0),
        PromptIn::Many(_) => {
            return Err(ApiError::invalid(
                "invalid_value",
                "one prompt per request: send a string or an array of one string",
            )
            .param("prompt"));
        }
    };
    if prompt.is_empty() {
        return Err(
            ApiError::invalid("invalid_value", "`prompt` must not be empty").param("prompt")
        );
    }
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("invalid_value", "only `n` = 1 is supported").param("n"));
    }
    let max_tokens = body.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let (echo, stream) = (body.echo.unwrap_or(false), body.stream.unwrap_or(false));
    let logprobs = body.logprobs.is_some();
    let request = generate_request(
        Prompt::Raw(prompt.clone()),
        max_tokens,
        body.temperature,
        body.seed,
        body.stop.map(|s| s.into_vec()).unwrap_or_default(),
    );
    let work = if max_tokens == 0 {
        if !echo {
            return Err(ApiError::invalid(
                "invalid_value",
                "`max_tokens` 0 generates nothing: to score the prompt, send `echo: true` \
                 (with `logprobs` for the log-probabilities)",
            )
            .param("max_tokens"));
        }
        if stream {
            return Err(ApiError::invalid(
                "invalid_value",
                "scoring a prompt (`echo` with `max_tokens` 0) is not streamed",
            )
            .param("stream"));
        }
        Work::Score { prompt, logprobs }
    } else {
        if logprobs {
            return Err(ApiError::invalid(
                "unsupported_value",
                "log-probabilities of generated tokens are not offered; to score a text, \
                 send it as the prompt with `echo: true` and `max_tokens: 0`",
            )
            .param("logprobs"));
        }
        if echo && stream {
            return Err(ApiError::invalid(
                "unsupported_value",
                "`echo` is not supported on streamed completions",
            )
            .param("echo"));
        }
        Work::Generate {
            request: request.clone(),
            stream,
            include_usage: body.stream_options.is_some_and(|o| o.include_usage),
            shape: Shape::Text,
            echo: echo.then_some(prompt),
        }
    };
    let target = target(&s, &headers, &body.model, body.noa, &request)?;
    answer(&s, target, work).await
}
