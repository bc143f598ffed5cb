//! Charts with a continuous latency axis: quality against p95 latency for one use case
//! (with the Pareto front of models no other model beats on both), and the p50/p95/p99
//! spread of one latency measure per model.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{caption_font, grid, label_font, marker, no_grid};
use super::{err, finish_svg, fmt_ms, text_width};
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

/// Quality (with 95% interval) against p95 latency; the Pareto front dashed.
pub fn quality_latency(title: &str, points: &[ScatterPoint], width: u32) -> Result<String> {
    let name = title;
    let height = (width as f64 * 0.68) as u32;
    let max_x = points.iter().map(|p| p.latency_ms).fold(0.0_f64, f64::max);
    let x_hi = if max_x > 0.0 { max_x * 1.15 } else { 1000.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err(name))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..x_hi, 0.0..1.05)
            .map_err(err(name))?;
        chart
            .configure_mesh()
            .light_line_style(no_grid())
            .bold_line_style(grid())
            .x_desc("p95 end-to-end latency (lower is better)")
            .y_desc("quality (higher is better)")
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| fmt_ms(*v))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()
            .map_err(err(name))?;

        let coords: Vec<(f64, f64)> =
            points.iter().map(|p| (p.latency_ms, p.quality.mean)).collect();
        let front = pareto_front(&coords);
        if front.len() > 1 {
            let mut steps = Vec::new();
            for (k, &i) in front.iter().enumerate() {
                if k > 0 {
                    steps.push((coords[i].0, coords[front[k - 1]].1));
                }
                steps.push(coords[i]);
            }
            let style = ShapeStyle::from(&RGBColor(60, 60, 60)).stroke_width(2);
            chart.draw_series(DashedLineSeries::new(steps, 8, 5, style)).map_err(err(name))?;
        }
        // (left, right, baseline y, text, anchored at its right end?)
        let mut labels: Vec<(i32, i32, i32, String, bool)> = Vec::new();
        for (i, p) in points.iter().enumerate() {
            let (x, q) = (p.latency_ms, p.quality);
            let whisker = ShapeStyle::from(&p.color).stroke_width(2);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, q.low), (x, q.high)],
                    whisker,
                )))
                .map_err(err(name))?;
            for end in [q.low, q.high] {
                let cap =
                    EmptyElement::at((x, end)) + PathElement::new(vec![(-5, 0), (5, 0)], whisker);
                chart.draw_series(std::iter::once(cap)).map_err(err(name))?;
            }
            chart
                .draw_series(std::iter::once(marker(p.marker, (x, q.mean), p.color)))
                .map_err(err(name))?;
            // Name above the point, on whichever side has room for it.
            let text = format!("{}{}", p.model, if front.contains(&i) { " ◆" } else { "" });
            let w = text_width(&text) as i32;
            let (px, py) = chart.backend_coord(&(x, q.mean));
            let (plot_right, _) = chart.backend_coord(&(x_hi, q.mean));
            if px + 10 + w > plot_right {
                labels.push((px - 8 - w, px - 8, py - 6, text, true));
            } else {
                labels.push((px + 8, px + 8 + w, py - 6, text, false));
            }
        }
        // Labels that would overprint each other move down until they clear.
        labels.sort_by_key(|l| l.2);
        let mut placed: Vec<(i32, i32, i32)> = Vec::new();
        let font = label_font().pos(Pos::new(HPos::Left, VPos::Bottom));
        let font_end = label_font().pos(Pos::new(HPos::Right, VPos::Bottom));
        for (l, r, mut y, text, at_end) in labels {
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
            root.draw(&t).map_err(err(name))?;
        }
        root.present().map_err(err(name))?;
    }
    Ok(finish_svg(svg, title))
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
    let name = title;
    let n = rows.len().max(1) as i32;
    let height = 96 + 40 * n as u32;
    let longest = rows.iter().map(|r| text_width(&r.model)).max().unwrap_or(40);
    let texts: Vec<String> = rows
        .iter()
        .map(|r| format!("p50 {} · p95 {} · p99 {}", fmt_ms(r.p50), fmt_ms(r.p95), fmt_ms(r.p99)))
        .collect();
    let value_col = texts.iter().map(|t| text_width(t)).max().unwrap_or(40) + 24;
    let max_x = rows.iter().map(|r| r.p99.max(r.p95).max(r.p50)).fold(0.0_f64, f64::max);
    let x_hi = if max_x > 0.0 { max_x * 1.05 } else { 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err(name))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(12)
            .margin_right(value_col.min(width / 2))
            .x_label_area_size(44)
            .y_label_area_size((longest + 16).clamp(60, 300))
            .build_cartesian_2d(0.0..x_hi, (0..n - 1).into_segmented())
            .map_err(err(name))?;
        let labels: Vec<String> = rows.iter().rev().map(|r| r.model.clone()).collect();
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
            .x_labels(6)
            .x_label_formatter(&|v| fmt_ms(*v))
            .x_desc("latency")
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()
            .map_err(err(name))?;
        let text_font = label_font().pos(Pos::new(HPos::Left, VPos::Center));
        for (i, r) in rows.iter().enumerate() {
            let y = SegmentValue::CenterOf(n - 1 - i as i32);
            let line = ShapeStyle::from(&RGBColor(160, 160, 160)).stroke_width(3);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(r.p50, y.clone()), (r.p99, y.clone())],
                    line,
                )))
                .map_err(err(name))?;
            // Same shapes in every latency chart: circle p50, triangle p95, cross p99.
            for (shape, v) in [(0, r.p50), (1, r.p95), (4, r.p99)] {
                chart
                    .draw_series(std::iter::once(marker(shape, (v, y.clone()), r.color)))
                    .map_err(err(name))?;
            }
            let (px, py) = chart.backend_coord(&(x_hi, y));
            root.draw(&Text::new(texts[i].clone(), (px + 14, py), text_font.clone()))
                .map_err(err(name))?;
        }
        root.present().map_err(err(name))?;
    }
    Ok(finish_svg(svg, title))
}
