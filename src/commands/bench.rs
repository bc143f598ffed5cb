//! `noa bench`: run the installed models through the evaluation suites, record every
//! item under `runs/<run-id>/`, write the measurements into `models.json`, and print
//! a model × suite summary (a table, or JSON with `--json`).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context as _;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use noa_bench::runner::plan::{format_duration, parse_duration};
use noa_bench::{Progress, RunError, RunOptions, RunReport};
use noa_registry::{UseCase, env_vars};
use serde_json::json;

use super::{Context, Outcome, UserError};

/// Run models through the evaluation suites and record what they score.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub isolation: super::IsolationArgs,
    /// Models to bench, comma-separated ids (default: every installed model).
    #[arg(long, value_delimiter = ',', env = env_vars::NOA_BENCH_MODELS, value_name = "IDS")]
    pub models: Vec<String>,
    /// Suites to run, comma-separated ids (default: all; see `noa evalsets list`).
    #[arg(long, value_delimiter = ',', env = env_vars::NOA_BENCH_SUITES, value_name = "IDS")]
    pub suites: Vec<String>,
    /// Only suites of these use cases, comma-separated (e.g. `code_generation,qa`).
    #[arg(long, value_delimiter = ',', env = env_vars::NOA_BENCH_USE_CASES, value_name = "USE_CASES")]
    pub use_cases: Vec<String>,
    /// Items per suite, overriding each suite's default sample size (with sequential
    /// allocation: the first round's, which is otherwise a third of the default sample).
    #[arg(long, env = env_vars::NOA_BENCH_LIMIT, value_name = "N")]
    pub limit: Option<usize>,
    /// Cap every suite's generation length, tokens (quick runs; changes the results'
    /// settings hash, so they are cached apart from full-length runs).
    #[arg(long, env = env_vars::NOA_BENCH_MAX_TOKENS, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Stop starting new items after this long (e.g. `8m`, `90s`); what was done is
    /// recorded and the run can be resumed.
    #[arg(long, env = env_vars::NOA_BENCH_TIME_BUDGET, value_name = "DURATION")]
    pub time_budget: Option<String>,
    /// Resume an interrupted run (the latest one, or the run id given): items already
    /// recorded are skipped.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "RUN_ID")]
    pub resume: Option<String>,
    /// Threads for llama.cpp (default: all cores).
    #[arg(long, env = env_vars::NOA_THREADS, value_name = "N")]
    pub threads: Option<u32>,
    /// Sequences decoded together in one batch (1 = one request at a time).
    #[arg(long, default_value_t = 8, env = env_vars::NOA_BENCH_BATCH, value_name = "N")]
    pub batch: u32,
    /// Requests in flight at once to a remote model's server.
    #[arg(long, default_value_t = 4, env = env_vars::NOA_BENCH_ENDPOINT_PARALLEL, value_name = "N")]
    pub endpoint_parallel: u32,
    /// Context tokens per sequence.
    #[arg(long, default_value_t = 2048, env = env_vars::NOA_BENCH_CTX, value_name = "TOKENS")]
    pub ctx: u32,
    /// llama.cpp flash attention: `auto`, `on` or `off` (off generates faster on CPUs).
    #[arg(long, default_value = "off", env = env_vars::NOA_FLASH_ATTN, value_name = "POLICY")]
    pub flash_attn: noa_engine::FlashAttention,
    /// Reuse the KV cells of a prompt prefix shared with an earlier request (agent
    /// turns, few-shot preambles): about 2x faster on those suites, but outputs then
    /// depend slightly on what ran before each item, so runs are not reproducible.
    #[arg(long, env = env_vars::NOA_BENCH_PREFIX_CACHE, value_parser = clap::builder::FalseyValueParser::new())]
    pub prefix_cache: bool,
    /// Decode each suite's shared prompt prefix (few-shot preamble, instruction,
    /// system prompt) once per model instead of once per item, copying its KV cells.
    /// On by default: an item's answer still does not depend on what ran before it.
    #[arg(long, env = env_vars::NOA_BENCH_NO_PREFIX_SHARE, value_parser = clap::builder::FalseyValueParser::new())]
    pub no_prefix_share: bool,
    /// Threads that score answers (Python unit tests...) beside the decode loop.
    #[arg(long, default_value_t = 2, env = env_vars::NOA_BENCH_SCORER_THREADS, value_name = "N")]
    pub scorer_threads: usize,
    /// Recompute every item instead of reusing identical earlier results.
    #[arg(long, env = env_vars::NOA_BENCH_NO_CACHE, value_parser = clap::builder::FalseyValueParser::new())]
    pub no_cache: bool,
    /// Extra folders of suites (`:`-separated), after the built-in ones.
    #[arg(long, env = noa_bench::suite::NOA_SUITES_DIR, value_delimiter = ':', value_name = "DIRS")]
    pub suites_dir: Vec<PathBuf>,
    /// Do not write measurements into `models.json`.
    #[arg(long, env = env_vars::NOA_BENCH_NO_REGISTRY, value_parser = clap::builder::FalseyValueParser::new())]
    pub no_registry: bool,
    /// How items are spent: `sequential` (rounds; under a time budget, each round's
    /// items go to the use cases whose winner is still undecided) or `fixed` (every
    /// suite's sample, the same for every model).
    #[arg(long, default_value = "sequential", env = env_vars::NOA_BENCH_ALLOCATION, value_name = "HOW")]
    pub allocation: noa_bench::Allocation,
    /// Paired differences between models within ± this count as ties.
    #[arg(long, default_value_t = noa_bench::decide::DEFAULT_TIE_MARGIN, env = env_vars::NOA_TIE_MARGIN, value_name = "SCORE")]
    pub tie_margin: f64,
    /// Sequential allocation: at most this many items per suite.
    #[arg(long, default_value_t = noa_bench::runner::plan::DEFAULT_MAX_ITEMS, env = env_vars::NOA_BENCH_MAX_ITEMS, value_name = "N")]
    pub max_items: usize,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BenchArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let use_cases = args
        .use_cases
        .iter()
        .map(|u| u.parse::<UseCase>().map_err(UserError::new))
        .collect::<Result<Vec<_>, _>>()?;
    let time_budget = match &args.time_budget {
        Some(t) => Some(parse_duration(t).map_err(UserError::new)?),
        None => None,
    };
    let mut suite_dirs = args.suites_dir.clone();
    let own = ctx.home.root().join("suites");
    if own.is_dir() {
        suite_dirs.push(own);
    }
    let defaults = RunOptions::default();
    let options = RunOptions {
        models: args.models.clone(),
        suites: args.suites.clone(),
        use_cases,
        limit: args.limit,
        max_tokens: args.max_tokens,
        time_budget,
        resume: args.resume.clone().map(|id| (!id.is_empty()).then_some(id)),
        batch: args.batch.max(1),
        endpoint_parallel: args.endpoint_parallel.max(1),
        threads: args.threads.unwrap_or(defaults.threads),
        n_ctx: args.ctx,
        flash_attn: args.flash_attn,
        prefix_cache: args.prefix_cache,
        prefix_share: !args.no_prefix_share,
        scorer_threads: args.scorer_threads.max(1),
        no_cache: args.no_cache,
        suite_dirs,
        write_registry: !args.no_registry,
        worker: args.isolation.worker()?,
        allocation: args.allocation,
        tie_margin: tie_margin(args.tie_margin)?,
        max_items: args.max_items.max(1),
    };
    let progress = Bars::new(ctx);
    let report = noa_bench::run(&ctx.home, &options, &progress).map_err(user_facing)?;
    progress.clear();
    print_summary(&report, args.json)?;
    let all_failed = report
        .manifest
        .models
        .iter()
        .all(|m| m.status == noa_registry::runs::RunModelStatus::Failed);
    Ok(if all_failed { Outcome::Failure } else { Outcome::Success })
}

/// A tie margin must be a score difference in [0, 1).
fn tie_margin(m: f64) -> Result<f64, UserError> {
    if m.is_finite() && (0.0..1.0).contains(&m) {
        Ok(m)
    } else {
        Err(UserError::new(format!("--tie-margin {m} is not a score difference in [0, 1)")))
    }
}

/// Errors the user can fix get exit code 1 and a hint.
fn user_facing(err: RunError) -> anyhow::Error {
    let hint = match &err {
        RunError::UnknownModel(_) => "see `noa models list` for installed models",
        RunError::NoModels => "install one first, e.g. `noa models pull smollm2-135m-instruct`",
        RunError::NoSuchRun(_) => "run ids are the folder names under NOA_HOME/runs/",
        RunError::Suite(_) => "see `noa evalsets list`; the suite format is in evalsets/README.md",
        _ => return anyhow::Error::new(err),
    };
    anyhow::Error::new(UserError::new(err.to_string()).hint(hint))
}

/// One progress bar per model, hidden unless stderr is a terminal.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    quiet: bool,
}

impl Bars {
    fn new(ctx: &Context) -> Self {
        let target = if ctx.show_progress() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
            quiet: ctx.quiet,
        }
    }
    fn clear(&self) {
        let _ = self.multi.clear();
    }
}

impl Progress for Bars {
    fn model_started(&self, model: &str, items: u64) {
        let bar = self.multi.add(ProgressBar::new(items));
        let style =
            ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(model.to_owned());
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(model.to_owned(), bar);
        }
    }
    fn item_finished(&self, model: &str, suite: &str) {
        if let Some(bar) = self.bars.lock().ok().and_then(|b| b.get(model).cloned()) {
            bar.set_message(suite.to_owned());
            bar.inc(1);
        }
    }
    fn model_finished(&self, model: &str, status: &str) {
        if let Some(bar) = self.bars.lock().ok().and_then(|b| b.get(model).cloned()) {
            bar.finish_with_message(status.to_owned());
        }
    }
    fn message(&self, text: &str) {
        if !self.quiet {
            let _ = self.multi.suspend(|| writeln!(std::io::stderr(), "{text}"));
        }
    }
}

fn summary_rows(report: &RunReport) -> Vec<serde_json::Value> {
    report
        .measurements
        .iter()
        .map(|(model, m)| {
            let q = m.quality.as_ref();
            let l = m.latency.as_ref();
            json!({
                "model": model,
                "suite": m.key.suite,
                "use_case": m.use_case,
                "mean": q.map(|q| q.mean),
                "n": q.map(|q| q.n),
                "ci_low": q.map(|q| q.ci_low),
                "ci_high": q.map(|q| q.ci_high),
                "half_width": q.map(|q| (q.ci_high - q.ci_low) / 2.0),
                "p95_e2e_ms": l.map(|l| l.e2e_ms.p95),
                "p95_ttft_ms": l.map(|l| l.ttft_ms.p95),
                "gen_tps": l.map(|l| l.gen_tps),
                "prompt_tps": l.map(|l| l.prompt_tps),
                "load_ms": l.map(|l| l.load_ms),
                "peak_memory_bytes": m.peak_memory_bytes,
                "failure": m.failure,
            })
        })
        .collect()
}

fn print_summary(report: &RunReport, as_json: bool) -> anyhow::Result<()> {
    let skipped: Vec<serde_json::Value> = report
        .manifest
        .suites
        .iter()
        .filter_map(|s| s.skipped.as_ref().map(|why| json!({"suite": s.id, "why": why})))
        .collect();
    let not_measured = not_measured(report);
    let mut out = std::io::stdout().lock();
    if as_json {
        let doc = json!({
            "run_id": report.run_id,
            "dir": report.dir,
            "wall_s": report.wall_s,
            "items_ran": report.ran,
            "items_cached": report.cached,
            "items_resumed": report.resumed,
            "models": report.manifest.models,
            "results": summary_rows(report),
            "skipped_suites": skipped,
            "not_measured": not_measured,
            "decisions": report.decisions,
            "notes": report.manifest.notes,
        });
        serde_json::to_writer_pretty(&mut out, &doc).context("writing the summary")?;
        writeln!(out)?;
        return Ok(());
    }
    print_results(&mut out, report)?;
    for s in &skipped {
        let (suite, why) = (s["suite"].as_str().unwrap_or(""), s["why"].as_str().unwrap_or(""));
        writeln!(out, "skipped {suite}: {why}")?;
    }
    for u in &not_measured {
        let (uc, why) = (u["use_case"].as_str().unwrap_or(""), u["why"].as_str().unwrap_or(""));
        writeln!(out, "not measured {uc}: {why}")?;
    }
    print_decisions(&mut out, &report.decisions)?;
    writeln!(
        out,
        "run {} ({} items run, {} reused from cache, {} resumed) in {}: {}",
        report.run_id,
        report.ran,
        report.cached,
        report.resumed,
        format_duration(std::time::Duration::from_secs_f64(report.wall_s)),
        report.dir.display()
    )?;
    Ok(())
}

/// The use cases this run has no measurement of, and why (vision first: it needs a
/// model kind the user may not have; `general` is never measured on its own).
fn not_measured(report: &RunReport) -> Vec<serde_json::Value> {
    let measured: Vec<UseCase> = report.measurements.iter().map(|(_, m)| m.use_case).collect();
    [UseCase::Vision]
        .into_iter()
        .chain(UseCase::ALL.into_iter().filter(|u| *u != UseCase::Vision && *u != UseCase::General))
        .filter(|u| !measured.contains(u))
        .map(|u| {
            let why = if u == UseCase::Vision {
                "needs a vision model; none is installed".to_owned()
            } else {
                "no suite of this use case ran (data absent or not selected)".to_owned()
            };
            json!({"use_case": u, "why": why})
        })
        .collect()
}

/// One table row per model and suite: score with its 95% half-width, items, p95
/// end-to-end latency and tokens/s, or why the measurement failed.
fn print_results(out: &mut impl Write, report: &RunReport) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:<24} {:<26} {:>16} {:>5} {:>12} {:>9}",
        "model", "suite", "score ± 95%", "n", "p95 e2e ms", "tok/s"
    )?;
    for (model, m) in &report.measurements {
        if let Some(f) = &m.failure
            && m.quality.is_none()
        {
            writeln!(out, "{model:<24} {:<26} failed: {f}", m.key.suite)?;
            continue;
        }
        let (score, n) = m.quality.as_ref().map_or(("-".to_owned(), 0), |q| {
            (format!("{:.3} ± {:.3}", q.mean, (q.ci_high - q.ci_low) / 2.0), q.n)
        });
        let (p95, tps) = m.latency.as_ref().map_or((0.0, 0.0), |l| {
            (l.e2e_ms.p95, if l.gen_tps > 0.0 { l.gen_tps } else { l.prompt_tps })
        });
        writeln!(out, "{model:<24} {:<26} {score:>16} {n:>5} {p95:>12.0} {tps:>9.1}", m.key.suite)?;
    }
    Ok(())
}

/// The answer the run was for: per use case, which model wins and how sure that is.
fn print_decisions(
    out: &mut impl Write,
    decisions: &[noa_registry::Decision],
) -> anyhow::Result<()> {
    if decisions.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<22} {:<8} {:<28} {:>5} {:>7}  leader − rival, anytime-valid 95% interval",
        "use case", "status", "leader", "items", "needs"
    )?;
    for d in decisions {
        let pairs: Vec<String> = d
            .pairs
            .iter()
            .map(|p| {
                format!(
                    "{} {:+.3} [{:+.3}, {:+.3}] {}",
                    p.rival,
                    p.mean,
                    p.ci_low,
                    p.ci_high,
                    match p.status {
                        noa_registry::PairStatus::Ahead => "ahead",
                        noa_registry::PairStatus::Tied => "tied",
                        noa_registry::PairStatus::Open => "open",
                    }
                )
            })
            .collect();
        let needs = d.further_items.map_or("-".to_owned(), |n| format!("~{n}"));
        writeln!(
            out,
            "{:<22} {:<8} {:<28} {:>5} {:>7}  {}",
            d.use_case.as_str(),
            d.status.as_str(),
            d.leader,
            d.items,
            needs,
            pairs.join("; ")
        )?;
    }
    Ok(())
}
