//! Continuation log-likelihoods for multiple choice (lm-eval's `loglikelihood`).
//! `context + continuation` is tokenized whole; the continuation tokens are the ones
//! past the longest common prefix with the context's own tokenization; logits are
//! requested for exactly the positions that predict them; the log-softmax is taken here
//! in f64.
//!
//! Requests with the same context (the options of one question) form a group that
//! occupies one sequence: the shared prefix is decoded once, then each option's tokens
//! are decoded after it and removed from the KV cache again. Long inputs are fed in
//! chunks of `n_batch`.
//!
//! Groups run one at a time, never side by side in one decode: llama.cpp's logits for a
//! sequence depend on what else shares its decode call (up to 0.3 nats per choice on
//! Gemma 3 270M), and which questions share one depended on which items the scheduler
//! happened to have ready — so scores changed from run to run and with the batch size.
//! Alone, a question's numbers depend on its own tokens only. Scoring is prompt
//! processing, which batching does not speed up on a CPU, so this costs no measurable
//! time (ARC-Easy, 20 items: 6.3 s alone, 6.7 s eight at a time).

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::{EngineError, Loglikelihood, LoglikelihoodRequest};

struct Item {
    index: usize,
    tokens: Vec<LlamaToken>,
    /// First token index that belongs to the continuation.
    split: usize,
}

struct Current {
    item: Item,
    /// Next position to feed.
    fed: usize,
    logprob: f64,
    greedy: bool,
    started: Instant,
}

struct Group {
    prefix: Vec<LlamaToken>,
    fed: usize,
    /// Logits at the last prefix position (they predict a continuation's first token).
    last_logits: Option<Vec<f32>>,
    items: VecDeque<Item>,
    current: Option<Current>,
}

enum Out {
    Prefix,
    Item(usize),
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
    let lp = usize::try_from(target.0)
        .ok()
        .and_then(|t| logits.get(t))
        .map_or(f64::NEG_INFINITY, |&l| (l as f64) - max - sum.ln());
    (lp, crate::sampler::argmax(logits) == target)
}

/// Group requests by context; answer the trivial and impossible ones at once.
fn plan(
    model: &LlamaModel,
    requests: &[LoglikelihoodRequest],
    n_ctx_seq: u32,
    results: &mut [Option<Result<Loglikelihood, EngineError>>],
) -> VecDeque<Group> {
    let mut by_context: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<(Vec<Item>, usize)> = Vec::new();
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
                    tokens: tokens.len() as u32 - 1,
                    n_ctx: n_ctx_seq,
                }))
            }
            Ok((tokens, split)) => {
                let g = *by_context.entry(r.context.as_str()).or_insert_with(|| {
                    groups.push((Vec::new(), usize::MAX));
                    groups.len() - 1
                });
                groups[g].1 = groups[g].1.min(split);
                groups[g].0.push(Item { index, tokens, split });
            }
        }
    }
    groups
        .into_iter()
        .map(|(items, p)| Group {
            prefix: items[0].tokens[..p].to_vec(),
            fed: 0,
            last_logits: None,
            items: items.into(),
            current: None,
        })
        .collect()
}

pub(crate) fn run(
    model: &LlamaModel,
    ctx: &mut LlamaContext<'_>,
    requests: Vec<LoglikelihoodRequest>,
    n_ctx_seq: u32,
    n_batch: u32,
) -> Vec<Result<Loglikelihood, EngineError>> {
    let mut results: Vec<Option<Result<Loglikelihood, EngineError>>> =
        requests.iter().map(|_| None).collect();
    let mut pending = plan(model, &requests, n_ctx_seq, &mut results);
    let n_batch = n_batch.max(1) as usize;
    let mut batch = LlamaBatch::new(n_batch, 1);
    // One sequence: see the module docs for why groups never share a decode.
    let mut slots: Vec<Option<Group>> = vec![None];
    loop {
        // Retire finished items and groups; start the next item of each group.
        for (id, slot) in slots.iter_mut().enumerate() {
            while let Some(g) = slot.as_mut() {
                if g.fed < g.prefix.len() {
                    break;
                }
                if let Some(c) = g.current.as_ref()
                    && c.fed + 1 < c.item.tokens.len()
                {
                    break;
                }
                if let Some(c) = g.current.take() {
                    let _ =
                        ctx.clear_kv_cache_seq(Some(id as u32), Some(g.prefix.len() as u32), None);
                    results[c.item.index] = Some(Ok(Loglikelihood {
                        logprob: c.logprob,
                        tokens: (c.item.tokens.len() - c.item.split) as u32,
                        is_greedy: c.greedy,
                        elapsed_ms: c.started.elapsed().as_secs_f64() * 1000.0,
                    }));
                }
                let Some(item) = g.items.pop_front() else {
                    let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
                    *slot = pending.pop_front();
                    continue;
                };
                let mut c = Current {
                    fed: g.prefix.len(),
                    item,
                    logprob: 0.0,
                    greedy: true,
                    started: Instant::now(),
                };
                if c.item.split == g.prefix.len()
                    && let Some(l) = g.last_logits.as_ref()
                {
                    let (lp, greedy) = score(l, c.item.tokens[c.fed]);
                    c.logprob += lp;
                    c.greedy &= greedy;
                }
                g.current = Some(c);
            }
            if slot.is_none() {
                *slot = pending.pop_front();
            }
        }
        if slots.iter().all(Option::is_none) {
            break;
        }
        batch.clear();
        let mut budget = n_batch;
        let mut outputs: Vec<(usize, i32, Out)> = Vec::new();
        let mut n = 0i32;
        let mut add_failed = false;
        for (id, slot) in slots.iter_mut().enumerate() {
            let Some(g) = slot.as_mut() else { continue };
            if budget == 0 {
                break;
            }
            let seq = [id as i32];
            if g.fed < g.prefix.len() {
                let take = (g.prefix.len() - g.fed).min(budget);
                for p in g.fed..g.fed + take {
                    let want = p + 1 == g.prefix.len();
                    add_failed |= batch.add(g.prefix[p], p as i32, &seq, want).is_err();
                    if want {
                        outputs.push((id, n, Out::Prefix));
                    }
                    n += 1;
                }
                g.fed += take;
                budget -= take;
            } else if let Some(c) = g.current.as_mut() {
                // The last token is never fed: nothing is predicted from it.
                let take = (c.item.tokens.len() - 1 - c.fed).min(budget);
                for p in c.fed..c.fed + take {
                    let want = p + 1 >= c.item.split;
                    add_failed |= batch.add(c.item.tokens[p], p as i32, &seq, want).is_err();
                    if want {
                        outputs.push((id, n, Out::Item(p)));
                    }
                    n += 1;
                }
                c.fed += take;
                budget -= take;
            }
        }
        let decoded = if add_failed {
            Err("batch overflow".to_owned())
        } else if n == 0 {
            Ok(())
        } else {
            ctx.decode(&mut batch).map_err(|e| e.to_string())
        };
        if let Err(e) = decoded {
            for (id, slot) in slots.iter_mut().enumerate() {
                if let Some(g) = slot.take() {
                    let _ = ctx.clear_kv_cache_seq(Some(id as u32), None, None);
                    let failed = g.current.map(|c| c.item).into_iter().chain(g.items);
                    for item in failed {
                        results[item.index] = Some(Err(EngineError::Decode(e.clone())));
                    }
                }
            }
            continue;
        }
        for (id, idx, out) in outputs {
            let Some(g) = slots[id].as_mut() else { continue };
            let logits = ctx.get_logits_ith(idx);
            match out {
                Out::Prefix => g.last_logits = Some(logits.to_vec()),
                Out::Item(p) => {
                    if let Some(c) = g.current.as_mut() {
                        let (lp, greedy) = score(logits, c.item.tokens[p + 1]);
                        c.logprob += lp;
                        c.greedy &= greedy;
                    }
                }
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
