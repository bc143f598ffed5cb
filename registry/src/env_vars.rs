//! Every environment variable noa reads, in one place, so that `--help`, the README and
//! the code cannot drift apart. (Each CLI option is also settable by its `NOA_*` name.)

/// Root of all user data (`models.json`, `models/`, `runs/`, `router/`, `reports/`).
/// Defaults to `$XDG_DATA_HOME/noa`, then `~/.local/share/noa`.
pub const NOA_HOME: &str = "NOA_HOME";
/// Folder holding public evaluation data (HumanEval, GSM8K, IFEval, ARC) mirrored locally.
pub const NOA_EVALSETS_DIR: &str = "NOA_EVALSETS_DIR";
/// Folder of pip wheels kept between runs so packaged models are not fetched twice.
pub const NOA_PIP_CACHE: &str = "NOA_PIP_CACHE";
/// The Python interpreter used for pip sources and the sandboxed code scorer.
pub const NOA_PYTHON: &str = "NOA_PYTHON";
/// Threads llama.cpp uses (default: physical cores).
pub const NOA_THREADS: &str = "NOA_THREADS";
/// llama.cpp flash attention for `noa bench` and `noa serve`: `auto`, `on` or `off`.
pub const NOA_FLASH_ATTN: &str = "NOA_FLASH_ATTN";
/// Hugging Face hub endpoint (default `https://huggingface.co`).
pub const HF_ENDPOINT: &str = "HF_ENDPOINT";
/// Hugging Face access token, needed for gated repositories.
pub const HF_TOKEN: &str = "HF_TOKEN";
/// XDG base directory for user data.
pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
/// Disables colour in human output when set to anything.
pub const NO_COLOR: &str = "NO_COLOR";
/// Log filter (tracing `EnvFilter` syntax).
pub const RUST_LOG: &str = "RUST_LOG";
/// Folder with the real test models (`scripts/test-models.sh`; default
/// `~/.cache/noa/test-models`). Read by tests only.
pub const NOA_TEST_MODELS_DIR: &str = "NOA_TEST_MODELS_DIR";
/// When set, the schema test rewrites `registry/models.schema.json` instead of failing.
pub const NOA_UPDATE_SCHEMA: &str = "NOA_UPDATE_SCHEMA";
/// Default download bandwidth for `noa models pull --dry-run` estimates.
pub const NOA_BANDWIDTH: &str = "NOA_BANDWIDTH";
