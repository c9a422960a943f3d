//! Line charts written as SVG, for the benchmarks (`bench downpour`'s accuracy over time).
//!
//! Drawn with `plotters` built without its default features: only the SVG backend and line
//! series. Without a font feature plotters estimates text sizes from the character count and the
//! SVG holds plain `<text>` elements that the viewer renders with its own fonts, so no font file is
//! read or shipped. A PNG would need plotters' bitmap backend plus a rasteriser and a font file
//! (the machine's fonts are not guaranteed to be there), so charts are SVG only.
//!
//! The legend sits in a column right of the plot rather than inside it: a benchmark grid easily
//! has two dozen series, which would cover the curves.

use std::path::Path;

use anyhow::{Context, Result, bail};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Output formats of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PlotFormat {
    /// Scalable vector graphics: text as `<text>`, no font file needed.
    Svg,
}

impl PlotFormat {
    /// The file extension of the format.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Self::Svg => "svg",
        }
    }
}

/// Titles of a chart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chart<'a> {
    /// Caption above the plot.
    pub(crate) title: &'a str,
    /// Description of the x axis.
    pub(crate) x_label: &'a str,
    /// Description of the y axis.
    pub(crate) y_label: &'a str,
}

/// A horizontal reference line (drawn dashed, in black).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HLine<'a> {
    /// Its y value.
    pub(crate) y: f64,
    /// Its legend entry.
    pub(crate) label: &'a str,
}

/// One named line of `(x, y)` points.
pub(crate) type Series = (String, Vec<(f64, f64)>);

/// Tableau's ten colours: distinct, and readable on white.
const PALETTE: [RGBColor; 10] = [
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

const LEGEND_ROW: u32 = 18;
const MARGIN: u32 = 20;

/// How series `i` is drawn: every point gets a marker (a series of one point is still seen);
/// colours cycle, and each further cycle of ten series changes the line and the marker (solid
/// line and filled dots, dashed and filled, solid and hollow, dashed and hollow).
fn series_look(i: usize) -> (RGBColor, bool, bool) {
    let cycle = i / PALETTE.len();
    (PALETTE[i % PALETTE.len()], cycle % 2 == 1, cycle % 4 < 2)
}

fn marker(p: (f64, f64), color: RGBColor, filled: bool) -> Circle<(f64, f64), u32> {
    let style = if filled {
        color.filled()
    } else {
        color.stroke_width(1)
    };
    Circle::new(p, 3, style)
}

/// Writes a line chart of `series` (and `hline`, if any) to `path` as SVG.
pub(crate) fn line_chart(
    chart: &Chart<'_>,
    series: &[Series],
    hline: Option<HLine<'_>>,
    path: &Path,
) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("svg") => {}
        _ => bail!(
            "cannot write the chart {}: only SVG charts are supported (name it .svg)",
            path.display()
        ),
    }
    let svg = render_svg(chart, series, hline)?;
    std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))
}

/// Renders a line chart as an SVG document.
pub(crate) fn render_svg(
    chart: &Chart<'_>,
    series: &[Series],
    hline: Option<HLine<'_>>,
) -> Result<String> {
    let entries = series.len() + usize::from(hline.is_some());
    let longest = series
        .iter()
        .map(|(label, _)| label.chars().count())
        .chain(hline.map(|h| h.label.chars().count()))
        .max()
        .unwrap_or(0);
    // About 7 pixels per character at the legend's 13 px, plus the line sample.
    let legend_width = (longest as u32 * 7 + 60).clamp(120, 420);
    let width = 900 + legend_width;
    let height = (2 * MARGIN + 40 + entries as u32 * LEGEND_ROW).max(600);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw(&root, legend_width, chart, series, hline)
            .map_err(|e| anyhow::anyhow!("cannot draw the chart '{}': {e}", chart.title))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("cannot draw the chart '{}': {e}", chart.title))?;
    }
    Ok(svg)
}

type DrawResult<T> = std::result::Result<T, DrawingAreaErrorKind<std::io::Error>>;

fn draw(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    legend_width: u32,
    chart: &Chart<'_>,
    series: &[Series],
    hline: Option<HLine<'_>>,
) -> DrawResult<()> {
    root.fill(&WHITE)?;
    let (width, _) = root.dim_in_pixel();
    let (plot_area, legend_area) = root.split_horizontally(width - legend_width);
    let (x_range, y_range) = ranges(series, hline.map(|h| h.y));

    let mut ctx = ChartBuilder::on(&plot_area)
        .caption(chart.title, ("sans-serif", 20))
        .margin(MARGIN)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range.clone(), y_range)?;
    ctx.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .axis_desc_style(("sans-serif", 15))
        .label_style(("sans-serif", 13))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    for (i, (_, points)) in series.iter().enumerate() {
        let points: Vec<(f64, f64)> = points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let (color, dashed, filled) = series_look(i);
        let style = color.stroke_width(2);
        if dashed {
            ctx.draw_series(DashedLineSeries::new(points.iter().copied(), 8, 5, style))?;
        } else {
            ctx.draw_series(LineSeries::new(points.iter().copied(), style))?;
        }
        ctx.draw_series(points.iter().map(|&p| marker(p, color, filled)))?;
    }
    if let Some(h) = hline {
        ctx.draw_series(DashedLineSeries::new(
            [(x_range.start, h.y), (x_range.end, h.y)],
            10,
            6,
            BLACK.stroke_width(1),
        ))?;
    }

    // The legend, one row per series, top-aligned with the plot.
    let font =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let x0 = 8;
    let mut y = MARGIN as i32 + 40;
    for (i, (label, _)) in series.iter().enumerate() {
        let (color, dashed, filled) = series_look(i);
        legend_sample(&legend_area, (x0, y), color.stroke_width(2), dashed)?;
        let style = if filled {
            color.filled()
        } else {
            color.stroke_width(1)
        };
        legend_area.draw(&Circle::new((x0 + 14, y), 3, style))?;
        legend_area.draw(&Text::new(label.as_str(), (x0 + 36, y), &font))?;
        y += LEGEND_ROW as i32;
    }
    if let Some(h) = hline {
        legend_sample(&legend_area, (x0, y), BLACK.stroke_width(1), true)?;
        legend_area.draw(&Text::new(h.label, (x0 + 36, y), &font))?;
    }
    Ok(())
}

fn legend_sample(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    (x, y): (i32, i32),
    style: ShapeStyle,
    dashed: bool,
) -> DrawResult<()> {
    let points = [(x, y), (x + 28, y)];
    if dashed {
        area.draw(&DashedPathElement::new(points, 7, 4, style))
    } else {
        area.draw(&PathElement::new(points, style))
    }
}

/// Axis ranges covering every point and the reference line: x from 0 (or below, for negative
/// data), y padded by 5%, kept within [0, 1] when the data is (accuracies).
fn ranges(series: &[Series], hline: Option<f64>) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let points = || {
        series
            .iter()
            .flat_map(|(_, p)| p.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let x_min = points().map(|p| p.0).fold(0.0, f64::min);
    let x_max = points().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let x_max = if x_max > x_min { x_max } else { x_min + 1.0 };
    let ys = || points().map(|p| p.1).chain(hline.filter(|y| y.is_finite()));
    let (y_min, y_max) = (
        ys().fold(f64::INFINITY, f64::min),
        ys().fold(f64::NEG_INFINITY, f64::max),
    );
    let (y_min, y_max) = if y_min.is_finite() {
        (y_min, y_max)
    } else {
        (0.0, 1.0)
    };
    let pad = (y_max - y_min).max(0.02) * 0.05;
    let mut lo = y_min - pad;
    let mut hi = y_max + pad;
    if y_min >= 0.0 {
        lo = lo.max(0.0);
    }
    if y_max <= 1.0 {
        hi = hi.min(1.0);
    }
    (x_min..x_max * 1.03, lo..hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart<'static> {
        Chart {
            title: "accuracy over time",
            x_label: "elapsed (s)",
            y_label: "test accuracy",
        }
    }

    #[test]
    fn writes_an_svg_with_every_label() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.svg");
        let series: Vec<Series> = (0..23)
            .map(|i| {
                let points = (1..=8)
                    .map(|k| (k as f64 * 0.1, 1.0 - 0.5 / (k + i) as f64))
                    .collect();
                (format!("batch {i}, 3 workers"), points)
            })
            .collect();
        let target = HLine {
            y: 0.75,
            label: "target 0.75",
        };
        line_chart(&chart(), &series, Some(target), &path).unwrap();
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
        let odd = vec![("a < b & c".to_string(), vec![(0.0, 0.5), (1.0, 0.6)])];
        assert!(
            render_svg(&chart(), &odd, None)
                .unwrap()
                .contains("a &lt; b &amp; c")
        );
    }

    #[test]
    fn empty_and_degenerate_series_still_draw() {
        let empty = render_svg(&chart(), &[], None).unwrap();
        assert!(empty.contains("accuracy over time"));
        let one = vec![("one".to_string(), vec![(0.0, 0.5)])];
        let nan = vec![("nan".to_string(), vec![(f64::NAN, f64::INFINITY)])];
        assert!(render_svg(&chart(), &one, None).unwrap().contains("one"));
        assert!(render_svg(&chart(), &nan, None).unwrap().contains("nan"));
    }

    #[test]
    fn unwritable_paths_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing").join("chart.svg");
        let err = line_chart(&chart(), &[], None, &missing).unwrap_err();
        assert!(format!("{err:#}").contains("cannot write"), "{err:#}");
        let png = dir.path().join("chart.png");
        let err = line_chart(&chart(), &[], None, &png).unwrap_err();
        assert!(err.to_string().contains("only SVG"), "{err}");
    }
}
