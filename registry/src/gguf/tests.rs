//! Hand-built GGUF bytes (good and broken) and the two real default models.

use super::writer::GgufWriter;
use super::*;
use crate::testing::{GEMMA3_FILE, SMOLLM2_FILE, test_model};

fn good() -> GgufWriter {
    GgufWriter::new("llama")
        .kv("general.name", Value::String("tiny".into()))
        .kv("general.file_type", Value::U32(15))
        .kv("llama.context_length", Value::U32(2048))
        .kv("tokenizer.chat_template", Value::String("{{ messages }}".into()))
        .kv("tokenizer.ggml.tokens", Value::Array(vec![Value::String("a".into()); 3]))
        .kv("x.all", Value::Array(vec![Value::I8(-1), Value::I8(2)]))
        .kv("x.u8", Value::U8(1))
        .kv("x.i16", Value::I16(-3))
        .kv("x.u16", Value::U16(3))
        .kv("x.i32", Value::I32(-4))
        .kv("x.f32", Value::F32(0.5))
        .kv("x.bool", Value::Bool(true))
        .kv("x.u64", Value::U64(1 << 40))
        .kv("x.i64", Value::I64(-5))
        .kv("x.f64", Value::F64(0.25))
        .kv("x.nested", Value::Array(vec![Value::Array(vec![Value::U32(1)])]))
        .f32_tensor("tok_embd.weight", &[4, 3], 1.0)
        .f32_tensor("output_norm.weight", &[5], 0.0)
}

fn parse_bytes(b: &[u8]) -> Result<GgufHeader, String> {
    parse(b, b.len() as u64)
}

#[test]
fn reads_every_value_type_and_the_summary() {
    let bytes = good().to_bytes();
    let h = parse_bytes(&bytes).unwrap();
    assert_eq!(h.version, 3);
    assert_eq!(h.architecture(), "llama");
    assert_eq!(h.context_length(), Some(2048));
    assert_eq!(h.quantization().as_deref(), Some("Q4_K_M"));
    assert_eq!(h.chat_template(), Some("{{ messages }}"));
    assert_eq!(h.parameter_count(), 17);
    assert_eq!(h.get("x.i64"), Some(&Value::I64(-5)));
    assert_eq!(h.get("x.nested"), Some(&Value::Array(vec![Value::Array(vec![Value::U32(1)])])));
    let s = h.summary();
    assert_eq!((s.tensor_count, s.chat_template, s.parameter_count), (2, true, Some(17)));
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let bytes = good().to_bytes();
    let h = parse_bytes(&bytes).unwrap();
    // Only the padding after the last tensor's data may be cut off.
    let end = h.tensors.iter().map(|t| h.data_offset + t.offset + t.size).max().unwrap() as usize;
    assert!(end < bytes.len());
    for cut in 0..end {
        let err = parse_bytes(&bytes[..cut]).unwrap_err();
        assert!(!err.is_empty());
    }
    assert!(parse_bytes(&bytes[..end]).is_ok());
}

#[test]
fn empty_and_non_gguf_files_are_named() {
    assert_eq!(parse_bytes(b"").unwrap_err(), "the file is empty");
    assert!(parse_bytes(b"PK\x03\x04 not a gguf").unwrap_err().contains("no GGUF magic"));
    let mut v1 = good().to_bytes();
    v1[4] = 1;
    assert!(parse_bytes(&v1).unwrap_err().contains("version 1 is not supported"));
}

#[test]
fn lying_lengths_do_not_allocate() {
    // A string length of 2^62 right after the counts.
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&(1u64 << 62).to_le_bytes());
    b.extend_from_slice(&[0; 32]);
    assert!(parse_bytes(&b).unwrap_err().contains("claims"));
    // A huge metadata count.
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(parse_bytes(&b).unwrap_err().contains("more than the file can hold"));
    // A huge array inside a valid key.
    let mut b = GgufWriter::new("llama").to_bytes();
    b.truncate(24);
    b[16..24].copy_from_slice(&2u64.to_le_bytes());
    let mut kv = Vec::new();
    kv.extend_from_slice(&(1u64).to_le_bytes());
    kv.push(b'a');
    kv.extend_from_slice(&9u32.to_le_bytes());
    kv.extend_from_slice(&8u32.to_le_bytes());
    kv.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
    b.extend_from_slice(&kv);
    b.extend_from_slice(&[0; 64]);
    assert!(parse_bytes(&b).unwrap_err().contains("array elements"));
}

#[test]
fn tensor_data_past_the_end_is_truncation() {
    let bytes = good().to_bytes();
    let cut = &bytes[..bytes.len() - 32];
    let err = parse_bytes(cut).unwrap_err();
    assert!(err.contains("tensor `output_norm.weight`"), "{err}");
}

#[test]
fn corrupt_bytes_never_panic() {
    let bytes = good().to_bytes();
    // Flip every byte of the header in turn; some results parse, none may panic.
    for i in 0..bytes.len().min(600) {
        let mut b = bytes.clone();
        b[i] ^= 0xff;
        let _ = parse_bytes(&b);
    }
}

#[test]
fn missing_architecture_is_rejected() {
    let b = GgufWriter::default().kv("general.name", Value::String("x".into())).to_bytes();
    assert!(parse_bytes(&b).unwrap_err().contains("general.architecture"));
}

#[test]
fn read_header_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.gguf");
    std::fs::write(&p, b"").unwrap();
    let err = read_header(&p).unwrap_err().to_string();
    assert!(err.contains("empty.gguf") && err.contains("empty"), "{err}");
}

#[test]
fn real_smollm2_header() {
    let h = read_header(&test_model(SMOLLM2_FILE)).unwrap();
    assert_eq!(h.architecture(), "llama");
    assert_eq!(h.quantization().as_deref(), Some("Q4_1"));
    assert!(h.chat_template().is_some_and(|t| t.contains("im_start")));
    assert_eq!(h.context_length(), Some(8192));
    let p = h.parameter_count();
    assert!((130_000_000..140_000_000).contains(&p), "{p}");
}

#[test]
fn real_gemma_header() {
    let h = read_header(&test_model(GEMMA3_FILE)).unwrap();
    assert_eq!(h.architecture(), "gemma3");
    assert_eq!(h.quantization().as_deref(), Some("Q4_K_M"));
    assert!(h.context_length().is_some());
    let p = h.parameter_count();
    assert!((250_000_000..300_000_000).contains(&p), "{p}");
}
