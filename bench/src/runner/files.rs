//! The files of one run: `runs/<run-id>/items.jsonl`, appended and flushed one record
//! at a time so a killed run loses at most the line being written, and
//! `manifest.json`, replaced atomically. Reading a run back tolerates exactly what a
//! `kill -9` can leave behind: a torn last line, which is cut off.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use noa_registry::atomic::write_atomic;
use noa_registry::runs::{ITEMS_FILE, ItemRecord, MANIFEST_FILE, RunManifest};

use super::RunError;

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub dir: PathBuf,
}

impl RunDir {
    pub fn new(runs_dir: &Path, id: &str) -> Self {
        Self { id: id.to_owned(), dir: runs_dir.join(id) }
    }

    pub fn items_path(&self) -> PathBuf {
        self.dir.join(ITEMS_FILE)
    }
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(MANIFEST_FILE)
    }

    pub fn create(&self) -> Result<(), RunError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| RunError::io("create", &self.dir, e))
    }

    pub fn read_manifest(&self) -> Result<RunManifest, RunError> {
        let path = self.manifest_path();
        let text = std::fs::read_to_string(&path).map_err(|e| RunError::io("read", &path, e))?;
        serde_json::from_str(&text).map_err(|e| RunError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Replace `manifest.json` atomically (temp file, fsync, rename, fsync the folder).
    pub fn write_manifest(&self, manifest: &RunManifest) -> Result<(), RunError> {
        let path = self.manifest_path();
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| RunError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        write_atomic(&path, &json).map_err(|e| RunError::io(e.step, &e.path, e.source))
    }

    /// Every complete record of `items.jsonl`. A torn last line (no newline: the
    /// process died mid-write) is cut off the file; an unparsable complete line is
    /// skipped with a warning rather than making the run unresumable.
    pub fn read_items(&self) -> Result<Vec<ItemRecord>, RunError> {
        read_items_file(&self.items_path(), true)
    }

    pub fn items_writer(&self) -> Result<ItemsWriter, RunError> {
        let path = self.items_path();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| RunError::io("open", &path, e))?;
        Ok(ItemsWriter { file, path })
    }
}

/// Read an `items.jsonl`; with `repair`, truncate a torn last line.
pub fn read_items_file(path: &Path, repair: bool) -> Result<Vec<ItemRecord>, RunError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RunError::io("read", path, e)),
    };
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if complete < bytes.len() && repair {
        tracing::warn!("cutting a torn last line off `{}`", path.display());
        let f =
            OpenOptions::new().write(true).open(path).map_err(|e| RunError::io("open", path, e))?;
        f.set_len(complete as u64).map_err(|e| RunError::io("truncate", path, e))?;
        f.sync_all().map_err(|e| RunError::io("sync", path, e))?;
    }
    let mut out = Vec::new();
    for (n, line) in bytes[..complete].split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<ItemRecord>(line) {
            Ok(r) => out.push(r),
            Err(e) => tracing::warn!("skipping line {} of `{}`: {e}", n + 1, path.display()),
        }
    }
    Ok(out)
}

/// Appends records to `items.jsonl`, each written whole and synced before the next.
#[derive(Debug)]
pub struct ItemsWriter {
    file: File,
    path: PathBuf,
}

impl ItemsWriter {
    pub fn append(&mut self, record: &ItemRecord) -> Result<(), RunError> {
        let mut line = serde_json::to_vec(record).map_err(|e| RunError::Corrupt {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(|e| RunError::io("append to", &self.path, e))?;
        self.file.sync_data().map_err(|e| RunError::io("sync", &self.path, e))
    }
}

/// A new run id: UTC time (sortable) and a few random hex digits.
pub fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    let stamp = now.format(&fmt).unwrap_or_else(|_| "run".to_owned());
    let salt = (now.nanosecond() ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{stamp}-{salt:04x}")
}

/// The most recent run folder (by id, which sorts by start time) that has a manifest.
pub fn latest_run(runs_dir: &Path) -> Option<String> {
    let mut ids: Vec<String> = std::fs::read_dir(runs_dir)
        .ok()?
        .flatten()
        .filter(|e| e.path().join(MANIFEST_FILE).is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids.pop()
}

#[cfg(test)]
mod tests {
    use super::*;
    use noa_registry::UseCase;
    use noa_registry::runs::ItemTimings;

    pub(crate) fn record(id: &str) -> ItemRecord {
        ItemRecord {
            run_id: "r".into(),
            model_id: "m".into(),
            model_sha256: "s".into(),
            suite: "x".into(),
            suite_version: "1".into(),
            use_case: UseCase::Qa,
            item_id: id.into(),
            prompt_sha256: "p".into(),
            settings_hash: "h".into(),
            engine_build: "e".into(),
            output: "o".into(),
            score: 1.0,
            detail: None,
            prompt_tokens: 1,
            shared_tokens: 0,
            gen_tokens: 1,
            timings: ItemTimings::default(),
            error: None,
            cached_from: None,
            prompt: None,
        }
    }

    #[test]
    fn torn_last_line_is_cut_and_appending_goes_on() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::new(tmp.path(), "r1");
        run.create().unwrap();
        let mut w = run.items_writer().unwrap();
        w.append(&record("a")).unwrap();
        w.append(&record("b")).unwrap();
        drop(w);
        let mut f = OpenOptions::new().append(true).open(run.items_path()).unwrap();
        f.write_all(b"{\"run_id\":\"r\",\"mod").unwrap();
        drop(f);
        let items = run.read_items().unwrap();
        assert_eq!(items.iter().map(|r| r.item_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let mut w = run.items_writer().unwrap();
        w.append(&record("c")).unwrap();
        assert_eq!(run.read_items().unwrap().len(), 3);
    }

    #[test]
    fn latest_run_sorts_by_id() {
        let tmp = tempfile::tempdir().unwrap();
        for id in ["20260101-000000-aaaa", "20260102-000000-0000", "zz-no-manifest"] {
            std::fs::create_dir_all(tmp.path().join(id)).unwrap();
        }
        for id in ["20260101-000000-aaaa", "20260102-000000-0000"] {
            std::fs::write(tmp.path().join(id).join(MANIFEST_FILE), "{}").unwrap();
        }
        assert_eq!(latest_run(tmp.path()).as_deref(), Some("20260102-000000-0000"));
    }
}
