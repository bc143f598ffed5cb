//! Scheduling tests against a scripted engine (these are about batching, scorer
//! threads, deadlines and a dying worker, not about models; the real models are
//! exercised end to end in `tests/bench_cli.rs`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use noa_engine::{
    ChatMessage, EngineError, FinishReason, GenerateRequest, Generation, Loglikelihood,
    LoglikelihoodRequest, Prompt, RequestTimings,
};

use super::schedule::{Finished, Lane, ScheduleConfig, run_items, run_lanes};
use crate::kind::{Episode, GenSettings, Item, Reply, Score, Step, TaskKind};
use noa_engine::ModelBackend;

/// Echoes the prompt upper-cased after `delay` (3 ms by default), refusing requests
/// whose deadline has passed as the engine does; records every call's size and the
/// most calls in flight at once; dies after `die_after` calls.
#[derive(Default)]
struct Scripted {
    batches: Mutex<Vec<usize>>,
    in_flight: Mutex<(usize, usize)>,
    die_after: Option<usize>,
    delay: Option<Duration>,
}

impl ModelBackend for Scripted {
    fn generate_batch(
        &self,
        requests: Vec<GenerateRequest>,
    ) -> Vec<Result<Generation, EngineError>> {
        let mut b = self.batches.lock().unwrap();
        b.push(requests.len());
        if self.die_after.is_some_and(|n| b.len() > n) {
            return requests.iter().map(|_| Err(EngineError::WorkerGone)).collect();
        }
        drop(b);
        {
            let mut f = self.in_flight.lock().unwrap();
            f.0 += 1;
            f.1 = f.1.max(f.0);
        }
        std::thread::sleep(self.delay.unwrap_or(Duration::from_millis(3)));
        self.in_flight.lock().unwrap().0 -= 1;
        requests
            .into_iter()
            .map(|r| {
                if r.deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(EngineError::DeadlinePassed);
                }
                let Prompt::Raw(text) = r.prompt else {
                    return Err(EngineError::Decode("chat".into()));
                };
                Ok(Generation {
                    text: text.to_uppercase(),
                    prompt_tokens: 3,
                    cached_tokens: 0,
                    gen_tokens: 2,
                    finish: FinishReason::Eog,
                    timings: RequestTimings {
                        ttft_ms: 1.0,
                        inter_token_ms: vec![0.5],
                        e2e_ms: 1.5,
                        prompt_tps: 3000.0,
                        gen_tps: 2000.0,
                        ..Default::default()
                    },
                    rendered_prompt: text,
                })
            })
            .collect()
    }
    fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        self.batches.lock().unwrap().push(requests.len());
        requests
            .into_iter()
            .map(|r| {
                Ok(Loglikelihood {
                    logprob: -(r.continuation.len() as f64),
                    tokens: 1,
                    is_greedy: false,
                    elapsed_ms: 1.0,
                    per_token: Vec::new(),
                })
            })
            .collect()
    }
    fn render_chat(&self, _: &[ChatMessage]) -> Result<String, EngineError> {
        Ok(String::new())
    }
}

/// Items `{"text": ...}`; a generation must return the text upper-cased. Two turns
/// for items whose text starts with `two`; log-likelihood for `ll`; scoring sleeps to
/// stand in for a subprocess scorer.
struct Upper;
struct UpperEpisode {
    text: String,
    turns: u32,
}

impl TaskKind for Upper {
    fn name(&self) -> &'static str {
        "upper"
    }
    fn parse(&self, raw: &serde_json::Value, index: usize) -> Result<Item, String> {
        Ok(Item { id: index.to_string(), data: raw.clone() })
    }
    fn episode(&self, item: &Item, _: &GenSettings) -> Box<dyn Episode> {
        let text = item.data["text"].as_str().unwrap_or("").to_owned();
        Box::new(UpperEpisode { text, turns: 0 })
    }
}

impl Episode for UpperEpisode {
    fn step(&mut self, reply: Option<Reply>) -> Step {
        if self.text.starts_with("ll") {
            return match reply {
                None => Step::Loglikelihood(vec![
                    LoglikelihoodRequest::new(self.text.clone(), " a"),
                    LoglikelihoodRequest::new(self.text.clone(), " bb"),
                ]),
                Some(Reply::Loglikelihoods(l)) => Step::Done(Score {
                    value: f64::from(u8::from(l[0].logprob > l[1].logprob)),
                    detail: None,
                    output: String::new(),
                }),
                Some(_) => Step::Done(Score { value: 0.0, detail: None, output: String::new() }),
            };
        }
        let want = if self.text.starts_with("two") { 2 } else { 1 };
        if let Some(Reply::Generated(g)) = &reply {
            self.turns += 1;
            if g.text != self.text.to_uppercase() {
                return Step::Done(Score {
                    value: 0.0,
                    detail: Some(g.text.clone()),
                    output: g.text.clone(),
                });
            }
        }
        if self.turns == want {
            std::thread::sleep(Duration::from_millis(5));
            return Step::Done(Score {
                value: 1.0,
                detail: None,
                output: self.text.to_uppercase(),
            });
        }
        Step::Generate(GenerateRequest {
            prompt: Prompt::Raw(self.text.clone()),
            max_tokens: 4,
            stop: vec![],
            temperature: 0.0,
            seed: 0,
            constraint: None,
            deadline: None,
            shared_prefix: None,
            stop_after_json: false,
        })
    }
}

fn items(texts: &[&str]) -> Vec<Item> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| Item { id: i.to_string(), data: serde_json::json!({"text": t}) })
        .collect()
}

fn run(
    backend: &dyn ModelBackend,
    all: &[Item],
    batch: usize,
    deadline: Option<Instant>,
) -> (Vec<(usize, f64)>, super::schedule::ScheduleOutcome) {
    run_cut(backend, all, batch, deadline, None, None)
}

fn run_cut(
    backend: &dyn ModelBackend,
    all: &[Item],
    batch: usize,
    deadline: Option<Instant>,
    hard_deadline: Option<Instant>,
    budget_end: Option<Instant>,
) -> (Vec<(usize, f64)>, super::schedule::ScheduleOutcome) {
    let idx: Vec<usize> = (0..all.len()).collect();
    let config = ScheduleConfig { batch, scorer_threads: 2, deadline, hard_deadline, budget_end };
    let mut scores = Vec::new();
    let outcome = run_items(
        backend,
        &Upper,
        &GenSettings::default(),
        all,
        &idx,
        &config,
        &mut |_, _| false,
        &mut |f| {
            if let Finished::Ran { item, score, trace } = f {
                assert!(trace.prompt_sha256.len() == 64 || trace.error.is_some());
                scores.push((item, score.value));
            }
        },
    );
    scores.sort_by_key(|s| s.0);
    (scores, outcome)
}

#[test]
fn requests_overlap_up_to_the_batch_size_and_scores_match_one_at_a_time() {
    let texts: Vec<String> = (0..40)
        .map(|i| {
            if i % 5 == 0 {
                format!("two {i}")
            } else if i % 7 == 0 {
                format!("ll {i}")
            } else {
                format!("x{i}")
            }
        })
        .collect();
    let all = items(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    let batched = Scripted::default();
    let (a, out) = run(&batched, &all, 8, None);
    assert_eq!(out.finished, 40);
    assert_eq!(a.len(), 40);
    assert!(a.iter().all(|(_, s)| *s == 1.0), "{a:?}");
    let most = batched.in_flight.lock().unwrap().1;
    assert!((4..=8).contains(&most), "at most 8 generations in flight, and several: {most}");
    let one = Scripted::default();
    let (b, _) = run(&one, &all, 1, None);
    assert_eq!(a, b, "batching must not change any score");
    assert_eq!(one.in_flight.lock().unwrap().1, 1);
    // Log-likelihood steps of several episodes share one engine call.
    let lls = items(&["ll a", "ll b", "ll c", "ll d", "ll e", "ll f"]);
    let eng = Scripted::default();
    run(&eng, &lls, 8, None);
    assert!(
        eng.batches.lock().unwrap().iter().any(|n| *n > 2),
        "{:?}",
        eng.batches.lock().unwrap()
    );
}

#[test]
fn deadline_stops_new_items_and_a_dead_worker_stops_the_suite() {
    let all = items(&["a"; 30]);
    let (done, out) = run(&Scripted::default(), &all, 4, Some(Instant::now()));
    assert!(done.is_empty() && out.not_started == 30, "{out:?}");
    // Past the hard deadline nothing more goes to the engine, and what was started is
    // reported as cut, never as a (zero-scored) finished item.
    let later = Instant::now() + Duration::from_secs(60);
    let (done, out) =
        run_cut(&Scripted::default(), &all, 4, Some(later), Some(Instant::now()), None);
    assert!(done.is_empty(), "{done:?}");
    assert_eq!(out.finished, 0, "{out:?}");
    assert_eq!(out.cut + out.not_started, 30, "{out:?}");
    assert!(out.cut > 0, "{out:?}");
    let dying = Scripted { die_after: Some(2), ..Default::default() };
    let (_, out) = run(&dying, &all, 4, None);
    assert!(out.crashed.is_some());
    assert!(out.not_started > 0);
}

#[test]
fn a_suite_whose_items_all_outlast_its_share_still_records_its_first_item() {
    // Two-turn items of 2 × 150 ms against a share whose hard end comes after 100 ms.
    let slow = || Scripted { delay: Some(Duration::from_millis(150)), ..Default::default() };
    let all = items(&["two a", "two b", "two c", "two d", "two e"]);
    let soft = Instant::now() + Duration::from_millis(50);
    let hard = Instant::now() + Duration::from_millis(100);
    // Without the budget's end to run on to, everything started is cut.
    let (done, out) = run_cut(&slow(), &all, 2, Some(soft), Some(hard), None);
    assert!(done.is_empty(), "{done:?}");
    assert_eq!(out.finished, 0, "{out:?}");
    // With it, the first item started runs to the end and is recorded with its real
    // score; the others are still cut at the share's hard end, never scored as zeros.
    let soft = Instant::now() + Duration::from_millis(50);
    let hard = Instant::now() + Duration::from_millis(100);
    let end = Instant::now() + Duration::from_secs(60);
    let (done, out) = run_cut(&slow(), &all, 2, Some(soft), Some(hard), Some(end));
    assert_eq!(done, vec![(0, 1.0)], "{out:?}");
    assert_eq!(out.finished, 1, "{out:?}");
    assert!(out.cut >= 1, "{out:?}");
    assert_eq!(out.finished + out.cut + out.not_started, 5, "{out:?}");
    // The budget's own end still cuts it (its second turn would end at ~300 ms).
    let soft = Instant::now() + Duration::from_millis(50);
    let hard = Instant::now() + Duration::from_millis(100);
    let end = Instant::now() + Duration::from_millis(200);
    let (done, out) = run_cut(&slow(), &all, 2, Some(soft), Some(hard), Some(end));
    assert!(done.is_empty() && out.finished == 0, "{done:?} {out:?}");
    assert!(out.cut >= 1, "{out:?}");
}

/// Runs lanes of `Upper` items (all of each lane) on `backend`, batch 4; per lane,
/// the items finished with their scores, and the outcomes.
fn run_two_lanes(
    backend: &dyn ModelBackend,
    lanes: &[&[Item]],
) -> (Vec<Vec<(usize, f64)>>, Vec<super::schedule::ScheduleOutcome>) {
    let settings = GenSettings::default();
    let sched: Vec<Lane<'_>> = lanes
        .iter()
        .map(|all| Lane {
            kind: &Upper,
            settings: &settings,
            all,
            items: (0..all.len()).collect(),
            weight: 1.0,
        })
        .collect();
    let config = ScheduleConfig {
        batch: 4,
        scorer_threads: 2,
        deadline: None,
        hard_deadline: None,
        budget_end: None,
    };
    let mut scores = vec![Vec::new(); lanes.len()];
    let mut asked = Vec::new();
    let outcomes = run_lanes(
        backend,
        &sched,
        &config,
        &mut |l, i, _| {
            asked.push((l, i));
            false
        },
        &mut |l, f| {
            if let Finished::Ran { item, score, .. } = f {
                scores[l].push((item, score.value));
            }
        },
    );
    for s in &mut scores {
        s.sort_by_key(|s| s.0);
    }
    assert!(asked.iter().all(|&(l, i)| i < lanes[l].len()), "{asked:?}");
    (scores, outcomes)
}

#[test]
fn lanes_share_the_batch_and_a_dead_worker_stops_every_lane() {
    // A short suite and a long one: run apart, the short one leaves the batch half
    // empty; in one schedule its items run beside the long one's.
    let short = items(&["s0", "s1"]);
    let long = items(&["l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7"]);
    let slow = || Scripted { delay: Some(Duration::from_millis(30)), ..Default::default() };
    let alone = slow();
    run_items(
        &alone,
        &Upper,
        &GenSettings::default(),
        &short,
        &[0, 1],
        &ScheduleConfig {
            batch: 4,
            scorer_threads: 2,
            deadline: None,
            hard_deadline: None,
            budget_end: None,
        },
        &mut |_, _| false,
        &mut |_| {},
    );
    assert_eq!(alone.in_flight.lock().unwrap().1, 2);
    let shared = slow();
    let (scores, outcomes) = run_two_lanes(&shared, &[&short, &long]);
    assert_eq!(shared.in_flight.lock().unwrap().1, 4, "the batch is full across lanes");
    assert_eq!(scores[0], vec![(0, 1.0), (1, 1.0)]);
    assert_eq!(scores[1].len(), 8);
    assert!(scores[1].iter().all(|s| s.1 == 1.0), "{scores:?}");
    assert_eq!((outcomes[0].finished, outcomes[1].finished), (2, 8));
    assert!(outcomes.iter().all(|o| o.item_seconds > 0.0), "{outcomes:?}");

    // The engine dies: no lane starts another item; every item is finished, lost or
    // not started, and the crash is reported.
    let longer = items(&["l"; 20]);
    let dying = Scripted { die_after: Some(3), ..slow() };
    let (scores, outcomes) = run_two_lanes(&dying, &[&short, &longer]);
    assert!(outcomes.iter().any(|o| o.crashed.is_some()), "{outcomes:?}");
    let not_started: usize = outcomes.iter().map(|o| o.not_started).sum();
    let finished: usize = scores.iter().map(Vec::len).sum();
    assert!(not_started > 0 && finished < 22, "{outcomes:?}");
}

#[test]
fn lanes_share_the_deadline_as_they_start_and_the_next_lane_goes_on() {
    // Two-turn items of 2 × 40 ms, one at a time. Lane a (weight 1 of 4) may start
    // items for a quarter of the 400 ms: two or three of its five. Lane b then gets
    // what is left, all of it, and starts its items.
    let slow = Scripted { delay: Some(Duration::from_millis(40)), ..Default::default() };
    let a = items(&["two a"; 5]);
    let b = items(&["two b"; 2]);
    let settings = GenSettings::default();
    let lanes = [
        Lane { kind: &Upper, settings: &settings, all: &a, items: (0..5).collect(), weight: 1.0 },
        Lane { kind: &Upper, settings: &settings, all: &b, items: vec![0, 1], weight: 3.0 },
    ];
    let now = Instant::now();
    let config = ScheduleConfig {
        batch: 1,
        scorer_threads: 1,
        deadline: Some(now + Duration::from_millis(400)),
        hard_deadline: Some(now + Duration::from_secs(60)),
        budget_end: None,
    };
    let mut ran = vec![0, 0];
    let outcomes = run_lanes(&slow, &lanes, &config, &mut |_, _, _| false, &mut |l, f| {
        if matches!(f, Finished::Ran { .. }) {
            ran[l] += 1;
        }
    });
    assert!((1..5).contains(&ran[0]), "{ran:?} {outcomes:?}");
    assert_eq!(outcomes[0].not_started, 5 - ran[0], "{outcomes:?}");
    assert_eq!(ran[1], 2, "the next lane still runs: {outcomes:?}");
}
