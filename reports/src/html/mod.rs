//! The report page: one self-contained HTML5 document rendered from minijinja templates
//! (`reports/templates/`, compiled into the binary) with auto-escaping on. Styles are
//! inline in a single `<style>` element, fonts are the reader's own system fonts, charts
//! are inline SVG, and there is no script — nothing is fetched when the file is opened.
//!
//! Each section turns the [`Report`](crate::Report) into a small serializable view:
//! numbers are formatted here in Rust, so the templates only place text and markup.

mod evidence;
mod page;
mod provenance;
mod routing;
mod sections;
mod templates;
mod verdict;

pub use page::render;

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

/// `—` where a value is missing.
fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".into())
}
