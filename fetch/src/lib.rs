//! The network side of noa's model store: where model files come from (the Hugging Face
//! hub, pip packages, files already on this machine), how they are downloaded, resumed,
//! retried and checked against their sha256 and size, and how a verified file is moved
//! into `models/` and registered. It lives apart from `noa-registry`, which holds the
//! data (catalog, `models.json`, GGUF headers, hardware), so that the crates that only
//! read that data (engine, router, reports) do not compile an HTTP client, zip reader or
//! progress bars they never use.

pub mod install;
pub mod manage;
pub mod source;

pub use source::{FetchOptions, Fetched};
