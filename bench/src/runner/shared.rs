//! The prompt prefix a suite's items share (a few-shot preamble, an instruction, the
//! chat template's system prompt), declared to the engine on every generation request
//! that starts with it, so the engine decodes it once and copies its KV cells
//! ([`EngineConfig::prefix_share`](noa_engine::EngineConfig)).
//!
//! The prefix is the longest common prefix of the first prompts of all the suite's
//! items in this run, not just the items of a round, so every round declares the same
//! boundary and an item's answer does not depend on which other items ran with it.

use noa_engine::{
    ChatMessage, EngineError, GenerateRequest, Generation, Loglikelihood, LoglikelihoodRequest,
    Prompt,
};

use crate::kind::{GenSettings, Item, Step, TaskKind};
use noa_engine::ModelBackend;

/// A backend that marks each generation request's shared prefix, then hands it on.
pub(super) struct Sharing<'a> {
    inner: &'a dyn ModelBackend,
    /// `None`: the items share nothing worth declaring, or there is only one.
    prefix: Option<String>,
}

impl<'a> Sharing<'a> {
    /// The shared prefix of the first prompts of `items` on `inner` (rendered with the
    /// model's own chat template, as the engine will render them).
    pub(super) fn new(
        inner: &'a dyn ModelBackend,
        kind: &dyn TaskKind,
        settings: &GenSettings,
        items: &[Item],
    ) -> Self {
        let prompts =
            items.iter().filter_map(|item| match kind.episode(item, settings).step(None) {
                Step::Generate(r) => render(inner, &r.prompt),
                Step::Loglikelihood(_) | Step::Done(_) => None,
            });
        Self { inner, prefix: common_prefix(prompts) }
    }

    fn mark(&self, mut r: GenerateRequest) -> GenerateRequest {
        if let Some(p) = &self.prefix
            && render(self.inner, &r.prompt).is_some_and(|text| text.starts_with(p.as_str()))
        {
            r.shared_prefix = u32::try_from(p.len()).ok();
        }
        r
    }
}

fn render(backend: &dyn ModelBackend, prompt: &Prompt) -> Option<String> {
    match prompt {
        Prompt::Raw(text) => Some(text.clone()),
        Prompt::Chat(messages) => backend.render_chat(messages).ok(),
    }
}

/// The longest common prefix of at least two texts, cut at a character boundary;
/// `None` for fewer than two texts or an empty prefix.
pub(crate) fn common_prefix(mut texts: impl Iterator<Item = String>) -> Option<String> {
    let mut prefix = texts.next()?;
    let mut seen = 1;
    for t in texts {
        let n = prefix.bytes().zip(t.bytes()).take_while(|(a, b)| a == b).count();
        let mut n = n.min(prefix.len());
        while !prefix.is_char_boundary(n) {
            n -= 1;
        }
        prefix.truncate(n);
        seen += 1;
    }
    (seen >= 2 && !prefix.is_empty()).then_some(prefix)
}

impl ModelBackend for Sharing<'_> {
    fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>> {
        self.inner.generate_batch(requests.into_iter().map(|r| self.mark(r)).collect())
    }
    fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        self.inner.loglikelihood_batch(requests)
    }
    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        self.inner.render_chat(messages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(xs: &[&str]) -> impl Iterator<Item = String> {
        xs.iter().map(|s| s.to_string()).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn the_common_prefix_needs_two_texts_and_stops_at_a_character() {
        assert_eq!(common_prefix(texts(&["Q: a\nA:", "Q: b\nA:"])).as_deref(), Some("Q: "));
        assert_eq!(common_prefix(texts(&["only one"])), None);
        assert_eq!(common_prefix(texts(&["abc", "xyz"])), None);
        // "é" and "è" share their first byte: the prefix stops before the character.
        assert_eq!(common_prefix(texts(&["café", "cafè"])).as_deref(), Some("caf"));
        assert_eq!(common_prefix(texts(&["same", "same", "sam"])).as_deref(), Some("sam"));
    }
}
