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

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::backend::backend;
use crate::{EngineError, SpeedResult};

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
    let dec = |e: String| EngineError::Decode(format!("speed test: {e}"));
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_prompt + n_gen))
        .with_n_batch(BENCH_N_BATCH)
        .with_n_ubatch(BENCH_N_UBATCH)
        .with_swa_full(false)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads as i32);
    let mut ctx = model.new_context(backend()?, params).map_err(|e| dec(e.to_string()))?;
    let vocab = model.vocab();
    let n_vocab = vocab.n_tokens();
    let bos = vocab.should_add_bos().then(|| vocab.bos());
    let mut rng = Lcg(0x5eed);
    let mut tokens: Vec<LlamaToken> = Vec::with_capacity(BENCH_N_BATCH as usize);
    let mut gen_batch = LlamaBatch::new(1, 1);

    let mut prompt = |ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
                      rng: &mut Lcg|
     -> Result<(), EngineError> {
        let mut done = 0;
        while done < n_prompt {
            let n = (n_prompt - done).min(BENCH_N_BATCH);
            tokens.clear();
            tokens.push(match bos {
                Some(b) if done == 0 => b,
                _ => rng.next(n_vocab),
            });
            for _ in 1..n {
                tokens.push(rng.next(n_vocab));
            }
            let mut batch = LlamaBatch::get_one(&tokens).map_err(|e| dec(e.to_string()))?;
            ctx.decode(&mut batch).map_err(|e| dec(e.to_string()))?;
            done += n;
        }
        ctx.synchronize();
        Ok(())
    };
    let mut generate = |ctx: &mut llama_cpp_2::context::LlamaContext<'_>,
                        rng: &mut Lcg,
                        n: u32|
     -> Result<(), EngineError> {
        let mut token = bos.unwrap_or_else(|| rng.next(n_vocab));
        for pos in 0..n {
            gen_batch.clear();
            gen_batch.add(token, pos as i32, &[0], true).map_err(|e| dec(e.to_string()))?;
            ctx.decode(&mut gen_batch).map_err(|e| dec(e.to_string()))?;
            ctx.synchronize();
            token = rng.next(n_vocab);
        }
        Ok(())
    };

    ctx.clear_kv_cache();
    // Warm-up, as llama-bench does: a whole prompt run, or one generated token.
    if n_prompt > 0 {
        prompt(&mut ctx, &mut rng)?;
    }
    if n_gen > 0 {
        generate(&mut ctx, &mut rng, 1)?;
    }
    let mut samples = Vec::with_capacity(reps as usize);
    for _ in 0..reps {
        ctx.clear_kv_cache();
        let t0 = Instant::now();
        if n_prompt > 0 {
            prompt(&mut ctx, &mut rng)?;
        }
        if n_gen > 0 {
            generate(&mut ctx, &mut rng, n_gen)?;
        }
        let secs = t0.elapsed().as_secs_f64();
        samples.push(f64::from(n_prompt + n_gen) / secs);
    }
    Ok(samples)
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
