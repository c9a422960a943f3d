//! [`KnnRegressor`]: k-nearest-neighbour regression, scikit-learn's
//! `KNeighborsRegressor` with uniform weights, Euclidean distance and brute
//! force search.
//!
//! Fitting stores the training rows and targets. Prediction works on blocks
//! of [`QUERY_BLOCK`] query rows (in parallel, so memory stays at one
//! `block x n_train` distance matrix per thread): squared distances come
//! from `||q||² + ||t||² - 2 q . t`, the products by one `f32` faer GEMM per
//! block. That form loses precision for close points, so it only shortlists:
//! the `2k` nearest by it (ties to the lower training index) have their
//! distances recomputed exactly in `f64`, and the `k` nearest of those, ties
//! again to the lower index, are averaged. A neighbour the GEMM misranks by
//! more than `k` places would be missed; with `f32` rounding that takes
//! distances equal to about 1e-6 relative, where the choice is a tie anyway.
//!
//! Every row's result depends on that row alone, so it is the same for any
//! thread count or block split.

use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::persist::{ModelTensors, Persist};
use crate::{Dataset, Fit, Matrix, MatrixView, MlError, Predict, Prediction, Result};

/// Query rows per block of the distance computation.
pub const QUERY_BLOCK: usize = 256;

/// Unchecked k-NN regressor hyperparameters; see [`KnnRegressor::params`]
/// for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct KnnRegressorParams {
    /// Neighbours averaged per prediction; at least 1 and at most the
    /// number of training rows.
    #[serde(alias = "n_neighbors")]
    pub k: usize,
}

impl Default for KnnRegressorParams {
    fn default() -> Self {
        Self { k: 20 }
    }
}

impl KnnRegressorParams {
    /// Neighbours averaged per prediction (>= 1).
    pub fn k(mut self, v: usize) -> Self {
        self.k = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<KnnRegressorValidParams> {
        crate::linear::check_at_least_one("k", self.k)?;
        Ok(KnnRegressorValidParams { k: self.k })
    }
}

/// Validated k-NN regressor hyperparameters; fits through [`crate::Fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct KnnRegressorValidParams {
    k: usize,
}

/// A fitted k-NN regressor: the training rows, their targets and `k`.
#[derive(Debug, Clone, PartialEq)]
pub struct KnnRegressor {
    k: usize,
    records: Matrix,
    targets: Vec<f32>,
    /// `||t||²` of each training row (derived from `records`).
    norms: Vec<f32>,
}

fn k_too_large(k: usize, n: usize) -> MlError {
    MlError::InvalidParameter {
        name: "k",
        reason: format!("{k} neighbours, but only {n} training rows"),
    }
}

fn squared_norms(x: MatrixView<'_>) -> Vec<f32> {
    let d = x.cols();
    if d == 0 {
        return vec![0.0; x.rows()];
    }
    x.data()
        .chunks_exact(d)
        .map(|r| r.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() as f32)
        .collect()
}

impl KnnRegressor {
    /// Default (unchecked) parameters: k 20.
    pub fn params() -> KnnRegressorParams {
        KnnRegressorParams::default()
    }

    /// Neighbours averaged per prediction.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of stored training rows.
    pub fn n_train(&self) -> usize {
        self.records.rows()
    }

    fn new(k: usize, records: Matrix, targets: Vec<f32>) -> Result<Self> {
        let n = records.rows();
        if k > n {
            return Err(k_too_large(k, n));
        }
        let norms = squared_norms(records.view());
        Ok(Self {
            k,
            records,
            targets,
            norms,
        })
    }

    /// The mean target of the `k` nearest training rows of each row of `x`.
    pub fn predict_values(&self, x: MatrixView<'_>) -> Result<Vec<f32>> {
        crate::linear::check_predict_input(x, self.records.cols())?;
        let (m, d) = (x.rows(), x.cols());
        let mut out = vec![0f32; m];
        if m == 0 {
            return Ok(out);
        }
        out.par_chunks_mut(QUERY_BLOCK)
            .enumerate()
            .for_each(|(b, dst)| {
                let start = b * QUERY_BLOCK;
                let q = x.slice_rows(start, start + dst.len());
                self.predict_block(q, d, dst);
            });
        Ok(out)
    }

    /// Predicts the rows of `q` (at most [`QUERY_BLOCK`]) into `dst`.
    fn predict_block(&self, q: MatrixView<'_>, d: usize, dst: &mut [f32]) {
        let n = self.records.rows();
        let rows = q.rows();
        let mut dist = vec![0f32; rows * n];
        if d > 0 {
            faer::linalg::matmul::matmul(
                MatMut::from_row_major_slice_mut(&mut dist, rows, n),
                Accum::Replace,
                MatRef::from_row_major_slice(q.data(), rows, d),
                MatRef::from_row_major_slice(self.records.data(), n, d).transpose(),
                -2.0f32,
                Par::Seq,
            );
        }
        let q_norms = squared_norms(q);
        let shortlist = (2 * self.k).min(n);
        let mut cand: Vec<(f32, u32)> = Vec::with_capacity(n);
        let mut exact: Vec<(f64, u32)> = Vec::with_capacity(shortlist);
        for (i, out) in dst.iter_mut().enumerate() {
            let row = &dist[i * n..(i + 1) * n];
            cand.clear();
            cand.extend(
                row.iter()
                    .zip(&self.norms)
                    .enumerate()
                    .map(|(j, (&g, &tn))| (q_norms[i] + tn + g, j as u32)),
            );
            let by_dist = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            if shortlist < n {
                cand.select_nth_unstable_by(shortlist - 1, by_dist);
            }
            let qi = q.row(i);
            exact.clear();
            exact.extend(cand[..shortlist].iter().map(|&(_, j)| {
                let t = self.records.row(j as usize);
                let d2: f64 = qi
                    .iter()
                    .zip(t)
                    .map(|(&a, &b)| {
                        let diff = f64::from(a) - f64::from(b);
                        diff * diff
                    })
                    .sum();
                (d2, j)
            }));
            exact.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let sum: f64 = exact[..self.k]
                .iter()
                .map(|&(_, j)| f64::from(self.targets[j as usize]))
                .sum();
            *out = (sum / self.k as f64) as f32;
        }
    }
}

impl Fit for KnnRegressorValidParams {
    type Model = KnnRegressor;

    /// Stores the records and targets (class labels read as reals).
    fn fit(&self, data: &Dataset) -> Result<KnnRegressor> {
        if data.len() > u32::MAX as usize {
            return Err(MlError::InvalidParameter {
                name: "rows",
                reason: format!("{} training rows; at most 2^32 - 1", data.len()),
            });
        }
        let y = crate::linear::real_targets(data, KnnRegressor::KIND)?;
        KnnRegressor::new(
            self.k,
            data.records().clone(),
            y.into_iter().map(|v| v as f32).collect(),
        )
    }
}

impl Predict for KnnRegressor {
    fn n_features(&self) -> usize {
        self.records.cols()
    }

    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        self.predict_values(x).map(Prediction::Real)
    }
}

/// Stored as `records` (`[n, d]`), `targets` (`[n]`) and meta `k`.
impl Persist for KnnRegressor {
    const KIND: &'static str = "knn-regressor";

    fn to_tensors(&self) -> ModelTensors {
        let mut t = ModelTensors::new(Self::KIND);
        let (n, d) = (self.records.rows(), self.records.cols());
        t.insert_checked("records", vec![n, d], self.records.data().to_vec());
        t.insert_checked("targets", vec![n], self.targets.clone());
        t.set_meta("k", self.k.to_string());
        t
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        let corrupt = |m: String| MlError::CorruptModel(m);
        let (shape, data) = t.f32_tensor("records")?;
        let &[n, d] = shape else {
            return Err(corrupt(format!(
                "tensor `records` has shape {shape:?}, expected 2 dimensions"
            )));
        };
        let targets = t.f32_shaped("targets", &[n])?;
        let k: usize = t
            .meta_str("k")?
            .parse()
            .map_err(|e| corrupt(format!("metadata `k`: {e}")))?;
        if k == 0 || k > n {
            return Err(corrupt(format!("k = {k} for {n} training rows")));
        }
        if data.iter().chain(targets).any(|v| !v.is_finite()) {
            return Err(corrupt("non-finite training record or target".into()));
        }
        let records = Matrix::new(n, d, data.to_vec()).map_err(|e| corrupt(e.to_string()))?;
        Self::new(k, records, targets.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_the_k_nearest_with_ties_to_the_lower_index() {
        let x = Matrix::new(5, 1, vec![0., 1., 2., 3., 10.]).unwrap();
        let data = Dataset::regression(x, vec![0., 10., 20., 30., 100.]).unwrap();
        let model = Fit::fit(&KnnRegressor::params().k(2).check().unwrap(), &data).unwrap();
        let q = Matrix::new(3, 1, vec![0.1, 1.5, 9.0]).unwrap();
        // 1.5 is equally far from 1 and 2: rows 1 and 2 win over 0 and 3.
        assert_eq!(
            model.predict_values(q.view()).unwrap(),
            vec![5.0, 15.0, 65.0]
        );
        let q = Matrix::new(1, 1, vec![2.0]).unwrap();
        // 2.0: itself, then 1 and 3 tie; the lower index (1) wins.
        assert_eq!(model.predict_values(q.view()).unwrap(), vec![15.0]);
    }

    #[test]
    fn k_above_the_training_rows_is_an_error() {
        let x = Matrix::new(3, 1, vec![0., 1., 2.]).unwrap();
        let data = Dataset::regression(x, vec![0., 1., 2.]).unwrap();
        let err = Fit::fit(&KnnRegressor::params().k(4).check().unwrap(), &data).unwrap_err();
        assert!(
            matches!(err, MlError::InvalidParameter { name: "k", .. }),
            "{err}"
        );
        assert!(KnnRegressor::params().k(0).check().is_err());
    }
}
