//! Router state shared by several `noa serve` replicas through Redis
//! (`noa serve --state redis://HOST:PORT[/DB]`).
//!
//! The feedback stream `noa:feedback` is the shared truth. Recording feedback runs one
//! Lua script, atomically: claim the decision (`SET noa:done:<id> NX`, so a decision
//! takes feedback once however many replicas are asked), append the record to the
//! stream, drop the decision from the pending ones and count it per (use case, model).
//! Only then is the feedback acknowledged. Every replica applies the stream in stream
//! order to its local copy of the bandit statistics (Thompson counts, LinUCB matrices,
//! latency observations), so replicas converge to exactly the same posterior, and a
//! periodic snapshot (`noa:snapshot`: the statistics and the stream id they include)
//! lets a new replica start without replaying everything.
//!
//! Decisions never wait on Redis: `select` decides from the local copy and hands the
//! decision to a writer thread that stores it (`noa:decision:<id>`, with a TTL) so
//! feedback can arrive through any replica; cooldowns go the same way
//! (`noa:cooldowns`). A refresh thread reads the stream and the cooldowns every
//! `--state-refresh`. While Redis is away decisions go on from the copy, feedback is
//! refused (503) rather than lost, and the writer keeps what it could not store until
//! Redis returns.

pub mod resp;
mod sync;
mod writer;

use std::sync::Arc;
use std::sync::Mutex;

pub use resp::RedisUrl;
pub(crate) use writer::Write;

use resp::Conn;

/// Keys, all under one prefix (use the URL's database number to keep apart
/// deployments that share a Redis).
pub const STREAM: &str = "noa:feedback";
pub const COUNTS: &str = "noa:feedback_counts";
pub const COOLDOWNS: &str = "noa:cooldowns";
pub const SNAPSHOT: &str = "noa:snapshot";
pub fn decision_key(id: &str) -> String {
    format!("noa:decision:{id}")
}
pub fn done_key(id: &str) -> String {
    format!("noa:done:{id}")
}
pub fn latency_key(id: &str) -> String {
    format!("noa:latency:{id}")
}

/// How long a decision waits for feedback in Redis (it costs Redis memory: at 20 000
/// decisions a second an hour is ~72 million keys, so feedback is expected well
/// within it).
pub const DECISION_TTL_S: u64 = 3600;
/// How long a decision's "done" mark is kept: longer than the decision itself, so a
/// retried feedback is refused as a repeat for as long as the decision could be found.
pub const DONE_TTL_S: u64 = 24 * 3600;

/// Claim, append, count; returns the stream id, or nil when the decision already has
/// this kind of feedback. KEYS: done mark, stream, decision, counts. ARGV: record
/// JSON, TTL seconds, counts field (empty for a latency observation).
const COMMIT: &str = r#"
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return false end
local id = redis.call('XADD', KEYS[2], '*', 'r', ARGV[1])
if ARGV[3] ~= '' then
  redis.call('DEL', KEYS[3])
  redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
end
return id
"#;

/// Store a snapshot unless the stored one already reaches as far into the stream.
/// KEYS: snapshot. ARGV: stream id, state JSON. Returns 1 when written.
const SNAPSHOT_IF_NEWER: &str = r#"
local cur = redis.call('HGET', KEYS[1], 'id')
if cur then
  local a1, a2 = string.match(cur, '(%d+)-(%d+)')
  local b1, b2 = string.match(ARGV[1], '(%d+)-(%d+)')
  a1, a2, b1, b2 = tonumber(a1), tonumber(a2), tonumber(b1), tonumber(b2)
  if b1 < a1 or (b1 == a1 and b2 <= a2) then return 0 end
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', ARGV[2])
return 1
"#;

/// The stream id before any entry.
const STREAM_START: &str = "0-0";

/// A router's link to the shared state.
#[derive(Debug)]
pub(crate) struct Shared {
    pub url: RedisUrl,
    /// The connection feedback, catch-up and snapshots use, and how far into the
    /// stream the local copy is: held while applying, so entries apply in order.
    pub sync: Mutex<SyncState>,
    /// Decisions and cooldowns on their way to Redis (off the decision path).
    pub writes: Arc<writer::Queue>,
    /// Stream id of the last snapshot this replica stored.
    pub snapshot_id: Mutex<String>,
}

#[derive(Debug)]
pub(crate) struct SyncState {
    pub conn: Option<Conn>,
    pub last_id: String,
}

impl SyncState {
    /// The open connection, reconnecting if the last one failed.
    pub fn conn(&mut self, url: &RedisUrl) -> Result<&mut Conn, crate::SharedError> {
        if self.conn.is_none() {
            self.conn = Some(Conn::open(url)?);
        }
        self.conn.as_mut().ok_or_else(|| crate::SharedError::Io("no connection".to_owned()))
    }
}

impl Shared {
    /// Queue a write for the writer thread (never waits on Redis).
    pub fn send(&self, w: Write) {
        self.writes.push(w);
    }
}
