//! A streamed answer read as a blocking iterator: each text delta comes with the
//! client-side instant its bytes arrived, then one end event (finish reason, usage),
//! or an error. The end is only reported when the server said the answer is finished
//! (`[DONE]`, or a finish reason before the connection closed); anything else, a
//! connection dropped, a silence longer than the stall timeout, the deadline, is an
//! error that says how many deltas came before it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::Runtime;
use crate::error::RemoteError;
use crate::sse::SseParser;
use crate::wire::{Kind, Usage, parse_piece};

/// One thing a stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Text generated since the last delta, and when its bytes were read.
    Delta { text: String, at: Instant },
    /// The server said the answer is complete.
    End(StreamEnd),
}

/// How a streamed answer ended.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEnd {
    pub finish_reason: Option<String>,
    /// Token counts, when the server sends them (`stream_options.include_usage`).
    pub usage: Option<Usage>,
    pub system_fingerprint: Option<String>,
    pub at: Instant,
}

/// A streamed chat or text completion. Iterate for [`StreamEvent`]s; after the end or
/// an error it yields nothing more.
pub struct TextStream {
    pub(crate) rt: Arc<Runtime>,
    pub(crate) response: reqwest::Response,
    pub(crate) kind: Kind,
    pub(crate) url: String,
    pub(crate) deadline: Instant,
    pub(crate) deadline_len: Duration,
    pub(crate) stall: Duration,
    pub(crate) parser: SseParser,
    pub(crate) queue: VecDeque<Result<StreamEvent, RemoteError>>,
    pub(crate) state: EndState,
    /// When the request was first sent, at the client.
    pub sent_at: Instant,
    /// Attempts made before this answer started (1 = no retry).
    pub attempts: u32,
}

impl std::fmt::Debug for TextStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextStream")
            .field("url", &self.url)
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// What the stream has said so far about its end.
#[derive(Debug, Default)]
pub(crate) struct EndState {
    pub deltas: usize,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub system_fingerprint: Option<String>,
    pub done: bool,
}

impl TextStream {
    /// Read the whole answer: its text and how it ended.
    pub fn collect_text(self) -> Result<(String, StreamEnd), RemoteError> {
        let mut text = String::new();
        for ev in self {
            match ev? {
                StreamEvent::Delta { text: t, .. } => text.push_str(&t),
                StreamEvent::End(end) => return Ok((text, end)),
            }
        }
        // Unreachable by construction (the iterator ends with End or an error); kept
        // total rather than panicking.
        Err(RemoteError::BadResponse {
            url: String::new(),
            message: "stream ended without an end".into(),
        })
    }

    fn cut(&mut self, message: String) -> RemoteError {
        self.state.done = true;
        RemoteError::StreamCut { url: self.url.clone(), received: self.state.deltas, message }
    }

    fn end(&mut self, at: Instant) -> StreamEvent {
        self.state.done = true;
        StreamEvent::End(StreamEnd {
            finish_reason: self.state.finish_reason.take(),
            usage: self.state.usage.take(),
            system_fingerprint: self.state.system_fingerprint.take(),
            at,
        })
    }

    /// Turn one SSE payload into queued events.
    fn payload(&mut self, data: &str, at: Instant) {
        if self.state.done {
            return;
        }
        if data.trim() == "[DONE]" {
            let end = self.end(at);
            self.queue.push_back(Ok(end));
            return;
        }
        let piece = serde_json::from_str(data)
            .map_err(|e| e.to_string())
            .and_then(|v| parse_piece(self.kind, false, &v));
        match piece {
            Err(message) => {
                let err = self.cut(format!("{message} (in `{}`)", truncate(data, 200)));
                self.queue.push_back(Err(err));
            }
            Ok(p) => {
                if let Some(text) = p.text.filter(|t| !t.is_empty()) {
                    self.state.deltas += 1;
                    self.queue.push_back(Ok(StreamEvent::Delta { text, at }));
                }
                self.state.finish_reason = p.finish_reason.or(self.state.finish_reason.take());
                self.state.usage = p.usage.or(self.state.usage.take());
                self.state.system_fingerprint =
                    p.system_fingerprint.or(self.state.system_fingerprint.take());
            }
        }
    }

    /// The connection closed: fine after a finish reason, a cut otherwise.
    fn eof(&mut self, at: Instant) {
        if let Some(data) = self.parser.finish() {
            self.payload(&data, at);
        }
        if self.state.done {
            return;
        }
        if self.state.finish_reason.is_some() {
            let end = self.end(at);
            self.queue.push_back(Ok(end));
        } else {
            let err =
                self.cut("the server closed the connection before the answer was finished".into());
            self.queue.push_back(Err(err));
        }
    }

    /// Wait for the next bytes (bounded by the stall timeout and the deadline).
    fn read(&mut self) {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let wait = self.stall.min(remaining);
        let chunk = self.rt.within(wait, self.response.chunk());
        let at = Instant::now();
        match chunk {
            Err(_) if at >= self.deadline => {
                self.state.done = true;
                let err =
                    RemoteError::Deadline { url: self.url.clone(), deadline: self.deadline_len };
                self.queue.push_back(Err(err));
            }
            Err(_) => {
                let err = self.cut(format!("no data for {}s", self.stall.as_secs_f64()));
                self.queue.push_back(Err(err));
            }
            Ok(Err(e)) => {
                let err = self.cut(crate::client::describe(&e));
                self.queue.push_back(Err(err));
            }
            Ok(Ok(None)) => self.eof(at),
            Ok(Ok(Some(bytes))) => {
                for data in self.parser.push(&bytes) {
                    self.payload(&data, at);
                }
            }
        }
    }
}

impl Iterator for TextStream {
    type Item = Result<StreamEvent, RemoteError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Some(ev);
            }
            if self.state.done {
                return None;
            }
            self.read();
        }
    }
}

/// At most `n` bytes of `s`, cut at a character boundary.
pub(crate) fn truncate(s: &str, n: usize) -> &str {
    let mut end = s.len().min(n);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
