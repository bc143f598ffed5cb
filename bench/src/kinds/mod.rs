//! The task kinds a suite can name in its `suite.toml` (`kind = "..."`): each turns
//! raw records of its data format into items and each item into an episode that
//! prompts the model and scores the answer. See each module for the record fields it
//! reads and how it scores.
//!
//! | kind | data | score |
//! |---|---|---|
//! | `humaneval` | HumanEval `task_id, prompt, entry_point, test` | unit tests in a sandboxed `python3` |
//! | `gsm8k` | `question, answer` (`#### N`) | numeric match of the final answer |
//! | `multiple_choice` | ARC (`question, choices{text,label}, answerKey`) or generic | log-likelihood argmax |
//! | `bfcl` | BFCL question + function docs joined with `ground_truth` | function-call AST match |
//! | `ifeval` | IFEval `key, prompt, instruction_id_list, kwargs` | fraction of instructions followed |
//! | `agent` | `evalsets/agent/items.jsonl` | final state of a tool simulator |
//! | `exact` | `prompt, answer, aliases?` | normalised exact match |

pub mod agent;
pub mod agent_calc;
pub mod agent_score;
pub mod agent_sim;
pub mod bfcl;
pub mod bfcl_match;
pub mod exact;
pub mod gsm8k;
pub mod humaneval;
pub mod ifeval;
pub mod ifeval_checks;
pub mod ifeval_lang;
pub mod multiple_choice;
pub mod pycall;
pub mod sandbox;
mod util;

#[cfg(test)]
mod real_model_tests;

use crate::kind::TaskKind;

/// Every kind name, as written in `suite.toml`.
pub const NAMES: &[&str] =
    &["humaneval", "gsm8k", "multiple_choice", "bfcl", "ifeval", "agent", "exact"];

/// The kind called `name`, if there is one.
pub fn by_name(name: &str) -> Option<&'static dyn TaskKind> {
    match name {
        "humaneval" => Some(&humaneval::HumanEval),
        "gsm8k" => Some(&gsm8k::Gsm8k),
        "multiple_choice" => Some(&multiple_choice::MultipleChoice),
        "bfcl" => Some(&bfcl::Bfcl),
        "ifeval" => Some(&ifeval::IfEval),
        "agent" => Some(&agent::Agent),
        "exact" => Some(&exact::Exact),
        _ => None,
    }
}

/// This crate's folder, as `cargo test` gives it when the test runs: not `env!`, which
/// freezes the checkout the test binary was compiled in, and cargo reuses that binary
/// for every checkout sharing a target directory.
#[cfg(test)]
pub(crate) fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .expect("cargo test sets CARGO_MANIFEST_DIR")
}

/// A file of the evaluation data mirror for tests: `NOA_EVALSETS_DIR`, else
/// `../shared/data` beside the workspace. `None` (with a message) when absent, so
/// tests on real data skip on machines without the mirror.
#[cfg(test)]
pub(crate) fn test_data(rel: &str) -> Option<std::path::PathBuf> {
    let base = std::env::var_os("NOA_EVALSETS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../../shared/data"));
    let path = base.join(rel);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "skipping the real-data part: `{}` is absent (set NOA_EVALSETS_DIR)",
            path.display()
        );
        None
    }
}

/// What the engine answers in kind tests: `text`, as a finished generation.
#[cfg(test)]
pub(crate) fn generated(text: &str) -> noa_engine::Generation {
    noa_engine::Generation {
        text: text.to_string(),
        prompt_tokens: 1,
        cached_tokens: 0,
        gen_tokens: 1,
        finish: noa_engine::FinishReason::Eog,
        timings: noa_engine::RequestTimings::default(),
        rendered_prompt: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves_to_its_kind() {
        for name in NAMES {
            assert_eq!(by_name(name).map(|k| k.name()), Some(*name));
        }
        assert!(by_name("nope").is_none());
    }
}
