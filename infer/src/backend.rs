//! The one interface bench and serve run a model through. `noa bench`'s scheduler
//! sends it batches of generations and log-likelihoods; `noa serve` sends it one chat
//! completion at a time, streamed or not. The llama.cpp engine implements it for a
//! loaded GGUF (in this process or in a supervised worker), a remote
//! OpenAI-compatible server can implement it over HTTP, and tests implement it with
//! scripted fakes. Calls block: async callers run them on a blocking pool.

use crate::{ChatMessage, EngineError, GenerateRequest, Generation, Loglikelihood};
use crate::{LoglikelihoodRequest, StreamEvent};

/// What a backend says about one model it runs, for `/v1/models` and `/metrics`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelRuntime {
    pub id: String,
    /// `loading`, `ready` or `crashed` (its next request starts a new worker).
    pub state: &'static str,
    /// Engine workers started after the first.
    pub restarts: u64,
    /// Engine deaths so far, and the last one's cause.
    pub crashes: usize,
    pub last_crash: Option<String>,
    /// Resident memory: measured (a worker process) where `measured`, else estimated.
    pub memory_bytes: u64,
    pub measured: bool,
    /// The engine worker's process id, where there is one (none in process or while
    /// loading).
    pub pid: Option<u32>,
}

/// The events of one streamed generation; the last is `Done` or `Failed`.
pub type EventStream = Box<dyn Iterator<Item = StreamEvent> + Send>;

/// One model, ready to run requests.
pub trait ModelBackend: Send + Sync {
    /// Run requests together (an engine batches them; a server may run them
    /// concurrently). One result per request, in order.
    fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>>;

    /// Continuation log-probabilities, one per request, in order. An engine that
    /// cannot score continuations answers every request with
    /// [`EngineError::Unsupported`].
    fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>>;

    /// The exact prompt text `messages` become (the model's chat template applied),
    /// so a run can record and hash what the model saw.
    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError>;

    /// One request.
    fn generate(&self, request: GenerateRequest) -> Result<Generation, EngineError> {
        self.generate_batch(vec![request]).pop().unwrap_or(Err(EngineError::WorkerGone))
    }

    /// One request whose text arrives as it is generated. By default the whole text
    /// arrives at once, at the end: engines that can stream override it.
    fn generate_stream(&self, request: GenerateRequest) -> Result<EventStream, EngineError> {
        let events = match self.generate(request) {
            Ok(g) => vec![StreamEvent::Token(g.text.clone()), StreamEvent::Done(g)],
            Err(e) => vec![StreamEvent::Failed(e)],
        };
        Ok(Box::new(events.into_iter()))
    }
}

impl<T: ModelBackend + ?Sized> ModelBackend for std::sync::Arc<T> {
    fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>> {
        (**self).generate_batch(requests)
    }
    fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        (**self).loglikelihood_batch(requests)
    }
    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        (**self).render_chat(messages)
    }
    fn generate(&self, request: GenerateRequest) -> Result<Generation, EngineError> {
        (**self).generate(request)
    }
    fn generate_stream(&self, request: GenerateRequest) -> Result<EventStream, EngineError> {
        (**self).generate_stream(request)
    }
}
