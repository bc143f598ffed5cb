//! A loopback HTTP server of our own that answers like the Hugging Face hub's resolve
//! URLs, for download tests: HEAD with `X-Linked-Etag`/`X-Linked-Size`, a 302 redirect
//! to a "CDN" path, Range requests (206), a connection dropped mid-file, a digest that
//! lies, a gated file (401 without the right token) and 404 for anything unknown.
//! Used by `tests/models_*.rs` and by the registry crate's tests (via `#[path]`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

/// How the hub serves one file.
#[derive(Debug, Clone, Default)]
pub struct HubFile {
    pub bytes: Vec<u8>,
    /// Require `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Announce this sha256 instead of the real one.
    pub lie_digest: Option<String>,
    /// Drop the connection after this many body bytes on the first `drops` GETs.
    pub drop_after: Option<usize>,
    pub drops: usize,
    /// Answer the resolve URL with a 302 to `/cdn/...` (as the real hub does for LFS).
    pub redirect: bool,
    /// Ignore Range headers (send 200 and the whole file).
    pub ignore_range: bool,
    /// Answer the first this-many GETs of the file with 503.
    pub fail_first: usize,
}

#[derive(Default)]
struct HubState {
    files: HashMap<String, HubFile>,
    gets: AtomicUsize,
    log: Mutex<Vec<String>>,
}

/// A running hub. Dropping it stops the server.
pub struct Hub {
    pub addr: SocketAddr,
    state: Arc<HubState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Resolve-URL path of a file: `/<repo>/resolve/<revision>/<file>`.
pub fn resolve_path(repo: &str, revision: &str, file: &str) -> String {
    format!("/{repo}/resolve/{revision}/{file}")
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

impl Hub {
    /// Serve `files`, keyed by resolve path (see [`resolve_path`]).
    pub fn start(files: Vec<(String, HubFile)>) -> Hub {
        let state = Arc::new(HubState { files: files.into_iter().collect(), ..Default::default() });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("hub runtime");
            rt.block_on(async move {
                let listener =
                    tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
                addr_tx.send(listener.local_addr().expect("local addr")).expect("send addr");
                let app = axum::Router::new().fallback(handle).with_state(st);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await
                    .expect("hub serves");
            });
        });
        let addr = addr_rx.recv().expect("hub started");
        Hub { addr, state, shutdown: Some(tx), thread: Some(thread) }
    }

    /// `http://127.0.0.1:<port>`, for `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// GET requests served so far.
    pub fn gets(&self) -> usize {
        self.state.gets.load(Ordering::SeqCst)
    }

    /// One line per request: `METHOD path range`.
    pub fn log(&self) -> Vec<String> {
        self.state.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn status(code: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = code;
    r
}

async fn handle(State(st): State<Arc<HubState>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let headers = req.headers().clone();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if let Ok(mut log) = st.log.lock() {
        log.push(format!("{method} {path} {range}").trim_end().to_owned());
    }
    if let Some(key) = path.strip_prefix("/cdn") {
        let Some(f) = st.files.get(key) else { return status(StatusCode::NOT_FOUND) };
        return serve(&st, f, &method, &range);
    }
    let Some(f) = st.files.get(&path) else { return status(StatusCode::NOT_FOUND) };
    if let Some(tok) = &f.token {
        let ok = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {tok}"));
        if !ok {
            return status(StatusCode::UNAUTHORIZED);
        }
    }
    let digest = f.lie_digest.clone().unwrap_or_else(|| sha256_hex(&f.bytes));
    let mut resp = if f.redirect {
        let mut r = status(StatusCode::FOUND);
        r.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(&format!("/cdn{path}")).expect("location"),
        );
        r
    } else {
        serve(&st, f, &method, &range)
    };
    let h: &mut HeaderMap = resp.headers_mut();
    h.insert("x-linked-etag", HeaderValue::from_str(&format!("\"{digest}\"")).expect("etag"));
    h.insert("x-linked-size", HeaderValue::from(f.bytes.len() as u64));
    resp
}

fn serve(st: &HubState, f: &HubFile, method: &Method, range: &str) -> Response {
    let total = f.bytes.len();
    let start = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|_| !f.ignore_range);
    if start.is_some_and(|s| s >= total) {
        let mut r = status(StatusCode::RANGE_NOT_SATISFIABLE);
        r.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes */{total}")).expect("range"),
        );
        return r;
    }
    let from = start.unwrap_or(0);
    let body = Bytes::copy_from_slice(&f.bytes[from..]);
    let mut resp = if *method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        let n = st.gets.fetch_add(1, Ordering::SeqCst);
        if n < f.fail_first {
            return status(StatusCode::SERVICE_UNAVAILABLE);
        }
        let n = n - f.fail_first;
        match f.drop_after {
            Some(cut) if n < f.drops && cut < body.len() => {
                let head = body.slice(..cut);
                // Send the head, give it time to reach the client, then break the body.
                use futures_util::StreamExt;
                let stream = futures_util::stream::iter(vec![Ok::<Bytes, std::io::Error>(head)])
                    .chain(futures_util::stream::once(async {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "hub drops the connection",
                        ))
                    }));
                Response::new(Body::from_stream(stream))
            }
            _ => Response::new(Body::from(body.clone())),
        }
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len() as u64));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if start.is_some() {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        resp.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {from}-{}/{total}", total - 1)).expect("range"),
        );
    }
    resp
}
