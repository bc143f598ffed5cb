//! Horizontal bar charts: one labelled row per bar, an optional 95% interval whisker,
//! and the value written in a column right of the plot, so no number has to be read
//! off an axis. Used for per-suite scores, tokens/s, and per-policy quality and latency.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{caption_font, grid, label_font, marker, no_grid};
use super::{err, finish_svg, text_width};
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
    let name = title;
    let n = rows.len().max(1) as i32;
    let height = 96 + 34 * n as u32;
    let longest = rows.iter().map(|r| text_width(&r.label)).max().unwrap_or(40);
    let label_area = (longest + 16).clamp(60, 300);
    let value_col = rows.iter().map(|r| text_width(&r.text)).max().unwrap_or(40) + 20;
    let data_max = rows
        .iter()
        .map(|r| r.ci.map_or(r.value, |(_, hi)| hi.max(r.value)))
        .fold(0.0_f64, f64::max);
    let x_hi = x_max.unwrap_or(if data_max > 0.0 { data_max * 1.08 } else { 1.0 }).max(data_max);
    // About one tick label per 70 px of plot, so narrow charts do not overprint them.
    let plot_width = width.saturating_sub(label_area + value_col.min(width / 2) + 24);
    let x_ticks = (plot_width / 70).clamp(2, 6) as usize;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err(name))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(12)
            .margin_right(value_col.min(width / 2))
            .x_label_area_size(44)
            .y_label_area_size(label_area)
            .build_cartesian_2d(0.0..x_hi, (0..n - 1).into_segmented())
            .map_err(err(name))?;
        let labels: Vec<String> = rows.iter().rev().map(|r| r.label.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(no_grid())
            .bold_line_style(grid())
            .y_labels(rows.len().max(1))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc(x_desc)
            .x_labels(x_ticks)
            .x_label_formatter(&|v| super::fmt_num(*v))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()
            .map_err(err(name))?;
        let value_font = label_font().pos(Pos::new(HPos::Left, VPos::Center));
        let dark = ShapeStyle::from(&RGBColor(30, 30, 30)).stroke_width(2);
        for (i, r) in rows.iter().enumerate() {
            let y = n - 1 - i as i32;
            let centre = SegmentValue::CenterOf(y);
            let mut bar = Rectangle::new(
                [(0.0, SegmentValue::Exact(y)), (r.value.max(0.0), SegmentValue::Exact(y + 1))],
                r.color.mix(0.8).filled(),
            );
            bar.set_margin(8, 8, 0, 0);
            chart.draw_series(std::iter::once(bar)).map_err(err(name))?;
            if let Some((lo, hi)) = r.ci {
                let line = PathElement::new(vec![(lo, centre.clone()), (hi, centre.clone())], dark);
                chart.draw_series(std::iter::once(line)).map_err(err(name))?;
                for end in [lo, hi] {
                    let cap = EmptyElement::at((end, centre.clone()))
                        + PathElement::new(vec![(0, -6), (0, 6)], dark);
                    chart.draw_series(std::iter::once(cap)).map_err(err(name))?;
                }
            }
            if let Some(m) = r.marker {
                let at = (r.value.max(0.0), centre.clone());
                chart
                    .draw_series(std::iter::once(marker(m, at, RGBColor(20, 20, 20))))
                    .map_err(err(name))?;
            }
            let (px, py) = chart.backend_coord(&(x_hi, centre));
            root.draw(&Text::new(r.text.clone(), (px + 12, py), value_font.clone()))
                .map_err(err(name))?;
        }
        root.present().map_err(err(name))?;
    }
    Ok(finish_svg(svg, title))
}
