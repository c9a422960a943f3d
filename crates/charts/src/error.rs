//! The typed error of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while drawing a chart or writing it to a file.
///
/// Bad data is not an error: non-finite values are left out and empty groups or series are drawn
/// empty. What is an error is a file that cannot be written, a format that cannot be told from the
/// file name, and data that the chosen axis cannot show (a non-positive value on a log scale).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChartError {
    /// The file name's extension names no format this crate writes.
    #[error(
        "cannot write the chart {}: unknown format {:?} (name it .svg or .png)",
        path.display(),
        extension_of(path)
    )]
    UnknownFormat {
        /// The path that was asked for.
        path: PathBuf,
    },

    /// The file could not be created or written (a missing or read-only directory, a full disk).
    #[error("cannot write the chart {}", path.display())]
    Write {
        /// The file that was being written.
        path: PathBuf,
        /// Why the write failed.
        #[source]
        source: std::io::Error,
    },

    /// `plotters` failed to draw the chart.
    ///
    /// plotters' error is generic over its backend, so it is kept as its message.
    #[error("cannot draw the chart '{title}': {message}")]
    Draw {
        /// The chart's title.
        title: String,
        /// plotters' description of the failure.
        message: String,
    },

    /// The drawn pixels could not be encoded as PNG.
    #[error("cannot encode the chart '{title}' as PNG")]
    Png {
        /// The chart's title.
        title: String,
        /// The encoder's error.
        #[source]
        source: png::EncodingError,
    },

    /// A value that a logarithmic axis cannot show (zero or negative).
    #[error(
        "cannot draw the chart '{title}' with a log scale: group '{group}' holds {value}, \
         which is not positive"
    )]
    NotPositive {
        /// The chart's title.
        title: String,
        /// The group (category, and series where there are several) holding the value.
        group: String,
        /// The first offending value found.
        value: f64,
    },

    /// The bundled font could not be parsed or registered with plotters.
    #[error("cannot load the bundled font {name}")]
    Font {
        /// The font file's name.
        name: &'static str,
    },
}

fn extension_of(path: &std::path::Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default()
}
