//! `noa speed`: prompt-processing and generation tokens/s of installed models, measured
//! the way llama.cpp's `llama-bench` measures pp512 and tg128 (same threads, batch
//! sizes, warm-up and repetitions), so the figures compare directly with it.
//! `--model-path` measures any GGUF file without the registry.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use noa_engine::{EngineConfig, Model, SpeedResult};
use noa_registry::RegistryStore;

use super::{Context, Outcome, UserError};

#[derive(Debug, clap::Args)]
pub struct SpeedArgs {
    #[command(flatten)]
    pub isolation: super::IsolationArgs,
    /// Installed model ids (default: every installed model).
    pub models: Vec<String>,
    /// Measure this GGUF file instead of (or as well as) installed models.
    #[arg(long, env = noa_registry::env_vars::NOA_SPEED_MODEL_PATH, value_name = "FILE")]
    pub model_path: Vec<PathBuf>,
    /// Prompt tokens per pp test (0 skips it), like llama-bench `-p`.
    #[arg(short = 'p', long = "n-prompt", default_value_t = 512, env = noa_registry::env_vars::NOA_SPEED_N_PROMPT)]
    pub n_prompt: u32,
    /// Generated tokens per tg test (0 skips it), like llama-bench `-n`.
    #[arg(short = 'n', long = "n-gen", default_value_t = 128, env = noa_registry::env_vars::NOA_SPEED_N_GEN)]
    pub n_gen: u32,
    /// Repetitions of each test, like llama-bench `-r`.
    #[arg(short = 'r', long = "repetitions", default_value_t = 5, env = noa_registry::env_vars::NOA_SPEED_REPETITIONS)]
    pub repetitions: u32,
    /// Threads (default: available cores), like llama-bench `-t`.
    #[arg(short = 't', long, env = noa_registry::env_vars::NOA_THREADS)]
    pub threads: Option<u32>,
    /// One JSON object per model and test on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Row {
    model: String,
    path: String,
    engine_build: String,
    size_bytes: u64,
    n_params: u64,
    #[serde(flatten)]
    speed: SpeedResult,
}

pub fn run(args: SpeedArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    if args.repetitions == 0 {
        return Err(UserError::new("`--repetitions` must be at least 1").into());
    }
    let targets = targets(&args, ctx)?;
    let config = EngineConfig {
        threads: args.threads.unwrap_or_else(|| EngineConfig::default().threads),
        n_ctx: 512,
        n_seq_max: 1,
        worker: args.isolation.worker()?,
        ..EngineConfig::default()
    };
    let build = noa_engine::engine_build();
    let mut out = std::io::stdout().lock();
    if !args.json {
        print_header(&mut out)?;
    }
    for (id, path) in targets {
        if !ctx.quiet {
            eprintln!("measuring `{id}` ({})", path.display());
        }
        let model = Model::load(&path, &config).with_context(|| format!("loading model `{id}`"))?;
        let speed = model
            .speed(args.n_prompt, args.n_gen, args.repetitions)
            .with_context(|| format!("measuring `{id}`"))?;
        let info = model.info();
        if args.json {
            let row = Row {
                model: id,
                path: info.path.clone(),
                engine_build: build.clone(),
                size_bytes: info.size_bytes,
                n_params: info.n_params,
                speed,
            };
            serde_json::to_writer(&mut out, &row)?;
            writeln!(out)?;
        } else {
            print_rows(&mut out, &id, info.size_bytes, info.n_params, &speed)?;
        }
    }
    if !args.json && !ctx.quiet {
        eprintln!("engine build: {build}");
    }
    Ok(Outcome::Success)
}

/// What to measure: the `--model-path` files, then the named installed models (all
/// of them when none is named and no file is given). An id that is not installed is
/// the user's failure (exit 1), like in `bench` and `models`.
fn targets(args: &SpeedArgs, ctx: &Context) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut targets: Vec<(String, PathBuf)> = args
        .model_path
        .iter()
        .map(|p| {
            (
                p.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
                p.clone(),
            )
        })
        .collect();
    if args.models.is_empty() && !args.model_path.is_empty() {
        return Ok(targets);
    }
    let registry = RegistryStore::open(&ctx.home).load().context("reading the model registry")?;
    let installed: Vec<_> = registry
        .models
        .iter()
        .filter_map(|m| m.file_path(&ctx.home).map(|p| (m.id.clone(), p)))
        .collect();
    if args.models.is_empty() {
        if installed.is_empty() {
            return Err(UserError::new("no models are installed")
                .hint("install one with `noa models pull <id>`, or pass `--model-path <file.gguf>`")
                .into());
        }
        targets.extend(installed);
        return Ok(targets);
    }
    for id in &args.models {
        let found = installed.iter().find(|(i, _)| i == id).cloned().ok_or_else(|| {
            UserError::new(format!("model `{id}` is not installed")).hint("see `noa models list`")
        })?;
        targets.push(found);
    }
    Ok(targets)
}

/// llama-bench's markdown table header.
fn print_header(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "| {:<28} | {:>9} | {:>7} | {:>7} | {:>7} | {:>16} |",
        "model", "size", "params", "threads", "test", "t/s"
    )?;
    writeln!(
        out,
        "| {:-<28} | {:->9} | {:->7} | {:->7} | {:->7} | {:->16} |",
        "", "", "", "", "", ""
    )
}

/// One llama-bench row per test that ran (pp, tg).
fn print_rows(
    out: &mut impl Write,
    id: &str,
    size_bytes: u64,
    n_params: u64,
    speed: &SpeedResult,
) -> std::io::Result<()> {
    let size = format!("{:.2} MiB", size_bytes as f64 / (1u64 << 20) as f64);
    let params = format!("{:.1} M", n_params as f64 / 1e6);
    for (test, n, mean, sd) in [
        ("pp", speed.n_prompt, speed.pp_tps_mean, speed.pp_tps_stddev),
        ("tg", speed.n_gen, speed.tg_tps_mean, speed.tg_tps_stddev),
    ] {
        if n > 0 {
            let ts = format!("{mean:.2} ± {sd:.2}");
            writeln!(
                out,
                "| {id:<28} | {size:>9} | {params:>7} | {:>7} | {:>7} | {ts:>16} |",
                speed.threads,
                format!("{test}{n}")
            )?;
        }
    }
    Ok(())
}
