//! The foundation every other noa crate stands on: what a model *is* (the compiled-in
//! catalog), what is installed and measured on this machine (`models.json`, read and
//! written atomically under a lock), where files live (`NOA_HOME`), how models are
//! fetched and verified (Hugging Face, pip packages, local files), our own GGUF header
//! reader, and the hardware fingerprint that keys every measurement.
//!
//! The file formats other crates exchange (`runs/<id>/items.jsonl`, run manifests,
//! replay results) are declared here too, so that `bench` writes, and `router` and
//! `reports` read, one definition.

pub mod env_vars;
pub mod home;
pub mod runs;
pub mod schema;

pub use home::NoaHome;
pub use schema::{
    Declared, HardwareFingerprint, InstalledFile, Latency, Measurement, MeasurementKey,
    ModelEntry, Percentiles, Priority, PrivacyTier, Quality, Registry, Source, UseCase,
    SCHEMA_VERSION,
};
