//! The report in a real browser: headless Chromium (Debian's `chromium` package, which
//! `scripts/setup.sh` installs) opens the file written by `noa report` and, watched over
//! the DevTools protocol, logs no console error or exception and makes no network
//! request but the file itself; a full-page screenshot is saved for a person to look
//! at. A control page that does fetch and does log an error proves the watch works.

mod common;
#[path = "../reports/tests/fixture/mod.rs"]
mod fixture;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

use common::TestHome;

/// The Chromium binary: `NOA_CHROMIUM`, else the first of the usual names on `PATH`.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("NOA_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "headless Chromium is needed to test the report in a browser and was not found; install Debian's \
         `chromium` package (`apt-get install -y chromium`, as `scripts/setup.sh` does) or set NOA_CHROMIUM"
    );
}

/// A headless Chromium with a DevTools connection to one fresh page.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// Every event received so far.
    events: Vec<Value>,
}

impl Browser {
    fn start() -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // Chromium writes the port it chose and the browser target's path here.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(60);
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(p), Some(path)) = (lines.next(), lines.next()) {
                    break (p.trim().to_owned(), path.trim().to_owned());
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromium did not open its DevTools port within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).expect("connect to DevTools");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let (ws, _) =
            tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream).expect("websocket");
        // From here on reads poll, so event collection can stop at a deadline.
        ws.get_ref().set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let mut b = Browser {
            child,
            _profile: profile,
            ws,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
        };
        let target = b.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("targetId").to_owned();
        let attached =
            b.call(None, "Target.attachToTarget", json!({"targetId": target_id, "flatten": true}));
        b.session = attached["sessionId"].as_str().expect("sessionId").to_owned();
        for domain in ["Runtime.enable", "Log.enable", "Network.enable", "Page.enable"] {
            b.page(domain, json!({}));
        }
        b
    }

    /// Send a command (to the page session when `session` is set) and wait for its result.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).expect("send DevTools command");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "no answer to `{method}` within 60 s");
            if let Some(v) = self.recv() {
                if v["id"].as_u64() == Some(id) {
                    assert!(v.get("error").is_none(), "`{method}` failed: {}", v["error"]);
                    return v["result"].clone();
                }
                self.events.push(v);
            }
        }
    }

    fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params)
    }

    /// One message, or `None` after the read timeout.
    fn recv(&mut self) -> Option<Value> {
        match self.ws.read() {
            Ok(Message::Text(t)) => serde_json::from_str(t.as_str()).ok(),
            Ok(_) => None,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                None
            }
            Err(e) => panic!("DevTools connection failed: {e}"),
        }
    }

    /// Open `url` and wait for its load event, then a little longer for stragglers.
    fn open(&mut self, url: &str) {
        let before = self.events.len();
        self.page("Page.navigate", json!({"url": url}));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.events[before..].iter().any(|e| e["method"] == "Page.loadEventFired") {
            assert!(Instant::now() < deadline, "`{url}` did not finish loading within 60 s");
            if let Some(v) = self.recv() {
                self.events.push(v);
            }
        }
        let settle = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < settle {
            if let Some(v) = self.recv() {
                self.events.push(v);
            }
        }
    }

    /// URLs of every request the page made.
    fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }

    /// Console errors and warnings, uncaught exceptions and browser log errors.
    fn problems(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| {
                let p = &e["params"];
                match e["method"].as_str()? {
                    "Runtime.consoleAPICalled"
                        if matches!(p["type"].as_str(), Some("error" | "warning" | "assert")) =>
                    {
                        Some(format!("console.{}: {}", p["type"], p["args"]))
                    }
                    "Runtime.exceptionThrown" => {
                        Some(format!("exception: {}", p["exceptionDetails"]))
                    }
                    "Log.entryAdded"
                        if matches!(p["entry"]["level"].as_str(), Some("error" | "warning")) =>
                    {
                        Some(format!("log: {}", p["entry"]["text"]))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    fn eval(&mut self, expr: &str) -> Value {
        self.page("Runtime.evaluate", json!({"expression": expr, "returnByValue": true}))["result"]
            ["value"]
            .clone()
    }

    /// A PNG of the whole page.
    fn screenshot(&mut self, path: &Path) -> Vec<u8> {
        let metrics = self.page("Page.getLayoutMetrics", json!({}));
        let height =
            metrics["cssContentSize"]["height"].as_f64().unwrap_or(4000.0).ceil().min(16000.0);
        self.page(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": height as u64, "deviceScaleFactor": 1, "mobile": false}),
        );
        let shot = self.page(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        std::fs::write(path, &png).expect("write screenshot");
        png
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ =
            self.ws.send(Message::text(json!({"id": 0, "method": "Browser.close"}).to_string()));
        std::thread::sleep(Duration::from_millis(200));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().expect("absolute path").display())
}

#[test]
fn report_loads_in_chromium_without_errors_or_network() {
    let home = TestHome::new();
    fixture::realistic(home.path());
    let stdout = home.run_ok(&["report"]);
    let page = PathBuf::from(stdout.trim());
    let url = file_url(&page);

    let mut browser = Browser::start();
    browser.open(&url);
    let requests = browser.requests();
    assert!(requests.contains(&url), "the watch saw no request for the page itself: {requests:?}");
    let foreign: Vec<&String> =
        requests.iter().filter(|r| **r != url && !r.starts_with("data:")).collect();
    assert!(foreign.is_empty(), "the report made requests: {foreign:?}");
    let problems = browser.problems();
    assert!(problems.is_empty(), "console errors: {problems:#?}");

    assert_eq!(
        browser.eval("document.title").as_str().map(|t| t.starts_with("noa report")),
        Some(true)
    );
    let charts =
        browser.eval("document.querySelectorAll('figure svg').length").as_u64().unwrap_or(0);
    assert!(charts >= 20, "only {charts} charts rendered");
    let drawn = browser.eval(
        "[...document.querySelectorAll('figure svg')].every(s => { const r = s.getBoundingClientRect(); \
         return r.width > 200 && r.height > 80; })",
    );
    assert_eq!(drawn, json!(true), "a chart rendered with no size");
    let verdict_top =
        browser.eval("document.getElementById('verdict').getBoundingClientRect().top");
    assert!(
        verdict_top.as_f64().is_some_and(|t| t < 300.0),
        "the verdict is not at the top: {verdict_top}"
    );

    let shot_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let png = browser.screenshot(&shot_path);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert!(height > 2000, "screenshot is only {height} px tall");
    eprintln!("screenshot: {}", shot_path.display());
}

/// The watch itself: a page that fetches from the network and logs an error is caught.
#[test]
fn browser_watch_catches_requests_and_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><title>bad</title></head><body>\
         <img src=\"http://127.0.0.1:9/pixel.png\"><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let mut browser = Browser::start();
    browser.open(&file_url(&page));
    assert!(
        browser.requests().iter().any(|r| r.starts_with("http://127.0.0.1:9/")),
        "network request not seen: {:?}",
        browser.requests()
    );
    assert!(
        browser.problems().iter().any(|p| p.contains("boom")),
        "console error not seen: {:?}",
        browser.problems()
    );
}
