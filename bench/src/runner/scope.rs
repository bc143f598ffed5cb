//! Which items each model is to answer, round by round. Every suite's items are a
//! pool in the suite's sample order; a model answers a prefix of it. The first round
//! is the suite's fixed sample for every model. After a round, a use case whose
//! decision is still open gets a longer prefix — for the models still in an open
//! comparison only, and the same prefix for all of them, so their answers stay
//! paired. Use cases that are settled or tied get nothing more: the run's time goes
//! where the answer is still in doubt.

use std::collections::HashSet;

use noa_registry::runs::{RunManifest, RunModelStatus};
use noa_registry::{Decision, DecisionStatus, ModelEntry, PairStatus};

use crate::suite::LoadedSuite;

/// What a round's end looks at.
pub(super) struct RoundCtx<'a> {
    pub suites: &'a [LoadedSuite],
    pub models: &'a [ModelEntry],
    pub manifest: &'a RunManifest,
    pub done: &'a HashSet<(String, String, String)>,
    /// `cost[model][suite]`: wall seconds spent and items run so far.
    pub cost: &'a [Vec<(f64, usize)>],
    /// Of the time budget.
    pub time_left: Option<std::time::Duration>,
}

/// What a round's end did.
#[derive(Debug, Default)]
pub(super) struct Growth {
    /// Use cases given more items.
    pub grown: Vec<String>,
    /// Open use cases whose estimated further items would not fit in the time left,
    /// left as they are (all but the closest when none would fit).
    pub out_of_reach: Vec<String>,
}

/// Items in scope per (model, suite).
#[derive(Debug, Clone)]
pub(super) struct Scope {
    /// The first round's items per suite.
    first: Vec<usize>,
    /// `len[model][suite]`: the prefix of the suite's pool the model is to answer.
    len: Vec<Vec<usize>>,
}

impl Scope {
    pub fn new(first_round: &[usize], models: usize) -> Self {
        Self { first: first_round.to_vec(), len: vec![first_round.to_vec(); models] }
    }

    /// Items of suite `si` (a prefix of its pool) model `mi` is to answer.
    pub fn len(&self, mi: usize, si: usize) -> usize {
        self.len[mi][si]
    }

    /// Give open use cases more items, for the models in their open comparisons,
    /// closest to a decision first. A use case whose models have not yet answered all
    /// the items they have is left as it is (its round is not over), and one whose
    /// estimated further items would not fit in the time left at the pace measured so
    /// far is left open: its time goes to those that can still be decided — unless
    /// none can, when the closest gets it.
    pub fn grow(&mut self, rc: &RoundCtx<'_>, decisions: &[Decision]) -> Growth {
        let mut growth = Growth::default();
        let mut candidates: Vec<(f64, &Decision, Vec<usize>, Vec<usize>)> = Vec::new();
        for d in decisions.iter().filter(|d| d.status == DecisionStatus::Open) {
            // A composite use case (`general`) grows through its components.
            if d.use_case.components() != [d.use_case] {
                continue;
            }
            let involved = involved_models(d, rc.models, rc.manifest);
            let in_uc: Vec<usize> = (0..rc.suites.len())
                .filter(|&s| rc.suites[s].suite.manifest.use_case == d.use_case)
                .collect();
            if involved.len() < 2 || self.pending(rc, &involved, &in_uc) {
                continue;
            }
            let seconds = self.estimate_seconds(rc, &involved, &in_uc, d.further_items);
            candidates.push((seconds, d, involved, in_uc));
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Closest first, as many as the time left holds together.
        let mut planned = 0.0;
        let keep = candidates
            .iter()
            .take_while(|c| {
                planned += c.0;
                rc.time_left.is_none_or(|left| planned <= left.as_secs_f64())
            })
            .count();
        // When not even the closest fits, it gets as many further items as the time
        // left holds for every model involved — more items narrow its interval and its
        // estimate — and none when not one does: items that some of its models would
        // answer and the others not before the budget ends are not paired, so they
        // would be spent for nothing.
        let partial = match (keep, candidates.first(), rc.time_left) {
            (0, Some((_, _, involved, in_uc)), Some(left)) => {
                let per_item = self.estimate_seconds(rc, involved, in_uc, Some(1));
                let fit = if per_item > 0.0 { left.as_secs_f64() / per_item } else { 1.0 };
                Some(fit.floor() as u64)
            }
            _ => None,
        };
        let keep = if partial.is_some_and(|fit| fit > 0) { 1 } else { keep };
        for c in candidates.iter().skip(keep) {
            growth.out_of_reach.push(c.1.use_case.as_str().to_owned());
        }
        for (_, d, involved, in_uc) in candidates.into_iter().take(keep) {
            let grew = match partial {
                Some(fit) => self.extend(&in_uc, &involved, rc.suites, Some(fit), false),
                None => self.extend(&in_uc, &involved, rc.suites, d.further_items, true),
            };
            if grew {
                growth.grown.push(d.use_case.as_str().to_owned());
            }
        }
        growth
    }

    /// Whether some involved model still has items in scope it has not answered.
    fn pending(&self, rc: &RoundCtx<'_>, involved: &[usize], in_uc: &[usize]) -> bool {
        involved.iter().any(|&m| {
            in_uc.iter().any(|&s| {
                let suite = &rc.suites[s];
                (0..self.len[m][s]).any(|i| {
                    !rc.done.contains(&(
                        rc.models[m].id.clone(),
                        suite.suite.id().to_owned(),
                        suite.items[i].id.clone(),
                    ))
                })
            })
        })
    }

    /// Seconds the estimated further items would take the involved models, at the
    /// pace each (model, suite) ran at so far (0 where nothing ran yet).
    fn estimate_seconds(
        &self,
        rc: &RoundCtx<'_>,
        involved: &[usize],
        in_uc: &[usize],
        further: Option<u64>,
    ) -> f64 {
        let first_total: usize = in_uc.iter().map(|&s| self.first[s]).sum::<usize>().max(1);
        let further = further.unwrap_or(first_total as u64) as f64;
        let mut seconds = 0.0;
        for &s in in_uc {
            let items = further * self.first[s] as f64 / first_total as f64;
            for &m in involved {
                let (secs, ran) = rc.cost[m][s];
                if ran > 0 {
                    seconds += items * secs / ran as f64;
                }
            }
        }
        seconds
    }

    /// Lengthen suites `in_uc` for `involved` models by about `further` items in all,
    /// split in proportion to the suites' first rounds; each suite by at most four
    /// times what it has, so an estimate made from a handful of items cannot spend the
    /// budget in one round, and — with `at_least_half` — by at least half its first
    /// round. (Growing by the whole estimate rather than a fraction of it costs nothing
    /// in coverage: the intervals are valid however many items a round adds, and every
    /// round reloads the models.) Whether anything grew (a suite's pool can run out).
    fn extend(
        &mut self,
        in_uc: &[usize],
        involved: &[usize],
        suites: &[LoadedSuite],
        further: Option<u64>,
        at_least_half: bool,
    ) -> bool {
        let first_total: usize = in_uc.iter().map(|&s| self.first[s]).sum::<usize>().max(1);
        let further = further.map_or(first_total, |f| usize::try_from(f).unwrap_or(usize::MAX));
        let mut grew = false;
        for &s in in_uc {
            let current = involved.iter().map(|&m| self.len[m][s]).max().unwrap_or(0);
            let wanted = further.saturating_mul(self.first[s]).div_ceil(first_total);
            let least = if at_least_half { (self.first[s] / 2).max(1) } else { 0 };
            let step = wanted.min(4 * current.max(1)).max(least);
            let target = (current + step).min(suites[s].items.len());
            for &m in involved {
                if self.len[m][s] < target {
                    self.len[m][s] = target;
                    grew = true;
                }
            }
        }
        grew
    }
}

/// Indices (into `models`) of the leader and every rival still in an open comparison
/// with it, leaving out models that failed.
fn involved_models(d: &Decision, models: &[ModelEntry], manifest: &RunManifest) -> Vec<usize> {
    let failed =
        |id: &str| manifest.models.iter().any(|m| m.id == id && m.status == RunModelStatus::Failed);
    let open = d.pairs.iter().filter(|p| p.status == PairStatus::Open).map(|p| p.rival.as_str());
    std::iter::once(d.leader.as_str())
        .chain(open)
        .filter(|id| !failed(id))
        .filter_map(|id| models.iter().position(|m| m.id == id))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use noa_registry::{PairedDifference, PairedModel, UseCase};

    use super::*;
    use crate::kind::Item;
    use crate::suite::{Origin, Suite, SuiteManifest};

    fn suite(id: &str, use_case: &str, n: usize) -> LoadedSuite {
        let toml = format!(
            "id = \"{id}\"\nversion = \"1\"\nuse_case = \"{use_case}\"\nkind = \"exact\"\n\
             licence = \"MIT\"\n[source]\nitems = \"items.jsonl\"\n"
        );
        let manifest = SuiteManifest::parse(&toml, "t").expect("manifest");
        let items = (0..n).map(|i| Item { id: i.to_string(), data: serde_json::json!({}) });
        LoadedSuite {
            suite: Suite { manifest, origin: Origin::Dir("t".into()) },
            kind: crate::kinds::by_name("exact").expect("kind"),
            items: items.collect(),
            total: n,
        }
    }

    fn model(id: &str) -> ModelEntry {
        serde_json::from_value(serde_json::json!({
            "id": id, "family": "f",
            "declared": {"use_cases": [], "privacy": "local"}
        }))
        .expect("entry")
    }

    fn manifest(ids: &[&str]) -> RunManifest {
        let models: Vec<_> = ids
            .iter()
            .map(|id| serde_json::json!({"id": id, "sha256": "", "status": "ok"}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "run_id": "r", "started_at": "", "engine_build": "",
            "hardware": {"id": "h", "cpu": "", "cores": 2, "memory_bytes": 0, "os": "",
                         "engine_build": ""},
            "models": models, "suites": [], "settings": {}
        }))
        .expect("manifest")
    }

    fn pair(rival: &str, status: PairStatus) -> PairedDifference {
        PairedDifference {
            rival: rival.into(),
            n: 4,
            mean: 0.1,
            ci_low: -0.5,
            ci_high: 0.6,
            status,
        }
    }

    fn decision(
        use_case: UseCase,
        status: DecisionStatus,
        pairs: Vec<PairedDifference>,
    ) -> Decision {
        Decision {
            use_case,
            hardware: "h".into(),
            engine_build: String::new(),
            run_id: "r".into(),
            timestamp: String::new(),
            status,
            leader: "a".into(),
            tie_margin: 0.05,
            confidence: 0.95,
            items: 4,
            models: vec![PairedModel { id: "a".into(), mean: 0.5 }],
            pairs,
            further_items: Some(8),
        }
    }

    fn done_for(
        models: &[&str],
        suites: &[LoadedSuite],
        scope: &Scope,
    ) -> HashSet<(String, String, String)> {
        let mut done = HashSet::new();
        for (m, id) in models.iter().enumerate() {
            for (s, suite) in suites.iter().enumerate() {
                for i in 0..scope.len(m, s) {
                    done.insert((id.to_string(), suite.suite.id().to_owned(), i.to_string()));
                }
            }
        }
        done
    }

    #[test]
    fn only_open_comparisons_get_more_of_the_same_items() {
        let ids = ["a", "b", "c"];
        let suites = vec![suite("arc", "qa", 100), suite("gsm", "reasoning", 100)];
        let models: Vec<ModelEntry> = ids.iter().map(|id| model(id)).collect();
        let manifest = manifest(&ids);
        let mut scope = Scope::new(&[4, 4], 3);
        let cost = vec![vec![(4.0, 4); 2]; 3];
        let decisions = vec![
            // qa: a vs b still open, a ahead of c; reasoning settled.
            decision(
                UseCase::Qa,
                DecisionStatus::Open,
                vec![pair("b", PairStatus::Open), pair("c", PairStatus::Ahead)],
            ),
            decision(
                UseCase::Reasoning,
                DecisionStatus::Settled,
                vec![pair("b", PairStatus::Ahead)],
            ),
        ];
        // A round that is not over grows nothing.
        let none = HashSet::new();
        let rc = RoundCtx {
            suites: &suites,
            models: &models,
            manifest: &manifest,
            done: &none,
            cost: &cost,
            time_left: None,
        };
        assert!(scope.grow(&rc, &decisions).grown.is_empty());

        let done = done_for(&ids, &suites, &scope);
        let rc = RoundCtx { done: &done, ..rc };
        let growth = scope.grow(&rc, &decisions);
        assert_eq!(growth.grown, vec!["qa"]);
        // 8 further items, one suite: the same prefix for a and b, c left as it was.
        assert_eq!((scope.len(0, 0), scope.len(1, 0), scope.len(2, 0)), (12, 12, 4));
        assert_eq!((scope.len(0, 1), scope.len(1, 1)), (4, 4));

        // At a second per item per model, 8 more paired items take 16 s: not in 10 s.
        // Reasoning, now open too and 3 s from a decision, gets the time; qa does not.
        let mut reasoning =
            decision(UseCase::Reasoning, DecisionStatus::Open, vec![pair("b", PairStatus::Open)]);
        reasoning.further_items = Some(1);
        let decisions = vec![decisions[0].clone(), reasoning.clone()];
        let done = done_for(&ids, &suites, &scope);
        let rc = RoundCtx { done: &done, time_left: Some(Duration::from_secs(10)), ..rc };
        let growth = scope.grow(&rc, &decisions);
        assert_eq!(growth.grown, vec!["reasoning"]);
        assert_eq!(growth.out_of_reach, vec!["qa"]);
        assert_eq!((scope.len(0, 0), scope.len(0, 1), scope.len(1, 1)), (12, 6, 6));
        // When nothing fits, the closest gets as many paired items as the time left
        // holds for both of its models: 2 s per item, 5 s left, 2 items (not half its
        // first round, nor its estimate of 6).
        reasoning.further_items = Some(6);
        let decisions = vec![decisions[0].clone(), reasoning];
        let done = done_for(&ids, &suites, &scope);
        let rc = RoundCtx { done: &done, time_left: Some(Duration::from_secs(5)), ..rc };
        let growth = scope.grow(&rc, &decisions);
        assert_eq!(
            (growth.grown, growth.out_of_reach),
            (vec!["reasoning".to_owned()], vec!["qa".to_owned()])
        );
        assert_eq!((scope.len(0, 1), scope.len(1, 1), scope.len(2, 1)), (8, 8, 4));
        // And nothing when not one paired item fits: it would go unanswered by some.
        let done = done_for(&ids, &suites, &scope);
        let rc = RoundCtx { done: &done, time_left: Some(Duration::from_secs(1)), ..rc };
        let growth = scope.grow(&rc, &decisions);
        assert!(growth.grown.is_empty());
        assert_eq!(growth.out_of_reach, vec!["reasoning".to_owned(), "qa".to_owned()]);
        assert_eq!(scope.len(0, 1), 8);
    }

    #[test]
    fn the_time_left_goes_to_the_closest_use_cases_that_fit_together() {
        let ids = ["a", "b"];
        let suites = vec![suite("arc", "qa", 100), suite("gsm", "reasoning", 100)];
        let models: Vec<ModelEntry> = ids.iter().map(|id| model(id)).collect();
        let manifest = manifest(&ids);
        let mut scope = Scope::new(&[4, 4], 2);
        // A second per item per model: 3 further items take 6 s, 4 take 8 s.
        let cost = vec![vec![(4.0, 4); 2]; 2];
        let open = |use_case, further| {
            let mut d = decision(use_case, DecisionStatus::Open, vec![pair("b", PairStatus::Open)]);
            d.further_items = Some(further);
            d
        };
        let decisions = vec![open(UseCase::Qa, 4), open(UseCase::Reasoning, 3)];
        let done = done_for(&ids, &suites, &scope);
        let rc = RoundCtx {
            suites: &suites,
            models: &models,
            manifest: &manifest,
            done: &done,
            cost: &cost,
            time_left: Some(Duration::from_secs(10)),
        };
        // Each would fit in 10 s alone; together they would not: the closer one runs.
        let growth = scope.grow(&rc, &decisions);
        assert_eq!(
            (growth.grown, growth.out_of_reach),
            (vec!["reasoning".to_owned()], vec!["qa".to_owned()])
        );
        // Growing by the whole estimate, but by at least half the first round.
        assert_eq!((scope.len(0, 0), scope.len(0, 1), scope.len(1, 1)), (4, 7, 7));
    }
}
