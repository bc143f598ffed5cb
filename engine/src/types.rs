//! The engine's own types (how to load a model, what a loaded model is, throughput
//! figures), and the request and result types of the interface it implements
//! ([`noa_infer`]), re-exported so engine users need one import.

pub use noa_infer::types::*;
use serde::{Deserialize, Serialize};

/// How to load a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Threads for generation and for prompt processing (default: available cores).
    pub threads: u32,
    /// Context size per sequence, tokens. The context holds `n_ctx * n_seq_max` tokens.
    pub n_ctx: u32,
    /// Most sequences decoded together in one batch.
    pub n_seq_max: u32,
    /// Logical batch size for prompt processing, tokens.
    pub n_batch: u32,
    /// Layers offloaded to a GPU backend (0 on CPU builds).
    pub gpu_layers: u32,
    /// Reuse a finished request's prompt KV cells for the next prompt sharing their
    /// prefix (multi-turn chats, few-shot preambles, a long shared system prompt).
    /// Faster (2.1x on the agent and GSM8K suites here), but not bit-reproducible:
    /// llama.cpp's logits depend slightly on how a prompt is split into decode calls,
    /// enough to flip near-tied greedy tokens (14 of 32 outputs differed, 31 of 32
    /// scores agreed; llama.cpp's server documents the same for `cache_prompt`). So
    /// it is off by default and in `noa bench` (a score must not depend on what ran
    /// before the item), and on in `noa serve`, where latency counts.
    #[serde(default)]
    pub prefix_cache: bool,
    /// Decode a prompt prefix that many requests declare they share
    /// ([`GenerateRequest::shared_prefix`]: a few-shot preamble, a system prompt, a tool
    /// list) once, alone, in a sequence of its own, and copy its KV cells to each of
    /// those requests. Unlike `prefix_cache`, a request's cells then do not depend on
    /// what ran before it: they are always the same decode of the same tokens, so
    /// `noa bench` uses it. Takes one more sequence's worth of context.
    #[serde(default)]
    pub prefix_share: bool,
    /// Flash attention: llama.cpp's `auto` (on wherever the backend has it), or forced.
    #[serde(default)]
    pub flash_attn: FlashAttention,
    /// Run the model in a supervised worker process started with this command (see
    /// [`WorkerCommand`]), so a fault in llama.cpp kills the worker, not the caller.
    /// `None`: in this process. Not part of the config's identity (not serialised).
    #[serde(skip)]
    pub worker: Option<WorkerCommand>,
}

/// How to start an engine worker process: a program (the `noa` binary itself) and the
/// arguments that put it in worker mode, where it calls [`worker_main`](crate::worker_main).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    pub program: std::path::PathBuf,
    pub args: Vec<String>,
    /// A worker silent this long while requests wait on it is taken as hung and killed.
    pub hang_timeout: std::time::Duration,
    /// Extra environment for the worker (e.g. `NOA_ENGINE_FAULT` for one model).
    pub env: Vec<(String, String)>,
}

impl WorkerCommand {
    /// Default hang timeout: long enough for a log-likelihood batch or a speed test,
    /// which report nothing until done.
    pub const DEFAULT_HANG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

    /// This very executable, with `args` selecting its worker mode.
    pub fn current_exe(args: &[&str]) -> std::io::Result<Self> {
        Ok(Self {
            program: std::env::current_exe()?,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            hang_timeout: Self::DEFAULT_HANG_TIMEOUT,
            env: Vec::new(),
        })
    }
}

/// llama.cpp's flash-attention policy. On this project's 2-core CPU machine,
/// llama.cpp's own `llama-batched-bench` generates 20-40% faster with it off for
/// SmolLM2-135M (and about the same for Gemma 3 270M), and with it off a batched
/// `noa bench` gave outputs identical to one-at-a-time runs (32 of 32, against 5 of
/// 32 with it on). So `noa bench` and `noa serve` turn it off; `noa speed` keeps
/// `auto`, as `llama-bench` does, so the two compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlashAttention {
    #[default]
    Auto,
    On,
    Off,
}

impl FlashAttention {
    pub(crate) fn llama(self) -> llama_cpp_sys_2::llama_flash_attn_type {
        use llama_cpp_sys_2 as sys;
        match self {
            Self::Auto => sys::LLAMA_FLASH_ATTN_TYPE_AUTO,
            Self::On => sys::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            Self::Off => sys::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        }
    }
}

impl std::str::FromStr for FlashAttention {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            _ => Err(format!("`{s}` is not a flash-attention policy: use auto, on or off")),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        Self {
            threads,
            n_ctx: 2048,
            n_seq_max: 8,
            n_batch: 512,
            gpu_layers: 0,
            prefix_cache: false,
            prefix_share: false,
            flash_attn: FlashAttention::Auto,
            worker: None,
        }
    }
}

/// Facts about a loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub path: String,
    pub load_ms: f64,
    pub n_ctx_train: u32,
    pub n_vocab: u32,
    pub n_params: u64,
    pub size_bytes: u64,
    /// The GGUF's `tokenizer.chat_template`, if any.
    pub chat_template: Option<String>,
    pub config: EngineConfig,
}

/// llama-bench style throughput figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedResult {
    /// Prompt tokens per test (llama-bench `-p`), 0 when not run.
    pub n_prompt: u32,
    /// Generated tokens per test (llama-bench `-n`), 0 when not run.
    pub n_gen: u32,
    pub threads: u32,
    pub repetitions: u32,
    /// tokens/s mean and standard deviation over repetitions.
    pub pp_tps_mean: f64,
    pub pp_tps_stddev: f64,
    pub tg_tps_mean: f64,
    pub tg_tps_stddev: f64,
}
