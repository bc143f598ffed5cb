//! The deterministic tool simulator the `agent` kind's tasks run against: a
//! calculator, a small in-memory file system, a calendar and a key-value store. The
//! same calls on the same state always give the same results, so the final state is
//! a fair thing to score. Bad calls (unknown tool, missing argument, missing file)
//! return an `error: ...` text and change nothing, as a real tool would.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use super::agent_calc::{eval, format_number};

/// A calendar entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Event {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM`.
    pub time: String,
    pub title: String,
}

/// Everything the tools can see and change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub events: Vec<Event>,
    #[serde(default)]
    pub kv: BTreeMap<String, String>,
}

/// The tools, as described to the model: `(name, arguments, what it does)`.
pub const TOOLS: &[(&str, &str, &str)] = &[
    (
        "calculator",
        r#"{"expression": "2 * (3 + 4)"}"#,
        "evaluates arithmetic with + - * / % ^ and parentheses",
    ),
    ("list_files", "{}", "lists the paths of all files"),
    ("read_file", r#"{"path": "notes.txt"}"#, "returns the content of a file"),
    ("write_file", r#"{"path": "out.txt", "content": "text"}"#, "creates or replaces a file"),
    ("delete_file", r#"{"path": "old.txt"}"#, "deletes a file"),
    (
        "calendar_add",
        r#"{"date": "2025-03-14", "time": "09:30", "title": "Dentist"}"#,
        "adds an event",
    ),
    (
        "calendar_list",
        r#"{"date": "2025-03-14"}"#,
        "lists the events of a date (all events without a date)",
    ),
    (
        "calendar_delete",
        r#"{"date": "2025-03-14", "title": "Dentist"}"#,
        "deletes the events of that date with that title",
    ),
    ("kv_set", r#"{"key": "k", "value": "v"}"#, "stores a value under a key"),
    ("kv_get", r#"{"key": "k"}"#, "returns the value stored under a key"),
];

/// `notes.txt`, `/notes.txt` and `./notes.txt` are the same file.
pub fn norm_path(p: &str) -> String {
    p.trim().trim_start_matches("./").trim_start_matches('/').to_string()
}

/// Scalar arguments as text (models pass numbers for text and vice versa).
fn arg(args: &Map<String, Value>, key: &str) -> Result<String, String> {
    match args.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        _ => Err(format!("error: missing argument `{key}`")),
    }
}

fn valid_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && d.chars().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// `9:30` → `09:30`; `None` unless it is a clock time.
fn norm_time(t: &str) -> Option<String> {
    let (h, m) = t.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then(|| format!("{h:02}:{m:02}"))
}

impl World {
    /// Runs one tool call and returns what the tool says.
    pub fn call(&mut self, tool: &str, args: &Map<String, Value>) -> String {
        self.try_call(tool, args).unwrap_or_else(|e| e)
    }

    fn try_call(&mut self, tool: &str, args: &Map<String, Value>) -> Result<String, String> {
        match tool {
            "calculator" => Ok(format_number(
                eval(&arg(args, "expression")?).map_err(|e| format!("error: {e}"))?,
            )),
            "list_files" | "read_file" | "write_file" | "delete_file" => self.file_call(tool, args),
            "calendar_add" => self.calendar_add(args),
            "calendar_list" => Ok(self.calendar_list(args)),
            "calendar_delete" => self.calendar_delete(args),
            "kv_set" => {
                let key = arg(args, "key")?;
                let value = arg(args, "value")?;
                self.kv.insert(key.clone(), value);
                Ok(format!("stored `{key}`"))
            }
            "kv_get" => {
                let key = arg(args, "key")?;
                self.kv.get(&key).cloned().ok_or(format!("error: no key `{key}`"))
            }
            other => Err(format!("error: unknown tool `{other}`")),
        }
    }

    /// `list_files`, `read_file`, `write_file`, `delete_file`.
    fn file_call(&mut self, tool: &str, args: &Map<String, Value>) -> Result<String, String> {
        if tool == "list_files" {
            return Ok(if self.files.is_empty() {
                "(no files)".to_string()
            } else {
                self.files.keys().cloned().collect::<Vec<_>>().join("\n")
            });
        }
        let p = norm_path(&arg(args, "path")?);
        match tool {
            "read_file" => self.files.get(&p).cloned().ok_or(format!("error: no file `{p}`")),
            "write_file" => {
                if p.is_empty() {
                    return Err("error: empty path".to_string());
                }
                let content = arg(args, "content")?;
                self.files.insert(p.clone(), content);
                Ok(format!("wrote `{p}`"))
            }
            _ => {
                self.files.remove(&p).ok_or(format!("error: no file `{p}`"))?;
                Ok(format!("deleted `{p}`"))
            }
        }
    }

    fn calendar_add(&mut self, args: &Map<String, Value>) -> Result<String, String> {
        let date = arg(args, "date")?.trim().to_string();
        if !valid_date(&date) {
            return Err(format!("error: date `{date}` is not YYYY-MM-DD"));
        }
        let raw_time = arg(args, "time")?;
        let time = norm_time(&raw_time).ok_or(format!("error: time `{raw_time}` is not HH:MM"))?;
        let title = arg(args, "title")?.trim().to_string();
        let line = format!("added {date} {time} {title}");
        self.events.push(Event { date, time, title });
        self.events.sort();
        Ok(line)
    }

    /// The events of `date`, or all of them without one.
    fn calendar_list(&self, args: &Map<String, Value>) -> String {
        let date =
            args.get("date").and_then(Value::as_str).map(str::trim).filter(|d| !d.is_empty());
        let lines: Vec<String> = self
            .events
            .iter()
            .filter(|e| date.is_none_or(|d| e.date == d))
            .map(|e| format!("{} {} {}", e.date, e.time, e.title))
            .collect();
        if lines.is_empty() { "(no events)".to_string() } else { lines.join("\n") }
    }

    fn calendar_delete(&mut self, args: &Map<String, Value>) -> Result<String, String> {
        let date = arg(args, "date")?.trim().to_string();
        let title = arg(args, "title")?.trim().to_lowercase();
        let before = self.events.len();
        self.events.retain(|e| !(e.date == date && e.title.to_lowercase() == title));
        match before - self.events.len() {
            0 => Err(format!("error: no event `{title}` on {date}")),
            n => Ok(format!("deleted {n} event(s)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(w: &mut World, tool: &str, args: Value) -> String {
        w.call(tool, args.as_object().unwrap())
    }

    #[test]
    fn tools_change_state_and_report_errors() {
        let mut w = World::default();
        assert_eq!(
            call(&mut w, "write_file", json!({"path": "/a.txt", "content": "hi"})),
            "wrote `a.txt`"
        );
        assert_eq!(call(&mut w, "read_file", json!({"path": "./a.txt"})), "hi");
        assert_eq!(call(&mut w, "list_files", json!({})), "a.txt");
        assert!(call(&mut w, "read_file", json!({"path": "b.txt"})).starts_with("error:"));
        assert!(call(&mut w, "write_file", json!({"path": "b.txt"})).starts_with("error:"));
        assert_eq!(
            call(
                &mut w,
                "calendar_add",
                json!({"date": "2025-01-02", "time": "9:05", "title": "X"})
            ),
            "added 2025-01-02 09:05 X"
        );
        assert!(
            call(&mut w, "calendar_add", json!({"date": "Jan 2", "time": "9:05", "title": "X"}))
                .starts_with("error:")
        );
        assert_eq!(
            call(&mut w, "calendar_list", json!({"date": "2025-01-02"})),
            "2025-01-02 09:05 X"
        );
        assert_eq!(
            call(&mut w, "calendar_delete", json!({"date": "2025-01-02", "title": "x"})),
            "deleted 1 event(s)"
        );
        assert_eq!(call(&mut w, "kv_set", json!({"key": "n", "value": 5})), "stored `n`");
        assert_eq!(call(&mut w, "kv_get", json!({"key": "n"})), "5");
        assert!(call(&mut w, "rm_rf", json!({})).starts_with("error: unknown tool"));
        assert_eq!(call(&mut w, "delete_file", json!({"path": "a.txt"})), "deleted `a.txt`");
        assert!(w.files.is_empty() && w.events.is_empty());
    }
}
