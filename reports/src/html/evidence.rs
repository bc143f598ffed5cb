//! The chart sections: trade-offs per use case, scores per suite, latency percentiles
//! and tokens/s. Each says where its numbers come from (in its template), and says so
//! plainly when there is nothing to draw.

use minijinja::Value;
use serde::Serialize;

use crate::Report;
use crate::figures::Figure;

/// One `<figure>`: the chart and what to say under it.
#[derive(Serialize)]
pub struct FigureView {
    id: String,
    /// The chart's `<svg>` element, inserted as markup (see [`FigureView::new`]).
    svg: Value,
    caption: String,
}

impl FigureView {
    pub fn new(f: &Figure) -> Self {
        FigureView {
            id: f.id.clone(),
            // Safe to insert unescaped: this SVG is not input but what plotters drew in
            // `crate::charts` from numbers, and every piece of text in it (labels, model
            // and policy names, the chart title) was escaped by plotters' SVG backend or
            // by `charts::finish_svg`, so it cannot open or close an element of the page.
            svg: Value::from_safe_string(f.svg.clone()),
            caption: f.caption.clone(),
        }
    }
}

/// Views of a list of figures.
pub fn figures<'a>(figs: impl IntoIterator<Item = &'a Figure>) -> Vec<FigureView> {
    figs.into_iter().map(FigureView::new).collect()
}

/// The four chart sections, in page order.
#[derive(Serialize)]
pub struct Evidence {
    tradeoff: Vec<FigureView>,
    suites: Vec<FigureView>,
    latency: Vec<FigureView>,
    throughput: Vec<FigureView>,
}

pub fn evidence(r: &Report) -> Evidence {
    let f = &r.figures;
    Evidence {
        tradeoff: figures(&f.tradeoff),
        suites: figures(&f.suites),
        latency: figures(&f.latency),
        throughput: figures(&f.throughput),
    }
}
