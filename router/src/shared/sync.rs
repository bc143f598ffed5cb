//! The router's side of the shared state: opening a replica on Redis (snapshot, then
//! the stream after it), committing feedback with the atomic script and applying the
//! stream in order, the refresh thread, and snapshots stored back into Redis.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use noa_registry::Registry;

use super::resp::{Conn, RedisUrl, Reply};
use super::writer::{self, Cooldown};
use super::{
    COMMIT, COOLDOWNS, COUNTS, DONE_TTL_S, SNAPSHOT, SNAPSHOT_IF_NEWER, STREAM, STREAM_START,
    Shared, SyncState, decision_key, done_key, latency_key,
};
use crate::config::RouterConfig;
use crate::error::{FeedbackError, SharedError};
use crate::router::{Pending, Router, unix_ms};
use crate::store::{DecisionRecord, FeedbackKind, FeedbackRecord, Recovered, Snapshot};

/// Stream entries read per round trip while catching up.
const PAGE: &str = "1000";

impl Router {
    /// A replica whose learned state lives in Redis at `url` (`redis://HOST:PORT[/DB]`):
    /// loads the stored snapshot and the feedback stream after it, then starts the
    /// writer thread and a refresh thread that reads the stream every `refresh`. Both
    /// stop when the router is dropped.
    pub fn open_shared(
        registry: &Registry,
        config: RouterConfig,
        url: &str,
        refresh: Duration,
    ) -> Result<Arc<Router>, SharedError> {
        let url = RedisUrl::parse(url).map_err(SharedError::BadUrl)?;
        let mut conn = Conn::open(&url)?;
        conn.query(&["PING"])?.into_result()?;
        let (snapshot, last_id) = load_snapshot(&mut conn)?;
        let mut router = Router::in_memory(registry, config);
        router.recover(Recovered { snapshot, ..Recovered::default() });
        let queue = Arc::new(writer::Queue::default());
        router.shared = Some(Shared {
            url: url.clone(),
            sync: Mutex::new(SyncState { conn: Some(conn), last_id: last_id.clone() }),
            writes: queue.clone(),
            snapshot_id: Mutex::new(last_id),
        });
        router.refresh_now()?;
        let models: Vec<String> = router.table.rows.iter().map(|r| r.id.to_string()).collect();
        let router = Arc::new(router);
        let spawn_err = |e: std::io::Error| SharedError::Io(format!("starting a thread: {e}"));
        std::thread::Builder::new()
            .name("noa-redis-writer".to_owned())
            .spawn(move || writer::run(url, queue, models))
            .map_err(spawn_err)?;
        let weak = Arc::downgrade(&router);
        std::thread::Builder::new()
            .name("noa-redis-refresh".to_owned())
            .spawn(move || refresh_loop(weak, refresh))
            .map_err(spawn_err)?;
        Ok(router)
    }

    /// Read what other replicas recorded (and their cooldowns) now; returns the
    /// number of feedback entries applied. A router without shared state does nothing.
    pub fn refresh_now(&self) -> Result<usize, SharedError> {
        let Some(shared) = &self.shared else { return Ok(0) };
        let mut sync = shared.sync.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.catch_up(shared, &mut sync).and_then(|n| {
            let c = sync.conn(&shared.url)?.query(&["HGETALL", COOLDOWNS])?.into_result()?;
            Ok((n, c))
        });
        let (n, cooldowns) = result.inspect_err(|_| sync.conn = None)?;
        drop(sync);
        self.adopt_cooldowns(cooldowns.array());
        Ok(n)
    }

    /// Apply the stream after `sync.last_id`, a page per round trip.
    fn catch_up(&self, shared: &Shared, sync: &mut SyncState) -> Result<usize, SharedError> {
        let mut n = 0;
        loop {
            let start = format!("({}", sync.last_id);
            let page = sync
                .conn(&shared.url)?
                .query(&["XRANGE", STREAM, &start, "+", "COUNT", PAGE])?
                .into_result()?
                .array();
            let k = page.len();
            self.apply_entries(sync, page);
            n += k;
            if k.to_string() != PAGE {
                return Ok(n);
            }
        }
    }

    /// Apply stream entries in order and move `last_id` past them. An entry that does
    /// not parse (written by something else) is skipped with a warning. The entries
    /// are parsed before the state lock is taken, so decisions wait only for the
    /// updates themselves (a page holds up to a thousand entries).
    fn apply_entries(&self, sync: &mut SyncState, entries: Vec<Reply>) {
        let mut parsed = Vec::with_capacity(entries.len());
        for e in entries {
            let mut parts = e.array().into_iter();
            let (Some(id), Some(fields)) = (parts.next().and_then(|r| r.text()), parts.next())
            else {
                tracing::warn!("skipping a malformed entry of `{STREAM}`");
                continue;
            };
            let fields = fields.array();
            let json = fields
                .chunks(2)
                .find(|kv| kv[0].text().as_deref() == Some("r"))
                .and_then(|kv| kv.get(1).and_then(Reply::text));
            let rec = match json.map(|j| serde_json::from_str::<FeedbackRecord>(&j)) {
                Some(Ok(rec)) => Some(rec),
                _ => {
                    tracing::warn!(entry = %id, "skipping an entry of `{STREAM}` that does not parse");
                    None
                }
            };
            parsed.push((id, rec));
        }
        if parsed.is_empty() {
            return;
        }
        let mut st = self.lock();
        for (id, rec) in parsed {
            if let Some(rec) = rec {
                self.apply(&mut st, &rec);
            }
            sync.last_id = id;
        }
    }

    /// Commit `rec` with the atomic script and apply the stream up to it, in one round
    /// trip. `Ok(false)`: the decision already had this kind of feedback.
    pub(crate) fn commit_shared(
        &self,
        shared: &Shared,
        rec: &FeedbackRecord,
    ) -> Result<bool, SharedError> {
        let json = serde_json::to_string(rec)
            .map_err(|e| SharedError::Protocol(format!("cannot serialise the feedback: {e}")))?;
        let (done, field) = match rec.kind {
            FeedbackKind::Reward => {
                (done_key(&rec.decision_id), format!("{}/{}", rec.use_case, rec.model))
            }
            FeedbackKind::Latency => (latency_key(&rec.decision_id), String::new()),
        };
        let decision = decision_key(&rec.decision_id);
        let ttl = DONE_TTL_S.to_string();
        let mut sync = shared.sync.lock().unwrap_or_else(|p| p.into_inner());
        let start = format!("({}", sync.last_id);
        let eval: Vec<&[u8]> =
            ["EVAL", COMMIT, "4", &done, STREAM, &decision, COUNTS, &json, &ttl, &field]
                .iter()
                .map(|s| s.as_bytes())
                .collect();
        let range: Vec<&[u8]> =
            ["XRANGE", STREAM, &start, "+"].iter().map(|s| s.as_bytes()).collect();
        let replies = sync
            .conn(&shared.url)
            .and_then(|c| c.pipeline(&[eval, range]))
            .inspect_err(|_| sync.conn = None)?;
        let mut replies = replies.into_iter();
        let committed = replies.next().ok_or_else(|| SharedError::Protocol("no reply".into()))?;
        let committed = !matches!(committed.into_result()?, Reply::Nil);
        match replies.next().map(Reply::into_result) {
            Some(Ok(page)) => self.apply_entries(&mut sync, page.array()),
            // Recorded all the same: the refresh applies it.
            other => tracing::warn!(reply = ?other, "feedback stored but not yet applied here"),
        }
        Ok(committed)
    }

    /// A decision made by another replica, from Redis. `Ok(None)`: Redis does not
    /// know it either.
    pub(crate) fn remote_pending(
        &self,
        shared: &Shared,
        decision_id: &str,
    ) -> Result<Option<Pending>, FeedbackError> {
        let (d, done, lat) =
            (decision_key(decision_id), done_key(decision_id), latency_key(decision_id));
        let cmds: Vec<Vec<&[u8]>> = vec![
            vec![b"GET", d.as_bytes()],
            vec![b"EXISTS", done.as_bytes()],
            vec![b"EXISTS", lat.as_bytes()],
        ];
        let mut sync = shared.sync.lock().unwrap_or_else(|p| p.into_inner());
        let replies = sync
            .conn(&shared.url)
            .and_then(|c| c.pipeline(&cmds))
            .inspect_err(|_| sync.conn = None)?;
        drop(sync);
        let mut r = replies.into_iter().map(Reply::into_result);
        let (Some(rec), Some(done), Some(lat)) = (r.next(), r.next(), r.next()) else {
            return Err(SharedError::Protocol("short reply".to_owned()).into());
        };
        if done?.int() == Some(1) {
            return Err(FeedbackError::AlreadyRecorded(decision_id.to_owned()));
        }
        let Some(text) = rec?.text() else { return Ok(None) };
        let mut d: DecisionRecord = serde_json::from_str(&text)
            .map_err(|e| SharedError::Corrupt(format!("`{}`: {e}", decision_key(decision_id))))?;
        d.latency_observed |= lat?.int() == Some(1);
        Ok(self.pending_of(&d))
    }

    /// Store this replica's copy as the shared snapshot, unless one as recent is there.
    pub(crate) fn snapshot_shared(&self, shared: &Shared) -> Result<(), SharedError> {
        let mut sync = shared.sync.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = shared.snapshot_id.lock().unwrap_or_else(|p| p.into_inner());
        if *last == sync.last_id {
            return Ok(());
        }
        let mut snap = self.capture(&self.lock(), 0, 0);
        // Decisions awaiting feedback live in Redis under their own keys.
        snap.pending.clear();
        let json = serde_json::to_string(&snap)
            .map_err(|e| SharedError::Protocol(format!("cannot serialise the snapshot: {e}")))?;
        let id = sync.last_id.clone();
        sync.conn(&shared.url)
            .and_then(|c| c.query(&["EVAL", SNAPSHOT_IF_NEWER, "1", SNAPSHOT, &id, &json]))
            .inspect_err(|_| sync.conn = None)?
            .into_result()?;
        *last = id;
        Ok(())
    }

    /// Share a cooldown with the other replicas.
    pub(crate) fn share_cooldown(&self, model: &str, period: Duration, cause: &str) {
        if let Some(shared) = &self.shared {
            shared.send(super::Write::Cooldown(Cooldown {
                model: model.to_owned(),
                until_unix_ms: unix_ms() + period.as_millis() as u64,
                cause: cause.to_owned(),
            }));
        }
    }

    /// Adopt the cooldowns stored in Redis (`HGETALL` reply) that are still running.
    fn adopt_cooldowns(&self, flat: Vec<Reply>) {
        let now = unix_ms();
        for kv in flat.chunks(2) {
            let (Some(model), Some(json)) = (kv[0].text(), kv.get(1).and_then(Reply::text)) else {
                continue;
            };
            let Ok(c) = serde_json::from_str::<Cooldown>(&json) else { continue };
            if c.until_unix_ms > now {
                let left = Duration::from_millis(c.until_unix_ms - now);
                self.adopt_cooldown(&model, Instant::now() + left, c.cause);
            }
        }
    }
}

/// The stored snapshot and the stream id it reaches (the stream's start if none).
fn load_snapshot(conn: &mut Conn) -> Result<(Option<Snapshot>, String), SharedError> {
    let flat = conn.query(&["HGETALL", SNAPSHOT])?.into_result()?.array();
    let field = |name: &str| {
        flat.chunks(2)
            .find(|kv| kv[0].text().as_deref() == Some(name))
            .and_then(|kv| kv.get(1).and_then(Reply::text))
    };
    let (Some(id), Some(state)) = (field("id"), field("state")) else {
        return Ok((None, STREAM_START.to_owned()));
    };
    let snap = serde_json::from_str(&state)
        .map_err(|e| SharedError::Corrupt(format!("`{SNAPSHOT}`: {e}")))?;
    Ok((Some(snap), id))
}

/// Every `every`, read the stream and cooldowns; say once when Redis goes away and
/// when it is back. Ends when the router is dropped.
fn refresh_loop(router: Weak<Router>, every: Duration) {
    let mut down = false;
    loop {
        std::thread::sleep(every);
        let Some(router) = router.upgrade() else { return };
        match router.refresh_now() {
            Ok(n) if down => {
                down = false;
                tracing::warn!(applied = n, "Redis is back; caught up with the shared state");
            }
            Ok(_) => {}
            Err(e) if !down => {
                down = true;
                tracing::warn!(error = %e, "Redis is away: deciding from the local copy, refusing feedback");
            }
            Err(_) => {}
        }
    }
}
