//! The engine as the scheduler sees it: batched generation, batched log-likelihoods
//! and chat rendering (to hash the exact prompt). The real engine implements it; a
//! scripted one stands in for tests that are about scheduling, not about models.

use noa_engine::{
    ChatMessage, EngineError, GenerateRequest, Generation, Loglikelihood, LoglikelihoodRequest,
    Model,
};

/// What the runner needs from a loaded model.
pub trait Backend: Send + Sync {
    fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>>;
    fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>>;
    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError>;
}

impl Backend for Model {
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
}
