//! Throughput measured exactly the way llama.cpp's `llama-bench` measures pp and tg, so
//! the two can be compared side by side: a fresh context of `n_prompt + n_gen` tokens
//! (batch 2048, micro-batch 512, no full-size SWA cache, llama.cpp's default context
//! parameters otherwise),
//! random tokens (BOS first when the model adds one), one warm-up run, then per
//! repetition: clear the KV cache, time the test. pp decodes the prompt in batches of
//! `n_batch`; tg decodes `n_gen` single tokens, synchronising after each. Result:
//! mean and sample standard deviation of tokens/s over the repetitions.

use std::num::NonZeroU32;
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use serde::{Deserialize, Serialize};

use crate::backend::backend;
use crate::{EngineError, SpeedResult};

/// What to measure: llama-bench's `-p`, `-n` and `-r`. `n_prompt` 0 or `n_gen` 0 skips
/// that test. One value, so the in-process model, the worker and the protocol between
/// them pass the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeedRequest {
    pub n_prompt: u32,
    pub n_gen: u32,
    pub repetitions: u32,
}

const BENCH_N_BATCH: u32 = 2048;
const BENCH_N_UBATCH: u32 = 512;

/// `std::rand`-like generator (llama-bench uses `rand() % n_vocab`).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: i32) -> LlamaToken {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        LlamaToken(((self.0 >> 33) % n.max(1) as u64) as i32)
    }
}

pub(crate) fn run(
    model: &LlamaModel,
    threads: u32,
    n_prompt: u32,
    n_gen: u32,
    reps: u32,
) -> Result<SpeedResult, EngineError> {
    let reps = reps.max(1);
    let mut out = SpeedResult {
        n_prompt,
        n_gen,
        threads,
        repetitions: reps,
        pp_tps_mean: 0.0,
        pp_tps_stddev: 0.0,
        tg_tps_mean: 0.0,
        tg_tps_stddev: 0.0,
    };
    // llama-bench runs pp and tg as two separate tests, each with its own context.
    if n_prompt > 0 {
        let s = test(model, threads, n_prompt, 0, reps)?;
        (out.pp_tps_mean, out.pp_tps_stddev) = mean_stddev(&s);
    }
    if n_gen > 0 {
        let s = test(model, threads, 0, n_gen, reps)?;
        (out.tg_tps_mean, out.tg_tps_stddev) = mean_stddev(&s);
    }
    Ok(out)
}

/// tokens/s of each repetition.
fn test(
    model: &LlamaModel,
    threads: u32,
    n_prompt: u32,
    n_gen: u32,
    reps: u32,
) -> Result<Vec<f64>, EngineError> {
    let mut ctx = bench_context(model, threads, n_prompt + n_gen)?;
    let mut feed = Feed::new(model);
    ctx.clear_kv_cache();
    // Warm-up, as llama-bench does: a whole prompt run, or one generated token.
    feed.run(&mut ctx, n_prompt, n_gen.min(1))?;
    let mut samples = Vec::with_capacity(reps as usize);
    for _ in 0..reps {
        ctx.clear_kv_cache();
        let t0 = Instant::now();
        feed.run(&mut ctx, n_prompt, n_gen)?;
        let secs = t0.elapsed().as_secs_f64();
        samples.push(f64::from(n_prompt + n_gen) / secs);
    }
    Ok(samples)
}

fn speed_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::Decode(format!("speed test: {e}"))
}

/// A fresh context of `n_ctx` tokens with llama-bench's batch sizes.
fn bench_context(
    model: &LlamaModel,
    threads: u32,
    n_ctx: u32,
) -> Result<LlamaContext<'_>, EngineError> {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(BENCH_N_BATCH)
        .with_n_ubatch(BENCH_N_UBATCH)
        .with_swa_full(false)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads as i32);
    model.new_context(backend()?, params).map_err(speed_error)
}

/// The random tokens a test decodes, drawn in the order llama-bench draws them (one
/// generator for the warm-up and every repetition).
struct Feed {
    rng: Lcg,
    n_vocab: i32,
    /// The first token of a prompt, when the model adds a BOS.
    bos: Option<LlamaToken>,
    tokens: Vec<LlamaToken>,
    gen_batch: LlamaBatch<'static>,
}

impl Feed {
    fn new(model: &LlamaModel) -> Self {
        let vocab = model.vocab();
        Feed {
            rng: Lcg(0x5eed),
            n_vocab: vocab.n_tokens(),
            bos: vocab.should_add_bos().then(|| vocab.bos()),
            tokens: Vec::with_capacity(BENCH_N_BATCH as usize),
            gen_batch: LlamaBatch::new(1, 1),
        }
    }

    /// A prompt of `n_prompt` tokens, then `n_gen` generated ones (0 skips either).
    fn run(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        n_prompt: u32,
        n_gen: u32,
    ) -> Result<(), EngineError> {
        if n_prompt > 0 {
            self.prompt(ctx, n_prompt)?;
        }
        if n_gen > 0 {
            self.generate(ctx, n_gen)?;
        }
        Ok(())
    }

    /// pp: `n_prompt` tokens decoded in batches of `BENCH_N_BATCH`.
    fn prompt(&mut self, ctx: &mut LlamaContext<'_>, n_prompt: u32) -> Result<(), EngineError> {
        let mut done = 0;
        while done < n_prompt {
            let n = (n_prompt - done).min(BENCH_N_BATCH);
            self.tokens.clear();
            self.tokens.push(match self.bos {
                Some(b) if done == 0 => b,
                _ => self.rng.next(self.n_vocab),
            });
            for _ in 1..n {
                self.tokens.push(self.rng.next(self.n_vocab));
            }
            let mut batch = LlamaBatch::get_one(&self.tokens).map_err(speed_error)?;
            ctx.decode(&mut batch).map_err(speed_error)?;
            done += n;
        }
        ctx.synchronize();
        Ok(())
    }

    /// tg: `n` single tokens, synchronising after each.
    fn generate(&mut self, ctx: &mut LlamaContext<'_>, n: u32) -> Result<(), EngineError> {
        let mut token = self.bos.unwrap_or_else(|| self.rng.next(self.n_vocab));
        for pos in 0..n {
            self.gen_batch.clear();
            self.gen_batch.add(token, pos as i32, &[0], true).map_err(speed_error)?;
            ctx.decode(&mut self.gen_batch).map_err(speed_error)?;
            ctx.synchronize();
            token = self.rng.next(self.n_vocab);
        }
        Ok(())
    }
}

/// Mean and sample standard deviation (n - 1), as llama-bench reports them.
pub(crate) fn mean_stddev(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    #[test]
    fn mean_stddev_matches_sample_formula() {
        let (m, s) = super::mean_stddev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert!((m - 5.0).abs() < 1e-12);
        assert!((s - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }
}
