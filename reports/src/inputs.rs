//! Reads everything a report draws on from `NOA_HOME`: the registry, the bench runs
//! (manifest + per-item records), the replay results and the router's feedback log.
//! Only the registry is strict (a broken `models.json` stops the report with its line
//! and column); damaged run files are read as far as possible and every problem
//! becomes a warning printed in the report, so a half-written run still shows.

use std::fs;
use std::path::{Path, PathBuf};

use noa_registry::runs::{
    ITEMS_FILE, ItemRecord, MANIFEST_FILE, REPLAY_FILE, ReplayReport, RunManifest,
};
use noa_registry::{NoaHome, Registry, cmp_timestamps};

use crate::error::{ReportError, Result};
use crate::feedback::{self, FeedbackTotals};
use crate::options::RunSelection;

/// One bench run as found on disk.
#[derive(Debug, Clone)]
pub struct RunData {
    pub id: String,
    pub manifest: Option<RunManifest>,
    pub items: Vec<ItemRecord>,
}

impl RunData {
    /// Sort key: the manifest's start time, else the folder name.
    fn started(&self) -> &str {
        self.manifest.as_ref().map_or(self.id.as_str(), |m| m.started_at.as_str())
    }
}

/// Everything loaded for one report.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub registry: Registry,
    pub registry_found: bool,
    /// Runs selected for this report, oldest first.
    pub runs: Vec<RunData>,
    /// Ids of every run on disk, oldest first.
    pub all_runs: Vec<String>,
    pub selection: RunSelection,
    pub replay: Option<ReplayReport>,
    pub feedback: Option<FeedbackTotals>,
    pub warnings: Vec<String>,
}

/// Load the inputs of a report.
pub fn load(home: &NoaHome, selection: &RunSelection) -> Result<Inputs> {
    let mut inputs = Inputs { selection: selection.clone(), ..Inputs::default() };
    let reg_path = home.registry_path();
    if let Some(text) = read_optional(&reg_path)? {
        inputs.registry = serde_json::from_str(&text).map_err(|e| ReportError::Registry {
            path: reg_path.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        inputs.registry_found = true;
    }

    let mut runs = read_runs(&home.runs_dir(), &mut inputs.warnings)?;
    runs.sort_by(|a, b| cmp_timestamps(a.started(), b.started()).then(a.id.cmp(&b.id)));
    inputs.all_runs = runs.iter().map(|r| r.id.clone()).collect();
    inputs.runs = match selection {
        RunSelection::All => runs,
        RunSelection::Latest => runs.pop().into_iter().collect(),
        RunSelection::Run(id) => match runs.into_iter().find(|r| &r.id == id) {
            Some(r) => vec![r],
            None => {
                let available = if inputs.all_runs.is_empty() {
                    "none".to_owned()
                } else {
                    inputs.all_runs.join(", ")
                };
                return Err(ReportError::RunNotFound {
                    id: id.clone(),
                    runs_dir: home.runs_dir(),
                    available,
                });
            }
        },
    };

    let replay_path = home.router_dir().join(REPLAY_FILE);
    if let Some(text) = read_optional(&replay_path)? {
        match serde_json::from_str::<ReplayReport>(&text) {
            Ok(r) => inputs.replay = Some(r),
            Err(e) => inputs.warnings.push(format!(
                "`{}` could not be read and is left out: {e}",
                replay_path.display()
            )),
        }
    }
    let fb_path = home.router_dir().join(feedback::FEEDBACK_FILE);
    if let Some(text) = read_optional(&fb_path)? {
        let decisions = read_optional(&home.router_dir().join(feedback::DECISIONS_FILE))?;
        inputs.feedback = Some(feedback::totals(&text, decisions.as_deref()));
    }
    Ok(inputs)
}

/// The contents of `path`, or `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReportError::io(path, e)),
    }
}

fn read_runs(dir: &Path, warnings: &mut Vec<String>) -> Result<Vec<RunData>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ReportError::io(dir, e)),
    };
    let mut paths: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    paths.sort();
    let mut runs = Vec::new();
    for path in paths {
        let id = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let manifest_path = path.join(MANIFEST_FILE);
        let manifest = match read_optional(&manifest_path)? {
            None => None,
            Some(text) => match serde_json::from_str::<RunManifest>(&text) {
                Ok(m) => Some(m),
                Err(e) => {
                    warnings.push(format!("`{}` could not be read: {e}", manifest_path.display()));
                    None
                }
            },
        };
        let items_path = path.join(ITEMS_FILE);
        let items = match read_optional(&items_path)? {
            None => Vec::new(),
            Some(text) => parse_items(&text, &items_path, warnings),
        };
        if manifest.is_none() && items.is_empty() {
            warnings.push(format!("`{}` holds no manifest and no items; skipped", path.display()));
            continue;
        }
        if manifest.is_none() {
            warnings.push(format!(
                "run `{id}` has no readable `{MANIFEST_FILE}`: its numbers cannot be traced to models and suites"
            ));
        }
        runs.push(RunData { id, manifest, items });
    }
    Ok(runs)
}

/// Parse `items.jsonl`, keeping every line that parses. A run killed mid-write leaves
/// a truncated last line; that and any other bad line is counted in one warning.
fn parse_items(text: &str, path: &Path, warnings: &mut Vec<String>) -> Vec<ItemRecord> {
    let mut items = Vec::new();
    let mut bad = 0usize;
    let mut first_bad: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ItemRecord>(line) {
            Ok(item) => items.push(item),
            Err(e) => {
                bad += 1;
                first_bad.get_or_insert_with(|| format!("line {}: {e}", i + 1));
            }
        }
    }
    if let Some(first) = first_bad {
        warnings.push(format!(
            "`{}`: {bad} line(s) could not be read and are left out (first at {first})",
            path.display()
        ));
    }
    items
}
