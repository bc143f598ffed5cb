//! The parts of the OpenAI wire format the client sends and reads: request bodies for
//! chat and text completions, the model list, usage, and the text and finish reason
//! inside a streamed chunk or a whole answer. Fields a server adds beyond these are
//! ignored; a field this client needs that is missing or of the wrong type is an error.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self { role: role.to_owned(), content: content.into() }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// Generation settings; `None` (or no stop strings) leaves the server's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub seed: Option<i64>,
    pub stop: Vec<String>,
}

/// `POST /chat/completions`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The served model name.
    pub model: String,
    pub messages: Vec<Message>,
    pub sampling: Sampling,
}

/// `POST /completions` (a raw prompt, for base models).
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    pub model: String,
    pub prompt: String,
    pub sampling: Sampling,
}

/// Which endpoint a request goes to, and where its text is in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Chat,
    Text,
}

impl Kind {
    pub(crate) fn path(self) -> &'static str {
        match self {
            Kind::Chat => "/chat/completions",
            Kind::Text => "/completions",
        }
    }
}

fn body(model: &str, sampling: &Sampling, stream: bool) -> Value {
    let mut b = json!({"model": model, "stream": stream});
    let s = sampling;
    if let Some(v) = s.max_tokens {
        b["max_tokens"] = json!(v);
    }
    if let Some(v) = s.temperature {
        b["temperature"] = json!(v);
    }
    if let Some(v) = s.seed {
        b["seed"] = json!(v);
    }
    if !s.stop.is_empty() {
        b["stop"] = json!(s.stop);
    }
    if stream {
        // Token counts at the end of the stream, where the server supports it.
        b["stream_options"] = json!({"include_usage": true});
    }
    b
}

impl ChatRequest {
    pub(crate) fn body(&self, stream: bool) -> Value {
        let mut b = body(&self.model, &self.sampling, stream);
        b["messages"] = json!(self.messages);
        b
    }
}

impl CompletionRequest {
    pub(crate) fn body(&self, stream: bool) -> Value {
        let mut b = body(&self.model, &self.sampling, stream);
        b["prompt"] = json!(self.prompt);
        b
    }
}

/// `POST /completions` with `echo`, `logprobs` and `max_tokens` 0: the prompt's own
/// tokens scored, as lm-evaluation-harness asks OpenAI-compatible servers.
pub(crate) fn score_body(model: &str, prompt: &str) -> Value {
    json!({
        "model": model, "prompt": prompt, "max_tokens": 0, "echo": true, "logprobs": 1,
        "temperature": 0, "stream": false,
    })
}

/// A prompt's tokens as a server scored them (`choices[0].logprobs`).
#[derive(Debug, Clone, PartialEq)]
pub struct PromptScores {
    /// Each token's text.
    pub tokens: Vec<String>,
    /// Its log-probability given the tokens before it (`None`: nothing predicts it).
    pub logprobs: Vec<Option<f64>>,
    /// The most likely alternative the server listed there, and its log-probability.
    pub top: Vec<Option<(String, f64)>>,
    /// Where the token starts in the text, in characters.
    pub text_offset: Vec<usize>,
}

impl PromptScores {
    /// The log-probability of the text after the first `context_chars` characters,
    /// its token count, and whether every one of its tokens was the most likely:
    /// lm-evaluation-harness's reading of an echoed prompt. Tokens that start at or
    /// past the end of `total_chars` (a server that generated anyway) are left out, and
    /// so is an unscored first token (a whole text scored without a BOS token).
    pub fn continuation(
        &self,
        context_chars: usize,
        total_chars: usize,
    ) -> Result<(f64, u32, bool), String> {
        let (mut sum, mut n, mut greedy) = (0.0, 0u32, true);
        for (i, &offset) in self.text_offset.iter().enumerate() {
            if offset < context_chars || offset >= total_chars {
                continue;
            }
            let lp = match self.logprobs[i] {
                Some(lp) => lp,
                // The text's first token: nothing before it to predict it from.
                None if i == 0 => continue,
                None => {
                    return Err(format!("no log-probability for token {i} ({:?})", self.tokens[i]));
                }
            };
            sum += lp;
            n += 1;
            greedy &= self.top[i].as_ref().is_none_or(|(_, top)| lp >= *top);
        }
        Ok((sum, n, greedy))
    }
}

/// `choices[0].logprobs` of a scored prompt.
pub(crate) fn parse_scores(v: &Value) -> Result<PromptScores, String> {
    let lp = v
        .pointer("/choices/0/logprobs")
        .filter(|l| !l.is_null())
        .ok_or("no `choices[0].logprobs`: the server does not score prompts")?;
    let array = |k: &str| {
        lp.get(k).and_then(Value::as_array).ok_or_else(|| format!("no `logprobs.{k}` array"))
    };
    let (tokens, logprobs, text_offset) =
        (array("tokens")?, array("token_logprobs")?, array("text_offset")?);
    let top = lp.get("top_logprobs").and_then(Value::as_array);
    let n = tokens.len();
    if logprobs.len() != n || text_offset.len() != n || top.is_some_and(|t| t.len() != n) {
        return Err(format!("`logprobs` arrays of different lengths ({n} tokens)"));
    }
    let top_of = |i: usize| {
        let alternatives = top.and_then(|t| t[i].as_object())?;
        alternatives
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
            .reduce(|a, b| if b.1 > a.1 { b } else { a })
    };
    Ok(PromptScores {
        tokens: tokens.iter().map(|t| t.as_str().unwrap_or_default().to_owned()).collect(),
        logprobs: logprobs.iter().map(Value::as_f64).collect(),
        top: (0..n).map(top_of).collect(),
        text_offset: text_offset
            .iter()
            .map(|o| o.as_u64().map(|o| o as usize).ok_or("`text_offset` not a number"))
            .collect::<Result<_, _>>()?,
    })
}

/// Token counts a server reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: Option<u64>,
}

/// One entry of `GET /models`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedModel {
    pub id: String,
    pub owned_by: Option<String>,
    pub created: Option<i64>,
    /// The entry as the server sent it (servers add their own fields).
    pub raw: Value,
}

impl ServedModel {
    /// A version or digest the server reports for the model, if any (Ollama-style
    /// `digest`, or a `version` field).
    pub fn version(&self) -> Option<String> {
        ["digest", "version"].iter().find_map(|k| self.raw.get(k)?.as_str().map(str::to_owned))
    }
}

/// The `data` array of a `GET /models` answer.
pub(crate) fn parse_models(v: &Value) -> Result<Vec<ServedModel>, String> {
    let data = v.get("data").and_then(Value::as_array).ok_or("no `data` array")?;
    data.iter()
        .map(|m| {
            let id = m
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("entry without `id`: {m}"))?;
            Ok(ServedModel {
                id: id.to_owned(),
                owned_by: m.get("owned_by").and_then(Value::as_str).map(str::to_owned),
                created: m.get("created").and_then(Value::as_i64),
                raw: m.clone(),
            })
        })
        .collect()
}

/// A whole (non-streamed) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    /// The model name the server answered as.
    pub model: Option<String>,
    /// The server's build or configuration fingerprint, when it sends one.
    pub system_fingerprint: Option<String>,
    /// When the request was first sent, and when the answer was read, at the client.
    pub sent_at: Instant,
    pub received_at: Instant,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
}

/// What one chunk (or a whole answer) says: text, finish reason, usage, fingerprint.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Piece {
    pub text: Option<String>,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub system_fingerprint: Option<String>,
    pub model: Option<String>,
}

/// Read a chunk or an answer of `kind`; `whole` reads `message.content` instead of
/// `delta.content` for chat.
pub(crate) fn parse_piece(kind: Kind, whole: bool, v: &Value) -> Result<Piece, String> {
    if let Some(err) = v.get("error") {
        return Err(format!("the server reported an error: {}", error_message(err)));
    }
    let choice = v.get("choices").and_then(Value::as_array).and_then(|c| c.first());
    let text = choice.and_then(|c| match (kind, whole) {
        (Kind::Chat, false) => c.get("delta")?.get("content")?.as_str(),
        (Kind::Chat, true) => c.get("message")?.get("content")?.as_str(),
        (Kind::Text, _) => c.get("text")?.as_str(),
    });
    let usage = match v.get("usage") {
        None | Some(Value::Null) => None,
        Some(u) => {
            Some(serde_json::from_value(u.clone()).map_err(|e| format!("bad `usage`: {e}"))?)
        }
    };
    if choice.is_none() && usage.is_none() {
        return Err(format!("no `choices` and no `usage` in {v}"));
    }
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Piece {
        text: text.map(str::to_owned),
        finish_reason: choice.and_then(|c| c.get("finish_reason")?.as_str().map(str::to_owned)),
        usage,
        system_fingerprint: s("system_fingerprint"),
        model: s("model"),
    })
}

/// The message of an OpenAI-style error object (`{"message": …}`), or the value itself.
pub(crate) fn error_message(err: &Value) -> String {
    match err {
        Value::String(s) => s.clone(),
        v => v.get("message").and_then(Value::as_str).map_or_else(|| v.to_string(), str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_only_what_is_set() {
        let r = ChatRequest {
            model: "m".into(),
            messages: vec![Message::user("hi")],
            sampling: Sampling {
                max_tokens: Some(4),
                stop: vec!["\n".into()],
                ..Sampling::default()
            },
        };
        let b = r.body(true);
        assert_eq!(b["messages"][0]["content"], "hi");
        assert_eq!(b["stop"][0], "\n");
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert!(b.get("temperature").is_none() && b.get("seed").is_none());
        assert!(r.body(false).get("stream_options").is_none());
    }

    #[test]
    fn pieces_read_chat_deltas_text_usage_and_errors() {
        let chunk = json!({"choices": [{"delta": {"content": "Hi"}, "finish_reason": null}]});
        assert_eq!(parse_piece(Kind::Chat, false, &chunk).unwrap().text.as_deref(), Some("Hi"));
        let end = json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}});
        assert_eq!(
            parse_piece(Kind::Chat, false, &end).unwrap().usage.unwrap().completion_tokens,
            2
        );
        let text = json!({"choices": [{"text": "x", "finish_reason": "length"}]});
        let p = parse_piece(Kind::Text, false, &text).unwrap();
        assert_eq!((p.text.as_deref(), p.finish_reason.as_deref()), (Some("x"), Some("length")));
        let err =
            parse_piece(Kind::Chat, false, &json!({"error": {"message": "boom"}})).unwrap_err();
        assert!(err.contains("boom"), "{err}");
        assert!(parse_piece(Kind::Chat, false, &json!({"id": 1})).is_err());
    }
}
