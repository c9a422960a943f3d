//! Spark's LIBSVM samples from the repository's `data/libsvm/`, for the tests of [`super`],
//! read in `f64` as Spark reads them.

use faasml_datasets::{bundled, libsvm};

use super::Rows;

/// The rows and labels of `data/libsvm/<name>.txt`.
pub(crate) fn load(name: &str) -> (Rows, Vec<f64>) {
    let path = bundled::data_dir()
        .join("libsvm")
        .join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&path).unwrap();
    let t = libsvm::read_libsvm_f64(&text, None).unwrap();
    (Rows::new(t.n_rows, t.n_cols, t.features).unwrap(), t.labels)
}
