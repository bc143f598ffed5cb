//! Remote models in `models.json` (schema 2): a model served by an OpenAI-compatible
//! server elsewhere (llama-server, vLLM, Ollama, TGI, a hosted API, another
//! `noa serve`), registered by `noa models add --endpoint`. The entry says where the
//! server is and which of its models is meant, names the environment variable that
//! holds the API key (the key itself is read at use time by `noa-remote` and never
//! stored), and keeps what `noa models verify` last learnt from the server. The HTTP
//! client lives in `noa-remote`; only the data and the one spelling rule for
//! endpoints live here, so every crate that reads the registry agrees on them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A model served elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteModel {
    /// The server's OpenAI base URL, `/v1` included: `http://gpu-box:8080/v1`. A URL
    /// without a path (`http://gpu-box:8080`) is read as `…/v1`; see
    /// [`normalize_endpoint`].
    pub endpoint: String,
    /// The model name the server serves it under (the `model` of a request).
    pub model: String,
    /// Name of the environment variable holding the API key, sent as
    /// `Authorization: Bearer …`; `None` sends no key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// What `noa models verify` last learnt; `None` until it succeeded once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<RemoteVerification>,
}

impl RemoteModel {
    /// The endpoint in its canonical spelling (what requests are built on), or the
    /// reason it is not a usable URL.
    pub fn base_url(&self) -> Result<String, String> {
        normalize_endpoint(&self.endpoint)
    }

    /// Whether `other` names the same served model at the same server (API key and
    /// verification aside): measurements of one are measurements of the other.
    pub fn same_target(&self, other: &RemoteModel) -> bool {
        self.model == other.model
            && self.base_url().unwrap_or_else(|_| self.endpoint.clone())
                == other.base_url().unwrap_or_else(|_| other.endpoint.clone())
    }

    /// The measurement key part for this model as last verified.
    pub fn key(&self) -> RemoteKey {
        RemoteKey {
            endpoint: self.base_url().unwrap_or_else(|_| self.endpoint.clone()),
            model: self.model.clone(),
            version: self.verified.as_ref().and_then(|v| v.version.clone()),
        }
    }
}

/// What the server said when `noa models verify` last checked the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteVerification {
    /// RFC 3339 time of the check.
    pub verified_at: String,
    /// A version or digest of the served model when the server reports one (the
    /// completion's `system_fingerprint`, else a `digest`/`version` field of its
    /// `/models` entry); it becomes part of the measurement key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The model's entry in the server's `GET /models` answer, as the server sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<serde_json::Value>,
}

/// The remote part of a [`crate::MeasurementKey`]: which server answered, under which
/// name, and what version it reported then.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteKey {
    /// Canonical endpoint ([`normalize_endpoint`]).
    pub endpoint: String,
    /// The served model name.
    pub model: String,
    /// [`RemoteVerification::version`], when the server reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The canonical spelling of an endpoint: `http(s)://host[:port]/path` with no
/// trailing slash, and `/v1` added when the URL has no path at all (the OpenAI base
/// URL convention, which every server noa talks to uses). A URL with a path of its own
/// (`https://host/openai/v1`) is kept as given, so servers mounted elsewhere work.
///
/// ```
/// use noa_registry::remote::normalize_endpoint;
/// assert_eq!(normalize_endpoint("http://box:8080").unwrap(), "http://box:8080/v1");
/// assert_eq!(normalize_endpoint("http://box:8080/v1/").unwrap(), "http://box:8080/v1");
/// assert!(normalize_endpoint("box:8080").is_err());
/// ```
pub fn normalize_endpoint(endpoint: &str) -> Result<String, String> {
    let e = endpoint.trim();
    let rest = e
        .strip_prefix("http://")
        .or_else(|| e.strip_prefix("https://"))
        .ok_or_else(|| format!("endpoint `{endpoint}` must start with http:// or https://"))?;
    let scheme_len = e.len() - rest.len();
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("endpoint `{endpoint}` has no host"));
    }
    if path.contains(['?', '#']) {
        return Err(format!("endpoint `{endpoint}` must not have a query or fragment"));
    }
    let path = if path.is_empty() { "/v1" } else { path };
    Ok(format!("{}{host}{path}", &e[..scheme_len]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_with_and_without_v1_are_the_same() {
        for given in ["http://h:1", "http://h:1/", "http://h:1/v1", " http://h:1/v1/ "] {
            assert_eq!(normalize_endpoint(given).unwrap(), "http://h:1/v1", "{given}");
        }
        assert_eq!(
            normalize_endpoint("https://x.test/openai/v1").unwrap(),
            "https://x.test/openai/v1"
        );
        for bad in ["h:1", "ftp://h/v1", "http:///v1", "http://h/v1?x=1"] {
            let err = normalize_endpoint(bad).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn same_target_ignores_spelling_key_and_verification() {
        let a = RemoteModel {
            endpoint: "http://h:1".into(),
            model: "m".into(),
            api_key_env: None,
            verified: None,
        };
        let b = RemoteModel {
            endpoint: "http://h:1/v1/".into(),
            api_key_env: Some("K".into()),
            ..a.clone()
        };
        assert!(a.same_target(&b));
        assert!(!a.same_target(&RemoteModel { model: "n".into(), ..a.clone() }));
        assert_eq!(b.key().endpoint, "http://h:1/v1");
    }
}
