//! `registry/models.schema.json` is generated from the `Registry` type with schemars
//! and committed. This test fails when the committed file is stale. Regenerate with:
//!
//! ```sh
//! NOA_UPDATE_SCHEMA=1 cargo test --release -p noa-registry --test schema
//! ```

use std::path::Path;

use noa_registry::{Registry, env_vars};

#[test]
fn committed_json_schema_is_current() {
    let schema = schemars::schema_for!(Registry);
    let text = serde_json::to_string_pretty(&schema).expect("schema serialises") + "\n";
    // At run time, not `env!`: cargo reuses a test binary across checkouts that share a
    // target directory, and `env!` would point at the one it was compiled in.
    let root = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
    let path = Path::new(&root).join("models.schema.json");
    if std::env::var_os(env_vars::NOA_UPDATE_SCHEMA).is_some() {
        std::fs::write(&path, &text).expect("write models.schema.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "`{}` is stale or missing; regenerate it with `NOA_UPDATE_SCHEMA=1 cargo test --release -p noa-registry --test schema`",
        path.display()
    );
}

#[test]
fn an_empty_registry_round_trips_and_validates_its_own_version() {
    let r = Registry::default();
    let text = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<Registry>(&text).unwrap(), r);
    assert!(text.contains("\"schema\":2"));
}
