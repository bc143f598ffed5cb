//! A small blocking Redis client (RESP2 over one TCP connection) for the shared router
//! state. Written here rather than taken from the `redis` crate: the router needs a
//! handful of commands (EVAL, XRANGE, SET, GET, HSET, HGETALL) sent in pipelines from
//! threads that already block (the feedback path runs on the blocking pool), with
//! short timeouts so a vanished Redis turns into a prompt 503, and a reconnect that is
//! simply "open a new socket". That is ~200 lines with no dependency tree to build.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::SharedError;

/// One reply. Errors sent by Redis (`-ERR ...`) are values here, so a pipeline's other
/// replies still come back; [`Reply::into_result`] turns one into a [`SharedError`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
}

impl Reply {
    pub fn into_result(self) -> Result<Reply, SharedError> {
        match self {
            Reply::Error(e) => Err(SharedError::Command(e)),
            r => Ok(r),
        }
    }

    /// A bulk or status reply as text.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Status(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn array(self) -> Vec<Reply> {
        match self {
            Reply::Array(a) => a,
            _ => Vec::new(),
        }
    }
}

/// Where Redis is: `redis://HOST:PORT[/DB]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisUrl {
    pub host: String,
    pub port: u16,
    pub db: u32,
}

impl RedisUrl {
    pub fn parse(url: &str) -> Result<RedisUrl, String> {
        let bad =
            |why: &str| format!("`{url}` is not a Redis URL ({why}); use `redis://HOST:PORT[/DB]`");
        let rest =
            url.strip_prefix("redis://").ok_or_else(|| bad("it must start with `redis://`"))?;
        let (hostport, db) = match rest.split_once('/') {
            Some((hp, "")) => (hp, 0),
            Some((hp, db)) => (hp, db.parse().map_err(|_| bad("the database is not a number"))?),
            None => (rest, 0),
        };
        if hostport.contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad("the port is not a number"))?),
            None => (hostport, 6379),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(RedisUrl { host: host.to_owned(), port, db })
    }
}

impl std::fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis://{}:{}/{}", self.host, self.port, self.db)
    }
}

/// One open connection.
#[derive(Debug)]
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// How long a connect, a read or a write may take before Redis counts as gone.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
const IO_TIMEOUT: Duration = Duration::from_millis(3000);

impl Conn {
    /// Connect and select the URL's database.
    pub fn open(url: &RedisUrl) -> Result<Conn, SharedError> {
        let io = |e: std::io::Error| SharedError::Io(format!("{url}: {e}"));
        let addr =
            (url.host.as_str(), url.port).to_socket_addrs().map_err(io)?.next().ok_or_else(
                || SharedError::Io(format!("{url}: the host resolves to no address")),
            )?;
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        let writer = stream.try_clone().map_err(io)?;
        let mut conn = Conn { reader: BufReader::new(stream), writer };
        if url.db != 0 {
            conn.query(&["SELECT", &url.db.to_string()])?.into_result()?;
        }
        Ok(conn)
    }

    /// Send one command and read its reply.
    pub fn query(&mut self, cmd: &[&str]) -> Result<Reply, SharedError> {
        let mut replies = self.pipeline(&[cmd.iter().map(|s| s.as_bytes()).collect()])?;
        replies.pop().ok_or_else(|| SharedError::Protocol("no reply".to_owned()))
    }

    /// Send every command, then read one reply per command (one round trip).
    pub fn pipeline(&mut self, cmds: &[Vec<&[u8]>]) -> Result<Vec<Reply>, SharedError> {
        let mut buf = Vec::with_capacity(64 * cmds.len());
        for cmd in cmds {
            encode(&mut buf, cmd);
        }
        self.writer.write_all(&buf).map_err(|e| SharedError::Io(e.to_string()))?;
        (0..cmds.len()).map(|_| read_reply(&mut self.reader)).collect()
    }
}

fn encode(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

fn read_line(r: &mut impl BufRead) -> Result<String, SharedError> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line).map_err(|e| SharedError::Io(e.to_string()))?;
    if n == 0 {
        return Err(SharedError::Io("Redis closed the connection".to_owned()));
    }
    if !line.ends_with(b"\r\n") {
        return Err(SharedError::Protocol("a reply line without CRLF".to_owned()));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|e| SharedError::Protocol(e.to_string()))
}

fn read_reply(r: &mut impl BufRead) -> Result<Reply, SharedError> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_at(line.len().min(1));
    let number = |s: &str| {
        s.parse::<i64>().map_err(|_| SharedError::Protocol(format!("bad length `{s}` in a reply")))
    };
    match kind {
        "+" => Ok(Reply::Status(rest.to_owned())),
        "-" => Ok(Reply::Error(rest.to_owned())),
        ":" => Ok(Reply::Int(number(rest)?)),
        "$" => {
            let n = number(rest)?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            let mut data = vec![0; n as usize + 2];
            std::io::Read::read_exact(r, &mut data).map_err(|e| SharedError::Io(e.to_string()))?;
            data.truncate(n as usize);
            Ok(Reply::Bulk(data))
        }
        "*" => {
            let n = number(rest)?;
            if n < 0 {
                return Ok(Reply::Nil);
            }
            (0..n).map(|_| read_reply(r)).collect::<Result<_, _>>().map(Reply::Array)
        }
        _ => Err(SharedError::Protocol(format!("unexpected reply `{line}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_and_without_db() {
        let u = RedisUrl::parse("redis://127.0.0.1:6390/2").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("127.0.0.1", 6390, 2));
        let u = RedisUrl::parse("redis://cache").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("cache", 6379, 0));
        for bad in
            ["http://x:1", "redis://:1", "redis://x:port", "redis://u:p@x:1", "redis://x:1/a"]
        {
            let e = RedisUrl::parse(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn replies_parse_nested_nil_and_errors() {
        let wire = b"*3\r\n$3\r\nabc\r\n*2\r\n:5\r\n$-1\r\n-ERR no\r\n+OK\r\n";
        let mut r = std::io::Cursor::new(&wire[..]);
        let a = read_reply(&mut r).unwrap();
        assert_eq!(
            a,
            Reply::Array(vec![
                Reply::Bulk(b"abc".to_vec()),
                Reply::Array(vec![Reply::Int(5), Reply::Nil]),
                Reply::Error("ERR no".to_owned()),
            ])
        );
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Status("OK".to_owned()));
        assert!(read_reply(&mut r).is_err(), "end of input is an error, not a reply");
    }

    #[test]
    fn commands_encode_as_bulk_arrays() {
        let mut buf = Vec::new();
        encode(&mut buf, &[b"GET", b"k\r\n"]);
        assert_eq!(buf, b"*2\r\n$3\r\nGET\r\n$3\r\nk\r\n\r\n");
    }
}
