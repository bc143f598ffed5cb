//! [`Model`]: what bench, serve and speed hold. One interface over the two places a
//! model can run: in this process ([`LocalModel`]) or in a supervised worker process
//! ([`WorkerModel`], chosen by [`EngineConfig::worker`]), so a fault in llama.cpp
//! costs the requests in flight, never the caller.

use std::path::Path;
use std::sync::{Arc, mpsc};

use crate::generate::Reply;
use crate::isolated::{WorkerModel, WorkerState};
use crate::{
    ChatMessage, EngineConfig, EngineError, GenerateRequest, Generation, LocalModel, Loglikelihood,
    LoglikelihoodRequest, ModelInfo, SpeedRequest, SpeedResult, StreamEvent, TemplateKind,
};

/// What every place a model runs offers: queue one generation with the channel its
/// answer goes to. Blocking, batched and streamed generation are built on it here,
/// once, for [`Model`], [`LocalModel`] and [`WorkerModel`].
pub(crate) trait Submit {
    fn submit(&self, request: GenerateRequest, reply: Reply);

    /// One request, blocking until done.
    fn generate_one(&self, request: GenerateRequest) -> Result<Generation, EngineError> {
        let (tx, rx) = mpsc::channel();
        self.submit(request, Reply::Once(tx));
        rx.recv().map_err(|_| EngineError::WorkerGone)?
    }

    /// Many requests submitted together (so they decode together); results in order.
    fn generate_all(&self, requests: Vec<GenerateRequest>) -> Vec<Result<Generation, EngineError>> {
        let receivers: Vec<_> = requests
            .into_iter()
            .map(|r| {
                let (tx, rx) = mpsc::channel();
                self.submit(r, Reply::Once(tx));
                rx
            })
            .collect();
        receivers.into_iter().map(|rx| rx.recv().map_err(|_| EngineError::WorkerGone)?).collect()
    }

    /// One request whose tokens arrive as they are generated.
    fn stream(&self, request: GenerateRequest) -> mpsc::Receiver<StreamEvent> {
        let (tx, rx) = mpsc::channel();
        self.submit(request, Reply::Stream(tx));
        rx
    }
}

impl Submit for Model {
    fn submit(&self, request: GenerateRequest, reply: Reply) {
        match self {
            Model::InProcess(m) => m.submit(request, reply),
            Model::Worker(w) => w.submit(request, reply),
        }
    }
}

/// A loaded model. Cheap to clone; clones share the model.
#[derive(Clone, Debug)]
pub enum Model {
    InProcess(LocalModel),
    Worker(Arc<WorkerModel>),
}

impl Model {
    /// Check the GGUF header, then load the model: in a worker process when
    /// `config.worker` is set, else in this process. Blocking.
    pub fn load(path: &Path, config: &EngineConfig) -> Result<Model, EngineError> {
        match &config.worker {
            Some(_) => {
                crate::header::check_gguf(path)?;
                Ok(Model::Worker(Arc::new(WorkerModel::start(path, config)?)))
            }
            None => Ok(Model::InProcess(LocalModel::load(path, config)?)),
        }
    }

    pub fn info(&self) -> &ModelInfo {
        match self {
            Model::InProcess(m) => m.info(),
            Model::Worker(w) => w.info(),
        }
    }

    /// Which chat-template renderer this model uses.
    pub fn template_kind(&self) -> TemplateKind {
        match self {
            Model::InProcess(m) => m.template_kind(),
            Model::Worker(w) => w.template_kind(),
        }
    }

    /// Render `messages` with the model's own chat template, generation prompt appended.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        match self {
            Model::InProcess(m) => m.render_chat(messages),
            Model::Worker(w) => w.render_chat(messages),
        }
    }

    /// The model's BOS token as text (empty when it has none).
    pub fn bos_text(&self) -> &str {
        match self {
            Model::InProcess(m) => m.bos_text(),
            Model::Worker(w) => w.bos_text(),
        }
    }

    /// Token count of `text` as a prompt (BOS handling included).
    pub fn count_tokens(&self, text: &str) -> Result<usize, EngineError> {
        match self {
            Model::InProcess(m) => Ok(m.count_tokens(text)),
            Model::Worker(w) => w.count_tokens(text),
        }
    }

    /// One request, blocking until done.
    pub fn generate(&self, request: GenerateRequest) -> Result<Generation, EngineError> {
        self.generate_one(request)
    }

    /// Many requests decoded together (up to `n_seq_max` at a time); results in order.
    pub fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>> {
        self.generate_all(requests)
    }

    /// Stream one request's tokens; the last event is `Done` or `Failed`.
    pub fn generate_stream(
        &self,
        request: GenerateRequest,
    ) -> Result<mpsc::Receiver<StreamEvent>, EngineError> {
        match self {
            Model::InProcess(m) => m.generate_stream(request),
            Model::Worker(_) => Ok(self.stream(request)),
        }
    }

    /// Log-likelihood of each continuation; results in order (see `loglik`).
    pub fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        match self {
            Model::InProcess(m) => m.loglikelihood_batch(requests),
            Model::Worker(w) => w.loglikelihood_batch(requests),
        }
    }

    /// llama-bench style pp/tg measurement (`n_prompt` 0 or `n_gen` 0 skips that test).
    pub fn speed(
        &self,
        n_prompt: u32,
        n_gen: u32,
        repetitions: u32,
    ) -> Result<SpeedResult, EngineError> {
        let request = SpeedRequest { n_prompt, n_gen, repetitions };
        match self {
            Model::InProcess(m) => m.speed(request),
            Model::Worker(w) => w.speed(request),
        }
    }

    /// Measured resident memory of the model's worker; `None` in process (where the
    /// process's own memory is not the model's alone).
    pub fn resident_bytes(&self) -> Option<u64> {
        match self {
            Model::InProcess(_) => None,
            Model::Worker(w) => w.resident_bytes(),
        }
    }

    /// The worker's state; an in-process model is always ready (or the process is gone).
    pub fn state(&self) -> WorkerState {
        match self {
            Model::InProcess(_) => WorkerState::Ready,
            Model::Worker(w) => w.state(),
        }
    }

    /// Causes of the worker deaths so far (none in process).
    pub fn crashes(&self) -> Vec<String> {
        match self {
            Model::InProcess(_) => Vec::new(),
            Model::Worker(w) => w.crashes(),
        }
    }

    /// Workers started after the first.
    pub fn restarts(&self) -> u64 {
        match self {
            Model::InProcess(_) => 0,
            Model::Worker(w) => w.restarts(),
        }
    }

    /// The worker's process id (`None` in process).
    pub fn worker_pid(&self) -> Option<u32> {
        match self {
            Model::InProcess(_) => None,
            Model::Worker(w) => Some(w.pid()),
        }
    }
}

/// Bench and serve run a loaded GGUF through the interface every engine offers.
impl noa_infer::ModelBackend for Model {
    fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>> {
        Model::generate_batch(self, requests)
    }

    fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        Model::loglikelihood_batch(self, requests)
    }

    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        Model::render_chat(self, messages)
    }

    fn generate(&self, request: GenerateRequest) -> Result<Generation, EngineError> {
        Model::generate(self, request)
    }

    fn generate_stream(
        &self,
        request: GenerateRequest,
    ) -> Result<noa_infer::EventStream, EngineError> {
        Ok(Box::new(Model::generate_stream(self, request)?.into_iter()))
    }
}
