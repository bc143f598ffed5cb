//! GSM8K (reasoning): grade-school maths word problems; the model reasons step by
//! step and the final number it gives must equal the reference answer.
//!
//! Records are lines of GSM8K's `train.jsonl`/`test.jsonl`: `question`, `answer`
//! (worked solution ending in `#### N`). Item data: `question`, `answer` (the number
//! after `####` as written, commas removed). Records with a plain `answer` number
//! (user-written suites) are accepted too.
//!
//! The model's answer is, in order of preference: the number after `####`, after
//! the last "answer is", inside `\boxed{}`, else the last number in the output.
//! Chat mode asks for step-by-step reasoning ending in "The answer is N"; raw mode
//! (`chat = false`, base models) gives three worked examples first.
//! Commas, `$`, `%`, trailing periods are ignored; decimals, negatives and simple
//! fractions (`3/4`) are understood; comparison is numeric (1e-6 relative).

use noa_engine::Prompt;
use regex::Regex;
use serde_json::{Value, json};
use std::sync::LazyLock;

use super::util::{apply_template, chat_or_raw, id_field, request, single_turn, str_field};
use crate::kind::{Episode, GenSettings, Item, Score, TaskKind};

#[derive(Debug)]
pub struct Gsm8k;

/// Raw (base-model) prompts start with three worked examples, the first three of the
/// chain-of-thought exemplars of Wei et al. 2022 that lm-evaluation-harness's
/// `gsm8k_cot` uses, so a completion model sees the answer format it must follow.
const FEW_SHOT: &str = "Question: There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there will be 21 trees. How many trees did the grove workers plant today?
Answer: There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6. The answer is 6.

Question: If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?
Answer: There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5.

Question: Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?
Answer: Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, they had 74 - 35 = 39. The answer is 39.

";

static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-?\$?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:/\d+)?").expect("number regex")
});
static ANSWER_IS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)answer\s*(?:is|:)\s*[:=]?").expect("answer regex"));
static BOXED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\boxed\{([^}]*)\}").expect("boxed regex"));

/// Every number in `text` with its value, in order.
fn numbers(text: &str) -> Vec<(String, f64)> {
    NUMBER
        .find_iter(text)
        .filter_map(|m| {
            let s = m.as_str();
            parse_number(s).map(|v| (s.trim().to_string(), v))
        })
        .collect()
}

/// `-$1,234.5`, `3/4`, `12` → value; `None` for text without digits.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let clean: String = s.chars().filter(|c| !matches!(c, ',' | '$' | ' ' | '%')).collect();
    let clean = clean.trim_end_matches('.');
    if !clean.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    match clean.split_once('/') {
        Some((a, b)) => {
            let (a, b) = (a.parse::<f64>().ok()?, b.parse::<f64>().ok()?);
            (b != 0.0).then(|| a / b)
        }
        None => clean.parse::<f64>().ok(),
    }
}

/// The final numeric answer in a model's output (see the module docs for the order).
pub(crate) fn extract_answer(text: &str) -> Option<(String, f64)> {
    if let Some(pos) = text.rfind("####")
        && let Some(n) = numbers(&text[pos + 4..]).into_iter().next()
    {
        return Some(n);
    }
    if let Some(m) = ANSWER_IS.find_iter(text).last()
        && let Some(n) = numbers(&text[m.end()..]).into_iter().next()
    {
        return Some(n);
    }
    if let Some(c) = BOXED.captures_iter(text).last()
        && let Some(n) = numbers(c.get(1).map_or("", |m| m.as_str())).into_iter().next()
    {
        return Some(n);
    }
    numbers(text).into_iter().last()
}

pub(crate) fn numbers_equal(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

impl TaskKind for Gsm8k {
    fn name(&self) -> &'static str {
        "gsm8k"
    }

    fn parse(&self, raw: &Value, index: usize) -> Result<Item, String> {
        let question = str_field(raw, &["question", "problem"])?;
        let answer = match raw.get("answer") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => {
                let tail = s.rfind("####").map_or(s.as_str(), |p| &s[p + 4..]);
                let tail = tail.trim().replace([',', '$'], "");
                parse_number(&tail).ok_or_else(|| format!("answer `{tail}` is not a number"))?;
                tail
            }
            _ => return Err("missing field `answer`".to_string()),
        };
        let id = id_field(raw, &["id", "idx"], index);
        Ok(Item { id, data: json!({"question": question, "answer": answer}) })
    }

    fn episode(&self, item: &Item, settings: &GenSettings) -> Box<dyn Episode> {
        let question = item.data.get("question").and_then(Value::as_str).unwrap_or("");
        let answer = item.data.get("answer").and_then(Value::as_str).unwrap_or("").to_string();
        let req = if settings.chat {
            let user = format!(
                "Solve the following math problem. Reason step by step, then finish with a \
                 line of the form \"The answer is N\" where N is the final number.\n\n\
                 Question: {question}"
            );
            let user = apply_template(settings, &user, &[("question", question)]);
            request(settings, chat_or_raw(settings, None, user), &[])
        } else {
            let text = format!("{FEW_SHOT}Question: {question}\nAnswer:");
            let text = apply_template(settings, &text, &[("question", question)]);
            request(settings, Prompt::Raw(text), &["\nQuestion:", "\n\n"])
        };
        single_turn(req, move |g| score(&g.text, &answer))
    }
}

fn score(output: &str, answer: &str) -> Score {
    let want = parse_number(answer);
    let got = extract_answer(output);
    let (value, detail) = match (got, want) {
        (Some((s, v)), Some(w)) => (
            if numbers_equal(v, w) { 1.0 } else { 0.0 },
            format!("answer `{s}`, expected `{answer}`"),
        ),
        (None, _) => (0.0, format!("no number in the output, expected `{answer}`")),
        (_, None) => (0.0, format!("reference answer `{answer}` is not a number")),
    };
    Score { value, detail: Some(detail), output: output.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(t: &str) -> Option<f64> {
        extract_answer(t).map(|(_, v)| v)
    }

    #[test]
    fn extracts_final_answers() {
        assert_eq!(val("48/2 = 24, so 48+24 = 72. The answer is 72."), Some(72.0));
        assert_eq!(val("The answer is $1,234.50"), Some(1234.5));
        assert_eq!(val("so the answer is: -5 degrees. Check: 3 + 4"), Some(-5.0));
        assert_eq!(val("#### 3/4"), Some(0.75));
        assert_eq!(val("We get \\boxed{18} apples"), Some(18.0));
        assert_eq!(val("First 3, then 10, finally 42"), Some(42.0));
        assert_eq!(val("It costs 1,000,000 dollars."), Some(1_000_000.0));
        assert_eq!(val("0.5 + .25"), Some(0.25));
        assert_eq!(val("no numbers here"), None);
        assert_eq!(val(""), None);
    }

    #[test]
    fn scores_right_and_wrong() {
        let item = Gsm8k
            .parse(&json!({"question": "q", "answer": "Natalia ... <<48+24=72>>72\n#### 1,072"}), 0)
            .unwrap();
        assert_eq!(item.data["answer"], "1072");
        assert_eq!(score("... The answer is 1072", "1072").value, 1.0);
        assert_eq!(score("... The answer is 1,072.", "1072").value, 1.0);
        assert_eq!(score("... The answer is 1071", "1072").value, 0.0);
        assert_eq!(score("The answer is 1072 maybe 5", "1072").value, 1.0);
        assert_eq!(score("I don't know", "1072").value, 0.0);
        assert!(Gsm8k.parse(&json!({"question": "q", "answer": "#### lots"}), 0).is_err());
        assert!(Gsm8k.parse(&json!({"answer": "#### 1"}), 0).is_err());
    }

    #[test]
    fn raw_mode_is_few_shot_and_stops_at_the_next_question() {
        use crate::kind::Step;
        let item =
            Gsm8k.parse(&json!({"question": "What is 2+2?", "answer": "#### 4"}), 0).unwrap();
        let mut ep = Gsm8k.episode(&item, &GenSettings { chat: false, ..Default::default() });
        let Step::Generate(req) = ep.step(None) else { panic!("expected a generation") };
        let Prompt::Raw(p) = &req.prompt else { panic!("expected a raw prompt") };
        assert!(
            p.starts_with("Question: There are 15 trees")
                && p.ends_with("Question: What is 2+2?\nAnswer:")
        );
        assert!(req.stop.contains(&"\nQuestion:".to_string()));
    }

    #[test]
    fn every_real_record_parses() {
        let Some(path) = super::super::test_data("gsm8k-train/train.jsonl") else { return };
        let text = std::fs::read_to_string(path).unwrap();
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let raw: Value = serde_json::from_str(line).unwrap();
            let item = Gsm8k.parse(&raw, i).unwrap();
            // The worked solution itself scores as right.
            let solution = raw["answer"].as_str().unwrap();
            assert_eq!(score(solution, item.data["answer"].as_str().unwrap()).value, 1.0, "{line}");
            n += 1;
        }
        assert_eq!(n, 7473);
    }
}
