//! Choosing the next token of one sequence: greedy at temperature 0 (an argmax over the
//! logits, no copies), else a per-sequence llama.cpp chain of temperature + seeded
//! distribution. A grammar constraint is kept outside the chain so that it can be asked
//! two cheap questions: "is this one token allowed?" (the usual case, as llama.cpp's
//! common sampler does before masking the whole vocabulary) and "is the grammar complete
//! now?" — generation must stop there, because sampling on past a complete grammar makes
//! llama.cpp abort.

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

use crate::json_schema::json_schema_to_gbnf;
use crate::{Constraint, EngineError};

pub(crate) struct SeqSampler {
    chain: Option<LlamaSampler>,
    grammar: Option<LlamaSampler>,
    eog: LlamaToken,
}

impl SeqSampler {
    pub(crate) fn new(
        model: &LlamaModel,
        temperature: f32,
        seed: u32,
        constraint: Option<&Constraint>,
    ) -> Result<Self, EngineError> {
        let chain = (temperature > 0.0).then(|| {
            LlamaSampler::chain_simple([LlamaSampler::temp(temperature), LlamaSampler::dist(seed)])
        });
        let grammar = match constraint {
            None => None,
            Some(c) => Some(grammar_sampler(model, c)?),
        };
        let vocab = model.vocab();
        let eog = if vocab.eos().0 >= 0 { vocab.eos() } else { vocab.eot() };
        Ok(Self { chain, grammar, eog })
    }

    pub(crate) fn has_grammar(&self) -> bool {
        self.grammar.is_some()
    }

    /// Pick the next token from `logits` and advance the sampler state.
    pub(crate) fn sample(&mut self, logits: &[f32]) -> Result<LlamaToken, EngineError> {
        let first = self.pick(logits, false)?;
        let fits = self.grammar.as_mut().is_none_or(|g| allowed(g, first));
        let token = if fits { first } else { self.pick(logits, true)? };
        if let Some(g) = self.grammar.as_mut() {
            g.accept(token);
        }
        if let Some(c) = self.chain.as_mut() {
            c.accept(token);
        }
        Ok(token)
    }

    /// Whether the grammar accepts the output as it stands (end of generation allowed).
    pub(crate) fn grammar_complete(&mut self) -> bool {
        let eog = self.eog;
        match self.grammar.as_mut() {
            Some(g) if eog.0 >= 0 => allowed(g, eog),
            _ => false,
        }
    }

    fn pick(&mut self, logits: &[f32], masked: bool) -> Result<LlamaToken, EngineError> {
        if !masked && self.chain.is_none() {
            return Ok(argmax(logits));
        }
        let mut arr = LlamaTokenDataArray::from_iter(
            logits
                .iter()
                .enumerate()
                .map(|(i, &l)| LlamaTokenData::new(LlamaToken(i as i32), l, 0.0)),
            false,
        );
        if masked && let Some(g) = self.grammar.as_mut() {
            arr.apply_sampler(g);
            if arr.data.iter().all(|d| d.logit() == f32::NEG_INFINITY) {
                return Err(EngineError::Constraint("the grammar allows no next token".into()));
            }
        }
        match self.chain.as_mut() {
            Some(c) => arr.apply_sampler(c),
            None => arr.apply_sampler(&mut LlamaSampler::greedy()),
        }
        arr.selected_token().ok_or_else(|| EngineError::Decode("sampler selected no token".into()))
    }
}

fn allowed(grammar: &mut LlamaSampler, token: LlamaToken) -> bool {
    let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 0.0, 0.0)], false);
    one.apply_sampler(grammar);
    one.data[0].logit() != f32::NEG_INFINITY
}

pub(crate) fn argmax(logits: &[f32]) -> LlamaToken {
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_v {
            best_v = v;
            best = i;
        }
    }
    LlamaToken(best as i32)
}

/// Build (and so validate) the grammar sampler for a constraint.
pub(crate) fn grammar_sampler(
    model: &LlamaModel,
    c: &Constraint,
) -> Result<LlamaSampler, EngineError> {
    let gbnf = match c {
        Constraint::Gbnf(g) => g.clone(),
        Constraint::JsonSchema(s) => json_schema_to_gbnf(s)?,
    };
    if !gbnf.lines().any(|l| l.trim_start().starts_with("root")) {
        return Err(EngineError::Constraint("the grammar has no `root` rule".into()));
    }
    LlamaSampler::grammar(model, &gbnf, "root")
        .map_err(|e| EngineError::Constraint(format!("grammar rejected by llama.cpp: {e}")))
}
