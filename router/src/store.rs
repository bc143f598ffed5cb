//! Durable router state under `NOA_HOME/router/`: the append-only feedback log
//! (fsynced before feedback is acknowledged), the append-only decision log (so
//! feedback for a decision made before a restart still resolves), and a periodic
//! snapshot that records how far into each log it reaches. On start the router loads the
//! snapshot and replays what follows, so `kill -9` at any moment loses no
//! acknowledged feedback. A torn last line (a write cut short by a crash) was never
//! acknowledged and is cut off on open.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use noa_registry::atomic::write_atomic;
use noa_registry::{UseCase, router_log};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::policy::LatencyObs;
use crate::policy::linucb::LinFeedback;
use crate::requirements::PolicyKind;

pub use noa_registry::router_log::{DECISIONS_FILE, FEEDBACK_FILE, FeedbackKind, FeedbackRecord};

pub const SNAPSHOT_FILE: &str = "snapshot.json";
/// Held (advisory lock) by the process that owns the logs.
pub const LOCK_FILE: &str = "lock";
const SNAPSHOT_VERSION: u32 = 1;

/// One line of `decisions.jsonl` (and a pending decision in a snapshot), with the
/// policy typed so that a log naming a policy this router lacks is reported on replay.
pub type DecisionRecord = router_log::DecisionRecord<PolicyKind>;

/// Router state at a point of the feedback log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    /// Byte offset into `feedback.jsonl` this snapshot includes.
    pub feedback_offset: u64,
    /// Byte offset into `decisions.jsonl` this snapshot includes (open decisions
    /// before it are in `pending`).
    #[serde(default)]
    pub decisions_offset: u64,
    pub thompson: Vec<ArmSnapshot>,
    pub linucb: Vec<(String, LinFeedback)>,
    pub latency: Vec<(String, LatencyObs)>,
    pub feedback_counts: Vec<(String, u64)>,
    pub pending: Vec<DecisionRecord>,
    pub done: Vec<String>,
}

/// Feedback counts of one (model, use case).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmSnapshot {
    pub model: String,
    pub use_case: UseCase,
    pub s: f64,
    pub f: f64,
}

/// What was on disk when the router started.
#[derive(Debug, Default)]
pub struct Recovered {
    pub snapshot: Option<Snapshot>,
    /// Feedback after the snapshot, in log order.
    pub feedback: Vec<FeedbackRecord>,
    /// Decisions logged since the last snapshot.
    pub decisions: Vec<DecisionRecord>,
}

/// The open log files.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    pub(crate) feedback: Mutex<File>,
    pub(crate) decisions: Mutex<File>,
    /// Keeps the folder's advisory lock for the store's lifetime.
    _lock: File,
    /// Log offsets (feedback, decisions) of the snapshot on disk; `None`: none.
    snapshot_offsets: Mutex<Option<(u64, u64)>>,
    /// Serialises snapshot writers (periodic and shutdown).
    pub(crate) snapshot_lock: Mutex<()>,
}

impl Store {
    /// Open (creating) the router folder, recover its contents and repair torn tails.
    pub fn open(dir: &Path) -> Result<(Store, Recovered), StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy { path: dir.display().to_string() });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::io(&lock_path, e)),
        }
        let snapshot = read_snapshot(dir)?;
        let offset = snapshot.as_ref().map_or(0, |s| s.feedback_offset);
        let doffset = snapshot.as_ref().map_or(0, |s| s.decisions_offset);
        let (feedback_file, feedback) = open_log(&dir.join(FEEDBACK_FILE), offset)?;
        let (decisions_file, decisions) = open_log(&dir.join(DECISIONS_FILE), doffset)?;
        let store = Store {
            dir: dir.to_owned(),
            feedback: Mutex::new(feedback_file),
            decisions: Mutex::new(decisions_file),
            _lock: lock,
            snapshot_offsets: Mutex::new(
                snapshot.as_ref().map(|s| (s.feedback_offset, s.decisions_offset)),
            ),
            snapshot_lock: Mutex::new(()),
        };
        Ok((store, Recovered { snapshot, feedback, decisions }))
    }

    /// What is on disk, without creating or repairing anything (for `noa route`).
    pub fn read_only(dir: &Path) -> Result<Recovered, StoreError> {
        let snapshot = read_snapshot(dir)?;
        let offset = snapshot.as_ref().map_or(0, |s| s.feedback_offset);
        let doffset = snapshot.as_ref().map_or(0, |s| s.decisions_offset);
        let feedback = read_log(&dir.join(FEEDBACK_FILE), offset)?;
        let decisions = read_log(&dir.join(DECISIONS_FILE), doffset)?;
        Ok(Recovered { snapshot, feedback, decisions })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Append one decision line (no fsync: surviving a killed process is enough, the
    /// page cache outlives it).
    pub fn log_decision(&self, rec: &DecisionRecord) -> Result<(), StoreError> {
        let path = self.dir.join(DECISIONS_FILE);
        let line = json_line(&path, rec)?;
        let mut f = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(&line).map_err(|e| StoreError::io(&path, e))
    }

    /// Append one feedback line and fsync it. The caller holds the file's lock.
    pub(crate) fn append_feedback(
        &self,
        file: &mut File,
        rec: &FeedbackRecord,
    ) -> Result<(), StoreError> {
        let path = self.dir.join(FEEDBACK_FILE);
        let line = json_line(&path, rec)?;
        file.write_all(&line).map_err(|e| StoreError::io(&path, e))?;
        file.sync_data().map_err(|e| StoreError::io(&path, e))
    }

    /// Write `snapshot` atomically (temp file, fsync, rename, fsync the folder). The
    /// logs stay append-only: the snapshot records how far into each it reaches.
    /// A snapshot that cannot be serialised is an error: an empty file would read back
    /// as corrupt and stop the next start.
    pub(crate) fn write_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let path = self.dir.join(SNAPSHOT_FILE);
        let bytes = serde_json::to_vec(snapshot).map_err(|e| StoreError::serialise(&path, e))?;
        write_atomic(&path, &bytes).map_err(|e| StoreError::io(&e.path, e.source))?;
        *self.snapshot_offsets.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((snapshot.feedback_offset, snapshot.decisions_offset));
        Ok(())
    }

    /// Offsets of the snapshot on disk.
    pub(crate) fn snapshot_offsets(&self) -> Option<(u64, u64)> {
        *self.snapshot_offsets.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn snapshot_version() -> u32 {
        SNAPSHOT_VERSION
    }
}

/// `rec` as one JSON line. A record that cannot be serialised is an error, never an
/// empty line that would be taken for a torn write or corruption on the next start.
fn json_line(path: &Path, rec: &impl Serialize) -> Result<Vec<u8>, StoreError> {
    let mut line = serde_json::to_vec(rec).map_err(|e| StoreError::serialise(path, e))?;
    line.push(b'\n');
    Ok(line)
}

/// Open a JSON-lines log for appending and parse it from `offset`. A last line without
/// its newline is a torn write and is cut off; a bad line before it is corruption.
fn open_log<T: serde::de::DeserializeOwned>(
    path: &Path,
    offset: u64,
) -> Result<(File, Vec<T>), StoreError> {
    let io = |e| StoreError::io(path, e);
    let mut file =
        OpenOptions::new().create(true).read(true).append(true).open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut text = Vec::new();
    let start = offset.min(len);
    file.seek(SeekFrom::Start(start)).map_err(io)?;
    file.read_to_end(&mut text).map_err(io)?;
    let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    if complete < text.len() {
        tracing::warn!(path = %path.display(), bytes = text.len() - complete, "cutting off a torn last line");
        file.set_len(start + complete as u64).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    Ok((file, parse_lines(path, &text[..complete])?))
}

/// Parse a log from `offset` without touching it; a torn last line is ignored.
fn read_log<T: serde::de::DeserializeOwned>(
    path: &Path,
    offset: u64,
) -> Result<Vec<T>, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let text = &bytes[(offset as usize).min(bytes.len())..];
    let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    parse_lines(path, &text[..complete])
}

fn parse_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &[u8],
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let rec = serde_json::from_slice(line).map_err(|e| StoreError::Corrupt {
            path: path.display().to_string(),
            line: i + 1,
            reason: e.to_string(),
        })?;
        out.push(rec);
    }
    Ok(out)
}

/// Offset of the end of the feedback log (for a snapshot taken under its lock).
pub(crate) fn log_len(file: &File) -> u64 {
    file.metadata().map_or(0, |m| m.len())
}

/// The snapshot in `dir`, if one was written; a file that does not parse is an error
/// naming it, never silently ignored.
fn read_snapshot(dir: &Path) -> Result<Option<Snapshot>, StoreError> {
    let snap_path = dir.join(SNAPSHOT_FILE);
    match std::fs::read(&snap_path) {
        Ok(bytes) => {
            serde_json::from_slice::<Snapshot>(&bytes).map(Some).map_err(|e| StoreError::Corrupt {
                path: snap_path.display().to_string(),
                line: e.line(),
                reason: e.to_string(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(&snap_path, e)),
    }
}
