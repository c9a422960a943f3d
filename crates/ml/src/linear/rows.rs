//! [`Rows`]: what the linear solvers need of their records, one row at a time, implemented
//! for dense rows ([`MatrixView`]) and compressed sparse rows ([`CsrMatrix`]), so that a
//! solver is written once and fits and predicts on both.
//!
//! Every operation sums in `f64` over the row's entries in column order; the sparse forms
//! skip the zeros, which adds nothing to a sum, so the two agree up to the rounding of terms
//! that are exactly zero.

use crate::{CsrMatrix, MatrixView, MlError, Result};

/// Row access for the linear solvers: records as dense or sparse rows of `f32`.
pub(crate) trait Rows: Sync {
    /// Number of rows.
    fn n_rows(&self) -> usize;

    /// Number of columns (features).
    fn n_cols(&self) -> usize;

    /// `row_i · w` in `f64`; `w` has at least `n_cols()` entries.
    fn dot(&self, i: usize, w: &[f64]) -> f64;

    /// `row_i · w` in `f64` for `f32` weights (each widened as it is read, so a prediction
    /// touches only the weights of the row's non-zeros instead of widening them all).
    fn dot_f32(&self, i: usize, w: &[f32]) -> f64;

    /// `w += a * row_i`; `w` has at least `n_cols()` entries.
    fn axpy(&self, i: usize, a: f64, w: &mut [f64]);

    /// `||row_i||²` in `f64`.
    fn squared_norm(&self, i: usize) -> f64;

    /// Checks records to predict on: `n_features` columns, all values finite.
    fn check_predict(&self, n_features: usize) -> Result<()>;
}

impl Rows for MatrixView<'_> {
    fn n_rows(&self) -> usize {
        self.rows()
    }

    fn n_cols(&self) -> usize {
        self.cols()
    }

    #[inline]
    fn dot(&self, i: usize, w: &[f64]) -> f64 {
        self.row(i)
            .iter()
            .zip(w)
            .map(|(&v, &w)| f64::from(v) * w)
            .sum()
    }

    #[inline]
    fn dot_f32(&self, i: usize, w: &[f32]) -> f64 {
        self.row(i)
            .iter()
            .zip(w)
            .map(|(&v, &w)| f64::from(v) * f64::from(w))
            .sum()
    }

    #[inline]
    fn axpy(&self, i: usize, a: f64, w: &mut [f64]) {
        for (wj, &v) in w.iter_mut().zip(self.row(i)) {
            *wj += a * f64::from(v);
        }
    }

    #[inline]
    fn squared_norm(&self, i: usize) -> f64 {
        self.row(i)
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum()
    }

    fn check_predict(&self, n_features: usize) -> Result<()> {
        super::check_predict_input(*self, n_features)
    }
}

impl Rows for CsrMatrix {
    fn n_rows(&self) -> usize {
        CsrMatrix::n_rows(self)
    }

    fn n_cols(&self) -> usize {
        CsrMatrix::n_cols(self)
    }

    #[inline]
    fn dot(&self, i: usize, w: &[f64]) -> f64 {
        self.row(i).dot_f64(w)
    }

    #[inline]
    fn dot_f32(&self, i: usize, w: &[f32]) -> f64 {
        let row = self.row(i);
        row.indices
            .iter()
            .zip(row.values)
            .map(|(&j, &v)| f64::from(v) * f64::from(w[j as usize]))
            .sum()
    }

    #[inline]
    fn axpy(&self, i: usize, a: f64, w: &mut [f64]) {
        self.row(i).axpy_f64(a, w);
    }

    #[inline]
    fn squared_norm(&self, i: usize) -> f64 {
        self.row(i).squared_norm()
    }

    /// A [`CsrMatrix`] holds only finite values (checked when built), so only the width is
    /// checked.
    fn check_predict(&self, n_features: usize) -> Result<()> {
        if CsrMatrix::n_cols(self) != n_features {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: n_features,
                got: CsrMatrix::n_cols(self),
            });
        }
        Ok(())
    }
}

/// Checks class targets given beside sparse records: one label per row, each below
/// `n_classes`, at least one row and one column.
pub(crate) fn check_sparse_classes(
    x: &CsrMatrix,
    y: &[u32],
    n_classes: usize,
    model: &str,
) -> Result<()> {
    if x.n_rows() == 0 || x.n_cols() == 0 {
        return Err(MlError::EmptyInput(format!(
            "{model} needs at least one record and one feature, got {} x {}",
            x.n_rows(),
            x.n_cols()
        )));
    }
    if y.len() != x.n_rows() {
        return Err(MlError::ShapeMismatch {
            what: "number of labels".into(),
            expected: x.n_rows(),
            got: y.len(),
        });
    }
    if let Some((row, &label)) = y
        .iter()
        .enumerate()
        .find(|&(_, &l)| l as usize >= n_classes)
    {
        return Err(MlError::LabelOutOfRange {
            label,
            row,
            n_classes,
        });
    }
    Ok(())
}
