//! Log-likelihood scoring: plausible continuations beat garbage, batching changes
//! nothing, and token accounting is right.

use noa_engine::LoglikelihoodRequest;

use crate::common::{gemma, smollm};

fn req(c: &str, x: &str) -> LoglikelihoodRequest {
    LoglikelihoodRequest { context: c.into(), continuation: x.into() }
}

#[test]
fn plausible_continuation_scores_higher_than_garbage() {
    for m in [smollm(), gemma()] {
        let r = m.loglikelihood_batch(vec![
            req("The capital of France is", " Paris"),
            req("The capital of France is", " xq zvbn"),
        ]);
        let good = r[0].as_ref().unwrap();
        let bad = r[1].as_ref().unwrap();
        assert!(good.logprob > bad.logprob, "{good:?} vs {bad:?}");
        assert!(good.logprob < 0.0 && good.tokens >= 1);
    }
}

#[test]
fn batch_equals_single_results() {
    let m = smollm();
    let reqs = vec![
        req("Question: What is 2+2?\nAnswer:", " 4"),
        req("Question: What is 2+2?\nAnswer:", " 5"),
        req("The sky is", " blue."),
        req("Water boils at", " 100 degrees Celsius"),
        req("Once upon a time", ", there was a princess who lived in a castle."),
    ];
    let batch = m.loglikelihood_batch(reqs.clone());
    for (r, b) in reqs.into_iter().zip(batch) {
        let single = m.loglikelihood_batch(vec![r.clone()]).remove(0).unwrap();
        let b = b.unwrap();
        assert_eq!(b.tokens, single.tokens);
        assert_eq!(b.is_greedy, single.is_greedy);
        assert!(
            (b.logprob - single.logprob).abs() < 1e-3,
            "{r:?}: {} vs {}",
            b.logprob,
            single.logprob
        );
    }
}

#[test]
fn greedy_continuation_is_flagged() {
    let m = smollm();
    // Whatever the model generates greedily must be flagged greedy when scored.
    let g = m
        .generate(noa_engine::GenerateRequest {
            prompt: noa_engine::Prompt::Raw("1, 2, 3,".into()),
            ..noa_engine::GenerateRequest::chat(vec![], 3)
        })
        .unwrap();
    let r = m.loglikelihood_batch(vec![req("1, 2, 3,", &g.text)]).remove(0).unwrap();
    assert!(r.is_greedy, "{:?} {r:?}", g.text);
}
