//! Exact / normalised match, the kind for suites users write themselves: a prompt,
//! the right answer and optional other accepted spellings.
//!
//! Records: `prompt` (or `question`), `answer` (text or number), optional `aliases`
//! (list), optional `system` (a system message), optional `id`. Item data keeps the
//! same names, with `answers` = answer + aliases.
//!
//! Both sides are normalised as SQuAD does (lowercase, punctuation and the articles
//! a/an/the removed, whitespace collapsed). The output matches when, normalised, the
//! whole output, its first non-empty line, what follows the last "is/are/was/were"
//! of that line ("The capital of France is Paris."), or the text after the last
//! "answer is" / "answer:" equals an accepted answer.

use serde_json::{Value, json};

use super::util::{apply_template, chat_or_raw, id_field, request, single_turn, str_field};
use crate::kind::{Episode, GenSettings, Item, Score, TaskKind};

#[derive(Debug)]
pub struct Exact;

/// SQuAD-style normalisation.
pub(crate) fn normalise(s: &str) -> String {
    let lower = s.to_lowercase();
    let no_punct: String = lower
        .chars()
        .map(|c| if c.is_alphanumeric() || c.is_whitespace() { c } else { ' ' })
        .collect();
    no_punct
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The parts of an output that may hold the answer, most specific last.
fn candidates(output: &str) -> Vec<String> {
    let mut c = vec![output.to_string()];
    if let Some(line) = output.lines().find(|l| !l.trim().is_empty()) {
        c.push(line.to_string());
    }
    // "The capital of France is Paris." → "Paris.": what follows the last copula of
    // the first line, the usual shape of a one-sentence answer.
    if let Some(line) = c.get(1).cloned() {
        let l = line.to_ascii_lowercase();
        if let Some(p) = [" is ", " are ", " was ", " were "]
            .iter()
            .filter_map(|w| l.rfind(w).map(|p| p + w.len()))
            .max()
        {
            c.push(line[p..].to_string());
        }
    }
    // ASCII lowercasing keeps byte offsets, so positions found apply to `output`.
    let lower = output.to_ascii_lowercase();
    for marker in ["answer is", "answer:"] {
        if let Some(p) = lower.rfind(marker) {
            let rest = &output[p + marker.len()..];
            c.push(rest.lines().next().unwrap_or("").to_string());
        }
    }
    c
}

impl TaskKind for Exact {
    fn name(&self) -> &'static str {
        "exact"
    }

    fn parse(&self, raw: &Value, index: usize) -> Result<Item, String> {
        let prompt = str_field(raw, &["prompt", "question"])?;
        let answer = match raw.get("answer") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => return Err("missing field `answer` (text or number)".to_string()),
        };
        let mut answers = vec![answer.clone()];
        match raw.get("aliases") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for v in a {
                    match v {
                        Value::String(s) => answers.push(s.clone()),
                        Value::Number(n) => answers.push(n.to_string()),
                        _ => {
                            return Err(
                                "field `aliases` holds a value that is not text".to_string()
                            );
                        }
                    }
                }
            }
            Some(_) => return Err("field `aliases` is not a list".to_string()),
        }
        if answers.iter().all(|a| normalise(a).is_empty()) {
            return Err(format!("answer `{answer}` is empty once normalised"));
        }
        let system = raw.get("system").and_then(Value::as_str);
        Ok(Item {
            id: id_field(raw, &["id"], index),
            data: json!({"prompt": prompt, "answer": answer, "answers": answers, "system": system}),
        })
    }

    fn episode(&self, item: &Item, settings: &GenSettings) -> Box<dyn Episode> {
        let d = &item.data;
        let prompt =
            apply_template(settings, d.get("prompt").and_then(Value::as_str).unwrap_or(""), &[]);
        let system = d.get("system").and_then(Value::as_str);
        let answers: Vec<String> = d
            .get("answers")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(normalise).collect())
            .unwrap_or_default();
        let req = request(settings, chat_or_raw(settings, system, prompt), &[]);
        single_turn(req, move |g| score(&g.text, &answers))
    }
}

fn score(output: &str, answers: &[String]) -> Score {
    let hit = candidates(output)
        .iter()
        .map(|c| normalise(c))
        .find(|c| !c.is_empty() && answers.contains(c));
    Score {
        value: if hit.is_some() { 1.0 } else { 0.0 },
        detail: Some(match hit {
            Some(h) => format!("matched `{h}`"),
            None => format!("no match for any of `{}`", answers.join("`, `")),
        }),
        output: output.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(item: &Item) -> Vec<String> {
        item.data["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| normalise(v.as_str().unwrap()))
            .collect()
    }

    #[test]
    fn normalised_matches() {
        let item = Exact.parse(&json!({"prompt": "Capital of France?", "answer": "Paris", "aliases": ["City of Paris"]}), 0).unwrap();
        let a = answers(&item);
        assert_eq!(score("Paris.", &a).value, 1.0);
        assert_eq!(score("  the city of paris!", &a).value, 1.0);
        assert_eq!(score("Paris\nIt is on the Seine.", &a).value, 1.0);
        assert_eq!(score("Let me think. The answer is: Paris", &a).value, 1.0);
        assert_eq!(score("Lyon", &a).value, 0.0);
        assert_eq!(score("Paris or Lyon", &a).value, 0.0);
        assert_eq!(score("The capital of France is Paris.", &a).value, 1.0);
        assert_eq!(score("The capital of France is Lyon, not Paris.", &a).value, 0.0);
        assert_eq!(score("", &a).value, 0.0);
        let n = Exact.parse(&json!({"question": "2+2?", "answer": 4}), 1).unwrap();
        assert_eq!(score("4", &answers(&n)).value, 1.0);
        assert_eq!(n.id, "#1");
    }

    #[test]
    fn bad_records_are_errors() {
        assert!(Exact.parse(&json!({"prompt": "x"}), 0).is_err());
        assert!(Exact.parse(&json!({"answer": "x"}), 0).is_err());
        assert!(Exact.parse(&json!({"prompt": "x", "answer": "!!"}), 0).is_err());
        assert!(Exact.parse(&json!({"prompt": "x", "answer": "a", "aliases": "b"}), 0).is_err());
    }
}
