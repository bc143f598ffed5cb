//! Downloads from the Hugging Face hub (or any server that answers its resolve URLs,
//! `HF_ENDPOINT`). A HEAD request on `<endpoint>/<repo>/resolve/<revision>/<file>`
//! reads `X-Linked-Etag` / `X-Linked-Size` (the LFS sha256 and size) before the
//! redirect to the CDN; the GET then streams into `NOA_HOME/tmp/<name>.part`, hashing as
//! it goes. An existing `.part` is re-hashed and resumed with a Range request; dropped
//! connections and 5xx/429 answers are retried with exponential backoff, resuming each
//! time. Redirects are followed by hand so the token never leaves the hub's host and
//! the Range header survives. A wrong digest removes the `.part` (a corrupt prefix
//! would otherwise be resumed forever) and is an error.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, HeaderMap, LOCATION, RANGE};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use super::{FetchOptions, Fetched, check};
use noa_registry::{Error, Result};

/// The resolve URL of a file.
pub fn resolve_url(endpoint: &str, repo: &str, revision: &str, file: &str) -> String {
    format!("{}/{repo}/resolve/{revision}/{file}", endpoint.trim_end_matches('/'))
}

/// What the hub says about a file before the download.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remote {
    pub sha256: Option<String>,
    pub size: Option<u64>,
}

fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(20))
        .read_timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("noa/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Http { url: String::new(), message: e.to_string() })
}

/// Send `method` to `url`, following up to 10 redirects by hand. The token is sent only
/// to the host of the first URL.
async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    range_from: u64,
) -> Result<reqwest::Response> {
    let first = reqwest::Url::parse(url).map_err(|e| http_err(url, e))?;
    let mut current = first.clone();
    for _ in 0..10 {
        let mut req = client.request(method.clone(), current.clone());
        if let Some(t) = token.filter(|_| current.host_str() == first.host_str()) {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        if range_from > 0 {
            req = req.header(RANGE, format!("bytes={range_from}-"));
        }
        let resp = req.send().await.map_err(|e| http_err(url, e))?;
        if resp.status().is_redirection() {
            let loc =
                resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
                    Error::Http { url: url.to_owned(), message: "redirect without Location".into() }
                })?;
            current = current.join(loc).map_err(|e| http_err(url, e))?;
            continue;
        }
        return Ok(resp);
    }
    Err(Error::Http { url: url.to_owned(), message: "more than 10 redirects".into() })
}

fn http_err(url: &str, e: impl std::fmt::Display) -> Error {
    Error::Http { url: url.to_owned(), message: e.to_string() }
}

/// Turn a client-error status into the error a user can act on.
fn status_error(url: &str, status: StatusCode, has_token: bool) -> Error {
    let hint = match status.as_u16() {
        401 | 403 if has_token => {
            Some("gated or private: check that HF_TOKEN has access to this repository".to_owned())
        }
        401 | 403 => {
            Some("gated or private repository: set HF_TOKEN to a token with access".to_owned())
        }
        404 => Some("no such repository, revision or file".to_owned()),
        _ => None,
    };
    Error::HttpStatus { url: url.to_owned(), status: status.as_u16(), hint }
}

fn transient(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// HEAD the resolve URL without following the redirect, to read the LFS digest and size.
pub async fn probe(url: &str, opts: &FetchOptions) -> Result<Remote> {
    let client = client()?;
    let token = opts.hf_token.as_deref();
    let mut last = None;
    for attempt in 1..=opts.attempts {
        let mut req = client.head(url);
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        match req.send().await {
            Ok(resp) if transient(resp.status()) => {
                last = Some(status_error(url, resp.status(), token.is_some()))
            }
            Ok(resp) if resp.status().is_client_error() => {
                return Err(status_error(url, resp.status(), token.is_some()));
            }
            Ok(resp) => return Ok(remote_from(resp.headers(), resp.status())),
            Err(e) => last = Some(http_err(url, e)),
        }
        if attempt < opts.attempts {
            tokio::time::sleep(opts.backoff(attempt)).await;
        }
    }
    Err(last.unwrap_or_else(|| http_err(url, "no attempt made")))
}

fn remote_from(h: &HeaderMap, status: StatusCode) -> Remote {
    let get = |k: &str| {
        h.get(k).and_then(|v| v.to_str().ok()).map(|s| s.trim().trim_matches('"').to_owned())
    };
    let sha256 = get("x-linked-etag")
        .or_else(|| get("etag").map(|e| e.trim_start_matches("W/").trim_matches('"').to_owned()))
        .filter(|e| e.len() == 64 && e.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|e| e.to_ascii_lowercase());
    let size = get("x-linked-size").and_then(|s| s.parse().ok()).or_else(|| {
        status.is_success().then(|| get("content-length").and_then(|s| s.parse().ok())).flatten()
    });
    Remote { sha256, size }
}

/// Download `url` into `part`, resuming what is there, and check it against the
/// expected digest and size (the catalog's, else the hub's headers).
pub async fn download(
    url: &str,
    part: &Path,
    expected_sha256: Option<&str>,
    expected_size: Option<u64>,
    label: &str,
    opts: &FetchOptions,
) -> Result<Fetched> {
    let remote = probe(url, opts).await?;
    let want_sha = expected_sha256.map(str::to_ascii_lowercase).or(remote.sha256.clone());
    let want_size = expected_size.or(remote.size);
    if let Some(dir) = part.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(part)
        .map_err(|e| Error::io("open", part, e))?;
    // Resume: the bytes already there count towards the digest.
    let mut hasher = Sha256::new();
    let mut have = rehash(&mut file, &mut hasher).map_err(|e| Error::io("read", part, e))?;
    if want_size.is_some_and(|s| have > s) {
        file.set_len(0).map_err(|e| Error::io("truncate", part, e))?;
        hasher = Sha256::new();
        have = 0;
    }
    let bar = opts.bar(label, want_size);
    bar.set_position(have);
    let client = client()?;
    let token = opts.hf_token.as_deref();
    let mut attempt = 0;
    loop {
        if want_size == Some(have) {
            break;
        }
        attempt += 1;
        match stream_once(&client, url, token, (&mut file, part), &mut hasher, &mut have, &bar)
            .await
        {
            Ok(Done::Complete) if want_size.is_none_or(|s| s == have) => break,
            Ok(Done::Complete) => {} // Body ended early: resume.
            Ok(Done::Restart) => {
                file.set_len(0).map_err(|e| Error::io("truncate", part, e))?;
                file.seek(SeekFrom::Start(0)).map_err(|e| Error::io("seek", part, e))?;
                hasher = Sha256::new();
                have = 0;
                bar.set_position(0);
            }
            Err(Attempt::Fatal(e)) => {
                bar.abandon_with_message("failed");
                return Err(e);
            }
            Err(Attempt::Transient(e)) => {
                if attempt >= opts.attempts {
                    bar.abandon_with_message("failed");
                    return Err(e);
                }
                bar.set_message(format!("retry {attempt}"));
                tracing::warn!("{e}; retrying (attempt {attempt}) from byte {have}");
            }
        }
        if attempt >= opts.attempts {
            bar.abandon_with_message("failed");
            return Err(Error::Http {
                url: url.to_owned(),
                message: format!("gave up after {attempt} attempts at byte {have}"),
            });
        }
        tokio::time::sleep(opts.backoff(attempt)).await;
    }
    file.sync_all().map_err(|e| Error::io("fsync", part, e))?;
    drop(file);
    let sha256 = hex::encode(hasher.finalize());
    bar.finish_with_message("downloaded");
    check(part, &format!("`{url}`"), &sha256, have, want_sha.as_deref(), want_size)?;
    Ok(Fetched { path: part.to_owned(), sha256, size: have, digest_checked: want_sha.is_some() })
}

/// Read the whole file into the hasher; returns its length. Leaves the cursor at the end.
fn rehash(file: &mut std::fs::File, hasher: &mut Sha256) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = file.read(&mut buf)?;
        if k == 0 {
            return Ok(n);
        }
        hasher.update(&buf[..k]);
        n += k as u64;
    }
}

enum Done {
    Complete,
    Restart,
}

enum Attempt {
    Fatal(Error),
    Transient(Error),
}

async fn stream_once(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    (file, part): (&mut std::fs::File, &Path),
    hasher: &mut Sha256,
    have: &mut u64,
    bar: &indicatif::ProgressBar,
) -> Result<Done, Attempt> {
    let resp = send(client, Method::GET, url, token, *have).await.map_err(Attempt::Transient)?;
    let status = resp.status();
    if transient(status) {
        return Err(Attempt::Transient(status_error(url, status, token.is_some())));
    }
    if status == StatusCode::RANGE_NOT_SATISFIABLE {
        // Our part is at least as long as the file: start over and let the size decide.
        return Ok(Done::Restart);
    }
    if status.is_client_error() || !status.is_success() {
        return Err(Attempt::Fatal(status_error(url, status, token.is_some())));
    }
    if *have > 0 {
        let start = resp
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes "))
            .and_then(|v| v.split('-').next())
            .and_then(|v| v.parse::<u64>().ok());
        if status != StatusCode::PARTIAL_CONTENT || start != Some(*have) {
            // The server ignored the range and sent the whole file.
            return Ok(Done::Restart);
        }
    }
    if *have == 0
        && bar.length() == Some(0)
        && let Some(len) =
            resp.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok())
    {
        bar.set_length(len);
    }
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Attempt::Transient(http_err(url, e)))?;
        file.write_all(&chunk).map_err(|e| Attempt::Fatal(Error::io("write", part, e)))?;
        hasher.update(&chunk);
        *have += chunk.len() as u64;
        bar.set_position(*have);
    }
    Ok(Done::Complete)
}
