//! Charts as inline SVG drawn with plotters. Each chart function returns the `<svg>`
//! element as a string, ready to be placed in the page. Charts are readable without
//! colour: every series has its own marker shape or dash pattern, and points and bars
//! carry text labels; the Okabe–Ito palette is used on top so colour helps but is never
//! the only cue.

mod bars;
mod frame;
mod lines;
mod scatter;
mod style;

pub use bars::{BarRow, hbar};
pub use lines::{Curve, regret_curves};
pub use scatter::{LatencyRow, ScatterPoint, latency_ranges, quality_latency};
pub use style::{ModelStyles, model_color};

use crate::error::ReportError;

/// Turn plotters' output into an inline SVG element: drop the namespace attribute
/// (HTML5 does not need it, and it is the only URL-shaped string plotters writes),
/// and give the chart an accessible name.
pub(crate) fn finish_svg(svg: String, title: &str) -> String {
    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    // The title is text inside markup, escaped as the page escapes its text.
    let title = minijinja::HtmlEscape(title).to_string();
    match svg.find('>') {
        Some(end) if svg.starts_with("<svg") => format!(
            "{} role=\"img\" aria-label=\"{title}\"><title>{title}</title>{}",
            &svg[..end],
            &svg[end + 1..]
        ),
        _ => svg,
    }
}

/// Map a plotters error into ours, naming the chart.
pub(crate) fn err<E: std::fmt::Debug>(chart: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Chart { chart: chart.to_owned(), message: format!("{e:?}") }
}

/// A readable number: 3 significant figures, trailing zeros dropped (`0.5`, `2`, `1.24`).
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

/// Width in pixels that `text` needs at the label font size (an estimate; the page's
/// own fonts are similar to plotters' naive metrics).
pub(crate) fn text_width(text: &str) -> u32 {
    (text.chars().count() as f64 * 6.8).ceil() as u32
}

/// Spread label positions (pixel y, sorted or not) so that no two are closer than
/// `gap`, keeping their order; returns the new positions in the input order.
pub(crate) fn spread(ys: &[i32], gap: i32) -> Vec<i32> {
    let mut order: Vec<usize> = (0..ys.len()).collect();
    order.sort_by_key(|&i| ys[i]);
    let mut out = ys.to_vec();
    let mut last = i32::MIN / 2;
    for &i in &order {
        out[i] = out[i].max(last + gap);
        last = out[i];
    }
    out
}

/// Milliseconds as `850 ms` or `1.24 s`.
pub fn fmt_ms(v: f64) -> String {
    if v >= 1000.0 { format!("{} s", fmt_num(v / 1000.0)) } else { format!("{} ms", fmt_num(v)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(2.0), "2");
        assert_eq!(fmt_num(1234.6), "1235");
        assert_eq!(fmt_ms(1240.0), "1.24 s");
        assert_eq!(fmt_ms(850.0), "850 ms");
    }

    #[test]
    fn chart_title_is_escaped_text() {
        let svg = finish_svg(
            "<svg width=\"10\" xmlns=\"http://www.w3.org/2000/svg\">\n</svg>".into(),
            "<b> & \"q\"",
        );
        assert_eq!(
            svg,
            "<svg width=\"10\" role=\"img\" aria-label=\"&lt;b&gt; &amp; &quot;q&quot;\">\
             <title>&lt;b&gt; &amp; &quot;q&quot;</title>\n</svg>"
        );
    }

    #[test]
    fn spread_keeps_order_and_gap() {
        assert_eq!(spread(&[100, 95, 300], 18), vec![113, 95, 300]);
    }
}
