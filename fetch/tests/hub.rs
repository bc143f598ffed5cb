//! Downloads against a loopback hub of our own (`tests/common/hub.rs`): redirects,
//! Range resume after a dropped connection or from an existing `.part`, retries on 503,
//! a lying digest, a gated file with and without `HF_TOKEN`, 404, a truncated GGUF, and
//! several files in parallel. Nothing that fails a check may be registered.

#[path = "../../tests/common/hub.rs"]
mod hub;

use std::time::Duration;

use hub::{Hub, HubFile, resolve_path, sha256_hex};
use noa_fetch::install::{install, install_many, part_path};
use noa_fetch::source::FetchOptions;
use noa_registry::gguf::Value;
use noa_registry::gguf::writer::GgufWriter;
use noa_registry::{Error, ModelEntry, NoaHome, RegistryStore, Source, UseCase};

/// A small but valid GGUF (about 200 kB) whose content depends on `seed`.
fn gguf(seed: u32) -> Vec<u8> {
    GgufWriter::new("llama")
        .kv("general.name", Value::String(format!("hub-test-{seed}")))
        .kv("llama.context_length", Value::U32(512))
        .kv("general.file_type", Value::U32(0))
        .f32_tensor("token_embd.weight", &[64, 800], seed as f32)
        .to_bytes()
}

fn entry(id: &str, file: &str, sha256: Option<String>) -> ModelEntry {
    let mut e = ModelEntry::bare(id);
    e.family = "llama".to_owned();
    e.sources = vec![Source::Hf {
        repo: "test-org/test-GGUF".to_owned(),
        file: file.to_owned(),
        revision: "main".to_owned(),
        sha256,
        size: None,
        confirmed: true,
    }];
    e.declared.use_cases = vec![UseCase::General];
    e
}

fn path(file: &str) -> String {
    resolve_path("test-org/test-GGUF", "main", file)
}

fn opts(hub: &Hub, token: Option<&str>) -> FetchOptions {
    let mut o = FetchOptions::from_env(false);
    o.hf_endpoint = hub.endpoint();
    o.hf_token = token.map(str::to_owned);
    o.retry_delay = Duration::from_millis(20);
    o
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

fn registered(home: &NoaHome) -> Vec<String> {
    RegistryStore::open(home).load().unwrap().models.into_iter().map(|m| m.id).collect()
}

#[test]
fn redirect_and_dropped_connection_resume_to_the_right_digest() {
    let bytes = gguf(1);
    let hub = Hub::start(vec![(
        path("a.gguf"),
        HubFile {
            bytes: bytes.clone(),
            redirect: true,
            drop_after: Some(70_000),
            drops: 2,
            ..Default::default()
        },
    )]);
    let dir = tempfile::tempdir().unwrap();
    let home = NoaHome::new(dir.path());
    let e = rt().block_on(install(&home, entry("a", "a.gguf", None), &opts(&hub, None))).unwrap();
    let f = e.file.as_ref().unwrap();
    assert_eq!(f.sha256, sha256_hex(&bytes));
    assert_eq!(f.size, bytes.len() as u64);
    assert_eq!(std::fs::read(e.file_path(&home).unwrap()).unwrap(), bytes);
    assert_eq!(e.gguf.as_ref().unwrap().architecture, "llama");
    let log = hub.log();
    // Two dropped connections, each resumed with a Range request on the CDN URL.
    let resumed = log.iter().filter(|l| l.starts_with("GET /cdn/") && l.contains("bytes=")).count();
    assert!(resumed >= 2, "{log:?}");
    assert_eq!(registered(&home), ["a"]);
    assert!(!part_path(&home, "a").exists());
}

#[test]
fn existing_part_is_rehashed_and_resumed() {
    let bytes = gguf(2);
    let hub =
        Hub::start(vec![(path("b.gguf"), HubFile { bytes: bytes.clone(), ..Default::default() })]);
    let dir = tempfile::tempdir().unwrap();
    let home = NoaHome::new(dir.path());
    let part = part_path(&home, "b");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, &bytes[..100_000]).unwrap();
    let e = rt()
        .block_on(install(&home, entry("b", "b.gguf", Some(sha256_hex(&bytes))), &opts(&hub, None)))
        .unwrap();
    assert_eq!(e.file.unwrap().sha256, sha256_hex(&bytes));
    assert_eq!(hub.log().iter().filter(|l| l.starts_with("GET")).count(), 1);
    assert!(hub.log().iter().any(|l| l.ends_with("bytes=100000-")), "{:?}", hub.log());
}

#[test]
fn server_errors_are_retried_and_ignored_ranges_restart() {
    let bytes = gguf(3);
    let hub = Hub::start(vec![(
        path("c.gguf"),
        HubFile {
            bytes: bytes.clone(),
            fail_first: 2,
            ignore_range: true,
            drop_after: Some(50_000),
            drops: 1,
            ..Default::default()
        },
    )]);
    let dir = tempfile::tempdir().unwrap();
    let home = NoaHome::new(dir.path());
    let e = rt().block_on(install(&home, entry("c", "c.gguf", None), &opts(&hub, None))).unwrap();
    assert_eq!(e.file.unwrap().sha256, sha256_hex(&bytes));
    assert!(hub.gets() >= 4, "{:?}", hub.log());
}

#[test]
fn lying_digest_is_rejected_and_nothing_is_registered() {
    let bytes = gguf(4);
    let lie = "0".repeat(64);
    let hub = Hub::start(vec![(
        path("d.gguf"),
        HubFile { bytes, lie_digest: Some(lie.clone()), redirect: true, ..Default::default() },
    )]);
    let dir = tempfile::tempdir().unwrap();
    let home = NoaHome::new(dir.path());
    let err =
        rt().block_on(install(&home, entry("d", "d.gguf", None), &opts(&hub, None))).unwrap_err();
    assert!(matches!(&err, Error::Digest { expected, .. } if *expected == lie), "{err}");
    assert!(registered(&home).is_empty());
    assert!(!part_path(&home, "d").exists(), "a part with a wrong digest must be removed");
    assert!(!home.models_dir().join("d.gguf").exists());
}

#[test]
fn catalog_digest_wins_over_the_hub() {
    let bytes = gguf(5);
    let hub = Hub::start(vec![(path("e.gguf"), HubFile { bytes, ..Default::default() })]);
    let dir = tempfile::tempdir().unwrap();
    let home = NoaHome::new(dir.path());
    let want = sha256_hex(b"something else");
    let err = rt()
        .block_on(install(&home, entry("e", "e.gguf", Some(want)), &opts(&hub, None)))
        .unwrap_err();
    assert!(matches!(err, Error::Digest { .. }), "{err}");
    assert!(registered(&home).is_empty());
}

#[test]
fn gated_file_needs_the_token() {
    let bytes = gguf(6);
    let hub = Hub::start(vec![(
        path("f.gguf"),
        HubFile {
            bytes: bytes.clone(),
            token: Some("hf_secret".into()),
            redirect: true,
            ..Default::default()
        },
    )]);
    let dir = tempfile::tempdir().unwrap();
    let home = NoaHome::new(dir.path());
    let err =
        rt().block_on(install(&home, entry("f", "f.gguf", None), &opts(&hub, None))).unwrap_err();
    assert!(matches!(err, Error::HttpStatus { status: 401, .. }), "{err}");
    assert!(err.to_string().contains("set HF_TOKEN"), "{err}");
    let err = rt()
        .block_on(install(&home, entry("f", "f.gguf", None), &opts(&hub, Some("wrong"))))
        .unwrap_err();
    assert!(err.to_string().contains("HF_TOKEN has access"), "{err}");
    assert!(registered(&home).is_empty());
    let e = rt()
        .block_on(install(&home, entry("f", "f.gguf", None), &opts(&hub, Some("hf_secret"))))
        .unwrap();
    assert_eq!(e.file.unwrap().sha256, sha256_hex(&bytes));
    // The token went to the hub only, and the CDN (same host here) still served the file.
    assert_eq!(registered(&home), ["f"]);
}

#[test]
fn missing_file_is_a_clear_404() {
    let hub = Hub::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let home = NoaHome::new(dir.path());
    let err = rt()
        .block_on(install(&home, entry("g", "nope.gguf", None), &opts(&hub, None)))
        .unwrap_err();
    assert!(matches!(err, Error::HttpStatus { status: 404, .. }), "{err}");
    assert!(err.to_string().contains("no such repository, revision or file"), "{err}");
    assert!(registered(&home).is_empty());
}

#[test]
fn truncated_gguf_with_a_matching_digest_is_still_rejected() {
    let mut bytes = gguf(7);
    bytes.truncate(bytes.len() - 1000);
    let hub = Hub::start(vec![(path("h.gguf"), HubFile { bytes, ..Default::default() })]);
    let dir = tempfile::tempdir().unwrap();
    let home = NoaHome::new(dir.path());
    let err =
        rt().block_on(install(&home, entry("h", "h.gguf", None), &opts(&hub, None))).unwrap_err();
    assert!(matches!(err, Error::Gguf { .. }) && err.to_string().contains("truncated"), "{err}");
    assert!(registered(&home).is_empty());
    assert!(!part_path(&home, "h").exists());
}

#[test]
fn several_files_in_parallel() {
    let files: Vec<_> = (10..14)
        .map(|i| {
            (
                path(&format!("p{i}.gguf")),
                HubFile {
                    bytes: gguf(i),
                    drop_after: Some(30_000),
                    drops: 1,
                    ..Default::default()
                },
            )
        })
        .collect();
    let hub = Hub::start(files);
    let dir = tempfile::tempdir().unwrap();
    let home = NoaHome::new(dir.path());
    let entries = (10..14).map(|i| entry(&format!("p{i}"), &format!("p{i}.gguf"), None)).collect();
    let results = rt().block_on(install_many(&home, entries, &opts(&hub, None), 4));
    for (i, (id, r)) in (10..14).zip(results) {
        assert_eq!(id, format!("p{i}"));
        assert_eq!(r.unwrap().file.unwrap().sha256, sha256_hex(&gguf(i)));
    }
    assert_eq!(registered(&home), ["p10", "p11", "p12", "p13"]);
}
