//! The foundation every other noa crate stands on: what a model *is* (the compiled-in
//! catalog), what is installed and measured on this machine (`models.json`, read and
//! written atomically under a lock), where files live (`NOA_HOME`), our own GGUF header
//! reader, and the hardware fingerprint that keys every measurement. Fetching models
//! (HTTP, pip wheels, progress bars) lives in `noa-fetch`, so the crates that only read
//! this data compile no network code.
//!
//! The file formats other crates exchange (`runs/<id>/items.jsonl`, run manifests,
//! replay results, the router's decision and feedback logs) are declared here too, so
//! that writer and readers share one definition; so are the few computations they must
//! agree on (a mean score's interval, the latest measurement of each suite, replacing
//! a file atomically).

pub mod atomic;
pub mod catalog;
pub mod disk;
pub mod env_vars;
pub mod error;
pub mod gguf;
pub mod hardware;
pub mod home;
pub mod plan;
pub mod remote;
pub mod router_log;
pub mod runs;
pub mod schema;
pub mod stats;
pub mod status;
pub mod store;
pub mod testing;

mod entry;

pub use catalog::CatalogEntry;
pub use entry::{cmp_timestamps, now_rfc3339};
pub use error::{Error, Result};
pub use home::NoaHome;
pub use remote::{RemoteKey, RemoteModel, RemoteVerification};
pub use schema::{
    Decision, DecisionStatus, Declared, GgufSummary, HardwareFingerprint, InstalledFile, Latency,
    Measurement, MeasurementKey, ModelEntry, OLDEST_SCHEMA_VERSION, PairStatus, PairedDifference,
    PairedModel, Percentiles, PipPackage, Priority, PrivacyTier, Quality, Registry, SCHEMA_VERSION,
    Source, UseCase,
};
pub use store::RegistryStore;
