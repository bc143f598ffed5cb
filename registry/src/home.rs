//! Where a user's files live. One struct hands out every path so no crate builds
//! `NOA_HOME` paths by hand.

use std::path::{Path, PathBuf};

use crate::env_vars;

/// The root of a user's noa data and the paths inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoaHome {
    root: PathBuf,
}

impl NoaHome {
    /// Use `root` as `NOA_HOME`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `NOA_HOME`, else `$XDG_DATA_HOME/noa`, else `~/.local/share/noa`.
    pub fn from_env() -> Self {
        if let Some(p) = std::env::var_os(env_vars::NOA_HOME).filter(|p| !p.is_empty()) {
            return Self::new(p);
        }
        if let Some(p) = std::env::var_os(env_vars::XDG_DATA_HOME).filter(|p| !p.is_empty()) {
            return Self::new(PathBuf::from(p).join("noa"));
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        Self::new(home.join(".local/share/noa"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The registry file.
    pub fn registry_path(&self) -> PathBuf {
        self.root.join("models.json")
    }
    /// Installed GGUF files.
    pub fn models_dir(&self) -> PathBuf {
        self.root.join("models")
    }
    /// One folder per bench run: `runs/<run-id>/{manifest.json,items.jsonl}`.
    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }
    /// Router feedback log, snapshot and replay results.
    pub fn router_dir(&self) -> PathBuf {
        self.root.join("router")
    }
    /// HTML report and CSV exports.
    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }
    /// External evaluation data fetched by `noa evalsets pull`.
    pub fn evalsets_dir(&self) -> PathBuf {
        self.root.join("evalsets")
    }
    /// Downloads in progress (`*.part`) and other scratch space on the same filesystem.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
}
