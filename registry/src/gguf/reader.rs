//! The byte-level GGUF parser behind [`super::read_header`]. It reads from any
//! `Read` (a file, or a byte slice for the fuzz target) and knows the total length, so
//! every count and length can be checked against the bytes that remain before
//! anything is allocated.

use std::io::Read;

use super::types::ggml_type_layout;
use super::{GgufHeader, TensorInfo, Value};

const MAGIC: &[u8; 4] = b"GGUF";
/// Longest string accepted (chat templates are kilobytes; tokens are bytes).
const MAX_STRING: u64 = 16 << 20;
/// Most metadata entries, tensors, and array elements accepted in one file.
const MAX_COUNT: u64 = 1 << 24;
/// Most values (array elements included) held in memory for one header.
const MAX_VALUES: u64 = 1 << 25;
const MAX_DIMS: u32 = 4;
const MAX_DEPTH: u32 = 3;

struct Reader<R> {
    inner: R,
    pos: u64,
    len: u64,
    values: u64,
}

type Res<T> = Result<T, String>;

impl<R: Read> Reader<R> {
    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn need(&self, n: u64, what: &str) -> Res<()> {
        if n > self.remaining() {
            return Err(format!(
                "truncated: {what} at byte {} needs {n} bytes but the file ends at byte {}",
                self.pos, self.len
            ));
        }
        Ok(())
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Res<[u8; N]> {
        self.need(N as u64, what)?;
        let mut buf = [0u8; N];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| format!("cannot read {what} at byte {}: {e}", self.pos))?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Res<u32> {
        self.bytes::<4>(what).map(u32::from_le_bytes)
    }
    fn u64(&mut self, what: &str) -> Res<u64> {
        self.bytes::<8>(what).map(u64::from_le_bytes)
    }

    fn string(&mut self, what: &str) -> Res<String> {
        let n = self.u64(what)?;
        if n > MAX_STRING {
            return Err(format!(
                "{what} at byte {} claims {n} bytes (limit {MAX_STRING})",
                self.pos
            ));
        }
        self.need(n, what)?;
        let mut buf = Vec::with_capacity(n as usize);
        (&mut self.inner)
            .take(n)
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read {what} at byte {}: {e}", self.pos))?;
        if buf.len() as u64 != n {
            return Err(format!("truncated: {what} at byte {} is cut short", self.pos));
        }
        self.pos += n;
        String::from_utf8(buf)
            .map_err(|_| format!("{what} ending at byte {} is not UTF-8", self.pos))
    }

    fn count_value(&mut self) -> Res<()> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(format!("more than {MAX_VALUES} metadata values"));
        }
        Ok(())
    }

    fn value(&mut self, ty: u32, key: &str, depth: u32) -> Res<Value> {
        self.count_value()?;
        Ok(match ty {
            0 => Value::U8(self.bytes::<1>(key)?[0]),
            1 => Value::I8(i8::from_le_bytes(self.bytes::<1>(key)?)),
            2 => Value::U16(u16::from_le_bytes(self.bytes::<2>(key)?)),
            3 => Value::I16(i16::from_le_bytes(self.bytes::<2>(key)?)),
            4 => Value::U32(self.u32(key)?),
            5 => Value::I32(i32::from_le_bytes(self.bytes::<4>(key)?)),
            6 => Value::F32(f32::from_le_bytes(self.bytes::<4>(key)?)),
            7 => match self.bytes::<1>(key)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(format!("metadata `{key}` has boolean byte {b}")),
            },
            8 => Value::String(self.string(key)?),
            9 => {
                if depth >= MAX_DEPTH {
                    return Err(format!("metadata `{key}` nests arrays deeper than {MAX_DEPTH}"));
                }
                let elem = self.u32(key)?;
                let n = self.u64(key)?;
                let min = min_size(elem).ok_or_else(|| {
                    format!("metadata `{key}` is an array of unknown type {elem}")
                })?;
                if n > MAX_COUNT || n.saturating_mul(min) > self.remaining() {
                    return Err(format!(
                        "metadata `{key}` claims {n} array elements, more than the file can hold"
                    ));
                }
                let mut items = Vec::with_capacity(n.min(4096) as usize);
                for _ in 0..n {
                    items.push(self.value(elem, key, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::U64(self.u64(key)?),
            11 => Value::I64(i64::from_le_bytes(self.bytes::<8>(key)?)),
            12 => Value::F64(f64::from_le_bytes(self.bytes::<8>(key)?)),
            t => return Err(format!("metadata `{key}` has unknown value type {t}")),
        })
    }

    fn skip_to(&mut self, offset: u64) -> Res<()> {
        let n = offset - self.pos;
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|e| format!("cannot read padding at byte {}: {e}", self.pos))?;
        if copied != n {
            return Err(format!("truncated: padding at byte {} is cut short", self.pos));
        }
        self.pos = offset;
        Ok(())
    }
}

/// Smallest encoded size of one value of type `ty`.
fn min_size(ty: u32) -> Option<u64> {
    Some(match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 | 10..=12 => 8,
        9 => 12,
        _ => return None,
    })
}

/// Parse a GGUF header from `r`, whose total length is `len` bytes. Errors are plain
/// descriptions of what is wrong; [`super::read_header`] adds the file name.
pub fn parse<R: Read>(r: R, len: u64) -> Result<GgufHeader, String> {
    if len == 0 {
        return Err("the file is empty".to_owned());
    }
    let mut rd = Reader { inner: r, pos: 0, len, values: 0 };
    let (version, n_tensors, n_kv) = rd.preamble()?;
    let metadata = rd.metadata(n_kv)?;
    let alignment = alignment(&metadata)?;
    let mut tensors = Vec::with_capacity(n_tensors.min(4096) as usize);
    for i in 0..n_tensors {
        tensors.push(rd.tensor_info(i, alignment)?);
    }
    let data_offset = rd.pos.div_ceil(alignment).saturating_mul(alignment);
    if data_offset > len {
        return Err(format!("tensor data would start at byte {data_offset}, past the end ({len})"));
    }
    rd.skip_to(data_offset)?;
    check_tensor_data(&tensors, data_offset, len)?;
    if !matches!(
        metadata.iter().find(|(k, _)| k == "general.architecture"),
        Some((_, Value::String(_)))
    ) {
        return Err("metadata has no `general.architecture` string".to_owned());
    }
    Ok(GgufHeader { version, metadata, tensors, data_offset, file_size: len })
}

impl<R: Read> Reader<R> {
    /// Magic, version and the two counts: `(version, tensors, metadata entries)`, the
    /// counts checked against the bytes that remain.
    fn preamble(&mut self) -> Res<(u32, u64, u64)> {
        let magic = self.bytes::<4>("magic")?;
        if &magic != MAGIC {
            return Err(format!("no GGUF magic (starts with {magic:02x?}, expected \"GGUF\")"));
        }
        let version = self.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(format!("GGUF version {version} is not supported (2 and 3 are)"));
        }
        let n_tensors = self.u64("tensor count")?;
        let n_kv = self.u64("metadata count")?;
        // A key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes.
        if n_kv > MAX_COUNT || n_kv.saturating_mul(13) > self.remaining() {
            return Err(format!(
                "header claims {n_kv} metadata entries, more than the file can hold"
            ));
        }
        // A tensor info takes at least 8 + 4 + 4 + 8 bytes.
        if n_tensors > MAX_COUNT || n_tensors.saturating_mul(24) > self.remaining() {
            return Err(format!("header claims {n_tensors} tensors, more than the file can hold"));
        }
        Ok((version, n_tensors, n_kv))
    }

    /// `n_kv` key/value pairs, each key once.
    fn metadata(&mut self, n_kv: u64) -> Res<Vec<(String, Value)>> {
        let mut metadata: Vec<(String, Value)> = Vec::with_capacity(n_kv.min(4096) as usize);
        for i in 0..n_kv {
            let key = self.string(&format!("metadata key #{i}"))?;
            let ty = self.u32(&key)?;
            let value = self.value(ty, &key, 0)?;
            if metadata.iter().any(|(k, _)| *k == key) {
                return Err(format!("metadata key `{key}` appears twice"));
            }
            metadata.push((key, value));
        }
        Ok(metadata)
    }

    /// The `i`-th tensor's info, its shape, type and offset checked.
    fn tensor_info(&mut self, i: u64, alignment: u64) -> Res<TensorInfo> {
        let name = self.string(&format!("name of tensor #{i}"))?;
        let n_dims = self.u32(&name)?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(format!(
                "tensor `{name}` has {n_dims} dimensions (1 to {MAX_DIMS} allowed)"
            ));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(self.u64(&name)?);
        }
        let ggml_type = self.u32(&name)?;
        let offset = self.u64(&name)?;
        let size = tensor_bytes(&name, &dims, ggml_type)?;
        if offset % alignment != 0 {
            return Err(format!("tensor `{name}` offset {offset} is not aligned to {alignment}"));
        }
        Ok(TensorInfo { name, dims, ggml_type, offset, size })
    }
}

/// `general.alignment`, or GGUF's default of 32.
fn alignment(metadata: &[(String, Value)]) -> Res<u64> {
    match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => Ok(32),
        Some((_, v)) => match v.as_u64() {
            Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => Ok(a),
            _ => Err(format!("general.alignment {v:?} is not a power of two")),
        },
    }
}

/// Every tensor's data lies inside the file.
fn check_tensor_data(tensors: &[TensorInfo], data_offset: u64, len: u64) -> Res<()> {
    for t in tensors {
        let end = data_offset.checked_add(t.offset).and_then(|o| o.checked_add(t.size));
        match end {
            Some(end) if end <= len => {}
            _ => {
                return Err(format!(
                    "truncated: tensor `{}` needs bytes up to {} but the file has {len}",
                    t.name,
                    data_offset as u128 + t.offset as u128 + t.size as u128
                ));
            }
        }
    }
    Ok(())
}

/// Bytes a tensor of shape `dims` and ggml type `ty` occupies; checked arithmetic.
fn tensor_bytes(name: &str, dims: &[u64], ty: u32) -> Result<u64, String> {
    let (tname, block, bytes) = ggml_type_layout(ty)
        .ok_or_else(|| format!("tensor `{name}` has unknown ggml type {ty}"))?;
    let elems = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("tensor `{name}` shape {dims:?} overflows"))?;
    if dims.first().is_some_and(|&d| d % block != 0) {
        return Err(format!(
            "tensor `{name}` row of {} is not a multiple of the {tname} block ({block})",
            dims[0]
        ));
    }
    (elems / block).checked_mul(bytes).ok_or_else(|| format!("tensor `{name}` size overflows"))
}
