//! A model file already on this machine: hashed and checked, then hard-linked into
//! place when it is on the same filesystem, else copied through a `.part` file.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{FetchOptions, Fetched, check};
use noa_registry::{Error, Result};

/// sha256 and size of a file, read in 1 MiB blocks.
pub fn sha256_file(path: &Path, bar: Option<&indicatif::ProgressBar>) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| Error::io("read", path, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
        if let Some(b) = bar {
            b.set_position(n);
        }
    }
    Ok((hex::encode(h.finalize()), n))
}

/// Verify `src` against `expected_sha256` and put a copy (or hard link) at `part`.
pub fn fetch(
    src: &Path,
    expected_sha256: Option<&str>,
    part: &Path,
    label: &str,
    opts: &FetchOptions,
) -> Result<Fetched> {
    let len = std::fs::metadata(src).map_err(|e| Error::io("stat", src, e))?.len();
    let bar = opts.bar(label, Some(len));
    let (sha256, size) = sha256_file(src, Some(&bar))?;
    if let Some(want) = expected_sha256
        && !want.eq_ignore_ascii_case(&sha256)
    {
        return Err(Error::Digest {
            what: format!("`{}`", src.display()),
            expected: want.to_owned(),
            actual: sha256,
        });
    }
    if let Some(dir) = part.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
    }
    let _ = std::fs::remove_file(part);
    if std::fs::hard_link(src, part).is_err() {
        let mut input = std::fs::File::open(src).map_err(|e| Error::io("open", src, e))?;
        let mut out = std::fs::File::create(part).map_err(|e| Error::io("create", part, e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut h = Sha256::new();
        let mut n = 0u64;
        loop {
            let k = input.read(&mut buf).map_err(|e| Error::io("read", src, e))?;
            if k == 0 {
                break;
            }
            out.write_all(&buf[..k]).map_err(|e| Error::io("write", part, e))?;
            h.update(&buf[..k]);
            n += k as u64;
        }
        out.sync_all().map_err(|e| Error::io("fsync", part, e))?;
        // The source may have changed between hashing and copying: check the copy.
        check(
            part,
            &format!("the copy of `{}`", src.display()),
            &hex::encode(h.finalize()),
            n,
            Some(&sha256),
            Some(size),
        )?;
    }
    bar.finish_with_message("verified");
    Ok(Fetched { path: part.to_owned(), sha256, size, digest_checked: expected_sha256.is_some() })
}
