//! Cumulative regret of each routing policy over replayed requests: one line per
//! policy, each with its own dash pattern and marker, named at its end.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{caption_font, grid, label_font, marker, model_color, no_grid};
use super::{err, finish_svg, fmt_num, spread, text_width};
use crate::error::Result;

/// One policy's curve.
#[derive(Debug, Clone)]
pub struct Curve {
    pub name: String,
    pub values: Vec<f64>,
}

/// Draw cumulative regret curves.
pub fn regret_curves(title: &str, curves: &[Curve], width: u32) -> Result<String> {
    let name = title;
    let height = (width as f64 * 0.5) as u32;
    let len = curves.iter().map(|c| c.values.len()).max().unwrap_or(1).max(2);
    let y_max = curves
        .iter()
        .flat_map(|c| c.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let y_hi = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
    let names: Vec<String> = curves
        .iter()
        .map(|c| format!("{} ({})", c.name, fmt_num(c.values.last().copied().unwrap_or(0.0))))
        .collect();
    let name_col = names.iter().map(|t| text_width(t)).max().unwrap_or(60) + 24;
    let x_hi = len as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err(name))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(12)
            .margin_right(name_col.min(width / 3))
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_hi, 0.0..y_hi)
            .map_err(err(name))?;
        chart
            .configure_mesh()
            .light_line_style(no_grid())
            .bold_line_style(grid())
            .x_desc("requests replayed")
            .y_desc("cumulative regret vs per-item oracle")
            .x_labels(8)
            .x_label_formatter(&|v| {
                if *v <= len as f64 { format!("{v:.0}") } else { String::new() }
            })
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()
            .map_err(err(name))?;
        let end_font = label_font().pos(Pos::new(HPos::Left, VPos::Center));
        for (i, c) in curves.iter().enumerate() {
            let color = model_color(i);
            let style = ShapeStyle::from(&color).stroke_width(2);
            let pts: Vec<(f64, f64)> = c
                .values
                .iter()
                .enumerate()
                .map(|(k, v)| ((k + 1) as f64, if v.is_finite() { *v } else { 0.0 }))
                .collect();
            // Solid, long dash, short dash, dotted, ...: the pattern tells the lines apart.
            match i % 4 {
                0 => {
                    chart.draw_series(LineSeries::new(pts.clone(), style)).map_err(err(name))?;
                }
                k => {
                    let (dash, gap) = [(0, 0), (12, 6), (5, 5), (2, 4)][k];
                    chart
                        .draw_series(DashedLineSeries::new(pts.clone(), dash, gap, style))
                        .map_err(err(name))?;
                }
            }
            // Markers every ~tenth of the way, offset per policy so they do not stack.
            let step = (pts.len() / 8).max(1);
            let offset = (i * step / curves.len().max(1)).min(pts.len().saturating_sub(1));
            let marks: Vec<_> =
                pts.iter().skip(offset).step_by(step).map(|p| marker(i, *p, color)).collect();
            chart.draw_series(marks).map_err(err(name))?;
        }
        // Names in a column right of the plot, level with each line's end, nudged apart
        // where lines end close together.
        let ends: Vec<(i32, i32)> = curves
            .iter()
            .map(|c| {
                let last = c.values.last().copied().filter(|v| v.is_finite()).unwrap_or(0.0);
                chart.backend_coord(&(c.values.len().max(1) as f64, last))
            })
            .collect();
        let ys = spread(&ends.iter().map(|e| e.1).collect::<Vec<_>>(), 18);
        for (i, text) in names.iter().enumerate() {
            let (x, y) = (ends[i].0 + 10, ys[i]);
            root.draw(&PathElement::new(
                vec![(ends[i].0 + 2, ends[i].1), (x - 2, y)],
                ShapeStyle::from(&model_color(i)),
            ))
            .map_err(err(name))?;
            root.draw(&Text::new(text.clone(), (x, y), end_font.clone())).map_err(err(name))?;
        }
        root.present().map_err(err(name))?;
    }
    Ok(finish_svg(svg, title))
}
