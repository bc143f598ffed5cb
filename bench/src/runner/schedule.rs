//! Driving many episodes at once against one loaded model. The engine batches
//! continuously: every generation request submitted while others decode joins the
//! running batch as soon as a sequence slot frees up. So the scheduler keeps `batch`
//! (= the engine's `n_seq_max`) generation requests in flight at all times, from that
//! many caller threads, and gathers the log-likelihood steps of ready episodes into
//! one `loglikelihood_batch` call. Every `Episode::step` — prompt building, answer
//! parsing and scoring, which may run a Python subprocess — runs on a small pool of
//! scorer threads, so the engine never waits for a scorer. The calling thread only
//! routes messages. Several suites ("lanes") can share one schedule, so the batch
//! stays full across them rather than running down at the end of each.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use noa_engine::{
    EngineError, GenerateRequest, Generation, Loglikelihood, LoglikelihoodRequest, Prompt,
};

use super::trace::Trace;
use crate::kind::{Episode, GenSettings, Item, Reply, Score, Step, TaskKind};
use noa_engine::ModelBackend;

/// How a schedule's items are to be run.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// Generation requests kept in flight (the engine's `n_seq_max`).
    pub batch: usize,
    /// Threads running `Episode::step` (scorers).
    pub scorer_threads: usize,
    /// Stop starting new items after this instant, and before it once an item is
    /// not expected to finish in time (by the mean duration of the items done so far).
    pub deadline: Option<Instant>,
    /// Abandon items still running at this instant: their generations are cut off,
    /// nothing is recorded for them, and a resume runs them again.
    pub hard_deadline: Option<Instant>,
    /// The end of the whole run's time budget. While none of a lane's items has
    /// finished, its first item started is exempt from `hard_deadline` and may run
    /// until this instant: a suite whose every item outlasts its share still gets one
    /// measurement when one item fits in what is left of the budget, rather than none
    /// (later shares are taken from the time left after it). `None`: no exemption.
    pub budget_end: Option<Instant>,
}

/// What the scheduler tells its caller as items finish.
#[derive(Debug)]
pub enum Finished {
    /// The item ran (or failed on its own, e.g. prompt too long: `trace.error` set).
    Ran { item: usize, score: Score, trace: Trace },
    /// The caller's cache supplied the result; nothing ran.
    Cached { item: usize },
    /// The engine failed under the item (its worker crashed or hung): it has no answer
    /// and must not be scored; a resume runs it again.
    Lost { item: usize, error: EngineError },
}

/// How a scheduled suite ended.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ScheduleOutcome {
    pub finished: usize,
    /// Items never started (deadline passed, or the engine died).
    pub not_started: usize,
    /// Items started but abandoned at the hard deadline (not reported as finished).
    pub cut: usize,
    /// The engine stopped working (its worker died); the reason. No item is started
    /// after it.
    pub crashed: Option<String>,
    /// The engine cannot do what this suite asks (a remote server asked for
    /// log-likelihoods); the reason. Its items are not scored.
    pub unsupported: Option<String>,
    /// Wall seconds of the items finished, each from its start to its score (they
    /// overlap): how the caller splits a schedule's time between its lanes.
    pub item_seconds: f64,
}

struct Active {
    lane: usize,
    item: usize,
    since: Instant,
    episode: Box<dyn Episode>,
    trace: Trace,
    started: bool,
}

enum Event {
    Stepped(Active, Step),
    Generated(Active, Result<Generation, EngineError>),
    Scored(Vec<(Active, Result<Vec<Loglikelihood>, EngineError>)>),
}

enum EngineJob {
    Gen(Active, GenerateRequest),
    Ll(Vec<(Active, Vec<LoglikelihoodRequest>)>),
}

/// A pool of threads taking jobs from one queue.
fn pool<'scope, 'env, J, F>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    n: usize,
    events: &Sender<Event>,
    work: F,
) -> Sender<J>
where
    J: Send + 'scope,
    F: Fn(J) -> Event + Send + Sync + Copy + 'scope,
{
    let (tx, rx) = mpsc::channel::<J>();
    let rx: Arc<Mutex<Receiver<J>>> = Arc::new(Mutex::new(rx));
    for _ in 0..n.max(1) {
        let (rx, events) = (rx.clone(), events.clone());
        scope.spawn(move || {
            loop {
                let job = rx.lock().map_err(|_| ()).and_then(|r| r.recv().map_err(|_| ()));
                let Ok(job) = job else { break };
                if events.send(work(job)).is_err() {
                    break;
                }
            }
        });
    }
    tx
}

/// One suite's part of a schedule: its task kind and settings, its items, and which
/// of them to run.
pub struct Lane<'a> {
    pub kind: &'a dyn TaskKind,
    pub settings: &'a GenSettings,
    /// The suite's items (what `items` index into).
    pub all: &'a [Item],
    /// The items to run, in this order.
    pub items: Vec<usize>,
    /// What the lane's items may cost, on any scale shared by the lanes: when a lane
    /// starts, it gets this share of what is left of the schedule's time, over the
    /// lanes not started yet (itself included).
    pub weight: f64,
}

/// Run `items` (indices into `all`) through `kind` on `backend`. `cached` is asked
/// once per item, with the sha256 of its first prompt, whether a stored result can be
/// reused; `on_finish` gets every finished item, in completion order.
pub fn run_items(
    backend: &dyn ModelBackend,
    kind: &dyn TaskKind,
    settings: &GenSettings,
    all: &[Item],
    items: &[usize],
    config: &ScheduleConfig,
    cached: &mut dyn FnMut(usize, &str) -> bool,
    on_finish: &mut dyn FnMut(Finished),
) -> ScheduleOutcome {
    let lane = Lane { kind, settings, all, items: items.to_vec(), weight: 1.0 };
    let mut outcomes = run_lanes(
        backend,
        std::slice::from_ref(&lane),
        config,
        &mut |_, i, sha| cached(i, sha),
        &mut |_, f| on_finish(f),
    );
    outcomes.pop().unwrap_or_default()
}

/// Run several suites' items on one loaded model in one schedule: the lanes start
/// their items one lane after the other, and the next lane's first items fill the
/// sequence slots that the last long generations of the one before leave free, rather
/// than the batch running down at the end of every suite. (Lanes are not interleaved:
/// the engine keeps one shared prefix at a time, and alternating suites would decode
/// each suite's prefix again and again.) The schedule's deadlines are shared out as
/// lanes start: a lane gets its weight's part of the time left until `deadline` (time
/// a lane leaves unused flows on to the next) — or, if later, its place in the time as
/// planned at the start, since a lane that starts beside the last items of the one
/// before shares the engine with them — its items are cut off that part of the
/// schedule's grace (`hard_deadline` − `deadline`) later, and the last lane ends with
/// the schedule. A lane whose deadline has passed starts no more items, and the next
/// one goes on. `cached` and `on_finish` get the lane's index first; one outcome per
/// lane. A dying engine stops every lane.
pub fn run_lanes(
    backend: &dyn ModelBackend,
    lanes: &[Lane<'_>],
    config: &ScheduleConfig,
    cached: &mut dyn FnMut(usize, usize, &str) -> bool,
    on_finish: &mut dyn FnMut(usize, Finished),
) -> Vec<ScheduleOutcome> {
    // Every request starting with its suite's shared prefix says so, for the engine.
    let sharing: Vec<super::shared::Sharing<'_>> = lanes
        .iter()
        .map(|l| super::shared::Sharing::new(backend, l.kind, l.settings, l.all))
        .collect();
    let mut run = Dispatch::new(backend, lanes, config);
    std::thread::scope(|scope| {
        let (events_tx, events) = mpsc::channel::<Event>();
        let sharing = &sharing;
        let pools = Pools {
            scorer: pool(scope, config.scorer_threads, &events_tx, step_episode),
            engine: pool(scope, run.batch, &events_tx, move |job: EngineJob| {
                run_engine_job(backend, sharing, job)
            }),
        };
        drop(events_tx);
        loop {
            run.admit(&pools.scorer);
            run.send_loglikelihoods(&pools.engine);
            if run.live == 0 {
                break;
            }
            let Ok(event) = events.recv() else { break };
            run.handle(event, &pools, cached, on_finish);
        }
        drop(pools);
    });
    run.into_outcomes()
}

/// The job queues of the two thread pools: scorers and engine callers.
struct Pools {
    scorer: Sender<(Active, Option<Reply>)>,
    engine: Sender<EngineJob>,
}

/// A scorer's job: the episode's next step, given the engine's reply to the last one.
/// A panicking task kind scores the item 0 instead of taking the run down.
fn step_episode((mut a, reply): (Active, Option<Reply>)) -> Event {
    let step =
        std::panic::catch_unwind(AssertUnwindSafe(|| a.episode.step(reply))).unwrap_or_else(|_| {
            Step::Done(Score {
                value: 0.0,
                detail: Some("the task kind panicked on this item".into()),
                output: String::new(),
            })
        });
    Event::Stepped(a, step)
}

/// An engine caller's job: one generation (through its lane's prefix sharing), or one
/// batch of log-likelihood steps whose results are handed back to each episode in
/// order.
fn run_engine_job(
    backend: &dyn ModelBackend,
    sharing: &[super::shared::Sharing<'_>],
    job: EngineJob,
) -> Event {
    match job {
        EngineJob::Gen(a, req) => {
            let res = sharing[a.lane]
                .generate_batch(vec![req])
                .pop()
                .unwrap_or(Err(EngineError::WorkerGone));
            Event::Generated(a, res)
        }
        EngineJob::Ll(group) => {
            let counts: Vec<usize> = group.iter().map(|(_, r)| r.len()).collect();
            let (actives, reqs): (Vec<Active>, Vec<_>) = group.into_iter().unzip();
            let mut results =
                backend.loglikelihood_batch(reqs.into_iter().flatten().collect()).into_iter();
            let per = actives
                .into_iter()
                .zip(counts)
                .map(|(a, n)| {
                    let mine: Vec<_> = results.by_ref().take(n).collect();
                    let res = if mine.len() < n {
                        Err(EngineError::WorkerGone)
                    } else {
                        mine.into_iter().collect()
                    };
                    (a, res)
                })
                .collect();
            Event::Scored(per)
        }
    }
}

/// The calling thread's bookkeeping while a schedule runs: which items wait, how many
/// episodes are live, the log-likelihood steps gathered for the next batch, and each
/// lane's outcome so far.
struct Dispatch<'a> {
    backend: &'a dyn ModelBackend,
    config: &'a ScheduleConfig,
    batch: usize,
    /// Enough live episodes that the engine stays full while others are being scored.
    window: usize,
    lanes: Vec<LaneRun<'a>>,
    /// (lane, item) not started yet, in the order they start.
    pending: VecDeque<(usize, usize)>,
    started: Instant,
    live: usize,
    /// The engine died: no item starts after it, in any lane.
    crashed: bool,
    ll_ready: Vec<(Active, Vec<LoglikelihoodRequest>)>,
    ll_in_flight: bool,
}

/// One lane while it runs.
struct LaneRun<'a> {
    lane: &'a Lane<'a>,
    /// Its soft and hard deadlines, set when its first item starts (`None` until
    /// then; either deadline `None` when the schedule has none).
    ends: Option<(Option<Instant>, Option<Instant>)>,
    /// Items start in order: the first is the one `ScheduleConfig::budget_end` exempts.
    first_item: Option<usize>,
    /// Items scored so far (their wall time is `outcome.item_seconds`), for the
    /// admission estimate.
    done_n: u32,
    outcome: ScheduleOutcome,
}

impl LaneRun<'_> {
    /// Whether the lane starts no more items: the engine cannot run it, or its
    /// deadline is (or, by the mean duration of its items so far, would be) passed.
    fn stopped(&self, now: Instant) -> bool {
        let expected =
            if self.done_n > 0 { self.outcome.item_seconds / f64::from(self.done_n) } else { 0.0 };
        let deadline = self.ends.and_then(|e| e.0);
        self.outcome.unsupported.is_some()
            || deadline.is_some_and(|d| {
                now >= d || d.saturating_duration_since(now).as_secs_f64() < expected
            })
    }
}

impl<'a> Dispatch<'a> {
    fn new(
        backend: &'a dyn ModelBackend,
        lanes: &'a [Lane<'a>],
        config: &'a ScheduleConfig,
    ) -> Self {
        let batch = config.batch.max(1);
        Dispatch {
            backend,
            config,
            batch,
            window: batch * 2 + config.scorer_threads,
            lanes: lanes
                .iter()
                .map(|lane| LaneRun {
                    lane,
                    ends: None,
                    first_item: lane.items.first().copied(),
                    done_n: 0,
                    outcome: ScheduleOutcome::default(),
                })
                .collect(),
            pending: lanes
                .iter()
                .enumerate()
                .flat_map(|(l, lane)| lane.items.iter().map(move |&i| (l, i)))
                .collect(),
            started: Instant::now(),
            live: 0,
            crashed: false,
            ll_ready: Vec::new(),
            ll_in_flight: false,
        }
    }

    /// Start items until the window is full, skipping (and keeping, as not started)
    /// those of lanes that start no more.
    fn admit(&mut self, scorer: &Sender<(Active, Option<Reply>)>) {
        if self.crashed {
            return;
        }
        let now = Instant::now();
        let mut held = VecDeque::new();
        while self.live < self.window {
            let Some((l, i)) = self.pending.pop_front() else { break };
            if self.lanes[l].ends.is_none() {
                self.start_lane(l, now);
            }
            let lane = &self.lanes[l];
            if lane.stopped(now) {
                held.push_back((l, i));
                continue;
            }
            let active = Active {
                lane: l,
                item: i,
                since: now,
                episode: lane.lane.kind.episode(&lane.lane.all[i], lane.lane.settings),
                trace: Trace::default(),
                started: false,
            };
            if scorer.send((active, None)).is_ok() {
                self.live += 1;
            }
        }
        held.append(&mut self.pending);
        self.pending = held;
    }

    /// Give lane `l` its part of the time left (see [`run_lanes`]).
    fn start_lane(&mut self, l: usize, now: Instant) {
        let weight =
            |lanes: &[LaneRun<'_>]| lanes.iter().map(|x| x.lane.weight.max(0.0)).sum::<f64>();
        let left = weight(&self.lanes[l..]);
        let part =
            if left > 0.0 { (self.lanes[l].lane.weight.max(0.0) / left).min(1.0) } else { 1.0 };
        // A lane that starts while the one before still runs shares the engine with
        // it: it may go on at least until its place in the schedule's time as planned
        // at the start (the lanes before it and itself, by weight).
        let all = weight(&self.lanes);
        let planned = if all > 0.0 { (weight(&self.lanes[..=l]) / all).min(1.0) } else { 1.0 };
        let soft = self.config.deadline.map(|d| {
            let own = now + d.saturating_duration_since(now).mul_f64(part);
            let in_plan = self.started + d.saturating_duration_since(self.started).mul_f64(planned);
            own.max(in_plan).min(d.max(now))
        });
        let grace = match (self.config.deadline, self.config.hard_deadline) {
            (Some(d), Some(h)) => Some(h.saturating_duration_since(d)),
            _ => None,
        };
        let hard = match (soft, grace) {
            (Some(s), Some(g)) => earliest(Some(s + g.mul_f64(part)), self.config.hard_deadline),
            _ => self.config.hard_deadline,
        };
        self.lanes[l].ends = Some((soft, hard));
    }

    /// Each lane's outcome, its items never started counted.
    fn into_outcomes(mut self) -> Vec<ScheduleOutcome> {
        for (l, _) in &self.pending {
            self.lanes[*l].outcome.not_started += 1;
        }
        self.lanes.into_iter().map(|l| l.outcome).collect()
    }

    /// Send the gathered log-likelihood steps as one batch (up to `batch * 8`
    /// requests) when none is in flight.
    fn send_loglikelihoods(&mut self, engine: &Sender<EngineJob>) {
        if self.ll_in_flight || self.ll_ready.is_empty() {
            return;
        }
        let mut group = Vec::new();
        let mut n = 0;
        while n < self.batch * 8 {
            let Some(x) = self.ll_ready.pop() else { break };
            n += x.1.len();
            group.push(x);
        }
        self.ll_in_flight = engine.send(EngineJob::Ll(group)).is_ok();
    }

    fn handle(
        &mut self,
        event: Event,
        pools: &Pools,
        cached: &mut dyn FnMut(usize, usize, &str) -> bool,
        on_finish: &mut dyn FnMut(usize, Finished),
    ) {
        match event {
            Event::Stepped(a, step) => self.stepped(a, step, &pools.engine, cached, on_finish),
            Event::Generated(mut a, Ok(g)) => {
                a.trace.add_generation(&g);
                let _ = pools.scorer.send((a, Some(Reply::Generated(g))));
            }
            Event::Generated(a, Err(EngineError::DeadlinePassed)) => {
                self.live -= 1;
                self.lanes[a.lane].outcome.cut += 1;
            }
            Event::Generated(a, Err(e)) => {
                self.live -= 1;
                self.fail(a, e, on_finish);
            }
            Event::Scored(per) => {
                self.ll_in_flight = false;
                for (mut a, res) in per {
                    match res {
                        Ok(lls) => {
                            a.trace.add_loglikelihoods(&lls);
                            let _ = pools.scorer.send((a, Some(Reply::Loglikelihoods(lls))));
                        }
                        Err(e) => {
                            self.live -= 1;
                            self.fail(a, e, on_finish);
                        }
                    }
                }
            }
        }
    }

    /// An episode's next step: its end, a cache hit on its first prompt, a cut at the
    /// hard deadline, or work for the engine.
    fn stepped(
        &mut self,
        mut a: Active,
        step: Step,
        engine: &Sender<EngineJob>,
        cached: &mut dyn FnMut(usize, usize, &str) -> bool,
        on_finish: &mut dyn FnMut(usize, Finished),
    ) {
        let l = a.lane;
        if let Step::Done(score) = step {
            self.live -= 1;
            let lane = &mut self.lanes[l];
            let took = a.since.elapsed().as_secs_f64();
            lane.outcome.finished += 1;
            lane.outcome.item_seconds += took;
            lane.done_n += 1;
            return on_finish(l, Finished::Ran { item: a.item, score, trace: a.trace });
        }
        if !a.started {
            a.started = true;
            let (sha, text) = first_prompt(self.backend, &step);
            if cached(l, a.item, &sha) {
                self.live -= 1;
                self.lanes[l].outcome.finished += 1;
                return on_finish(l, Finished::Cached { item: a.item });
            }
            a.trace.prompt_sha256 = sha;
            a.trace.prompt = text;
        }
        let now = Instant::now();
        let cut_at = self.cut_at(l, a.item, now);
        if cut_at.is_some_and(|d| now >= d) {
            self.live -= 1;
            self.lanes[l].outcome.cut += 1;
            return;
        }
        match step {
            Step::Generate(mut r) => {
                r.deadline = earliest(r.deadline, cut_at);
                let _ = engine.send(EngineJob::Gen(a, r));
            }
            Step::Loglikelihood(r) => self.ll_ready.push((a, r)),
            Step::Done(_) => {}
        }
    }

    /// When `item` of lane `l` is cut off: the hard deadline, or the budget's end for
    /// the lane's first item while none of its items has finished (see
    /// `ScheduleConfig::budget_end`).
    fn cut_at(&self, l: usize, item: usize, now: Instant) -> Option<Instant> {
        let lane = &self.lanes[l];
        let exempt = Some(item) == lane.first_item
            && lane.outcome.finished == 0
            && self.config.budget_end.is_some_and(|end| now < end);
        if exempt {
            self.config.budget_end
        } else {
            lane.ends.map_or(self.config.hard_deadline, |e| e.1)
        }
    }

    /// An item the engine could not answer. When the engine itself failed (a dead or
    /// hung worker) the item is lost, not failed, and no lane starts another item.
    fn fail(
        &mut self,
        active: Active,
        err: EngineError,
        on_finish: &mut dyn FnMut(usize, Finished),
    ) {
        let l = active.lane;
        let outcome = &mut self.lanes[l].outcome;
        if let EngineError::Unsupported(why) = &err {
            outcome.unsupported.get_or_insert_with(|| why.clone());
            return on_finish(l, Finished::Lost { item: active.item, error: err });
        }
        if err.is_engine_failure() {
            self.crashed = true;
            outcome.crashed.get_or_insert_with(|| match &err {
                EngineError::Crashed { cause } => cause.clone(),
                other => other.to_string(),
            });
            return on_finish(l, Finished::Lost { item: active.item, error: err });
        }
        let mut trace = active.trace;
        trace.error = Some(err.to_string());
        outcome.finished += 1;
        let score = Score { value: 0.0, detail: None, output: String::new() };
        on_finish(l, Finished::Ran { item: active.item, score, trace });
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// sha256 of the exact text the first step gives the engine (the chat template
/// rendered by the model itself when it can), and that text: the prompt of a
/// generation, or the shared context of log-likelihood requests.
fn first_prompt(backend: &dyn ModelBackend, step: &Step) -> (String, Option<String>) {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let text = match step {
        Step::Generate(r) => match &r.prompt {
            Prompt::Raw(text) => {
                h.update(text.as_bytes());
                Some(text.clone())
            }
            Prompt::Chat(messages) => match backend.render_chat(messages) {
                Ok(text) => {
                    h.update(text.as_bytes());
                    Some(text)
                }
                Err(_) => {
                    h.update(serde_json::to_vec(messages).unwrap_or_default());
                    None
                }
            },
        },
        Step::Loglikelihood(reqs) => {
            for r in reqs {
                h.update(r.context.as_bytes());
                h.update([0x1f]);
                h.update(r.continuation.as_bytes());
                h.update([0x1e]);
            }
            reqs.first().map(|r| r.context.clone())
        }
        Step::Done(_) => None,
    };
    (hex::encode(h.finalize()), text)
}
