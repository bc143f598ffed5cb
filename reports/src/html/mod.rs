//! The report page: one self-contained HTML5 document. Styles are inline in a single
//! `<style>` element, fonts are the reader's own system fonts, charts are inline SVG,
//! and there is no script — nothing is fetched when the file is opened.

mod evidence;
mod page;
mod provenance;
mod sections;

pub use page::render;

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A use case as a person reads it.
pub fn use_case_title(uc: noa_registry::UseCase) -> &'static str {
    use noa_registry::UseCase::*;
    match uc {
        CodeGeneration => "Code generation",
        Reasoning => "Reasoning",
        Qa => "Q&A",
        FunctionCalling => "Function calling",
        InstructionFollowing => "Instruction following",
        Agent => "Agent tasks",
        Vision => "Vision",
        General => "General",
    }
}

/// `0.62 (0.51–0.72)`.
pub fn fmt_quality(q: &crate::stats::Interval) -> String {
    format!("{:.2} ({:.2}–{:.2})", q.mean, q.low, q.high)
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(super::escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
