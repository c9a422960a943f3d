//! Line charts: named series of `(x, y)` points, with an optional dashed reference line.
//!
//! Every point gets a marker, so that a series of one point is still seen. The legend sits in a
//! column right of the plot rather than inside it: a benchmark grid easily has two dozen series,
//! which would cover the curves.

use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::font::FAMILY;
use crate::output::{self, Draw, DrawResult};
use crate::range::padded;
use crate::style::{
    DESC_SIZE, LABEL_SIZE, LEGEND_ROW, LEGEND_TOP, MARGIN, PALETTE, TITLE_SIZE, Titles,
    legend_label, legend_line, legend_width,
};
use crate::{ChartError, Format};

/// One named line of `(x, y)` points. Points with a non-finite coordinate are left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its legend entry.
    pub label: String,
    /// Its points, drawn joined in this order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series named `label`.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
        }
    }
}

/// A horizontal reference line, drawn dashed in black across the whole plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HLine<'a> {
    /// Its y value. A non-finite one is not drawn (its legend entry still is).
    pub y: f64,
    /// Its legend entry.
    pub label: &'a str,
}

/// A line chart of several series, with a legend column right of the plot.
///
/// Series look different by colour first (ten colours), and each further cycle of ten changes
/// the line and the marker: solid line and filled dots, dashed and filled, solid and hollow,
/// dashed and hollow. The x axis starts at 0 (or below, for negative data); the y axis is padded
/// by 5% and kept within [0, 1] when the data is (accuracies).
#[derive(Debug, Clone)]
pub struct LineChart<'a> {
    titles: Titles<'a>,
    series: &'a [Series],
    hline: Option<HLine<'a>>,
}

impl<'a> LineChart<'a> {
    /// A chart of `series` under `titles`, without a reference line.
    pub fn new(titles: Titles<'a>, series: &'a [Series]) -> Self {
        Self {
            titles,
            series,
            hline: None,
        }
    }

    /// Adds (or, with `None`, removes) the reference line.
    pub fn hline(mut self, hline: Option<HLine<'a>>) -> Self {
        self.hline = hline;
        self
    }

    /// Writes the chart to `path`, as SVG or PNG according to its extension.
    pub fn write(&self, path: &Path) -> Result<(), ChartError> {
        output::write(self, path)
    }

    /// Writes the chart to `{stem}.svg` and `{stem}.png` and returns the two paths.
    pub fn write_both(&self, stem: &Path) -> Result<[PathBuf; 2], ChartError> {
        output::write_both(self, stem)
    }

    /// The chart as an SVG document.
    pub fn render_svg(&self) -> Result<String, ChartError> {
        output::render_svg(self)
    }

    /// The chart as the bytes of a PNG file.
    pub fn render_png(&self) -> Result<Vec<u8>, ChartError> {
        output::render_png(self)
    }

    /// The chart in `format`: the SVG's text as bytes, or the PNG file's bytes.
    pub fn render(&self, format: Format) -> Result<Vec<u8>, ChartError> {
        output::render(self, format)
    }

    fn legend_width(&self) -> u32 {
        let labels = self.series.iter().map(|s| s.label.as_str());
        legend_width(labels.chain(self.hline.map(|h| h.label)))
    }
}

/// How series `i` is drawn: its colour, whether its line is dashed, whether its markers are
/// filled.
fn series_look(i: usize) -> (RGBColor, bool, bool) {
    let cycle = i / PALETTE.len();
    (PALETTE[i % PALETTE.len()], cycle % 2 == 1, cycle % 4 < 2)
}

fn marker_style(color: RGBColor, filled: bool) -> ShapeStyle {
    if filled {
        color.filled()
    } else {
        color.stroke_width(1)
    }
}

impl Draw for LineChart<'_> {
    fn title(&self) -> &str {
        self.titles.title
    }

    fn size(&self) -> (u32, u32) {
        let entries = self.series.len() + usize::from(self.hline.is_some());
        let width = 900 + self.legend_width();
        let height = (2 * MARGIN + 40)
            .saturating_add((entries as u32).saturating_mul(LEGEND_ROW))
            .clamp(600, crate::style::MAX_SIDE);
        (width, height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<(), DB> {
        root.fill(&WHITE)?;
        let (width, _) = root.dim_in_pixel();
        let (plot_area, legend_area) = root.split_horizontally(width - self.legend_width());
        let (x_range, y_range) = ranges(self.series, self.hline.map(|h| h.y));

        let mut ctx = ChartBuilder::on(&plot_area)
            .caption(self.titles.title, (FAMILY, TITLE_SIZE))
            .margin(MARGIN)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(x_range.clone(), y_range)?;
        ctx.configure_mesh()
            .x_desc(self.titles.x_label)
            .y_desc(self.titles.y_label)
            .axis_desc_style((FAMILY, DESC_SIZE))
            .label_style((FAMILY, LABEL_SIZE))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;

        for (i, series) in self.series.iter().enumerate() {
            let points: Vec<(f64, f64)> = finite(&series.points).collect();
            let (color, dashed, filled) = series_look(i);
            let style = color.stroke_width(2);
            if dashed {
                ctx.draw_series(DashedLineSeries::new(points.iter().copied(), 8, 5, style))?;
            } else {
                ctx.draw_series(LineSeries::new(points.iter().copied(), style))?;
            }
            let marker = marker_style(color, filled);
            ctx.draw_series(points.iter().map(|&p| Circle::new(p, 3, marker)))?;
        }
        if let Some(h) = self.hline.filter(|h| h.y.is_finite()) {
            ctx.draw_series(DashedLineSeries::new(
                [(x_range.start, h.y), (x_range.end, h.y)],
                10,
                6,
                BLACK.stroke_width(1),
            ))?;
        }

        // The legend, one row per series, top-aligned with the plot.
        let x0 = 8;
        let mut y = LEGEND_TOP;
        for (i, series) in self.series.iter().enumerate() {
            let (color, dashed, filled) = series_look(i);
            legend_line(&legend_area, (x0, y), color.stroke_width(2), dashed)?;
            legend_area.draw(&Circle::new((x0 + 14, y), 3, marker_style(color, filled)))?;
            legend_label(&legend_area, (x0, y), &series.label)?;
            y += LEGEND_ROW as i32;
        }
        if let Some(h) = self.hline {
            legend_line(&legend_area, (x0, y), BLACK.stroke_width(1), true)?;
            legend_label(&legend_area, (x0, y), h.label)?;
        }
        Ok(())
    }
}

fn finite(points: &[(f64, f64)]) -> impl Iterator<Item = (f64, f64)> + '_ {
    points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
}

/// Axis ranges covering every finite point and the reference line: x from 0 (or below, for
/// negative data) to 3% past the last point, y as [`padded`].
fn ranges(series: &[Series], hline: Option<f64>) -> (Range<f64>, Range<f64>) {
    let points = || series.iter().flat_map(|s| finite(&s.points));
    let x_min = points().map(|p| p.0).fold(0.0, f64::min);
    let x_max = points().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let x_max = if x_max > x_min { x_max } else { x_min + 1.0 };
    let x_end = x_max + (x_max - x_min) * 0.03;
    let x_end = if x_end.is_finite() { x_end } else { x_max };
    let ys = || points().map(|p| p.1).chain(hline.filter(|y| y.is_finite()));
    let y_min = ys().fold(f64::INFINITY, f64::min);
    let y_max = ys().fold(f64::NEG_INFINITY, f64::max);
    (x_min..x_end, padded(y_min, y_max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles() -> Titles<'static> {
        Titles {
            title: "accuracy over time",
            x_label: "elapsed (s)",
            y_label: "test accuracy",
        }
    }

    fn grid() -> Vec<Series> {
        (0..23)
            .map(|i| {
                let points = (1..=8)
                    .map(|k| (k as f64 * 0.1, 1.0 - 0.5 / (k + i) as f64))
                    .collect();
                Series::new(format!("batch {i}, 3 workers"), points)
            })
            .collect()
    }

    #[test]
    fn writes_an_svg_with_every_label() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.svg");
        let series = grid();
        let target = HLine {
            y: 0.75,
            label: "target 0.75",
        };
        LineChart::new(titles(), &series)
            .hline(Some(target))
            .write(&path)
            .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        for label in [
            "accuracy over time",
            "elapsed (s)",
            "test accuracy",
            "batch 0, 3 workers",
            "batch 22, 3 workers",
            "target 0.75",
        ] {
            assert!(svg.contains(label), "no '{label}' in the SVG");
        }
        // A marker per point, and one per series in the legend.
        assert!(svg.matches("<circle").count() >= 23 * 8 + 23);
        // Text is escaped.
        let odd = [Series::new("a < b & c", vec![(0.0, 0.5), (1.0, 0.6)])];
        let svg = LineChart::new(titles(), &odd).render_svg().unwrap();
        assert!(svg.contains("a &lt; b &amp; c"));
    }

    #[test]
    fn the_legend_grows_with_the_series_and_their_labels() {
        let few = [Series::new("a", vec![(0.0, 0.5)])];
        let many = grid();
        let (w_few, h_few) = LineChart::new(titles(), &few).size();
        let (w_many, h_many) = LineChart::new(titles(), &many).size();
        assert_eq!((w_few, h_few), (900 + 120, 600));
        assert!(w_many > w_few, "{w_many} vs {w_few}");
        let lots: Vec<Series> = (0..100)
            .map(|i| Series::new(i.to_string(), vec![]))
            .collect();
        let (_, h_lots) = LineChart::new(titles(), &lots).size();
        assert!(h_lots > h_many && h_lots >= 100 * LEGEND_ROW, "{h_lots}");
    }

    #[test]
    fn empty_and_degenerate_series_still_draw() {
        let empty = LineChart::new(titles(), &[]).render_svg().unwrap();
        assert!(empty.contains("accuracy over time"));
        let one = [Series::new("one", vec![(0.0, 0.5)])];
        let nan = [Series::new(
            "nan",
            vec![(f64::NAN, f64::INFINITY), (1.0, f64::NEG_INFINITY)],
        )];
        let nan_line = HLine {
            y: f64::NAN,
            label: "no target",
        };
        assert!(
            LineChart::new(titles(), &one)
                .render_svg()
                .unwrap()
                .contains("one")
        );
        let svg = LineChart::new(titles(), &nan)
            .hline(Some(nan_line))
            .render_svg()
            .unwrap();
        assert!(svg.contains("nan") && svg.contains("no target"));
        // Only the legend's marker: no point was finite.
        assert_eq!(svg.matches("<circle").count(), 1);
        let png = LineChart::new(titles(), &nan).render_png().unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }

    #[test]
    fn ranges_start_at_zero_and_keep_accuracies_within_one() {
        let s = [Series::new("s", vec![(1.0, 0.5), (10.0, 0.9)])];
        let (x, y) = ranges(&s, Some(0.95));
        assert_eq!(x.start, 0.0);
        assert!((x.end - 10.3).abs() < 1e-9, "{x:?}");
        assert!(y.start < 0.5 && y.end > 0.95 && y.end < 1.0, "{y:?}");
        let (_, y) = ranges(&s, Some(0.99));
        assert_eq!(y.end, 1.0);
        let negative = [Series::new("s", vec![(-4.0, -2.0), (-2.0, 3.0)])];
        let (x, y) = ranges(&negative, None);
        assert_eq!(x.start, -4.0);
        assert!(x.end > -2.0 && x.end < 0.0, "{x:?}");
        assert!(y.start < -2.0 && y.end > 3.0, "{y:?}");
        let (x, y) = ranges(&[], None);
        assert_eq!((x, y), (0.0..1.03, 0.0..1.0));
    }
}
