//! Where the first JSON object in generated text ends. A request may ask generation to
//! stop there ([`GenerateRequest::stop_after_json`](crate::GenerateRequest)): a
//! protocol of one JSON object per reply reads nothing after it, and small models often
//! go on after it to `max_tokens` (another invented turn, a paragraph of prose). The
//! caller that reads the reply cuts it at the same place with [`first_json_object_end`],
//! so a backend that cannot stop there (a remote server) gives the same text.
//!
//! The rule: the first top-level `{ ... }` span (braces counted outside JSON strings,
//! strings tracked only inside a span) that parses as a JSON object. A span that does
//! not parse (`{braces}` in prose, a Python dict) is skipped as a whole; an object
//! nested in an open span is part of it, not an end.

/// Scans text as it grows; see the module docs for the rule.
#[derive(Debug, Clone, Default)]
pub struct JsonObjectEnd {
    /// Bytes scanned so far.
    pos: usize,
    /// Start of the open top-level span.
    start: Option<usize>,
    depth: usize,
    in_str: bool,
    escaped: bool,
}

impl JsonObjectEnd {
    /// Scan `text` from where the last call stopped (`text` must extend what was
    /// given before). The byte index just past the first JSON object, once there is one.
    pub fn feed(&mut self, text: &str) -> Option<usize> {
        let bytes = text.as_bytes();
        while self.pos < bytes.len() {
            let i = self.pos;
            self.pos += 1;
            let Some(start) = self.start else {
                if bytes[i] == b'{' {
                    self.start = Some(i);
                    self.depth = 1;
                }
                continue;
            };
            let b = bytes[i];
            if self.in_str {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_str = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_str = true,
                b'{' => self.depth += 1,
                b'}' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.start = None;
                        // Braces and quotes are ASCII: `i + 1` is a char boundary.
                        let span = &text[start..=i];
                        let parses = serde_json::from_str::<
                            serde_json::Map<String, serde_json::Value>,
                        >(span)
                        .is_ok();
                        if parses {
                            return Some(i + 1);
                        }
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// The byte index just past the first JSON object in `text` (see the module docs).
pub fn first_json_object_end(text: &str) -> Option<usize> {
    JsonObjectEnd::default().feed(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_whole_object_ends_it_and_nested_ones_do_not() {
        let t = r#"Reply: {"tool": "calc", "args": {"x": "1 }"}}
Message: Tool result (calc): 1"#;
        let end = first_json_object_end(t).unwrap();
        assert_eq!(&t[..end], r#"Reply: {"tool": "calc", "args": {"x": "1 }"}}"#);
        // Escaped quotes inside strings do not end them.
        let t = r#"{"final": "say \"}\" twice"} and more"#;
        assert_eq!(&t[..first_json_object_end(t).unwrap()], r#"{"final": "say \"}\" twice"}"#);
    }

    #[test]
    fn spans_that_are_not_json_are_skipped_and_open_ones_end_nothing() {
        let t = r#"use {braces} or {'a': 1}, then {"final": "ok"} {"b": 2}"#;
        assert_eq!(
            &t[..first_json_object_end(t).unwrap()],
            r#"use {braces} or {'a': 1}, then {"final": "ok"}"#
        );
        assert_eq!(first_json_object_end(r#"{"tool": "x", "args": {"a": 1}"#), None);
        assert_eq!(first_json_object_end("no object here [1, 2]"), None);
        // Quotes in prose before any brace are prose.
        let t = r#"it's "quoted" {"a": "b"}"#;
        assert_eq!(first_json_object_end(t), Some(t.len()));
    }

    #[test]
    fn fed_piece_by_piece_it_ends_where_a_whole_scan_does() {
        let t = "Sure. ```json\n{\"tool\": \"ké\", \"args\": {\"p\": \"{x}\"}}\n``` and then";
        let whole = first_json_object_end(t);
        let mut scan = JsonObjectEnd::default();
        let mut got = None;
        for (i, _) in t.char_indices().skip(1).chain([(t.len(), ' ')]) {
            if let Some(end) = scan.feed(&t[..i]) {
                got = Some(end);
                break;
            }
        }
        assert_eq!(got, whole);
        assert!(whole.is_some());
    }
}
