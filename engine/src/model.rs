//! The in-process model (`LocalModel`): cheap to clone, `Send + Sync`, and every clone
//! talks to the same worker thread. A worker process runs one of these; `noa`'s own
//! callers reach it through [`Model`](crate::Model), which may put it in a worker. Loading checks the GGUF header first, loads the weights, and starts
//! the worker, which creates the context and reports back before `load` returns.
//! Chat templates render on the caller's thread (no worker round trip).

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;

use crate::backend::backend;
use crate::generate::{GenJob, Reply};
use crate::handle::Submit;
use crate::header::check_gguf;
use crate::template::{ChatRenderer, TemplateKind};
use crate::worker::Job;
use crate::{
    ChatMessage, EngineConfig, EngineError, GenerateRequest, Generation, Loglikelihood,
    LoglikelihoodRequest, ModelInfo, Prompt, SpeedRequest, SpeedResult, StreamEvent,
};

/// A loaded model. Cheap to clone; all clones talk to the same worker thread. The
/// worker stops when the last clone is dropped.
#[derive(Clone)]
pub struct LocalModel {
    inner: Arc<Inner>,
}

struct Inner {
    info: ModelInfo,
    renderer: ChatRenderer,
    model: Arc<LlamaModel>,
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel").field("info", &self.inner.info).finish_non_exhaustive()
    }
}

fn token_text(model: &LlamaModel, t: LlamaToken) -> String {
    if t.0 < 0 || t.0 >= model.n_vocab() {
        return String::new();
    }
    String::from_utf8_lossy(&model.vocab().token_to_piece(t, true, None)).into_owned()
}

impl LocalModel {
    /// Check the GGUF header, then load the model and create its context on a new
    /// worker thread. Blocking.
    pub fn load(path: &Path, config: &EngineConfig) -> Result<LocalModel, EngineError> {
        let shown = path.display().to_string();
        let summary = check_gguf(path)?;
        let backend = backend()?;
        let t0 = Instant::now();
        let params = LlamaModelParams::default().with_n_gpu_layers(config.gpu_layers);
        let model = LlamaModel::load_from_file(backend, path, &params)
            .map_err(|e| EngineError::Load { path: shown.clone(), reason: e.to_string() })?;
        let model = Arc::new(model);

        let (jobs, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let worker_model = Arc::clone(&model);
        let cfg = config.clone();
        let worker_path = shown.clone();
        let name =
            path.file_name().map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
        std::thread::Builder::new()
            .name(format!("noa-engine {name}"))
            .spawn(move || crate::worker::run(worker_model, cfg, worker_path, rx, ready_tx))
            .map_err(|e| EngineError::Load {
                path: shown.clone(),
                reason: format!("cannot start worker: {e}"),
            })?;
        ready_rx.recv().map_err(|_| EngineError::WorkerGone)??;
        let load_ms = t0.elapsed().as_secs_f64() * 1000.0;

        let template = model.chat_template(None).ok().and_then(|t| t.to_string().ok());
        let vocab = model.vocab();
        let bos = token_text(&model, vocab.bos());
        let eos = token_text(&model, vocab.eos());
        let renderer = ChatRenderer::new(Arc::clone(&model), template.clone(), bos, eos);
        let info = ModelInfo {
            path: shown,
            load_ms,
            n_ctx_train: model.n_ctx_train(),
            n_vocab: model.n_vocab().max(0) as u32,
            n_params: model.n_params(),
            size_bytes: summary.file_size,
            chat_template: template,
            config: config.clone(),
        };
        Ok(LocalModel { inner: Arc::new(Inner { info, renderer, model, jobs }) })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    /// Which chat-template renderer this model uses.
    pub fn template_kind(&self) -> TemplateKind {
        self.inner.renderer.kind()
    }

    /// Render `messages` with the model's own chat template, generation prompt appended.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        self.inner.renderer.render(messages)
    }

    /// Render with llama.cpp's built-in template engine (for comparison).
    pub fn render_chat_llama_cpp(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        self.inner.renderer.render_llama_cpp(messages)
    }

    /// The model's BOS token as text (empty when it has none).
    pub fn bos_text(&self) -> &str {
        self.inner.renderer.bos()
    }

    /// Token count of `text` as a prompt (BOS handling included).
    pub fn count_tokens(&self, text: &str) -> usize {
        crate::generate::tokenize_prompt(&self.inner.model, text).len()
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
        if let Prompt::Chat(m) = &request.prompt {
            self.render_chat(m)?;
        }
        Ok(self.stream(request))
    }

    /// Log-likelihood of each continuation; results in order. Options of one question
    /// share its decoded context; questions are decoded one at a time, so a result does
    /// not depend on the other requests (see `loglik`).
    pub fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        let n = requests.len();
        let (reply, rx) = mpsc::channel();
        if self.inner.jobs.send(Job::Loglikelihood { requests, reply }).is_err() {
            return (0..n).map(|_| Err(EngineError::WorkerGone)).collect();
        }
        rx.recv().unwrap_or_else(|_| (0..n).map(|_| Err(EngineError::WorkerGone)).collect())
    }

    /// llama-bench style pp/tg measurement, on the worker thread.
    pub fn speed(&self, request: SpeedRequest) -> Result<SpeedResult, EngineError> {
        let SpeedRequest { n_prompt, n_gen, repetitions } = request;
        let (reply, rx) = mpsc::channel();
        self.inner
            .jobs
            .send(Job::Speed { n_prompt, n_gen, repetitions, reply })
            .map_err(|_| EngineError::WorkerGone)?;
        rx.recv().map_err(|_| EngineError::WorkerGone)?
    }
}

impl Submit for LocalModel {
    fn submit(&self, request: GenerateRequest, reply: Reply) {
        let enqueued = Instant::now();
        let rendered = match &request.prompt {
            Prompt::Raw(s) => Ok(s.clone()),
            Prompt::Chat(m) => self.render_chat(m),
        };
        match rendered {
            Err(e) => reply.fail(e),
            Ok(rendered) => {
                let job = Job::Generate(GenJob { request, rendered, reply, enqueued });
                if let Err(mpsc::SendError(Job::Generate(g))) = self.inner.jobs.send(job) {
                    g.reply.fail(EngineError::WorkerGone);
                }
            }
        }
    }
}
