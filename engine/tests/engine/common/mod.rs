//! Shared helpers for the engine's tests: the real default models, loaded once per
//! test binary (loading is the slow part), found through `NOA_TEST_MODELS_DIR`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use noa_engine::{EngineConfig, LocalModel};

pub const SMOLLM: &str = "smollm2-135m-instruct.gguf";
pub const GEMMA: &str = "gemma-3-270m.gguf";

/// Path of a default test model; panics with a hint when it is missing.
pub fn model_path(file: &str) -> PathBuf {
    let dir = std::env::var_os("NOA_TEST_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/noa/test-models")
    });
    let p = dir.join(file);
    assert!(
        p.is_file(),
        "test model `{}` is missing; run scripts/test-models.sh (or set NOA_TEST_MODELS_DIR)",
        p.display()
    );
    p
}

/// Small context, a few sequences, the machine's threads: fast to load.
pub fn config() -> EngineConfig {
    EngineConfig { n_ctx: 512, n_seq_max: 4, n_batch: 512, ..EngineConfig::default() }
}

pub fn smollm() -> &'static LocalModel {
    static M: OnceLock<LocalModel> = OnceLock::new();
    M.get_or_init(|| LocalModel::load(&model_path(SMOLLM), &config()).expect("load smollm2"))
}

pub fn gemma() -> &'static LocalModel {
    static M: OnceLock<LocalModel> = OnceLock::new();
    M.get_or_init(|| LocalModel::load(&model_path(GEMMA), &config()).expect("load gemma"))
}
