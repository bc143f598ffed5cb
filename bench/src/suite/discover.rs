//! Finding suites: the ones compiled into the binary first, then folders on disk
//! (`--suites-dir`, `NOA_SUITES_DIR`, `NOA_HOME/suites`), a later folder replacing an
//! earlier suite of the same id. A folder is either one suite (it holds a
//! `suite.toml`) or a folder of suite folders.

use std::path::{Path, PathBuf};

use noa_registry::NoaHome;

use super::{Origin, Suite, SuiteError, SuiteManifest, builtin};

/// Environment variable naming extra suite folders (`:`-separated).
pub use noa_registry::env_vars::NOA_SUITES_DIR;

/// The suite folders named by `NOA_SUITES_DIR`, then `NOA_HOME/suites` if it exists.
pub fn suite_dirs_from_env(home: &NoaHome) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os(NOA_SUITES_DIR)
        .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    let own = home.root().join("suites");
    if own.is_dir() {
        dirs.push(own);
    }
    dirs
}

/// All known suites, in a stable order (by id).
#[derive(Debug, Clone, Default)]
pub struct SuiteSet {
    pub suites: Vec<Suite>,
}

impl SuiteSet {
    /// Built-in suites overlaid with those found in `dirs` (in order).
    pub fn discover(dirs: &[PathBuf]) -> Result<Self, SuiteError> {
        let mut set = SuiteSet::default();
        for (dir, name, text) in builtin::files() {
            if *name == "suite.toml" {
                let manifest = SuiteManifest::parse(text, &format!("evalsets/{dir}/suite.toml"))?;
                set.insert(Suite { manifest, origin: Origin::Builtin((*dir).to_owned()) });
            }
        }
        for dir in dirs {
            set.add_dir(dir)?;
        }
        Ok(set)
    }

    fn add_dir(&mut self, dir: &Path) -> Result<(), SuiteError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| SuiteError::Manifest {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        };
        let one = dir.join("suite.toml");
        if one.is_file() {
            let manifest = SuiteManifest::parse(&read(&one)?, &one.display().to_string())?;
            self.insert(Suite { manifest, origin: Origin::Dir(dir.to_owned()) });
            return Ok(());
        }
        let entries = std::fs::read_dir(dir).map_err(|e| SuiteError::Manifest {
            path: dir.display().to_string(),
            reason: format!("cannot read suites folder: {e}"),
        })?;
        let mut subdirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        subdirs.sort();
        for sub in subdirs {
            let path = sub.join("suite.toml");
            if path.is_file() {
                let manifest = SuiteManifest::parse(&read(&path)?, &path.display().to_string())?;
                self.insert(Suite { manifest, origin: Origin::Dir(sub) });
            }
        }
        Ok(())
    }

    fn insert(&mut self, suite: Suite) {
        self.suites.retain(|s| s.id() != suite.id());
        self.suites.push(suite);
        self.suites.sort_by(|a, b| a.id().cmp(b.id()));
    }

    pub fn get(&self, id: &str) -> Option<&Suite> {
        self.suites.iter().find(|s| s.id() == id)
    }

    /// The suites named in `ids` (all when empty), in the order given.
    pub fn select(&self, ids: &[String]) -> Result<Vec<&Suite>, SuiteError> {
        if ids.is_empty() {
            return Ok(self.suites.iter().collect());
        }
        ids.iter()
            .map(|id| self.get(id).ok_or_else(|| SuiteError::UnknownSuite(id.clone())))
            .collect()
    }
}
