//! The chart sections: trade-offs per use case, scores per suite, latency
//! percentiles and tokens/s. Each says where its numbers come from, and says so
//! plainly when there is nothing to draw.

use super::escape;
use crate::Report;
use crate::figures::Figure;

fn figure(f: &Figure) -> String {
    format!(
        "<figure id=\"{}\" class=\"chart\">{}<figcaption>{}</figcaption></figure>\n",
        escape(&f.id),
        f.svg,
        escape(&f.caption)
    )
}

/// A section of charts, in a two-column grid when `grid`.
fn section(id: &str, title: &str, lede: &str, figs: &[Figure], grid: bool, empty: &str) -> String {
    let mut out =
        format!("<section id=\"{id}\">\n<h2>{title}</h2>\n<p class=\"lede\">{lede}</p>\n");
    if figs.is_empty() {
        out.push_str(&format!("<p class=\"empty\">{empty}</p>\n"));
    } else {
        if grid {
            out.push_str("<div class=\"grid2\">\n");
        }
        for f in figs {
            out.push_str(&figure(f));
        }
        if grid {
            out.push_str("</div>\n");
        }
    }
    out.push_str("</section>\n");
    out
}

pub fn tradeoff(r: &Report) -> String {
    section(
        "tradeoff",
        "Quality against latency, per use case",
        "Each point is a model (its name beside it); the best trade-offs lie on the dashed Pareto front. \
         Quality and p95 latency are the summary's figures.",
        &r.figures.tradeoff,
        true,
        "Nothing measured yet: no quality and latency to plot.",
    )
}

pub fn suites(r: &Report) -> String {
    section(
        "suites",
        "Score per suite",
        "Mean score of each model on each suite, with its 95% interval and the number of items.",
        &r.figures.suites,
        false,
        "No suite results in the selected runs or the registry.",
    )
}

pub fn latency(r: &Report) -> String {
    section(
        "latency",
        "Latency percentiles",
        "Time to first token (prompt processing included), the gap between generated tokens, and the whole request.",
        &r.figures.latency,
        false,
        "No timed items: run <code>noa bench</code> to measure latency.",
    )
}

pub fn throughput(r: &Report) -> String {
    section(
        "throughput",
        "Tokens per second",
        "Prompt processing and generation speed per model on this machine.",
        &r.figures.throughput,
        true,
        "No throughput measured yet.",
    )
}
