//! Multiple-choice tests: every accepted record layout, the argmax decision, and
//! the real ARC-Easy file.

use super::*;
use noa_engine::Loglikelihood;

fn ll(logprob: f64) -> Loglikelihood {
    Loglikelihood { logprob, tokens: 1, is_greedy: false, elapsed_ms: 0.0, per_token: Vec::new() }
}

fn run(item: &Item, lps: &[f64]) -> Score {
    let mut ep = MultipleChoice.episode(item, &GenSettings::default());
    let Step::Loglikelihood(reqs) = ep.step(None) else { panic!("expected log-likelihoods") };
    assert_eq!(reqs.len(), lps.len());
    assert_eq!(
        reqs[0].context,
        format!("Question: {}\nAnswer:", item.data["question"].as_str().unwrap())
    );
    assert!(reqs[0].continuation.starts_with(' '));
    match ep.step(Some(Reply::Loglikelihoods(lps.iter().map(|&l| ll(l)).collect()))) {
        Step::Done(s) => s,
        other => panic!("{other:?}"),
    }
}

#[test]
fn all_layouts_parse_to_the_same_item() {
    let hf = json!({"id": "x", "question": "Q?", "choices": {"text": ["no", "yes"], "label": ["A", "B"]}, "answerKey": "B"});
    let orig = json!({"id": "x", "question": {"stem": "Q?", "choices": [{"text": "no", "label": "A"}, {"text": "yes", "label": "B"}]}, "answerKey": "B"});
    let generic = json!({"id": "x", "question": "Q?", "choices": ["no", "yes"], "answer": 1});
    let by_text = json!({"id": "x", "question": "Q?", "choices": ["no", "yes"], "answer": "yes"});
    let a = MultipleChoice.parse(&hf, 0).unwrap();
    for r in [orig, generic, by_text] {
        assert_eq!(MultipleChoice.parse(&r, 0).unwrap(), a);
    }
    let numeric = json!({"question": "Q?", "choices": {"text": ["a", "b"], "label": ["1", "2"]}, "answerKey": "2"});
    assert_eq!(MultipleChoice.parse(&numeric, 3).unwrap().data["answer"], 1);
    assert!(
        MultipleChoice
            .parse(&json!({"question": "Q", "choices": ["a", "b"], "answer": "c"}), 0)
            .is_err()
    );
    assert!(
        MultipleChoice.parse(&json!({"question": "Q", "choices": ["a"], "answer": 0}), 0).is_err()
    );
    assert!(MultipleChoice.parse(&json!({"question": 3}), 0).is_err());
}

#[test]
fn argmax_decides_and_norm_is_reported() {
    let item = MultipleChoice
        .parse(&json!({"question": "Q?", "choices": ["a much longer answer", "b"], "answer": 0}), 0)
        .unwrap();
    let right = run(&item, &[-3.0, -4.0]);
    assert_eq!(right.value, 1.0);
    assert_eq!(right.output, "a much longer answer");
    let wrong = run(&item, &[-6.0, -4.0]);
    assert_eq!(wrong.value, 0.0);
    let d: Value = serde_json::from_str(wrong.detail.as_deref().unwrap()).unwrap();
    assert_eq!((d["acc"].as_u64(), d["acc_norm"].as_u64()), (Some(0), Some(1)));
    assert_eq!(run(&item, &[f64::NAN, -4.0]).value, 0.0);
}

#[test]
fn wrong_replies_do_not_panic() {
    let item = MultipleChoice
        .parse(&json!({"question": "Q", "choices": ["a", "b"], "answer": 0}), 0)
        .unwrap();
    let mut ep = MultipleChoice.episode(&item, &GenSettings::default());
    ep.step(None);
    assert!(
        matches!(ep.step(Some(Reply::Loglikelihoods(vec![ll(0.0)]))), Step::Done(s) if s.value == 0.0)
    );
}

#[test]
fn every_real_arc_record_parses() {
    let Some(path) = super::super::test_data("arc-easy/test.json") else { return };
    let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(all.len(), 2376);
    for (i, r) in all.iter().enumerate() {
        let item = MultipleChoice.parse(r, i).unwrap_or_else(|e| panic!("{i}: {e}"));
        assert_eq!(item.id, r["id"].as_str().unwrap());
    }
}
