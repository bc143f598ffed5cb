//! Bad model files are errors, never aborts; and the pool evicts the least recently
//! used model when a tiny budget forces it.

use std::io::Write;

use noa_engine::pool::estimate_bytes;
use noa_engine::{EngineError, Model, ModelPool, PoolBudget};

use crate::common::{GEMMA, SMOLLM, config, model_path};

fn load_bytes(bytes: &[u8]) -> Result<Model, EngineError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    Model::load(f.path(), &config())
}

#[test]
fn truncated_corrupt_and_foreign_files_are_bad_model_errors() {
    let real = std::fs::read(model_path(SMOLLM)).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not gguf", b"<html>not a model</html>".to_vec()),
        ("header only", real[..4096].to_vec()),
        ("truncated data", real[..real.len() / 2].to_vec()),
        ("garbage after magic", {
            let mut v = real[..64].to_vec();
            v.extend(std::iter::repeat_n(0xffu8, 4096));
            v
        }),
    ];
    for (what, bytes) in cases {
        match load_bytes(&bytes) {
            Err(EngineError::BadModel { .. }) => {}
            other => panic!("{what}: expected BadModel, got {other:?}"),
        }
    }
    let missing = Model::load(std::path::Path::new("/nonexistent/x.gguf"), &config()).unwrap_err();
    assert!(matches!(missing, EngineError::BadModel { .. }), "{missing}");
}

#[test]
fn pool_evicts_least_recently_used_under_a_tiny_budget() {
    let (a, b) = (model_path(SMOLLM), model_path(GEMMA));
    let cfg = config();
    let (ea, eb) = (estimate_bytes(&a, &cfg).unwrap(), estimate_bytes(&b, &cfg).unwrap());
    let pool = ModelPool::new(cfg, PoolBudget::Bytes(ea.max(eb) + 1));
    pool.get("smollm", &a).unwrap();
    assert_eq!(pool.loaded(), vec!["smollm"]);
    pool.get("gemma", &b).unwrap();
    assert_eq!(pool.loaded(), vec!["gemma"], "smollm should have been evicted");
    pool.get("gemma", &b).unwrap();
    pool.get("smollm", &a).unwrap();
    assert_eq!(pool.loaded(), vec!["smollm"]);
    assert!(pool.held_bytes() <= ea.max(eb) + 1);

    let roomy = ModelPool::new(config(), PoolBudget::Bytes(ea + eb + 1));
    roomy.get("smollm", &a).unwrap();
    roomy.get("gemma", &b).unwrap();
    roomy.get("smollm", &a).unwrap();
    assert_eq!(roomy.loaded(), vec!["smollm", "gemma"]);

    let tiny = ModelPool::new(config(), PoolBudget::Bytes(1024));
    assert!(matches!(tiny.get("smollm", &a), Err(EngineError::Unavailable(_))));
}
