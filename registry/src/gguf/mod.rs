//! Our own GGUF header reader. Every model is checked here before llama.cpp sees it,
//! so a truncated download, a corrupt file or something that is not GGUF at all is a
//! clear error naming the file — never an abort inside C++. The reader is defensive:
//! every length field is checked against the bytes actually left in the file and
//! against fixed caps before anything is allocated, and it never panics (there is a
//! cargo-fuzz target for that in `fuzz/`).

mod reader;
mod types;
pub mod writer;

use std::path::{Path, PathBuf};

pub use reader::parse;
pub use types::{file_type_name, ggml_type_name};

use crate::error::{Error, Result};
use crate::schema::GgufSummary;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Vec<Value>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Value {
    /// The value as an unsigned integer, when it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// One tensor's description from the header.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    /// ggml type id.
    pub ggml_type: u32,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Bytes of data.
    pub size: u64,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        // Checked during parsing: the product does not overflow.
        self.dims.iter().product()
    }
}

/// Everything in a GGUF file before the tensor data.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    /// Byte offset where tensor data starts.
    pub data_offset: u64,
    pub file_size: u64,
}

impl GgufHeader {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// `general.architecture` (empty string if absent, which [`parse`] rejects).
    pub fn architecture(&self) -> &str {
        self.get("general.architecture").and_then(Value::as_str).unwrap_or_default()
    }
    /// `<arch>.context_length`.
    pub fn context_length(&self) -> Option<u64> {
        self.get(&format!("{}.context_length", self.architecture())).and_then(Value::as_u64)
    }
    /// `general.file_type` as a number.
    pub fn file_type(&self) -> Option<u64> {
        self.get("general.file_type").and_then(Value::as_u64)
    }
    /// `general.file_type` as a quantisation name (`Q4_K_M`), when known.
    pub fn quantization(&self) -> Option<String> {
        self.file_type().map(|t| {
            u32::try_from(t)
                .ok()
                .and_then(file_type_name)
                .map_or_else(|| format!("file_type {t}"), str::to_owned)
        })
    }
    /// The text of `tokenizer.chat_template`, if present.
    pub fn chat_template(&self) -> Option<&str> {
        self.get("tokenizer.chat_template").and_then(Value::as_str)
    }
    /// Total elements of all tensors: the parameter count.
    pub fn parameter_count(&self) -> u64 {
        self.tensors.iter().map(TensorInfo::elements).fold(0u64, u64::saturating_add)
    }
    /// The facts the registry keeps.
    pub fn summary(&self) -> GgufSummary {
        GgufSummary {
            version: self.version,
            architecture: self.architecture().to_owned(),
            context_length: self.context_length(),
            file_type: self.quantization(),
            chat_template: self.chat_template().is_some(),
            parameter_count: Some(self.parameter_count()),
            tensor_count: self.tensors.len() as u64,
        }
    }
}

/// Read and validate the header of the GGUF file at `path`.
pub fn read_header(path: &Path) -> Result<GgufHeader> {
    let gguf_err = |reason: String| Error::Gguf { path: PathBuf::from(path), reason };
    let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let len = file.metadata().map_err(|e| Error::io("stat", path, e))?.len();
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    parse(reader, len).map_err(gguf_err)
}

#[cfg(test)]
mod tests;
