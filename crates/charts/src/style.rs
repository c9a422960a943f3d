//! The look shared by every chart: titles, colours, text sizes and the legend column.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::font::FAMILY;

/// The titles of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Titles<'a> {
    /// Caption above the plot.
    pub title: &'a str,
    /// Description of the x axis.
    pub x_label: &'a str,
    /// Description of the y axis.
    pub y_label: &'a str,
}

/// Tableau's ten colours: distinct, and readable on white.
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Height of one legend row, in pixels.
pub(crate) const LEGEND_ROW: u32 = 18;
/// Margin around the plot, in pixels.
pub(crate) const MARGIN: u32 = 20;
/// Size of the caption.
pub(crate) const TITLE_SIZE: u32 = 20;
/// Size of the axis descriptions.
pub(crate) const DESC_SIZE: u32 = 15;
/// Size of tick labels, category labels and legend entries.
pub(crate) const LABEL_SIZE: u32 = 13;
/// Where the legend's first row is, from the top of the legend column: level with the plot.
pub(crate) const LEGEND_TOP: i32 = MARGIN as i32 + 40;
/// The largest width or height drawn, in pixels: a chart of hundreds of groups narrows its boxes
/// rather than growing a bitmap without bound.
pub(crate) const MAX_SIDE: u32 = 8000;

/// The width of `text` at `size` in the bundled font, in pixels. When the font cannot measure it
/// (it always can once registered), about 0.55 em per character.
pub(crate) fn text_width(text: &str, size: u32) -> u32 {
    (FAMILY, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or_else(|_| (text.chars().count() as u32 * size * 11).div_ceil(20))
}

/// The width of the legend column for entries labelled `labels`: the widest label plus the
/// sample in front of it, within sane bounds.
pub(crate) fn legend_width<'l>(labels: impl Iterator<Item = &'l str>) -> u32 {
    let widest = labels.map(|l| text_width(l, LABEL_SIZE)).max().unwrap_or(0);
    (widest + 60).clamp(120, 420)
}

/// The text style of legend entries, centred vertically on their row.
pub(crate) fn legend_font() -> TextStyle<'static> {
    TextStyle::from((FAMILY, LABEL_SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Center))
}

/// Draws a short line sample, solid or dashed, at the start of a legend row.
pub(crate) fn legend_line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    style: ShapeStyle,
    dashed: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let points = [(x, y), (x + 28, y)];
    if dashed {
        area.draw(&DashedPathElement::new(points, 7, 4, style))
    } else {
        area.draw(&PathElement::new(points, style))
    }
}

/// Draws a legend entry's label right of its sample.
pub(crate) fn legend_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    label: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    area.draw(&Text::new(label, (x + 36, y), legend_font()))
}
