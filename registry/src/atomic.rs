//! Replacing a file so that a reader, or the next start after a crash, sees either the
//! old contents or the new ones, never half of either. `models.json`, run manifests,
//! the router's snapshot, `replay.json` and the HTML report are all written this way;
//! one helper keeps the steps (temporary file in the same folder, fsync, rename, fsync
//! the folder) the same everywhere, instead of each copy forgetting a different one.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Which step of an atomic write failed, and on which path, so that each caller can
/// fold it into its own error type with the context it already reports.
#[derive(Debug, thiserror::Error)]
#[error("cannot {step} `{path}`: {source}")]
pub struct WriteError {
    /// What was being done, worded to read before the path ("create a temporary file in").
    pub step: &'static str,
    /// The target, or the folder for the steps that act on the folder.
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl WriteError {
    fn new(step: &'static str, path: &Path, source: io::Error) -> Self {
        Self { step, path: path.to_owned(), source }
    }
}

/// Replace `path` with `bytes` atomically: write a temporary file beside it (same
/// folder, so the rename cannot cross file systems), fsync it, rename it over `path`,
/// then fsync the folder so the rename itself survives a power cut. On failure the
/// temporary file is removed and `path` is left as it was. The folder must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let dir = parent_dir(path);
    let mut tmp = temp_file_beside(path, dir)?;
    tmp.write_all(bytes).map_err(|e| WriteError::new("write", path, e))?;
    tmp.as_file().sync_all().map_err(|e| WriteError::new("fsync", path, e))?;
    // `persist` renames; a `tmp` dropped on an earlier error deletes itself.
    tmp.persist(path).map_err(|e| WriteError::new("replace", path, e.error))?;
    sync_dir(dir).map_err(|e| WriteError::new("fsync folder", dir, e))
}

/// fsync a folder so that a rename or a file created inside it survives a crash.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Elsewhere a folder cannot be opened and fsynced portably (Windows refuses to open
/// one as a file); NTFS journals the rename's metadata itself, so there is nothing to do.
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// The folder `path` lives in; `.` for a bare file name.
fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// A hidden temporary file in `dir` named after `path`, so a leftover from a killed
/// process says what it was. Created with the permissions `File::create` would give
/// (tempfile's default is owner-only), so a replaced file stays as readable as before.
fn temp_file_beside(path: &Path, dir: &Path) -> Result<tempfile::NamedTempFile, WriteError> {
    let name = path.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir).map_err(|e| WriteError::new("create a temporary file in", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn content_is_replaced_and_no_temporary_file_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        assert_eq!(names(dir.path()), ["state.json"]);
    }

    #[test]
    fn missing_folder_is_an_error_naming_it_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent");
        let err = write_atomic(&missing.join("state.json"), b"x").unwrap_err();
        assert_eq!(err.path, missing);
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
        let msg = err.to_string();
        assert!(msg.contains("temporary file") && msg.contains("absent"), "{msg}");
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn failed_replace_leaves_the_target_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should go: the rename fails after the write.
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "x").unwrap();
        let err = write_atomic(&target, b"new").unwrap_err();
        assert_eq!((err.step, err.path.as_path()), ("replace", target.as_path()));
        assert_eq!(names(dir.path()), ["taken"]);
        assert_eq!(names(&target), ["keep"]);
    }

    #[cfg(unix)]
    #[test]
    fn replaced_file_is_readable_like_one_from_file_create() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        File::create(&plain).unwrap();
        let atomic = dir.path().join("atomic");
        write_atomic(&atomic, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&plain));
    }

    #[test]
    fn bare_file_name_lives_in_the_current_folder() {
        assert_eq!(parent_dir(Path::new("report.html")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/report.html")), Path::new("a"));
    }
}
