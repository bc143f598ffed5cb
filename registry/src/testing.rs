//! Where the tests of every crate find the real default test models (fetched by
//! `scripts/test-models.sh`). It lives here because every crate that tests with a real
//! model (engine, bench, router's end-to-end tests, the binary) already depends on this
//! one, and the variable that moves them, [`NOA_TEST_MODELS_DIR`], is declared here.
//! Nothing outside tests calls it.

use std::path::PathBuf;

use crate::env_vars::NOA_TEST_MODELS_DIR;

/// SmolLM2 135M Instruct: a chat template of its own (ChatML).
pub const SMOLLM2_FILE: &str = "smollm2-135m-instruct.gguf";
/// Gemma 3 270M: no chat template, so the plain-text fallback.
pub const GEMMA3_FILE: &str = "gemma-3-270m.gguf";

/// The folder holding the test models: `NOA_TEST_MODELS_DIR`, else
/// `~/.cache/noa/test-models`.
pub fn test_models_dir() -> PathBuf {
    std::env::var_os(NOA_TEST_MODELS_DIR).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/noa/test-models")
    })
}

/// The path of test model `file`.
///
/// # Panics
/// When the file is missing, with the hint to fetch it: a test that needs a real model
/// must not pass without one.
pub fn test_model(file: &str) -> PathBuf {
    let p = test_models_dir().join(file);
    assert!(
        p.is_file(),
        "test model `{}` is missing; run `scripts/test-models.sh` (or `make test`), or set \
         {NOA_TEST_MODELS_DIR}",
        p.display()
    );
    p
}
