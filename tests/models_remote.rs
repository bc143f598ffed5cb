//! `noa models add --endpoint / verify / list / remove` for remote models, through the
//! real binary against a real OpenAI-compatible server (a second `noa serve` with the
//! SmolLM2 test model, in its own home), plus the schema 1 → 2 upgrade of the client's
//! `models.json` on its first write.

mod common;

use common::serve::Server;
use common::{TestHome, model_entry, smollm2, write_registry};
use noa_registry::UseCase;

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn row<'a>(rows: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    rows.as_array().unwrap().iter().find(|r| r["id"] == id)
}

#[test]
fn remote_models_are_added_verified_listed_and_removed() {
    let server_home = TestHome::new();
    write_registry(&server_home, vec![model_entry("smollm2", &smollm2(), &[UseCase::General])]);
    let server = Server::start(&server_home, &["--threads", "2"], &[]);
    let url = format!("http://{}", server.addr);

    let home = TestHome::new();
    let v1 = "{\n  \"schema\": 1,\n  \"hosts\": [],\n  \"models\": []\n}\n";
    std::fs::write(home.path().join("models.json"), v1).unwrap();

    let id = home.run_ok(&[
        "models",
        "add",
        "--endpoint",
        &url,
        "--model",
        "smollm2",
        "--privacy",
        "lan",
    ]);
    assert_eq!(id.trim(), "smollm2");
    // The first write upgraded the v1 file, keeping it byte for byte.
    assert_eq!(std::fs::read_to_string(home.path().join("models.json.v1.bak")).unwrap(), v1);
    let reg = json(&std::fs::read_to_string(home.path().join("models.json")).unwrap());
    assert_eq!(reg["schema"], 2);
    assert_eq!(reg["models"][0]["remote"]["endpoint"], format!("{url}/v1"));
    assert_eq!(reg["models"][0]["declared"]["privacy"], "private");

    // Same id again: refused unless --force.
    let again = home.run(&["models", "add", "--endpoint", &url, "--model", "smollm2"]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(stderr(&again).contains("already registered") && stderr(&again).contains("--force"));
    home.run_ok(&[
        "models",
        "add",
        "--endpoint",
        &url,
        "--model",
        "smollm2",
        "--privacy",
        "lan",
        "--force",
    ]);

    // A model the server does not serve, and a key variable that is not set.
    home.run_ok(&["models", "add", "--endpoint", &url, "--model", "nope", "--id", "ghost"]);
    let unset = "REMOTE_TEST_KEY_THAT_IS_NOT_SET";
    home.run_ok(&[
        "models",
        "add",
        "--endpoint",
        &url,
        "--model",
        "smollm2",
        "--id",
        "keyed",
        "--api-key-env",
        unset,
    ]);
    let pasted =
        home.run(&["models", "add", "--endpoint", &url, "--model", "m", "--api-key-env", "sk-123"]);
    assert_eq!(pasted.status.code(), Some(1));
    assert!(stderr(&pasted).contains("not an environment variable name"), "{}", stderr(&pasted));

    let ok = home.run_ok(&["models", "verify", "smollm2"]);
    assert!(ok.starts_with("smollm2\tok (remote `smollm2`"), "{ok}");
    for (bad, why) in [("ghost", "does not serve model `nope`"), ("keyed", unset)] {
        let out = home.run(&["models", "verify", bad]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{bad}: {}", stderr(&out));
    }

    let rows = json(&home.run_ok(&["models", "list", "--json"]));
    let r = row(&rows, "smollm2").unwrap();
    assert_eq!((r["status"].as_str(), r["privacy"].as_str()), (Some("remote"), Some("private")));
    assert_eq!(r["remote"]["endpoint"], format!("{url}/v1"));
    assert!(r["remote"]["verified_at"].is_string(), "{r}");
    assert!(row(&rows, "ghost").unwrap()["remote"]["verified_at"].is_null());
    assert!(row(&rows, "gemma-3-270m").unwrap().get("remote").is_none(), "local rows unchanged");
    let table = home.run_ok(&["models", "list"]);
    let line = table.lines().find(|l| l.starts_with("smollm2 ")).unwrap();
    assert!(line.contains("remote") && line.contains(&format!("at {url}/v1, verified")), "{line}");
    assert!(line.contains("[private"), "{line}");

    home.run_ok(&["models", "remove", "ghost"]);
    let rows = json(&home.run_ok(&["models", "list", "--json"]));
    assert!(row(&rows, "ghost").is_none() && row(&rows, "keyed").is_some());
}

#[test]
fn adding_a_remote_model_to_an_unreadable_registry_is_the_user_s_error_and_writes_nothing() {
    let home = TestHome::new();
    let bad = "{\n  \"schema\": 2,\n  \"models\": [}\n";
    let reg = home.path().join("models.json");
    std::fs::write(&reg, bad).unwrap();
    let out = home.run(&["models", "add", "--endpoint", "http://127.0.0.1:9", "--model", "m"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 3, column"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&reg).unwrap(), bad);
    let out = home.run(&["models", "add", "--endpoint", "gpu-box:8080", "--model", "m"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("must start with http://"), "{}", stderr(&out));
}
