//! `noa serve`: the router and OpenAI-compatible chat completions over HTTP. This file
//! wires the pieces: the registry, the persistent router under `NOA_HOME/router`, and
//! the engine's memory-bounded model pool behind the router's `Backends`
//! (models load on first use; the least recently used is unloaded when memory would
//! run out). Stops gracefully on SIGINT/SIGTERM and snapshots what it learned.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use noa_engine::{EngineConfig, ModelPool, PoolBudget};
use noa_registry::RegistryStore;
use noa_remote::{ClientConfig, RemoteBackend, RemoteClient};
use noa_router::backend::{BackendError, Backends, ModelBackend, ModelRuntime};
use noa_router::http::{AppState, HttpOptions};
use noa_router::{PolicyKind, Router, RouterConfig, StoreError};

use super::{Context, Outcome, UserError};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub isolation: super::IsolationArgs,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = noa_registry::env_vars::NOA_ADDR, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Default routing policy: thompson, linucb, greedy, random, round_robin.
    #[arg(long, env = noa_registry::env_vars::NOA_POLICY, default_value = "thompson")]
    pub policy: PolicyKind,
    /// Memory models may use, e.g. `6G` or `512M` (default: what the OS reports available).
    #[arg(long, env = noa_registry::env_vars::NOA_MEMORY_BUDGET, value_parser = parse_bytes)]
    pub memory_budget: Option<u64>,
    /// Seconds a request may take before it fails with 504.
    #[arg(long, env = noa_registry::env_vars::NOA_REQUEST_TIMEOUT, default_value_t = 300)]
    pub request_timeout: u64,
    /// Largest request body accepted, bytes.
    #[arg(long, env = noa_registry::env_vars::NOA_BODY_LIMIT, default_value_t = 2 << 20)]
    pub body_limit: usize,
    /// Seconds between snapshots of the router's learned state.
    #[arg(long, env = noa_registry::env_vars::NOA_SNAPSHOT_INTERVAL, default_value_t = 60)]
    pub snapshot_interval: u64,
    /// llama.cpp threads per model (default: available cores).
    #[arg(long, env = noa_registry::env_vars::NOA_THREADS)]
    pub threads: Option<u32>,
    /// Context size per sequence, tokens.
    #[arg(long, env = noa_registry::env_vars::NOA_CTX, default_value_t = 2048)]
    pub ctx: u32,
    /// Sequences a loaded model decodes together.
    #[arg(long, env = noa_registry::env_vars::NOA_SERVE_PARALLEL, default_value_t = 4)]
    pub parallel: u32,
    /// Decode every prompt whole instead of reusing the KV cells an earlier request
    /// left in its slot: slower for agents that resend whole conversations, but a
    /// repeated request gets the same answer at temperature 0 (reuse changes how
    /// llama.cpp splits a prompt into decode calls, and with it the last bits).
    #[arg(long, env = noa_registry::env_vars::NOA_SERVE_NO_PREFIX_CACHE, value_parser = clap::builder::FalseyValueParser::new())]
    pub no_prefix_cache: bool,
    /// llama.cpp flash attention: `auto`, `on` or `off` (off generates faster on CPUs).
    #[arg(long, default_value = "off", env = noa_registry::env_vars::NOA_FLASH_ATTN, value_name = "POLICY")]
    pub flash_attn: noa_engine::FlashAttention,
    /// Seconds `auto` requests avoid a model after its engine crashed or would not load.
    #[arg(long, env = noa_registry::env_vars::NOA_COOLDOWN, default_value_t = 30, value_name = "SECONDS")]
    pub cooldown: u64,
    /// Other candidates an `auto` request may try when its chosen model cannot start.
    #[arg(long, env = noa_registry::env_vars::NOA_MAX_FALLBACKS, default_value_t = 2)]
    pub max_fallbacks: usize,
    /// Seed of the routing policy's random numbers (default: random).
    #[arg(long, env = noa_registry::env_vars::NOA_ROUTER_SEED)]
    pub seed: Option<u64>,
    /// Where the learned state lives: `local` (files under NOA_HOME/router) or
    /// `redis://HOST:PORT[/DB]`, shared by every replica pointed at it.
    #[arg(long, env = noa_registry::env_vars::NOA_STATE, default_value = "local")]
    pub state: String,
    /// Milliseconds between refreshes of this replica's copy of the shared state.
    #[arg(long, env = noa_registry::env_vars::NOA_STATE_REFRESH, default_value_t = 200, value_name = "MS")]
    pub state_refresh: u64,
}

/// `6G`, `512M`, `1024K` or plain bytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = t[i..].to_ascii_lowercase();
            let mul: u64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
                "" => 1,
                "k" => 1 << 10,
                "m" => 1 << 20,
                "g" => 1 << 30,
                "t" => 1 << 40,
                _ => return Err(format!("unknown size unit in `{s}` (use K, M, G or T)")),
            };
            (&t[..i], mul)
        }
        None => (t, 1),
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("`{s}` is not a size like `6G`"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("`{s}` is not a positive size"));
    }
    Ok((v * mul as f64) as u64)
}

pub fn run(args: ServeArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let registry = RegistryStore::open(&ctx.home).load().context("reading the model registry")?;
    let paths: HashMap<String, PathBuf> = registry
        .models
        .iter()
        .filter_map(|m| Some((m.id.clone(), m.file_path(&ctx.home)?)))
        .collect();
    let memory = args.memory_budget.or_else(noa_engine::pool::available_memory);
    let config = RouterConfig {
        policy: args.policy,
        memory_bytes: memory,
        seed: args.seed,
        ..RouterConfig::default()
    };
    // Bind first: a busy address is reported before any state is touched.
    let listener = std::net::TcpListener::bind(args.addr).map_err(|e| {
        UserError::new(format!("cannot listen on `{}`: {e}", args.addr))
            .hint("pick another address with `--addr`, e.g. `--addr 127.0.0.1:0`")
    })?;
    listener.set_nonblocking(true).context("configuring the listener")?;
    let router = open_router(&args, &registry, config, ctx)?;
    let mut engine = EngineConfig {
        n_ctx: args.ctx,
        n_seq_max: args.parallel.max(1),
        // Agents send whole conversations turn after turn: decode only what is new.
        prefix_cache: !args.no_prefix_cache,
        flash_attn: args.flash_attn,
        worker: args.isolation.worker()?,
        ..EngineConfig::default()
    };
    if let Some(t) = args.threads {
        engine.threads = t;
    }
    let budget = args.memory_budget.map_or(PoolBudget::Available, PoolBudget::Bytes);
    let remotes = remote_backends(&registry)?;
    let backend = Arc::new(EngineBackend { pool: ModelPool::new(engine, budget), paths, remotes });
    let options = HttpOptions {
        body_limit: args.body_limit,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        cooldown: Duration::from_secs(args.cooldown),
        max_fallbacks: args.max_fallbacks,
        ..HttpOptions::default()
    };
    let engines = backend.clone();
    let state = AppState::new(router.clone(), backend, options);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("noa-serve")
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(listener).context("registering the listener")?;
        let local = listener.local_addr()?;
        eprintln!(
            "noa serve: listening on http://{local} ({} models, policy {})",
            router.table().rows.len(),
            args.policy
        );
        let snapshots = tokio::spawn(snapshot_loop(
            router.clone(),
            Duration::from_secs(args.snapshot_interval.max(1)),
        ));
        let memory = tokio::spawn(memory_loop(router.clone(), engines));
        let result = noa_router::http::serve(listener, state, shutdown_signal()).await;
        snapshots.abort();
        memory.abort();
        result.context("serving HTTP")?;
        eprintln!("noa serve: stopped; state saved to {}", state_place(&args.state, ctx));
        Ok(Outcome::Success)
    })
}

/// The router on local files (one `noa serve` per folder) or on shared state in Redis.
fn open_router(
    args: &ServeArgs,
    registry: &noa_registry::Registry,
    config: RouterConfig,
    ctx: &Context,
) -> anyhow::Result<Arc<Router>> {
    if args.state != "local" {
        let refresh = Duration::from_millis(args.state_refresh.max(1));
        return Router::open_shared(registry, config, &args.state, refresh).map_err(|e| {
            UserError::new(format!("cannot use the shared state `{}`: {e}", args.state))
                .hint("start Redis (`redis-server --appendonly yes --appendfsync always`), or drop `--state` for local files")
                .into()
        });
    }
    match Router::open(registry, config, &ctx.home.router_dir()) {
        Ok(r) => Ok(Arc::new(r)),
        Err(e @ StoreError::Busy { .. }) => Err(UserError::new(e.to_string())
            .hint("stop the other `noa serve`, or give this one its own `--home`")
            .into()),
        Err(e) => Err(anyhow::Error::new(e).context("opening the router's feedback log")),
    }
}

fn state_place(state: &str, ctx: &Context) -> String {
    if state == "local" { ctx.home.router_dir().display().to_string() } else { state.to_owned() }
}

async fn snapshot_loop(router: Arc<Router>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let r = router.clone();
        match tokio::task::spawn_blocking(move || r.snapshot()).await {
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "snapshot failed; the feedback log still has everything")
            }
            Err(e) => tracing::warn!(error = %e, "snapshot task failed"),
            Ok(Ok(())) => {}
        }
    }
}

/// Tell the router, every two seconds, which models are loaded and what their engine
/// workers measurably hold, for its memory constraint.
async fn memory_loop(router: Arc<Router>, engines: Arc<EngineBackend>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let e = engines.clone();
        let Ok(entries) = tokio::task::spawn_blocking(move || e.pool.entries()).await else {
            continue;
        };
        let loaded: Vec<(String, u64)> = entries
            .into_iter()
            .filter(|e| e.state == "ready" && e.measured)
            .map(|e| (e.id, e.memory_bytes))
            .collect();
        router.observe_loaded(&loaded);
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    eprintln!("noa serve: shutting down");
}

/// A client per registered remote model, by id. The API key is not read here: each
/// request reads it from its variable.
fn remote_backends(
    registry: &noa_registry::Registry,
) -> anyhow::Result<HashMap<String, Arc<RemoteBackend>>> {
    let mut out = HashMap::new();
    for m in &registry.models {
        let Some(r) = &m.remote else { continue };
        let client = RemoteClient::for_model(r, ClientConfig::default())
            .map_err(|e| UserError::new(format!("remote model `{}`: {e}", m.id)))?;
        out.insert(m.id.clone(), Arc::new(RemoteBackend::new(client, r.model.clone(), 1)));
    }
    Ok(out)
}

/// The models the service runs: the engine's pool for local files, a client for
/// each remote model.
struct EngineBackend {
    pool: ModelPool,
    paths: HashMap<String, PathBuf>,
    remotes: HashMap<String, Arc<RemoteBackend>>,
}

impl Backends for EngineBackend {
    fn model(&self, id: &str) -> Result<Arc<dyn ModelBackend>, BackendError> {
        if let Some(remote) = self.remotes.get(id) {
            return Ok(remote.clone());
        }
        let path = self.paths.get(id).ok_or_else(|| BackendError::Unavailable {
            model: id.to_owned(),
            reason: "no model file is installed".to_owned(),
        })?;
        let model = self.pool.get(id, path).map_err(|e| BackendError::engine(id, e))?;
        Ok(Arc::new(model))
    }

    fn loaded(&self) -> Vec<String> {
        self.pool.loaded()
    }

    fn runtime(&self) -> Vec<ModelRuntime> {
        self.pool.entries()
    }
}
