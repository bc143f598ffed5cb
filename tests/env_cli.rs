//! `noa env` and the `--help` footer through the real binary: the footer points to the
//! list, the list is the registry's (`noa_registry::env_vars::ALL`), the Markdown is the
//! README's table, and a variable's value is never printed, only whether it is set.

mod common;

use common::TestHome;
use noa_registry::env_vars;
use serde_json::Value;

#[test]
fn help_points_to_noa_env() {
    let home = TestHome::new();
    let help = home.run_ok(&["--help"]);
    assert!(help.contains("`noa env` lists them all"), "{help}");
    assert!(help.contains("env "), "the subcommand is listed: {help}");
}

#[test]
fn env_lists_every_variable_with_its_doc() {
    let home = TestHome::new();
    let out = home.run_ok(&["env"]);
    for v in env_vars::ALL {
        assert!(out.contains(v.name), "`{}` missing from `noa env`:\n{out}", v.name);
        assert!(out.contains(&v.summary()), "doc of `{}` missing:\n{out}", v.name);
    }
    assert_eq!(home.run_ok(&["env", "--markdown"]), env_vars::markdown());
}

#[test]
fn env_json_says_which_are_set_without_their_values() {
    let home = TestHome::new();
    let secret = "hf_not_a_real_token_0123456789";
    let out = home
        .noa()
        .args(["env", "--json"])
        .env(env_vars::HF_TOKEN, secret)
        .env_remove(env_vars::NOA_SERVE_PARALLEL)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(secret), "a value leaked: {text}");
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(rows.len(), env_vars::ALL.len());
    let set = |name: &str| rows.iter().find(|r| r["name"] == name).map(|r| r["set"].clone());
    assert_eq!(set(env_vars::HF_TOKEN), Some(Value::Bool(true)));
    assert_eq!(set(env_vars::NOA_HOME), Some(Value::Bool(true)), "TestHome sets NOA_HOME");
    assert_eq!(set(env_vars::NOA_SERVE_PARALLEL), Some(Value::Bool(false)));
}
