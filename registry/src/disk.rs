//! Free disk space, checked before a download starts so a pull fails at once with a
//! clear message instead of hours later with a half-written file.

use std::path::Path;

use crate::error::{Error, Result};

/// Bytes available to an unprivileged user on the filesystem holding `path` (the
/// nearest existing ancestor is asked when `path` does not exist yet).
pub fn available(path: &Path) -> Result<u64> {
    let mut p = path;
    while !p.exists() {
        match p.parent() {
            Some(parent) => p = parent,
            None => break,
        }
    }
    statvfs_available(p).map_err(|e| Error::io("query free space of", p, e))
}

#[allow(unsafe_code)]
fn statvfs_available(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte")
    })?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a valid NUL-terminated string and `st` points to writable memory
    // of the right type; statvfs only writes into it.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)]
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Fail with [`Error::DiskSpace`] when fewer than `needed` bytes are free at `path`.
pub fn ensure(path: &Path, needed: u64) -> Result<()> {
    let available = available(path)?;
    if available < needed {
        return Err(Error::DiskSpace { path: path.to_owned(), needed, available });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_reported_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let free = available(&dir.path().join("not/yet/there")).unwrap();
        assert!(free > 0);
        ensure(dir.path(), 1).unwrap();
        let err = ensure(dir.path(), u64::MAX).unwrap_err().to_string();
        assert!(err.contains("not enough disk space"), "{err}");
    }
}
