//! The writer thread: stores decisions (so feedback can reach any replica) and
//! cooldowns in Redis, batched into pipelines, off the decision path. While Redis is
//! away it keeps what it could not store (up to a bound, oldest dropped first) and
//! retries, so decisions made meanwhile still take feedback through other replicas
//! once Redis is back.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::resp::{Conn, RedisUrl};
use super::{COOLDOWNS, DECISION_TTL_S, decision_key};
use crate::error::SharedError;
use crate::router::Pending;

/// Writes kept while Redis is away.
const MAX_BACKLOG: usize = 100_000;
/// Writes per pipeline.
const BATCH: usize = 512;
const RETRY: Duration = Duration::from_millis(200);
/// How often new writes are collected: the delay before another replica can take
/// feedback for a decision made here, and the batching window.
const POLL: Duration = Duration::from_millis(2);

/// Something to store.
#[derive(Debug)]
pub(crate) enum Write {
    /// A decision awaiting feedback, by id.
    Decision {
        id: u64,
        pending: Pending,
    },
    Cooldown(Cooldown),
}

/// A model skipped by `auto` requests until `until_unix_ms` (stored per model in
/// `noa:cooldowns`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cooldown {
    #[serde(skip)]
    pub model: String,
    pub until_unix_ms: u64,
    pub cause: String,
}

/// Writes handed over by the decision path: a plain vector behind a short lock that
/// the writer swaps for its own (emptied, capacity kept) one. No allocation per write
/// and nothing freed across threads, so the decision path never meets the writer in
/// the allocator, and no system call: the writer polls, never parks.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    items: Mutex<Vec<Write>>,
    dropped: AtomicU64,
}

impl Queue {
    pub fn push(&self, w: Write) {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        if items.len() >= MAX_BACKLOG {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        items.push(w);
    }

    fn swap(&self, with: &mut Vec<Write>) {
        std::mem::swap(&mut *self.items.lock().unwrap_or_else(|p| p.into_inner()), with);
    }
}

/// Store what the queue receives until the router (the queue's other owner) is gone
/// and the backlog is stored, or Redis is away then. `models`: the candidate table's
/// ids, by index.
pub(crate) fn run(url: RedisUrl, queue: Arc<Queue>, models: Vec<String>) {
    let mut backlog: VecDeque<Write> = VecDeque::new();
    let mut taken: Vec<Write> = Vec::new();
    let mut conn: Option<Conn> = None;
    let mut failing = false;
    loop {
        let open = Arc::strong_count(&queue) > 1;
        queue.swap(&mut taken);
        backlog.extend(taken.drain(..));
        while backlog.len() > MAX_BACKLOG {
            backlog.pop_front();
            queue.dropped.fetch_add(1, Ordering::Relaxed);
        }
        if backlog.is_empty() {
            if !open {
                return;
            }
            std::thread::sleep(POLL);
            continue;
        }
        let dropped = queue.dropped.load(Ordering::Relaxed);
        match flush(&url, &mut conn, &mut backlog, &models) {
            Ok(()) if failing => {
                failing = false;
                tracing::warn!(dropped, "decisions made while Redis was away are shared now");
            }
            Ok(()) => {}
            Err(e) => {
                conn = None;
                if !failing {
                    failing = true;
                    tracing::warn!(error = %e, "decisions not yet shared; kept and retried");
                }
                if !open {
                    return;
                }
                std::thread::sleep(RETRY);
            }
        }
    }
}

/// Store the backlog, a batch per round trip; what was stored leaves the backlog.
fn flush(
    url: &RedisUrl,
    conn: &mut Option<Conn>,
    backlog: &mut VecDeque<Write>,
    models: &[String],
) -> Result<(), SharedError> {
    while !backlog.is_empty() {
        if conn.is_none() {
            *conn = Some(Conn::open(url)?);
        }
        let Some(c) = conn.as_mut() else { continue };
        let n = backlog.len().min(BATCH);
        let cmds: Vec<Vec<String>> =
            backlog.iter().take(n).map(|w| command(w, models)).collect::<Result<_, _>>()?;
        let args: Vec<Vec<&[u8]>> =
            cmds.iter().map(|c| c.iter().map(|s| s.as_bytes()).collect()).collect();
        for reply in c.pipeline(&args)? {
            reply.into_result()?;
        }
        backlog.drain(..n);
    }
    Ok(())
}

fn command(w: &Write, models: &[String]) -> Result<Vec<String>, SharedError> {
    Ok(match w {
        Write::Decision { id, pending: p } => {
            let d = p.record(*id, models.get(p.model).cloned().unwrap_or_default());
            let json = to_json(&d)?;
            vec![
                "SET".to_owned(),
                decision_key(&d.id),
                json,
                "EX".to_owned(),
                DECISION_TTL_S.to_string(),
            ]
        }
        Write::Cooldown(c) => {
            vec!["HSET".to_owned(), COOLDOWNS.to_owned(), c.model.clone(), to_json(c)?]
        }
    })
}

fn to_json(v: &impl Serialize) -> Result<String, SharedError> {
    serde_json::to_string(v).map_err(|e| SharedError::Protocol(format!("cannot serialise: {e}")))
}
