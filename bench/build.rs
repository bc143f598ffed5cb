//! Compiles the repository's `evalsets/*/` (suite manifests and in-project items) into
//! the library, so an installed `noa` binary has the project's own suites without a
//! checkout next to it. Folders on disk (`--suites-dir`, `NOA_SUITES_DIR`) can still
//! add suites or override these by id.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // The folder at run time, not `env!` at the build script's compile time: a build
    // script binary is reused by every checkout sharing a target directory, and one
    // compiled in another (since deleted) checkout would embed nothing.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).join("../evalsets");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    if let Ok(dirs) = std::fs::read_dir(&root) {
        for dir in dirs.flatten() {
            let path = dir.path();
            if !path.is_dir() {
                continue;
            }
            println!("cargo:rerun-if-changed={}", path.display());
            let Ok(entries) = std::fs::read_dir(&path) else { continue };
            for entry in entries.flatten() {
                let p = entry.path();
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                let small = entry.metadata().map(|m| m.len() < 4 << 20).unwrap_or(false);
                if p.is_file() && small && matches!(ext, "toml" | "jsonl" | "json") {
                    println!("cargo:rerun-if-changed={}", p.display());
                    files.push(p);
                }
            }
        }
    }
    assert!(
        files.iter().any(|p| p.file_name().is_some_and(|n| n == "suite.toml")),
        "no suite.toml under {}: the binary would have no built-in suites",
        root.display()
    );
    files.sort();
    let mut out = String::from("pub static FILES: &[(&str, &str, &str)] = &[\n");
    for p in &files {
        let dir = p.parent().and_then(|d| d.file_name()).and_then(|n| n.to_str()).unwrap_or("");
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let abs = p.canonicalize().unwrap_or_else(|_| p.clone());
        let _ = writeln!(
            out,
            "    ({dir:?}, {name:?}, include_str!({:?})),",
            abs.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"))
        .join("builtin_suites.rs");
    std::fs::write(dest, out).expect("write builtin_suites.rs");
}
