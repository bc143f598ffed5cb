//! Helpers every task kind needs: reading fields out of raw data records with errors
//! that name the field, turning suite settings into engine requests, a one-step
//! episode for single-turn kinds, and lenient extraction of JSON from model output
//! (models wrap JSON in fences, prose and trailing commentary).

use noa_engine::{ChatMessage, GenerateRequest, Generation, Prompt};
use serde_json::Value;

use crate::kind::{Episode, GenSettings, Reply, Score, Step};

/// The first of `keys` present in `raw` as a string.
pub(crate) fn str_field<'a>(raw: &'a Value, keys: &[&str]) -> Result<&'a str, String> {
    for key in keys {
        if let Some(v) = raw.get(key) {
            return v.as_str().ok_or_else(|| format!("field `{key}` is not a string"));
        }
    }
    Err(format!("missing field `{}`", keys.join("` / `")))
}

/// The record's id: the first of `keys` that is a string or number, else `#index`.
pub(crate) fn id_field(raw: &Value, keys: &[&str], index: usize) -> String {
    for key in keys {
        match raw.get(key) {
            Some(Value::String(s)) if !s.is_empty() => return s.clone(),
            Some(Value::Number(n)) => return n.to_string(),
            _ => {}
        }
    }
    format!("#{index}")
}

/// Fills `{name}` placeholders of the suite's `prompt_template` (if any); without a
/// template the kind's own prompt text is used as is.
pub(crate) fn apply_template(
    settings: &GenSettings,
    prompt: &str,
    extra: &[(&str, &str)],
) -> String {
    match &settings.prompt_template {
        None => prompt.to_string(),
        Some(t) => {
            let mut out = t.replace("{prompt}", prompt);
            for (name, value) in extra {
                out = out.replace(&format!("{{{name}}}"), value);
            }
            out
        }
    }
}

/// A request with the suite's limits, sampling settings and stop strings (the kind's
/// own stops first, then the suite's).
pub(crate) fn request(
    settings: &GenSettings,
    prompt: Prompt,
    kind_stops: &[&str],
) -> GenerateRequest {
    let mut stop: Vec<String> = kind_stops.iter().map(|s| s.to_string()).collect();
    for s in &settings.stop {
        if !stop.contains(s) {
            stop.push(s.clone());
        }
    }
    GenerateRequest {
        prompt,
        max_tokens: settings.max_tokens,
        stop,
        temperature: settings.temperature,
        seed: settings.seed,
        constraint: None,
        deadline: None,
        shared_prefix: None,
        stop_after_json: false,
    }
}

/// A chat prompt (optional system message + one user message), or in raw mode the
/// system text and user text joined as plain text.
pub(crate) fn chat_or_raw(settings: &GenSettings, system: Option<&str>, user: String) -> Prompt {
    if settings.chat {
        let mut messages = Vec::new();
        if let Some(s) = system {
            messages.push(ChatMessage::new("system", s));
        }
        messages.push(ChatMessage::new("user", user));
        Prompt::Chat(messages)
    } else {
        match system {
            Some(s) => Prompt::Raw(format!("{s}\n\n{user}")),
            None => Prompt::Raw(user),
        }
    }
}

/// The score given when the runner answers a step with the wrong kind of reply.
pub(crate) fn unexpected(reply: Option<Reply>) -> Score {
    let what = match reply {
        None => "no reply",
        Some(Reply::Generated(_)) => "a generation",
        Some(Reply::Loglikelihoods(_)) => "log-likelihoods",
    };
    Score {
        value: 0.0,
        detail: Some(format!("runner error: unexpected {what}")),
        output: String::new(),
    }
}

type Scorer = Box<dyn FnOnce(&Generation) -> Score + Send>;

/// One generation, then a score.
struct SingleTurn {
    request: Option<GenerateRequest>,
    scorer: Option<Scorer>,
}

impl Episode for SingleTurn {
    fn step(&mut self, reply: Option<Reply>) -> Step {
        if let Some(req) = self.request.take() {
            return match reply {
                None => Step::Generate(req),
                other => Step::Done(unexpected(other)),
            };
        }
        match (reply, self.scorer.take()) {
            (Some(Reply::Generated(g)), Some(score)) => Step::Done(score(&g)),
            (other, _) => Step::Done(unexpected(other)),
        }
    }
}

/// An episode that asks for `request` once and scores the generation with `scorer`.
pub(crate) fn single_turn(
    request: GenerateRequest,
    scorer: impl FnOnce(&Generation) -> Score + Send + 'static,
) -> Box<dyn Episode> {
    Box::new(SingleTurn { request: Some(request), scorer: Some(Box::new(scorer)) })
}

/// Contents of Markdown code fences in `text` as `(language, body)`; an unclosed
/// last fence runs to the end of the text.
pub(crate) fn fenced_blocks(text: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let (lang, body_start) = match after.find('\n') {
            Some(nl) => (after[..nl].trim().to_lowercase(), &after[nl + 1..]),
            None => break,
        };
        match body_start.find("```") {
            Some(end) => {
                blocks.push((lang, body_start[..end].to_string()));
                rest = &body_start[end + 3..];
            }
            None => {
                blocks.push((lang, body_start.to_string()));
                break;
            }
        }
    }
    blocks
}

/// Every JSON object or array found in `text`, in order: fenced blocks first, then
/// balanced `{...}` / `[...]` spans of the whole text. Never fails; junk yields none.
pub(crate) fn json_values(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (_, body) in fenced_blocks(text) {
        if let Ok(v) = serde_json::from_str::<Value>(body.trim()) {
            out.push(v);
        }
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if (bytes[i] == b'{' || bytes[i] == b'[')
            && let Some(end) = balanced_end(text, i)
            && let Ok(v) = serde_json::from_str::<Value>(&text[i..end])
        {
            out.push(v);
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// End (exclusive) of the bracketed span opening at `start`, respecting JSON strings.
fn balanced_end(text: &str, start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (off, c) in text[start..].char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(start + off + c.len_utf8());
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_finds_fenced_and_inline_json() {
        let t = "Sure!\n```json\n{\"a\": 1}\n```\nor {\"b\": [1, \"}\"]} trailing";
        let v = json_values(t);
        assert_eq!(v[0], serde_json::json!({"a": 1}));
        assert!(v.contains(&serde_json::json!({"b": [1, "}"]})));
        assert!(json_values("no json { here").is_empty());
        assert!(json_values("]]}}{{[[").is_empty());
    }

    #[test]
    fn fenced_blocks_handles_unclosed_fence() {
        let b = fenced_blocks("x\n```python\ndef f():\n    pass\n");
        assert_eq!(b, vec![("python".to_string(), "def f():\n    pass\n".to_string())]);
    }

    #[test]
    fn template_fills_placeholders() {
        let s =
            GenSettings { prompt_template: Some("Q: {prompt} ({x})".into()), ..Default::default() };
        assert_eq!(apply_template(&s, "hi", &[("x", "y")]), "Q: hi (y)");
        assert_eq!(apply_template(&GenSettings::default(), "hi", &[]), "hi");
    }
}
