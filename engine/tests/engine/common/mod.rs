//! Shared helpers for the engine's tests: the real default models, loaded once per
//! test binary (loading is the slow part), found through `NOA_TEST_MODELS_DIR`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use noa_engine::{EngineConfig, LocalModel};

pub use noa_registry::testing::{GEMMA3_FILE as GEMMA, SMOLLM2_FILE as SMOLLM};

/// Path of a default test model; panics with a hint when it is missing.
pub fn model_path(file: &str) -> PathBuf {
    noa_registry::testing::test_model(file)
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
