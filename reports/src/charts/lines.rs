//! Cumulative regret of each routing policy over replayed requests: one line per
//! policy, each with its own dash pattern and marker, named at its end.

use plotters::prelude::*;

use super::frame::{Root, XyChart, builder, draw_svg, mesh, right_of_plot_font};
use super::style::{marker, model_color};
use super::{err, fmt_num, spread, text_width};
use crate::error::Result;

/// One policy's curve.
#[derive(Debug, Clone)]
pub struct Curve {
    pub name: String,
    pub values: Vec<f64>,
}

/// Draw cumulative regret curves.
pub fn regret_curves(title: &str, curves: &[Curve], width: u32) -> Result<String> {
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
    draw_svg(title, (width, height), |root| {
        let mut chart = builder(root, title)
            .margin_right(name_col.min(width / 3))
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..len as f64, 0.0..y_hi)
            .map_err(err(title))?;
        mesh(&mut chart)
            .x_desc("requests replayed")
            .y_desc("cumulative regret vs per-item oracle")
            .x_labels(8)
            .x_label_formatter(&|v| {
                if *v <= len as f64 { format!("{v:.0}") } else { String::new() }
            })
            .y_label_formatter(&|v| fmt_num(*v))
            .draw()
            .map_err(err(title))?;
        for (i, c) in curves.iter().enumerate() {
            curve(&mut chart, title, i, c, curves.len())?;
        }
        end_names(root, &chart, title, curves, &names)
    })
}

/// Policy `i`'s line, in its own dash pattern, with markers along it.
fn curve(chart: &mut XyChart<'_, '_>, title: &str, i: usize, c: &Curve, of: usize) -> Result<()> {
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
            chart.draw_series(LineSeries::new(pts.clone(), style)).map_err(err(title))?;
        }
        k => {
            let (dash, gap) = [(0, 0), (12, 6), (5, 5), (2, 4)][k];
            chart
                .draw_series(DashedLineSeries::new(pts.clone(), dash, gap, style))
                .map_err(err(title))?;
        }
    }
    // Markers every ~tenth of the way, offset per policy so they do not stack.
    let step = (pts.len() / 8).max(1);
    let offset = (i * step / of.max(1)).min(pts.len().saturating_sub(1));
    let marks: Vec<_> =
        pts.iter().skip(offset).step_by(step).map(|p| marker(i, *p, color)).collect();
    chart.draw_series(marks).map_err(err(title))?;
    Ok(())
}

/// Names in a column right of the plot, level with each line's end, nudged apart where
/// lines end close together, each joined to its line's end by a thin line.
fn end_names(
    root: &Root<'_>,
    chart: &XyChart<'_, '_>,
    title: &str,
    curves: &[Curve],
    names: &[String],
) -> Result<()> {
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
        .map_err(err(title))?;
        root.draw(&Text::new(text.clone(), (x, y), right_of_plot_font())).map_err(err(title))?;
    }
    Ok(())
}
