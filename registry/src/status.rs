//! One row per model for `noa models list`: the catalog's models and any the user
//! added, joined with what the registry says is installed and measured here.

use serde::Serialize;

use crate::catalog::{CatalogEntry, catalog};
use crate::home::NoaHome;
use crate::schema::{GgufSummary, Priority, PrivacyTier, Registry, UseCase};

/// What `noa models list` shows for one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStatus {
    pub id: String,
    pub name: String,
    pub family: String,
    pub in_catalog: bool,
    /// One of the packaged defaults.
    pub default: bool,
    pub priority: Option<Priority>,
    pub quantization: Option<String>,
    pub parameters: Option<u64>,
    /// Installed size, else the catalog's size.
    pub size: Option<u64>,
    pub use_cases: Vec<UseCase>,
    /// Declared prior quality (not measured).
    pub declared_quality: Option<f64>,
    pub privacy: PrivacyTier,
    pub vision: bool,
    /// `installed`, `missing` (registered but the file is gone), `not installed`, or
    /// `remote` (served elsewhere; see `remote`).
    pub status: String,
    pub path: Option<String>,
    pub sha256: Option<String>,
    pub verified_at: Option<String>,
    pub gguf: Option<GgufSummary>,
    /// Number of measurements recorded.
    pub measurements: usize,
    /// Suites (`id@version`) measured.
    pub measured_suites: Vec<String>,
    /// False when a Hugging Face source in the catalog is unconfirmed.
    pub sources_confirmed: bool,
    pub source_kinds: Vec<String>,
    /// Where a remote model is served; absent for a local one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteStatus>,
}

/// A remote model's server, as `noa models list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteStatus {
    pub endpoint: String,
    pub model: String,
    pub api_key_env: Option<String>,
    /// When `noa models verify` last succeeded, and the version it learnt.
    pub verified_at: Option<String>,
    pub version: Option<String>,
}

/// Rows for every catalog model (catalog order) then every other registered model (by id).
pub fn statuses(registry: &Registry, home: &NoaHome) -> Vec<ModelStatus> {
    let mut rows: Vec<ModelStatus> =
        catalog().iter().map(|c| row(Some(c), registry, home, &c.id)).collect();
    for m in &registry.models {
        if !catalog().iter().any(|c| c.id == m.id) {
            rows.push(row(None, registry, home, &m.id));
        }
    }
    rows
}

fn row(cat: Option<&CatalogEntry>, registry: &Registry, home: &NoaHome, id: &str) -> ModelStatus {
    let reg = registry.get(id);
    let entry = reg.cloned().or_else(|| cat.map(CatalogEntry::to_entry));
    // Only reached if neither the registry nor the catalog has `id`, which `statuses`
    // never asks for; a bare entry keeps the function total without panicking.
    let entry = entry.unwrap_or_else(|| crate::schema::ModelEntry::bare(id));
    let path = entry.file_path(home);
    let status = match (&entry.file, &path) {
        _ if entry.remote.is_some() => "remote",
        (Some(_), Some(p)) if p.is_file() => "installed",
        (Some(_), _) => "missing",
        _ => "not installed",
    };
    let mut suites: Vec<String> = entry.measured.iter().map(|m| m.key.suite.clone()).collect();
    suites.sort();
    suites.dedup();
    ModelStatus {
        id: id.to_owned(),
        name: cat.map_or_else(|| id.to_owned(), |c| c.name.clone()),
        family: entry.family.clone(),
        in_catalog: cat.is_some(),
        default: cat.is_some_and(|c| c.default),
        priority: entry.declared.priority.or(cat.map(|c| c.priority)),
        quantization: entry.quantization.clone(),
        parameters: entry.parameters,
        size: entry.file.as_ref().map(|f| f.size).or(cat.map(|c| c.size)),
        use_cases: entry.declared.use_cases.clone(),
        declared_quality: entry.declared.quality,
        privacy: entry.declared.privacy,
        vision: entry.declared.vision,
        status: status.to_owned(),
        path: path.filter(|_| entry.file.is_some()).map(|p| p.to_string_lossy().into_owned()),
        sha256: entry.file.as_ref().map(|f| f.sha256.clone()),
        verified_at: entry.file.as_ref().map(|f| f.verified_at.clone()),
        gguf: entry.gguf.clone(),
        measurements: entry.measured.len(),
        measured_suites: suites,
        sources_confirmed: cat.is_none_or(CatalogEntry::confirmed),
        source_kinds: entry
            .sources
            .iter()
            .map(|s| match s {
                crate::schema::Source::Hf { .. } => "hf",
                crate::schema::Source::Pip { .. } => "pip",
                crate::schema::Source::File { .. } => "file",
            })
            .map(str::to_owned)
            .collect(),
        remote: entry.remote.as_ref().map(|r| RemoteStatus {
            endpoint: r.base_url().unwrap_or_else(|_| r.endpoint.clone()),
            model: r.model.clone(),
            api_key_env: r.api_key_env.clone(),
            verified_at: r.verified.as_ref().map(|v| v.verified_at.clone()),
            version: r.verified.as_ref().and_then(|v| v.version.clone()),
        }),
    }
}
