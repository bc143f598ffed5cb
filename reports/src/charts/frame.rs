//! What every chart shares, so each chart file holds only what it draws: an SVG
//! drawing area on a white ground with the chart's caption, axes whose grid is drawn
//! at the labelled ticks only, and, for row charts (one labelled row per model or
//! policy), the rows' layout and labels and the value text written right of the plot.

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord, ValueFormatter};
use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{caption_font, grid, label_font, no_grid};
use super::{err, finish_svg, text_width};
use crate::error::Result;

/// The drawing area of a chart being drawn into its SVG string.
pub(crate) type Root<'s> = DrawingArea<SVGBackend<'s>, Shift>;
/// A chart with two continuous axes.
pub(crate) type XyChart<'a, 's> =
    ChartContext<'a, SVGBackend<'s>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
/// A chart with a continuous x axis and one row per item on the y axis.
pub(crate) type RowChart<'a, 's> =
    ChartContext<'a, SVGBackend<'s>, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordi32>>>;

/// Draw a chart of `size` pixels with `draw`, and return it as an inline `<svg>`
/// element named `title`.
pub(crate) fn draw_svg(
    title: &str,
    size: (u32, u32),
    draw: impl FnOnce(&Root<'_>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err(title))?;
        draw(&root)?;
        root.present().map_err(err(title))?;
    }
    Ok(finish_svg(svg, title))
}

/// A chart builder with the chart's caption and the common margin set.
pub(crate) fn builder<'a, 'b, 's>(
    root: &'a Root<'s>,
    title: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'s>> {
    let mut b = ChartBuilder::on(root);
    b.caption(title, caption_font()).margin(12);
    b
}

/// The axes' style: grid lines at the labelled ticks only, labels in the label font.
/// The caller adds what its axes say and draws it.
pub(crate) fn mesh<'a, 'b, 's, X, Y, XT, YT>(
    chart: &'b mut ChartContext<'a, SVGBackend<'s>, Cartesian2d<X, Y>>,
) -> MeshStyle<'a, 'b, X, Y, SVGBackend<'s>>
where
    X: Ranged<ValueType = XT> + ValueFormatter<XT>,
    Y: Ranged<ValueType = YT> + ValueFormatter<YT>,
{
    let mut m = chart.configure_mesh();
    m.light_line_style(no_grid())
        .bold_line_style(grid())
        .label_style(label_font())
        .axis_desc_style(label_font());
    m
}

/// Text anchored at its left end and centred on its y, as written right of a plot.
pub(crate) fn right_of_plot_font() -> TextStyle<'static> {
    label_font().pos(Pos::new(HPos::Left, VPos::Center))
}

/// How a row chart is laid out: its size, its rows top to bottom, the width of the
/// value column right of the plot, and its x axis from 0 to `x_hi`.
pub(crate) struct Rows<'t> {
    pub title: &'t str,
    pub width: u32,
    pub labels: Vec<String>,
    pub value_col: u32,
    pub x_hi: f64,
    pub x_desc: &'t str,
    pub x_ticks: usize,
    pub x_format: fn(&f64) -> String,
}

impl Rows<'_> {
    /// Pixels left of the plot for the longest row label.
    pub fn label_area(&self) -> u32 {
        let longest = self.labels.iter().map(|l| text_width(l)).max().unwrap_or(40);
        (longest + 16).clamp(60, 300)
    }

    /// Right margin: the value column, at most half the chart.
    pub fn right_margin(&self) -> u32 {
        self.value_col.min(self.width / 2)
    }

    fn n(&self) -> i32 {
        self.labels.len().max(1) as i32
    }

    /// The y coordinate of the centre of row `i`, counted from the top.
    pub fn centre(&self, i: usize) -> SegmentValue<i32> {
        SegmentValue::CenterOf(self.row(i))
    }

    /// The segment of row `i`, counted from the top (plotters counts from the bottom).
    pub fn row(&self, i: usize) -> i32 {
        self.n() - 1 - i as i32
    }
}

/// Build a row chart and draw its axes and row labels.
pub(crate) fn row_chart<'a, 's>(root: &'a Root<'s>, rows: &Rows<'_>) -> Result<RowChart<'a, 's>> {
    let (n, title) = (rows.n(), rows.title);
    let mut chart = builder(root, title)
        .margin_right(rows.right_margin())
        .x_label_area_size(44)
        .y_label_area_size(rows.label_area())
        .build_cartesian_2d(0.0..rows.x_hi, (0..n - 1).into_segmented())
        .map_err(err(title))?;
    let label = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => {
            rows.labels.get((n - 1 - i) as usize).cloned().unwrap_or_default()
        }
        _ => String::new(),
    };
    mesh(&mut chart)
        .disable_y_mesh()
        .y_labels(rows.labels.len().max(1))
        .y_label_formatter(&label)
        .x_desc(rows.x_desc)
        .x_labels(rows.x_ticks)
        .x_label_formatter(&rows.x_format)
        .draw()
        .map_err(err(title))?;
    Ok(chart)
}

/// Write `text` right of the plot, `gap` pixels from its edge, level with row `i`.
pub(crate) fn row_text(
    root: &Root<'_>,
    chart: &RowChart<'_, '_>,
    rows: &Rows<'_>,
    i: usize,
    text: &str,
    gap: i32,
) -> Result<()> {
    let (px, py) = chart.backend_coord(&(rows.x_hi, rows.centre(i)));
    root.draw(&Text::new(text.to_owned(), (px + gap, py), right_of_plot_font()))
        .map_err(err(rows.title))
}
