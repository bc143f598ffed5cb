//! The worker thread that owns a model's llama.cpp context (contexts are not `Send`).
//! Jobs arrive over a channel, each with its own reply channel. Generation requests go
//! through the continuous-batching scheduler; log-likelihood and speed jobs need the
//! whole context, so when one reaches the head of the queue no new generations are
//! admitted, the active ones finish, and it runs alone (first come, first served).
//! The thread ends when every `Model` handle is gone and the queue is empty.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::model::LlamaModel;

use crate::backend::backend;
use crate::generate::{GenJob, Scheduler};
use crate::{EngineConfig, EngineError, Loglikelihood, LoglikelihoodRequest, SpeedResult};

pub(crate) enum Job {
    Generate(GenJob),
    Loglikelihood {
        requests: Vec<LoglikelihoodRequest>,
        reply: Sender<Vec<Result<Loglikelihood, EngineError>>>,
    },
    Speed {
        n_prompt: u32,
        n_gen: u32,
        repetitions: u32,
        reply: Sender<Result<SpeedResult, EngineError>>,
    },
}

/// Sequences in the context: the request slots, and one for the shared prefix.
pub(crate) fn context_sequences(cfg: &EngineConfig) -> u32 {
    cfg.n_seq_max.max(1) + u32::from(cfg.prefix_share)
}

/// Context parameters for a config: `n_ctx` per sequence × its sequences. Each
/// sequence gets a KV stream of its own (llama.cpp's default, `kv_unified` off): what a
/// sequence computes does not depend on the others' cells, and the shared prefix is
/// copied between streams whole.
pub(crate) fn context_params(cfg: &EngineConfig) -> LlamaContextParams {
    let n_seq = context_sequences(cfg);
    let n_ctx_total = cfg.n_ctx.max(16).saturating_mul(n_seq);
    let n_batch = cfg.n_batch.max(1);
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx_total))
        .with_n_batch(n_batch)
        .with_n_ubatch(n_batch.min(512))
        .with_n_seq_max(n_seq)
        .with_n_threads(cfg.threads.max(1) as i32)
        .with_n_threads_batch(cfg.threads.max(1) as i32)
        .with_flash_attention_policy(cfg.flash_attn.llama())
}

pub(crate) fn run(
    model: Arc<LlamaModel>,
    cfg: EngineConfig,
    path: String,
    jobs: Receiver<Job>,
    ready: Sender<Result<(), EngineError>>,
) {
    let backend = match backend() {
        Ok(b) => b,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut ctx = match model.new_context(backend, context_params(&cfg)) {
        Ok(c) => c,
        Err(e) => {
            let reason =
                format!("cannot create a context of {} × {} tokens: {e}", cfg.n_seq_max, cfg.n_ctx);
            let _ = ready.send(Err(EngineError::Load { path, reason }));
            return;
        }
    };
    // The context may round sizes; use what it really has per sequence.
    let n_seq = cfg.n_seq_max.max(1);
    let n_ctx_seq = ctx.n_ctx() / context_sequences(&cfg);
    let n_batch = ctx.n_batch();
    let _ = ready.send(Ok(()));

    let mut sched =
        Scheduler::new(&model, n_ctx_seq, n_seq, n_batch, cfg.prefix_cache, cfg.prefix_share);
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut connected = true;
    loop {
        if sched.is_idle() && queue.is_empty() {
            if !connected {
                break;
            }
            match jobs.recv() {
                Ok(j) => queue.push_back(j),
                Err(_) => break,
            }
        }
        loop {
            match jobs.try_recv() {
                Ok(j) => queue.push_back(j),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    connected = false;
                    break;
                }
            }
        }
        while let Some(front) = queue.front() {
            let exclusive = !matches!(front, Job::Generate(_));
            if (exclusive && !sched.is_idle()) || (!exclusive && !sched.has_free_slot()) {
                break;
            }
            match queue.pop_front() {
                Some(Job::Generate(g)) => sched.admit(&mut ctx, g),
                Some(Job::Loglikelihood { requests, reply }) => {
                    sched.forget(&mut ctx);
                    let r = crate::loglik::run(&model, &mut ctx, requests, n_ctx_seq, n_batch);
                    let _ = reply.send(r);
                }
                Some(Job::Speed { n_prompt, n_gen, repetitions, reply }) => {
                    let r =
                        crate::speed::run(&model, cfg.threads.max(1), n_prompt, n_gen, repetitions);
                    let _ = reply.send(r);
                }
                None => break,
            }
        }
        if !sched.is_idle() {
            sched.step(&mut ctx);
        }
    }
}
