//! Models kept loaded for the router. `ModelPool::get(id, path)` returns the loaded model
//! or loads it; before a load that would push the pool past its memory budget the least
//! recently used models are unloaded. A model's cost is what its worker process
//! measurably holds (resident memory from `/proc`) once it is loaded, and before that
//! an estimate: its file size plus its KV cache (context tokens × per-token K/V bytes
//! from the GGUF's attention metadata). The budget
//! is fixed, or (by default) what `/proc/meminfo` says is available plus what the pool
//! already holds. An evicted model's memory is freed once the last handle to it is dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::header::check_gguf;
use crate::{EngineConfig, EngineError, Model, ModelRuntime};

/// Memory cap for a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolBudget {
    /// At most this many bytes of estimated model memory.
    Bytes(u64),
    /// 90 % of `MemAvailable` (plus what the pool holds), read at each load.
    Available,
}

struct Entry {
    model: Model,
    path: PathBuf,
    /// Estimated bytes, for models whose memory cannot be measured (in process).
    bytes: u64,
    last_used: u64,
}

impl Entry {
    /// Measured resident memory where there is a worker to measure, else the estimate.
    fn held(&self) -> u64 {
        self.model.resident_bytes().unwrap_or(self.bytes)
    }
}

#[derive(Default)]
struct State {
    loaded: HashMap<String, Entry>,
    clock: u64,
}

/// Thread-safe pool of loaded models keyed by id.
pub struct ModelPool {
    config: EngineConfig,
    budget: PoolBudget,
    state: Mutex<State>,
    /// The model being loaded now (loads hold `state`, so this lives apart).
    loading: Mutex<Option<String>>,
}

impl std::fmt::Debug for ModelPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelPool")
            .field("budget", &self.budget)
            .field("loaded", &self.loaded())
            .finish()
    }
}

fn describe(id: &str, e: &Entry) -> ModelRuntime {
    let crashes = e.model.crashes();
    let measured = e.model.resident_bytes();
    ModelRuntime {
        id: id.to_owned(),
        state: match e.model.state() {
            crate::WorkerState::Ready => "ready",
            crate::WorkerState::Crashed => "crashed",
        },
        restarts: e.model.restarts(),
        crashes: crashes.len(),
        last_crash: crashes.last().cloned(),
        memory_bytes: measured.unwrap_or(e.bytes),
        measured: measured.is_some(),
        pid: e.model.worker_pid(),
    }
}

/// Estimated resident bytes of `path` loaded with `config`.
pub fn estimate_bytes(path: &Path, config: &EngineConfig) -> Result<u64, EngineError> {
    let h = check_gguf(path)?;
    let tokens = u64::from(config.n_ctx) * u64::from(crate::worker::context_sequences(config));
    // Without attention metadata assume a generous 64 KiB per token.
    let per_token = h.kv_bytes_per_token.unwrap_or(64 * 1024);
    Ok(h.file_size + tokens.saturating_mul(per_token))
}

/// `MemAvailable` from /proc/meminfo, bytes.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl ModelPool {
    pub fn new(config: EngineConfig, budget: PoolBudget) -> Self {
        Self { config, budget, state: Mutex::new(State::default()), loading: Mutex::new(None) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere must not make the pool unusable: the map stays consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The model `id`, loading it from `path` (evicting least recently used models to
    /// stay within budget) if it is not loaded. Loads are serialised.
    pub fn get(&self, id: &str, path: &Path) -> Result<Model, EngineError> {
        let mut st = self.lock();
        st.clock += 1;
        let now = st.clock;
        if let Some(e) = st.loaded.get_mut(id) {
            if e.path == path {
                e.last_used = now;
                return Ok(e.model.clone());
            }
            st.loaded.remove(id);
        }
        let need = estimate_bytes(path, &self.config)?;
        let held: u64 = st.loaded.values().map(Entry::held).sum();
        let budget = match self.budget {
            PoolBudget::Bytes(b) => b,
            PoolBudget::Available => available_memory().map_or(u64::MAX, |a| (a + held) / 10 * 9),
        };
        if need > budget {
            return Err(EngineError::Unavailable(format!(
                "model `{id}` needs about {} MiB but the pool's budget is {} MiB",
                need >> 20,
                budget >> 20
            )));
        }
        let mut held = held;
        while held + need > budget {
            let Some(victim) =
                st.loaded.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = st.loaded.remove(&victim) {
                tracing::info!(model = %victim, "unloading least recently used model to make room");
                held = held.saturating_sub(e.held());
            }
        }
        *self.loading.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.to_owned());
        let loaded = Model::load(path, &self.config);
        *self.loading.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let model = loaded?;
        st.loaded.insert(
            id.to_owned(),
            Entry { model: model.clone(), path: path.to_owned(), bytes: need, last_used: now },
        );
        Ok(model)
    }

    /// Ids of the loaded models, most recently used first.
    pub fn loaded(&self) -> Vec<String> {
        let st = self.lock();
        let mut v: Vec<_> = st.loaded.iter().map(|(k, e)| (e.last_used, k.clone())).collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.0));
        v.into_iter().map(|(_, k)| k).collect()
    }

    /// Bytes the pool holds: measured for models in workers, estimated for the rest.
    pub fn held_bytes(&self) -> u64 {
        self.lock().loaded.values().map(Entry::held).sum()
    }

    /// Every loaded (or loading) model and its state, by id.
    pub fn entries(&self) -> Vec<ModelRuntime> {
        let loading = self.loading.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut out: Vec<ModelRuntime> = match self.state.try_lock() {
            Ok(st) => st.loaded.iter().map(|(id, e)| describe(id, e)).collect(),
            // Held by a load in progress: report what is known without waiting.
            Err(_) => Vec::new(),
        };
        if let Some(id) = loading.filter(|id| !out.iter().any(|e| &e.id == id)) {
            out.push(ModelRuntime {
                id,
                state: "loading",
                restarts: 0,
                crashes: 0,
                last_crash: None,
                memory_bytes: 0,
                measured: false,
                pid: None,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Unload `id`; true if it was loaded.
    pub fn unload(&self, id: &str) -> bool {
        self.lock().loaded.remove(id).is_some()
    }
}
