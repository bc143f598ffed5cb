//! Horizontal bar charts: one labelled row per bar, an optional 95% interval whisker,
//! and the value written in a column right of the plot, so no number has to be read
//! off an axis. Used for per-suite scores, tokens/s, and per-policy quality and latency.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::frame::{RowChart, Rows, draw_svg, row_chart, row_text};
use super::style::marker;
use super::{err, text_width};
use crate::error::Result;

/// One bar.
#[derive(Debug, Clone)]
pub struct BarRow {
    /// Axis label of the row (a model or policy).
    pub label: String,
    pub value: f64,
    /// 95% interval drawn as a whisker.
    pub ci: Option<(f64, f64)>,
    /// Text written in the value column.
    pub text: String,
    pub color: RGBColor,
    /// Marker shape drawn at the bar's end, the same shape the model has elsewhere.
    pub marker: Option<usize>,
}

/// Draw a horizontal bar chart. `x_max` fixes the axis (1.0 for scores); otherwise it
/// fits the data.
pub fn hbar(
    title: &str,
    x_desc: &str,
    rows: &[BarRow],
    x_max: Option<f64>,
    width: u32,
) -> Result<String> {
    let layout = layout(title, x_desc, rows, x_max, width);
    let height = 96 + 34 * rows.len().max(1) as u32;
    draw_svg(title, (width, height), |root| {
        let mut chart = row_chart(root, &layout)?;
        for (i, r) in rows.iter().enumerate() {
            bar(&mut chart, &layout, i, r)?;
            row_text(root, &chart, &layout, i, &r.text, 12)?;
        }
        Ok(())
    })
}

/// The rows, the value column and the x axis: up to `x_max`, or a little past the
/// longest bar or whisker.
fn layout<'t>(
    title: &'t str,
    x_desc: &'t str,
    rows: &[BarRow],
    x_max: Option<f64>,
    width: u32,
) -> Rows<'t> {
    let data_max = rows
        .iter()
        .map(|r| r.ci.map_or(r.value, |(_, hi)| hi.max(r.value)))
        .fold(0.0_f64, f64::max);
    let mut layout = Rows {
        title,
        width,
        labels: rows.iter().map(|r| r.label.clone()).collect(),
        value_col: rows.iter().map(|r| text_width(&r.text)).max().unwrap_or(40) + 20,
        x_hi: x_max.unwrap_or(if data_max > 0.0 { data_max * 1.08 } else { 1.0 }).max(data_max),
        x_desc,
        x_ticks: 2,
        x_format: |v| super::fmt_num(*v),
    };
    // About one tick label per 70 px of plot, so narrow charts do not overprint them.
    let plot_width = width.saturating_sub(layout.label_area() + layout.right_margin() + 24);
    layout.x_ticks = (plot_width / 70).clamp(2, 6) as usize;
    layout
}

/// Row `i`'s bar, its whisker with end caps, and its marker at the bar's end.
fn bar(chart: &mut RowChart<'_, '_>, layout: &Rows<'_>, i: usize, r: &BarRow) -> Result<()> {
    let name = layout.title;
    let (y, centre) = (layout.row(i), layout.centre(i));
    let mut bar = Rectangle::new(
        [(0.0, SegmentValue::Exact(y)), (r.value.max(0.0), SegmentValue::Exact(y + 1))],
        r.color.mix(0.8).filled(),
    );
    bar.set_margin(8, 8, 0, 0);
    chart.draw_series(std::iter::once(bar)).map_err(err(name))?;
    if let Some((lo, hi)) = r.ci {
        let dark = ShapeStyle::from(&RGBColor(30, 30, 30)).stroke_width(2);
        let line = PathElement::new(vec![(lo, centre.clone()), (hi, centre.clone())], dark);
        chart.draw_series(std::iter::once(line)).map_err(err(name))?;
        for end in [lo, hi] {
            let cap = EmptyElement::at((end, centre.clone()))
                + PathElement::new(vec![(0, -6), (0, 6)], dark);
            chart.draw_series(std::iter::once(cap)).map_err(err(name))?;
        }
    }
    if let Some(m) = r.marker {
        let at = (r.value.max(0.0), centre);
        chart
            .draw_series(std::iter::once(marker(m, at, RGBColor(20, 20, 20))))
            .map_err(err(name))?;
    }
    Ok(())
}
