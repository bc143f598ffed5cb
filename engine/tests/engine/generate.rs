//! Generation: determinism, batching equals single runs, stop strings, max tokens,
//! grammar / JSON-schema constraints, streaming, and a too-long prompt failing alone.

use noa_engine::{
    ChatMessage, Constraint, EngineError, FinishReason, GenerateRequest, Model, Prompt, StreamEvent,
};

use crate::common::{gemma, smollm};

fn ask(q: &str, max_tokens: u32) -> GenerateRequest {
    GenerateRequest::chat(vec![ChatMessage::new("user", q)], max_tokens)
}

#[test]
fn greedy_generation_is_deterministic_and_non_empty() {
    for m in [smollm(), gemma()] {
        let a = m.generate(ask("Name a colour.", 12)).unwrap();
        let b = m.generate(ask("Name a colour.", 12)).unwrap();
        assert!(!a.text.trim().is_empty(), "empty output from {}", m.info().path);
        assert_eq!(a.text, b.text);
        assert!(a.gen_tokens >= 1 && a.prompt_tokens > 5);
        let t = &a.timings;
        assert!(t.ttft_ms > 0.0 && t.e2e_ms >= t.ttft_ms && t.prompt_tps > 0.0);
        assert_eq!(t.inter_token_ms.len() as u32, a.gen_tokens - 1);
    }
}

#[test]
fn batch_gives_the_same_texts_as_single_runs() {
    let m = smollm();
    let qs = [
        "What is 2+2?",
        "Name a fruit.",
        "Say hello.",
        "What colour is the sky?",
        "Count to three.",
        "Name a dog breed.",
    ];
    let batch = m.generate_batch(qs.iter().map(|q| ask(q, 10)).collect());
    assert_eq!(batch.len(), qs.len());
    for (q, b) in qs.iter().zip(batch) {
        let single = m.generate(ask(q, 10)).unwrap();
        assert_eq!(b.unwrap().text, single.text, "for {q:?}");
    }
}

#[test]
fn stop_string_cuts_output_before_it() {
    let m = smollm();
    let free = m
        .generate(GenerateRequest { prompt: Prompt::Raw("1, 2, 3, 4, 5,".into()), ..ask("", 12) })
        .unwrap();
    assert!(free.text.contains(" 7"), "model did not count: {:?}", free.text);
    let req = GenerateRequest {
        prompt: Prompt::Raw("1, 2, 3, 4, 5,".into()),
        stop: vec![" 7".into()],
        ..ask("", 12)
    };
    let out = m.generate(req).unwrap();
    assert_eq!(out.finish, FinishReason::Stop);
    assert_eq!(out.text, free.text[..free.text.find(" 7").unwrap()]);
}

#[test]
fn max_tokens_limits_generation() {
    let out = smollm().generate(ask("Write a long story about a cat.", 5)).unwrap();
    assert_eq!(out.finish, FinishReason::Length);
    assert_eq!(out.gen_tokens, 5);
    let zero = smollm().generate(ask("Hi", 0)).unwrap();
    assert_eq!((zero.gen_tokens, zero.text.as_str()), (0, ""));
}

#[test]
fn json_schema_constraint_yields_parseable_json() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"]
    });
    for m in [smollm(), gemma()] {
        let req = GenerateRequest {
            constraint: Some(Constraint::JsonSchema(schema.clone())),
            ..ask("Give a person as JSON with name and age.", 60)
        };
        let out = m.generate(req).unwrap();
        assert_eq!(out.finish, FinishReason::Constraint, "{:?}", out.text);
        let v: serde_json::Value =
            serde_json::from_str(&out.text).unwrap_or_else(|e| panic!("{e}: {:?}", out.text));
        assert!(v["name"].is_string() && v["age"].is_i64(), "{v}");
    }
}

#[test]
fn gbnf_constraint_and_invalid_grammar() {
    let m = smollm();
    let req = GenerateRequest {
        constraint: Some(Constraint::Gbnf(r#"root ::= ("yes" | "no")"#.into())),
        ..ask("Is water wet?", 8)
    };
    let out = m.generate(req).unwrap();
    assert!(out.text == "yes" || out.text == "no", "{:?}", out.text);
    assert_eq!(out.finish, FinishReason::Constraint);
    for bad in ["root ::= (", "root ::= undefined-rule", "start ::= \"x\""] {
        let req = GenerateRequest { constraint: Some(Constraint::Gbnf(bad.into())), ..ask("x", 4) };
        assert!(matches!(m.generate(req), Err(EngineError::Constraint(_))), "{bad}");
    }
}

#[test]
fn streaming_yields_the_same_text_as_non_streaming() {
    let m = gemma();
    let req = GenerateRequest { stop: vec!["\n\n".into()], ..ask("List three animals.", 24) };
    let whole = m.generate(req.clone()).unwrap();
    let rx = m.generate_stream(req).unwrap();
    let mut text = String::new();
    let mut done = None;
    for ev in rx {
        match ev {
            StreamEvent::Token(t) => text.push_str(&t),
            StreamEvent::Done(g) => done = Some(g),
            StreamEvent::Failed(e) => panic!("{e}"),
        }
    }
    assert_eq!(text, whole.text);
    assert_eq!(done.unwrap().text, whole.text);
}

#[test]
fn too_long_prompt_fails_only_that_request() {
    let m = smollm();
    let long = "word ".repeat(2000);
    let out = m.generate_batch(vec![
        ask("Say hi.", 4),
        GenerateRequest { prompt: Prompt::Raw(long), ..ask("", 4) },
        ask("Say bye.", 4),
    ]);
    assert!(out[0].is_ok() && out[2].is_ok());
    assert!(matches!(out[1], Err(EngineError::PromptTooLong { n_ctx: 512, .. })), "{:?}", out[1]);
}

#[test]
fn sampling_with_seed_is_reproducible() {
    let m = smollm();
    let req = GenerateRequest { temperature: 0.9, seed: 42, ..ask("Tell me a word.", 8) };
    let a = m.generate(req.clone()).unwrap();
    let b = m.generate(req).unwrap();
    assert_eq!(a.text, b.text);
}

#[test]
fn a_passed_deadline_cuts_only_that_request() {
    let m = smollm();
    let story = || ask("Write a very long story about a cat and a dog.", 400);
    let cut = GenerateRequest {
        deadline: Some(std::time::Instant::now() + std::time::Duration::from_millis(150)),
        ..story()
    };
    let expired = GenerateRequest { deadline: Some(std::time::Instant::now()), ..ask("Hi", 4) };
    let out = m.generate_batch(vec![story(), cut, expired]);
    assert!(matches!(out[1], Err(EngineError::DeadlinePassed)), "{:?}", out[1]);
    assert!(matches!(out[2], Err(EngineError::DeadlinePassed)), "{:?}", out[2]);
    let whole = out[0].as_ref().unwrap();
    assert!(whole.gen_tokens > 20, "the request without a deadline ran on: {whole:?}");
    assert_eq!(whole.text, m.generate(story()).unwrap().text, "the cut did not disturb it");
}

#[test]
fn a_shared_prompt_prefix_is_reused_when_asked_and_only_then() {
    // One conversation, then its continuation: the second prompt starts with the
    // first prompt and reply, as an agent's next turn does. Own copies of the models,
    // so that tests running beside this one cannot take the slot holding the prefix.
    let first = vec![ChatMessage::new("user", "Name three fruits.")];
    let mut on = crate::common::config();
    on.prefix_cache = true;
    for file in [crate::common::SMOLLM, crate::common::GEMMA] {
        let path = crate::common::model_path(file);
        let m = Model::load(&path, &on).unwrap();
        let a = m.generate(GenerateRequest::chat(first.clone(), 16)).unwrap();
        assert_eq!(a.cached_tokens, 0, "nothing to reuse yet");
        let mut next = first.clone();
        next.push(ChatMessage::new("assistant", a.text.clone()));
        next.push(ChatMessage::new("user", "Now name three vegetables."));
        let b = m.generate(GenerateRequest::chat(next.clone(), 16)).unwrap();
        assert_eq!(b.cached_tokens, a.prompt_tokens, "{file}: the first prompt is reused");
        assert!(!b.text.trim().is_empty());
        // Another prompt in between goes to another slot and disturbs nothing.
        m.generate(ask("Something else entirely.", 8)).unwrap();
        let again = m.generate(GenerateRequest::chat(next.clone(), 16)).unwrap();
        assert_eq!(again.cached_tokens + 1, again.prompt_tokens, "{file}: all but one reused");
        assert_eq!(again.text, b.text, "{file}: same cells, same output");
        let no_reuse = crate::common::config();
        // Off (the default): nothing is reused.
        let plain = Model::load(&path, &no_reuse).unwrap();
        plain.generate(GenerateRequest::chat(first.clone(), 16)).unwrap();
        let off = plain.generate(GenerateRequest::chat(next.clone(), 16)).unwrap();
        assert_eq!(off.cached_tokens, 0);
    }
}
