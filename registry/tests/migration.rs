//! Schema 2 of `models.json` against real files: a version 1 registry still loads, its
//! first write keeps a byte-identical backup and writes version 2, backups are never
//! overwritten, remote entries round-trip, and hand-edited mistakes in the new fields
//! are errors that name what is wrong and leave the file alone.

use noa_registry::{
    Error, MeasurementKey, ModelEntry, NoaHome, PrivacyTier, RegistryStore, RemoteKey, RemoteModel,
    RemoteVerification, SCHEMA_VERSION,
};

/// A version 1 registry as noa 1 wrote it: one installed model with a measurement.
const V1: &str = r#"{
  "schema": 1,
  "hosts": [],
  "models": [
    {
      "id": "tiny",
      "family": "llama",
      "parameters": null,
      "quantization": "Q8_0",
      "file": {
        "path": "models/tiny.gguf",
        "size": 10,
        "sha256": "aa",
        "verified_at": "2026-01-01T00:00:00Z"
      },
      "gguf": null,
      "sources": [],
      "declared": {
        "use_cases": ["qa"],
        "privacy": "local",
        "priority": null,
        "quality": null,
        "vision": false
      },
      "measured": [
        {
          "key": {"model_sha256": "aa", "suite": "qa@1", "engine_build": "b1", "hardware": "h1"},
          "use_case": "qa",
          "quality": null,
          "latency": null,
          "peak_memory_bytes": null,
          "run_id": "r1",
          "timestamp": "2026-01-01T00:00:00Z",
          "failure": null
        }
      ]
    }
  ]
}
"#;

fn store() -> (tempfile::TempDir, RegistryStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = RegistryStore::open(&NoaHome::new(dir.path()));
    (dir, store)
}

fn backup_path(store: &RegistryStore, suffix: &str) -> std::path::PathBuf {
    let mut p = store.path().as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

fn remote_entry(id: &str) -> ModelEntry {
    let mut e = ModelEntry::bare(id);
    e.family = "remote".into();
    e.declared.privacy = PrivacyTier::Private;
    e.remote = Some(RemoteModel {
        endpoint: "http://gpu-box:8080/v1".into(),
        model: "qwen2.5-7b-instruct".into(),
        api_key_env: Some("GPU_BOX_KEY".into()),
        verified: Some(RemoteVerification {
            verified_at: "2026-02-01T00:00:00Z".into(),
            version: Some("b4567".into()),
            listing: Some(serde_json::json!({"id": "qwen2.5-7b-instruct", "owned_by": "me"})),
        }),
    });
    e
}

#[test]
fn a_v1_file_loads_and_its_first_write_keeps_a_byte_identical_backup() {
    let (_dir, store) = store();
    std::fs::write(store.path(), V1).unwrap();

    let loaded = store.load().unwrap();
    assert_eq!(loaded.schema, SCHEMA_VERSION);
    assert_eq!(loaded.models[0].measured[0].key.model_sha256, "aa");
    assert_eq!(std::fs::read_to_string(store.path()).unwrap(), V1, "reading changes nothing");
    assert!(!backup_path(&store, ".v1.bak").exists());

    store
        .update(|r| -> Result<(), Error> {
            r.upsert(remote_entry("gpu"));
            Ok(())
        })
        .unwrap();
    assert_eq!(std::fs::read_to_string(backup_path(&store, ".v1.bak")).unwrap(), V1);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.path()).unwrap()).unwrap();
    assert_eq!(written["schema"], 2);
    // The local measurement's key is written as before: sha256 kept, no remote part.
    let key = &written["models"][1]["measured"][0]["key"];
    assert_eq!(key["model_sha256"], "aa");
    assert!(key.get("remote").is_none(), "{key}");
    let reloaded = store.load().unwrap();
    assert_eq!(reloaded.models[1], loaded.models[0]);

    // Later writes of the (now version 2) file make no further backups.
    store.update(|_| -> Result<(), Error> { Ok(()) }).unwrap();
    assert!(!backup_path(&store, ".v1.bak.2").exists());
}

#[test]
fn an_existing_backup_with_other_bytes_is_never_overwritten() {
    let (_dir, store) = store();
    let earlier = V1.replace("\"r1\"", "\"r0\"");
    std::fs::write(backup_path(&store, ".v1.bak"), &earlier).unwrap();
    std::fs::write(store.path(), V1).unwrap();
    store.update(|_| -> Result<(), Error> { Ok(()) }).unwrap();
    assert_eq!(std::fs::read_to_string(backup_path(&store, ".v1.bak")).unwrap(), earlier);
    assert_eq!(std::fs::read_to_string(backup_path(&store, ".v1.bak.2")).unwrap(), V1);
}

#[test]
fn a_failed_update_of_a_v1_file_writes_neither_backup_nor_file() {
    let (_dir, store) = store();
    std::fs::write(store.path(), V1).unwrap();
    let r: Result<(), Error> = store.update(|_| Err(Error::UnknownModel("x".into())));
    assert!(r.is_err());
    assert_eq!(std::fs::read_to_string(store.path()).unwrap(), V1);
    assert!(!backup_path(&store, ".v1.bak").exists());
}

#[test]
fn a_remote_entry_and_a_remote_measurement_round_trip() {
    let (_dir, store) = store();
    let mut e = remote_entry("gpu");
    let mut m: noa_registry::Measurement = serde_json::from_value(serde_json::json!({
        "key": {"suite": "qa@1", "engine_build": "remote", "hardware": "client-h"},
        "use_case": "qa", "run_id": "r", "timestamp": "2026-02-01T00:00:00Z"
    }))
    .unwrap();
    m.key.remote = Some(RemoteKey {
        endpoint: "http://gpu-box:8080/v1".into(),
        model: "qwen2.5-7b-instruct".into(),
        version: Some("b4567".into()),
    });
    e.measured.push(m);
    store
        .update(|r| -> Result<(), Error> {
            r.upsert(e.clone());
            Ok(())
        })
        .unwrap();
    let back = store.load().unwrap();
    assert_eq!(back.get("gpu"), Some(&e));
    let text = std::fs::read_to_string(store.path()).unwrap();
    assert!(text.contains("\"file\": null") && !text.contains("model_sha256"), "{text}");
    assert_eq!(e.remote.as_ref().unwrap().key(), e.measured[0].key.remote.clone().unwrap());

    // Re-adding the same served model keeps its measurements; another model drops them.
    let mut again = remote_entry("gpu");
    again.remote.as_mut().unwrap().endpoint = "http://gpu-box:8080/".into();
    let mut reg = back.clone();
    reg.upsert(again.clone());
    assert_eq!(reg.get("gpu").unwrap().measured.len(), 1);
    again.remote.as_mut().unwrap().model = "other".into();
    reg.upsert(again);
    assert!(reg.get("gpu").unwrap().measured.is_empty());
}

#[test]
fn lan_is_read_as_private_and_private_is_written() {
    let (_dir, store) = store();
    let text = r#"{"schema": 2, "models": [{"id": "g", "family": "f",
        "declared": {"use_cases": [], "privacy": "lan"},
        "remote": {"endpoint": "http://h:1", "model": "m"}}]}"#;
    std::fs::write(store.path(), text).unwrap();
    let r = store.load().unwrap();
    assert_eq!(r.models[0].declared.privacy, PrivacyTier::Private);
    assert_eq!(r.models[0].remote.as_ref().unwrap().base_url().unwrap(), "http://h:1/v1");
    store.update(|_| -> Result<(), Error> { Ok(()) }).unwrap();
    let written = std::fs::read_to_string(store.path()).unwrap();
    assert!(written.contains("\"privacy\": \"private\""), "{written}");
    assert_eq!("LAN".parse::<PrivacyTier>(), Ok(PrivacyTier::Private));
    let err = "intranet".parse::<PrivacyTier>().unwrap_err();
    assert!(err.contains("`intranet`") && err.contains("lan"), "{err}");
}

#[test]
fn mistakes_in_remote_entries_name_the_field_or_model_and_leave_the_file_alone() {
    let cases = [
        (
            r#"{"schema": 2, "models": [{"id": "g", "family": "f",
            "declared": {"use_cases": [], "privacy": "cloud"},
            "remote": {"endpiont": "http://h:1", "model": "m"}}]}"#,
            "unknown field `endpiont`",
        ),
        (
            r#"{"schema": 2, "models": [{"id": "g", "family": "f",
            "declared": {"use_cases": [], "privacy": "cloud"},
            "file": {"path": "x", "size": 1, "sha256": "s", "verified_at": ""},
            "remote": {"endpoint": "http://h:1", "model": "m"}}]}"#,
            "model `g` is remote and also has a `file`",
        ),
        (
            r#"{"schema": 2, "models": [{"id": "g", "family": "f",
            "declared": {"use_cases": [], "privacy": "cloud"},
            "remote": {"endpoint": "gpu-box:8080", "model": "m"}}]}"#,
            "model `g`: endpoint `gpu-box:8080` must start with http://",
        ),
    ];
    for (text, want) in cases {
        let (_dir, store) = store();
        std::fs::write(store.path(), text).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
        let r: Result<(), Error> = store.update(|_| Ok(()));
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), text);
    }
}

#[test]
fn a_local_key_reads_without_a_remote_part() {
    let k: MeasurementKey = serde_json::from_str(
        r#"{"model_sha256": "aa", "suite": "s@1", "engine_build": "b", "hardware": "h"}"#,
    )
    .unwrap();
    assert_eq!(k.remote, None);
    assert_eq!(
        serde_json::to_string(&k).unwrap(),
        r#"{"model_sha256":"aa","suite":"s@1","engine_build":"b","hardware":"h"}"#
    );
}
