//! Continuation log-likelihoods for multiple choice (lm-eval's `loglikelihood`). Each
//! request is one sequence: `context + continuation` is tokenized whole, the
//! continuation tokens are the ones past the longest common prefix with the context's
//! own tokenization, logits are requested for exactly the positions that predict them,
//! and the log-softmax is taken here in f64. Several requests share each decode as
//! separate sequences; requests longer than a batch are fed in chunks.

use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::{EngineError, Loglikelihood, LoglikelihoodRequest};

struct Scoring {
    index: usize,
    tokens: Vec<LlamaToken>,
    /// First token index that belongs to the continuation.
    split: usize,
    fed: usize,
    logprob: f64,
    greedy: bool,
    started: Instant,
}

/// Split a request into whole-text tokens and the continuation start.
fn prepare(
    model: &LlamaModel,
    r: &LoglikelihoodRequest,
) -> Result<(Vec<LlamaToken>, usize), EngineError> {
    let vocab = model.vocab();
    let ctx_tokens = vocab.tokenize(r.context.as_bytes(), true, false);
    let whole = vocab.tokenize(format!("{}{}", r.context, r.continuation).as_bytes(), true, false);
    let common = ctx_tokens.iter().zip(&whole).take_while(|(a, b)| a == b).count();
    if common == 0 && !whole.is_empty() {
        return Err(EngineError::Decode(
            "the context is empty and the model adds no BOS token: nothing to condition on".into(),
        ));
    }
    Ok((whole, common))
}

/// Log-probability of `target` under `logits`, and whether it is the argmax.
fn score(logits: &[f32], target: LlamaToken) -> (f64, bool) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| ((l as f64) - max).exp()).sum();
    let t = target.0 as usize;
    let lp = logits.get(t).map_or(f64::NEG_INFINITY, |&l| (l as f64) - max - sum.ln());
    let greedy = crate::sampler::argmax(logits) == target;
    (lp, greedy)
}

pub(crate) fn run(
    model: &LlamaModel,
    ctx: &mut LlamaContext<'_>,
    requests: Vec<LoglikelihoodRequest>,
    n_ctx_seq: u32,
    n_seq_max: u32,
    n_batch: u32,
) -> Vec<Result<Loglikelihood, EngineError>> {
    let mut results: Vec<Option<Result<Loglikelihood, EngineError>>> =
        requests.iter().map(|_| None).collect();
    let mut pending = std::collections::VecDeque::new();
    for (index, r) in requests.iter().enumerate() {
        match prepare(model, r) {
            Err(e) => results[index] = Some(Err(e)),
            Ok((tokens, split)) if split >= tokens.len() => {
                results[index] = Some(Ok(Loglikelihood {
                    logprob: 0.0,
                    tokens: 0,
                    is_greedy: true,
                    elapsed_ms: 0.0,
                }))
            }
            Ok((tokens, _)) if tokens.len() - 1 > n_ctx_seq as usize => {
                results[index] = Some(Err(EngineError::PromptTooLong {
                    tokens: tokens.len() as u32,
                    n_ctx: n_ctx_seq,
                }))
            }
            Ok((tokens, split)) => pending.push_back(Scoring {
                index,
                tokens,
                split,
                fed: 0,
                logprob: 0.0,
                greedy: true,
                started: Instant::now(),
            }),
        }
    }
    let n_batch = n_batch.max(1) as usize;
    let mut batch = LlamaBatch::new(n_batch, 1);
    let mut slots: Vec<Option<Scoring>> = (0..n_seq_max.max(1)).map(|_| None).collect();
    loop {
        for slot in slots.iter_mut().filter(|s| s.is_none()) {
            match pending.pop_front() {
                Some(mut s) => {
                    s.started = Instant::now();
                    *slot = Some(s);
                }
                None => break,
            }
        }
        if slots.iter().all(Option::is_none) {
            break;
        }
        batch.clear();
        let mut budget = n_batch;
        // (slot, batch index, position) of every output requested.
        let mut outputs = Vec::new();
        let mut n = 0i32;
        let mut add_failed = false;
        for (id, s) in slots.iter_mut().enumerate() {
            let Some(s) = s else { continue };
            // The last token is never fed: nothing is predicted from it.
            let feed_end = s.tokens.len() - 1;
            let take = (feed_end - s.fed).min(budget);
            for p in s.fed..s.fed + take {
                let want = p + 1 >= s.split;
                add_failed |= batch.add(s.tokens[p], p as i32, &[id as i32], want).is_err();
                if want {
                    outputs.push((id, n, p));
                }
                n += 1;
            }
            s.fed += take;
            budget -= take;
            if budget == 0 {
                break;
            }
        }
        let decoded = if add_failed {
            Err("batch overflow".to_owned())
        } else {
            ctx.decode(&mut batch).map_err(|e| e.to_string())
        };
        if let Err(e) = decoded {
            for (id, slot) in slots.iter_mut().enumerate() {
                if let Some(s) = slot.take() {
                    let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
                    results[s.index] = Some(Err(EngineError::Decode(e.clone())));
                }
            }
            continue;
        }
        for (id, idx, p) in outputs {
            if let Some(s) = slots[id].as_mut() {
                let (lp, greedy) = score(ctx.get_logits_ith(idx), s.tokens[p + 1]);
                s.logprob += lp;
                s.greedy &= greedy;
            }
        }
        for (id, slot) in slots.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|s| s.fed + 1 >= s.tokens.len())
                && let Some(s) = slot.take()
            {
                let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
                results[s.index] = Some(Ok(Loglikelihood {
                    logprob: s.logprob,
                    tokens: (s.tokens.len() - s.split) as u32,
                    is_greedy: s.greedy,
                    elapsed_ms: s.started.elapsed().as_secs_f64() * 1000.0,
                }));
            }
        }
    }
    results.into_iter().map(|r| r.unwrap_or(Err(EngineError::WorkerGone))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_and_greedy() {
        let (lp, g) = score(&[0.0, 0.0], LlamaToken(1));
        assert!((lp - 0.5f64.ln()).abs() < 1e-12);
        assert!(!g); // argmax picks the first of equals
        let (lp, g) = score(&[1.0, 3.0, 2.0], LlamaToken(1));
        assert!(g);
        let expect = 3.0 - (1f64.exp() + 3f64.exp() + 2f64.exp()).ln();
        assert!((lp - expect).abs() < 1e-12);
    }
}
