//! A server-sent events parser that is fed bytes as they arrive and hands back each
//! event's data: lines are split on LF (a CR before it is dropped), `data:` lines of one
//! event are joined with newlines, comments and other fields are ignored, and an event
//! ends at a blank line. Bytes are kept until a whole line is there, so a UTF-8
//! character split across network chunks is never cut.

/// Incremental parser state.
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    data: Option<String>,
}

impl SseParser {
    /// Feed `bytes`; returns the data of every event completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line[..i]);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if line.is_empty() {
                out.extend(self.data.take());
                continue;
            }
            if let Some(rest) = line.strip_prefix("data:") {
                let rest = rest.strip_prefix(' ').unwrap_or(rest);
                match &mut self.data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(rest);
                    }
                    None => self.data = Some(rest.to_owned()),
                }
            }
        }
        out
    }

    /// At the end of the stream: the data of an event the server did not close with a
    /// blank line (a complete `data:` line is still a complete payload).
    pub fn finish(&mut self) -> Option<String> {
        if !self.pending.is_empty() {
            let tail = std::mem::take(&mut self.pending);
            let mut events = self.push_line_end(&tail);
            if let Some(e) = events.pop() {
                return Some(e);
            }
        }
        self.data.take()
    }

    fn push_line_end(&mut self, tail: &[u8]) -> Vec<String> {
        let mut bytes = tail.to_vec();
        bytes.extend_from_slice(b"\n\n");
        self.push(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream = "data: {\"a\":\"é\"}\r\n\r\n: keep-alive\n\nevent: x\ndata: one\ndata: two\n\ndata: [DONE]\n\n";
        let bytes = stream.as_bytes();
        for cut in 0..bytes.len() {
            let mut p = SseParser::default();
            let mut got = p.push(&bytes[..cut]);
            got.extend(p.push(&bytes[cut..]));
            assert_eq!(got, ["{\"a\":\"é\"}", "one\ntwo", "[DONE]"], "cut at {cut}");
            assert_eq!(p.finish(), None);
        }
    }

    #[test]
    fn an_unterminated_last_event_is_handed_over_at_the_end() {
        let mut p = SseParser::default();
        assert!(p.push(b"data: [DONE]").is_empty());
        assert_eq!(p.finish().as_deref(), Some("[DONE]"));
    }
}
