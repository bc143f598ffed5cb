//! Small helpers on registry values that several crates need: where an installed
//! model's file is, which of its measurements are current, and the current time in the
//! registry's RFC 3339 format.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::home::NoaHome;
use crate::schema::{Measurement, ModelEntry};

impl ModelEntry {
    /// The installed file's absolute path (relative paths are relative to `NOA_HOME`),
    /// or `None` when the model has no installed file.
    pub fn file_path(&self, home: &NoaHome) -> Option<PathBuf> {
        let file = self.file.as_ref()?;
        let p = PathBuf::from(&file.path);
        Some(if p.is_absolute() { p } else { home.root().join(p) })
    }

    /// The most recent of this model's measurements for each suite, among those `keep`
    /// accepts, in suite order. A model re-measured on a newer engine build or another
    /// machine keeps every measurement in `models.json`; the router and the report read
    /// only the latest one of each suite. Of two equally recent ones the one written
    /// later (later in `measured`) wins.
    pub fn latest_per_suite(&self, keep: impl Fn(&Measurement) -> bool) -> Vec<&Measurement> {
        let mut by_suite: BTreeMap<&str, &Measurement> = BTreeMap::new();
        for m in self.measured.iter().filter(|m| keep(m)) {
            let slot = by_suite.entry(m.key.suite.as_str()).or_insert(m);
            if cmp_timestamps(&m.timestamp, &slot.timestamp).is_ge() {
                *slot = m;
            }
        }
        by_suite.into_values().collect()
    }
}

/// Now, as RFC 3339 in UTC with second precision (`2026-11-28T09:00:00Z`).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Order two RFC 3339 timestamps by the instants they name (so `…+02:00` and `…Z`
/// compare right), falling back to their text when either does not parse (folder
/// names standing in for a run's start, empty test values).
pub fn cmp_timestamps(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |t: &str| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    };
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(suite: &str, timestamp: &str, run_id: &str) -> Measurement {
        Measurement {
            key: crate::schema::MeasurementKey {
                model_sha256: "s".into(),
                suite: suite.into(),
                engine_build: "e".into(),
                hardware: "h".into(),
                remote: None,
            },
            use_case: crate::schema::UseCase::Qa,
            quality: None,
            latency: None,
            peak_memory_bytes: None,
            run_id: run_id.into(),
            timestamp: timestamp.into(),
            failure: None,
        }
    }

    #[test]
    fn latest_per_suite_keeps_the_newest_accepted_measurement_of_each_suite() {
        let mut entry = ModelEntry::bare("m");
        entry.measured = vec![
            measurement("b@1", "2026-01-02T00:00:00Z", "old"),
            measurement("a@1", "2026-01-01T00:00:00Z", "a"),
            measurement("b@1", "2026-01-03T00:00:00Z", "new"),
            measurement("b@1", "2026-01-04T00:00:00Z", "rejected"),
            measurement("b@1", "2026-01-03T00:00:00Z", "tie-written-later"),
        ];
        let runs = |ms: Vec<&Measurement>| ms.iter().map(|m| m.run_id.clone()).collect::<Vec<_>>();
        assert_eq!(
            runs(entry.latest_per_suite(|m| m.run_id != "rejected")),
            ["a", "tie-written-later"]
        );
        assert!(entry.latest_per_suite(|_| false).is_empty());
    }

    #[test]
    fn now_is_rfc3339_utc() {
        let s = now_rfc3339();
        assert!(s.ends_with('Z') && s.len() == 20, "{s}");
        assert!(
            time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).is_ok()
        );
    }

    #[test]
    fn timestamps_order_by_the_instant_not_the_text() {
        use std::cmp::Ordering;
        // 09:00 at +02:00 is 07:00Z: earlier, though its text sorts later.
        let (east, utc) = ("2026-01-01T09:00:00+02:00", "2026-01-01T08:00:00Z");
        assert_eq!(cmp_timestamps(east, utc), Ordering::Less);
        assert_eq!(cmp_timestamps("2026-01-01T07:00:00Z", east), Ordering::Equal);
        // Not timestamps (a run folder's name): their text decides, as before.
        assert_eq!(cmp_timestamps("run-b", "run-a"), Ordering::Greater);
    }
}
