//! Helpers shared by the end-to-end tests of the `noa` binary: where the binary, the
//! real test models and the evaluation data are, and a fresh `NOA_HOME` per test.
#![allow(dead_code)]

pub mod redis;
pub mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `noa` binary cargo built for these tests.
pub fn noa_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_noa"))
}

/// The two packaged default models, fetched by `scripts/test-models.sh`; each path
/// panics with a hint when its file is missing (a test that needs a real model must
/// not pass without one).
pub use noa_registry::testing::{GEMMA3_FILE, SMOLLM2_FILE, test_model};

pub fn smollm2() -> PathBuf {
    test_model(SMOLLM2_FILE)
}

pub fn gemma3() -> PathBuf {
    test_model(GEMMA3_FILE)
}

/// The local mirror of public evaluation data, if this machine has one.
pub fn evalsets_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NOA_EVALSETS_DIR") {
        return Some(PathBuf::from(p)).filter(|p| p.is_dir());
    }
    // At run time, not `env!`: cargo reuses a test binary across checkouts that share a
    // target directory, and `env!` would point at the one it was compiled in.
    let root = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
    let beside = Path::new(&root).join("../shared/data");
    beside.is_dir().then_some(beside)
}

/// A temporary `NOA_HOME`, removed when dropped.
pub struct TestHome {
    pub dir: tempfile::TempDir,
}

impl TestHome {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("create temp NOA_HOME") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `noa <args>` with this home, no colour, and the shared pip cache.
    pub fn noa(&self) -> Command {
        let mut cmd = Command::new(noa_bin());
        cmd.env("NOA_HOME", self.path()).env("NO_COLOR", "1").env_remove("RUST_LOG");
        if let Some(d) = evalsets_dir() {
            cmd.env("NOA_EVALSETS_DIR", d);
        }
        cmd
    }

    /// Run `noa <args>` and return its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.noa().args(args).output().expect("run noa")
    }

    /// Run `noa <args>`, assert success, return stdout.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "`noa {}` failed with {}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Default for TestHome {
    fn default() -> Self {
        Self::new()
    }
}

/// A registry entry for a local model file, with its real sha256 and the declared
/// use cases given (so the router considers it for them).
pub fn model_entry(
    id: &str,
    path: &Path,
    use_cases: &[noa_registry::UseCase],
) -> noa_registry::ModelEntry {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).expect("model file");
    noa_registry::ModelEntry {
        id: id.into(),
        family: "test".into(),
        parameters: None,
        quantization: None,
        file: Some(noa_registry::InstalledFile {
            path: path.display().to_string(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
            verified_at: noa_registry::now_rfc3339(),
        }),
        remote: None,
        gguf: None,
        sources: Vec::new(),
        declared: noa_registry::Declared {
            use_cases: use_cases.to_vec(),
            privacy: noa_registry::PrivacyTier::Local,
            priority: None,
            quality: Some(0.3),
            vision: false,
        },
        measured: Vec::new(),
    }
}

/// Write `entries` as `home`'s registry.
pub fn write_registry(home: &TestHome, entries: Vec<noa_registry::ModelEntry>) {
    let mut reg = noa_registry::Registry::default();
    for e in entries {
        reg.upsert(e);
    }
    std::fs::write(home.path().join("models.json"), serde_json::to_vec(&reg).expect("json"))
        .expect("write registry");
}

/// A registry entry for a model served at `endpoint` under the name `served`, of
/// privacy tier `privacy`, declaring `use_cases`.
pub fn remote_entry(
    id: &str,
    endpoint: &str,
    served: &str,
    privacy: noa_registry::PrivacyTier,
    use_cases: &[noa_registry::UseCase],
) -> noa_registry::ModelEntry {
    let mut e = noa_registry::ModelEntry::bare(id);
    e.family = "remote".into();
    e.remote = Some(noa_registry::RemoteModel {
        endpoint: endpoint.into(),
        model: served.into(),
        api_key_env: None,
        verified: None,
    });
    e.declared.use_cases = use_cases.to_vec();
    e.declared.privacy = privacy;
    e.declared.quality = Some(0.3);
    e
}
