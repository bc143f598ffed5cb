//! Continuous batching. Every active request is one llama.cpp sequence (its slot index is
//! its `seq_id`); each step puts the next token of every generating sequence and chunks
//! of waiting prompts into one `LlamaBatch`, decodes once, samples each sequence, and
//! retires the ones that finished so queued requests take the free slots at the next
//! step. A retired slot keeps its prompt's KV cells for the next prompt that shares
//! their prefix (see [`prefix`](crate::prefix)); only the rest of that prompt is decoded.

use std::sync::mpsc::Sender;
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::prefix::PrefixCache;
use crate::sampler::SeqSampler;
use crate::shared::SharedPrefix;
use crate::text::TextState;
use crate::{EngineError, FinishReason, GenerateRequest, Generation, RequestTimings, StreamEvent};

/// Where a request's result goes.
pub(crate) enum Reply {
    Once(Sender<Result<Generation, EngineError>>),
    Stream(Sender<StreamEvent>),
}

impl Reply {
    pub(crate) fn fail(self, e: EngineError) {
        match self {
            Reply::Once(tx) => drop(tx.send(Err(e))),
            Reply::Stream(tx) => drop(tx.send(StreamEvent::Failed(e))),
        }
    }
}

/// A generation request waiting for a slot (the prompt already rendered).
pub(crate) struct GenJob {
    pub(crate) request: GenerateRequest,
    pub(crate) rendered: String,
    pub(crate) reply: Reply,
    pub(crate) enqueued: Instant,
}

struct Seq {
    reply: Reply,
    rendered: String,
    prompt: Vec<LlamaToken>,
    /// Prompt tokens already in the KV cells (reused from the slot's last request, or
    /// put in a batch).
    fed: usize,
    /// Leading prompt tokens whose cells were reused from the slot's last request.
    reused: usize,
    /// Position of the next token in this sequence.
    pos: i32,
    next: Option<LlamaToken>,
    logit_idx: Option<i32>,
    sampler: SeqSampler,
    text: TextState,
    max_tokens: u32,
    gen_tokens: u32,
    deadline: Option<Instant>,
    enqueued: Instant,
    admitted: Instant,
    first: Option<Instant>,
    last: Instant,
    gaps: Vec<f64>,
}

pub(crate) struct Scheduler<'m> {
    model: &'m LlamaModel,
    n_ctx_seq: u32,
    n_batch: usize,
    slots: Vec<Option<Seq>>,
    /// Prompt cells kept for reuse; `None` when every slot is cleared on retirement.
    cache: Option<PrefixCache>,
    /// The sequence that shared prompt prefixes are copied from; `None` when requests'
    /// shared prefixes are decoded with the rest of their prompts.
    shared: Option<SharedPrefix>,
    batch: LlamaBatch<'static>,
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Tokenize a prompt: special tokens parsed, BOS added when the model wants one, and a
/// BOS that the chat template already wrote not doubled.
pub(crate) fn tokenize_prompt(model: &LlamaModel, text: &str) -> Vec<LlamaToken> {
    let vocab = model.vocab();
    let mut tokens = vocab.tokenize(text.as_bytes(), true, true);
    let bos = vocab.bos();
    if tokens.len() >= 2 && tokens[0] == bos && tokens[1] == bos {
        tokens.remove(0);
    }
    tokens
}

impl<'m> Scheduler<'m> {
    pub(crate) fn new(
        model: &'m LlamaModel,
        n_ctx_seq: u32,
        n_seq_max: u32,
        n_batch: u32,
        prefix_cache: bool,
        prefix_share: bool,
    ) -> Self {
        let n_batch = n_batch.max(1) as usize;
        let n_slots = n_seq_max.max(1);
        Self {
            model,
            n_ctx_seq,
            n_batch,
            slots: (0..n_slots).map(|_| None).collect(),
            cache: prefix_cache.then(|| PrefixCache::new(n_slots as usize)),
            // The sequence after the request slots (the context has one more).
            shared: prefix_share.then(|| SharedPrefix::new(n_slots as i32)),
            batch: LlamaBatch::new(n_batch, 1),
        }
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    pub(crate) fn has_free_slot(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    /// Empty every slot's KV cells, before a job that needs the whole context.
    pub(crate) fn forget(&mut self, ctx: &mut LlamaContext<'_>) {
        match self.cache.as_mut() {
            Some(c) => c.clear_all(ctx),
            None => ctx.clear_kv_cache(),
        }
        if let Some(t) = self.shared.as_mut() {
            t.cleared();
        }
    }

    /// A sequence leaves `slot`: its prompt cells stay for reuse, or all go.
    fn retire(&mut self, ctx: &mut LlamaContext<'_>, slot: usize, prompt: &[LlamaToken]) {
        match self.cache.as_mut() {
            Some(c) => c.retire(ctx, slot, prompt),
            None => drop(ctx.clear_kv_cache_seq(Some(slot as u32), None, None)),
        }
    }

    /// Take a request into the free slot that holds the longest prefix of its prompt,
    /// or answer it at once (error, `max_tokens` 0).
    pub(crate) fn admit(&mut self, ctx: &mut LlamaContext<'_>, job: GenJob) {
        let admitted = Instant::now();
        if job.request.deadline.is_some_and(|d| admitted >= d) {
            return job.reply.fail(EngineError::DeadlinePassed);
        }
        let prompt = tokenize_prompt(self.model, &job.rendered);
        if prompt.is_empty() {
            return job.reply.fail(EngineError::Decode("the prompt is empty".into()));
        }
        if prompt.len() as u64 >= u64::from(self.n_ctx_seq) {
            return job.reply.fail(EngineError::PromptTooLong {
                tokens: prompt.len() as u32,
                n_ctx: self.n_ctx_seq,
            });
        }
        let r = &job.request;
        let sampler =
            match SeqSampler::new(self.model, r.temperature, r.seed, r.constraint.as_ref()) {
                Ok(s) => s,
                Err(e) => return job.reply.fail(e),
            };
        let free: Vec<usize> = (0..self.slots.len()).filter(|&i| self.slots[i].is_none()).collect();
        let placed = match self.cache.as_mut() {
            Some(c) => c.place(&free, &prompt).map(|p| (p.slot, c.truncate(ctx, p.slot, p.reused))),
            None => free.first().map(|&slot| (slot, 0)),
        };
        let Some((slot, mut reused)) = placed else {
            return job.reply.fail(EngineError::Decode("no free sequence slot".into()));
        };
        let share = match self.shared.as_ref() {
            Some(_) => crate::shared::boundary(self.model, &job.rendered, r.shared_prefix, &prompt),
            None => 0,
        };
        // Without the prefix cache nothing is reused, so a shared prefix always comes
        // from the template: the same cells whatever ran before. With it (`noa serve`)
        // a slot already holding more of the prompt keeps its own cells.
        if let Some(t) = self.shared.as_mut()
            && share > reused
        {
            if let Err(e) = t.copy_to(ctx, &mut self.batch, self.n_batch, slot, &prompt[..share]) {
                return job.reply.fail(e);
            }
            if let Some(c) = self.cache.as_mut() {
                c.replaced(slot, &prompt[..share]);
            }
            reused = share;
        }
        let seq = Seq {
            reply: job.reply,
            rendered: job.rendered,
            prompt,
            fed: reused,
            reused,
            pos: reused as i32,
            next: None,
            logit_idx: None,
            sampler,
            text: TextState::new(job.request.stop.clone())
                .stop_after_json(job.request.stop_after_json),
            max_tokens: job.request.max_tokens,
            gen_tokens: 0,
            deadline: job.request.deadline,
            enqueued: job.enqueued,
            admitted,
            first: None,
            last: admitted,
            gaps: Vec::new(),
        };
        if seq.max_tokens == 0 {
            return finish(seq, FinishReason::Length);
        }
        self.slots[slot] = Some(seq);
    }

    /// One decode over every active sequence.
    pub(crate) fn step(&mut self, ctx: &mut LlamaContext<'_>) {
        self.expire(ctx);
        self.batch.clear();
        let mut n: i32 = 0;
        let mut add_failed = false;
        for (id, s) in self.slots.iter_mut().enumerate() {
            let Some(s) = s else { continue };
            s.logit_idx = None;
            if let Some(tok) = s.next.take() {
                add_failed |= self.batch.add(tok, s.pos, &[id as i32], true).is_err();
                s.logit_idx = Some(n);
                s.pos += 1;
                n += 1;
            }
        }
        let mut budget = self.n_batch.saturating_sub(n as usize);
        for (id, s) in self.slots.iter_mut().enumerate() {
            let Some(s) = s else { continue };
            if budget == 0 || s.fed >= s.prompt.len() {
                continue;
            }
            let take = (s.prompt.len() - s.fed).min(budget);
            for k in 0..take {
                let last = s.fed + k + 1 == s.prompt.len();
                add_failed |=
                    self.batch.add(s.prompt[s.fed + k], s.pos, &[id as i32], last).is_err();
                if last {
                    s.logit_idx = Some(n);
                }
                s.pos += 1;
                n += 1;
            }
            s.fed += take;
            budget -= take;
        }
        if n == 0 {
            return;
        }
        let decoded = if add_failed {
            Err("batch overflow".to_owned())
        } else {
            ctx.decode(&mut self.batch).map_err(|e| e.to_string())
        };
        if let Err(e) = decoded {
            for id in 0..self.slots.len() {
                if let Some(s) = self.slots[id].take() {
                    self.retire(ctx, id, &[]);
                    s.reply.fail(EngineError::Decode(e.clone()));
                }
            }
            return;
        }
        let now = Instant::now();
        for id in 0..self.slots.len() {
            let Some(idx) = self.slots[id].as_ref().and_then(|s| s.logit_idx) else { continue };
            let logits = ctx.get_logits_ith(idx);
            let outcome = match self.slots[id].as_mut() {
                Some(s) => on_token(self.model, s, logits, now, self.n_ctx_seq),
                None => continue,
            };
            if let Some(end) = outcome
                && let Some(s) = self.slots[id].take()
            {
                self.retire(ctx, id, &s.prompt[..s.fed]);
                match end {
                    Ok(reason) => finish(s, reason),
                    Err(e) => s.reply.fail(e),
                }
            }
        }
    }
}

impl Scheduler<'_> {
    /// Fail every sequence whose deadline has passed and free its slot.
    fn expire(&mut self, ctx: &mut LlamaContext<'_>) {
        let now = Instant::now();
        for id in 0..self.slots.len() {
            let due = self.slots[id].as_ref().is_some_and(|s| s.deadline.is_some_and(|d| now >= d));
            if due && let Some(s) = self.slots[id].take() {
                self.retire(ctx, id, &s.prompt[..s.fed]);
                s.reply.fail(EngineError::DeadlinePassed);
            }
        }
    }
}

/// Sample the next token of `s`; `Some` when the sequence is done.
fn on_token(
    model: &LlamaModel,
    s: &mut Seq,
    logits: &[f32],
    now: Instant,
    n_ctx_seq: u32,
) -> Option<Result<FinishReason, EngineError>> {
    let tok = match s.sampler.sample(logits) {
        Ok(t) => t,
        Err(e) => return Some(Err(e)),
    };
    match s.first {
        None => s.first = Some(now),
        Some(_) => s.gaps.push(ms(now - s.last)),
    }
    s.last = now;
    s.gen_tokens += 1;
    let vocab = model.vocab();
    if vocab.is_eog(tok) {
        return Some(Ok(FinishReason::Eog));
    }
    let piece = vocab.token_to_piece(tok, false, None);
    let stopped = s.text.push(&piece);
    if let Reply::Stream(tx) = &s.reply
        && let Some(chunk) = s.text.take_stream(false)
        && tx.send(StreamEvent::Token(chunk)).is_err()
    {
        // The receiver is gone: stop spending compute on it.
        return Some(Err(EngineError::WorkerGone));
    }
    if stopped {
        return Some(Ok(FinishReason::Stop));
    }
    if s.sampler.has_grammar() && s.sampler.grammar_complete() {
        return Some(Ok(FinishReason::Constraint));
    }
    if s.gen_tokens >= s.max_tokens || s.pos as u32 >= n_ctx_seq {
        return Some(Ok(FinishReason::Length));
    }
    s.next = Some(tok);
    None
}

fn finish(mut s: Seq, finish: FinishReason) {
    s.text.finish();
    let tail = s.text.take_stream(true);
    let first = s.first.unwrap_or(s.last);
    let prefill = (first - s.admitted).as_secs_f64();
    let gap_sum: f64 = s.gaps.iter().sum();
    let timings = RequestTimings {
        queue_ms: ms(s.admitted.saturating_duration_since(s.enqueued)),
        ttft_ms: ms(first - s.admitted),
        e2e_ms: ms(s.last - s.admitted),
        prompt_tps: if prefill > 0.0 { (s.prompt.len() - s.reused) as f64 / prefill } else { 0.0 },
        gen_tps: if gap_sum > 0.0 { s.gaps.len() as f64 * 1000.0 / gap_sum } else { 0.0 },
        inter_token_ms: std::mem::take(&mut s.gaps),
    };
    let generation = Generation {
        text: s.text.into_text(),
        prompt_tokens: s.prompt.len() as u32,
        cached_tokens: s.reused as u32,
        gen_tokens: s.gen_tokens,
        finish,
        timings,
        rendered_prompt: s.rendered,
    };
    match s.reply {
        Reply::Once(tx) => drop(tx.send(Ok(generation))),
        Reply::Stream(tx) => {
            if let Some(t) = tail {
                let _ = tx.send(StreamEvent::Token(t));
            }
            let _ = tx.send(StreamEvent::Done(generation));
        }
    }
}
