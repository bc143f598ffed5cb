//! Log-likelihood scoring: plausible continuations beat garbage, a score does not depend
//! on what else is in the batch (bit for bit), and token accounting is right.

use noa_engine::LoglikelihoodRequest;

use crate::common::{gemma, smollm};

fn req(c: &str, x: &str) -> LoglikelihoodRequest {
    LoglikelihoodRequest::new(c, x)
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

#[test]
fn scoring_a_whole_text_per_token_agrees_with_context_and_continuation() {
    // What `/v1/completions` with `echo` + `logprobs` answers: every token of the text,
    // its log-probability and the argmax's. Summed over the tokens past the context,
    // it is the continuation's score.
    let cases = [
        ("Question: What is 2+2?\nAnswer:", " 4"),
        ("The capital of France is", " Paris, a city on the Seine."),
    ];
    for m in [smollm(), gemma()] {
        for (context, continuation) in cases {
            let whole = format!("{context}{continuation}");
            let mut r = LoglikelihoodRequest::new("", whole.clone());
            r.per_token = true;
            let scored = m.loglikelihood_batch(vec![r]).remove(0).unwrap();
            let pieces: String = scored.per_token.iter().map(|t| t.text.as_str()).collect();
            assert_eq!(pieces, whole, "the tokens spell the text, BOS aside");
            assert!(scored.per_token.iter().skip(1).all(|t| t.logprob.is_some()));
            let (mut offset, mut sum, mut n, mut greedy) = (0, 0.0, 0, true);
            for t in &scored.per_token {
                if offset >= context.len() {
                    let (lp, top) = (t.logprob.unwrap(), t.top_logprob.unwrap());
                    assert!(lp <= top + 1e-9, "{t:?}");
                    sum += lp;
                    n += 1;
                    greedy &= lp >= top;
                }
                offset += t.text.len();
            }
            let direct = m.loglikelihood_batch(vec![req(context, continuation)]).remove(0).unwrap();
            assert_eq!(n, direct.tokens, "{continuation:?}");
            assert_eq!(greedy, direct.is_greedy, "{continuation:?}");
            // Decoded in one piece instead of context, then continuation: llama.cpp's
            // numbers depend on how a sequence is split into decode calls (bit for bit
            // equal in three of these four cases, 0.12 nats apart on Gemma's long
            // continuation when this was written; see the module docs of loglik.rs).
            eprintln!("{continuation:?}: whole {sum} vs context+continuation {}", direct.logprob);
            assert!((sum - direct.logprob).abs() < 0.3, "{sum} vs {}", direct.logprob);
        }
    }
}
