//! Horizontal bar charts: one labelled row per bar, an optional 95% interval whisker,
//! and the value written beside each bar, so no number has to be read off an axis.
//! Used for per-suite scores, tokens/s, and per-policy quality and latency.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{caption_font, grid, label_font, marker};
use super::{err, finish_svg};
use crate::error::Result;

/// One bar.
#[derive(Debug, Clone)]
pub struct BarRow {
    /// Axis label of the row (a model or policy).
    pub label: String,
    pub value: f64,
    /// 95% interval drawn as a whisker.
    pub ci: Option<(f64, f64)>,
    /// Text written right of the bar.
    pub text: String,
    pub color: RGBColor,
    /// Marker shape drawn at the bar's end, the same shape the model has elsewhere.
    pub marker: Option<usize>,
}

/// Draw a horizontal bar chart. `x_max` fixes the axis (1.0 for scores); otherwise it
/// fits the data with room for the labels.
pub fn hbar(
    title: &str,
    x_desc: &str,
    rows: &[BarRow],
    x_max: Option<f64>,
    width: u32,
) -> Result<String> {
    let name = title;
    let n = rows.len().max(1) as i32;
    let height = 86 + 30 * n as u32;
    let longest = rows.iter().map(|r| r.label.chars().count()).max().unwrap_or(4) as u32;
    let label_area = (longest * 7 + 16).clamp(60, 280);
    let data_max = rows
        .iter()
        .map(|r| r.ci.map_or(r.value, |(_, hi)| hi.max(r.value)))
        .fold(0.0_f64, f64::max);
    // Leave room on the right for the value text.
    let x_max = x_max.unwrap_or(if data_max > 0.0 { data_max * 1.45 } else { 1.0 });
    let x_hi = x_max.max(data_max * 1.45);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err(name))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(label_area)
            .build_cartesian_2d(0.0..x_hi, (0..n).into_segmented())
            .map_err(err(name))?;
        let labels: Vec<String> = rows.iter().rev().map(|r| r.label.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(grid())
            .bold_line_style(grid())
            .y_labels(rows.len().max(1))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc(x_desc)
            .x_labels(6)
            .x_label_formatter(&|v| super::fmt_num(*v))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()
            .map_err(err(name))?;
        let value_font = label_font().pos(Pos::new(HPos::Left, VPos::Center));
        for (i, r) in rows.iter().enumerate() {
            let y = n - 1 - i as i32;
            let mut bar = Rectangle::new(
                [(0.0, SegmentValue::Exact(y)), (r.value.max(0.0), SegmentValue::Exact(y + 1))],
                r.color.mix(0.75).filled(),
            );
            bar.set_margin(7, 7, 0, 0);
            chart.draw_series(std::iter::once(bar)).map_err(err(name))?;
            let centre = SegmentValue::CenterOf(y);
            let mut text_x = r.value;
            if let Some((lo, hi)) = r.ci {
                let dark = ShapeStyle::from(&RGBColor(30, 30, 30)).stroke_width(2);
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(lo, centre.clone()), (hi, centre.clone())],
                        dark,
                    )))
                    .map_err(err(name))?;
                for end in [lo, hi] {
                    let cap = EmptyElement::at((end, centre.clone()))
                        + PathElement::new(vec![(0, -6), (0, 6)], dark);
                    chart.draw_series(std::iter::once(cap)).map_err(err(name))?;
                }
                text_x = text_x.max(hi);
            }
            if let Some(m) = r.marker {
                chart
                    .draw_series(std::iter::once(marker(
                        m,
                        (r.value.max(0.0), centre.clone()),
                        RGBColor(20, 20, 20),
                    )))
                    .map_err(err(name))?;
            }
            let text = EmptyElement::at((text_x, centre))
                + Text::new(r.text.clone(), (10, 0), value_font.clone());
            chart.draw_series(std::iter::once(text)).map_err(err(name))?;
        }
        root.present().map_err(err(name))?;
    }
    Ok(finish_svg(svg, title))
}
