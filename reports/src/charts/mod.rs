//! Charts as inline SVG drawn with plotters. Each chart function returns the `<svg>`
//! element as a string, ready to be placed in the page. Charts are readable without
//! colour: every series has its own marker shape or dash pattern, and points and bars
//! carry text labels; the Okabe–Ito palette is used on top so colour helps but is never
//! the only cue.

mod bars;
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
    let title = crate::html::escape(title);
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

/// A readable number: 3 significant figures, no exponent for the ranges we plot.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Milliseconds as `850 ms` or `1.24 s`.
pub fn fmt_ms(v: f64) -> String {
    if v >= 1000.0 { format!("{} s", fmt_num(v / 1000.0)) } else { format!("{} ms", fmt_num(v)) }
}
