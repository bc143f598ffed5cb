//! Feedback on decisions, durable before it is acknowledged, and recovery of the
//! router's learned state after a restart (snapshot plus the logs that follow it).
//!
//! Recording feedback: claim the decision under the state lock (a second, concurrent
//! feedback for it fails here, so exactly one wins), append and fsync the log line,
//! then apply it to the posteriors while still holding the log's lock, so a snapshot
//! (taken under the same lock) never sees a logged but unapplied line. With shared
//! state the log is the Redis stream instead and applying follows it (`shared`).

use noa_registry::UseCase;
use serde::{Deserialize, Serialize};

use crate::error::{FeedbackError, StoreError};
use crate::requirements::{FEATURES, uc_index};
use crate::router::{Pending, Router, State, format_id, parse_id, unix_ms};
use crate::store::{
    ArmSnapshot, DecisionRecord, FeedbackKind, FeedbackRecord, Recovered, Snapshot, Store, log_len,
};

/// What a recorded feedback changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackAck {
    pub decision_id: String,
    pub model: String,
    pub use_case: UseCase,
    pub reward: f64,
    /// Posterior mean quality of (use case, model) after this feedback.
    pub posterior_mean: f64,
}

/// Per-model figures for listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStats {
    pub model: String,
    pub feedback: u64,
}

impl Router {
    /// Record the caller's reward in [0, 1] (and optionally the latency it saw).
    pub fn feedback(
        &self,
        decision_id: &str,
        reward: f64,
        latency_ms: Option<f64>,
    ) -> Result<FeedbackAck, FeedbackError> {
        if !(reward.is_finite() && (0.0..=1.0).contains(&reward)) {
            return Err(FeedbackError::RewardOutOfRange(reward));
        }
        if let Some(l) = latency_ms.filter(|l| !(l.is_finite() && *l >= 0.0)) {
            return Err(FeedbackError::BadLatency(l));
        }
        let unknown = || FeedbackError::UnknownDecision(decision_id.to_owned());
        let id = parse_id(decision_id).ok_or_else(unknown)?;
        let pending = self.claim(decision_id, id)?;
        let rec = FeedbackRecord {
            kind: FeedbackKind::Reward,
            decision_id: decision_id.to_owned(),
            use_case: UseCase::ALL[pending.uc],
            model: self.table.rows[pending.model].id.to_string(),
            reward: Some(reward),
            latency_ms,
            latency_applied: latency_ms.is_some() && !pending.latency_observed,
            predicted_p95_ms: pending.predicted_p95_ms,
            features: pending.features.to_vec(),
            unix_ms: unix_ms(),
        };
        let posterior_mean = self.durably(&rec, |st| {
            st.claimed.remove(&id);
        })?;
        Ok(FeedbackAck {
            decision_id: rec.decision_id,
            model: rec.model,
            use_case: rec.use_case,
            reward,
            posterior_mean,
        })
    }

    /// Claim decision `id` for its reward: it must be awaiting feedback here or, with
    /// shared state, in Redis (made by another replica). A concurrent second feedback
    /// for it fails here, so exactly one wins on this replica (the commit script
    /// settles races between replicas).
    fn claim(&self, decision_id: &str, id: u64) -> Result<Pending, FeedbackError> {
        let unknown = || FeedbackError::UnknownDecision(decision_id.to_owned());
        let mut st = self.lock();
        if st.done.contains(&id) || st.claimed.contains(&id) {
            return Err(FeedbackError::AlreadyRecorded(decision_id.to_owned()));
        }
        if let Some(p) = st.pending.get(&id).cloned() {
            st.claimed.insert(id);
            return Ok(p);
        }
        let Some(shared) = &self.shared else { return Err(unknown()) };
        drop(st);
        let p = self.remote_pending(shared, decision_id)?.ok_or_else(unknown)?;
        let mut st = self.lock();
        if st.done.contains(&id) || !st.claimed.insert(id) {
            return Err(FeedbackError::AlreadyRecorded(decision_id.to_owned()));
        }
        Ok(p)
    }

    /// Record a latency the server measured itself (a chat completion it ran for this
    /// decision). The decision stays open for the caller's reward.
    pub fn observe_latency(&self, decision_id: &str, latency_ms: f64) -> Result<(), FeedbackError> {
        if !(latency_ms.is_finite() && latency_ms >= 0.0) {
            return Err(FeedbackError::BadLatency(latency_ms));
        }
        let unknown = || FeedbackError::UnknownDecision(decision_id.to_owned());
        let id = parse_id(decision_id).ok_or_else(unknown)?;
        let pending = {
            let mut st = self.lock();
            let p = st.pending.get_mut(&id).ok_or_else(unknown)?;
            if p.latency_observed {
                return Err(FeedbackError::AlreadyRecorded(decision_id.to_owned()));
            }
            p.latency_observed = true;
            p.clone()
        };
        let rec = FeedbackRecord {
            kind: FeedbackKind::Latency,
            decision_id: decision_id.to_owned(),
            use_case: UseCase::ALL[pending.uc],
            model: self.table.rows[pending.model].id.to_string(),
            reward: None,
            latency_ms: Some(latency_ms),
            latency_applied: true,
            predicted_p95_ms: pending.predicted_p95_ms,
            features: pending.features.to_vec(),
            unix_ms: unix_ms(),
        };
        self.durably(&rec, |st| {
            if let Some(p) = st.pending.get_mut(&id) {
                p.latency_observed = false;
            }
        })?;
        Ok(())
    }

    /// Log `rec` (fsynced) and apply it; on a log failure run `undo` and apply nothing.
    fn durably(
        &self,
        rec: &FeedbackRecord,
        undo: impl FnOnce(&mut State),
    ) -> Result<f64, FeedbackError> {
        if let Some(shared) = &self.shared {
            let outcome = self.commit_shared(shared, rec);
            let mut st = self.lock();
            return match outcome {
                Ok(true) => Ok(self
                    .table
                    .index_of(&rec.model)
                    .map_or(0.0, |m| st.thompson.mean(m, uc_index(rec.use_case)))),
                Ok(false) => {
                    undo(&mut st);
                    Err(FeedbackError::AlreadyRecorded(rec.decision_id.clone()))
                }
                Err(e) => {
                    undo(&mut st);
                    Err(e.into())
                }
            };
        }
        let Some(store) = &self.store else {
            let mut st = self.lock();
            return Ok(self.apply(&mut st, rec));
        };
        let mut file = store.feedback.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = store.append_feedback(&mut file, rec) {
            undo(&mut self.lock());
            return Err(e.into());
        }
        let mut st = self.lock();
        let mean = self.apply(&mut st, rec);
        drop(st);
        drop(file);
        Ok(mean)
    }

    /// Apply one feedback line to the state; returns the posterior mean after it.
    pub(crate) fn apply(&self, st: &mut State, rec: &FeedbackRecord) -> f64 {
        let id = parse_id(&rec.decision_id);
        let Some(m) = self.table.index_of(&rec.model) else {
            if let Some(id) = id {
                st.claimed.remove(&id);
                st.mark_done(id);
            }
            return 0.0;
        };
        let uc = uc_index(rec.use_case);
        if rec.latency_applied
            && let Some(l) = rec.latency_ms
        {
            st.latency[m].observe(rec.predicted_p95_ms, l);
        }
        match rec.kind {
            FeedbackKind::Reward => {
                let r = rec.reward.unwrap_or(0.0).clamp(0.0, 1.0);
                st.thompson.update(m, uc, r);
                if rec.features.len() == FEATURES {
                    let mut x = [0.0; FEATURES];
                    x.copy_from_slice(&rec.features);
                    st.linucb.update(m, &x, r);
                }
                st.feedback_counts[m] += 1;
                if let Some(id) = id {
                    st.claimed.remove(&id);
                    st.mark_done(id);
                }
            }
            FeedbackKind::Latency => {
                if let Some(p) = id.and_then(|id| st.pending.get_mut(&id)) {
                    p.latency_observed = true;
                }
            }
        }
        st.thompson.mean(m, uc)
    }

    /// Write a snapshot of the learned state (and how far into each log it reaches).
    /// A router without persistence does nothing.
    pub fn snapshot(&self) -> Result<(), StoreError> {
        if let Some(shared) = &self.shared {
            return Ok(self.snapshot_shared(shared)?);
        }
        let Some(store) = &self.store else { return Ok(()) };
        let _one_writer = store.snapshot_lock.lock().unwrap_or_else(|p| p.into_inner());
        let snap = {
            // Both log locks and the state lock: offsets and state agree exactly.
            let feedback = store.feedback.lock().unwrap_or_else(|p| p.into_inner());
            let decisions = store.decisions.lock().unwrap_or_else(|p| p.into_inner());
            let offsets = (log_len(&feedback), log_len(&decisions));
            if store.snapshot_offsets() == Some(offsets) {
                return Ok(()); // nothing happened since the last snapshot
            }
            let st = self.lock();
            self.capture(&st, offsets.0, offsets.1)
        };
        // Written with no lock held, so routing and feedback carry on meanwhile.
        store.write_snapshot(&snap)
    }

    pub(crate) fn capture(
        &self,
        st: &State,
        feedback_offset: u64,
        decisions_offset: u64,
    ) -> Snapshot {
        let rows = &self.table.rows;
        let mut snap = Snapshot {
            version: Store::snapshot_version(),
            feedback_offset,
            decisions_offset,
            ..Snapshot::default()
        };
        for (m, row) in rows.iter().enumerate() {
            for (u, uc) in UseCase::ALL.into_iter().enumerate() {
                let s = st.thompson.stats[m][u];
                if s.s + s.f > 0.0 {
                    snap.thompson.push(ArmSnapshot {
                        model: row.id.to_string(),
                        use_case: uc,
                        s: s.s,
                        f: s.f,
                    });
                }
            }
            if st.feedback_counts[m] > 0 {
                snap.linucb.push((row.id.to_string(), st.linucb.feedback_state(m)));
                snap.feedback_counts.push((row.id.to_string(), st.feedback_counts[m]));
            }
            if st.latency[m] != Default::default() {
                snap.latency.push((row.id.to_string(), st.latency[m]));
            }
        }
        snap.pending = st
            .pending_order
            .iter()
            .filter_map(|id| st.pending.get(id).map(|p| self.record_of(*id, p)))
            .collect();
        snap.done = st.done_order.iter().map(|id| format_id(*id)).collect();
        snap
    }

    fn record_of(&self, id: u64, p: &Pending) -> DecisionRecord {
        p.record(id, self.table.rows[p.model].id.to_string())
    }

    /// Rebuild state from what the store found on disk.
    pub(crate) fn recover(&mut self, rec: Recovered) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let decisions =
            rec.snapshot.iter().flat_map(|s| s.pending.iter()).chain(rec.decisions.iter());
        for d in decisions {
            self.restore_pending(&mut st, d);
        }
        if let Some(snap) = &rec.snapshot {
            for a in &snap.thompson {
                if let Some(m) = self.table.index_of(&a.model) {
                    let s = &mut st.thompson.stats[m][uc_index(a.use_case)];
                    s.s = a.s;
                    s.f = a.f;
                }
            }
            for (model, fb) in &snap.linucb {
                if let Some(m) = self.table.index_of(model) {
                    st.linucb.restore(m, fb);
                }
            }
            for (model, obs) in &snap.latency {
                if let Some(m) = self.table.index_of(model) {
                    st.latency[m] = *obs;
                }
            }
            for (model, n) in &snap.feedback_counts {
                if let Some(m) = self.table.index_of(model) {
                    st.feedback_counts[m] = *n;
                }
            }
            for id in snap.done.iter().filter_map(|d| parse_id(d)) {
                st.mark_done(id);
            }
        }
        for f in &rec.feedback {
            self.apply(&mut st, f);
        }
    }

    fn restore_pending(&self, st: &mut State, d: &DecisionRecord) {
        let Some(id) = parse_id(&d.id) else { return };
        if st.done.contains(&id) {
            return;
        }
        if let Some(p) = self.pending_of(d) {
            st.insert_pending(id, p);
        }
    }

    /// A logged decision as a pending one; `None` if its model is no longer served or
    /// its features do not fit.
    pub(crate) fn pending_of(&self, d: &DecisionRecord) -> Option<Pending> {
        let model = self.table.index_of(&d.model)?;
        if d.features.len() != FEATURES {
            return None;
        }
        let mut features = [0.0; FEATURES];
        features.copy_from_slice(&d.features);
        Some(Pending {
            model,
            uc: uc_index(d.use_case),
            policy: d.policy,
            probability: d.probability,
            features,
            predicted_p95_ms: d.predicted_p95_ms,
            latency_observed: d.latency_observed,
            unix_ms: d.unix_ms,
        })
    }

    /// Feedback received per model (since the registry was first served).
    pub fn model_stats(&self) -> Vec<ModelStats> {
        let st = self.lock();
        self.table
            .rows
            .iter()
            .zip(&st.feedback_counts)
            .map(|(r, n)| ModelStats { model: r.id.to_string(), feedback: *n })
            .collect()
    }

    /// Decisions awaiting feedback.
    pub fn pending_count(&self) -> usize {
        self.lock().pending.len()
    }
}
