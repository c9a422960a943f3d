//! Line charts and box plots for the benchmarks, written as SVG and as PNG.
//!
//! The benchmark harness draws every workflow's results with this crate: accuracy over time as
//! a [`LineChart`], and distributions of durations (per dataset, per memory size, cold against
//! warm starts) as a [`BoxPlot`]. Each chart is written by file extension: `.svg` for documents
//! and the web, `.png` for slides; [`write_both`](BoxPlot::write_both) writes both from one
//! stem.
//!
//! ```
//! use faasml_charts::{BoxPlot, Titles};
//!
//! let titles = Titles {
//!     title: "Billed duration by memory size",
//!     x_label: "memory (MB)",
//!     y_label: "billed duration (ms)",
//! };
//! let mut plot = BoxPlot::new(titles).hues(["cold", "warm"]).mean(true);
//! for (memory, start, ms) in [("512", "cold", 930.0), ("512", "warm", 41.0), ("1024", "warm", 22.0)] {
//!     plot.push_hued(memory, start, ms);
//! }
//! let dir = tempfile::tempdir()?;
//! let [svg, png] = plot.write_both(&dir.path().join("billed"))?;
//! assert!(std::fs::read_to_string(svg)?.contains("cold"));
//! assert!(std::fs::read(png)?.starts_with(b"\x89PNG"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Design: one drawing, two backends, one bundled font
//!
//! Every chart draws itself once, generically over a plotters backend, so the SVG and the PNG
//! come from the same code. plotters is built with only the features this needs, chosen by their
//! measured build cost: `svg_backend` and `line_series` (as before), plus `bitmap_backend` and
//! `ab_glyph` for the PNG. A clean release build of this crate took about 10 CPU-seconds SVG-only
//! and 27 with PNG (11 crates against 27, ttf-parser the largest). The bitmap is encoded by the
//! workspace's `png` crate, not by plotters' `bitmap_encoder`: that brings the `image` crate with
//! JPEG and BMP codecs and a second `png` (plotters-bitmap enables those, so no feature list here
//! can narrow them) and about doubled the extra cost. Rasterising the SVG with `resvg` instead
//! cost about six times as much again.
//!
//! A bitmap needs a font, and a machine's fonts are not guaranteed to be there (a CI image, a
//! Lambda container), so DejaVu Sans is compiled into the crate (`assets/`: 742 KiB, its licence
//! and where it comes from) and registered with plotters under `sans-serif` on the first chart
//! drawn. The SVG keeps its text as `<text>` in `sans-serif`, laid out with the same metrics.
//!
//! plotters' font table is process-wide, and cargo unifies features: any other crate drawing with
//! plotters in the same build also gets `ab_glyph`, and its text fails with `FontUnavailable`
//! unless a font is registered. So charts are drawn through this crate only.

mod boxplot;
mod error;
mod font;
mod line;
mod output;
mod range;
mod stats;
mod style;

pub use boxplot::{BoxPlot, Scale};
pub use error::ChartError;
pub use line::{HLine, LineChart, Series};
pub use output::Format;
pub use stats::BoxStats;
pub use style::Titles;
