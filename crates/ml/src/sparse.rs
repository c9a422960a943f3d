//! Compressed sparse rows ([`CsrMatrix`]): the form bag-of-words features take, so that a real
//! vocabulary (tens of thousands of columns) costs memory per word present, not per word known.
//!
//! The layout is scipy's CSR: `indptr` (`n_rows + 1` offsets), then per row its column indices
//! (strictly ascending) and values. Validated on construction, so a row's slices are always in
//! range and every index is below `n_cols`.

use crate::{Matrix, MlError, Result};

/// A row-major sparse matrix of `f32` (CSR).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CsrMatrix {
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

/// One row of a [`CsrMatrix`]: ascending column indices and their values.
#[derive(Debug, Clone, Copy)]
pub struct SparseRow<'a> {
    /// Column indices, strictly ascending.
    pub indices: &'a [u32],
    /// The values at those columns.
    pub values: &'a [f32],
}

impl SparseRow<'_> {
    /// `row · w` for a dense `w` of at least `n_cols` entries, summed in `f64`.
    #[inline]
    pub fn dot_f64(&self, w: &[f64]) -> f64 {
        self.indices
            .iter()
            .zip(self.values)
            .map(|(&j, &v)| v as f64 * w[j as usize])
            .sum()
    }

    /// `row · w` for a dense `f32` `w`, summed in `f32`.
    #[inline]
    pub fn dot(&self, w: &[f32]) -> f32 {
        self.indices
            .iter()
            .zip(self.values)
            .map(|(&j, &v)| v * w[j as usize])
            .sum()
    }

    /// `w += a * row`.
    #[inline]
    pub fn axpy_f64(&self, a: f64, w: &mut [f64]) {
        for (&j, &v) in self.indices.iter().zip(self.values) {
            w[j as usize] += a * v as f64;
        }
    }

    /// The squared Euclidean norm, in `f64`.
    #[inline]
    pub fn squared_norm(&self) -> f64 {
        self.values.iter().map(|&v| v as f64 * v as f64).sum()
    }

    /// Number of stored entries.
    #[inline]
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }
}

impl CsrMatrix {
    /// A matrix from its CSR parts, checked: `indptr` starts at 0, never decreases and ends at
    /// the number of entries; indices are below `n_cols` and strictly ascending within a row;
    /// values are finite.
    pub fn new(
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<f32>,
    ) -> Result<Self> {
        let corrupt = |why: String| {
            Err(MlError::InvalidParameter {
                name: "csr",
                reason: why,
            })
        };
        if indptr.first() != Some(&0) {
            return corrupt("indptr must start with 0".into());
        }
        if indices.len() != values.len() || indptr.last() != Some(&indices.len()) {
            return corrupt(format!(
                "indptr ends at {:?} but there are {} indices and {} values",
                indptr.last(),
                indices.len(),
                values.len()
            ));
        }
        if n_cols > u32::MAX as usize {
            return corrupt(format!("{n_cols} columns exceed u32 indices"));
        }
        for (r, w) in indptr.windows(2).enumerate() {
            if w[1] < w[0] {
                return corrupt(format!("indptr decreases at row {r}"));
            }
            let row = &indices[w[0]..w[1]];
            if row.windows(2).any(|p| p[1] <= p[0]) {
                return corrupt(format!(
                    "column indices of row {r} are not strictly ascending"
                ));
            }
            if let Some(&last) = row.last()
                && last as usize >= n_cols
            {
                return corrupt(format!("row {r} has column {last} of {n_cols}"));
            }
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(MlError::Numerical(format!(
                "non-finite sparse value at entry {i}"
            )));
        }
        Ok(Self {
            n_cols,
            indptr,
            indices,
            values,
        })
    }

    /// A matrix from parts its builder made valid by construction (the checks of [`Self::new`]
    /// hold); checked in debug builds only. For crate code that builds rows in order, such as
    /// the text vectoriser, so that a hot path pays no second pass.
    pub(crate) fn from_valid_parts(
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<f32>,
    ) -> Self {
        debug_assert!(
            Self::new(n_cols, indptr.clone(), indices.clone(), values.clone()).is_ok(),
            "invalid CSR parts"
        );
        Self {
            n_cols,
            indptr,
            indices,
            values,
        }
    }

    /// An empty matrix of `n_cols` columns and no rows.
    pub fn empty(n_cols: usize) -> Self {
        Self {
            n_cols,
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Appends a row given as (column, value) pairs in strictly ascending column order.
    pub fn push_row(&mut self, entries: &[(u32, f32)]) -> Result<()> {
        let mut previous: Option<u32> = None;
        for &(j, v) in entries {
            if previous.is_some_and(|p| j <= p) || j as usize >= self.n_cols || !v.is_finite() {
                return Err(MlError::InvalidParameter {
                    name: "csr",
                    reason: format!(
                        "row {}: entry ({j}, {v}) out of order, out of {} columns or not finite",
                        self.n_rows(),
                        self.n_cols
                    ),
                });
            }
            previous = Some(j);
        }
        self.indices.extend(entries.iter().map(|e| e.0));
        self.values.extend(entries.iter().map(|e| e.1));
        self.indptr.push(self.indices.len());
        Ok(())
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Row `i`. Panics if `i >= n_rows()`, like slice indexing.
    #[inline]
    pub fn row(&self, i: usize) -> SparseRow<'_> {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        SparseRow {
            indices: &self.indices[a..b],
            values: &self.values[a..b],
        }
    }

    /// The raw parts: `(indptr, indices, values)`.
    pub fn parts(&self) -> (&[usize], &[u32], &[f32]) {
        (&self.indptr, &self.indices, &self.values)
    }

    /// The rows at `rows`, in that order. Panics on an index out of range.
    pub fn select_rows(&self, rows: &[usize]) -> CsrMatrix {
        let mut out = CsrMatrix {
            n_cols: self.n_cols,
            indptr: Vec::with_capacity(rows.len() + 1),
            indices: Vec::new(),
            values: Vec::new(),
        };
        out.indptr.push(0);
        for &r in rows {
            let row = self.row(r);
            out.indices.extend_from_slice(row.indices);
            out.values.extend_from_slice(row.values);
            out.indptr.push(out.indices.len());
        }
        out
    }

    /// The dense `n_rows x n_cols` matrix.
    pub fn to_dense(&self) -> Matrix {
        let mut m = Matrix::zeros(self.n_rows(), self.n_cols);
        let cols = self.n_cols;
        let data = m.data_mut();
        for i in 0..self.n_rows() {
            let row = self.row(i);
            for (&j, &v) in row.indices.iter().zip(row.values) {
                data[i * cols + j as usize] = v;
            }
        }
        m
    }

    /// The dense matrix of the given columns only (`columns[k]` becomes column `k`); a column
    /// index beyond `n_cols` is an error. Used where a model works on the top words densely.
    pub fn to_dense_columns(&self, columns: &[u32]) -> Result<Matrix> {
        let mut position = vec![u32::MAX; self.n_cols];
        for (k, &j) in columns.iter().enumerate() {
            match position.get_mut(j as usize) {
                Some(p) => *p = k as u32,
                None => {
                    return Err(MlError::ShapeMismatch {
                        what: "selected column".into(),
                        expected: self.n_cols,
                        got: j as usize,
                    });
                }
            }
        }
        let width = columns.len();
        let mut m = Matrix::zeros(self.n_rows(), width);
        let data = m.data_mut();
        for i in 0..self.n_rows() {
            let row = self.row(i);
            for (&j, &v) in row.indices.iter().zip(row.values) {
                let k = position[j as usize];
                if k != u32::MAX {
                    data[i * width + k as usize] = v;
                }
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_to_dense_and_back() {
        let mut m = CsrMatrix::empty(4);
        m.push_row(&[(0, 1.0), (3, 2.0)]).unwrap();
        m.push_row(&[]).unwrap();
        m.push_row(&[(1, -1.5)]).unwrap();
        assert_eq!((m.n_rows(), m.n_cols(), m.nnz()), (3, 4, 3));
        let dense = m.to_dense();
        assert_eq!(
            dense.data(),
            &[1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.5, 0.0, 0.0]
        );
        let picked = m.to_dense_columns(&[3, 1]).unwrap();
        assert_eq!(picked.data(), &[2.0, 0.0, 0.0, 0.0, 0.0, -1.5]);
        let w = [1.0f64, 2.0, 3.0, 4.0];
        assert_eq!(m.row(0).dot_f64(&w), 9.0);
        assert_eq!(m.select_rows(&[2, 0]).row(0).indices, &[1]);
        let (p, i, v) = m.parts();
        let again = CsrMatrix::new(4, p.to_vec(), i.to_vec(), v.to_vec()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn bad_parts_are_errors_not_panics() {
        assert!(CsrMatrix::new(2, vec![0, 1], vec![2], vec![1.0]).is_err());
        assert!(CsrMatrix::new(3, vec![0, 2], vec![1, 1], vec![1.0, 1.0]).is_err());
        assert!(CsrMatrix::new(3, vec![0, 2, 1], vec![0, 1], vec![1.0, 1.0]).is_err());
        assert!(CsrMatrix::new(3, vec![1], vec![], vec![]).is_err());
        assert!(CsrMatrix::new(3, vec![0, 1], vec![0], vec![f32::NAN]).is_err());
        let mut m = CsrMatrix::empty(2);
        assert!(m.push_row(&[(1, 1.0), (0, 1.0)]).is_err());
        assert!(m.push_row(&[(2, 1.0)]).is_err());
        assert_eq!(m.n_rows(), 0);
        assert!(m.to_dense_columns(&[5]).is_err());
    }
}
