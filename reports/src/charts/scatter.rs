//! Charts with a continuous latency axis: quality against p95 latency for one use case
//! (with the Pareto front of models no other model beats on both), and the p50/p95/p99
//! spread of one latency measure per model.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::frame::{Root, Rows, XyChart, builder, draw_svg, mesh, row_chart, row_text};
use super::style::{label_font, marker};
use super::{err, fmt_ms, text_width};
use crate::error::Result;
use crate::stats::{Interval, pareto_front};

/// One model in a quality-vs-latency chart.
#[derive(Debug, Clone)]
pub struct ScatterPoint {
    pub model: String,
    pub marker: usize,
    pub color: RGBColor,
    /// p95 end-to-end latency, ms.
    pub latency_ms: f64,
    pub quality: Interval,
}

/// A point's name, placed beside it: its left and right ends and baseline in pixels,
/// and whether it is anchored at its right end (left of the point).
struct PointLabel {
    left: i32,
    right: i32,
    y: i32,
    text: String,
    at_end: bool,
}

/// Quality (with 95% interval) against p95 latency; the Pareto front dashed.
pub fn quality_latency(title: &str, points: &[ScatterPoint], width: u32) -> Result<String> {
    let height = (width as f64 * 0.68) as u32;
    let max_x = points.iter().map(|p| p.latency_ms).fold(0.0_f64, f64::max);
    let x_hi = if max_x > 0.0 { max_x * 1.15 } else { 1000.0 };
    draw_svg(title, (width, height), |root| {
        let mut chart = builder(root, title)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..x_hi, 0.0..1.05)
            .map_err(err(title))?;
        mesh(&mut chart)
            .x_desc("p95 end-to-end latency (lower is better)")
            .y_desc("quality (higher is better)")
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| fmt_ms(*v))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .draw()
            .map_err(err(title))?;
        let coords: Vec<(f64, f64)> =
            points.iter().map(|p| (p.latency_ms, p.quality.mean)).collect();
        let front = pareto_front(&coords);
        draw_front(&mut chart, title, &coords, &front)?;
        let mut labels = Vec::new();
        for (i, p) in points.iter().enumerate() {
            draw_point(&mut chart, title, p)?;
            labels.push(point_label(&chart, p, front.contains(&i), x_hi));
        }
        place_labels(root, title, labels)
    })
}

/// The Pareto front as a dashed staircase through its points, best latency first.
fn draw_front(
    chart: &mut XyChart<'_, '_>,
    title: &str,
    coords: &[(f64, f64)],
    front: &[usize],
) -> Result<()> {
    if front.len() <= 1 {
        return Ok(());
    }
    let mut steps = Vec::new();
    for (k, &i) in front.iter().enumerate() {
        if k > 0 {
            steps.push((coords[i].0, coords[front[k - 1]].1));
        }
        steps.push(coords[i]);
    }
    let style = ShapeStyle::from(&RGBColor(60, 60, 60)).stroke_width(2);
    chart.draw_series(DashedLineSeries::new(steps, 8, 5, style)).map_err(err(title))?;
    Ok(())
}

/// One model: its quality interval as a capped whisker, and its marker at the mean.
fn draw_point(chart: &mut XyChart<'_, '_>, title: &str, p: &ScatterPoint) -> Result<()> {
    let (x, q) = (p.latency_ms, p.quality);
    let whisker = ShapeStyle::from(&p.color).stroke_width(2);
    chart
        .draw_series(std::iter::once(PathElement::new(vec![(x, q.low), (x, q.high)], whisker)))
        .map_err(err(title))?;
    for end in [q.low, q.high] {
        let cap = EmptyElement::at((x, end)) + PathElement::new(vec![(-5, 0), (5, 0)], whisker);
        chart.draw_series(std::iter::once(cap)).map_err(err(title))?;
    }
    chart
        .draw_series(std::iter::once(marker(p.marker, (x, q.mean), p.color)))
        .map_err(err(title))?;
    Ok(())
}

/// The model's name (◆ when on the front) above its point, on whichever side has room.
fn point_label(chart: &XyChart<'_, '_>, p: &ScatterPoint, on_front: bool, x_hi: f64) -> PointLabel {
    let text = format!("{}{}", p.model, if on_front { " ◆" } else { "" });
    let w = text_width(&text) as i32;
    let (px, py) = chart.backend_coord(&(p.latency_ms, p.quality.mean));
    let (plot_right, _) = chart.backend_coord(&(x_hi, p.quality.mean));
    if px + 10 + w > plot_right {
        PointLabel { left: px - 8 - w, right: px - 8, y: py - 6, text, at_end: true }
    } else {
        PointLabel { left: px + 8, right: px + 8 + w, y: py - 6, text, at_end: false }
    }
}

/// Write the labels top to bottom; one that would overprint another moves down until
/// it clears.
fn place_labels(root: &Root<'_>, title: &str, mut labels: Vec<PointLabel>) -> Result<()> {
    labels.sort_by_key(|l| l.y);
    let mut placed: Vec<(i32, i32, i32)> = Vec::new();
    let font = label_font().pos(Pos::new(HPos::Left, VPos::Bottom));
    let font_end = label_font().pos(Pos::new(HPos::Right, VPos::Bottom));
    for PointLabel { left: l, right: r, mut y, text, at_end } in labels {
        while let Some(hit) =
            placed.iter().find(|(pl, pr, py)| l < *pr && *pl < r && (y - py).abs() < 16)
        {
            y = hit.2 + 16;
        }
        placed.push((l, r, y));
        let t = if at_end {
            Text::new(text, (r, y), font_end.clone())
        } else {
            Text::new(text, (l, y), font.clone())
        };
        root.draw(&t).map_err(err(title))?;
    }
    Ok(())
}

/// One model's percentiles of one latency measure.
#[derive(Debug, Clone)]
pub struct LatencyRow {
    pub model: String,
    pub color: RGBColor,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// p50 (●), p95 (▲) and p99 (✕) of one latency measure, one row per model, with the
/// three values written in a column to the right.
pub fn latency_ranges(title: &str, rows: &[LatencyRow], width: u32) -> Result<String> {
    let height = 96 + 40 * rows.len().max(1) as u32;
    let texts: Vec<String> = rows
        .iter()
        .map(|r| format!("p50 {} · p95 {} · p99 {}", fmt_ms(r.p50), fmt_ms(r.p95), fmt_ms(r.p99)))
        .collect();
    let max_x = rows.iter().map(|r| r.p99.max(r.p95).max(r.p50)).fold(0.0_f64, f64::max);
    let layout = Rows {
        title,
        width,
        labels: rows.iter().map(|r| r.model.clone()).collect(),
        value_col: texts.iter().map(|t| text_width(t)).max().unwrap_or(40) + 24,
        x_hi: if max_x > 0.0 { max_x * 1.05 } else { 1.0 },
        x_desc: "latency",
        x_ticks: 6,
        x_format: |v| fmt_ms(*v),
    };
    draw_svg(title, (width, height), |root| {
        let mut chart = row_chart(root, &layout)?;
        let line = ShapeStyle::from(&RGBColor(160, 160, 160)).stroke_width(3);
        for (i, r) in rows.iter().enumerate() {
            let y = layout.centre(i);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(r.p50, y.clone()), (r.p99, y.clone())],
                    line,
                )))
                .map_err(err(title))?;
            // Same shapes in every latency chart: circle p50, triangle p95, cross p99.
            for (shape, v) in [(0, r.p50), (1, r.p95), (4, r.p99)] {
                chart
                    .draw_series(std::iter::once(marker(shape, (v, y.clone()), r.color)))
                    .map_err(err(title))?;
            }
            row_text(root, &chart, &layout, i, &texts[i], 14)?;
        }
        Ok(())
    })
}
