//! IFEval (instruction following): prompts carrying verifiable instructions ("no
//! commas", "at least 300 words", "wrap the answer in JSON"...), each checked by code
//! in [`ifeval_checks`](super::ifeval_checks).
//!
//! Records are lines of IFEval's `input_data.jsonl`: `key`, `prompt`,
//! `instruction_id_list`, `kwargs` (one argument object per instruction). Item data
//! keeps `prompt`, `instruction_id_list`, `kwargs`; an unknown instruction id is a
//! parse error naming it.
//!
//! The prompt goes to the model verbatim. Score = fraction of the item's
//! instructions followed, strictly (IFEval's instruction-level strict accuracy).
//! The detail (JSON) adds the per-instruction strict and loose results and the
//! prompt-level verdicts; "loose" is IFEval's: also try the response without its
//! first line, its last line, both, and each of those with `*` removed.

use serde_json::{Value, json};

use super::ifeval_checks::{INSTRUCTIONS, check};
use super::util::{apply_template, chat_or_raw, id_field, request, single_turn, str_field};
use crate::kind::{Episode, GenSettings, Item, Score, TaskKind};

#[derive(Debug)]
pub struct IfEval;

impl TaskKind for IfEval {
    fn name(&self) -> &'static str {
        "ifeval"
    }

    fn parse(&self, raw: &Value, index: usize) -> Result<Item, String> {
        let id = id_field(raw, &["key", "id"], index);
        let prompt = str_field(raw, &["prompt"])?;
        let ids = raw
            .get("instruction_id_list")
            .and_then(Value::as_array)
            .ok_or("missing list `instruction_id_list`")?;
        let kwargs = match raw.get("kwargs") {
            Some(Value::Array(k)) => k.clone(),
            None => vec![json!({}); ids.len()],
            Some(_) => return Err("field `kwargs` is not a list".to_string()),
        };
        if kwargs.len() != ids.len() {
            return Err(format!("{} instructions but {} kwargs", ids.len(), kwargs.len()));
        }
        for i in ids {
            let i = i.as_str().ok_or("an instruction id is not text")?;
            if !INSTRUCTIONS.contains(&i) {
                return Err(format!("unknown instruction `{i}`"));
            }
        }
        if ids.is_empty() {
            return Err("no instructions".to_string());
        }
        Ok(Item {
            id,
            data: json!({"prompt": prompt, "instruction_id_list": ids, "kwargs": kwargs}),
        })
    }

    fn episode(&self, item: &Item, settings: &GenSettings) -> Box<dyn Episode> {
        let prompt = item.data.get("prompt").and_then(Value::as_str).unwrap_or("");
        let ids: Vec<String> = item
            .data
            .get("instruction_id_list")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let kwargs = item.data.get("kwargs").and_then(Value::as_array).cloned().unwrap_or_default();
        let text = apply_template(settings, prompt, &[]);
        let req = request(settings, chat_or_raw(settings, None, text), &[]);
        single_turn(req, move |g| score(&g.text, &ids, &kwargs))
    }
}

/// IFEval's loose variants of a response.
fn loose_variants(response: &str) -> Vec<String> {
    let lines: Vec<&str> = response.split('\n').collect();
    let join = |from: usize, to: usize| {
        if from >= to { String::new() } else { lines[from..to].join("\n").trim().to_string() }
    };
    let n = lines.len();
    let base = [
        response.to_string(),
        join(1, n),
        join(0, n.saturating_sub(1)),
        join(1, n.saturating_sub(1)),
    ];
    let mut all: Vec<String> = base.to_vec();
    all.extend(base.iter().map(|r| r.replace('*', "")));
    all
}

pub(crate) fn score(response: &str, ids: &[String], kwargs: &[Value]) -> Score {
    let empty = json!({});
    let mut strict = Vec::new();
    let mut loose = Vec::new();
    let mut errors = Vec::new();
    let variants = loose_variants(response);
    for (i, id) in ids.iter().enumerate() {
        let kw = kwargs.get(i).unwrap_or(&empty);
        let follows = |r: &str| !r.trim().is_empty() && check(id, kw, r).unwrap_or(false);
        if let Err(e) = check(id, kw, response) {
            errors.push(e);
        }
        strict.push(follows(response));
        loose.push(variants.iter().any(|r| follows(r)));
    }
    let n = strict.len().max(1) as f64;
    let value = strict.iter().filter(|b| **b).count() as f64 / n;
    let detail = json!({
        "instructions": ids,
        "strict": strict,
        "loose": loose,
        "prompt_strict": strict.iter().all(|b| *b),
        "prompt_loose": loose.iter().all(|b| *b),
        "errors": errors,
    });
    Score { value, detail: Some(detail.to_string()), output: response.to_string() }
}

#[cfg(test)]
#[path = "ifeval_tests.rs"]
mod tests;
