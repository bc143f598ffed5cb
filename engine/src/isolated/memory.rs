//! Measured memory of a worker: its resident set from `/proc/<pid>/status`, which is
//! what the pool's budget and the router's "fits in memory" reasoning count for a
//! model in a worker (an estimate from the file only stands in before it is loaded).

/// `VmRSS` of process `pid`, bytes; `None` where `/proc` does not say (not Linux, or
/// the process is gone).
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_a_resident_set() {
        if cfg!(target_os = "linux") {
            let rss = super::resident_bytes(std::process::id()).expect("VmRSS");
            assert!(rss > 1 << 20, "{rss}");
        }
        assert_eq!(super::resident_bytes(u32::MAX), None);
    }
}
