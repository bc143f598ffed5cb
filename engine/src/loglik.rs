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

use std::collections::HashMap;
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::{EngineError, Loglikelihood, LoglikelihoodRequest, TokenLogprob};

struct Item {
    index: usize,
    tokens: Vec<LlamaToken>,
    /// First token index that belongs to the continuation.
    split: usize,
    /// Report every token (`LoglikelihoodRequest::per_token`).
    per_token: bool,
}

struct Group {
    prefix: Vec<LlamaToken>,
    items: Vec<Item>,
}

/// Split a request into whole-text tokens and the continuation start.
fn prepare(
    model: &LlamaModel,
    r: &LoglikelihoodRequest,
) -> Result<(Vec<LlamaToken>, usize), EngineError> {
    let vocab = model.vocab();
    let ctx_tokens = vocab.tokenize(r.context.as_bytes(), true, false);
    let whole = vocab.tokenize(format!("{}{}", r.context, r.continuation).as_bytes(), true, false);
    let mut common = ctx_tokens.iter().zip(&whole).take_while(|(a, b)| a == b).count();
    if common == 0 && r.per_token && r.context.is_empty() {
        // Scoring a whole text without a BOS token: its first token is the context.
        common = 1;
    }
    if common == 0 && !whole.is_empty() {
        return Err(EngineError::Decode(
            "the context is empty and the model adds no BOS token: nothing to condition on".into(),
        ));
    }
    Ok((whole, common))
}

/// One position's score in full: the target's log-probability, and the argmax with
/// its own.
#[derive(Clone, Copy)]
struct Scored {
    logprob: f64,
    top: LlamaToken,
    top_logprob: f64,
}

impl Scored {
    fn of(logits: &[f32], target: LlamaToken) -> Scored {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let log_sum = max + logits.iter().map(|&l| ((l as f64) - max).exp()).sum::<f64>().ln();
        let lp = |t: LlamaToken| {
            usize::try_from(t.0)
                .ok()
                .and_then(|t| logits.get(t))
                .map_or(f64::NEG_INFINITY, |&l| (l as f64) - log_sum)
        };
        let top = crate::sampler::argmax(logits);
        Scored { logprob: lp(target), top, top_logprob: lp(top) }
    }
}

/// Every token of `item` for a `per_token` request, BOS aside: the ones before the
/// split predicted by nothing, the others with their scores (`scored[p]` for token p).
fn token_logprobs(model: &LlamaModel, item: &Item, scored: &[Option<Scored>]) -> Vec<TokenLogprob> {
    let vocab = model.vocab();
    let piece =
        |t: LlamaToken| String::from_utf8_lossy(&vocab.token_to_piece(t, false, None)).into_owned();
    let bos = vocab.bos();
    item.tokens
        .iter()
        .enumerate()
        .filter(|&(p, &t)| !(p == 0 && t == bos))
        .map(|(p, &t)| {
            let s = scored.get(p).copied().flatten();
            TokenLogprob {
                text: piece(t),
                logprob: s.map(|s| s.logprob),
                top_text: s.map(|s| piece(s.top)).unwrap_or_default(),
                top_logprob: s.map(|s| s.top_logprob),
            }
        })
        .collect()
}

/// Group requests by context; answer the trivial and impossible ones at once.
fn plan(
    model: &LlamaModel,
    requests: &[LoglikelihoodRequest],
    n_ctx_seq: u32,
    results: &mut [Option<Result<Loglikelihood, EngineError>>],
) -> Vec<Group> {
    // Options of one question share their context; a `per_token` request is alone.
    let mut by_context: HashMap<(&str, usize), usize> = HashMap::new();
    let mut groups: Vec<(Vec<Item>, usize)> = Vec::new();
    for (index, r) in requests.iter().enumerate() {
        match prepare(model, r) {
            Err(e) => results[index] = Some(Err(e)),
            Ok((tokens, split)) if split >= tokens.len() => {
                let item = Item { index, tokens, split, per_token: r.per_token };
                let per_token =
                    if r.per_token { token_logprobs(model, &item, &[]) } else { Vec::new() };
                results[index] = Some(Ok(Loglikelihood {
                    logprob: 0.0,
                    tokens: 0,
                    is_greedy: true,
                    elapsed_ms: 0.0,
                    per_token,
                }))
            }
            Ok((tokens, _)) if tokens.len() - 1 > n_ctx_seq as usize => {
                results[index] = Some(Err(EngineError::PromptTooLong {
                    tokens: tokens.len() as u32 - 1,
                    n_ctx: n_ctx_seq,
                }))
            }
            Ok((tokens, split)) => {
                let key = (r.context.as_str(), if r.per_token { index } else { usize::MAX });
                let g = *by_context.entry(key).or_insert_with(|| {
                    groups.push((Vec::new(), usize::MAX));
                    groups.len() - 1
                });
                groups[g].1 = groups[g].1.min(split);
                groups[g].0.push(Item { index, tokens, split, per_token: r.per_token });
            }
        }
    }
    groups
        .into_iter()
        .map(|(items, p)| Group { prefix: items[0].tokens[..p].to_vec(), items })
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
    let n_batch = n_batch.max(1) as usize;
    let mut batch = LlamaBatch::new(n_batch, 1);
    // One group at a time in sequence 0: see the module docs.
    for group in plan(model, &requests, n_ctx_seq, &mut results) {
        run_group(model, ctx, &mut batch, n_batch, group, &mut results);
        let _ = ctx.clear_kv_cache_seq(Some(0), None, None);
    }
    results.into_iter().map(|r| r.unwrap_or(Err(EngineError::WorkerGone))).collect()
}

/// Decode a group's shared prefix, then each item's tokens after it (removed from the
/// KV cache again), writing every item's result.
fn run_group(
    model: &LlamaModel,
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch,
    n_batch: usize,
    group: Group,
    results: &mut [Option<Result<Loglikelihood, EngineError>>],
) {
    let prefix = &group.prefix;
    // Logits at the last prefix position: they predict a continuation's first token.
    let mut last_logits = None;
    let fed = feed(
        ctx,
        batch,
        n_batch,
        prefix,
        0,
        |p| p + 1 == prefix.len(),
        |_, l| {
            last_logits = Some(l.to_vec());
        },
    );
    if let Err(e) = fed {
        for item in &group.items {
            results[item.index] = Some(Err(EngineError::Decode(e.clone())));
        }
        return;
    }
    for item in &group.items {
        let started = Instant::now();
        let (mut logprob, mut greedy) = (0.0, true);
        // Per position, for a `per_token` request.
        let mut scored: Vec<Option<Scored>> =
            if item.per_token { vec![None; item.tokens.len()] } else { Vec::new() };
        if item.split == prefix.len()
            && let Some(l) = last_logits.as_ref()
        {
            let s = Scored::of(l, item.tokens[prefix.len()]);
            (logprob, greedy) = (s.logprob, s.top == item.tokens[prefix.len()]);
            if let Some(slot) = scored.get_mut(prefix.len()) {
                *slot = Some(s);
            }
        }
        // The last token is never fed: nothing is predicted from it.
        let body = &item.tokens[..item.tokens.len() - 1];
        let fed = feed(
            ctx,
            batch,
            n_batch,
            body,
            prefix.len(),
            |p| p + 1 >= item.split,
            |p, l| {
                let s = Scored::of(l, item.tokens[p + 1]);
                logprob += s.logprob;
                greedy &= s.top == item.tokens[p + 1];
                if let Some(slot) = scored.get_mut(p + 1) {
                    *slot = Some(s);
                }
            },
        );
        let _ = ctx.clear_kv_cache_seq(Some(0), Some(prefix.len() as u32), None);
        results[item.index] = Some(match fed {
            Ok(()) => Ok(Loglikelihood {
                logprob,
                tokens: (item.tokens.len() - item.split) as u32,
                is_greedy: greedy,
                elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                per_token: if item.per_token {
                    token_logprobs(model, item, &scored)
                } else {
                    Vec::new()
                },
            }),
            Err(e) => Err(EngineError::Decode(e)),
        });
    }
}

/// Decode `tokens[from..]` at their own positions in sequence 0, in chunks of
/// `n_batch`, asking for logits where `want(position)`; `on_logits` gets each.
fn feed(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch,
    n_batch: usize,
    tokens: &[LlamaToken],
    from: usize,
    want: impl Fn(usize) -> bool,
    mut on_logits: impl FnMut(usize, &[f32]),
) -> Result<(), String> {
    let mut start = from;
    while start < tokens.len() {
        let end = (start + n_batch).min(tokens.len());
        batch.clear();
        let mut outputs = Vec::new();
        for (p, &token) in tokens.iter().enumerate().take(end).skip(start) {
            batch.add(token, p as i32, &[0], want(p)).map_err(|e| e.to_string())?;
            if want(p) {
                outputs.push((p, (p - start) as i32));
            }
        }
        ctx.decode(batch).map_err(|e| e.to_string())?;
        for (p, idx) in outputs {
            on_logits(p, ctx.get_logits_ith(idx));
        }
        start = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_and_greedy() {
        let s = Scored::of(&[0.0, 0.0], LlamaToken(1));
        assert!((s.logprob - 0.5f64.ln()).abs() < 1e-12);
        assert_eq!(s.top, LlamaToken(0)); // argmax picks the first of equals
        assert!((s.top_logprob - s.logprob).abs() < 1e-12);
        let s = Scored::of(&[1.0, 3.0, 2.0], LlamaToken(2));
        assert_eq!(s.top, LlamaToken(1));
        let norm = (1f64.exp() + 3f64.exp() + 2f64.exp()).ln();
        assert!((s.logprob - (2.0 - norm)).abs() < 1e-12);
        assert!((s.top_logprob - (3.0 - norm)).abs() < 1e-12);
    }
}
