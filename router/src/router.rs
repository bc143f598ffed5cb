//! [`Router`]: the hard constraints, then a policy, over a candidate table built once
//! from the registry. `select` takes one short lock, allocates only the decision it
//! returns, and logs the decision (without fsync) so feedback resolves after a
//! restart. Feedback, recovery and snapshots live in `feedback.rs`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use noa_registry::Registry;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::config::RouterConfig;
use crate::decision::{Decision, RankedCandidate, RejectedModel, Rejection};
use crate::error::{RouteError, StoreError};
use crate::policy::{LatencyObs, LinUcb, Thompson};
use crate::requirements::{FEATURES, PolicyKind, TaskRequirements, feature_vector, uc_index};
use crate::store::{DecisionRecord, Store};
use crate::table::{CandidateTable, ModelRow};

/// Prompt and output sizes assumed when neither the request nor a measurement says.
const DEFAULT_PROMPT_TOKENS: f64 = 256.0;
const DEFAULT_OUTPUT_TOKENS: f64 = 128.0;

/// A decision awaiting feedback.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub model: usize,
    pub uc: usize,
    pub policy: PolicyKind,
    pub probability: f64,
    pub features: [f64; FEATURES],
    pub predicted_p95_ms: Option<f64>,
    pub latency_observed: bool,
    pub unix_ms: u64,
}

impl Pending {
    /// The decision-log record of this decision `id`, naming its model `model`.
    pub(crate) fn record(&self, id: u64, model: String) -> DecisionRecord {
        DecisionRecord {
            id: format_id(id),
            use_case: noa_registry::UseCase::ALL[self.uc],
            model,
            policy: self.policy,
            probability: self.probability,
            features: self.features.to_vec(),
            predicted_p95_ms: self.predicted_p95_ms,
            latency_observed: self.latency_observed,
            unix_ms: self.unix_ms,
        }
    }
}

/// Mutable state behind the router's lock.
#[derive(Debug)]
pub(crate) struct State {
    pub thompson: Thompson,
    pub linucb: LinUcb,
    pub latency: Vec<LatencyObs>,
    pub feedback_counts: Vec<u64>,
    pub rng: SmallRng,
    pub round_robin: u64,
    pub pending: HashMap<u64, Pending>,
    pub pending_order: VecDeque<u64>,
    pub done: HashSet<u64>,
    pub done_order: VecDeque<u64>,
    pub claimed: HashSet<u64>,
    pub max_pending: usize,
}

impl State {
    pub fn insert_pending(&mut self, id: u64, p: Pending) {
        if self.pending.insert(id, p).is_none() {
            self.pending_order.push_back(id);
        }
        while self.pending_order.len() > self.max_pending {
            if let Some(old) = self.pending_order.pop_front() {
                self.pending.remove(&old);
            }
        }
    }

    pub fn mark_done(&mut self, id: u64) {
        self.pending.remove(&id);
        if self.done.insert(id) {
            self.done_order.push_back(id);
        }
        while self.done_order.len() > self.max_pending {
            if let Some(old) = self.done_order.pop_front() {
                self.done.remove(&old);
            }
        }
    }
}

/// Picks a model per request and learns from feedback. Share it behind an `Arc`.
#[derive(Debug)]
pub struct Router {
    pub(crate) table: CandidateTable,
    pub(crate) config: RouterConfig,
    pub(crate) state: Mutex<State>,
    pub(crate) store: Option<Store>,
    /// The state shared with other replicas through Redis, if any.
    pub(crate) shared: Option<crate::shared::Shared>,
    id_epoch: u64,
    next_id: AtomicU64,
    /// What the serving side reports about the models' engines.
    live: Mutex<Live>,
}

/// The engines as they are now (from the backend), apart from what was learned.
impl Live {
    /// Models cooling down now (expired ones dropped): (id, (seconds left, cause)).
    fn cooling(&mut self) -> Vec<(String, (f64, String))> {
        let c = &mut self.cooldowns;
        if c.is_empty() {
            return Vec::new();
        }
        let now = Instant::now();
        c.retain(|_, (until, _)| *until > now);
        c.iter()
            .map(|(m, (until, cause))| (m.clone(), ((*until - now).as_secs_f64(), cause.clone())))
            .collect()
    }
}

#[derive(Debug, Default)]
struct Live {
    /// Models whose engine failed recently: until when they are skipped, and why.
    cooldowns: HashMap<String, (Instant, String)>,
    /// Models loaded now: their measured resident bytes (already in memory, so the
    /// memory constraint does not count them again).
    loaded: HashMap<String, u64>,
    /// The last measured resident bytes of each model ever loaded: a better guess
    /// than the file-size estimate for loading it again.
    measured: HashMap<String, u64>,
}

impl Router {
    /// A router with no persistence (tests, replay, benchmarks).
    pub fn in_memory(registry: &Registry, config: RouterConfig) -> Router {
        let table = CandidateTable::build(registry, &config);
        let thompson = Thompson::new(&table, &config);
        let linucb = LinUcb::new(&table, &config);
        let n = table.rows.len();
        let rng = match config.seed {
            Some(s) => SmallRng::seed_from_u64(s),
            None => SmallRng::from_os_rng(),
        };
        let state = State {
            thompson,
            linucb,
            latency: vec![LatencyObs::default(); n],
            feedback_counts: vec![0; n],
            rng,
            round_robin: 0,
            pending: HashMap::new(),
            pending_order: VecDeque::new(),
            done: HashSet::new(),
            done_order: VecDeque::new(),
            claimed: HashSet::new(),
            max_pending: config.max_pending.max(1),
        };
        // Ids stay unique across restarts: 24 random bits per process, 40 of counter.
        let id_epoch = (rand::random::<u64>() & 0xff_ffff) << 40;
        Router {
            table,
            config,
            state: Mutex::new(state),
            store: None,
            shared: None,
            id_epoch,
            next_id: AtomicU64::new(1),
            live: Mutex::new(Live::default()),
        }
    }

    /// A router persisting under `dir` (normally `NOA_HOME/router`): loads the
    /// snapshot, replays the feedback and decision logs after it.
    pub fn open(
        registry: &Registry,
        config: RouterConfig,
        dir: &Path,
    ) -> Result<Router, StoreError> {
        let mut router = Router::in_memory(registry, config);
        let (store, recovered) = Store::open(dir)?;
        router.recover(recovered);
        router.store = Some(store);
        Ok(router)
    }

    /// A router that sees the learned state under `dir` but writes nothing there
    /// (`noa route` while `noa serve` may be running).
    pub fn open_read_only(
        registry: &Registry,
        config: RouterConfig,
        dir: &Path,
    ) -> Result<Router, StoreError> {
        let mut router = Router::in_memory(registry, config);
        router.recover(Store::read_only(dir)?);
        Ok(router)
    }

    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    pub fn table(&self) -> &CandidateTable {
        &self.table
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Skip `model` for `period`: its engine just crashed or failed to load (`cause`).
    /// Requests that name it still reach it; `auto` ones go to the other candidates.
    /// With shared state the other replicas skip it too.
    pub fn cool_down(&self, model: &str, period: Duration, cause: String) {
        self.share_cooldown(model, period, &cause);
        let mut live = self.live();
        live.cooldowns.insert(model.to_owned(), (Instant::now() + period, cause));
    }

    /// A cooldown another replica started: kept unless a longer one runs here.
    pub(crate) fn adopt_cooldown(&self, model: &str, until: Instant, cause: String) {
        let mut live = self.live();
        match live.cooldowns.get(model) {
            Some((mine, _)) if *mine >= until => {}
            _ => {
                live.cooldowns.insert(model.to_owned(), (until, cause));
            }
        }
    }

    /// The models loaded now and their measured resident bytes (from the backend's
    /// engine workers). A loaded model passes the memory constraint (it is already in
    /// memory); one loaded before is judged by what it measured then.
    pub fn observe_loaded(&self, loaded: &[(String, u64)]) {
        let mut live = self.live();
        live.loaded = loaded.iter().cloned().collect();
        for (id, bytes) in loaded {
            live.measured.insert(id.clone(), *bytes);
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Models cooling down now: (id, (seconds left, cause)).
    pub fn cooling(&self) -> Vec<(String, (f64, String))> {
        self.live().cooling()
    }

    /// Apply the hard constraints, then the policy; remember the decision for its
    /// feedback.
    pub fn select(&self, req: &TaskRequirements) -> Result<Decision, RouteError> {
        req.validate()?;
        let policy = req.policy.unwrap_or(self.config.policy);
        let uc = uc_index(req.use_case);
        // Lock order: `live`, then `state`.
        let mut live = self.live();
        let mut st = self.lock();
        let Survivors { idx, mut candidates, rejected } = self.filter(req, uc, &mut live, &st);
        drop(live);
        if idx.is_empty() {
            drop(st);
            return Err(no_candidate(req, rejected));
        }
        let x = feature_vector(
            req.use_case,
            req.prompt_tokens.map_or(DEFAULT_PROMPT_TOKENS, f64::from),
            req.output_tokens.map_or(DEFAULT_OUTPUT_TOKENS, f64::from),
            &req.features,
        );
        let (pos, probability) = choose(&mut st, policy, uc, &idx, &x, &mut candidates);
        // Thompson's selection probability is an integral over every survivor: computed
        // without the lock, so feedback waiting for it is not held up and, in turn, does
        // not hold up the next decision.
        let probability = match probability {
            Propensity::Known(p) => p,
            Propensity::Thompson(normals) => {
                drop(st);
                let p = crate::policy::thompson::propensity(&normals, pos);
                st = self.lock();
                p
            }
        };
        let chosen = idx[pos];
        let pending = Pending {
            model: chosen,
            uc,
            policy,
            probability,
            features: x,
            predicted_p95_ms: self.measured_p95(req, chosen, uc),
            latency_observed: false,
            unix_ms: unix_ms(),
        };
        let id = self.id_epoch | self.next_id.fetch_add(1, Ordering::Relaxed);
        st.insert_pending(id, pending.clone());
        drop(st);
        let decision_id = format_id(id);
        self.log_decision(id, &decision_id, req, &pending);
        candidates.sort_by(|a, b| b.estimated_quality.total_cmp(&a.estimated_quality));
        Ok(Decision {
            decision_id,
            model: self.table.rows[chosen].id.clone(),
            use_case: req.use_case,
            policy,
            probability,
            candidates,
            rejected,
            unix_ms: pending.unix_ms,
            evidence: self.table.evidence[uc].clone(),
        })
    }

    /// Split the table into the candidates that pass every constraint (with their
    /// estimates) and the rejected ones (with the first constraint each failed).
    fn filter(&self, req: &TaskRequirements, uc: usize, live: &mut Live, st: &State) -> Survivors {
        let rows = &self.table.rows;
        let cooling = live.cooling();
        let mut out = Survivors {
            idx: Vec::with_capacity(rows.len()),
            candidates: Vec::with_capacity(rows.len()),
            rejected: Vec::new(),
        };
        for (m, row) in rows.iter().enumerate() {
            let params = row.latency[uc].as_ref();
            let prompt = req
                .prompt_tokens
                .map(f64::from)
                .or(params.map(|p| p.mean_prompt_tokens))
                .unwrap_or(DEFAULT_PROMPT_TOKENS);
            let output = req
                .output_tokens
                .map(f64::from)
                .or(params.map(|p| p.mean_gen_tokens))
                .unwrap_or(DEFAULT_OUTPUT_TOKENS);
            let predicted = st.latency[m].predict(params, prompt, output);
            let (low, source) = st.thompson.lower_bound(m, uc);
            let reason =
                self.hard_rejection(req, row, uc, live, &cooling, predicted).or_else(|| {
                    req.min_quality.filter(|min| low < *min).map(|min_quality| Rejection::Quality {
                        lower_bound: low,
                        min_quality,
                        source,
                    })
                });
            match reason {
                Some(reason) => out.rejected.push(RejectedModel { model: row.id.clone(), reason }),
                None => {
                    out.idx.push(m);
                    out.candidates.push(RankedCandidate {
                        model: row.id.clone(),
                        estimated_quality: st.thompson.mean(m, uc),
                        quality_lower_bound: low,
                        quality_source: source,
                        predicted_p95_ms: predicted,
                        policy_score: 0.0,
                    });
                }
            }
        }
        out
    }

    /// The first constraint other than quality that `row` fails, in the order they
    /// apply (the order `no_candidate` reports by).
    fn hard_rejection(
        &self,
        req: &TaskRequirements,
        row: &ModelRow,
        uc: usize,
        live: &Live,
        cooling: &[(String, (f64, String))],
        predicted: Option<f64>,
    ) -> Option<Rejection> {
        if !req.allow.is_empty() && !req.allow.iter().any(|a| **a == *row.id) {
            return Some(Rejection::NotAllowed);
        }
        if req.deny.iter().any(|d| **d == *row.id) {
            return Some(Rejection::Denied);
        }
        if !row.installed {
            return Some(Rejection::NotInstalled);
        }
        if let Some((left, cause)) = cooling.iter().find(|c| *c.0 == *row.id).map(|c| &c.1) {
            return Some(Rejection::CoolingDown { seconds_left: *left, cause: cause.clone() });
        }
        if !row.supports[uc] {
            return Some(Rejection::UseCase { use_case: req.use_case });
        }
        if let Some(allowed) = req.privacy.filter(|a| row.privacy > *a) {
            return Some(Rejection::Privacy { model_tier: row.privacy, allowed });
        }
        if let Some((needed, avail)) = self
            .config
            .memory_bytes
            .filter(|_| !live.loaded.contains_key(&*row.id))
            .map(|a| (live.measured.get(&*row.id).copied().unwrap_or(row.memory_bytes), a))
            .filter(|(needed, a)| needed > a)
        {
            return Some(Rejection::Memory { needed_bytes: needed, available_bytes: avail });
        }
        let max_ms = req.max_latency_ms?;
        match predicted {
            None => Some(Rejection::LatencyUnknown { max_ms }),
            Some(p) if p > max_ms => Some(Rejection::Latency { predicted_p95_ms: p, max_ms }),
            Some(_) => None,
        }
    }

    /// The measured-only p95 prediction for the chosen model: feedback calibrates
    /// against it, so the stored figure is this one (the candidate list shows the
    /// calibrated one).
    fn measured_p95(&self, req: &TaskRequirements, chosen: usize, uc: usize) -> Option<f64> {
        self.table.rows[chosen].latency[uc].map(|p| {
            let prompt = req.prompt_tokens.map_or(p.mean_prompt_tokens, f64::from);
            let output = req.output_tokens.map_or(p.mean_gen_tokens, f64::from);
            p.predict_p95(prompt, output)
        })
    }

    /// Append the decision to the log (no fsync) so its feedback resolves after a
    /// restart; a failure costs only that, so it is logged, not returned.
    /// With shared state the record goes to the writer thread instead (so feedback can
    /// reach any replica), never waiting on Redis.
    fn log_decision(&self, id: u64, decision_id: &str, req: &TaskRequirements, p: &Pending) {
        if let Some(shared) = &self.shared {
            // Nothing allocated here: the writer thread builds the record.
            shared.send(crate::shared::Write::Decision { id, pending: p.clone() });
            return;
        }
        let Some(store) = &self.store else { return };
        let rec = DecisionRecord {
            id: decision_id.to_owned(),
            use_case: req.use_case,
            model: self.table.rows[p.model].id.to_string(),
            policy: p.policy,
            probability: p.probability,
            features: p.features.to_vec(),
            predicted_p95_ms: p.predicted_p95_ms,
            latency_observed: false,
            unix_ms: p.unix_ms,
        };
        if let Err(e) = store.log_decision(&rec) {
            tracing::warn!(error = %e, "decision not logged; its feedback will not survive a restart");
        }
    }
}

/// What the hard constraints left: table indices and their candidates, in step, and
/// the rejected models.
struct Survivors {
    idx: Vec<usize>,
    candidates: Vec<RankedCandidate>,
    rejected: Vec<RejectedModel>,
}

/// The chosen candidate's selection probability, or what computing it needs.
enum Propensity {
    Known(f64),
    /// The survivors' posteriors as normal approximations, in `idx` order.
    Thompson(Vec<(f64, f64)>),
}

/// Run the policy over the survivors; fills each candidate's policy score and returns
/// the chosen position and its selection probability.
fn choose(
    st: &mut State,
    policy: PolicyKind,
    uc: usize,
    idx: &[usize],
    x: &[f64; FEATURES],
    cands: &mut [RankedCandidate],
) -> (usize, Propensity) {
    let k = idx.len();
    let argmax = |c: &[RankedCandidate]| {
        (0..c.len())
            .fold(0, |best, i| if c[i].policy_score > c[best].policy_score { i } else { best })
    };
    match policy {
        PolicyKind::Thompson => {
            for (c, &m) in cands.iter_mut().zip(idx) {
                c.policy_score = st.thompson.sample(&mut st.rng, m, uc);
            }
            (argmax(&*cands), Propensity::Thompson(st.thompson.normals(uc, idx)))
        }
        PolicyKind::Linucb => {
            for (c, &m) in cands.iter_mut().zip(idx) {
                c.policy_score = st.linucb.score(m, x).1;
            }
            (argmax(&*cands), Propensity::Known(1.0))
        }
        PolicyKind::Greedy => {
            for (c, &m) in cands.iter_mut().zip(idx) {
                c.policy_score = st.thompson.prior_mean(m, uc);
            }
            (argmax(&*cands), Propensity::Known(1.0))
        }
        PolicyKind::Random => {
            let pos = st.rng.random_range(0..k);
            for (i, c) in cands.iter_mut().enumerate() {
                c.policy_score = if i == pos { 1.0 } else { 0.0 };
            }
            (pos, Propensity::Known(1.0 / k as f64))
        }
        PolicyKind::RoundRobin => {
            let pos = (st.round_robin % k as u64) as usize;
            st.round_robin = st.round_robin.wrapping_add(1);
            for (i, c) in cands.iter_mut().enumerate() {
                c.policy_score = if i == pos { 1.0 } else { 0.0 };
            }
            (pos, Propensity::Known(1.0))
        }
    }
}

/// The error for an empty candidate set, naming the constraint that emptied it.
fn no_candidate(req: &TaskRequirements, rejected: Vec<RejectedModel>) -> RouteError {
    let Some(stage) = rejected.iter().map(|r| r.reason.stage()).max() else {
        return RouteError::NoCandidate {
            constraint: "registry",
            message: "no models are registered; install one with `noa models pull`".to_owned(),
            rejected,
        };
    };
    let last: Vec<&RejectedModel> = rejected.iter().filter(|r| r.reason.stage() == stage).collect();
    let constraint = last[0].reason.constraint();
    let earlier = rejected.len() - last.len();
    let detail: Vec<String> = last.iter().map(|r| format!("`{}`: {}", r.model, r.reason)).collect();
    let message = format!(
        "no model can serve `{}`: the `{constraint}` constraint rejected the last {} candidate(s) \
         ({earlier} rejected earlier): {}",
        req.use_case,
        last.len(),
        detail.join("; ")
    );
    RouteError::NoCandidate { constraint, message, rejected }
}

pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn format_id(id: u64) -> String {
    format!("d{id:016x}")
}

pub(crate) fn parse_id(s: &str) -> Option<u64> {
    let hex = s.strip_prefix('d')?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}
