//! [`KnnRegressor`]: k-nearest-neighbour regression, scikit-learn's
//! `KNeighborsRegressor` with uniform weights, Euclidean distance and brute
//! force search.
//!
//! Fitting stores the training rows and targets. Prediction works on blocks
//! of [`QUERY_BLOCK`] query rows, in parallel, each against tiles of
//! `TRAIN_TILE` training rows, so memory stays at one `block x tile`
//! distance matrix per thread: squared distances come from
//! `||q||² + ||t||² - 2 q . t`, the products by one `f32` faer GEMM per
//! tile. That form loses precision for close points, so it only shortlists:
//! the `2k` nearest by it (ties to the lower training index), kept per query
//! row in a buffer that a tile's scan mostly just compares against, have
//! their distances recomputed exactly in `f64`, and the `k` nearest of
//! those, ties again to the lower index, are averaged. A neighbour the GEMM
//! misranks by more than `k` places would be missed; with `f32` rounding
//! that takes distances equal to about 1e-6 relative, where the choice is a
//! tie anyway.
//!
//! Blocks and tiles are cut by row position, not by thread count, and every
//! row's result depends on that row and its block alone, so it is the same
//! for any thread count.

use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::persist::{ModelTensors, Persist};
use crate::{Dataset, Fit, Matrix, MatrixView, MlError, Predict, Prediction, Result};

/// Query rows per block of the distance computation.
pub const QUERY_BLOCK: usize = 2048;

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
        let m = x.rows();
        let mut out = vec![0f32; m];
        if m == 0 {
            return Ok(out);
        }
        out.par_chunks_mut(QUERY_BLOCK)
            .enumerate()
            .for_each(|(b, dst)| {
                let start = b * QUERY_BLOCK;
                let q = x.slice_rows(start, start + dst.len());
                self.predict_block(q, dst);
            });
        Ok(out)
    }

    /// Predicts the rows of `q` (at most [`QUERY_BLOCK`]) into `dst`.
    ///
    /// The training rows are taken [`TRAIN_TILE`] at a time; each query row
    /// keeps the candidates that can still be among its `2k` nearest (by
    /// `f32` distance, ties to the lower index) in a small buffer, so one
    /// tile's distances are scanned while they are still in cache and a
    /// row costs one comparison per training row once its buffer holds
    /// `2k` candidates.
    fn predict_block(&self, q: MatrixView<'_>, dst: &mut [f32]) {
        let (n, d) = (self.records.rows(), self.records.cols());
        let rows = q.rows();
        let shortlist = (2 * self.k).min(n);
        // The buffer is cut back to `shortlist` whenever it reaches `cap`.
        let cap = (4 * shortlist).max(64);
        let q_norms = squared_norms(q);
        let mut cands: Vec<Shortlist> = (0..rows).map(|_| Shortlist::new(shortlist, cap)).collect();
        let mut dist = vec![0f32; rows * TRAIN_TILE.min(n)];
        for t0 in (0..n).step_by(TRAIN_TILE) {
            let t1 = (t0 + TRAIN_TILE).min(n);
            let tile = t1 - t0;
            let dist = &mut dist[..rows * tile];
            if d > 0 {
                faer::linalg::matmul::matmul(
                    MatMut::from_row_major_slice_mut(dist, rows, tile),
                    Accum::Replace,
                    MatRef::from_row_major_slice(q.data(), rows, d),
                    MatRef::from_row_major_slice(&self.records.data()[t0 * d..t1 * d], tile, d)
                        .transpose(),
                    -2.0f32,
                    Par::Seq,
                );
            } else {
                dist.fill(0.0);
            }
            let t_norms = &self.norms[t0..t1];
            for ((row, c), &qn) in dist.chunks_exact(tile).zip(&mut cands).zip(&q_norms) {
                c.offer_row(qn, row, t_norms, t0 as u32);
            }
        }
        let k = self.k;
        // A bound on |f32 distance - exact distance| per unit of |q|² + |t|²: the GEMM's dot
        // product (d terms, any order) and the few f32 roundings around it.
        let unit = (d as f32 + 8.0) * f32::EPSILON;
        let mut sorted: Vec<(f32, u32)> = Vec::with_capacity(shortlist);
        let mut exact: Vec<(f64, u32)> = Vec::with_capacity(shortlist);
        for (i, ((out, c), &qn)) in dst.iter_mut().zip(&mut cands).zip(&q_norms).enumerate() {
            let qi = q.row(i);
            sorted.clear();
            sorted.extend_from_slice(c.finish());
            sorted.sort_unstable_by(by_dist);
            // Only rows whose f32 distance is within twice the error bound of the k-th one
            // can be ordered differently by the exact distance: rows below that window are
            // among the k nearest whatever the rounding, rows above it are not.
            let tol = sorted
                .iter()
                .map(|&(_, j)| unit * (qn + self.norms[j as usize]))
                .fold(0f32, f32::max);
            let kth = sorted[k - 1].0;
            let (sure, window_end) = if kth.is_finite() && tol.is_finite() {
                (
                    sorted.partition_point(|&(v, _)| v < kth - 2.0 * tol),
                    sorted.partition_point(|&(v, _)| v <= kth + 2.0 * tol),
                )
            } else {
                // Values so large that f32 distances overflow: check every candidate exactly.
                (0, sorted.len())
            };
            exact.clear();
            exact.extend(
                sorted[sure..window_end]
                    .iter()
                    .map(|&(_, j)| (squared_distance(qi, self.records.row(j as usize)), j)),
            );
            exact.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let sum: f64 = sorted[..sure]
                .iter()
                .map(|&(_, j)| j)
                .chain(exact[..k - sure].iter().map(|&(_, j)| j))
                .map(|j| f64::from(self.targets[j as usize]))
                .sum();
            *out = (sum / k as f64) as f32;
        }
    }
}

/// Training rows per tile of the distance computation: a
/// `QUERY_BLOCK x TRAIN_TILE` tile of `f32` distances (16 MB) is scanned
/// right after the GEMM that writes it. With 4,000 queries against 16,000
/// training rows of 1,024 features, 2048 x 2048 took 1.47 s of CPU,
/// 1024 x 2048 1.65 s, 2048 x 4096 1.68 s and the former 256 query rows
/// against all training rows 1.81 s; the GEMM alone is about 1.15 s.
const TRAIN_TILE: usize = 2048;

/// The `len` smallest `(distance, index)` pairs offered so far, in the
/// order of distance then index, for indices offered in increasing order.
struct Shortlist {
    len: usize,
    cap: usize,
    /// A superset of the `len` smallest pairs offered, at most `cap` long.
    buf: Vec<(f32, u32)>,
    /// Once `buf` has been cut back: the largest distance kept. Later pairs
    /// have larger indices, so one at this distance or above can be dropped.
    bound: f32,
}

impl Shortlist {
    fn new(len: usize, cap: usize) -> Self {
        Self {
            len,
            cap,
            buf: Vec::with_capacity(cap),
            bound: f32::INFINITY,
        }
    }

    /// Offers `qn + tn[j] + g[j]` with index `first + j` for each `j`, a
    /// chunk at a time: one vector comparison rejects a chunk with nothing
    /// below the bound.
    fn offer_row(&mut self, qn: f32, g: &[f32], tn: &[f32], first: u32) {
        const CHUNK: usize = 16;
        let (cg, ct) = (g.chunks_exact(CHUNK), tn.chunks_exact(CHUNK));
        let (rg, rt) = (cg.remainder(), ct.remainder());
        let mut j = first;
        for (gs, ts) in cg.zip(ct) {
            let mut dist = [0f32; CHUNK];
            let mut below = 0u32;
            for k in 0..CHUNK {
                dist[k] = qn + ts[k] + gs[k];
                below += u32::from(dist[k] < self.bound);
            }
            if below > 0 || self.buf.len() < self.len {
                for (k, &v) in dist.iter().enumerate() {
                    self.offer(v, j + k as u32);
                }
            }
            j += CHUNK as u32;
        }
        for (k, (&gv, &tv)) in rg.iter().zip(rt).enumerate() {
            self.offer(qn + tv + gv, j + k as u32);
        }
    }

    #[inline(always)]
    fn offer(&mut self, dist: f32, j: u32) {
        if dist < self.bound || self.buf.len() < self.len {
            self.buf.push((dist, j));
            if self.buf.len() == self.cap {
                self.cut();
            }
        }
    }

    /// Keeps the `len` smallest pairs of `buf`.
    fn cut(&mut self) {
        if self.buf.len() > self.len {
            self.buf.select_nth_unstable_by(self.len - 1, by_dist);
            self.buf.truncate(self.len);
            self.bound = self.buf[self.len - 1].0;
        }
    }

    /// The `len` smallest pairs offered (or all, if fewer), in no order.
    fn finish(&mut self) -> &[(f32, u32)] {
        self.cut();
        &self.buf
    }
}

fn by_dist(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// `||a - b||²` in `f64` (the differences of two `f32` are exact in
/// `f64`), with 8 independent partial sums so that it vectorises.
fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            let diff = f64::from(x[k]) - f64::from(y[k]);
            acc[k] += diff * diff;
        }
    }
    let tail: f64 = ra
        .iter()
        .zip(rb)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    acc.iter().sum::<f64>() + tail
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

    #[test]
    fn the_shortlist_keeps_the_smallest_pairs_ties_to_the_lower_index() {
        // Distances with many ties and a few infinities, offered by rows of
        // varying length as the tiles do.
        let dists: Vec<f32> = (0..1000u32)
            .map(|j| match j.wrapping_mul(2_654_435_761) % 97 {
                0 => f32::INFINITY,
                h => (h % 13) as f32,
            })
            .collect();
        for len in [1, 7, 40, 999, 1000] {
            let mut want: Vec<(f32, u32)> = dists.iter().copied().zip(0..).collect();
            want.sort_by(by_dist);
            want.truncate(len);
            let mut c = Shortlist::new(len, (4 * len).max(64));
            let zeros = vec![0f32; dists.len()];
            for start in (0..dists.len()).step_by(333) {
                let end = (start + 333).min(dists.len());
                c.offer_row(0.0, &dists[start..end], &zeros[start..end], start as u32);
            }
            let mut got = c.finish().to_vec();
            got.sort_by(by_dist);
            assert_eq!(got, want, "len {len}");
        }
    }

    #[test]
    fn squared_distance_is_exact_for_small_integers() {
        let a: Vec<f32> = (0..37).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..37).map(|i| (2 * i) as f32 - 3.0).collect();
        let want: f64 = (0..37).map(|i| f64::from((i - 3) * (i - 3))).sum();
        assert_eq!(squared_distance(&a, &b), want);
    }

    #[test]
    fn rows_whose_f32_distances_overflow_are_still_ranked_exactly() {
        let x = Matrix::new(4, 1, vec![1e20, 2e20, 3e20, -1e20]).unwrap();
        let data = Dataset::regression(x, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let model = KnnRegressor::params()
            .k(2)
            .check()
            .unwrap()
            .fit(&data)
            .unwrap();
        let q = Matrix::new(1, 1, vec![2.1e20]).unwrap();
        // Nearest: 2e20 (2.0) and 3e20 (3.0).
        assert_eq!(model.predict_values(q.view()).unwrap(), vec![2.5]);
    }
}
