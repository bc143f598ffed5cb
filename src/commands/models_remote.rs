//! The remote-model half of `noa models`: `add --endpoint` registers a model served by
//! an OpenAI-compatible server elsewhere (no network needed), and `verify` checks one
//! answers (listed by `GET /models`, one tiny completion) and records what the server
//! said. Kept apart from `models.rs`, which handles local GGUF files.

use std::time::Duration;

use noa_registry::remote::normalize_endpoint;
use noa_registry::{
    Error, ModelEntry, PrivacyTier, RegistryStore, RemoteModel, RemoteVerification, UseCase,
    catalog, now_rfc3339,
};
use noa_remote::{ClientConfig, RemoteClient};

use super::{Context, UserError};

/// What `noa models add --endpoint` was given.
#[derive(Debug)]
pub struct RemoteAdd {
    pub endpoint: String,
    pub model: String,
    pub api_key_env: Option<String>,
    pub privacy: Option<PrivacyTier>,
    pub id: Option<String>,
    pub use_cases: Vec<UseCase>,
    pub force: bool,
}

/// A model id from a served name: `Qwen/Qwen2.5-7B-Instruct` → `qwen-qwen2.5-7b-instruct`,
/// `llama3:8b` → `llama3-8b`.
pub fn remote_id(served: &str) -> String {
    let mut id = String::new();
    for c in served.trim().to_ascii_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_') { c } else { '-' };
        if !(c == '-' && (id.is_empty() || id.ends_with('-'))) {
            id.push(c);
        }
    }
    let id = id.trim_end_matches('-').to_owned();
    if id.is_empty() { "remote".to_owned() } else { id }
}

/// Whether `name` can be an environment variable's name (and so is not a key pasted
/// by mistake).
fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Register a remote model. Remote models default to the `cloud` tier: a request that
/// only allows local or LAN models must never reach a server the user did not say is
/// theirs.
pub fn add(args: RemoteAdd, ctx: &Context) -> anyhow::Result<ModelEntry> {
    let endpoint = normalize_endpoint(&args.endpoint).map_err(UserError::new)?;
    if args.model.trim().is_empty() {
        return Err(UserError::new("--model is empty")
            .hint("give the name the server serves the model under")
            .into());
    }
    if let Some(var) = &args.api_key_env
        && !is_var_name(var)
    {
        return Err(UserError::new(format!("`{var}` is not an environment variable name"))
            .hint("pass the NAME of the variable that holds the key (e.g. OPENAI_API_KEY), never the key itself")
            .into());
    }
    let id = args.id.clone().unwrap_or_else(|| remote_id(&args.model));
    if catalog::get(&id).is_some() {
        return Err(UserError::new(format!("`{id}` is a catalog model id"))
            .hint("pick another --id")
            .into());
    }
    let mut entry = ModelEntry::bare(&id);
    entry.family = "remote".to_owned();
    entry.declared.use_cases =
        if args.use_cases.is_empty() { vec![UseCase::General] } else { args.use_cases };
    entry.declared.privacy = args.privacy.unwrap_or(PrivacyTier::Cloud);
    entry.remote = Some(RemoteModel {
        endpoint,
        model: args.model.trim().to_owned(),
        api_key_env: args.api_key_env,
        verified: None,
    });
    let store = RegistryStore::open(&ctx.home);
    let added = store.update(|r| -> anyhow::Result<()> {
        if !args.force && r.get(&id).is_some() {
            return Err(UserError::new(format!("model `{id}` is already registered"))
                .hint("pick another --id, or pass --force to replace it")
                .into());
        }
        r.upsert(entry.clone());
        Ok(())
    });
    added.map_err(registry_error)?;
    Ok(entry)
}

/// Check a remote model answers and record what the server said. `Ok(line)` is the
/// status line to print; `Err` is the reason it failed, for the user.
pub fn verify(
    entry: &ModelEntry,
    remote: &RemoteModel,
    ctx: &Context,
) -> anyhow::Result<Result<String, String>> {
    let config = ClientConfig {
        deadline: Duration::from_secs(60),
        max_retries: 2,
        ..ClientConfig::default()
    };
    let checked = RemoteClient::for_model(remote, config).and_then(|c| c.verify(&remote.model));
    let v = match checked {
        Ok(v) => v,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let verification = RemoteVerification {
        verified_at: now_rfc3339(),
        version: v.version.clone(),
        listing: Some(v.listed.raw.clone()),
    };
    let id = entry.id.clone();
    RegistryStore::open(&ctx.home)
        .update(|r| -> Result<(), Error> {
            if let Some(m) = r.get_mut(&id).and_then(|m| m.remote.as_mut()) {
                m.verified = Some(verification);
            }
            Ok(())
        })
        .map_err(super::models::user_facing)?;
    let version = v.version.map(|s| format!(", version `{s}`")).unwrap_or_default();
    Ok(Ok(format!(
        "ok (remote `{}` at `{}`{version})",
        remote.model,
        remote.base_url().unwrap_or_default()
    )))
}

/// A registry error the user can fix (a malformed `models.json`) exits 1 with its hint.
fn registry_error(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<Error>() {
        Ok(e) => super::models::user_facing(e),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_served_name() {
        assert_eq!(remote_id("Qwen/Qwen2.5-7B-Instruct"), "qwen-qwen2.5-7b-instruct");
        assert_eq!(remote_id("llama3:8b"), "llama3-8b");
        assert_eq!(remote_id("  //  "), "remote");
    }

    #[test]
    fn key_variables_are_names_not_keys() {
        assert!(is_var_name("OPENAI_API_KEY") && is_var_name("_K1"));
        assert!(!is_var_name("sk-abc123") && !is_var_name("1KEY") && !is_var_name(""));
    }
}
