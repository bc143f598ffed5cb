//! Reading and changing `models.json` safely while `noa bench`, `noa serve` and
//! `noa models` may all run at once. Writers take an exclusive advisory lock on a
//! sidecar file (`models.json.lock`), re-read the registry, apply their change and
//! replace the file atomically (temp file in the same folder, fsync, rename, fsync the
//! folder), so no reader ever sees half a file and no writer loses another's change.
//! A registry that fails to parse is reported with line and column and never
//! overwritten.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::atomic;
use crate::error::{Error, Result};
use crate::home::NoaHome;
use crate::schema::{Registry, SCHEMA_VERSION};

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
        read_registry(&self.path)
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
        let mut registry = read_registry(&self.path)?;
        let out = f(&mut registry)?;
        registry.models.sort_by(|a, b| a.id.cmp(&b.id));
        write_atomic(&self.path, &registry)?;
        // The lock is released when `lock` is closed here.
        drop(lock);
        Ok(out)
    }
}

fn read_registry(path: &Path) -> Result<Registry> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Registry::default()),
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
    match value.get("schema") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
        other => {
            return Err(Error::RegistrySchema {
                path: path.to_owned(),
                found: other.map_or_else(|| "(missing)".to_owned(), |v| v.to_string()),
                expected: SCHEMA_VERSION,
            });
        }
    }
    serde_json::from_str(&text).map_err(parse_err)
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
        assert!(err.contains("schema version 7") && err.contains("reads version 1"), "{err}");
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
