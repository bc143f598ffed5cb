//! The gate before llama.cpp: every model file goes through the registry's own GGUF
//! header reader (`noa_registry::gguf::read_header`: magic, version, every length
//! bounded, tensor data inside the file), so a truncated, corrupt or foreign file is
//! `EngineError::BadModel` here instead of whatever llama.cpp would do with it. The
//! engine also takes from the header what it needs to size a model's KV cache.

use std::path::Path;

use noa_registry::gguf::{GgufHeader, read_header};

use crate::EngineError;

/// What the engine needs from a validated header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSummary {
    pub version: u32,
    pub n_tensors: u64,
    pub file_size: u64,
    /// f16 K+V cache bytes per token of context, from the attention metadata (when present).
    pub kv_bytes_per_token: Option<u64>,
}

/// Validate the GGUF at `path`.
pub fn check_gguf(path: &Path) -> Result<HeaderSummary, EngineError> {
    let header = read_header(path).map_err(|e| EngineError::BadModel {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(HeaderSummary {
        version: header.version,
        n_tensors: header.tensors.len() as u64,
        file_size: header.file_size,
        kv_bytes_per_token: kv_estimate(&header),
    })
}

/// f16 K and V bytes per token: layers × kv heads × (key + value length) × 2 bytes.
fn kv_estimate(h: &GgufHeader) -> Option<u64> {
    let arch = h.architecture();
    let int = |k: &str| h.get(&format!("{arch}.{k}")).and_then(|v| v.as_u64());
    let layers = int("block_count")?;
    let heads = int("attention.head_count")?;
    let kv_heads = int("attention.head_count_kv").unwrap_or(heads);
    let head_dim = int("embedding_length").map(|e| e / heads.max(1));
    let k = int("attention.key_length").or(head_dim)?;
    let v = int("attention.value_length").unwrap_or(k);
    Some(layers.saturating_mul(kv_heads).saturating_mul(k + v).saturating_mul(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn rejects_empty_foreign_bad_version_and_huge_counts() {
        let mut huge = b"GGUF\x03\0\0\0".to_vec();
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        huge.extend_from_slice(&0u64.to_le_bytes());
        for bytes in
            [&b""[..], b"PK\x03\x04zipzipzip", b"GGUF\x09\0\0\0", b"GGUF\x03\0\0\0\x01\0\0", &huge]
        {
            let f = write(bytes);
            match check_gguf(f.path()) {
                Err(EngineError::BadModel { path, .. }) => assert!(path.contains(".tmp")),
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
    }
}
