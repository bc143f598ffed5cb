//! Agent tasks: multi-step tool use against the deterministic
//! [`agent_sim`](super::agent_sim) (calculator, files, calendar, key-value store),
//! scored on the state the agent leaves behind and on its final answer.
//!
//! Records (`evalsets/agent/items.jsonl`, the project's own): `id`, `instruction`,
//! optional `solution` (a reference run the tests replay), `initial` (a [`World`]: `files` {path: content}, `events` [{date, time, title}],
//! `kv` {key: value}), `expected`: [`Expected`]. Item data is the record.
//!
//! Protocol: a system message lists the tools and asks for exactly one JSON object
//! per reply, `{"tool": name, "args": {...}}` or `{"final": answer}`. Each tool
//! result goes back as a **user** message starting `Tool result (name):` — Gemma's
//! chat template accepts only alternating user/assistant turns and SmolLM2's has no
//! `tool` role, so a `tool` message would fail or be misread. Replies are parsed
//! leniently (fenced or inline JSON, `name`/`arguments`, `action`/`action_input`);
//! one that holds no call gets an error message back and costs a turn. Only a reply's
//! first JSON object counts: generation stops right after it
//! (`GenerateRequest::stop_after_json`), and what a backend generated past it is cut
//! before the reply is read and kept in the conversation — small models otherwise go
//! on to `max_tokens` every turn, inventing the tool's result and the next turns. The
//! episode ends at a final answer, after `max_turns` replies, or when
//! [`GIVE_UP_AFTER`] replies in a row held no call (the error message is a reminder of
//! the format; in every transcript of the defaults measured before this rule, 12
//! episodes, a model that missed it twice in a row never called a tool later). With
//! `constrained = true` every reply is held to a JSON schema of the tool calls and the
//! final answer.
//!
//! Score (partial credit) = checks passed / checks made, where the checks are: each
//! expected file's content (case and surrounding whitespace ignored), each file that
//! must be gone, each expected event (or the exact calendar when `events_exact`),
//! each expected key's value, the final answer (numbers compared numerically, text
//! must contain the expected words), and — one check — that no other initial file
//! or key was changed or lost. The detail names the failed checks.

use noa_engine::{ChatMessage, Constraint, Prompt};
use serde::Deserialize;
use serde_json::{Map, Value};

pub use super::agent_score::Expected;
use super::agent_score::score_state;
use super::agent_sim::{TOOLS, World};
use super::util::{json_values, request, unexpected};
use crate::kind::{Episode, GenSettings, Item, Reply, Score, Step, TaskKind};

#[derive(Debug)]
pub struct Agent;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Task {
    #[serde(default)]
    id: Option<String>,
    instruction: String,
    #[serde(default)]
    initial: World,
    expected: Expected,
    /// A reference solution (tool calls then `{"final": ...}`) that the tests replay
    /// to prove the task solvable; never shown to the model.
    #[serde(default)]
    #[allow(dead_code)]
    solution: Vec<Value>,
}

impl TaskKind for Agent {
    fn name(&self) -> &'static str {
        "agent"
    }

    fn max_requests(&self, settings: &GenSettings) -> u32 {
        settings.max_turns
    }

    fn parse(&self, raw: &Value, index: usize) -> Result<Item, String> {
        let task: Task =
            serde_json::from_value(raw.clone()).map_err(|e| format!("agent task: {e}"))?;
        let e = &task.expected;
        if e.files.is_empty()
            && e.absent_files.is_empty()
            && e.events.is_empty()
            && e.kv.is_empty()
            && e.answer.is_none()
        {
            return Err("agent task: `expected` checks nothing".to_string());
        }
        let id = task.id.clone().unwrap_or_else(|| format!("#{index}"));
        Ok(Item { id, data: raw.clone() })
    }

    fn episode(&self, item: &Item, settings: &GenSettings) -> Box<dyn Episode> {
        match serde_json::from_value::<Task>(item.data.clone()) {
            Ok(task) => Box::new(AgentEpisode::new(task, settings.clone())),
            Err(e) => Box::new(Failed(format!("agent task: {e}"))),
        }
    }
}

struct Failed(String);

impl Episode for Failed {
    fn step(&mut self, _reply: Option<Reply>) -> Step {
        Step::Done(Score { value: 0.0, detail: Some(self.0.clone()), output: String::new() })
    }
}

pub(crate) fn system_prompt() -> String {
    let tools: Vec<String> = TOOLS
        .iter()
        .map(|(name, args, what)| format!("- {name}: {what}. Arguments: {args}"))
        .collect();
    format!(
        "You are an agent that completes a task by calling tools. The tools are:\n{}\n\n\
         Each of your replies must be exactly one JSON object and nothing else:\n\
         - to call a tool: {{\"tool\": \"<tool name>\", \"args\": {{...}}}}\n\
         - when the task is done: {{\"final\": \"<your answer, or a short summary>\"}}\n\
         Call one tool per reply; you will get its result in the next message.\n\n\
         Example. Task: What is 6 times 7?\n\
         Reply: {{\"tool\": \"calculator\", \"args\": {{\"expression\": \"6 * 7\"}}}}\n\
         Message: Tool result (calculator): 42\n\
         Reply: {{\"final\": \"42\"}}",
        tools.join("\n")
    )
}

/// The JSON schema of one reply (with `constrained = true`): a call of one of the
/// tools with its string arguments, or `{"final": text}`.
pub fn reply_schema() -> Value {
    let mut branches: Vec<Value> = TOOLS
        .iter()
        .map(|(name, example, _)| {
            let keys: Vec<String> = serde_json::from_str::<Map<String, Value>>(example)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let props: Map<String, Value> =
                keys.iter().map(|k| (k.clone(), serde_json::json!({"type": "string"}))).collect();
            // `calendar_list` lists everything without a date.
            let required = if *name == "calendar_list" { Vec::new() } else { keys };
            serde_json::json!({
                "type": "object",
                "properties": {
                    "tool": {"enum": [name]},
                    "args": {"type": "object", "properties": props, "required": required},
                },
                "required": ["tool", "args"],
            })
        })
        .collect();
    branches.push(serde_json::json!({
        "type": "object",
        "properties": {"final": {"type": "string"}},
        "required": ["final"],
    }));
    serde_json::json!({"anyOf": branches})
}

/// What a reply asks for.
#[derive(Debug, PartialEq)]
pub(crate) enum Action {
    Tool(String, Map<String, Value>),
    Final(String),
    Unparsed,
}

fn args_of(v: Option<&Value>) -> Option<Map<String, Value>> {
    match v {
        None | Some(Value::Null) => Some(Map::new()),
        Some(Value::Object(m)) => Some(m.clone()),
        Some(Value::String(s)) => serde_json::from_str(s).ok(),
        Some(_) => None,
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn action_in(v: &Value) -> Option<Action> {
    let o = v.as_object()?;
    if let Some(f) = o.get("final").or_else(|| o.get("final_answer")) {
        return Some(Action::Final(text_of(f)));
    }
    let known = |n: &str| TOOLS.iter().any(|(t, _, _)| *t == n);
    for (name_key, args_keys) in [
        ("tool", &["args", "arguments", "parameters", "input"][..]),
        ("name", &["arguments", "args", "parameters"][..]),
    ] {
        if let Some(name) = o.get(name_key).and_then(Value::as_str) {
            let args = args_of(args_keys.iter().find_map(|k| o.get(*k)))?;
            return Some(Action::Tool(name.to_string(), args));
        }
    }
    if let Some(action) = o.get("action").and_then(Value::as_str) {
        let input = o.get("action_input");
        if action.to_lowercase().starts_with("final") {
            return Some(Action::Final(input.map(text_of).unwrap_or_default()));
        }
        return Some(Action::Tool(action.to_string(), args_of(input)?));
    }
    // {"read_file": {"path": ...}}
    if o.len() == 1 {
        let (k, a) = o.iter().next()?;
        if known(k) {
            return Some(Action::Tool(k.clone(), args_of(Some(a))?));
        }
    }
    None
}

/// The first action in a reply (see the module docs for what is understood).
pub(crate) fn parse_action(text: &str) -> Action {
    json_values(text).iter().find_map(action_in).unwrap_or(Action::Unparsed)
}

/// Replies in a row that held no tool call after which an episode ends.
pub const GIVE_UP_AFTER: u32 = 2;

struct AgentEpisode {
    task: Task,
    world: World,
    settings: GenSettings,
    messages: Vec<ChatMessage>,
    turns: u32,
    /// Replies in a row that held no tool call.
    unparsed: u32,
    started: bool,
}

impl AgentEpisode {
    fn new(task: Task, settings: GenSettings) -> Self {
        let messages = vec![
            ChatMessage::new("system", system_prompt()),
            ChatMessage::new("user", task.instruction.clone()),
        ];
        Self {
            world: task.initial.clone(),
            task,
            settings,
            messages,
            turns: 0,
            unparsed: 0,
            started: false,
        }
    }

    fn ask(&self) -> Step {
        let prompt = if self.settings.chat {
            Prompt::Chat(self.messages.clone())
        } else {
            let mut t: String = self
                .messages
                .iter()
                .map(|m| format!("{}: {}\n", title(&m.role), m.content))
                .collect();
            t.push_str("Assistant:");
            Prompt::Raw(t)
        };
        let stops: &[&str] = if self.settings.chat { &[] } else { &["\nUser:", "\nSystem:"] };
        let mut req = request(&self.settings, prompt, stops);
        req.stop_after_json = true;
        if self.settings.constrained {
            req.constraint = Some(Constraint::JsonSchema(reply_schema()));
        }
        Step::Generate(req)
    }

    fn transcript(&self) -> String {
        self.messages[2..]
            .iter()
            .map(|m| format!("[{}] {}", m.role, m.content))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn finish(&self, answer: Option<&str>, why_stopped: &str) -> Step {
        let (value, failed) =
            score_state(&self.task.initial, &self.world, &self.task.expected, answer);
        let mut detail = format!("{} turn(s), {why_stopped}", self.turns);
        if !failed.is_empty() {
            detail.push_str(&format!("; failed: {}", failed.join("; ")));
        }
        Step::Done(Score { value, detail: Some(detail), output: self.transcript() })
    }
}

fn title(role: &str) -> String {
    let mut c = role.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

impl Episode for AgentEpisode {
    fn step(&mut self, reply: Option<Reply>) -> Step {
        if !self.started {
            self.started = true;
            return if reply.is_none() { self.ask() } else { Step::Done(unexpected(reply)) };
        }
        let mut text = match reply {
            Some(Reply::Generated(g)) => g.text,
            other => return Step::Done(unexpected(other)),
        };
        // What a backend generated past the first object (see the module docs).
        if let Some(end) = noa_engine::first_json_object_end(&text) {
            text.truncate(end);
        }
        self.turns += 1;
        self.messages.push(ChatMessage::new("assistant", text.trim()));
        let action = parse_action(&text);
        self.unparsed = if action == Action::Unparsed { self.unparsed + 1 } else { 0 };
        let feedback = match action {
            Action::Final(answer) => return self.finish(Some(&answer), "final answer given"),
            Action::Tool(name, args) => {
                let result = self.world.call(&name, &args);
                format!("Tool result ({name}): {result}")
            }
            Action::Unparsed => "Error: your reply held no tool call. Reply with exactly one JSON object: \
                                 {\"tool\": \"<tool name>\", \"args\": {...}} or {\"final\": \"<answer>\"}."
                .to_string(),
        };
        self.messages.push(ChatMessage::new("user", feedback));
        if self.unparsed >= GIVE_UP_AFTER {
            let why = format!("gave up: {GIVE_UP_AFTER} replies in a row held no tool call");
            return self.finish(None, &why);
        }
        if self.turns >= self.settings.max_turns.max(1) {
            return self.finish(None, "turn limit reached without a final answer");
        }
        self.ask()
    }
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
