//! Scoring of agent tasks: the state the agent left in the simulator, and its final
//! answer, against the task's [`Expected`] (see [`agent`](super::agent) for the
//! checks and how partial credit is counted).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::LazyLock;

use super::agent_sim::{Event, World, norm_path};
use super::exact::normalise;
use super::gsm8k::{numbers_equal, parse_number};

/// What the world and the answer should look like at the end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub absent_files: Vec<String>,
    #[serde(default)]
    pub events: Vec<Event>,
    /// The calendar must hold exactly `events`, nothing more.
    #[serde(default)]
    pub events_exact: bool,
    #[serde(default)]
    pub kv: BTreeMap<String, String>,
    #[serde(default)]
    pub answer: Option<String>,
}

fn same_text(a: &str, b: &str) -> bool {
    normalise(a) == normalise(b)
}

static NUMS: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"-?\d[\d,]*(?:\.\d+)?").expect("number regex"));

fn answer_matches(answer: &str, want: &str) -> bool {
    if let Some(w) = parse_number(want.trim()) {
        return NUMS
            .find_iter(answer)
            .any(|m| parse_number(m.as_str()).is_some_and(|v| numbers_equal(v, w)));
    }
    let (a, w) = (normalise(answer), normalise(want));
    !w.is_empty() && format!(" {a} ").contains(&format!(" {w} "))
}

/// `(score, failed checks)` of the final `world` against `expected`.
pub(crate) fn score_state(
    initial: &World,
    world: &World,
    expected: &Expected,
    answer: Option<&str>,
) -> (f64, Vec<String>) {
    let mut checks: Vec<(bool, String)> = Vec::new();
    let files: BTreeMap<String, &String> =
        world.files.iter().map(|(k, v)| (norm_path(k), v)).collect();
    for (path, want) in &expected.files {
        let ok = files.get(&norm_path(path)).is_some_and(|got| same_text(got, want));
        checks.push((ok, format!("file `{path}` should hold `{want}`")));
    }
    for path in &expected.absent_files {
        checks
            .push((!files.contains_key(&norm_path(path)), format!("file `{path}` should be gone")));
    }
    let same_event = |a: &Event, b: &Event| {
        a.date == b.date && a.time == b.time && same_text(&a.title, &b.title)
    };
    for want in &expected.events {
        let ok = world.events.iter().any(|e| same_event(e, want));
        checks
            .push((ok, format!("event {} {} `{}` should exist", want.date, want.time, want.title)));
    }
    if expected.events_exact {
        let ok = world.events.len() == expected.events.len();
        checks
            .push((ok, format!("calendar should hold exactly {} event(s)", expected.events.len())));
    }
    for (key, want) in &expected.kv {
        let ok =
            world.kv.get(key).is_some_and(|got| match (parse_number(got), parse_number(want)) {
                (Some(g), Some(w)) => numbers_equal(g, w),
                _ => same_text(got, want),
            });
        checks.push((ok, format!("key `{key}` should hold `{want}`")));
    }
    if let Some(want) = &expected.answer {
        let ok = answer.is_some_and(|a| answer_matches(a, want));
        checks.push((ok, format!("final answer should be `{want}`")));
    }
    let touched = |p: &String| expected.files.contains_key(p) || expected.absent_files.contains(p);
    let others_files = initial.files.iter().filter(|(p, _)| !touched(p));
    let others_kv = initial.kv.iter().filter(|(k, _)| !expected.kv.contains_key(*k));
    let mut any_other = false;
    let mut others_ok = true;
    for (p, content) in others_files {
        any_other = true;
        others_ok &= files.get(&norm_path(p)).is_some_and(|c| *c == content);
    }
    for (k, v) in others_kv {
        any_other = true;
        others_ok &= world.kv.get(k) == Some(v);
    }
    if any_other {
        checks.push((others_ok, "other files and keys should be unchanged".to_string()));
    }
    let total = checks.len();
    let passed = checks.iter().filter(|(ok, _)| *ok).count();
    let failed = checks.into_iter().filter(|(ok, _)| !ok).map(|(_, why)| why).collect();
    (if total == 0 { 0.0 } else { passed as f64 / total as f64 }, failed)
}
