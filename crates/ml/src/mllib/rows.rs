//! [`Rows`]: dense `f64` rows, what the Spark examples compute on.
//!
//! Spark's vectors are doubles, and its figures on its sample data are those of the `f64`
//! values: read as `f32`, `0.1` is `0.10000000149`, which moves the k-means WSSSE of
//! `sample_kmeans_data` from 0.12 by 1e-6. So this module keeps its own `f64` rows instead of
//! the crate's `f32` [`Matrix`]; the random forest, which runs on the crate's `f32` trees,
//! converts ([`Rows::to_matrix`]).

use serde::{Deserialize, Serialize};

use crate::{Matrix, MatrixView, MlError, Result};

/// `n` rows of `d` finite `f64` values, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RowsParts")]
pub struct Rows {
    n: usize,
    d: usize,
    data: Vec<f64>,
}

/// The serialised form of [`Rows`], checked on the way in.
#[derive(Deserialize)]
struct RowsParts {
    n: usize,
    d: usize,
    data: Vec<f64>,
}

impl TryFrom<RowsParts> for Rows {
    type Error = MlError;
    fn try_from(p: RowsParts) -> Result<Self> {
        Rows::new(p.n, p.d, p.data)
    }
}

impl Rows {
    /// `n` rows of `d` values from `n * d` row-major values, all finite.
    pub fn new(n: usize, d: usize, data: Vec<f64>) -> Result<Self> {
        if n.checked_mul(d) != Some(data.len()) {
            return Err(MlError::ShapeMismatch {
                what: format!("values of {n} rows x {d} features"),
                expected: n.saturating_mul(d),
                got: data.len(),
            });
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(MlError::Numerical(format!(
                "non-finite value in row {}",
                i / d.max(1)
            )));
        }
        Ok(Self { n, d, data })
    }

    /// The rows of an `f32` matrix, widened.
    pub fn from_matrix(x: MatrixView<'_>) -> Result<Self> {
        Self::new(
            x.rows(),
            x.cols(),
            x.data().iter().map(|&v| f64::from(v)).collect(),
        )
    }

    /// The rows as an `f32` matrix (rounded).
    pub fn to_matrix(&self) -> Result<Matrix> {
        Matrix::new(
            self.n,
            self.d,
            self.data.iter().map(|&v| v as f32).collect(),
        )
    }

    /// Number of rows.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of features.
    pub fn d(&self) -> usize {
        self.d
    }

    /// All values, row-major.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Row `i`. Panics if `i >= n()`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }

    /// The rows `indices` (each below `n()`), in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Rows> {
        let mut data = Vec::with_capacity(indices.len() * self.d);
        for &i in indices {
            if i >= self.n {
                return Err(MlError::ShapeMismatch {
                    what: "row index bound".into(),
                    expected: self.n,
                    got: i,
                });
            }
            data.extend_from_slice(self.row(i));
        }
        Ok(Rows {
            n: indices.len(),
            d: self.d,
            data,
        })
    }

    /// The row ranges of `w` contiguous shards of near-equal size (the first `n mod w` one row
    /// longer); `w` must be in `1..=n()`.
    pub fn shard_ranges(&self, w: usize) -> Result<Vec<std::ops::Range<usize>>> {
        if w == 0 || w > self.n {
            return Err(MlError::InvalidParameter {
                name: "shards",
                reason: format!("{w} shards of {} rows: need 1 to {} shards", self.n, self.n),
            });
        }
        let (base, extra) = (self.n / w, self.n % w);
        let mut start = 0;
        Ok((0..w)
            .map(|s| {
                let len = base + usize::from(s < extra);
                let r = start..start + len;
                start += len;
                r
            })
            .collect())
    }

    /// The rows in `range`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Result<Rows> {
        if range.start > range.end || range.end > self.n {
            return Err(MlError::ShapeMismatch {
                what: "row range end".into(),
                expected: self.n,
                got: range.end,
            });
        }
        Ok(Rows {
            n: range.len(),
            d: self.d,
            data: self.data[range.start * self.d..range.end * self.d].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_rows_and_bad_shapes_are_errors() {
        let r = Rows::new(5, 1, vec![0., 1., 2., 3., 4.]).unwrap();
        assert_eq!(r.shard_ranges(2).unwrap(), vec![0..3, 3..5]);
        assert_eq!(r.shard_ranges(5).unwrap().len(), 5);
        assert!(r.shard_ranges(6).is_err() && r.shard_ranges(0).is_err());
        assert_eq!(r.slice(3..5).unwrap().data(), &[3., 4.]);
        assert_eq!(r.select(&[4, 0]).unwrap().data(), &[4., 0.]);
        assert!(r.select(&[5]).is_err() && r.slice(4..6).is_err());
        assert!(Rows::new(2, 2, vec![0.0; 3]).is_err());
        assert!(Rows::new(1, 1, vec![f64::NAN]).is_err());
        let back: std::result::Result<Rows, _> =
            serde_json::from_str(r#"{"n": 2, "d": 2, "data": [1.0]}"#);
        assert!(back.is_err());
    }
}
