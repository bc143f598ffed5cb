//! A model served by an OpenAI-compatible server, run through the same
//! [`ModelBackend`] interface as a local GGUF, so `noa bench` measures it and `noa
//! serve` forwards to it with no code of their own. Chat prompts go to
//! `/chat/completions` and raw prompts (base models, few-shot) to `/completions`,
//! always streamed: time to first token and the gaps between text deltas are measured
//! here at the client, network included. A batch runs its requests concurrently, as
//! many as `parallel` at a time (`--endpoint-parallel`). Continuation log-likelihoods
//! (multiple choice) are read from `/completions` with `echo` + `logprobs` and
//! `max_tokens` 0, as lm-evaluation-harness reads them: the tokens that start at or
//! after the end of the context are the continuation's. A server that does not score
//! prompts, and output constraints (not portable across servers), are answered with
//! [`EngineError::Unsupported`]: the bench records the suite as not measured, with
//! that reason.

use std::sync::Mutex;
use std::time::Instant;

use noa_infer::{
    ChatMessage, EngineError, EventStream, FinishReason, GenerateRequest, Generation,
    Loglikelihood, LoglikelihoodRequest, ModelBackend, Prompt, RequestTimings, StreamEvent,
    TokenLogprob,
};

use crate::stream::{StreamEnd, StreamEvent as Piece, TextStream};
use crate::{ChatRequest, CompletionRequest, Message, RemoteClient, RemoteError, Sampling};

/// One served model at one endpoint.
#[derive(Debug)]
pub struct RemoteBackend {
    client: RemoteClient,
    /// The served model name.
    model: String,
    /// Most requests of a batch in flight at once (at least 1).
    parallel: usize,
}

impl RemoteBackend {
    pub fn new(client: RemoteClient, model: impl Into<String>, parallel: usize) -> Self {
        Self { client, model: model.into(), parallel: parallel.max(1) }
    }

    /// Send `request` and return its stream, with the deadline it carries.
    fn start(&self, request: &GenerateRequest) -> Result<TextStream, EngineError> {
        if request.constraint.is_some() {
            return Err(EngineError::Unsupported(
                "output constraints (grammar, JSON schema) are not sent to remote servers".into(),
            ));
        }
        let client = match request.deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(EngineError::DeadlinePassed);
                }
                let mut config = self.client.config().clone();
                config.deadline = config.deadline.min(left);
                self.client.with_config(config)
            }
            None => self.client.clone(),
        };
        let sampling = Sampling {
            max_tokens: Some(request.max_tokens),
            temperature: Some(request.temperature),
            seed: Some(i64::from(request.seed)),
            stop: request.stop.clone(),
        };
        let model = self.model.clone();
        let started = match &request.prompt {
            Prompt::Chat(messages) => {
                let messages =
                    messages.iter().map(|m| Message::new(&m.role, m.content.clone())).collect();
                client.chat_stream(&ChatRequest { model, messages, sampling })
            }
            Prompt::Raw(prompt) => client.completion_stream(&CompletionRequest {
                model,
                prompt: prompt.clone(),
                sampling,
            }),
        };
        started.map_err(engine_error)
    }

    /// `f` on every item, as many at a time as `parallel`; results in input order.
    fn in_parallel<T: Send, R: Send>(
        &self,
        items: Vec<T>,
        f: impl Fn(T) -> Result<R, EngineError> + Sync,
    ) -> Vec<Result<R, EngineError>> {
        let n = items.len();
        let queue = Mutex::new(items.into_iter().enumerate().collect::<Vec<_>>());
        let results = Mutex::new((0..n).map(|_| None).collect::<Vec<_>>());
        std::thread::scope(|scope| {
            for _ in 0..self.parallel.min(n) {
                scope.spawn(|| {
                    loop {
                        let next = queue.lock().map(|mut q| q.pop());
                        let Ok(Some((i, item))) = next else { break };
                        let out = f(item);
                        if let Ok(mut r) = results.lock() {
                            r[i] = Some(out);
                        }
                    }
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        results.into_iter().map(|r| r.unwrap_or(Err(EngineError::WorkerGone))).collect()
    }

    /// One request scored by the server.
    fn loglikelihood(&self, r: LoglikelihoodRequest) -> Result<Loglikelihood, EngineError> {
        let started = Instant::now();
        let prompt = format!("{}{}", r.context, r.continuation);
        let not_offered = |e: String| {
            EngineError::Unsupported(format!(
                "the server does not score prompts (`echo` + `logprobs` on /completions, \
                 `max_tokens` 0): {e}"
            ))
        };
        let scores = self.client.score(&self.model, &prompt).map_err(|e| match e {
            e @ RemoteError::BadResponse { .. } => not_offered(e.to_string()),
            e if e.is_bad_request() => not_offered(e.to_string()),
            e => engine_error(e),
        })?;
        let total = prompt.chars().count();
        let (logprob, tokens, is_greedy) =
            scores.continuation(r.context.chars().count(), total).map_err(not_offered)?;
        if tokens == 0 && !r.continuation.is_empty() {
            return Err(EngineError::Decode(format!(
                "no token of the server's tokenization starts inside the continuation {:?}",
                r.continuation
            )));
        }
        let per_token = if r.per_token {
            (0..scores.tokens.len())
                .filter(|&i| scores.text_offset[i] < total)
                .map(|i| TokenLogprob {
                    text: scores.tokens[i].clone(),
                    logprob: scores.logprobs[i],
                    top_text: scores.top[i].as_ref().map(|t| t.0.clone()).unwrap_or_default(),
                    top_logprob: scores.top[i].as_ref().map(|t| t.1),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Loglikelihood {
            logprob,
            tokens,
            is_greedy,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            per_token,
        })
    }
}

/// What a remote failure means to bench and serve: the request refused (it would be
/// refused anywhere), the deadline passed, or the backend failing (cool it down, do
/// not score the item).
pub fn engine_error(e: RemoteError) -> EngineError {
    match e {
        RemoteError::Deadline { .. } => EngineError::DeadlinePassed,
        e if e.is_bad_request() => EngineError::Rejected(e.to_string()),
        e => EngineError::Unavailable(e.to_string()),
    }
}

/// The exact prompt a request sends: the raw text, or the chat messages as the JSON
/// the server receives (the server applies its own template).
fn rendered(prompt: &Prompt) -> String {
    match prompt {
        Prompt::Raw(text) => text.clone(),
        Prompt::Chat(messages) => serde_json::to_string(messages).unwrap_or_default(),
    }
}

/// Text deltas and their arrival instants, turned into a [`Generation`] at the end.
struct Timing {
    sent: Instant,
    rendered_prompt: String,
    text: String,
    deltas: Vec<Instant>,
}

impl Timing {
    fn new(stream: &TextStream, prompt: &Prompt) -> Self {
        Self {
            sent: stream.sent_at,
            rendered_prompt: rendered(prompt),
            text: String::new(),
            deltas: Vec::new(),
        }
    }

    fn delta(&mut self, text: &str, at: Instant) {
        self.text.push_str(text);
        self.deltas.push(at);
    }

    fn finish(self, end: StreamEnd) -> Generation {
        let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1000.0;
        let first = self.deltas.first().copied().unwrap_or(end.at);
        let last = self.deltas.last().copied().unwrap_or(end.at);
        let (prompt_tokens, gen_tokens) = match &end.usage {
            Some(u) => (u.prompt_tokens as u32, u.completion_tokens as u32),
            None => (0, self.deltas.len() as u32),
        };
        let ttft_ms = ms(self.sent, first);
        let gen_ms = ms(first, last);
        let timings = RequestTimings {
            queue_ms: 0.0,
            ttft_ms,
            inter_token_ms: self.deltas.windows(2).map(|w| ms(w[0], w[1])).collect(),
            e2e_ms: ms(self.sent, end.at),
            prompt_tps: if ttft_ms > 0.0 {
                f64::from(prompt_tokens) / (ttft_ms / 1000.0)
            } else {
                0.0
            },
            gen_tps: if gen_ms > 0.0 && gen_tokens > 1 {
                f64::from(gen_tokens - 1) / (gen_ms / 1000.0)
            } else {
                0.0
            },
        };
        let finish = match end.finish_reason.as_deref() {
            Some("length") => FinishReason::Length,
            _ => FinishReason::Stop,
        };
        Generation {
            text: self.text,
            prompt_tokens,
            cached_tokens: 0,
            gen_tokens,
            finish,
            timings,
            rendered_prompt: self.rendered_prompt,
        }
    }
}

impl ModelBackend for RemoteBackend {
    fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>> {
        self.in_parallel(requests, |r| self.generate(r))
    }

    fn generate(&self, request: GenerateRequest) -> Result<Generation, EngineError> {
        let stream = self.start(&request)?;
        let mut timing = Timing::new(&stream, &request.prompt);
        let mut json = request.stop_after_json.then(noa_infer::JsonObjectEnd::default);
        for piece in stream {
            match piece.map_err(engine_error)? {
                Piece::Delta { text, at } => {
                    timing.delta(&text, at);
                    // The first JSON object is whole: the rest is not read (dropping the
                    // stream closes the connection, and the server stops).
                    if let Some(end) = json.as_mut().and_then(|j| j.feed(&timing.text)) {
                        timing.text.truncate(end);
                        let finish_reason = Some("stop".to_owned());
                        let end =
                            StreamEnd { finish_reason, usage: None, system_fingerprint: None, at };
                        return Ok(timing.finish(end));
                    }
                }
                Piece::End(end) => return Ok(timing.finish(end)),
            }
        }
        Err(EngineError::Unavailable("the stream ended without an end".into()))
    }

    fn generate_stream(&self, request: GenerateRequest) -> Result<EventStream, EngineError> {
        let stream = self.start(&request)?;
        let mut timing = Some(Timing::new(&stream, &request.prompt));
        let events = stream.map_while(move |piece| {
            let t = timing.as_mut()?;
            Some(match piece {
                Ok(Piece::Delta { text, at }) => {
                    t.delta(&text, at);
                    StreamEvent::Token(text)
                }
                Ok(Piece::End(end)) => StreamEvent::Done(timing.take()?.finish(end)),
                Err(e) => {
                    timing = None;
                    StreamEvent::Failed(engine_error(e))
                }
            })
        });
        Ok(Box::new(events))
    }

    fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        self.in_parallel(requests, |r| self.loglikelihood(r))
    }

    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        Ok(rendered(&Prompt::Chat(messages.to_vec())))
    }
}
