//! Output formats, and turning a chart into SVG text, PNG bytes or a file.
//!
//! Every chart draws itself through one generic function on a plotters drawing area, so the SVG
//! and the PNG of a chart come from the same code and look alike. The PNG is drawn by plotters'
//! bitmap backend into an RGB buffer and encoded by the `png` crate (see the crate doc for why
//! not plotters' own encoder).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{ChartError, font};

/// A file format a chart can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Scalable vector graphics. Text stays text (`<text>`), set in the viewer's sans-serif font.
    Svg,
    /// A PNG bitmap, its text drawn with the bundled DejaVu Sans: for slides and documents that
    /// take no SVG.
    Png,
}

impl Format {
    /// Every format, in the order [`write_both`](crate::LineChart::write_both) writes them.
    pub const ALL: [Format; 2] = [Format::Svg, Format::Png];

    /// The file extension of the format, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Svg => "svg",
            Self::Png => "png",
        }
    }

    /// The format named by `path`'s extension (`.svg` or `.png`, any case).
    pub fn from_path(path: &Path) -> Result<Self, ChartError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        Self::ALL
            .into_iter()
            .find(|f| ext.eq_ignore_ascii_case(f.extension()))
            .ok_or_else(|| ChartError::UnknownFormat {
                path: path.to_path_buf(),
            })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// The result of drawing on a plotters area of backend `DB`.
pub(crate) type DrawResult<T, DB> =
    Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// What a chart type implements to be rendered: its size and how to draw itself on any backend.
pub(crate) trait Draw {
    /// The chart's title, for error messages.
    fn title(&self) -> &str;

    /// The size of the whole picture in pixels, legend included.
    fn size(&self) -> (u32, u32);

    /// Draws the chart on `root`, which is [`size`](Draw::size) large.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<(), DB>;

    /// Checks that the data can be drawn at all, before anything is drawn.
    fn check(&self) -> Result<(), ChartError> {
        Ok(())
    }
}

fn draw_error(chart: &impl Draw, e: impl fmt::Display) -> ChartError {
    ChartError::Draw {
        title: chart.title().to_string(),
        message: e.to_string(),
    }
}

/// Renders `chart` as an SVG document.
pub(crate) fn render_svg(chart: &impl Draw) -> Result<String, ChartError> {
    font::ensure_registered()?;
    chart.check()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
        chart.draw(&root).map_err(|e| draw_error(chart, e))?;
        root.present().map_err(|e| draw_error(chart, e))?;
    }
    Ok(svg)
}

/// Renders `chart` as the bytes of a PNG file (8-bit RGB).
pub(crate) fn render_png(chart: &impl Draw) -> Result<Vec<u8>, ChartError> {
    font::ensure_registered()?;
    chart.check()?;
    let (width, height) = chart.size();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        chart.draw(&root).map_err(|e| draw_error(chart, e))?;
        root.present().map_err(|e| draw_error(chart, e))?;
    }
    let png_error = |source| ChartError::Png {
        title: chart.title().to_string(),
        source,
    };
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(&rgb).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

/// Renders `chart` in `format`: the SVG's UTF-8 text or the PNG's bytes.
pub(crate) fn render(chart: &impl Draw, format: Format) -> Result<Vec<u8>, ChartError> {
    match format {
        Format::Svg => render_svg(chart).map(String::into_bytes),
        Format::Png => render_png(chart),
    }
}

/// Writes `chart` to `path`, in the format its extension names.
pub(crate) fn write(chart: &impl Draw, path: &Path) -> Result<(), ChartError> {
    let bytes = render(chart, Format::from_path(path)?)?;
    std::fs::write(path, bytes).map_err(|source| ChartError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `chart` as `{stem}.svg` and `{stem}.png` and returns both paths, in that order. The
/// extensions are appended, so a stem with a dot in its name (`run.v2`) keeps it.
pub(crate) fn write_both(chart: &impl Draw, stem: &Path) -> Result<[PathBuf; 2], ChartError> {
    let paths = Format::ALL.map(|format| {
        let mut name = OsString::from(stem.as_os_str());
        name.push(".");
        name.push(format.extension());
        PathBuf::from(name)
    });
    for path in &paths {
        write(chart, path)?;
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_extension_in_any_case() {
        assert_eq!(
            Format::from_path(Path::new("a/b.svg")).unwrap(),
            Format::Svg
        );
        assert_eq!(Format::from_path(Path::new("b.PNG")).unwrap(), Format::Png);
        for bad in ["chart.jpg", "chart", "chart.svg.gz", ".png"] {
            let err = Format::from_path(Path::new(bad)).unwrap_err();
            assert!(
                matches!(&err, ChartError::UnknownFormat { path } if path == Path::new(bad)),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains(bad), "{err}");
        }
        assert_eq!(Format::Png.to_string(), "png");
    }
}
