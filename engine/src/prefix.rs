//! Prompt prefix reuse across requests. A sequence slot that finishes keeps its KV
//! cells and remembers the tokens they hold; the next request admitted to a free slot
//! goes to the one sharing the longest prefix with its prompt, and only the rest of
//! the prompt is decoded. Multi-turn agent episodes (each turn re-sends the whole
//! conversation) and few-shot prompts (one long shared preamble) are where this pays:
//! llama.cpp's server does the same with `cache_prompt`.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::token::LlamaToken;

/// What each slot's KV cells hold, by token, position 0 first.
pub(crate) struct PrefixCache {
    held: Vec<Vec<LlamaToken>>,
    /// When each slot was last given a request (a counter), for least-recently-used.
    used: Vec<u64>,
    clock: u64,
}

/// Where to put a new prompt: the slot, and how many of its leading tokens are
/// already in that slot's KV cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    pub slot: usize,
    pub reused: usize,
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl PrefixCache {
    pub(crate) fn new(slots: usize) -> Self {
        Self { held: vec![Vec::new(); slots], used: vec![0; slots], clock: 0 }
    }

    /// Among the `free` slots that would keep at least half of what they hold (an
    /// empty slot always would), the one sharing the longest prefix with `prompt`;
    /// when there is none, the least recently used slot. So an agent's next turn finds
    /// its conversation, and a prompt that shares only a system prompt or a chat
    /// template's first tokens does not destroy it. At least one prompt token is always
    /// left to decode, for its logits.
    pub(crate) fn place(&mut self, free: &[usize], prompt: &[LlamaToken]) -> Option<Placement> {
        let limit = prompt.len().saturating_sub(1);
        let reused = |slot: usize| common_prefix(&self.held[slot], prompt).min(limit);
        let keeps_half = |slot: &usize| 2 * reused(*slot) >= self.held[*slot].len();
        // Ties: the least recently used.
        let slot = free
            .iter()
            .copied()
            .filter(keeps_half)
            .max_by_key(|&slot| (reused(slot), std::cmp::Reverse(self.used[slot])))
            .or_else(|| free.iter().copied().min_by_key(|&slot| self.used[slot]))?;
        self.clock += 1;
        self.used[slot] = self.clock;
        Some(Placement { slot, reused: reused(slot) })
    }

    /// Drop what `slot` holds past its first `keep` tokens, in the context too. When
    /// the context cannot remove a part of a sequence, the whole sequence goes and
    /// `0` is returned: nothing is reused.
    pub(crate) fn truncate(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        slot: usize,
        keep: usize,
    ) -> usize {
        let kept = self.truncate_cells(ctx, slot, keep.min(self.held[slot].len()));
        self.held[slot].truncate(kept);
        kept
    }

    /// Remove the slot's cells from position `keep` on; how many remain (0 when only
    /// the whole sequence could be removed).
    fn truncate_cells(&mut self, ctx: &mut LlamaContext<'_>, slot: usize, keep: usize) -> usize {
        let partial = ctx.clear_kv_cache_seq(Some(slot as u32), Some(keep as u32), None);
        if keep > 0 && matches!(partial, Ok(true)) {
            return keep;
        }
        let _ = ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
        0
    }

    /// A sequence retires from `slot`: its cells keep the `prompt` tokens that were
    /// decoded (from position 0), and lose what was generated after them. Generated
    /// tokens are not kept: their cells were computed one token at a time, and a later
    /// prompt decoding them in a batch gets slightly different numbers — enough to flip
    /// a greedy choice — so reusing them would make an answer depend on what ran
    /// before it. Prompt cells come from prompt decoding either way.
    pub(crate) fn retire(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        slot: usize,
        prompt: &[LlamaToken],
    ) {
        self.held[slot] = prompt.to_vec();
        if self.truncate_cells(ctx, slot, prompt.len()) == 0 {
            self.held[slot].clear();
        }
    }

    /// `slot`'s cells were replaced by a copy of `tokens` (a shared prefix).
    pub(crate) fn replaced(&mut self, slot: usize, tokens: &[LlamaToken]) {
        self.held[slot] = tokens.to_vec();
    }

    /// Empty every slot: before a job that uses the whole context for itself.
    pub(crate) fn clear_all(&mut self, ctx: &mut LlamaContext<'_>) {
        ctx.clear_kv_cache();
        self.held.iter_mut().for_each(Vec::clear);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl PrefixCache {
        fn keep(&mut self, slot: usize, tokens: Vec<LlamaToken>) {
            self.held[slot] = tokens;
        }
    }

    fn t(xs: &[i32]) -> Vec<LlamaToken> {
        xs.iter().map(|&x| LlamaToken(x)).collect()
    }

    #[test]
    fn the_longest_shared_prefix_wins_and_one_token_is_left_to_decode() {
        let mut c = PrefixCache::new(3);
        c.keep(0, t(&[1, 2, 3]));
        c.keep(1, t(&[1, 2, 3, 4, 5, 9]));
        let p = c.place(&[0, 1, 2], &t(&[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(p, Placement { slot: 1, reused: 5 });
        // The whole prompt cached: its last token is still decoded.
        let p = c.place(&[0], &t(&[1, 2, 3])).unwrap();
        assert_eq!(p, Placement { slot: 0, reused: 2 });
        assert!(c.place(&[], &t(&[1])).is_none());
    }

    #[test]
    fn a_prompt_sharing_little_leaves_a_long_cached_prefix_alone() {
        let mut c = PrefixCache::new(3);
        c.keep(0, t(&[1, 2, 3, 4, 5, 6, 7, 8]));
        // Shares 2 of the 8 tokens slot 0 holds: an empty slot is taken instead.
        let p = c.place(&[0, 1, 2], &t(&[1, 2, 10])).unwrap();
        assert!(p.slot != 0 && p.reused == 0, "{p:?}");
        // Every free slot holds something unrelated: the least recently used goes.
        c.keep(p.slot, t(&[20, 21, 22]));
        let p2 = c.place(&[0, p.slot], &t(&[30, 31])).unwrap();
        assert_eq!(p2.slot, 0, "slot {} was used more recently", p.slot);
    }
}
