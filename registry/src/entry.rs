//! Small helpers on registry values that several crates need: where an installed
//! model's file is, and the current time in the registry's RFC 3339 format.

use std::path::PathBuf;

use crate::home::NoaHome;
use crate::schema::ModelEntry;

impl ModelEntry {
    /// The installed file's absolute path (relative paths are relative to `NOA_HOME`),
    /// or `None` when the model has no installed file.
    pub fn file_path(&self, home: &NoaHome) -> Option<PathBuf> {
        let file = self.file.as_ref()?;
        let p = PathBuf::from(&file.path);
        Some(if p.is_absolute() { p } else { home.root().join(p) })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_rfc3339_utc() {
        let s = now_rfc3339();
        assert!(s.ends_with('Z') && s.len() == 20, "{s}");
        assert!(
            time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).is_ok()
        );
    }
}
