//! A bench run: every selected model through every selected suite. Models are loaded
//! one at a time (load time and peak memory measured per model); a model that fails
//! to load or whose engine dies is recorded as failed and the run goes on. Items are
//! appended to `runs/<id>/items.jsonl` as they finish, so `--resume` picks up after a
//! crash or `kill -9`; answers already computed by an earlier identical run are
//! reused from the cache; a time budget is shared fairly between what remains to
//! run: per model, whose suites run in one schedule, with sequential allocation; per
//! (model, suite) with the fixed one. At the end the run is aggregated into registry
//! measurements.

pub mod cache;
pub mod files;
mod memory;
pub mod plan;
pub mod schedule;
#[cfg(test)]
mod schedule_tests;
mod scope;
mod shared;
pub mod trace;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use noa_engine::{EngineConfig, Model, ModelBackend, TemplateKind};
use noa_registry::runs::{EngineCrash, ItemRecord, RunManifest, RunModelStatus};
use noa_registry::{Measurement, NoaHome};
use noa_remote::{ClientConfig, RemoteBackend, RemoteClient};

pub use plan::{Allocation, RunOptions, RunPlan};

use crate::kind::{GenSettings, Score};
use crate::suite::LoadedSuite;
use cache::{CacheKey, ResultCache};
use files::ItemsWriter;
use schedule::{Finished, ScheduleConfig};
use scope::Scope;
use trace::Trace;

/// Everything that can stop a run as a whole (a single model's failure does not).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot {action} `{path}`: {source}")]
    Io { action: &'static str, path: String, source: std::io::Error },
    #[error("`{path}` is not valid: {reason}")]
    Corrupt { path: String, reason: String },
    #[error(transparent)]
    Suite(#[from] crate::suite::SuiteError),
    #[error(transparent)]
    Registry(#[from] noa_registry::Error),
    #[error("model `{0}` is not in the registry")]
    UnknownModel(String),
    #[error("no run `{0}` to resume")]
    NoSuchRun(String),
    #[error("no installed models to bench")]
    NoModels,
}

impl RunError {
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io { action, path: path.display().to_string(), source }
    }
}

/// Told about progress as the run goes (the CLI draws progress bars from it).
pub trait Progress: Sync {
    fn model_started(&self, _model: &str, _items: u64) {}
    fn item_finished(&self, _model: &str, _suite: &str) {}
    fn model_finished(&self, _model: &str, _status: &str) {}
    /// A line for the user (a suite skipped, the budget reached...).
    fn message(&self, _text: &str) {}
}

/// A `Progress` that says nothing.
#[derive(Debug)]
pub struct Silent;
impl Progress for Silent {}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: String,
    pub dir: PathBuf,
    pub manifest: RunManifest,
    /// Per (model id, measurement), as written to the registry.
    pub measurements: Vec<(String, Measurement)>,
    /// Which model wins each use case, from the run's paired comparisons.
    pub decisions: Vec<noa_registry::Decision>,
    /// Items run now, reused from the cache, and already recorded before a resume.
    pub ran: usize,
    pub cached: usize,
    pub resumed: usize,
    pub wall_s: f64,
}

/// Run the bench as `options` say, writing under `home`.
pub fn run(
    home: &NoaHome,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let prepared = plan::prepare(home, options, progress)?;
    let plan::Prepared { run, mut manifest, plan, suites, first_round, models } = prepared;
    let recorded = run.read_items()?;
    let resumed = recorded.len();
    let done =
        recorded.iter().map(|r| (r.model_id.clone(), r.suite.clone(), r.item_id.clone())).collect();
    run.write_manifest(&manifest)?;
    let cache = if plan.no_cache {
        ResultCache::default()
    } else {
        ResultCache::build(&home.runs_dir(), &run.id)
    };
    let ctx = RunCtx {
        run: &run,
        plan: &plan,
        suites: &suites,
        models: &models,
        cache: &cache,
        started,
        deadline: options.time_budget.map(|b| started + b),
        worker: options.worker.clone(),
        progress,
        home,
    };
    let mut st = RunState {
        done,
        ran: 0,
        cached: 0,
        budget_hit: false,
        scope: Scope::new(&first_round, models.len()),
        cost: vec![vec![(0.0, 0); suites.len()]; models.len()],
        writer: run.items_writer()?,
        unsupported: HashSet::new(),
        verified: std::collections::HashMap::new(),
    };
    run_rounds(&ctx, &mut manifest, &mut st)?;
    if st.budget_hit {
        let note = format!(
            "time budget of {} reached: items not started were left out (resume with `noa bench --resume {}`)",
            plan::format_duration(options.time_budget.unwrap_or_default()),
            run.id
        );
        progress.message(&note);
        manifest.notes.push(note);
    }
    if resumed > 0 {
        manifest.notes.push(format!("resumed with {resumed} items already recorded"));
    }
    manifest.finished_at = Some(noa_registry::now_rfc3339());
    run.write_manifest(&manifest)?;
    let items = run.read_items()?;
    let measurements = crate::aggregate::measurements(&manifest, &items);
    let decisions = decisions_of(&manifest, &items, &plan);
    if plan.write_registry {
        crate::aggregate::write_back(home, &manifest, &measurements, &decisions)?;
    }
    Ok(RunReport {
        run_id: run.id.clone(),
        dir: run.dir.clone(),
        manifest,
        measurements,
        decisions,
        ran: st.ran,
        cached: st.cached,
        resumed,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// What every phase of a run reads.
struct RunCtx<'a> {
    home: &'a NoaHome,
    run: &'a files::RunDir,
    plan: &'a RunPlan,
    suites: &'a [LoadedSuite],
    models: &'a [noa_registry::ModelEntry],
    cache: &'a ResultCache,
    started: Instant,
    deadline: Option<Instant>,
    worker: Option<noa_engine::WorkerCommand>,
    progress: &'a dyn Progress,
}

/// What a run accumulates as it goes.
struct RunState {
    /// (model, suite, item) recorded so far.
    done: HashSet<(String, String, String)>,
    ran: usize,
    cached: usize,
    budget_hit: bool,
    scope: Scope,
    /// `cost[model][suite]`: wall seconds spent running items, and items run.
    cost: Vec<Vec<(f64, usize)>>,
    writer: ItemsWriter,
    /// (model, suite) pairs the model's engine cannot run (see `SuiteResult`).
    unsupported: HashSet<(usize, usize)>,
    /// Model files whose sha256 matched this run, with their size and modification
    /// time then: a later round's load skips hashing them again while those hold.
    verified: std::collections::HashMap<PathBuf, FileStamp>,
}

/// Passes over every model until its items are done. Under a time budget, the items
/// one pass had to leave out get further passes while time is left (time that pairs
/// finishing early gave back, or that items the budget cut off would have wasted), as
/// long as a pass gets something done; with sequential allocation, each pass is also
/// a round after which undecided use cases get more items.
fn run_rounds(
    ctx: &RunCtx<'_>,
    manifest: &mut RunManifest,
    st: &mut RunState,
) -> Result<(), RunError> {
    let mut round = 1;
    loop {
        let before = st.ran + st.cached;
        for mi in 0..ctx.models.len() {
            run_model(ctx, mi, manifest, st)?;
        }
        let out_of_time = ctx.deadline.is_none_or(|d| Instant::now() >= d);
        // Rounds need a budget to bound them: without one, the first round's fixed
        // sample is the run, and the decisions say what more items would settle.
        if ctx.plan.allocation == Allocation::Sequential && !out_of_time {
            let items = ctx.run.read_items()?;
            let decisions = decisions_of(manifest, &items, ctx.plan);
            let time_left = ctx.deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let round_ctx = scope::RoundCtx {
                suites: ctx.suites,
                models: ctx.models,
                manifest,
                done: &st.done,
                cost: &st.cost,
                time_left,
            };
            let grown = st.scope.grow(&round_ctx, &decisions);
            let (settled, tied, open) = count_status(&decisions);
            ctx.progress.message(&format!(
                "round {round} ({} in): {settled} use cases settled, {tied} tied, {open} open{}{}",
                plan::format_duration(ctx.started.elapsed()),
                list("; more items for ", &grown.grown),
                list("; left open (would not fit in the time left): ", &grown.out_of_reach),
            ));
            round += 1;
        }
        let left =
            items_left(manifest, ctx.models, ctx.suites, &st.scope, &st.done, &st.unsupported);
        if left == 0 || out_of_time || st.ran + st.cached == before {
            st.budget_hit &= left > 0;
            return Ok(());
        }
        ctx.progress.message(&format!("{left} items to run: another pass while the budget lasts"));
    }
}

/// Load model `mi` and run every suite's items in scope that it has not answered;
/// a crash restarts its worker, too many mark it failed.
fn run_model(
    ctx: &RunCtx<'_>,
    mi: usize,
    manifest: &mut RunManifest,
    st: &mut RunState,
) -> Result<(), RunError> {
    let entry = &ctx.models[mi];
    let todo: usize = (0..ctx.suites.len()).map(|si| todo_indices(ctx, st, mi, si).len()).sum();
    let Some(slot) = manifest.models.iter().position(|m| m.id == entry.id) else {
        return Ok(());
    };
    if todo == 0 || manifest.models[slot].status == RunModelStatus::Failed {
        return Ok(());
    }
    if ctx.deadline.is_some_and(|d| Instant::now() >= d) {
        st.budget_hit = true;
        if manifest.models[slot].status != RunModelStatus::Ok {
            manifest.models[slot].status = RunModelStatus::Skipped;
        }
        return Ok(());
    }
    ctx.progress.model_started(&entry.id, todo as u64);
    manifest.models[slot].status = RunModelStatus::Running;
    ctx.run.write_manifest(manifest)?;
    let model = match load_model(ctx.home, entry, ctx.plan, ctx.worker.clone(), &mut st.verified) {
        Ok((model, load_ms)) => {
            manifest.models[slot].load_ms.get_or_insert(load_ms);
            model
        }
        Err(reason) => {
            ctx.progress.message(&format!("model `{}` failed: {reason}", entry.id));
            manifest.models[slot].status = RunModelStatus::Failed;
            manifest.models[slot].error = Some(reason);
            ctx.progress.model_finished(&entry.id, RunModelStatus::Failed.as_str());
            return ctx.run.write_manifest(manifest);
        }
    };
    let failed = run_model_suites(ctx, mi, slot, &model, manifest, st)?;
    let peak = manifest.models[slot]
        .peak_memory_bytes
        .max(model.resident_bytes())
        .max(memory::peak_rss_bytes());
    drop(model);
    manifest.models[slot].peak_memory_bytes = peak;
    match failed {
        Some(reason) => {
            let crashes = manifest.models[slot].crashes.len();
            ctx.progress.message(&format!(
                "model `{}` failed: its engine crashed {crashes} times",
                entry.id
            ));
            manifest.models[slot].status = RunModelStatus::Failed;
            manifest.models[slot].error = Some(format!(
                "engine crashed {crashes} times; last: {reason} (run `noa doctor`; `noa bench --resume {}` tries it again)",
                ctx.run.id
            ));
        }
        None => manifest.models[slot].status = RunModelStatus::Ok,
    }
    ctx.progress.model_finished(&entry.id, manifest.models[slot].status.as_str());
    ctx.run.write_manifest(manifest)
}

/// Every suite of one loaded model. With sequential allocation they run in one
/// schedule: a round gives each suite a few items, and the batch would run down at
/// the end of every suite. With the fixed allocation they run one suite at a time,
/// each with its own share of the budget: run in one schedule, a suite with fewer
/// items than the batch (agent) shared the engine with the suites after it for its
/// whole length, and its share's deadline cut its slowed episodes (the fixed allocation
/// of the three defaults recorded 202 and 240 items in 8m45s that way, 278-288 suite by
/// suite, AMD EPYC).
/// When the engine crashes, what was left (what was in flight included) runs again on
/// a fresh worker, up to MAX_RESTARTS times per model; past that, the last crash's
/// cause.
fn run_model_suites(
    ctx: &RunCtx<'_>,
    mi: usize,
    slot: usize,
    model: &Loaded,
    manifest: &mut RunManifest,
    st: &mut RunState,
) -> Result<Option<String>, RunError> {
    let all: Vec<usize> = (0..ctx.suites.len()).collect();
    let groups: Vec<&[usize]> = if ctx.plan.allocation == Allocation::Sequential {
        vec![&all]
    } else {
        all.chunks(1).collect()
    };
    let mut crashes = 0usize;
    for group in groups {
        if let Some(cause) =
            run_schedule(ctx, (mi, slot), group, model, manifest, st, &mut crashes)?
        {
            return Ok(Some(cause));
        }
    }
    Ok(None)
}

/// The suites `group` of model `mi` (at `slot` of the manifest) in one schedule,
/// restarted after a crash while `crashes` stays within MAX_RESTARTS; past that, the
/// last crash's cause.
fn run_schedule(
    ctx: &RunCtx<'_>,
    (mi, slot): (usize, usize),
    group: &[usize],
    model: &Loaded,
    manifest: &mut RunManifest,
    st: &mut RunState,
    crashes: &mut usize,
) -> Result<Option<String>, RunError> {
    let entry = &ctx.models[mi];
    loop {
        let todo: Vec<(usize, Vec<usize>)> = group
            .iter()
            .map(|&si| (si, todo_indices(ctx, st, mi, si)))
            .filter(|(_, indices)| !indices.is_empty())
            .collect();
        if todo.is_empty() {
            return Ok(None);
        }
        let share = budget_share(ctx, &st.scope, &st.done, mi, group);
        let lanes: Vec<RecordCtx<'_>> = todo
            .iter()
            .map(|&(si, _)| {
                let suite = &ctx.suites[si];
                let settings = plan::model_settings(suite, model.has_template());
                RecordCtx {
                    run_id: &ctx.run.id,
                    model_id: &entry.id,
                    model_sha256: &manifest.models[slot].sha256,
                    engine_build: &manifest.engine_build,
                    suite,
                    settings_hash: plan::settings_hash(suite, &settings, ctx.plan),
                    settings,
                }
            })
            .collect();
        let config = ScheduleConfig {
            batch: model.parallel(ctx.plan) as usize,
            scorer_threads: ctx.plan.scorer_threads,
            deadline: share.map(|s| s.0),
            hard_deadline: share.map(|s| s.1),
            budget_end: ctx.deadline,
        };
        let t = Instant::now();
        let results =
            run_suites(model.backend(), &lanes, todo, &config, ctx.cache, st, ctx.progress)?;
        drop(lanes);
        let wall = t.elapsed().as_secs_f64();
        let item_seconds: f64 = results.iter().map(|(_, r)| r.item_seconds).sum();
        let mut lost: Vec<(usize, Vec<String>)> = Vec::new();
        let mut crashed = None;
        let mut left_out = false;
        for (si, res) in results {
            // The schedule's time, split between its suites by their items' time.
            let part = if item_seconds > 0.0 { res.item_seconds / item_seconds } else { 0.0 };
            st.cost[mi][si].0 += wall * part;
            st.cost[mi][si].1 += res.ran;
            if let Some(why) = &res.unsupported {
                // Not measured, with the reason; no later pass asks again.
                let note = format!(
                    "model `{}`: suite `{}` not measured: {why}",
                    entry.id,
                    ctx.suites[si].suite.id()
                );
                ctx.progress.message(&note);
                manifest.notes.push(note);
                st.unsupported.insert((mi, si));
                ctx.run.write_manifest(manifest)?;
            }
            crashed = crashed.or(res.crashed);
            if !res.lost.is_empty() && res.unsupported.is_none() {
                lost.push((si, res.lost));
            }
            left_out |= res.not_started > 0 || res.cut > 0;
        }
        let Some(cause) = crashed else {
            st.budget_hit |= left_out;
            return Ok(None);
        };
        *crashes += 1;
        let crash = crash_record(ctx, &lost, cause);
        let note = crash_note(&entry.id, &crash, *crashes);
        ctx.progress.message(&note);
        manifest.notes.push(note);
        manifest.models[slot].crashes.push(crash);
        ctx.run.write_manifest(manifest)?;
        if *crashes > MAX_RESTARTS {
            return Ok(manifest.models[slot].crashes.last().map(|c| c.cause.clone()));
        }
    }
}

/// A crash as the manifest records it: the suite the lost items were in (several,
/// comma-separated, with each item named `suite/item`, when the schedule ran more).
fn crash_record(ctx: &RunCtx<'_>, lost: &[(usize, Vec<String>)], cause: String) -> EngineCrash {
    let suite = |si: usize| ctx.suites[si].suite.id().to_owned();
    let (suite, items) = match lost {
        [] => (String::new(), Vec::new()),
        [(si, items)] => (suite(*si), items.clone()),
        many => (
            many.iter().map(|(si, _)| suite(*si)).collect::<Vec<_>>().join(","),
            many.iter()
                .flat_map(|(si, items)| items.iter().map(move |i| format!("{}/{i}", suite(*si))))
                .collect(),
        ),
    };
    EngineCrash { at: noa_registry::now_rfc3339(), suite, items, cause }
}

/// Indices of suite `si`'s items in scope for model `mi` that it has not answered.
fn todo_indices(ctx: &RunCtx<'_>, st: &RunState, mi: usize, si: usize) -> Vec<usize> {
    if st.unsupported.contains(&(mi, si)) {
        return Vec::new();
    }
    let suite = &ctx.suites[si];
    let id = &ctx.models[mi].id;
    (0..st.scope.len(mi, si))
        .filter(|&i| !st.done.contains(&key3(id, suite, &suite.items[i].id)))
        .collect()
}

/// The run's decisions, over the models that did not fail.
fn decisions_of(
    manifest: &RunManifest,
    items: &[ItemRecord],
    plan: &RunPlan,
) -> Vec<noa_registry::Decision> {
    let models: Vec<String> = manifest
        .models
        .iter()
        .filter(|m| m.status != RunModelStatus::Failed)
        .map(|m| m.id.clone())
        .collect();
    let meta = crate::decide::DecisionMeta {
        hardware: manifest.hardware.id.clone(),
        engine_build: manifest.engine_build.clone(),
        run_id: manifest.run_id.clone(),
        timestamp: manifest.finished_at.clone().unwrap_or_else(noa_registry::now_rfc3339),
    };
    let settings = crate::decide::DecideSettings {
        tie_margin: plan.tie_margin,
        ..crate::decide::DecideSettings::default()
    };
    crate::decide::decide_all(&models, items, settings, &meta)
}

fn list(label: &str, items: &[String]) -> String {
    if items.is_empty() { String::new() } else { format!("{label}{}", items.join(", ")) }
}

fn count_status(decisions: &[noa_registry::Decision]) -> (usize, usize, usize) {
    use noa_registry::DecisionStatus as S;
    let count = |s: S| decisions.iter().filter(|d| d.status == s).count();
    (count(S::Settled), count(S::Tied), count(S::Open))
}

/// Worker restarts a model gets in one run before it is marked failed.
const MAX_RESTARTS: usize = 2;

/// "model `m`: engine crashed: SIGILL (Illegal instruction) on item gsm8k/12 ...".
fn crash_note(model: &str, crash: &EngineCrash, count: usize) -> String {
    // Items of several suites are named `suite/item` already.
    let name = |item: &str| {
        if crash.suite.contains(',') { item.to_owned() } else { format!("{}/{item}", crash.suite) }
    };
    let items = match crash.items.as_slice() {
        [] => "between items".to_owned(),
        [one] => format!("on item {}", name(one)),
        [first, rest @ ..] => {
            format!("on item {} (and {} more in flight)", name(first), rest.len())
        }
    };
    let next = if count > MAX_RESTARTS {
        "the model is marked failed".to_owned()
    } else {
        format!("restarting its worker ({count} of {MAX_RESTARTS})")
    };
    format!(
        "model `{model}`: engine crashed: {} {items}; items in flight are recorded as errors, \
         not scored; {next}. hint: `noa doctor` checks this build against this CPU",
        crash.cause
    )
}

/// The soft and hard end of the share of the time budget of model `mi`'s suites
/// `group` (in the order suites run, with nothing of `mi`'s before it left to run):
/// the weight of their items still to run over that of every (model, suite) pair's
/// from there on (see [`fair_share`]).
fn budget_share(
    ctx: &RunCtx<'_>,
    scope: &Scope,
    done: &HashSet<(String, String, String)>,
    mi: usize,
    group: &[usize],
) -> Option<(Instant, Instant)> {
    let d = ctx.deadline?;
    let todo = |m: usize, s: usize| {
        let suite = &ctx.suites[s];
        let id = &ctx.models[m].id;
        let n =
            (0..scope.len(m, s)).filter(|&i| !done.contains(&key3(id, suite, &suite.items[i].id)));
        n.count() as f64
    };
    let mut mine = 0.0;
    let mut all = 0.0;
    let from = group.first().copied().unwrap_or(0);
    for m in mi..ctx.models.len() {
        for (s, suite) in ctx.suites.iter().enumerate().filter(|&(s, _)| m > mi || s >= from) {
            let w = item_weight(suite) * todo(m, s);
            all += w;
            if m == mi && group.contains(&s) {
                mine += w;
            }
        }
    }
    let part = if all > 0.0 { mine / all } else { 1.0 };
    Some(fair_share(Instant::now(), d, part))
}

/// What one item of a suite may cost, in generated tokens at most: a time budget is
/// shared in proportion to it times the items to run.
/// Log-likelihood items (`max_tokens` 1) still pay for their prompts, counted as 64
/// tokens each.
fn item_weight(suite: &LoadedSuite) -> f64 {
    let s = suite.suite.settings();
    f64::from(s.max_tokens) * f64::from(suite.kind.max_requests(&s).max(1)) + 64.0
}

/// A schedule's slice of the time budget that ends at `deadline`, `part` being its
/// weight over the weight of everything still to run (itself included): it may start
/// items until that part of the remaining time has passed (`soft`; time a schedule
/// leaves unused flows on to the next), and items still running a quarter of its
/// share later are cut off (`hard`), so one slow model or suite cannot eat the others'
/// time — except each suite's first item while none has finished, which may run on to
/// the budget's end (`ScheduleConfig::budget_end`). The last schedule (`part` 1) ends
/// with the budget.
fn fair_share(now: Instant, deadline: Instant, part: f64) -> (Instant, Instant) {
    let left = deadline.saturating_duration_since(now);
    let share = left.mul_f64(part.clamp(0.0, 1.0));
    let soft = now + share;
    (soft, (soft + share / 4).min(deadline))
}

/// Items in scope not yet recorded for the models that have not failed.
fn items_left(
    manifest: &RunManifest,
    models: &[noa_registry::ModelEntry],
    suites: &[LoadedSuite],
    scope: &Scope,
    done: &HashSet<(String, String, String)>,
    unsupported: &HashSet<(usize, usize)>,
) -> usize {
    let failed =
        |id: &str| manifest.models.iter().any(|m| m.id == id && m.status == RunModelStatus::Failed);
    let mut left = 0;
    for (mi, e) in models.iter().enumerate().filter(|(_, e)| !failed(&e.id)) {
        for (si, s) in suites.iter().enumerate().filter(|(si, _)| !unsupported.contains(&(mi, *si)))
        {
            left += (0..scope.len(mi, si))
                .filter(|&i| !done.contains(&key3(&e.id, s, &s.items[i].id)))
                .count();
        }
    }
    left
}

fn key3(model: &str, suite: &LoadedSuite, item: &str) -> (String, String, String) {
    (model.to_owned(), suite.suite.id().to_owned(), item.to_owned())
}

/// A model ready to answer: a local GGUF in the engine, or a model on a server.
enum Loaded {
    Local(Model),
    Remote(RemoteBackend),
}

impl Loaded {
    fn backend(&self) -> &dyn ModelBackend {
        match self {
            Loaded::Local(m) => m,
            Loaded::Remote(r) => r,
        }
    }

    /// Whether chat prompts get a chat template: a local GGUF's own, when it has one;
    /// a server always applies the template of the model it serves.
    fn has_template(&self) -> bool {
        match self {
            Loaded::Local(m) => m.template_kind() != TemplateKind::Plain,
            Loaded::Remote(_) => true,
        }
    }

    /// Requests in flight at once: the engine's batch, or the endpoint's parallelism.
    fn parallel(&self, plan: &RunPlan) -> u32 {
        match self {
            Loaded::Local(_) => plan.batch,
            Loaded::Remote(_) => plan.endpoint_parallel,
        }
    }

    /// Memory measured for the model on this machine (none for a remote one).
    fn resident_bytes(&self) -> Option<u64> {
        match self {
            Loaded::Local(m) => m.resident_bytes(),
            Loaded::Remote(_) => None,
        }
    }
}

/// A file's size and modification time: while both are as they were when its sha256
/// was checked, it is taken to be the same file.
#[derive(Debug, Clone, PartialEq)]
struct FileStamp {
    len: u64,
    modified: std::time::SystemTime,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Self { len: meta.len(), modified: meta.modified().ok()? })
    }
}

/// A client for a remote model (the server is asked nothing until the first item);
/// otherwise the local file, checked (once a run, while its size and time stay the
/// same) and loaded. The load time in ms.
fn load_model(
    home: &NoaHome,
    entry: &noa_registry::ModelEntry,
    plan: &RunPlan,
    worker: Option<noa_engine::WorkerCommand>,
    verified: &mut std::collections::HashMap<PathBuf, FileStamp>,
) -> Result<(Loaded, f64), String> {
    if let Some(remote) = &entry.remote {
        let client =
            RemoteClient::for_model(remote, ClientConfig::default()).map_err(|e| e.to_string())?;
        let backend =
            RemoteBackend::new(client, remote.model.clone(), plan.endpoint_parallel as usize);
        return Ok((Loaded::Remote(backend), 0.0));
    }
    let file = entry.file.as_ref().ok_or("no installed file")?;
    let path = entry.file_path(home).ok_or("no installed file")?;
    let stamp = FileStamp::of(&path);
    if stamp.is_none() || verified.get(&path) != stamp.as_ref() {
        let actual = plan::sha256_file(&path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        if !actual.eq_ignore_ascii_case(&file.sha256) {
            verified.remove(&path);
            return Err(format!(
                "file `{}` has sha256 {actual}, the registry expects {} (run `noa models verify {}`)",
                path.display(),
                file.sha256,
                entry.id
            ));
        }
        if let Some(stamp) = stamp {
            verified.insert(path.clone(), stamp);
        }
    }
    memory::reset_peak_rss();
    let config = EngineConfig {
        threads: plan.threads,
        n_ctx: plan.n_ctx,
        n_seq_max: plan.batch,
        flash_attn: plan.flash_attn,
        prefix_cache: plan.prefix_cache,
        prefix_share: plan.prefix_share,
        worker,
        ..EngineConfig::default()
    };
    let t = Instant::now();
    let model = Model::load(&path, &config).map_err(|e| e.to_string())?;
    Ok((Loaded::Local(model), t.elapsed().as_secs_f64() * 1000.0))
}

/// The fixed fields of every record of one (model, suite).
struct RecordCtx<'a> {
    run_id: &'a str,
    model_id: &'a str,
    model_sha256: &'a str,
    engine_build: &'a str,
    suite: &'a LoadedSuite,
    settings: GenSettings,
    settings_hash: String,
}

impl RecordCtx<'_> {
    fn record(&self, item_id: &str, score: Score, trace: &Trace) -> ItemRecord {
        let m = &self.suite.suite.manifest;
        ItemRecord {
            run_id: self.run_id.to_owned(),
            model_id: self.model_id.to_owned(),
            model_sha256: self.model_sha256.to_owned(),
            suite: m.id.clone(),
            suite_version: m.version.clone(),
            use_case: m.use_case,
            item_id: item_id.to_owned(),
            prompt_sha256: trace.prompt_sha256.clone(),
            settings_hash: self.settings_hash.clone(),
            engine_build: self.engine_build.to_owned(),
            output: score.output,
            score: if score.value.is_finite() { score.value.clamp(0.0, 1.0) } else { 0.0 },
            detail: score.detail,
            prompt_tokens: trace.prompt_tokens,
            shared_tokens: trace.shared_tokens,
            gen_tokens: trace.gen_tokens,
            timings: trace.timings(),
            error: trace.error.clone(),
            cached_from: None,
            prompt: trace.prompt.clone(),
        }
    }

    fn cache_key(&self, item_id: &str, prompt_sha256: &str) -> CacheKey {
        CacheKey {
            model_sha256: self.model_sha256.to_owned(),
            suite: self.suite.suite.key(),
            item_id: item_id.to_owned(),
            prompt_sha256: prompt_sha256.to_owned(),
            settings_hash: self.settings_hash.clone(),
            engine_build: self.engine_build.to_owned(),
        }
    }
}

/// How one suite of a schedule went.
struct SuiteResult {
    ran: usize,
    cached: usize,
    not_started: usize,
    cut: usize,
    crashed: Option<String>,
    /// The engine cannot run this suite at all; why.
    unsupported: Option<String>,
    /// Items the engine failed under (ids): not recorded, not scored.
    lost: Vec<String>,
    /// See `ScheduleOutcome::item_seconds`.
    item_seconds: f64,
}

/// Run the items `todo` lists per suite (`(suite index, item indices)`, `lanes` the
/// record fields of each, in the same order) in one schedule, appending each finished
/// item's record (or the cached one) as it comes. Per suite, how it went.
fn run_suites(
    model: &dyn ModelBackend,
    lanes: &[RecordCtx<'_>],
    todo: Vec<(usize, Vec<usize>)>,
    config: &ScheduleConfig,
    cache: &ResultCache,
    st: &mut RunState,
    progress: &dyn Progress,
) -> Result<Vec<(usize, SuiteResult)>, RunError> {
    let RunState { done, writer, .. } = st;
    // Filled by the cache lookup, emptied when the scheduler reports the item cached.
    let hits: std::cell::RefCell<Vec<Vec<Option<ItemRecord>>>> =
        std::cell::RefCell::new(lanes.iter().map(|c| vec![None; c.suite.items.len()]).collect());
    let mut look = |l: usize, i: usize, sha: &str| {
        let ctx = &lanes[l];
        let hit = cache.get(&ctx.cache_key(&ctx.suite.items[i].id, sha)).cloned();
        let found = hit.is_some();
        hits.borrow_mut()[l][i] = hit;
        found
    };
    let mut results: Vec<SuiteResult> = lanes
        .iter()
        .map(|_| SuiteResult {
            ran: 0,
            cached: 0,
            not_started: 0,
            cut: 0,
            crashed: None,
            unsupported: None,
            lost: Vec::new(),
            item_seconds: 0.0,
        })
        .collect();
    let mut write_err = None;
    let mut finish = |l: usize, f: Finished| {
        let ctx = &lanes[l];
        let items = &ctx.suite.items;
        let result = &mut results[l];
        let record = match f {
            Finished::Lost { item, .. } => {
                // The engine died under it: no answer to record; a rerun does it.
                result.lost.push(items[item].id.clone());
                return;
            }
            Finished::Ran { item, score, trace } => {
                result.ran += 1;
                ctx.record(&items[item].id, score, &trace)
            }
            Finished::Cached { item } => {
                let Some(mut r) = hits.borrow_mut()[l][item].take() else { return };
                result.cached += 1;
                r.cached_from = Some(r.cached_from.take().unwrap_or(r.run_id));
                r.run_id = ctx.run_id.to_owned();
                r.model_id = ctx.model_id.to_owned();
                r
            }
        };
        done.insert((record.model_id.clone(), record.suite.clone(), record.item_id.clone()));
        if let Err(e) = writer.append(&record) {
            write_err.get_or_insert(e);
        }
        progress.item_finished(ctx.model_id, &record.suite);
    };
    let sched: Vec<schedule::Lane<'_>> = lanes
        .iter()
        .zip(&todo)
        .map(|(ctx, (_, items))| schedule::Lane {
            kind: ctx.suite.kind,
            settings: &ctx.settings,
            all: &ctx.suite.items,
            items: items.clone(),
            weight: item_weight(ctx.suite) * items.len() as f64,
        })
        .collect();
    let outcomes = schedule::run_lanes(model, &sched, config, &mut look, &mut finish);
    if let Some(e) = write_err {
        return Err(e);
    }
    let mut out = Vec::with_capacity(todo.len());
    for (((si, _), mut result), outcome) in todo.into_iter().zip(results).zip(outcomes) {
        st.ran += result.ran;
        st.cached += result.cached;
        result.not_started = outcome.not_started;
        result.cut = outcome.cut;
        result.crashed = outcome.crashed;
        result.unsupported = outcome.unsupported;
        result.item_seconds = outcome.item_seconds;
        out.push((si, result));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    #[test]
    fn fair_share_splits_what_is_left_and_the_last_pair_ends_with_the_budget() {
        let now = Instant::now();
        let end = now + Duration::from_secs(100);
        let (soft, hard) = super::fair_share(now, end, 0.25);
        assert_eq!(soft - now, Duration::from_secs(25));
        assert_eq!(hard - now, Duration::from_millis(31_250));
        assert_eq!(super::fair_share(now, end, 1.0), (end, end));
        // A budget already spent gives nothing: both ends have passed.
        let (soft, hard) = super::fair_share(end, now, 0.3);
        assert!(soft <= end && hard <= end);
    }
}
