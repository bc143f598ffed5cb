//! Log-likelihood scoring: plausible continuations beat garbage, a score does not depend
//! on what else is in the batch (bit for bit), and token accounting is right.

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
fn scores_do_not_depend_on_what_else_is_in_the_batch() {
    let reqs = vec![
        req("Question: What is 2+2?\nAnswer:", " 4"),
        req("Question: What is 2+2?\nAnswer:", " 5"),
        req("The sky is", " blue."),
        req("Water boils at", " 100 degrees Celsius"),
        req("Once upon a time", ", there was a princess who lived in a castle."),
    ];
    for m in [smollm(), gemma()] {
        let batch = m.loglikelihood_batch(reqs.clone());
        // Bit for bit: the same request alone, in another order, and again.
        let mut reversed = reqs.clone();
        reversed.reverse();
        let mut other = m.loglikelihood_batch(reversed);
        other.reverse();
        for ((r, b), o) in reqs.iter().zip(&batch).zip(&other) {
            let single = m.loglikelihood_batch(vec![r.clone()]).remove(0).unwrap();
            let (b, o) = (b.as_ref().unwrap(), o.as_ref().unwrap());
            assert_eq!((b.tokens, b.is_greedy), (single.tokens, single.is_greedy), "{r:?}");
            assert_eq!(b.logprob, single.logprob, "{r:?}: batched vs alone");
            assert_eq!(b.logprob, o.logprob, "{r:?}: batched in another order");
        }
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
