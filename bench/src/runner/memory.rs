//! Peak resident memory per model. Linux keeps the process's high-water mark in
//! `/proc/self/status` (`VmHWM`); writing `5` to `/proc/self/clear_refs` resets it, so
//! resetting before each model's load makes the mark that model's peak (the process
//! itself — runner, scorers' bookkeeping — is included; scorer subprocesses are not).
//! Elsewhere both are no-ops and the peak is unknown.

/// Start a new high-water mark (best effort).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident set size since the last reset, bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 =
        line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_rss_is_read_and_grows_with_allocation() {
        if !std::path::Path::new("/proc/self/status").exists() {
            return;
        }
        super::reset_peak_rss();
        let before = super::peak_rss_bytes().unwrap();
        let big = vec![1u8; 64 << 20];
        std::hint::black_box(&big);
        let after = super::peak_rss_bytes().unwrap();
        assert!(after >= before + (48 << 20), "{before} -> {after}");
    }
}
