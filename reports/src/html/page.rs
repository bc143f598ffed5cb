//! The page shell: gathers every section's view into one context and renders
//! `page.html`, which holds the head, the inline stylesheet and the order of the
//! sections.

use serde::Serialize;

use super::{evidence, provenance, routing, sections, templates, verdict};
use crate::Report;
use crate::error::Result;

/// Everything the templates read, one field per section.
#[derive(Serialize)]
struct Page {
    version: &'static str,
    generated_at: String,
    header: sections::Header,
    verdict: verdict::Verdict,
    alerts: sections::Alerts,
    summary: sections::SummaryTable,
    evidence: evidence::Evidence,
    routing: routing::Routing,
    declared: Vec<sections::Declared>,
    provenance: provenance::Provenance,
    files: Vec<provenance::CsvFile>,
}

/// Render the whole document.
pub fn render(r: &Report) -> Result<String> {
    let page = Page {
        version: env!("CARGO_PKG_VERSION"),
        generated_at: r.generated_at.clone(),
        header: sections::header(r),
        verdict: verdict::verdict(r),
        alerts: sections::alerts(r),
        summary: sections::summary_table(r),
        evidence: evidence::evidence(r),
        routing: routing::routing(r),
        declared: sections::declared(r),
        provenance: provenance::provenance(r),
        files: provenance::files(r),
    };
    templates::render("page.html", page)
}
