//! Registry chores on installed models: re-verify files against their recorded sha256,
//! register a GGUF the user already has (`noa models add`), and remove a model
//! (`noa models rm`), deleting only files noa itself installed under `models/`.

use std::path::{Path, PathBuf};

use noa_registry::gguf;
use noa_registry::store::RegistryStore;
use noa_registry::{
    Declared, Error, InstalledFile, ModelEntry, NoaHome, PrivacyTier, Result, Source, UseCase,
    now_rfc3339,
};

use crate::source::file::sha256_file;

/// The result of re-checking one installed model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyStatus {
    /// Digest, size and header match.
    Ok,
    /// The entry has no installed file.
    NotInstalled,
    /// The recorded file is gone.
    Missing(PathBuf),
    /// The file's digest or size differs from what was recorded.
    Mismatch { path: PathBuf, expected: String, actual: String },
    /// The header no longer parses.
    BadHeader(String),
}

impl VerifyStatus {
    pub fn is_ok(&self) -> bool {
        matches!(self, VerifyStatus::Ok)
    }
}

/// Re-hash an installed model's file and re-read its header. On success the entry's
/// `verified_at` is refreshed in the registry.
pub fn verify(
    home: &NoaHome,
    entry: &ModelEntry,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<VerifyStatus> {
    let (Some(file), Some(path)) = (&entry.file, entry.file_path(home)) else {
        return Ok(VerifyStatus::NotInstalled);
    };
    if !path.is_file() {
        return Ok(VerifyStatus::Missing(path));
    }
    let (sha, size) = sha256_file(&path, bar)?;
    if sha != file.sha256 || size != file.size {
        return Ok(VerifyStatus::Mismatch {
            path,
            expected: format!("{} ({} bytes)", file.sha256, file.size),
            actual: format!("{sha} ({size} bytes)"),
        });
    }
    if let Err(e) = gguf::read_header(&path) {
        return Ok(VerifyStatus::BadHeader(e.to_string()));
    }
    let id = entry.id.clone();
    RegistryStore::open(home).update(|r| -> Result<()> {
        if let Some(f) = r.get_mut(&id).and_then(|m| m.file.as_mut())
            && f.sha256 == sha
        {
            f.verified_at = now_rfc3339();
        }
        Ok(())
    })?;
    Ok(VerifyStatus::Ok)
}

/// Register a GGUF already on this machine, in place (it is not copied). The header
/// must parse; the file is hashed.
pub fn add_local(
    home: &NoaHome,
    path: &Path,
    id: Option<&str>,
    use_cases: Vec<UseCase>,
) -> Result<ModelEntry> {
    let path = std::fs::canonicalize(path).map_err(|e| Error::io("find", path, e))?;
    let header = gguf::read_header(&path)?;
    let id = match id {
        Some(id) => id.to_owned(),
        None => default_id(&path),
    };
    let (sha256, size) = sha256_file(&path, None)?;
    let summary = header.summary();
    let entry = ModelEntry {
        id: id.clone(),
        family: summary.architecture.clone(),
        parameters: summary.parameter_count,
        quantization: summary.file_type.clone(),
        file: Some(InstalledFile {
            path: path.to_string_lossy().into_owned(),
            size,
            sha256: sha256.clone(),
            verified_at: now_rfc3339(),
        }),
        remote: None,
        gguf: Some(summary),
        sources: vec![Source::File {
            path: path.to_string_lossy().into_owned(),
            sha256: Some(sha256),
        }],
        declared: Declared {
            use_cases: if use_cases.is_empty() { vec![UseCase::General] } else { use_cases },
            privacy: PrivacyTier::Local,
            priority: None,
            quality: None,
            vision: false,
        },
        measured: Vec::new(),
    };
    crate::install::register(home, &entry)?;
    Ok(entry)
}

/// A model id from a file name: `Qwen3-4B-Q4_K_M.gguf` → `qwen3-4b-q4_k_m`.
pub fn default_id(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    stem.to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect()
}

/// What `remove` did.
#[derive(Debug, Clone, PartialEq)]
pub struct Removed {
    pub entry: ModelEntry,
    /// The file deleted, when noa had installed it under `models/`.
    pub deleted: Option<PathBuf>,
}

/// Unregister `id` and delete its file when it lies under `NOA_HOME/models/`.
/// Returns `None` when the registry has no such model.
pub fn remove(home: &NoaHome, id: &str) -> Result<Option<Removed>> {
    let removed = RegistryStore::open(home).update(|r| -> Result<Option<ModelEntry>> {
        let pos = r.models.iter().position(|m| m.id == id);
        Ok(pos.map(|i| r.models.remove(i)))
    })?;
    let Some(entry) = removed else { return Ok(None) };
    let mut deleted = None;
    if let Some(path) = entry.file_path(home) {
        let models = std::fs::canonicalize(home.models_dir()).unwrap_or_else(|_| home.models_dir());
        let inside = std::fs::canonicalize(&path).is_ok_and(|p| p.starts_with(&models));
        if inside {
            std::fs::remove_file(&path).map_err(|e| Error::io("delete", &path, e))?;
            deleted = Some(path);
        }
    }
    Ok(Some(Removed { entry, deleted }))
}
