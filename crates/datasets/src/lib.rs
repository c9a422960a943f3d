//! Dataset readers and writers for faasml: IDX (MNIST-style) files, greyscale PNG
//! images whose class is the name of their parent directory, numeric CSV tables, LIBSVM rows,
//! labelled text in CSV, and the datasets bundled in the repository's `data/` directory.
//!
//! This crate only parses and encodes bytes and reads the local bundled data
//! directory. It knows nothing about object stores, HTTP or the ML algorithms.
//! Every decoder returns a [`DatasetError`] on corrupt or truncated input instead of
//! panicking, and checks declared sizes against the available bytes before
//! allocating.

pub mod bundled;
pub mod csv_table;
mod error;
pub mod idx;
mod image_set;
pub mod libsvm;
pub mod png_image;
pub mod text_table;

pub use error::DatasetError;
pub use image_set::ImageSet;

/// The result type of every fallible function in this crate.
pub type Result<T> = std::result::Result<T, DatasetError>;
