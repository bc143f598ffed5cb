//! Turning token pieces into text safely. A piece can end in the middle of a UTF-8
//! character and a stop string can be split across several tokens, so the output is
//! assembled here: bytes are held until they form whole characters, stop strings are
//! searched in the assembled text, and a stream only releases text that can no longer
//! turn out to be the start of a stop string.

/// Output text of one sequence.
#[derive(Debug, Default)]
pub(crate) struct TextState {
    pending: Vec<u8>,
    text: String,
    stops: Vec<String>,
    /// Bytes of `text` already handed to a stream.
    emitted: usize,
    stopped: bool,
    /// Set when the request stops after the first JSON object.
    json: Option<noa_infer::JsonObjectEnd>,
}

impl TextState {
    pub(crate) fn new(stops: Vec<String>) -> Self {
        let stops = stops.into_iter().filter(|s| !s.is_empty()).collect();
        Self { stops, ..Self::default() }
    }

    /// Also stop right after the first JSON object (text after it is cut).
    pub(crate) fn stop_after_json(mut self, on: bool) -> Self {
        self.json = on.then(noa_infer::JsonObjectEnd::default);
        self
    }

    /// Append a piece. Returns true when a stop string matched (text is then cut before it).
    pub(crate) fn push(&mut self, piece: &[u8]) -> bool {
        if self.stopped {
            return true;
        }
        self.pending.extend_from_slice(piece);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            // Invalid bytes (not just incomplete): replace them and move on.
            Err(_) => {
                let lossy = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending.clear();
                return self.append(&lossy);
            }
        };
        let rest = self.pending.split_off(valid);
        let whole = std::mem::replace(&mut self.pending, rest);
        // `whole` is valid UTF-8 by construction.
        let s = String::from_utf8_lossy(&whole).into_owned();
        self.append(&s)
    }

    fn append(&mut self, s: &str) -> bool {
        let old_len = self.text.len();
        self.text.push_str(s);
        let longest = self.stops.iter().map(String::len).max().unwrap_or(0);
        let mut from = old_len.saturating_sub(longest.saturating_sub(1));
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        let hit = self
            .stops
            .iter()
            .filter_map(|st| self.text[from..].find(st.as_str()).map(|i| from + i))
            .min();
        if let Some(i) = hit {
            self.text.truncate(i);
            self.stopped = true;
        }
        if let Some(end) = self.json.as_mut().and_then(|j| j.feed(&self.text)) {
            self.text.truncate(end);
            self.stopped = true;
        }
        self.stopped
    }

    /// Flush bytes still pending at the end (an incomplete character becomes U+FFFD).
    pub(crate) fn finish(&mut self) {
        if !self.pending.is_empty() && !self.stopped {
            let lossy = String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned();
            self.append(&lossy);
        }
    }

    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn into_text(self) -> String {
        self.text
    }

    /// Text that is safe to stream now: all of it when `final_`, else everything but a
    /// tail that might still grow into a stop string.
    pub(crate) fn take_stream(&mut self, final_: bool) -> Option<String> {
        let mut end = self.text.len();
        if !final_ && !self.stopped {
            let held = self
                .stops
                .iter()
                .map(|st| longest_suffix_prefix(&self.text, st))
                .max()
                .unwrap_or(0);
            end -= held;
        }
        if end <= self.emitted {
            return None;
        }
        let out = self.text[self.emitted..end].to_owned();
        self.emitted = end;
        Some(out)
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `stop`, on a char boundary.
fn longest_suffix_prefix(text: &str, stop: &str) -> usize {
    let max = stop.len().saturating_sub(1).min(text.len());
    (1..=max)
        .rev()
        .find(|&k| {
            text.is_char_boundary(text.len() - k)
                && stop.as_bytes().starts_with(&text.as_bytes()[text.len() - k..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_utf8_is_held_until_whole() {
        let mut t = TextState::new(vec![]);
        let bytes = "é€".as_bytes();
        assert!(!t.push(&bytes[..1]));
        assert_eq!(t.text(), "");
        t.push(&bytes[1..3]);
        assert_eq!(t.text(), "é");
        t.push(&bytes[3..]);
        assert_eq!(t.text(), "é€");
    }

    #[test]
    fn stop_split_across_pieces_truncates() {
        let mut t = TextState::new(vec!["\n\nQ:".into()]);
        assert!(!t.push(b"answer 4\n"));
        assert_eq!(t.take_stream(false).as_deref(), Some("answer 4"));
        assert!(!t.push(b"\nQ"));
        assert_eq!(t.take_stream(false), None);
        assert!(t.push(b": next"));
        assert_eq!(t.text(), "answer 4");
        assert_eq!(t.take_stream(true), None);
    }

    #[test]
    fn stream_releases_held_tail_when_it_is_not_a_stop() {
        let mut t = TextState::new(vec!["END".into()]);
        t.push(b"the EN");
        assert_eq!(t.take_stream(false).as_deref(), Some("the "));
        t.push(b"D? no: ENTER");
        assert_eq!(t.text(), "the ");
        let mut u = TextState::new(vec!["END".into()]);
        u.push(b"ENTER");
        assert_eq!(u.take_stream(false).as_deref(), Some("ENTER"));
    }

    #[test]
    fn stop_after_json_cuts_what_follows_the_first_object_in_the_same_piece() {
        let mut t = TextState::new(vec!["\nUser:".into()]).stop_after_json(true);
        assert!(!t.push(b"Reply: {\"tool\": \"calc\", \"args\": {\"x\": \"}\""));
        assert!(!t.push(b"}"));
        assert_eq!(
            t.take_stream(false).as_deref(),
            Some("Reply: {\"tool\": \"calc\", \"args\": {\"x\": \"}\"}")
        );
        assert!(t.push(b"}\nMessage: Tool result"));
        assert_eq!(t.text(), "Reply: {\"tool\": \"calc\", \"args\": {\"x\": \"}\"}}");
        assert_eq!(t.take_stream(true).as_deref(), Some("}"));
        // Off, the same text runs on.
        let mut u = TextState::new(vec![]);
        assert!(!u.push(b"{\"a\": 1} more"));
    }

    #[test]
    fn invalid_bytes_become_replacement() {
        let mut t = TextState::new(vec![]);
        t.push(&[0xff, b'a']);
        assert_eq!(t.text(), "\u{fffd}a");
        t.push(&[0xe2, 0x82]);
        t.finish();
        assert_eq!(t.text(), "\u{fffd}a\u{fffd}");
    }
}
