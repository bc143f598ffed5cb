//! The phased download plan behind `noa models pull --dry-run`: models grouped by
//! priority (high, medium, low, then unprioritised), each phase with its size, the
//! running total, the estimated time at a given bandwidth, and whether the disk holds
//! it — the same shape as the original plan's phase tables.

use std::fmt::Write as _;

use serde::Serialize;

use crate::schema::Priority;

/// A download rate in bytes per second, parsed from `100Mbit`, `12.5MB/s`, `1Gbit/s`,
/// `500kbit`, or a bare number (megabits per second).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bandwidth(pub f64);

impl std::str::FromStr for Bandwidth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().trim_end_matches("/s").trim_end_matches("ps");
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 =
            num.parse().map_err(|_| format!("bandwidth `{s}` does not start with a number"))?;
        let unit = unit.trim();
        let bytes_per_unit = match unit {
            "" | "M" | "Mbit" | "mbit" | "Mb" => 1e6 / 8.0,
            "k" | "K" | "kbit" | "Kbit" | "kb" => 1e3 / 8.0,
            "G" | "Gbit" | "gbit" | "Gb" => 1e9 / 8.0,
            "bit" => 1.0 / 8.0,
            "B" => 1.0,
            "kB" | "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "MiB" => (1u64 << 20) as f64,
            "GiB" => (1u64 << 30) as f64,
            _ => {
                return Err(format!(
                    "bandwidth `{s}` has an unknown unit `{unit}` (use e.g. 100Mbit, 12MB/s)"
                ));
            }
        };
        let v = n * bytes_per_unit;
        if !(v.is_finite() && v > 0.0) {
            return Err(format!("bandwidth `{s}` must be positive"));
        }
        Ok(Bandwidth(v))
    }
}

/// One model to fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanItem {
    pub id: String,
    pub priority: Option<Priority>,
    /// Bytes to download (expected size minus any `.part` already there).
    pub bytes: u64,
}

/// One priority phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    /// `high`, `medium`, `low` or `other`.
    pub phase: String,
    pub models: Vec<String>,
    pub bytes: u64,
    pub seconds: f64,
    pub cumulative_bytes: u64,
    pub cumulative_seconds: f64,
    /// Whether everything up to and including this phase fits on the disk.
    pub fits: bool,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub phases: Vec<Phase>,
    pub total_bytes: u64,
    pub total_seconds: f64,
    pub available_bytes: u64,
    pub fits: bool,
    pub bandwidth_bytes_per_second: f64,
}

/// Group `items` into priority phases and total them.
pub fn plan(items: &[PlanItem], bandwidth: Bandwidth, available_bytes: u64) -> Plan {
    let order = [Some(Priority::High), Some(Priority::Medium), Some(Priority::Low), None];
    let mut phases = Vec::new();
    let (mut cum_b, mut cum_s) = (0u64, 0.0f64);
    for p in order {
        let members: Vec<_> = items.iter().filter(|i| i.priority == p).collect();
        if members.is_empty() {
            continue;
        }
        let bytes: u64 = members.iter().map(|i| i.bytes).sum();
        let seconds = bytes as f64 / bandwidth.0;
        cum_b += bytes;
        cum_s += seconds;
        phases.push(Phase {
            phase: p
                .map_or("other", |p| match p {
                    Priority::High => "high",
                    Priority::Medium => "medium",
                    Priority::Low => "low",
                })
                .to_owned(),
            models: members.iter().map(|i| i.id.clone()).collect(),
            bytes,
            seconds,
            cumulative_bytes: cum_b,
            cumulative_seconds: cum_s,
            fits: cum_b <= available_bytes,
        });
    }
    Plan {
        phases,
        total_bytes: cum_b,
        total_seconds: cum_s,
        available_bytes,
        fits: cum_b <= available_bytes,
        bandwidth_bytes_per_second: bandwidth.0,
    }
}

/// `1.23 GB`-style size (decimal units, like download sizes are quoted).
pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    match b {
        x if x >= 1e9 => format!("{:.2} GB", x / 1e9),
        x if x >= 1e6 => format!("{:.1} MB", x / 1e6),
        x if x >= 1e3 => format!("{:.1} kB", x / 1e3),
        x => format!("{x} B"),
    }
}

/// `1h 02m`-style duration.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The plan as a text table.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:>6} {:>11} {:>10} {:>11} {:>10}  {:<4} models",
        "phase", "count", "size", "time", "cumulative", "cum. time", "fits"
    );
    for p in &plan.phases {
        let _ = writeln!(
            out,
            "{:<8} {:>6} {:>11} {:>10} {:>11} {:>10}  {:<4} {}",
            p.phase,
            p.models.len(),
            human_bytes(p.bytes),
            human_duration(p.seconds),
            human_bytes(p.cumulative_bytes),
            human_duration(p.cumulative_seconds),
            if p.fits { "yes" } else { "NO" },
            p.models.join(", ")
        );
    }
    let count: usize = plan.phases.iter().map(|p| p.models.len()).sum();
    let _ = writeln!(
        out,
        "{:<8} {:>6} {:>11} {:>10} {:>11} {:>10}  {:<4}",
        "total",
        count,
        human_bytes(plan.total_bytes),
        human_duration(plan.total_seconds),
        "",
        "",
        if plan.fits { "yes" } else { "NO" }
    );
    let _ = writeln!(
        out,
        "disk: {} free, {} needed — {}; bandwidth {:.0} Mbit/s",
        human_bytes(plan.available_bytes),
        human_bytes(plan.total_bytes),
        if plan.fits { "room enough" } else { "NOT enough room" },
        plan.bandwidth_bytes_per_second * 8.0 / 1e6
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bandwidths() {
        let mbit = |s: &str| s.parse::<Bandwidth>().unwrap().0 * 8.0 / 1e6;
        assert_eq!(mbit("100Mbit"), 100.0);
        assert_eq!(mbit("100Mbit/s"), 100.0);
        assert_eq!(mbit("100"), 100.0);
        assert_eq!(mbit("1Gbit"), 1000.0);
        assert_eq!(mbit("12.5MB/s"), 100.0);
        assert!("fast".parse::<Bandwidth>().is_err());
        assert!("10 parsecs".parse::<Bandwidth>().is_err());
        assert!("0Mbit".parse::<Bandwidth>().is_err());
    }

    #[test]
    fn phases_in_priority_order_with_running_totals() {
        let items = vec![
            PlanItem { id: "small".into(), priority: Some(Priority::Low), bytes: 100_000_000 },
            PlanItem { id: "big".into(), priority: Some(Priority::High), bytes: 1_000_000_000 },
            PlanItem { id: "mine".into(), priority: None, bytes: 1 },
        ];
        let p = plan(&items, "100Mbit".parse().unwrap(), 1_050_000_000);
        let names: Vec<_> = p.phases.iter().map(|p| p.phase.as_str()).collect();
        assert_eq!(names, ["high", "low", "other"]);
        assert_eq!(p.phases[0].seconds, 80.0);
        assert!(p.phases[0].fits && !p.phases[1].fits && !p.fits);
        assert_eq!(p.total_bytes, 1_100_000_001);
        let text = render(&p);
        assert!(text.contains("NOT enough room") && text.contains("1m 20s"), "{text}");
    }
}
