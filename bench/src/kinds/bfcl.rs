//! BFCL function calling (`simple` = `BFCL_v*_simple_python.json`, `multiple` =
//! `BFCL_v*_multiple.json` from the `bfcl-eval` package's `bfcl_eval/data/`): the
//! model sees the documented functions and a request, answers with a JSON call, and
//! the call is matched against BFCL's possible answers ([`bfcl_match`](super::bfcl_match)).
//!
//! **Join.** BFCL keeps questions and answers in two JSON-lines files with the same
//! name: `data/BFCL_v4_simple_python.json` (`id`, `question`: list of turns, each a
//! list of `{role, content}`; `function`: list of docs `{name, description,
//! parameters: {type: "dict", properties, required}}`) and
//! `data/possible_answer/BFCL_v4_simple_python.json` (`id`, `ground_truth`: list of
//! `{function_name: {param: [allowed values]}}`). The loader reads both and calls
//! [`join`], which adds each answer's `ground_truth` to the question record of the
//! same `id`; questions without an answer are left out. `parse` takes the joined
//! record (or any record with `question`, `function`, `ground_truth`).
//!
//! Item data: `messages` (the first turn), `functions`, `ground_truth`.
//!
//! Prompt: a system message listing the functions as JSON and asking for only a
//! JSON call `{"name": ..., "arguments": {...}}` (a list for several calls). With
//! `constrained = true` the request carries a JSON schema built from the docs
//! (BFCL's `dict` → `object`, `float` → `number`, `tuple` → `array`, `any` →
//! `string`; one `anyOf` branch per function, `name` fixed by an `enum`).
//! Output parsing is lenient: fenced or inline JSON, `arguments` as a JSON string,
//! OpenAI-style `{"function": {...}}`, BFCL-style `{"fname": {args}}`, a list, or
//! failing JSON, Python call syntax `[fname(a=1)]` ([`pycall`](super::pycall)).
//! Only the Python categories are supported: Java/JavaScript records carry their
//! arguments as source strings that need BFCL's type converters.

use noa_engine::{ChatMessage, Constraint, Prompt};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

use super::bfcl_match::{Call, check_calls};
use super::pycall::parse_python_calls;
use super::util::{id_field, json_values, request, single_turn};
use crate::kind::{Episode, GenSettings, Item, Score, TaskKind};

#[derive(Debug)]
pub struct Bfcl;

/// Adds to each question record the `ground_truth` of the answer record with the same
/// `id`. Questions without an answer are left out; see the module docs.
pub fn join(questions: &[Value], answers: &[Value]) -> Vec<Value> {
    let by_id: HashMap<&str, &Value> = answers
        .iter()
        .filter_map(|a| Some((a.get("id")?.as_str()?, a.get("ground_truth")?)))
        .collect();
    questions
        .iter()
        .filter_map(|q| {
            let gt = by_id.get(q.get("id")?.as_str()?)?;
            let mut q = q.clone();
            q.as_object_mut()?.insert("ground_truth".to_string(), (*gt).clone());
            Some(q)
        })
        .collect()
}

/// A BFCL parameter doc → a JSON schema a GBNF converter handles.
fn schema_of(doc: &Value) -> Value {
    let t = doc.get("type").and_then(Value::as_str).unwrap_or("string");
    let mut s = match t {
        "dict" | "object" => match doc.get("properties").and_then(Value::as_object) {
            Some(props) => object_schema(props, doc.get("required")),
            None => json!({"type": "object"}),
        },
        "float" | "number" => json!({"type": "number"}),
        "integer" => json!({"type": "integer"}),
        "boolean" => json!({"type": "boolean"}),
        "array" | "tuple" => match doc.get("items") {
            Some(items) => json!({"type": "array", "items": schema_of(items)}),
            None => json!({"type": "array"}),
        },
        _ => json!({"type": "string"}),
    };
    if let Some(e) = doc.get("enum").and_then(Value::as_array)
        && !e.is_empty()
    {
        s = json!({"enum": e});
    }
    s
}

fn object_schema(props: &Map<String, Value>, required: Option<&Value>) -> Value {
    let properties: Map<String, Value> =
        props.iter().map(|(k, v)| (k.clone(), schema_of(v))).collect();
    let required: Vec<Value> = required
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter(|n| n.as_str().is_some_and(|n| props.contains_key(n)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// The schema of one call `{"name", "arguments"}` to any of `functions` (a list of
/// `n_calls` of them when more than one call is expected).
pub(crate) fn call_schema(functions: &[Value], n_calls: usize) -> Value {
    let branches: Vec<Value> = functions
        .iter()
        .filter_map(|f| {
            let name = f.get("name")?.as_str()?;
            let params = f.get("parameters");
            let props = params.and_then(|p| p.get("properties")).and_then(Value::as_object);
            let args = match props {
                Some(p) => object_schema(p, params.and_then(|p| p.get("required"))),
                None => json!({"type": "object"}),
            };
            Some(json!({
                "type": "object",
                "properties": {"name": {"enum": [name]}, "arguments": args},
                "required": ["name", "arguments"],
                "additionalProperties": false,
            }))
        })
        .collect();
    let one = if branches.len() == 1 { branches[0].clone() } else { json!({"anyOf": branches}) };
    if n_calls > 1 { json!({"type": "array", "items": one, "minItems": 1}) } else { one }
}

/// Calls in one JSON value, if it is shaped like calls.
fn calls_in(v: &Value, known: &[&str]) -> Option<Vec<Call>> {
    match v {
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(|i| one_call(i, known)).collect()
        }
        Value::Object(o) => {
            for key in ["tool_calls", "calls", "function_calls"] {
                if let Some(list) = o.get(key) {
                    return calls_in(list, known);
                }
            }
            one_call(v, known).map(|c| vec![c])
        }
        _ => None,
    }
}

fn one_call(v: &Value, known: &[&str]) -> Option<Call> {
    let o = v.as_object()?;
    if let Some(f) = o.get("function").filter(|f| f.is_object()) {
        return one_call(f, known);
    }
    let args_of = |a: &Value| match a {
        Value::Object(m) => Some(m.clone()),
        Value::String(s) => serde_json::from_str::<Map<String, Value>>(s).ok(),
        Value::Null => Some(Map::new()),
        _ => None,
    };
    let name = o.get("name").or_else(|| o.get("function")).and_then(Value::as_str);
    if let Some(name) = name {
        let args = match ["arguments", "parameters", "args"].iter().find_map(|k| o.get(*k)) {
            Some(a) => args_of(a)?,
            None => Map::new(),
        };
        return Some(Call { name: name.to_string(), args });
    }
    if o.len() == 1 {
        let (k, a) = o.iter().next()?;
        if known.contains(&k.as_str()) {
            return Some(Call { name: k.clone(), args: args_of(a)? });
        }
    }
    None
}

/// The calls the model made: from the first JSON in its output shaped like calls.
pub(crate) fn parse_calls(output: &str, functions: &[Value]) -> Option<Vec<Call>> {
    let known: Vec<&str> = functions.iter().filter_map(|f| f.get("name")?.as_str()).collect();
    json_values(output)
        .iter()
        .find_map(|v| calls_in(v, &known))
        .or_else(|| parse_python_calls(output, &known))
}

impl TaskKind for Bfcl {
    fn name(&self) -> &'static str {
        "bfcl"
    }

    fn parse(&self, raw: &Value, index: usize) -> Result<Item, String> {
        let id = id_field(raw, &["id"], index);
        if id.contains("_java_") || id.contains("_javascript_") {
            return Err(format!(
                "record `{id}`: BFCL Java/JavaScript categories are not supported"
            ));
        }
        let messages = match raw.get("question") {
            Some(Value::String(s)) => vec![json!({"role": "user", "content": s})],
            Some(Value::Array(turns)) => match turns.first() {
                Some(Value::Array(first)) => first.clone(),
                Some(Value::Object(_)) => turns.clone(),
                _ => return Err(format!("record `{id}`: `question` has no turns")),
            },
            _ => return Err(format!("record `{id}`: missing field `question`")),
        };
        if messages.iter().any(|m| m.get("content").and_then(Value::as_str).is_none()) {
            return Err(format!("record `{id}`: a message has no text `content`"));
        }
        let functions = match raw.get("function") {
            Some(Value::Array(f)) => f.clone(),
            Some(f @ Value::Object(_)) => vec![f.clone()],
            _ => return Err(format!("record `{id}`: missing field `function`")),
        };
        let ground_truth = match raw.get("ground_truth") {
            Some(Value::Array(g)) if !g.is_empty() && g.iter().all(Value::is_object) => g.clone(),
            Some(Value::Object(o)) => vec![Value::Object(o.clone())],
            _ => {
                return Err(format!(
                    "record `{id}`: no `ground_truth` (join the possible-answer file)"
                ));
            }
        };
        Ok(Item {
            id,
            data: json!({"messages": messages, "functions": functions, "ground_truth": ground_truth}),
        })
    }

    fn episode(&self, item: &Item, settings: &GenSettings) -> Box<dyn Episode> {
        let arr = |k: &str| item.data.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
        let (messages, functions, ground_truth) =
            (arr("messages"), arr("functions"), arr("ground_truth"));
        let docs = serde_json::to_string_pretty(&functions).unwrap_or_default();
        let system = format!(
            "You are an expert in composing function calls. You are given a question and a set \
             of possible functions. Based on the question, make the function call that achieves \
             the purpose.\n\nHere is a list of functions in JSON format that you can invoke:\n\
             {docs}\n\nRespond with only the call as JSON, with no other text: \
             {{\"name\": \"<function name>\", \"arguments\": {{<argument name>: <value>, ...}}}}. \
             If several calls are needed, respond with a JSON list of such objects."
        );
        let chat: Vec<ChatMessage> = messages
            .iter()
            .map(|m| {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                ChatMessage::new(role, m.get("content").and_then(Value::as_str).unwrap_or(""))
            })
            .collect();
        let prompt = if settings.chat {
            let mut all = vec![ChatMessage::new("system", system)];
            all.extend(chat);
            Prompt::Chat(all)
        } else {
            let turns: Vec<String> =
                chat.iter().map(|m| format!("{}: {}", m.role, m.content)).collect();
            Prompt::Raw(format!("{system}\n\n{}\nassistant:", turns.join("\n")))
        };
        // A base model given raw turns writes the next ones too, to `max_tokens`.
        let stops: &[&str] = if settings.chat { &[] } else { &["\nuser:", "\nsystem:"] };
        let mut req = request(settings, prompt, stops);
        if settings.constrained {
            req.constraint =
                Some(Constraint::JsonSchema(call_schema(&functions, ground_truth.len())));
        }
        single_turn(req, move |g| score(&g.text, &functions, &ground_truth))
    }
}

fn score(output: &str, functions: &[Value], ground_truth: &[Value]) -> Score {
    let (value, detail) = match parse_calls(output, functions) {
        None => (0.0, "no JSON function call in the output".to_string()),
        Some(calls) => match check_calls(functions, &calls, ground_truth) {
            Ok(()) => (1.0, "match".to_string()),
            Err(e) => (0.0, e),
        },
    };
    Score { value, detail: Some(detail), output: output.to_string() }
}

#[cfg(test)]
#[path = "bfcl_tests.rs"]
mod tests;
