//! Results reused across runs. An item already answered by the same model file
//! (sha256), suite version, prompt (sha256), generation settings and engine build
//! would be answered identically (greedy decoding), so a later run copies that record
//! instead of recomputing it, marking where it came from. `--no-cache` turns this off.

use std::collections::HashMap;
use std::path::Path;

use noa_registry::runs::{ITEMS_FILE, ItemRecord};

/// Everything that must match for a stored answer to be reused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub model_sha256: String,
    /// `suite@version`.
    pub suite: String,
    pub item_id: String,
    pub prompt_sha256: String,
    pub settings_hash: String,
    pub engine_build: String,
}

impl CacheKey {
    pub fn of(r: &ItemRecord) -> Self {
        Self {
            model_sha256: r.model_sha256.clone(),
            suite: format!("{}@{}", r.suite, r.suite_version),
            item_id: r.item_id.clone(),
            prompt_sha256: r.prompt_sha256.clone(),
            settings_hash: r.settings_hash.clone(),
            engine_build: r.engine_build.clone(),
        }
    }
}

/// Error-free records of earlier runs, by key.
#[derive(Debug, Default)]
pub struct ResultCache {
    records: HashMap<CacheKey, ItemRecord>,
}

impl ResultCache {
    /// Index every run under `runs_dir` except `exclude` (the current run).
    pub fn build(runs_dir: &Path, exclude: &str) -> Self {
        let mut cache = Self::default();
        let Ok(entries) = std::fs::read_dir(runs_dir) else { return cache };
        let mut dirs: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            if dir.file_name().and_then(|n| n.to_str()) == Some(exclude) {
                continue;
            }
            let Ok(records) = super::files::read_items_file(&dir.join(ITEMS_FILE), false) else {
                continue;
            };
            for r in records.into_iter().filter(|r| r.error.is_none()) {
                cache.records.insert(CacheKey::of(&r), r);
            }
        }
        cache
    }

    pub fn get(&self, key: &CacheKey) -> Option<&ItemRecord> {
        self.records.get(key)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}
