//! Dense row-major `f32` matrices: the owned [`Matrix`] and the borrowed
//! [`MatrixView`].
//!
//! Both store `rows * cols` values row after row. Constructors validate the
//! length; accessors are cheap. Conversions to faer views are crate-private.

use crate::{MlError, Result};

fn check_len(rows: usize, cols: usize, len: usize) -> Result<()> {
    let expected = rows
        .checked_mul(cols)
        .ok_or_else(|| MlError::ShapeMismatch {
            what: "matrix element count (rows * cols overflows)".into(),
            expected: usize::MAX,
            got: len,
        })?;
    if expected != len {
        return Err(MlError::ShapeMismatch {
            what: format!("matrix data length for {rows} x {cols}"),
            expected,
            got: len,
        });
    }
    Ok(())
}

/// Row-major owned matrix of `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// Wraps `data` (row-major, length `rows * cols`) as a matrix.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        check_len(rows, cols, data.len())?;
        Ok(Self { rows, cols, data })
    }

    /// A `rows x cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major data.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Mutable access to the row-major data.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the matrix, returning its row-major data.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Row `i` as a slice. Panics if `i >= rows()`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// A borrowed view of the whole matrix.
    pub fn view(&self) -> MatrixView<'_> {
        MatrixView {
            rows: self.rows,
            cols: self.cols,
            data: &self.data,
        }
    }
}

/// Borrowed row-major view of `f32` data.
#[derive(Debug, Clone, Copy)]
pub struct MatrixView<'a> {
    rows: usize,
    cols: usize,
    data: &'a [f32],
}

impl<'a> MatrixView<'a> {
    /// Views `data` (row-major, length `rows * cols`) as a matrix.
    pub fn new(rows: usize, cols: usize, data: &'a [f32]) -> Result<Self> {
        check_len(rows, cols, data.len())?;
        Ok(Self { rows, cols, data })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major data.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Row `i` as a slice. Panics if `i >= rows()`.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Rows `start..end` as a view. Panics if out of range.
    pub fn slice_rows(&self, start: usize, end: usize) -> MatrixView<'a> {
        MatrixView {
            rows: end - start,
            cols: self.cols,
            data: &self.data[start * self.cols..end * self.cols],
        }
    }

    /// Copies the view into an owned [`Matrix`].
    pub fn to_matrix(&self) -> Matrix {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.to_vec(),
        }
    }

    /// Returns an error naming the first non-finite value, if any.
    pub fn check_finite(&self) -> Result<()> {
        if let Some(pos) = self.data.iter().position(|v| !v.is_finite()) {
            let r = pos.checked_div(self.cols).unwrap_or(0);
            let c = pos.checked_rem(self.cols).unwrap_or(0);
            return Err(MlError::Numerical(format!(
                "non-finite value {} at row {r}, column {c}",
                self.data[pos]
            )));
        }
        Ok(())
    }
}
