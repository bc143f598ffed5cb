//! Cross-sequence prefix sharing (`EngineConfig::prefix_share`): a declared shared
//! prefix is decoded once and copied, and a request's output does not depend on what
//! ran before it — the property that lets `noa bench` use it.

use noa_engine::{EngineConfig, GenerateRequest, Generation, LocalModel, Prompt};

use crate::common::{GEMMA, SMOLLM, config, model_path};

/// A few-shot preamble long enough to be shared (well over 32 tokens).
const PREAMBLE: &str = "Answer each question with one short sentence.\n\n\
    Question: What colour is the sky on a clear day?\nAnswer: The sky is blue.\n\n\
    Question: How many legs does a spider have?\nAnswer: A spider has eight legs.\n\n\
    Question: What do bees make?\nAnswer: Bees make honey.\n\n";

const QUESTIONS: [&str; 5] = [
    "What is the capital of France?",
    "How many days are in a week?",
    "What animal says moo?",
    "What is frozen water called?",
    "Which planet do we live on?",
];

fn item(preamble: &str, q: &str) -> GenerateRequest {
    let text = format!("{preamble}Question: {q}\nAnswer:");
    GenerateRequest {
        prompt: Prompt::Raw(text),
        stop: vec!["\n".into()],
        shared_prefix: Some(preamble.len() as u32),
        ..GenerateRequest::chat(Vec::new(), 24)
    }
}

fn sharing() -> EngineConfig {
    EngineConfig { prefix_share: true, ..config() }
}

fn texts(out: Vec<Result<Generation, noa_engine::EngineError>>) -> Vec<Generation> {
    out.into_iter().map(|g| g.expect("generation")).collect()
}

#[test]
fn a_shared_prefix_is_copied_and_outputs_do_not_depend_on_what_ran_before() {
    for file in [SMOLLM, GEMMA] {
        let m = LocalModel::load(&model_path(file), &sharing()).unwrap();
        let batch: Vec<_> = QUESTIONS.iter().map(|q| item(PREAMBLE, q)).collect();
        let first = texts(m.generate_batch(batch.clone()));
        for g in &first {
            assert!(g.cached_tokens >= 32, "{file}: the preamble was shared: {g:?}");
            assert!(g.cached_tokens < g.prompt_tokens);
        }
        // Reversed, one at a time, and with another preamble in between (the template
        // is rebuilt while copies of the first are still queued): the same outputs.
        let other = "You are a careful assistant who answers questions about the world.\n\n\
            Question: Name a fruit.\nAnswer: An apple.\n\n";
        let mut reversed = batch.clone();
        reversed.reverse();
        let mut again = texts(m.generate_batch(reversed));
        again.reverse();
        let mixed: Vec<_> =
            QUESTIONS.iter().flat_map(|q| [item(PREAMBLE, q), item(other, q)]).collect();
        let interleaved: Vec<_> = texts(m.generate_batch(mixed)).into_iter().step_by(2).collect();
        let alone: Vec<_> = batch.iter().map(|r| m.generate(r.clone()).unwrap()).collect();
        for (i, g) in first.iter().enumerate() {
            for (what, o) in
                [("reversed", &again[i]), ("interleaved", &interleaved[i]), ("alone", &alone[i])]
            {
                assert_eq!(o.text, g.text, "{file} item {i} {what}");
                assert_eq!(o.cached_tokens, g.cached_tokens, "{file} item {i} {what}");
            }
        }
    }
}

#[test]
fn sharing_is_off_without_the_config_or_the_declaration_or_for_a_short_prefix() {
    let path = model_path(SMOLLM);
    let plain = LocalModel::load(&path, &config()).unwrap();
    assert_eq!(plain.generate(item(PREAMBLE, QUESTIONS[0])).unwrap().cached_tokens, 0);
    let m = LocalModel::load(&path, &sharing()).unwrap();
    let undeclared = GenerateRequest { shared_prefix: None, ..item(PREAMBLE, QUESTIONS[0]) };
    assert_eq!(m.generate(undeclared).unwrap().cached_tokens, 0);
    assert_eq!(m.generate(item("Q: hi\n", QUESTIONS[0])).unwrap().cached_tokens, 0, "short");
    // A declaration past the end of the prompt, or inside a UTF-8 character, is ignored.
    let past = GenerateRequest { shared_prefix: Some(100_000), ..item(PREAMBLE, QUESTIONS[0]) };
    assert_eq!(m.generate(past).unwrap().cached_tokens, 0);
    let accented =
        "Réponds en une phrase courte à chaque question posée ci-dessous, s'il te plaît.\n\n";
    let inside = GenerateRequest { shared_prefix: Some(2), ..item(accented, QUESTIONS[0]) };
    assert_eq!(m.generate(inside).unwrap().cached_tokens, 0);
}
