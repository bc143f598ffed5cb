//! What one item cost: tokens and timings summed over the engine calls of its
//! episode (one for single-turn items, several for agent tasks), turned into the
//! `timings` of its `items.jsonl` record.

use noa_engine::{Generation, Loglikelihood};
use noa_registry::runs::ItemTimings;

/// Accumulated engine figures of one item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// sha256 of the first prompt (see the scheduler).
    pub prompt_sha256: String,
    /// The text of the first prompt (see the scheduler).
    pub prompt: Option<String>,
    pub prompt_tokens: u32,
    /// Of `prompt_tokens`, those not decoded for this item (a copied shared prefix).
    pub shared_tokens: u32,
    pub gen_tokens: u32,
    /// Time to the first generated token of the first generation.
    pub ttft_ms: Option<f64>,
    /// Engine time summed over the episode's calls.
    pub e2e_ms: f64,
    pub gaps_ms: Vec<f64>,
    prompt_ms: f64,
    gen_ms: f64,
    /// The engine failed this item; the reason.
    pub error: Option<String>,
}

impl Trace {
    pub fn add_generation(&mut self, g: &Generation) {
        let t = &g.timings;
        self.prompt_tokens += g.prompt_tokens;
        self.shared_tokens += g.cached_tokens;
        self.gen_tokens += g.gen_tokens;
        if self.ttft_ms.is_none() {
            self.ttft_ms = Some(t.ttft_ms);
        }
        self.e2e_ms += t.e2e_ms;
        self.gaps_ms.extend_from_slice(&t.inter_token_ms);
        // The engine's rate is of the tokens it decoded, not of those it copied.
        if t.prompt_tps > 0.0 {
            let decoded = g.prompt_tokens.saturating_sub(g.cached_tokens);
            self.prompt_ms += f64::from(decoded) / t.prompt_tps * 1000.0;
        }
        if t.gen_tps > 0.0 {
            self.gen_ms += f64::from(g.gen_tokens) / t.gen_tps * 1000.0;
        }
    }

    /// Multiple-choice scoring: no generated tokens; "first token" is the answer.
    pub fn add_loglikelihoods(&mut self, lls: &[Loglikelihood]) {
        let ms: f64 = lls.iter().map(|l| l.elapsed_ms).sum();
        let tokens: u32 = lls.iter().map(|l| l.tokens).sum();
        self.prompt_tokens += tokens;
        self.e2e_ms += ms;
        self.prompt_ms += ms;
        if self.ttft_ms.is_none() {
            self.ttft_ms = Some(ms);
        }
    }

    pub fn timings(&self) -> ItemTimings {
        let rate = |n: u32, ms: f64| if ms > 0.0 { f64::from(n) / ms * 1000.0 } else { 0.0 };
        let mean_gap = if self.gaps_ms.is_empty() {
            0.0
        } else {
            self.gaps_ms.iter().sum::<f64>() / self.gaps_ms.len() as f64
        };
        ItemTimings {
            ttft_ms: self.ttft_ms.unwrap_or(0.0),
            e2e_ms: self.e2e_ms,
            inter_token_ms: mean_gap,
            inter_token_gaps_ms: self.gaps_ms.clone(),
            prompt_tps: rate(self.prompt_tokens.saturating_sub(self.shared_tokens), self.prompt_ms),
            gen_tps: rate(self.gen_tokens, self.gen_ms),
        }
    }
}
