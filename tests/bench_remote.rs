//! `noa bench` of a remote model: a real `noa serve` running the SmolLM2 test model is
//! registered as a remote model beside the same file registered locally. On the same
//! GSM8K items at temperature 0 the remote model's scores equal the local one's; its
//! timings are measured at the client (time to first token, end to end); its
//! measurements are keyed by endpoint and served name, not by a file; and ARC-Easy,
//! multiple choice by log-likelihood, is scored through `/v1/completions` with `echo`
//! and `logprobs`, choosing the same answers as the local model.

mod common;

use common::serve::Server;
use common::{TestHome, model_entry, remote_entry, smollm2, write_registry};
use noa_registry::runs::{ItemRecord, RunManifest};
use noa_registry::{PrivacyTier, Registry, UseCase};

#[test]
fn a_remote_model_is_benched_like_the_local_one_and_keyed_by_its_server() {
    if common::evalsets_dir().is_none() {
        panic!("NOA_EVALSETS_DIR must point at the evaluation data mirror");
    }
    let upstream_home = TestHome::new();
    write_registry(&upstream_home, vec![model_entry("smollm2", &smollm2(), &[UseCase::General])]);
    // As noa bench decodes: every prompt whole, one at a time.
    let upstream = Server::start(
        &upstream_home,
        &["--threads", "2", "--parallel", "1", "--no-prefix-cache"],
        &[],
    );

    let home = TestHome::new();
    let endpoint = format!("http://{}/v1", upstream.addr);
    write_registry(
        &home,
        vec![
            model_entry("local-smol", &smollm2(), &[UseCase::Reasoning, UseCase::Qa]),
            remote_entry(
                "remote-smol",
                &endpoint,
                "smollm2",
                PrivacyTier::Private,
                &[UseCase::Reasoning, UseCase::Qa],
            ),
        ],
    );
    let out = home.run_ok(&[
        "bench",
        "--json",
        "--suites",
        "gsm8k,arc-easy",
        "--limit",
        "3",
        "--max-tokens",
        "48",
        "--no-cache",
        "--batch",
        "1",
        "--no-prefix-share",
        "--endpoint-parallel",
        "2",
    ]);
    let summary: serde_json::Value = serde_json::from_str(&out).expect("json");
    let dir = home.path().join("runs").join(summary["run_id"].as_str().expect("run id"));
    let manifest: RunManifest =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let records: Vec<ItemRecord> = std::fs::read_to_string(dir.join("items.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let of = |model: &str, suite: &str| {
        let mut v: Vec<&ItemRecord> =
            records.iter().filter(|r| r.model_id == model && r.suite == suite).collect();
        v.sort_by(|a, b| a.item_id.cmp(&b.item_id));
        v
    };
    let (local, remote) = (of("local-smol", "gsm8k"), of("remote-smol", "gsm8k"));
    assert_eq!((local.len(), remote.len()), (3, 3), "{records:?}");
    let mut same_output = 0;
    for (l, r) in local.iter().zip(&remote) {
        assert_eq!(l.item_id, r.item_id);
        assert_eq!(l.score, r.score, "{}: {:?} vs {:?}", l.item_id, l.output, r.output);
        assert!(r.error.is_none(), "{r:?}");
        assert!(r.gen_tokens > 0 && r.prompt_tokens > 0, "usage from the server: {r:?}");
        assert!(r.timings.ttft_ms > 0.0 && r.timings.e2e_ms >= r.timings.ttft_ms, "{r:?}");
        same_output += usize::from(l.output == r.output);
    }
    eprintln!("identical outputs local vs remote: {same_output}/3");

    // Log-likelihood suites: the server scores each option's tokens; the same answers.
    let (local, remote) = (of("local-smol", "arc-easy"), of("remote-smol", "arc-easy"));
    assert_eq!((local.len(), remote.len()), (3, 3), "{:?}", manifest.notes);
    for (l, r) in local.iter().zip(&remote) {
        assert_eq!(l.item_id, r.item_id);
        assert!(r.error.is_none(), "{r:?}");
        assert_eq!((l.score, &l.output), (r.score, &r.output), "{}", l.item_id);
    }
    assert!(!manifest.notes.iter().any(|n| n.contains("not measured")), "{:?}", manifest.notes);
    let rm = manifest.models.iter().find(|m| m.id == "remote-smol").expect("in the manifest");
    assert_eq!(rm.status.as_str(), "ok");
    assert_eq!(rm.remote.as_ref().map(|k| k.model.as_str()), Some("smollm2"));

    // The registry: keyed by the server and the served name, not by a file digest.
    let reg: Registry =
        serde_json::from_slice(&std::fs::read(home.path().join("models.json")).unwrap()).unwrap();
    let entry = reg.models.iter().find(|m| m.id == "remote-smol").expect("entry");
    let m = entry.measured.iter().find(|m| m.key.suite.starts_with("gsm8k@")).expect("measured");
    let key = m.key.remote.as_ref().expect("remote key");
    assert_eq!((key.endpoint.as_str(), key.model.as_str()), (endpoint.as_str(), "smollm2"));
    assert!(m.key.model_sha256.is_empty());
    assert!(m.latency.is_some() && m.quality.is_some(), "{m:?}");
    assert!(entry.measured.iter().any(|m| m.key.suite.starts_with("arc-easy@")));
}
