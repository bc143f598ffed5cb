//! A real `noa serve` on a free loopback port for a test, and a plain HTTP/1.1 client
//! for it (no client library between the test and the bytes on the wire).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use super::TestHome;

/// A running `noa serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `noa serve --addr 127.0.0.1:0 <args>` with `env`; waits for its address.
    pub fn start(home: &TestHome, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = home.noa();
        cmd.args(["serve", "--addr", "127.0.0.1:0"]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child =
            cmd.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("spawn noa serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(60)).expect("noa serve printed its address");
        Server { child, addr }
    }

    /// POST JSON; status, lower-cased header block, body (de-chunked).
    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, String, String) {
        request(&self.addr, "POST", path, Some(body)).expect("HTTP request")
    }

    /// GET; status, lower-cased header block, body.
    pub fn get(&self, path: &str) -> (u16, String, String) {
        request(&self.addr, "GET", path, None).expect("HTTP request")
    }
}

/// One HTTP/1.1 request on a fresh connection to `addr`: status, lower-cased header
/// block, body (de-chunked). An error means no complete answer came back (the server
/// died mid-request, say), which a test may want to tell from a refusal.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    let (kind, body) = match body {
        Some(b) => ("Content-Type: application/json\r\n", b.to_string()),
        None => ("", String::new()),
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{kind}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, head.to_ascii_lowercase(), dechunk(head, body)))
}

/// Undo `Transfer-Encoding: chunked` (streamed responses).
pub fn dechunk(head: &str, body: &str) -> String {
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// The value of header `name` (lower case) in a lower-cased header block.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

/// One request on a fresh connection: status and body, or why no answer came back.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, String)> {
    request(addr, method, path, body).map(|(status, _, body)| (status, body))
}
