//! The foundation every other noa crate stands on: what a model *is* (the compiled-in
//! catalog), what is installed and measured on this machine (`models.json`, read and
//! written atomically under a lock), where files live (`NOA_HOME`), how models are
//! fetched and verified (Hugging Face, pip packages, local files), our own GGUF header
//! reader, and the hardware fingerprint that keys every measurement.
//!
//! The file formats other crates exchange (`runs/<id>/items.jsonl`, run manifests,
//! replay results) are declared here too, so that `bench` writes, and `router` and
//! `reports` read, one definition.

pub mod catalog;
pub mod disk;
pub mod env_vars;
pub mod error;
pub mod gguf;
pub mod hardware;
pub mod home;
pub mod install;
pub mod manage;
pub mod plan;
pub mod runs;
pub mod schema;
pub mod source;
pub mod status;
pub mod store;

mod entry;

pub use catalog::CatalogEntry;
pub use entry::now_rfc3339;
pub use error::{Error, Result};
pub use home::NoaHome;
pub use schema::{
    Decision, DecisionStatus, Declared, GgufSummary, HardwareFingerprint, InstalledFile, Latency,
    Measurement, MeasurementKey, ModelEntry, PairStatus, PairedDifference, PairedModel,
    Percentiles, PipPackage, Priority, PrivacyTier, Quality, Registry, SCHEMA_VERSION, Source,
    UseCase,
};
pub use store::RegistryStore;
