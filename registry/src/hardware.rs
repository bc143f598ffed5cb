//! The hardware fingerprint that keys every measurement: CPU model, core count,
//! memory, GPU (if any), operating system and the engine's build id. Its `id` is a
//! stable hash of those parts, so two runs on the same box and build share an id and
//! registries from several hosts merge without conflict.

use sha2::{Digest, Sha256};

use crate::schema::HardwareFingerprint;

/// Fingerprint this machine for measurements taken with `engine_build`.
pub fn fingerprint(engine_build: &str) -> HardwareFingerprint {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    from_parts(
        cpu_model(&cpuinfo),
        std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        mem_total(&meminfo),
        gpu(),
        os(),
        engine_build,
    )
}

/// Build a fingerprint from its parts and compute the id.
pub fn from_parts(
    cpu: String,
    cores: u32,
    memory_bytes: u64,
    gpu: Option<String>,
    os: String,
    engine_build: &str,
) -> HardwareFingerprint {
    let mut h = Sha256::new();
    // Memory is rounded to GiB so that the kernel reserving a few pages differently
    // after an update does not change the machine's identity.
    let mem_gib = memory_bytes.div_ceil(1 << 30);
    for part in [
        &cpu,
        &cores.to_string(),
        &mem_gib.to_string(),
        gpu.as_deref().unwrap_or("-"),
        &os,
        engine_build,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let id = hex::encode(&h.finalize()[..8]);
    HardwareFingerprint {
        id,
        cpu,
        cores,
        memory_bytes,
        gpu,
        os,
        engine_build: engine_build.to_owned(),
    }
}

/// `model name` of the first processor (x86), else `Hardware`/`CPU part` (ARM).
fn cpu_model(cpuinfo: &str) -> String {
    for key in ["model name", "Hardware", "Model", "CPU part"] {
        if let Some(v) = cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        }) && !v.is_empty()
        {
            return v.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }
    std::env::consts::ARCH.to_owned()
}

/// `MemTotal` in bytes.
fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The first NVIDIA GPU's name from `nvidia-smi`, else a DRM render device's driver
/// from `/sys` (AMD, Intel), else `None`.
fn gpu() -> Option<String> {
    if let Ok(out) = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name,memory.total", "--format=csv,noheader"])
        .stderr(std::process::Stdio::null())
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        if out.status.success()
            && let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty())
        {
            return Some(first.to_owned());
        }
    }
    let dir = std::fs::read_dir("/sys/class/drm").ok()?;
    let mut cards: Vec<_> = dir
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("card") && !n.contains('-'))
        .collect();
    cards.sort();
    cards.into_iter().find_map(|c| {
        let dev = format!("/sys/class/drm/{c}/device");
        let vendor = std::fs::read_to_string(format!("{dev}/vendor")).ok()?;
        let device = std::fs::read_to_string(format!("{dev}/device")).unwrap_or_default();
        let driver = std::fs::read_link(format!("{dev}/driver"))
            .ok()
            .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .unwrap_or_default();
        // Virtual display adapters are not compute devices.
        if matches!(driver.as_str(), "virtio-pci" | "bochs-drm" | "cirrus" | "vmwgfx" | "qxl") {
            return None;
        }
        Some(format!("{driver} {}:{}", vendor.trim(), device.trim()).trim().to_owned())
    })
}

/// `PRETTY_NAME` from os-release plus the kernel release.
fn os() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{pretty} ({} {})", std::env::consts::OS, kernel.trim()).replace(" )", ")")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_stable_and_depends_on_every_part() {
        let base = || from_parts("cpu".into(), 4, 8 << 30, None, "linux".into(), "b1");
        assert_eq!(base().id, base().id);
        assert_eq!(base().id.len(), 16);
        let others = [
            from_parts("cpu2".into(), 4, 8 << 30, None, "linux".into(), "b1"),
            from_parts("cpu".into(), 8, 8 << 30, None, "linux".into(), "b1"),
            from_parts("cpu".into(), 4, 16 << 30, None, "linux".into(), "b1"),
            from_parts("cpu".into(), 4, 8 << 30, Some("gpu".into()), "linux".into(), "b1"),
            from_parts("cpu".into(), 4, 8 << 30, None, "mac".into(), "b1"),
            from_parts("cpu".into(), 4, 8 << 30, None, "linux".into(), "b2"),
        ];
        for o in others {
            assert_ne!(o.id, base().id);
        }
    }

    #[test]
    fn this_machine_has_a_cpu_cores_and_memory() {
        let f = fingerprint("test-build");
        assert!(!f.cpu.is_empty() && f.cores >= 1 && f.memory_bytes > 0, "{f:?}");
        assert_eq!(f, fingerprint("test-build"));
    }

    #[test]
    fn parses_proc_files() {
        assert_eq!(cpu_model("processor\t: 0\nmodel name\t: AMD  EPYC 7B13\n"), "AMD EPYC 7B13");
        assert_eq!(mem_total("MemTotal:       24576000 kB\n"), 24576000 * 1024);
    }
}
