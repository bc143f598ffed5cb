//! HumanEval (code generation): the model completes a Python function and the
//! dataset's own unit tests decide, run in the [`sandbox`](super::sandbox).
//!
//! Records are the lines of `HumanEval.jsonl.gz`: `task_id`, `prompt` (signature and
//! docstring), `entry_point`, `test` (defines `check(candidate)`), and optionally
//! `canonical_solution`. Item data keeps `prompt`, `entry_point`, `test`.
//!
//! Chat mode asks for the whole function in a ```python block; the block that
//! defines `entry_point` (else the first) is appended after the prompt, so helper
//! functions and imports of the prompt stay defined. A block without the `def` is
//! taken as the body that continues the prompt. Raw mode (`chat = false`) sends the
//! prompt verbatim and stops at the next top-level statement, as in the Codex paper.

use std::time::Duration;

use noa_engine::Prompt;
use serde_json::{Value, json};

use super::sandbox::{Outcome, run_python};
use super::util::{apply_template, chat_or_raw, fenced_blocks, request, single_turn, str_field};
use crate::kind::{Episode, GenSettings, Item, Score, TaskKind};

/// Stops of raw completion: the function is over when top-level code starts.
const RAW_STOPS: &[&str] = &["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert "];

#[derive(Debug)]
pub struct HumanEval;

impl TaskKind for HumanEval {
    fn name(&self) -> &'static str {
        "humaneval"
    }

    fn parse(&self, raw: &Value, index: usize) -> Result<Item, String> {
        let id = super::util::id_field(raw, &["task_id", "id"], index);
        let prompt = str_field(raw, &["prompt"])?;
        let entry_point = str_field(raw, &["entry_point"])?;
        let test = str_field(raw, &["test"])?;
        if entry_point.trim().is_empty() {
            return Err("field `entry_point` is empty".to_string());
        }
        Ok(Item { id, data: json!({"prompt": prompt, "entry_point": entry_point, "test": test}) })
    }

    fn episode(&self, item: &Item, settings: &GenSettings) -> Box<dyn Episode> {
        let field = |k: &str| item.data.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (prompt, entry_point, test) = (field("prompt"), field("entry_point"), field("test"));
        let chat = settings.chat;
        let req = if chat {
            let user = format!(
                "Complete the following Python function. Reply with the complete function, \
                 including its signature and any imports it needs, in a single ```python code \
                 block.\n\n```python\n{prompt}\n```"
            );
            let user = apply_template(settings, &user, &[("code", &prompt)]);
            request(settings, chat_or_raw(settings, None, user), &[])
        } else {
            let text = apply_template(settings, &prompt, &[]);
            request(settings, Prompt::Raw(text), RAW_STOPS)
        };
        let timeout = Duration::from_secs_f64(settings.scorer_timeout_s.clamp(0.5, 600.0));
        single_turn(req, move |g| {
            let program = assemble(&prompt, &entry_point, &g.text, chat);
            score_program(&program, &test, &entry_point, timeout, g.text.clone())
        })
    }
}

/// The program to test: the prompt followed by the model's code.
pub(crate) fn assemble(prompt: &str, entry_point: &str, output: &str, chat: bool) -> String {
    if !chat {
        return format!("{prompt}{output}");
    }
    let def = format!("def {entry_point}(");
    let blocks = fenced_blocks(output);
    let code = blocks
        .iter()
        .find(|(_, b)| b.contains(&def))
        .or_else(|| blocks.iter().find(|(lang, _)| lang.is_empty() || lang.starts_with("py")))
        .map(|(_, b)| b.clone())
        .unwrap_or_else(|| output.to_string());
    if code.contains(&def) {
        format!("{prompt}\n    pass\n\n{code}")
    } else {
        format!("{prompt}{code}")
    }
}

/// Runs `program` + the dataset's tests + `check(entry_point)` in the sandbox.
pub(crate) fn score_program(
    program: &str,
    test: &str,
    entry_point: &str,
    timeout: Duration,
    output: String,
) -> Score {
    let full = format!("{program}\n\n{test}\n\ncheck({entry_point})\n");
    let run = run_python(&full, timeout);
    let (value, detail) = match run.outcome {
        Outcome::Passed => (1.0, "passed".to_string()),
        Outcome::Failed(why) => (0.0, format!("failed: {why}")),
        Outcome::TimedOut => (0.0, format!("timed out after {:.1}s", timeout.as_secs_f64())),
        Outcome::Error(e) => (0.0, format!("sandbox error: {e}")),
    };
    Score { value, detail: Some(detail), output }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::{Reply, Step};

    fn gen_reply(text: &str) -> Option<Reply> {
        Some(Reply::Generated(crate::kinds::generated(text)))
    }

    fn item() -> Item {
        let raw = json!({
            "task_id": "T/0",
            "prompt": "import math\n\ndef helper(x):\n    return x\n\ndef add(a: int, b: int) -> int:\n    \"\"\"Add two numbers.\"\"\"\n",
            "entry_point": "add",
            "canonical_solution": "    return a + b\n",
            "test": "\ndef check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n",
        });
        HumanEval.parse(&raw, 0).unwrap()
    }

    fn score(text: &str, chat: bool) -> Score {
        let settings = GenSettings { chat, scorer_timeout_s: 2.0, ..Default::default() };
        let mut ep = HumanEval.episode(&item(), &settings);
        let Step::Generate(req) = ep.step(None) else { panic!("expected a generation") };
        if !chat {
            assert!(
                matches!(req.prompt, Prompt::Raw(ref p) if p.ends_with("\"\"\"Add two numbers.\"\"\"\n"))
            );
            assert!(req.stop.contains(&"\ndef ".to_string()));
        }
        match ep.step(gen_reply(text)) {
            Step::Done(s) => s,
            other => panic!("expected a score, got {other:?}"),
        }
    }

    #[test]
    fn right_answers_pass_in_both_modes() {
        let s =
            score("Here:\n```python\ndef add(a, b):\n    return helper(a) + b\n```\nDone.", true);
        assert_eq!(s.value, 1.0, "{s:?}");
        assert_eq!(score("```python\n    return a + b\n```", true).value, 1.0);
        assert_eq!(score("    return a + b\n", false).value, 1.0);
        assert_eq!(score("def add(a, b):\n    return a + b\n", true).value, 1.0);
    }

    #[test]
    fn wrong_crashing_looping_and_networking_answers_fail() {
        let wrong = score("```python\ndef add(a, b):\n    return a - b\n```", true);
        assert_eq!(wrong.value, 0.0);
        assert!(wrong.detail.unwrap().contains("AssertionError"));
        assert_eq!(
            score("```python\ndef add(a, b):\n    raise ValueError('x')\n```", true).value,
            0.0
        );
        assert_eq!(score("    import sys\n    sys.exit(0)\n", false).value, 0.0);
        let lp = score("```python\ndef add(a, b):\n    while True:\n        pass\n```", true);
        assert_eq!(lp.value, 0.0);
        assert!(lp.detail.unwrap().contains("timed out"));
        let net = "```python\ndef add(a, b):\n    import socket\n    socket.create_connection(('127.0.0.1', 80))\n    return a + b\n```";
        assert_eq!(score(net, true).value, 0.0);
        assert_eq!(score("I cannot help with that.", true).value, 0.0);
        assert_eq!(score("", false).value, 0.0);
    }

    #[test]
    fn canonical_solutions_of_the_real_data_pass() {
        let Some(path) = super::super::test_data("humaneval/HumanEval.jsonl.gz") else { return };
        let file = std::fs::File::open(&path).unwrap();
        let text = std::io::read_to_string(flate2::read::GzDecoder::new(file)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 164);
        for (i, line) in lines.iter().enumerate().step_by(41) {
            let raw: Value = serde_json::from_str(line).unwrap();
            let item = HumanEval.parse(&raw, i).unwrap();
            let d = &item.data;
            let s = |k: &str| d[k].as_str().unwrap().to_string();
            let canonical = raw["canonical_solution"].as_str().unwrap();
            let good = assemble(&s("prompt"), &s("entry_point"), canonical, false);
            let r = score_program(
                &good,
                &s("test"),
                &s("entry_point"),
                Duration::from_secs(10),
                String::new(),
            );
            assert_eq!(r.value, 1.0, "{}: {r:?}", item.id);
            let bad = assemble(&s("prompt"), &s("entry_point"), "    return None\n", false);
            let r = score_program(
                &bad,
                &s("test"),
                &s("entry_point"),
                Duration::from_secs(10),
                String::new(),
            );
            assert_eq!(r.value, 0.0, "{}: {r:?}", item.id);
        }
    }
}
