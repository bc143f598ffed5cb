//! Colours and marker shapes shared by every chart, so a model looks the same in each.

use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};

/// Okabe–Ito: distinguishable with the common forms of colour blindness.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(110, 110, 110), // grey (stands in for black, which is the axis colour)
    RGBColor(160, 140, 0),   // dark yellow (yellow itself is unreadable on white)
];

/// The colour of the `i`th series.
pub fn model_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Which colour and marker each model gets, by its position in the report's model
/// list.
#[derive(Debug, Clone, Default)]
pub struct ModelStyles {
    models: Vec<String>,
}

impl ModelStyles {
    pub fn new(models: &[String]) -> Self {
        Self { models: models.to_vec() }
    }
    pub fn index(&self, model: &str) -> usize {
        self.models.iter().position(|m| m == model).unwrap_or(self.models.len())
    }
    pub fn color(&self, model: &str) -> RGBColor {
        model_color(self.index(model))
    }
}

/// A data point's marker: one of ten shapes (filled circle, triangle, square, diamond,
/// cross, then hollow ones), drawn in backend pixels so it keeps its size at any scale.
#[derive(Debug, Clone)]
pub struct Marker<C> {
    at: C,
    shape: usize,
    color: RGBColor,
}

/// Marker `i` centred at `at`.
pub fn marker<C>(i: usize, at: C, color: RGBColor) -> Marker<C> {
    Marker { at, shape: i % 10, color }
}

impl<'a, C: 'a> PointCollection<'a, C> for &'a Marker<C> {
    type Point = &'a C;
    type IntoIter = std::iter::Once<&'a C>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<C, DB: DrawingBackend> Drawable<DB> for Marker<C> {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _parent_dim: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = pos.next() else { return Ok(()) };
        let fill = ShapeStyle::from(&self.color).filled();
        let line = ShapeStyle::from(&self.color).stroke_width(2);
        let triangle = [(x, y - 7), (x + 6, y + 4), (x - 6, y + 4)];
        let diamond = [(x, y - 6), (x + 6, y), (x, y + 6), (x - 6, y)];
        match self.shape {
            0 => backend.draw_circle((x, y), 5, &fill, true),
            1 => backend.fill_polygon(triangle, &fill),
            2 => backend.draw_rect((x - 4, y - 4), (x + 4, y + 4), &fill, true),
            3 => backend.fill_polygon(diamond, &fill),
            4 => {
                backend.draw_line((x - 5, y - 5), (x + 5, y + 5), &line)?;
                backend.draw_line((x - 5, y + 5), (x + 5, y - 5), &line)
            }
            5 => backend.draw_circle((x, y), 5, &line, false),
            6 => backend.draw_path(triangle.into_iter().chain([triangle[0]]), &line),
            7 => backend.draw_rect((x - 4, y - 4), (x + 4, y + 4), &line, false),
            8 => backend.draw_path(diamond.into_iter().chain([diamond[0]]), &line),
            _ => {
                backend.draw_line((x - 6, y), (x + 6, y), &line)?;
                backend.draw_line((x, y - 6), (x, y + 6), &line)
            }
        }
    }
}

/// Font of axis labels and point labels.
pub fn label_font() -> TextStyle<'static> {
    ("sans-serif", 15).into_font().color(&RGBColor(40, 40, 40))
}

/// Font of chart captions.
pub fn caption_font() -> TextStyle<'static> {
    ("sans-serif", 19).into_font().color(&RGBColor(20, 20, 20))
}

/// Grid lines at the labelled ticks.
pub fn grid() -> ShapeStyle {
    ShapeStyle::from(&RGBColor(228, 228, 228)).stroke_width(1)
}

/// The fine grid between ticks: not drawn (it only adds noise).
pub fn no_grid() -> ShapeStyle {
    ShapeStyle::from(&TRANSPARENT).stroke_width(0)
}
