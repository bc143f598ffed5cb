//! Multiple choice by log-likelihood (Q&A, e.g. ARC-Easy): the model is not asked to
//! write anything; each choice is scored as a continuation of the question and the
//! most likely one is its answer, as lm-evaluation-harness's `arc_easy` does
//! (context `Question: {q}\nAnswer:`, continuations ` {choice}`).
//!
//! Accepted records (one per JSON array element or JSONL line):
//! - ARC as on Hugging Face: `id`, `question`, `choices: {text: [...], label: [...]}`,
//!   `answerKey` (a label: `A`-`E` or `1`-`4`);
//! - ARC original: `id`, `question: {stem, choices: [{text, label}]}`, `answerKey`;
//! - generic: `question`, `choices: ["...", ...]`, `answer` (0-based index, a label
//!   `A`/`B`/..., or the text of the right choice), optional `id`.
//!
//! Item data: `question`, `choices` (texts), `labels`, `answer` (index). Score 1 when
//! the highest summed log-probability is the answer (`acc`); the detail, a JSON
//! object, also gives `acc_norm` (log-probability per character, lm-eval's
//! normalisation), the prediction and every choice's log-probability.

use noa_engine::LoglikelihoodRequest;
use serde_json::{Value, json};

use super::util::{apply_template, id_field, unexpected};
use crate::kind::{Episode, GenSettings, Item, Reply, Score, Step, TaskKind};

#[derive(Debug)]
pub struct MultipleChoice;

fn letters(n: usize) -> Vec<String> {
    (0..n).map(|i| char::from(b'A' + (i % 26) as u8).to_string()).collect()
}

/// `(question, texts, labels)` of any accepted layout.
fn parse_layout(raw: &Value) -> Result<(String, Vec<String>, Vec<String>), String> {
    let q = raw.get("question").ok_or("missing field `question`")?;
    let (question, choices) = match q {
        Value::String(s) => (s.clone(), raw.get("choices")),
        Value::Object(_) => {
            let stem =
                q.get("stem").and_then(Value::as_str).ok_or("missing field `question.stem`")?;
            (stem.to_string(), q.get("choices").or_else(|| raw.get("choices")))
        }
        _ => return Err("field `question` is neither text nor an object".to_string()),
    };
    let choices = choices.ok_or("missing field `choices`")?;
    let text_of = |v: &Value| v.as_str().map(str::to_string);
    let (texts, labels): (Vec<String>, Vec<String>) = match choices {
        Value::Object(o) => {
            let texts: Vec<String> = o
                .get("text")
                .and_then(Value::as_array)
                .ok_or("field `choices.text` is not a list")?
                .iter()
                .map(|v| text_of(v).ok_or("a choice text is not a string"))
                .collect::<Result<_, _>>()?;
            let labels = match o.get("label").and_then(Value::as_array) {
                Some(l) => l.iter().map(|v| text_of(v).unwrap_or_default()).collect(),
                None => letters(texts.len()),
            };
            (texts, labels)
        }
        Value::Array(a) => {
            let mut texts = Vec::new();
            let mut labels = Vec::new();
            for (i, c) in a.iter().enumerate() {
                match c {
                    Value::String(s) => {
                        texts.push(s.clone());
                        labels.push(letters(i + 1)[i].clone());
                    }
                    Value::Object(_) => {
                        let t = c
                            .get("text")
                            .and_then(Value::as_str)
                            .ok_or("a choice has no `text`")?;
                        texts.push(t.to_string());
                        let l = c.get("label").and_then(Value::as_str);
                        labels.push(l.map_or_else(|| letters(i + 1)[i].clone(), str::to_string));
                    }
                    _ => return Err("a choice is neither text nor an object".to_string()),
                }
            }
            (texts, labels)
        }
        _ => return Err("field `choices` is neither a list nor an object".to_string()),
    };
    if texts.len() < 2 {
        return Err(format!("needs at least 2 choices, found {}", texts.len()));
    }
    if labels.len() != texts.len() {
        return Err("`choices.label` and `choices.text` differ in length".to_string());
    }
    Ok((question, texts, labels))
}

impl TaskKind for MultipleChoice {
    fn name(&self) -> &'static str {
        "multiple_choice"
    }

    fn parse(&self, raw: &Value, index: usize) -> Result<Item, String> {
        let (question, texts, labels) = parse_layout(raw)?;
        let key = raw
            .get("answerKey")
            .or_else(|| raw.get("answer"))
            .ok_or("missing field `answerKey`")?;
        let answer = match key {
            Value::Number(n) => n.as_u64().map(|n| n as usize),
            Value::String(s) => {
                let s = s.trim();
                labels
                    .iter()
                    .position(|l| l == s)
                    .or_else(|| texts.iter().position(|t| t.trim() == s))
            }
            _ => None,
        }
        .filter(|&i| i < texts.len())
        .ok_or_else(|| format!("answer `{key}` matches no choice"))?;
        let id = id_field(raw, &["id"], index);
        Ok(Item {
            id,
            data: json!({"question": question, "choices": texts, "labels": labels, "answer": answer}),
        })
    }

    fn episode(&self, item: &Item, settings: &GenSettings) -> Box<dyn Episode> {
        let d = &item.data;
        let question = d.get("question").and_then(Value::as_str).unwrap_or("");
        let strings = |k: &str| -> Vec<String> {
            d.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect())
                .unwrap_or_default()
        };
        let context = apply_template(
            settings,
            &format!("Question: {question}\nAnswer:"),
            &[("question", question)],
        );
        Box::new(ChoiceEpisode {
            context,
            choices: strings("choices"),
            labels: strings("labels"),
            answer: d.get("answer").and_then(Value::as_u64).map(|a| a as usize),
            asked: false,
        })
    }
}

struct ChoiceEpisode {
    context: String,
    choices: Vec<String>,
    labels: Vec<String>,
    answer: Option<usize>,
    asked: bool,
}

impl Episode for ChoiceEpisode {
    fn step(&mut self, reply: Option<Reply>) -> Step {
        if !self.asked {
            self.asked = true;
            if reply.is_some() {
                return Step::Done(unexpected(reply));
            }
            let reqs = self
                .choices
                .iter()
                .map(|c| LoglikelihoodRequest::new(self.context.clone(), format!(" {c}")))
                .collect();
            return Step::Loglikelihood(reqs);
        }
        match reply {
            Some(Reply::Loglikelihoods(lls))
                if lls.len() == self.choices.len() && !lls.is_empty() =>
            {
                let logprobs: Vec<f64> = lls.iter().map(|l| l.logprob).collect();
                let norm: Vec<f64> = logprobs
                    .iter()
                    .zip(&self.choices)
                    .map(|(lp, c)| lp / (c.chars().count() + 1) as f64)
                    .collect();
                Step::Done(self.score(&logprobs, &norm))
            }
            Some(Reply::Loglikelihoods(lls)) => Step::Done(Score {
                value: 0.0,
                detail: Some(format!(
                    "runner error: {} log-likelihoods for {} choices",
                    lls.len(),
                    self.choices.len()
                )),
                output: String::new(),
            }),
            other => Step::Done(unexpected(other)),
        }
    }
}

/// Index of the largest value (first on ties; NaN never wins).
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] || v[best].is_nan() {
            best = i;
        }
    }
    best
}

impl ChoiceEpisode {
    fn score(&self, logprobs: &[f64], norm: &[f64]) -> Score {
        let pred = argmax(logprobs);
        let pred_norm = argmax(norm);
        let hit = |p: usize| self.answer == Some(p);
        let label =
            |i: Option<usize>| i.and_then(|i| self.labels.get(i)).cloned().unwrap_or_default();
        let detail = json!({
            "pred": label(Some(pred)),
            "answer": label(self.answer),
            "acc": u8::from(hit(pred)),
            "acc_norm": u8::from(hit(pred_norm)),
            "pred_norm": label(Some(pred_norm)),
            "logprobs": logprobs,
        });
        Score {
            value: if hit(pred) { 1.0 } else { 0.0 },
            detail: Some(detail.to_string()),
            output: self.choices.get(pred).cloned().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
#[path = "multiple_choice_tests.rs"]
mod tests;
