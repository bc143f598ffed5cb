//! Every kind's episode driven by the real default models through the real engine:
//! prompts render with the models' own chat templates (SmolLM2's ChatML; Gemma 3
//! 270M has none and takes the plain-text fallback), the agent's multi-turn roles are
//! accepted, BFCL's JSON-schema constraint yields a parsable call, and whatever
//! the models write is scored without a runner error. Small `max_tokens` keep it quick.

use noa_engine::{EngineConfig, Model};
use serde_json::{Value, json};

use crate::kind::{GenSettings, Item, Reply, Score, Step, TaskKind};
use crate::kinds::by_name;

fn model(file: &str) -> Model {
    let path = noa_registry::testing::test_model(file);
    let config = EngineConfig { n_ctx: 2048, n_seq_max: 1, ..Default::default() };
    Model::load(&path, &config).unwrap_or_else(|e| panic!("loading `{}`: {e}", path.display()))
}

/// Runs an episode to its end, one engine call per step.
fn drive(
    model: &Model,
    kind: &dyn TaskKind,
    item: &Item,
    settings: &GenSettings,
) -> (Score, Vec<String>) {
    let mut ep = kind.episode(item, settings);
    let mut step = ep.step(None);
    let mut rendered = Vec::new();
    let started = std::time::Instant::now();
    for _ in 0..50 {
        step = match step {
            Step::Done(score) => {
                eprintln!(
                    "{}: {:.1}s, score {}",
                    item.id,
                    started.elapsed().as_secs_f64(),
                    score.value
                );
                return (score, rendered);
            }
            Step::Generate(req) => {
                let g =
                    model.generate(req).unwrap_or_else(|e| panic!("{}: generate: {e}", item.id));
                rendered.push(g.rendered_prompt.clone());
                ep.step(Some(Reply::Generated(g)))
            }
            Step::Loglikelihood(reqs) => {
                let lls: Vec<_> = model
                    .loglikelihood_batch(reqs)
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|e| panic!("{}: loglikelihood: {e}", item.id)))
                    .collect();
                assert!(lls.iter().all(|l| l.logprob.is_finite() && l.logprob <= 0.0), "{lls:?}");
                ep.step(Some(Reply::Loglikelihoods(lls)))
            }
        };
    }
    panic!("{}: episode did not end", item.id)
}

fn parse(kind: &str, raw: Value) -> (&'static dyn TaskKind, Item) {
    let k = by_name(kind).unwrap();
    let item = k.parse(&raw, 0).unwrap();
    (k, item)
}

fn sane(score: &Score, what: &str) {
    assert!((0.0..=1.0).contains(&score.value), "{what}: {score:?}");
    assert!(!score.detail.as_deref().unwrap_or("").contains("runner error"), "{what}: {score:?}");
}

fn agent_item() -> Item {
    let path = crate::kinds::manifest_dir().join("../evalsets/agent/items.jsonl");
    let line = std::fs::read_to_string(path).unwrap().lines().nth(7).unwrap().to_string();
    by_name("agent").unwrap().parse(&serde_json::from_str(&line).unwrap(), 7).unwrap()
}

#[test]
fn every_kind_runs_on_the_real_models() {
    // SmolLM2 through its chat template runs every kind; Gemma 3 270M (no template,
    // so raw prompts) runs the multi-turn agent and log-likelihood scoring.
    let settings =
        GenSettings { max_tokens: 32, max_turns: 2, scorer_timeout_s: 5.0, ..Default::default() };
    let smol = model("smollm2-135m-instruct.gguf");
    let cases = [
        parse(
            "gsm8k",
            json!({"question": "Tom has 3 apples and buys 4 more. How many apples does he have?", "answer": "#### 7"}),
        ),
        parse(
            "exact",
            json!({"prompt": "What is the capital of France? Answer with one word.", "answer": "Paris"}),
        ),
        parse(
            "ifeval",
            json!({"key": 1, "prompt": "Write a short sentence about cats without any commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}),
        ),
        parse(
            "humaneval",
            json!({"task_id": "t/0", "prompt": "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n", "entry_point": "add", "test": "def check(f):\n    assert f(1, 2) == 3\n"}),
        ),
        mc_case(),
    ];
    for (kind, item) in &cases {
        let (score, _) = drive(&smol, *kind, item, &settings);
        sane(&score, &format!("smollm2 {}", kind.name()));
    }
    drop(smol);
    let gemma = model("gemma-3-270m.gguf");
    let raw = GenSettings { chat: false, ..settings.clone() };
    let (kind, item) = mc_case();
    sane(&drive(&gemma, kind, &item, &raw).0, "gemma multiple_choice");
    for (name, m, s) in
        [("smollm2", &model("smollm2-135m-instruct.gguf"), &settings), ("gemma", &gemma, &raw)]
    {
        let (score, rendered) = drive(m, by_name("agent").unwrap(), &agent_item(), s);
        sane(&score, &format!("{name} agent"));
        // The second turn carries the first reply and the tool's answer (or the error).
        if rendered.len() > 1 {
            let last = rendered.last().unwrap();
            assert!(
                last.contains("Tool result (") || last.contains("Error: your reply"),
                "{name}: {last}"
            );
        }
    }
}

fn mc_case() -> (&'static dyn TaskKind, Item) {
    parse(
        "multiple_choice",
        json!({"id": "q", "question": "Which is a colour?", "choices": {"text": ["blue", "seven", "run"], "label": ["A", "B", "C"]}, "answerKey": "A"}),
    )
}

#[test]
fn constrained_bfcl_output_is_always_a_parsable_call() {
    let m = model("smollm2-135m-instruct.gguf");
    let (kind, item) = parse(
        "bfcl",
        json!({"id": "simple_python_1", "question": [[{"role": "user", "content": "Calculate the factorial of 5 using math functions."}]],
               "function": [{"name": "math.factorial", "description": "Calculate the factorial of a given number.", "parameters": {"type": "dict", "properties": {"number": {"type": "integer", "description": "The number for which factorial needs to be calculated."}}, "required": ["number"]}}],
               "ground_truth": [{"math.factorial": {"number": [5]}}]}),
    );
    let settings = GenSettings { max_tokens: 40, constrained: true, ..Default::default() };
    let (score, _) = drive(&m, kind, &item, &settings);
    sane(&score, "bfcl constrained");
    let detail = score.detail.unwrap_or_default();
    assert!(detail != "no JSON function call in the output", "{}", score.output);
    assert!(score.output.contains("math.factorial"), "{}", score.output);
}

#[test]
fn constrained_agent_replies_are_always_actions() {
    let m = model("smollm2-135m-instruct.gguf");
    let settings =
        GenSettings { max_tokens: 96, max_turns: 2, constrained: true, ..Default::default() };
    let (score, rendered) = drive(&m, by_name("agent").unwrap(), &agent_item(), &settings);
    sane(&score, "constrained agent");
    let detail = score.detail.unwrap_or_default();
    assert!(
        !score.output.contains("Error: your reply held no tool call"),
        "{detail}\n{}",
        score.output
    );
    assert!(rendered.len() == 2 || detail.contains("final answer given"), "{detail}");
}
