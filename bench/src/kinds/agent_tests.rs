//! Agent kind tests: every task of `evalsets/agent/items.jsonl` replayed by a
//! scripted perfect agent scores 1, a wrong or lazy agent scores less, malformed
//! replies are survived, and the turn limit holds.

use super::*;
use serde_json::json;

fn reply(text: &str) -> Option<Reply> {
    Some(Reply::Generated(crate::kinds::generated(text)))
}

fn items() -> Vec<(Item, Vec<Value>)> {
    let path = crate::kinds::manifest_dir().join("../evalsets/agent/items.jsonl");
    let text = std::fs::read_to_string(&path)
        .expect("evalsets/agent/items.jsonl is part of the repository");
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let raw: Value = serde_json::from_str(l).unwrap();
            let item = Agent.parse(&raw, i).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
            (item, raw["solution"].as_array().cloned().unwrap_or_default())
        })
        .collect()
}

/// Plays `replies` as the model's turns; returns the score.
fn play(item: &Item, replies: &[String], settings: &GenSettings) -> Score {
    let mut ep = Agent.episode(item, settings);
    let mut step = ep.step(None);
    let mut turn = 0;
    loop {
        match step {
            Step::Done(s) => return s,
            Step::Generate(req) => {
                if turn == 0 {
                    let Prompt::Chat(m) = &req.prompt else { panic!("chat prompt expected") };
                    assert_eq!(m[0].role, "system");
                    // Roles alternate user/assistant after the system message (Gemma needs it).
                    for (i, msg) in m[1..].iter().enumerate() {
                        assert_eq!(msg.role, if i % 2 == 0 { "user" } else { "assistant" });
                    }
                }
                let text = replies.get(turn).cloned().unwrap_or_default();
                turn += 1;
                step = ep.step(reply(&text));
            }
            Step::Loglikelihood(_) => panic!("agent asked for log-likelihoods"),
        }
    }
}

fn wrap(v: &Value, style: usize) -> String {
    match style % 3 {
        0 => v.to_string(),
        1 => format!("I'll do that.\n```json\n{v}\n```"),
        _ => format!("Next step: {v} (then I wait)"),
    }
}

#[test]
fn the_tasks_are_many_and_a_perfect_agent_solves_each() {
    let items = items();
    assert!(items.len() >= 30, "only {} agent tasks", items.len());
    let mut ids = std::collections::HashSet::new();
    for (i, (item, solution)) in items.iter().enumerate() {
        assert!(ids.insert(item.id.clone()), "duplicate id {}", item.id);
        assert!(!solution.is_empty(), "{} has no reference solution", item.id);
        let replies: Vec<String> = solution.iter().map(|s| wrap(s, i)).collect();
        let s = play(item, &replies, &GenSettings::default());
        assert_eq!(s.value, 1.0, "{}: {:?}\n{}", item.id, s.detail, s.output);
    }
}

#[test]
fn lazy_wrong_and_malformed_agents_score_less() {
    let items = items();
    for (item, solution) in &items {
        // Gives up at once.
        let lazy = play(item, &[json!({"final": "done"}).to_string()], &GenSettings::default());
        assert!(lazy.value < 1.0, "{}: doing nothing scored {}", item.id, lazy.value);
        // Never says anything usable: gives up after two such replies in a row,
        // without panicking; one usable call between them keeps it going until the
        // turn limit.
        let junk =
            ["", "{", "```json\n{\"tool\": 5}\n```", "I will now read the file.", "\u{0}\u{ffff}"];
        let four = GenSettings { max_turns: 4, ..Default::default() };
        for pair in junk.windows(2) {
            let s = play(item, &[pair[0].to_string(), pair[1].to_string()], &four);
            assert!(s.value < 1.0, "{}", item.id);
            let detail = s.detail.as_deref().unwrap();
            assert!(detail.contains("2 turn(s), gave up"), "{detail}");
        }
        let call = json!({"tool": "list_files", "args": {}}).to_string();
        let mixed: Vec<String> = junk.iter().flat_map(|j| [j.to_string(), call.clone()]).collect();
        let s = play(item, &mixed, &four);
        assert!(s.detail.as_deref().unwrap().contains("4 turn(s), turn limit"), "{:?}", s.detail);
        // Right steps but a wrong final answer or missing the last action.
        let truncated: Vec<String> = solution[..solution.len() - 2]
            .iter()
            .map(|s| s.to_string())
            .chain([json!({"final": "-1"}).to_string()])
            .collect();
        assert!(play(item, &truncated, &GenSettings::default()).value < 1.0, "{}", item.id);
    }
}

#[test]
fn partial_credit_counts_checks() {
    let item = Agent
        .parse(
            &json!({"id": "t", "instruction": "x", "initial": {"files": {"keep.txt": "k"}},
                    "expected": {"files": {"a.txt": "1", "b.txt": "2"}}}),
            0,
        )
        .unwrap();
    let one = [
        json!({"tool": "write_file", "args": {"path": "a.txt", "content": "1"}}),
        json!({"final": "ok"}),
    ];
    let s =
        play(&item, &one.iter().map(Value::to_string).collect::<Vec<_>>(), &GenSettings::default());
    assert!((s.value - 2.0 / 3.0).abs() < 1e-9, "{s:?}");
    let vandal =
        [json!({"tool": "delete_file", "args": {"path": "keep.txt"}}), json!({"final": "ok"})];
    let s = play(
        &item,
        &vandal.iter().map(Value::to_string).collect::<Vec<_>>(),
        &GenSettings::default(),
    );
    assert_eq!(s.value, 0.0);
}

#[test]
fn only_the_first_object_of_a_reply_is_read_and_kept() {
    let (item, _) = &items()[0];
    let mut ep = Agent.episode(item, &GenSettings::default());
    let Step::Generate(first) = ep.step(None) else { panic!("a generation first") };
    assert!(first.stop_after_json, "generation stops after the object");
    // A backend that generated on: an invented result and a second call after the first.
    let rambling = r#"Reply: {"tool": "calculator", "args": {"expression": "2 + 2"}}
Message: Tool result (calculator): 5
Reply: {"final": "5"}"#;
    let Step::Generate(next) = ep.step(reply(rambling)) else { panic!("the episode goes on") };
    let Prompt::Chat(m) = &next.prompt else { panic!("chat prompt expected") };
    assert_eq!(
        m[m.len() - 2].content,
        r#"Reply: {"tool": "calculator", "args": {"expression": "2 + 2"}}"#
    );
    assert_eq!(m[m.len() - 1].content, "Tool result (calculator): 4");
}

#[test]
fn actions_are_parsed_leniently() {
    let tool = |n: &str, a: Value| Action::Tool(n.to_string(), a.as_object().unwrap().clone());
    assert_eq!(parse_action(r#"{"tool": "list_files"}"#), tool("list_files", json!({})));
    assert_eq!(
        parse_action(r#"{"name": "read_file", "arguments": "{\"path\": \"a\"}"}"#),
        tool("read_file", json!({"path": "a"}))
    );
    assert_eq!(
        parse_action(r#"{"action": "kv_get", "action_input": {"key": "k"}}"#),
        tool("kv_get", json!({"key": "k"}))
    );
    assert_eq!(
        parse_action(r#"{"read_file": {"path": "a"}}"#),
        tool("read_file", json!({"path": "a"}))
    );
    assert_eq!(parse_action(r#"Done! {"final": 42}"#), Action::Final("42".to_string()));
    assert_eq!(parse_action("no json"), Action::Unparsed);
    assert_eq!(parse_action(r#"{"tool": "x", "args": 5}"#), Action::Unparsed);
}

#[test]
fn bad_records_are_errors() {
    assert!(
        Agent
            .parse(&json!({"instruction": "x", "expected": {}}), 0)
            .unwrap_err()
            .contains("checks nothing")
    );
    assert!(Agent.parse(&json!({"instruction": "x"}), 0).is_err());
    assert!(
        Agent
            .parse(&json!({"instruction": "x", "expected": {"answer": "1"}, "typo": 1}), 0)
            .is_err()
    );
    assert!(
        Agent
            .parse(&json!({"instruction": "x", "expected": {"events": [{"date": "d"}]}}), 0)
            .is_err()
    );
}

#[test]
fn constrained_replies_follow_a_schema_of_the_tools() {
    let (item, _) = items().remove(0);
    let mut ep = Agent.episode(&item, &GenSettings { constrained: true, ..Default::default() });
    let Step::Generate(req) = ep.step(None) else { panic!("expected a generation") };
    let Some(noa_engine::Constraint::JsonSchema(schema)) = req.constraint else {
        panic!("no schema")
    };
    let branches = schema["anyOf"].as_array().unwrap();
    assert_eq!(branches.len(), TOOLS.len() + 1);
    assert_eq!(branches[2]["properties"]["tool"]["enum"][0], "read_file");
    assert_eq!(branches[2]["properties"]["args"]["required"], json!(["path"]));
    assert_eq!(branches.last().unwrap()["required"], json!(["final"]));
    let free = Agent.episode(&item, &GenSettings::default()).step(None);
    assert!(matches!(free, Step::Generate(r) if r.constraint.is_none()));
}
