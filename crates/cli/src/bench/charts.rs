//! The benchmark's charts, drawn with `faasml-charts` and written as SVG and PNG side by side.

use std::path::{Path, PathBuf};

use anyhow::Result;
use faasml_charts::{BoxPlot, HLine, LineChart, Series, Titles};

/// A box plot of `groups` (one box per group, over its runs), written as `<stem>.svg` and
/// `<stem>.png`.
pub(crate) fn box_plot(
    title: &str,
    y_label: &str,
    groups: &[(String, Vec<f64>)],
    stem: &Path,
) -> Result<Vec<PathBuf>> {
    let titles = Titles {
        title,
        x_label: "",
        y_label,
    };
    let plot = groups
        .iter()
        .fold(BoxPlot::new(titles).mean(true), |plot, (label, values)| {
            plot.group(label, values.iter().copied())
        });
    Ok(plot.write_both(stem)?.to_vec())
}

/// A line chart of `lines`, with an optional dashed reference line, written as `<stem>.svg`
/// and `<stem>.png`.
pub(crate) fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    lines: &[(String, Vec<(f64, f64)>)],
    reference: Option<(f64, String)>,
    stem: &Path,
) -> Result<Vec<PathBuf>> {
    let series: Vec<Series> = lines
        .iter()
        .map(|(label, points)| Series::new(label.clone(), points.clone()))
        .collect();
    let titles = Titles {
        title,
        x_label,
        y_label,
    };
    let hline = reference.as_ref().map(|(y, label)| HLine { y: *y, label });
    let chart = LineChart::new(titles, &series).hline(hline);
    Ok(chart.write_both(stem)?.to_vec())
}
