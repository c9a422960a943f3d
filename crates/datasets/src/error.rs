//! The typed error of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading, decoding or encoding a dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// The magic number at the start of an IDX file is not the expected one.
    #[error(
        "{what}: bad magic number {found:#010x}, expected {expected:#010x}{}",
        magic_hint(*found)
    )]
    BadMagic {
        /// What was being parsed, e.g. "IDX images".
        what: &'static str,
        /// The magic number the format requires.
        expected: u32,
        /// The magic number found in the input.
        found: u32,
    },

    /// The input ends before all the bytes its header declares.
    #[error("{what}: truncated, expected {expected} bytes but only {actual} are available")]
    Truncated {
        /// What was being read, e.g. "IDX images header".
        what: &'static str,
        /// How many bytes were needed.
        expected: u64,
        /// How many bytes were available.
        actual: u64,
    },

    /// The input holds more bytes than its header declares.
    #[error("{what}: {extra} unexpected trailing byte(s) after the declared data")]
    TrailingData {
        /// What was being read.
        what: &'static str,
        /// How many extra bytes were found (at least this many).
        extra: u64,
    },

    /// The gzip stream is corrupt.
    #[error("gzip: {0}")]
    Gzip(#[source] std::io::Error),

    /// A PNG image could not be decoded or encoded.
    #[error("png: {reason}")]
    Png {
        /// What went wrong.
        reason: String,
    },

    /// The class label could not be derived from an object key or path.
    #[error("bad label in key {key:?}: {reason}")]
    BadLabel {
        /// The key or path whose label is bad.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A CSV file is malformed or holds a cell that is not a number.
    #[error("csv line {line}: {reason}")]
    Csv {
        /// The 1-based line number in the file (the header is line 1).
        line: u64,
        /// What is wrong, naming the column where there is one.
        reason: String,
    },

    /// A LIBSVM file is malformed (line 0: the file as a whole).
    #[error("libsvm line {line}: {reason}")]
    Libsvm {
        /// The 1-based line number (0 when the problem is the whole file).
        line: u64,
        /// What is wrong.
        reason: String,
    },

    /// A CSV table lacks the requested column.
    #[error("csv: no column named {column:?}; the columns are: {available}")]
    MissingColumn {
        /// The column that was asked for.
        column: String,
        /// The columns the table has, comma separated.
        available: String,
    },

    /// A target value of a table is not a class label (an integer 0..=255).
    #[error("target of row {row} is {value}, not an integer class label in 0..=255")]
    BadTarget {
        /// The 0-based data row.
        row: usize,
        /// The offending value.
        value: f32,
    },

    /// A file or directory does not exist.
    #[error("not found: {} ({what})", path.display())]
    NotFound {
        /// The path that was searched.
        path: PathBuf,
        /// What was looked for there.
        what: String,
    },

    /// Several files in a directory match what was looked for.
    #[error("ambiguous: {} holds several {what}: {candidates}", dir.display())]
    Ambiguous {
        /// The directory searched.
        dir: PathBuf,
        /// What was looked for.
        what: String,
        /// The matching file names, comma separated.
        candidates: String,
    },

    /// The name is not one of the bundled datasets.
    #[error("unknown dataset {name:?}; known datasets: {known}")]
    UnknownDataset {
        /// The name asked for.
        name: String,
        /// The known names, comma separated.
        known: String,
    },

    /// Reading a file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The number of images and the number of labels differ.
    #[error("{images} images but {labels} labels")]
    Mismatch {
        /// The number of images.
        images: u64,
        /// The number of labels.
        labels: u64,
    },

    /// Image dimensions and pixel buffer do not fit together.
    #[error("bad shape: {reason}")]
    Shape {
        /// What is inconsistent.
        reason: String,
    },

    /// The input declares (or decompresses to) more bytes than the documented limit.
    #[error("{what}: {size} bytes is more than the limit of {limit}")]
    TooLarge {
        /// What is too large.
        what: &'static str,
        /// The declared or reached size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
}

/// A hint for a [`DatasetError::BadMagic`] message when the input looks gzipped or swapped.
fn magic_hint(found: u32) -> &'static str {
    if found >> 16 == 0x1f8b {
        " (the input looks gzip-compressed)"
    } else if found == 0x0000_0801 {
        " (this looks like an IDX labels file)"
    } else if found == 0x0000_0803 {
        " (this looks like an IDX images file)"
    } else {
        ""
    }
}
