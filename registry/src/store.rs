//! Reading and changing `models.json` safely while `noa bench`, `noa serve` and
//! `noa models` may all run at once. Writers take an exclusive advisory lock on a
//! sidecar file (`models.json.lock`), re-read the registry, apply their change and
//! replace the file atomically (temp file in the same folder, fsync, rename, fsync the
//! folder), so no reader ever sees half a file and no writer loses another's change.
//! A registry that fails to parse is reported with line and column and never
//! overwritten.
//!
//! Schema upgrades: a file of an older schema this noa still reads
//! ([`OLDEST_SCHEMA_VERSION`]) loads as the current one. Reading changes nothing on
//! disk; the first write copies the old file, byte for byte, to
//! `models.json.v<N>.bak` beside it and then writes the current schema. An existing
//! backup is never overwritten: if one with other bytes is there already (the file was
//! downgraded and upgraded again), the copy goes to the first free
//! `models.json.v<N>.bak.<k>` (k = 2, 3, …). A file of a newer schema is an error that
//! names both versions and leaves the file alone.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::atomic;
use crate::error::{Error, Result};
use crate::home::NoaHome;
use crate::schema::{OLDEST_SCHEMA_VERSION, Registry, SCHEMA_VERSION};

/// Handle on one `models.json`.
#[derive(Debug, Clone)]
pub struct RegistryStore {
    path: PathBuf,
    lock_path: PathBuf,
}

impl RegistryStore {
    /// The registry of `home` (the file need not exist yet).
    pub fn open(home: &NoaHome) -> Self {
        Self::at(home.registry_path())
    }

    /// A registry at an explicit path.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut lock = path.clone().into_os_string();
        lock.push(".lock");
        Self { path, lock_path: PathBuf::from(lock) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read the registry. A missing file is an empty registry.
    pub fn load(&self) -> Result<Registry> {
        read_registry(&self.path).map(|(registry, _)| registry)
    }

    /// Lock, read, let `f` change the registry, write it back atomically, unlock.
    /// When `f` fails nothing is written. Returns what `f` returned.
    pub fn update<T, E>(&self, f: impl FnOnce(&mut Registry) -> Result<T, E>) -> Result<T, E>
    where
        E: From<Error>,
    {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| Error::io("open lock file", &self.lock_path, e))?;
        lock.lock().map_err(|e| Error::io("lock", &self.lock_path, e))?;
        let (mut registry, old) = read_registry(&self.path)?;
        let out = f(&mut registry)?;
        registry.models.sort_by(|a, b| a.id.cmp(&b.id));
        registry.schema = SCHEMA_VERSION;
        if let Some(old) = old {
            backup(&self.path, &old)?;
        }
        write_atomic(&self.path, &registry)?;
        // The lock is released when `lock` is closed here.
        drop(lock);
        Ok(out)
    }
}

/// The file's text when it is of an older schema: what the first write backs up.
struct OldFile {
    version: u32,
    text: String,
}

/// The registry at `path` (empty when missing), upgraded in memory to the current
/// schema, and the original text when it was of an older one.
fn read_registry(path: &Path) -> Result<(Registry, Option<OldFile>)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Registry::default(), None));
        }
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let parse_err = |e: serde_json::Error| Error::RegistryParse {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    };
    // Check the version before the typed parse: a newer file has fields this version
    // does not know, and "unknown field" would hide the real problem.
    let value: serde_json::Value = serde_json::from_str(&text).map_err(parse_err)?;
    let version = match value.get("schema") {
        Some(serde_json::Value::Number(n))
            if n.as_u64().is_some_and(|v| {
                (u64::from(OLDEST_SCHEMA_VERSION)..=u64::from(SCHEMA_VERSION)).contains(&v)
            }) =>
        {
            n.as_u64().and_then(|v| u32::try_from(v).ok()).unwrap_or(SCHEMA_VERSION)
        }
        other => {
            return Err(Error::RegistrySchema {
                path: path.to_owned(),
                found: other.map_or_else(|| "(missing)".to_owned(), |v| v.to_string()),
                oldest: OLDEST_SCHEMA_VERSION,
                expected: SCHEMA_VERSION,
            });
        }
    };
    let mut registry: Registry = serde_json::from_str(&text).map_err(parse_err)?;
    check_entries(path, &registry)?;
    registry.schema = SCHEMA_VERSION;
    let old = (version < SCHEMA_VERSION).then_some(OldFile { version, text });
    Ok((registry, old))
}

/// What the types cannot say: a remote model has no file, and its endpoint is a URL.
fn check_entries(path: &Path, registry: &Registry) -> Result<()> {
    for m in &registry.models {
        let Some(remote) = &m.remote else { continue };
        let invalid = |message: String| Error::RegistryInvalid { path: path.to_owned(), message };
        if m.file.is_some() {
            return Err(invalid(format!(
                "model `{}` is remote and also has a `file`; a remote model has none",
                m.id
            )));
        }
        remote.base_url().map_err(|e| invalid(format!("model `{}`: {e}", m.id)))?;
    }
    Ok(())
}

/// Copy an older schema's file to its backup beside `path` before it is rewritten;
/// never overwrites a backup (see the module doc).
fn backup(path: &Path, old: &OldFile) -> Result<()> {
    let base = format!("{}.v{}.bak", path.display(), old.version);
    for k in 1u32.. {
        let candidate =
            if k == 1 { PathBuf::from(&base) } else { PathBuf::from(format!("{base}.{k}")) };
        match std::fs::read(&candidate) {
            Ok(bytes) if bytes == old.text.as_bytes() => return Ok(()),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return atomic::write_atomic(&candidate, old.text.as_bytes())
                    .map_err(|e| Error::io(e.step, e.path, e.source));
            }
            Err(e) => return Err(Error::io("read", &candidate, e)),
        }
    }
    Ok(())
}

/// serde_json appends " at line L column C"; we report those separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Write `registry` to `path` so that readers see either the old or the new file.
fn write_atomic(path: &Path, registry: &Registry) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(registry).map_err(|e| {
        Error::io("serialise registry for", path, std::io::Error::other(e.to_string()))
    })?;
    json.push(b'\n');
    atomic::write_atomic(path, &json).map_err(|e| Error::io(e.step, e.path, e.source))
}

/// fsync a folder so a rename inside it survives a crash (the registry's error).
pub fn sync_dir(dir: &Path) -> Result<()> {
    atomic::sync_dir(dir).map_err(|e| Error::io("fsync folder", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ModelEntry;

    fn entry(id: &str) -> ModelEntry {
        ModelEntry { family: "llama".to_owned(), ..ModelEntry::bare(id) }
    }

    #[test]
    fn missing_file_is_empty_registry_and_update_creates_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = RegistryStore::open(&NoaHome::new(dir.path()));
        assert!(store.load().unwrap().models.is_empty());
        store
            .update(|r| -> Result<()> {
                r.upsert(entry("b"));
                Ok(())
            })
            .unwrap();
        store
            .update(|r| -> Result<()> {
                r.upsert(entry("a"));
                Ok(())
            })
            .unwrap();
        let ids: Vec<_> = store.load().unwrap().models.into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn malformed_registry_reports_line_and_column_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = RegistryStore::open(&NoaHome::new(dir.path()));
        let bad = "{\n  \"schema\": 1,\n  \"models\": [ oops ]\n}\n";
        std::fs::write(store.path(), bad).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("line 3, column 15"), "{err}");
        let err = store
            .update(|r| -> Result<()> {
                r.upsert(entry("x"));
                Ok(())
            })
            .unwrap_err();
        assert!(matches!(err, Error::RegistryParse { line: 3, .. }), "{err}");
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), bad);
    }

    #[test]
    fn unknown_field_is_an_error_with_position() {
        let dir = tempfile::tempdir().unwrap();
        let store = RegistryStore::open(&NoaHome::new(dir.path()));
        std::fs::write(store.path(), "{\"schema\": 1, \"modles\": []}").unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("unknown field `modles`") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn wrong_schema_version_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = RegistryStore::open(&NoaHome::new(dir.path()));
        std::fs::write(store.path(), "{\"schema\": 7, \"future\": true}").unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("schema version 7") && err.contains("reads versions 1 to 2"), "{err}");
        assert!(err.contains("a newer noa wrote it") && err.contains("left untouched"), "{err}");
        let r: Result<()> = store.update(|_| Ok(()));
        assert!(matches!(r, Err(Error::RegistrySchema { .. })));
        assert_eq!(
            std::fs::read_to_string(store.path()).unwrap(),
            "{\"schema\": 7, \"future\": true}"
        );
    }

    #[test]
    fn failed_update_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = RegistryStore::open(&NoaHome::new(dir.path()));
        let r: Result<()> = store.update(|_| Err(Error::UnknownModel("nope".into())));
        assert!(r.is_err());
        assert!(!store.path().exists());
    }

    #[test]
    fn concurrent_updates_from_threads_all_survive() {
        let dir = tempfile::tempdir().unwrap();
        let home = NoaHome::new(dir.path());
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let home = home.clone();
                std::thread::spawn(move || {
                    RegistryStore::open(&home).update(|r| -> Result<()> {
                        r.upsert(entry(&format!("m{i}")));
                        Ok(())
                    })
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        assert_eq!(RegistryStore::open(&home).load().unwrap().models.len(), 8);
    }
}
