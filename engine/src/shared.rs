//! Cross-sequence prompt prefix sharing. Requests that declare a shared prefix (a
//! few-shot preamble, a system prompt, a tool list) get its KV cells copied from one
//! sequence that decoded it, instead of each decoding it again.
//!
//! What makes it safe for measurement: the shared cells are always made the same way —
//! the prefix tokens alone, from position 0, in chunks of the batch size, in a sequence
//! kept for that — so a request's cells never depend on what ran before it (unlike
//! reusing whatever a slot's previous request left, see [`prefix`](crate::prefix)).
//! llama.cpp keeps each sequence in a KV stream of its own (`kv_unified` off), and a
//! copy between streams copies the whole stream, cells at the same places: the copy is
//! bit-identical to the template. The copy is queued and done at the start of the next
//! decode, before that decode writes anything, so rebuilding the template for another
//! prefix right after a copy still copies the old one.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::EngineError;
use crate::generate::tokenize_prompt;

/// Shorter shared prefixes are decoded with the rest of the prompt: copying a whole
/// stream costs about what decoding a few dozen tokens does.
pub(crate) const MIN_SHARED_TOKENS: usize = 32;

/// The sequence holding the shared prefix, and which tokens it holds.
pub(crate) struct SharedPrefix {
    seq: i32,
    held: Vec<LlamaToken>,
}

/// How many leading tokens of `prompt` a request declaring `bytes` of `rendered` as
/// shared can take from the template: the tokens that the shared text alone tokenizes
/// to, as far as they agree with the prompt's, always leaving one prompt token to
/// decode. 0 when below [`MIN_SHARED_TOKENS`] or the declaration is out of range.
pub(crate) fn boundary(
    model: &LlamaModel,
    rendered: &str,
    bytes: Option<u32>,
    prompt: &[LlamaToken],
) -> usize {
    let Some(bytes) = bytes.map(|b| b as usize) else { return 0 };
    let Some(text) = rendered.get(..bytes) else { return 0 };
    let alone = tokenize_prompt(model, text);
    let agree = alone.iter().zip(prompt).take_while(|(a, b)| a == b).count();
    // The last token of the text alone may be cut short by the boundary (" Jan" of
    // " Janet"): it agreed only by chance with what follows in a longer prompt, so it
    // is not shared.
    let k = agree.min(alone.len().saturating_sub(1)).min(prompt.len().saturating_sub(1));
    if k >= MIN_SHARED_TOKENS { k } else { 0 }
}

impl SharedPrefix {
    /// The template lives in sequence `seq` (one past the request slots).
    pub(crate) fn new(seq: i32) -> Self {
        Self { seq, held: Vec::new() }
    }

    /// Make `slot`'s cells hold `tokens` (from position 0) and nothing else: decode
    /// them into the template first unless it holds exactly them.
    pub(crate) fn copy_to(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        batch: &mut LlamaBatch<'_>,
        n_batch: usize,
        slot: usize,
        tokens: &[LlamaToken],
    ) -> Result<(), EngineError> {
        if self.held != tokens {
            self.build(ctx, batch, n_batch, tokens)?;
        }
        ctx.copy_kv_cache_seq(self.seq, slot as i32, None, None)
            .map_err(|e| EngineError::Decode(format!("copying the shared prefix: {e}")))
    }

    /// Decode `tokens` alone into the template's sequence, from position 0, in chunks
    /// of `n_batch`: the same decode calls every time, so the same cells.
    fn build(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        batch: &mut LlamaBatch<'_>,
        n_batch: usize,
        tokens: &[LlamaToken],
    ) -> Result<(), EngineError> {
        self.forget(ctx);
        let fail = |e: String| EngineError::Decode(format!("decoding the shared prefix: {e}"));
        for (c, chunk) in tokens.chunks(n_batch.max(1)).enumerate() {
            batch.clear();
            let start = c * n_batch.max(1);
            for (k, &tok) in chunk.iter().enumerate() {
                let last = k + 1 == chunk.len();
                batch
                    .add(tok, (start + k) as i32, &[self.seq], last)
                    .map_err(|e| fail(e.to_string()))?;
            }
            if let Err(e) = ctx.decode(batch) {
                self.forget(ctx);
                return Err(fail(e.to_string()));
            }
        }
        batch.clear();
        self.held = tokens.to_vec();
        Ok(())
    }

    /// Drop the template's cells (before a job that uses the whole context).
    pub(crate) fn forget(&mut self, ctx: &mut LlamaContext<'_>) {
        let _ = ctx.clear_kv_cache_seq(Some(self.seq as u32), None, None);
        self.held.clear();
    }

    /// The context was emptied by someone else: the template holds nothing.
    pub(crate) fn cleared(&mut self) {
        self.held.clear();
    }
}
