//! One error type for the registry crate. Every variant names the file, URL or model it
//! is about, in backticks, so a message read alone in a terminal says what to look at.

use std::path::PathBuf;

/// Anything that can go wrong while reading or changing the registry, reading a GGUF
/// header, or fetching and verifying a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{path}` is not a valid registry: {message} at line {line}, column {column} (the file was left untouched)"
    )]
    RegistryParse { path: PathBuf, line: usize, column: usize, message: String },
    #[error(
        "`{path}` has registry schema version {found}, but this noa reads versions {oldest} to {expected}{} (the file was left untouched)",
        if found.parse::<u32>().is_ok_and(|f| f > *expected) { "; a newer noa wrote it" } else { "" }
    )]
    RegistrySchema { path: PathBuf, found: String, oldest: u32, expected: u32 },
    #[error("`{path}` is not a valid registry: {message} (the file was left untouched)")]
    RegistryInvalid { path: PathBuf, message: String },
    #[error("`{path}` is not a usable GGUF file: {reason}")]
    Gguf { path: PathBuf, reason: String },
    #[error("download of `{url}` failed: {message}")]
    Http { url: String, message: String },
    #[error("`{url}` answered HTTP {status}{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    HttpStatus { url: String, status: u16, hint: Option<String> },
    #[error("sha256 of {what} is `{actual}`, expected `{expected}`")]
    Digest { what: String, expected: String, actual: String },
    #[error("size of {what} is {actual} bytes, expected {expected}")]
    Size { what: String, expected: u64, actual: u64 },
    #[error(
        "not enough disk space in `{path}`: {needed} bytes needed, {available} bytes available"
    )]
    DiskSpace { path: PathBuf, needed: u64, available: u64 },
    #[error("pip source failed: {0}")]
    Pip(String),
    #[error("model `{0}` is not in the catalog or the registry")]
    UnknownModel(String),
    #[error("model `{id}` has no source that can be fetched here: {reason}")]
    NoSource { id: String, reason: String },
}

impl Error {
    /// Shorthand for an I/O error on a path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }
}

/// Result with the registry [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
