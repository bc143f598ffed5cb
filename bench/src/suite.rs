//! What a suite *is*: the `evalsets/<id>/suite.toml` manifest (identity, use case,
//! task kind, licence, where its data comes from, generation settings and how many
//! items to take by default), and where suites are found. The format is documented
//! in `evalsets/README.md`; any folder in this format runs, the project's own and the
//! user's alike.

mod builtin;
pub mod data;
mod discover;

use std::path::PathBuf;

use noa_registry::UseCase;
use serde::{Deserialize, Serialize};

use crate::kind::GenSettings;

pub use data::{Availability, LoadedSuite};
pub use discover::{NOA_SUITES_DIR, SuiteSet, suite_dirs_from_env};

/// Everything that can go wrong reading a suite.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("suite manifest `{path}` is invalid: {reason}")]
    Manifest { path: String, reason: String },
    #[error("suite `{suite}`: unknown task kind `{kind}` (known: {known})")]
    UnknownKind { suite: String, kind: String, known: String },
    #[error("suite `{suite}`: `{path}` has sha256 {actual}, expected {expected}")]
    Checksum { suite: String, path: String, expected: String, actual: String },
    #[error("suite `{suite}`: cannot read `{path}`: {reason}")]
    Read { suite: String, path: String, reason: String },
    #[error("suite `{suite}`: record {index} of `{path}`: {reason}")]
    BadRecord { suite: String, path: String, index: usize, reason: String },
    #[error("suite `{suite}`: item id `{id}` appears twice")]
    DuplicateId { suite: String, id: String },
    #[error("unknown suite `{0}`")]
    UnknownSuite(String),
}

/// The parsed `suite.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteManifest {
    /// Folder name and id used on the command line (`--suites humaneval`).
    pub id: String,
    /// Bumped whenever items, prompts or scoring change: measurements are keyed by
    /// `id@version`, so old numbers are never mixed with new ones.
    pub version: String,
    pub use_case: UseCase,
    /// Task kind name (`noa_bench::kinds::NAMES`).
    pub kind: String,
    pub licence: String,
    #[serde(default)]
    pub description: String,
    pub source: SourceSpec,
    /// Generation settings; defaults when absent.
    #[serde(default)]
    pub generation: Option<GenSettings>,
    #[serde(default)]
    pub sampling: Sampling,
}

/// Where a suite's records come from. Exactly one of the fields is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// In-project items, relative to the suite folder.
    #[serde(default)]
    pub items: Option<String>,
    /// A file in the local mirror folder (`NOA_EVALSETS_DIR`).
    #[serde(default)]
    pub mirror: Option<PinnedFile>,
    /// Files inside a Python package's wheel.
    #[serde(default)]
    pub pip: Option<PipSource>,
    /// An upstream file fetched by `noa evalsets pull` into `NOA_HOME/evalsets/<id>/`.
    #[serde(default)]
    pub url: Option<UrlSource>,
}

/// A file with its pinned digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedFile {
    pub path: String,
    pub sha256: String,
}

/// Data shipped inside a wheel. The first file holds the records; later files are
/// joined to them by id (BFCL's `possible_answer/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipSource {
    pub package: String,
    pub version: String,
    pub files: Vec<PinnedFile>,
}

/// An upstream file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlSource {
    pub url: String,
    pub sha256: String,
    /// File name under `NOA_HOME/evalsets/<id>/`; defaults to the URL's last segment.
    #[serde(default)]
    pub file: Option<String>,
}

/// How many items a run takes by default, and which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// Items per run unless `--limit` says otherwise; `None` takes all.
    #[serde(default)]
    pub limit: Option<usize>,
    /// `first` (the first N records) or `seeded` (a seeded random sample of N).
    #[serde(default)]
    pub mode: SampleMode,
    #[serde(default)]
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Self { limit: None, mode: SampleMode::First, seed: 0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SampleMode {
    #[default]
    First,
    Seeded,
}

/// Where a manifest was read from, which decides how relative paths resolve.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Compiled into the binary from the repository's `evalsets/<folder>/`.
    Builtin(String),
    /// A folder on disk.
    Dir(PathBuf),
}

/// A suite manifest and where it lives.
#[derive(Debug, Clone)]
pub struct Suite {
    pub manifest: SuiteManifest,
    pub origin: Origin,
}

impl Suite {
    pub fn id(&self) -> &str {
        &self.manifest.id
    }
    /// `id@version`, the suite part of a measurement key.
    pub fn key(&self) -> String {
        format!("{}@{}", self.manifest.id, self.manifest.version)
    }
    /// The generation settings, defaults filled in.
    pub fn settings(&self) -> GenSettings {
        self.manifest.generation.clone().unwrap_or_default()
    }
}

impl SuiteManifest {
    /// Parse and check a `suite.toml`; `path` is only used in messages.
    pub fn parse(text: &str, path: &str) -> Result<Self, SuiteError> {
        let bad = |reason: String| SuiteError::Manifest { path: path.to_owned(), reason };
        let m: SuiteManifest = toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
        if m.id.is_empty() || !m.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(format!("id `{}` must be letters, digits, `-`, `_` or `.`", m.id)));
        }
        if m.version.is_empty() {
            return Err(bad("version must not be empty".into()));
        }
        let s = &m.source;
        let set = [s.items.is_some(), s.mirror.is_some(), s.pip.is_some(), s.url.is_some()];
        if set.iter().filter(|b| **b).count() != 1 {
            return Err(
                bad("[source] needs exactly one of `items`, `mirror`, `pip`, `url`".into()),
            );
        }
        let pins = s.mirror.iter().map(|p| &p.sha256).chain(s.url.iter().map(|u| &u.sha256));
        let pins = pins.chain(s.pip.iter().flat_map(|p| p.files.iter().map(|f| &f.sha256)));
        for sha in pins {
            if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad(format!("sha256 `{sha}` is not 64 hex digits")));
            }
        }
        if let Some(p) = &s.pip
            && p.files.is_empty()
        {
            return Err(bad("[source.pip] needs at least one file".into()));
        }
        if let Some(i) = &s.items
            && (i.starts_with('/') || i.contains(".."))
        {
            return Err(bad(format!("items path `{i}` must stay inside the suite folder")));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
id = "demo"
version = "1"
use_case = "qa"
kind = "exact"
licence = "MIT"
[source]
items = "items.jsonl"
[generation]
max_tokens = 16
[sampling]
limit = 5
mode = "seeded"
seed = 3
"#;

    #[test]
    fn parses_a_complete_manifest() {
        let m = SuiteManifest::parse(OK, "demo/suite.toml").unwrap();
        assert_eq!(m.id, "demo");
        assert_eq!(m.use_case, UseCase::Qa);
        assert_eq!(m.generation.unwrap().max_tokens, 16);
        assert_eq!(m.sampling.limit, Some(5));
        assert_eq!(m.sampling.mode, SampleMode::Seeded);
    }

    #[test]
    fn rejects_two_sources_bad_sha_and_unknown_keys() {
        let two = OK.replace(
            "items = \"items.jsonl\"",
            "items = \"a\"\nmirror = { path = \"x\", sha256 = \"00\" }",
        );
        let e = SuiteManifest::parse(&two, "s").unwrap_err().to_string();
        assert!(e.contains("exactly one"), "{e}");
        let sha =
            OK.replace("items = \"items.jsonl\"", "mirror = { path = \"x\", sha256 = \"00\" }");
        let e = SuiteManifest::parse(&sha, "s").unwrap_err().to_string();
        assert!(e.contains("`00`"), "{e}");
        let e = SuiteManifest::parse(&format!("{OK}\nbogus = 1"), "s").unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
        let esc = OK.replace("items.jsonl", "../../etc/passwd");
        assert!(SuiteManifest::parse(&esc, "s").is_err());
    }
}
