//! Our own check of a GGUF file before llama.cpp sees it: magic, version, every
//! metadata entry and tensor record walked with bounds, and the tensor data checked to
//! lie inside the file. A truncated, corrupt or foreign file becomes
//! `EngineError::BadModel` here instead of whatever llama.cpp would do with it.
//! (The registry crate carries the full header reader; this is the engine's gate.)

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::EngineError;

/// What the walk learned; enough for the engine's own checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSummary {
    pub version: u32,
    pub n_tensors: u64,
    pub n_kv: u64,
    /// Byte offset one past the last tensor's data.
    pub data_end: u64,
    pub file_size: u64,
    /// f16 K+V cache bytes per token of context, from the attention metadata (when present).
    pub kv_bytes_per_token: Option<u64>,
}

/// Validate the GGUF at `path`.
pub fn check_gguf(path: &Path) -> Result<HeaderSummary, EngineError> {
    let bad = |reason: String| EngineError::BadModel { path: path.display().to_string(), reason };
    let file = File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let file_size = file.metadata().map_err(|e| bad(format!("cannot stat: {e}")))?.len();
    let mut r = Reader { inner: BufReader::new(file), pos: 0, size: file_size };
    walk(&mut r).map_err(bad)
}

struct Reader {
    inner: BufReader<File>,
    pos: u64,
    size: u64,
}

impl Reader {
    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, String> {
        if self.pos.checked_add(n).is_none_or(|end| end > self.size) {
            return Err(format!(
                "truncated: {what} at byte {} runs past the end ({} bytes)",
                self.pos, self.size
            ));
        }
        let mut buf = vec![0u8; n as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| format!("read failed at byte {}: {e}", self.pos))?;
        self.pos += n;
        Ok(buf)
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self, what: &str) -> Result<Vec<u8>, String> {
        let n = self.u64(what)?;
        self.bytes(n, what)
    }
    /// Skip (or read, for `general.alignment`) one metadata value of type `ty`.
    fn value(&mut self, ty: u32, what: &str, depth: u32) -> Result<Option<u64>, String> {
        let scalar = |ty: u32| -> Option<u64> {
            match ty {
                0 | 1 | 7 => Some(1),
                2 | 3 => Some(2),
                4..=6 => Some(4),
                10..=12 => Some(8),
                _ => None,
            }
        };
        if let Some(n) = scalar(ty) {
            let b = self.bytes(n, what)?;
            return Ok(Some(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))));
        }
        match ty {
            8 => {
                self.string(what)?;
                Ok(None)
            }
            9 if depth == 0 => {
                let item = self.u32(what)?;
                let n = self.u64(what)?;
                if let Some(sz) = scalar(item) {
                    self.bytes(n.saturating_mul(sz), what)?;
                } else {
                    if n > self.size {
                        return Err(format!("{what}: array of {n} items cannot fit the file"));
                    }
                    for _ in 0..n {
                        self.value(item, what, depth + 1)?;
                    }
                }
                Ok(None)
            }
            _ => Err(format!("{what}: unknown metadata value type {ty}")),
        }
    }
}

fn walk(r: &mut Reader) -> Result<HeaderSummary, String> {
    let magic = r.bytes(4, "magic").map_err(|_| "too short to be a GGUF file".to_owned())?;
    if magic != b"GGUF" {
        return Err(format!("not a GGUF file (magic {:?})", String::from_utf8_lossy(&magic)));
    }
    let version = r.u32("version")?;
    if !(2..=3).contains(&version) {
        return Err(format!("unsupported GGUF version {version}"));
    }
    let n_tensors = r.u64("tensor count")?;
    let n_kv = r.u64("metadata count")?;
    // Every entry takes at least 8 bytes; larger counts cannot be honest.
    if n_tensors > r.size / 8 || n_kv > r.size / 8 {
        return Err(format!("implausible counts: {n_tensors} tensors, {n_kv} metadata entries"));
    }
    let mut alignment = 32u64;
    let mut ints: std::collections::HashMap<String, u64> = Default::default();
    for i in 0..n_kv {
        let key = r.string(&format!("metadata key {i}"))?;
        let key = String::from_utf8_lossy(&key).into_owned();
        let ty = r.u32(&format!("type of `{key}`"))?;
        let v = r.value(ty, &format!("value of `{key}`"), 0)?;
        if key == "general.alignment" {
            alignment =
                v.filter(|a| *a > 0 && a.is_power_of_two()).ok_or("bad `general.alignment`")?;
        }
        if let (Some(v), Some(suffix)) = (v, key.split_once('.').map(|(_, s)| s)) {
            ints.insert(suffix.to_owned(), v);
        }
    }
    let mut data_len = 0u64;
    for i in 0..n_tensors {
        let name = r.string(&format!("tensor {i} name"))?;
        let name = String::from_utf8_lossy(&name).into_owned();
        let n_dims = r.u32(&format!("tensor `{name}` dims"))?;
        if n_dims == 0 || n_dims > 4 {
            return Err(format!("tensor `{name}` has {n_dims} dimensions"));
        }
        let mut elems = 1u64;
        for _ in 0..n_dims {
            elems = elems.saturating_mul(r.u64(&format!("tensor `{name}` shape"))?);
        }
        let ty = r.u32(&format!("tensor `{name}` type"))?;
        let offset = r.u64(&format!("tensor `{name}` offset"))?;
        let size = tensor_bytes(ty, elems).unwrap_or(0);
        data_len = data_len.max(offset.saturating_add(size));
    }
    let data_start = r.pos.div_ceil(alignment) * alignment;
    let data_end = data_start.saturating_add(data_len);
    if n_tensors == 0 {
        return Err("the file holds no tensors".to_owned());
    }
    if data_end > r.size {
        return Err(format!(
            "truncated: tensor data ends at byte {data_end} but the file has {} bytes",
            r.size
        ));
    }
    let kv_bytes_per_token = kv_estimate(&ints);
    Ok(HeaderSummary { version, n_tensors, n_kv, data_end, file_size: r.size, kv_bytes_per_token })
}

/// f16 K and V bytes per token: layers × kv heads × (key + value length) × 2 bytes.
fn kv_estimate(ints: &std::collections::HashMap<String, u64>) -> Option<u64> {
    let layers = *ints.get("block_count")?;
    let heads = *ints.get("attention.head_count")?;
    let kv_heads = ints.get("attention.head_count_kv").copied().unwrap_or(heads);
    let head_dim = ints.get("embedding_length").map(|e| e / heads.max(1));
    let k = ints.get("attention.key_length").copied().or(head_dim)?;
    let v = ints.get("attention.value_length").copied().unwrap_or(k);
    Some(layers.saturating_mul(kv_heads).saturating_mul(k + v).saturating_mul(2))
}

/// Bytes of a tensor of ggml type `ty` with `elems` elements (None: unknown type).
fn tensor_bytes(ty: u32, elems: u64) -> Option<u64> {
    let (block, size) = match ty {
        0 => (1, 4),
        1 | 30 => (1, 2),
        2 | 20 => (32, 18),
        3 => (32, 20),
        6 => (32, 22),
        7 => (32, 24),
        8 => (32, 34),
        9 => (32, 36),
        10 => (256, 84),
        11 | 21 => (256, 110),
        12 => (256, 144),
        13 => (256, 176),
        14 => (256, 210),
        15 => (256, 292),
        16 => (256, 66),
        17 => (256, 74),
        18 => (256, 98),
        19 => (256, 50),
        22 => (256, 82),
        23 => (256, 136),
        24 => (1, 1),
        25 => (1, 2),
        26 => (1, 4),
        27 | 28 => (1, 8),
        29 => (256, 56),
        34 => (256, 54),
        35 => (256, 66),
        39 => (32, 17),
        _ => return None,
    };
    Some(elems.div_ceil(block).saturating_mul(size))
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
    fn rejects_empty_foreign_and_bad_version() {
        for (bytes, want) in [
            (&b""[..], "too short"),
            (b"PK\x03\x04zipzipzip", "not a GGUF"),
            (b"GGUF\x09\0\0\0", "version 9"),
            (b"GGUF\x03\0\0\0\x01\0\0", "truncated"),
        ] {
            let f = write(bytes);
            let err = check_gguf(f.path()).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn rejects_huge_counts() {
        let mut b = b"GGUF\x03\0\0\0".to_vec();
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        let err = check_gguf(write(&b).path()).unwrap_err().to_string();
        assert!(err.contains("implausible"), "{err}");
    }
}
