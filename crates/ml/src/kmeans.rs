//! [`KMeans`]: k-means clustering as scikit-learn's `KMeans` does it by
//! default (`init="k-means++"`, `algorithm="lloyd"`).
//!
//! Each of `n_init` runs seeds its centres by greedy k-means++ (the first
//! centre a uniformly drawn record; each further one the best, by the
//! resulting inertia, of `2 + ⌊ln k⌋` candidates drawn with probability
//! proportional to the squared distance to the nearest centre so far), then
//! runs Lloyd iterations: assign every record to its nearest centre, move
//! each centre to the mean of its records. A run stops when no assignment
//! changes, when the centres moved (summed squared shift) by at most `tol`
//! times the mean per-feature variance of the data, or after `max_iter`
//! iterations; the records are then assigned to the final centres. The run
//! with the lowest inertia (sum of squared distances to the assigned
//! centres) wins; the runs draw from one seeded xoshiro256++ in turn, so the
//! result depends on `seed` only.
//!
//! A cluster that loses all its records keeps its previous centre
//! (scikit-learn moves it to a far record instead); on well-seeded data
//! this does not arise.
//!
//! Dense records ([`Fit::fit`]) and sparse rows ([`KMeansValidParams::fit_sparse`], a
//! [`CsrMatrix`] of word counts, say) go through the same seeding and Lloyd code, generic
//! over how a record is read. Centres are dense `f64`. Dense distances are plain
//! `Σ (x - c)²` loops (`O(n k d)`); sparse ones are scikit-learn's
//! `|x|² - 2 x·c + |c|²` (clamped at 0), which costs a row's stored entries, so a
//! 28,000-word vocabulary costs per word present. Each record's nearest centre is found in
//! parallel (rayon) and every sum is taken serially in record order, so results do not
//! depend on the number of threads.
//!
//! Prediction: [`Predict::predict`] returns [`Prediction::Proba`] holding a
//! hard one-hot row per record (1 in the column of the nearest centre), so
//! that [`Prediction::classes`] gives scikit-learn's `predict` (the cluster
//! index); [`KMeans::labels`] gives those indices directly.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::persist::{ModelTensors, Persist};
use crate::{CsrMatrix, Dataset, Fit, Matrix, MatrixView, MlError, Predict, Prediction, Result};

/// Unchecked k-means hyperparameters; see [`KMeans::params`] for the
/// defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct KMeansParams {
    /// Number of clusters; at least 1 and at most the number of records.
    #[serde(alias = "n_clusters")]
    pub k: usize,
    /// Number of k-means++ starts, the best kept; at least 1.
    pub n_init: usize,
    /// Maximum Lloyd iterations per start; at least 1.
    pub max_iter: usize,
    /// Convergence tolerance on the centre shift, relative to the mean
    /// per-feature variance; finite, at least 0.
    pub tol: f64,
    /// Seed of the initialisations.
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        Self {
            k: 8,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
        }
    }
}

impl KMeansParams {
    /// Number of clusters (>= 1, at most the number of records).
    pub fn k(mut self, v: usize) -> Self {
        self.k = v;
        self
    }
    /// Number of starts (>= 1).
    pub fn n_init(mut self, v: usize) -> Self {
        self.n_init = v;
        self
    }
    /// Maximum Lloyd iterations per start (>= 1).
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Relative convergence tolerance (finite, >= 0).
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Seed of the initialisations.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Validates the parameters (`k` against the data is checked by `fit`).
    pub fn check(self) -> Result<KMeansValidParams> {
        for (name, v) in [
            ("k", self.k),
            ("n_init", self.n_init),
            ("max_iter", self.max_iter),
        ] {
            if v == 0 {
                return Err(MlError::InvalidParameter {
                    name,
                    reason: "must be at least 1".into(),
                });
            }
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(MlError::InvalidParameter {
                name: "tol",
                reason: format!("must be finite and at least 0, got {}", self.tol),
            });
        }
        Ok(KMeansValidParams(self))
    }
}

/// Validated k-means hyperparameters; fits through [`crate::Fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansValidParams(KMeansParams);

/// Fitted k-means: `k` centres.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// `k x d` row-major.
    centers: Matrix,
    /// Inertia of the training data under these centres.
    inertia: f64,
    /// Lloyd iterations of the winning start.
    n_iter: usize,
    /// The centres in `f64` and their squared norms, made once: predicting a batch then costs
    /// only its own rows (a 3 x 25,000 model widened per call cost more than a short text).
    centers64: Vec<f64>,
    center_sq: Vec<f64>,
}

impl KMeans {
    /// The model of `centers`, with what prediction needs precomputed.
    fn with_centers(centers: Matrix, inertia: f64, n_iter: usize) -> Self {
        let centers64: Vec<f64> = centers.data().iter().map(|&v| f64::from(v)).collect();
        let center_sq = squared_norms(&centers64, centers.cols());
        Self {
            centers,
            inertia,
            n_iter,
            centers64,
            center_sq,
        }
    }

    /// Default (unchecked) parameters, scikit-learn's: k 8, n_init 10,
    /// max_iter 300, tol 1e-4; seed 0.
    pub fn params() -> KMeansParams {
        KMeansParams::default()
    }

    /// The centres, `k x d`.
    pub fn centers(&self) -> &Matrix {
        &self.centers
    }

    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.centers.rows()
    }

    /// Sum of squared distances of the training records to their nearest
    /// centre (scikit-learn's `inertia_`).
    pub fn inertia(&self) -> f64 {
        self.inertia
    }

    /// Lloyd iterations of the winning start.
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// The nearest centre of every row of `x` (ties to the lowest index):
    /// scikit-learn's `predict`.
    pub fn labels(&self, x: MatrixView<'_>) -> Result<Vec<u32>> {
        self.check_width(x.cols())?;
        x.check_finite()?;
        Ok(self.assign(&DenseRecords::new(x)))
    }

    /// [`Self::labels`] for sparse rows (a [`CsrMatrix`] of `d` columns), distances as
    /// scikit-learn's on sparse input (`|x|² - 2 x·c + |c|²`).
    pub fn labels_sparse(&self, x: &CsrMatrix) -> Result<Vec<u32>> {
        self.check_width(x.n_cols())?;
        Ok(self.assign(&SparseRecords::new(x)))
    }

    /// [`Predict::predict`] for sparse rows: the same one-hot rows as for their dense form.
    pub fn predict_sparse(&self, x: &CsrMatrix) -> Result<Prediction> {
        one_hot(&self.labels_sparse(x)?, self.k())
    }

    fn check_width(&self, cols: usize) -> Result<()> {
        if cols != self.centers.cols() {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: self.centers.cols(),
                got: cols,
            });
        }
        Ok(())
    }

    fn assign<R: Records>(&self, x: &R) -> Vec<u32> {
        let (c, c_sq) = (&self.centers64, &self.center_sq);
        if x.n() < 64 {
            // A short batch: rayon's hand-off would cost more than the rows.
            return (0..x.n())
                .map(|i| nearest(x, i, c, c_sq).0 as u32)
                .collect();
        }
        (0..x.n())
            .into_par_iter()
            .map(|i| nearest(x, i, c, c_sq).0 as u32)
            .collect()
    }
}

/// The records k-means clusters, one row at a time, against dense `f64` centres: one
/// seeding and one Lloyd loop serve dense and sparse data alike, so the two cannot drift.
pub(crate) trait Records: Sync {
    /// Number of records.
    fn n(&self) -> usize;
    /// Number of features.
    fn d(&self) -> usize;
    /// Squared distance of record `i` to the point `c` whose squared norm is `c_sq`.
    fn dist2(&self, i: usize, c: &[f64], c_sq: f64) -> f64;
    /// `out += record i`.
    fn add_to(&self, i: usize, out: &mut [f64]);
    /// `out = record i` (dense, `d` entries).
    fn write(&self, i: usize, out: &mut [f64]);
    /// The mean over features of each feature's (population) variance.
    fn mean_variance(&self) -> f64;
}

/// Dense records, copied to `f64`; distances as `Σ (x - c)²`.
pub(crate) struct DenseRecords {
    x: Vec<f64>,
    n: usize,
    d: usize,
}

impl DenseRecords {
    pub(crate) fn new(x: MatrixView<'_>) -> Self {
        Self {
            x: x.data().iter().map(|&v| f64::from(v)).collect(),
            n: x.rows(),
            d: x.cols(),
        }
    }

    /// Records already in `f64`, `n x d` row-major.
    pub(crate) fn from_f64(x: Vec<f64>, n: usize, d: usize) -> Self {
        Self { x, n, d }
    }

    #[inline]
    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }
}

impl Records for DenseRecords {
    fn n(&self) -> usize {
        self.n
    }
    fn d(&self) -> usize {
        self.d
    }
    #[inline]
    fn dist2(&self, i: usize, c: &[f64], _c_sq: f64) -> f64 {
        self.row(i)
            .iter()
            .zip(c)
            .map(|(x, y)| (x - y) * (x - y))
            .sum()
    }
    fn add_to(&self, i: usize, out: &mut [f64]) {
        for (s, &v) in out.iter_mut().zip(self.row(i)) {
            *s += v;
        }
    }
    fn write(&self, i: usize, out: &mut [f64]) {
        out.copy_from_slice(self.row(i));
    }
    fn mean_variance(&self) -> f64 {
        let (n, d, x) = (self.n, self.d, &self.x);
        let mut var_sum = 0f64;
        for t in 0..d {
            let mean = (0..n).map(|i| x[i * d + t]).sum::<f64>() / n as f64;
            var_sum += (0..n).map(|i| (x[i * d + t] - mean).powi(2)).sum::<f64>() / n as f64;
        }
        var_sum / d as f64
    }
}

/// Sparse records with their squared norms; distances as `|x|² - 2 x·c + |c|²` (clamped at
/// 0), which costs a row's stored entries, not `d`.
struct SparseRecords<'a> {
    x: &'a CsrMatrix,
    sq: Vec<f64>,
}

impl<'a> SparseRecords<'a> {
    fn new(x: &'a CsrMatrix) -> Self {
        let sq = (0..x.n_rows()).map(|i| x.row(i).squared_norm()).collect();
        Self { x, sq }
    }
}

impl Records for SparseRecords<'_> {
    fn n(&self) -> usize {
        self.x.n_rows()
    }
    fn d(&self) -> usize {
        self.x.n_cols()
    }
    #[inline]
    fn dist2(&self, i: usize, c: &[f64], c_sq: f64) -> f64 {
        (self.sq[i] - 2.0 * self.x.row(i).dot_f64(c) + c_sq).max(0.0)
    }
    fn add_to(&self, i: usize, out: &mut [f64]) {
        self.x.row(i).axpy_f64(1.0, out);
    }
    fn write(&self, i: usize, out: &mut [f64]) {
        out.fill(0.0);
        self.x.row(i).axpy_f64(1.0, out);
    }
    fn mean_variance(&self) -> f64 {
        // E[x²] - E[x]² per column, from the stored entries (the zeros add nothing).
        let (n, d) = (self.n() as f64, self.d());
        let mut sum = vec![0f64; d];
        let mut sum_sq = vec![0f64; d];
        let (_, indices, values) = self.x.parts();
        for (&j, &v) in indices.iter().zip(values) {
            let v = f64::from(v);
            sum[j as usize] += v;
            sum_sq[j as usize] += v * v;
        }
        let var_sum: f64 = sum
            .iter()
            .zip(&sum_sq)
            .map(|(s, q)| (q / n - (s / n) * (s / n)).max(0.0))
            .sum();
        var_sum / d as f64
    }
}

/// The squared norm of each `d`-long row of `c`.
fn squared_norms(c: &[f64], d: usize) -> Vec<f64> {
    c.chunks_exact(d.max(1))
        .map(|r| r.iter().map(|v| v * v).sum())
        .collect()
}

/// Index of the nearest of the centres `c` (`k x d` row-major, squared norms `c_sq`) to
/// record `i`, ties to the lowest, and its squared distance.
#[inline]
fn nearest<R: Records>(x: &R, i: usize, c: &[f64], c_sq: &[f64]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, cj) in c.chunks_exact(x.d().max(1)).enumerate() {
        let dd = x.dist2(i, cj, c_sq[j]);
        if dd < best.1 {
            best = (j, dd);
        }
    }
    best
}

/// A uniform draw in `[0, 1)`.
fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform index below `n` (> 0).
fn index_below(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Greedy k-means++ seeding of `k` centres from the records `x`.
pub(crate) fn kmeans_pp<R: Records>(x: &R, k: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    let (n, d) = (x.n(), x.d());
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centers = Vec::with_capacity(k * d);
    let mut point = vec![0f64; d];
    let first = index_below(rng, n);
    x.write(first, &mut point);
    let point_sq = point.iter().map(|v| v * v).sum();
    centers.extend_from_slice(&point);
    let mut closest: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| x.dist2(i, &point, point_sq))
        .collect();
    let mut pot: f64 = closest.iter().sum();
    for _ in 1..k {
        // Cumulative sums to draw candidates proportionally to `closest`.
        let mut cum = Vec::with_capacity(n);
        let mut acc = 0f64;
        for &v in &closest {
            acc += v;
            cum.push(acc);
        }
        let mut best: Option<(usize, f64, Vec<f64>)> = None;
        for _ in 0..trials {
            let r = uniform(rng) * pot;
            // The first index whose cumulative sum exceeds `r` (all records
            // at distance zero, `pot` 0, gives the last index).
            let cand = cum.partition_point(|&c| c <= r).min(n - 1);
            x.write(cand, &mut point);
            let point_sq = point.iter().map(|v| v * v).sum();
            let dists: Vec<f64> = (0..n)
                .into_par_iter()
                .map(|i| closest[i].min(x.dist2(i, &point, point_sq)))
                .collect();
            let p: f64 = dists.iter().sum();
            if best.as_ref().is_none_or(|b| p < b.1) {
                best = Some((cand, p, dists));
            }
        }
        if let Some((cand, p, dists)) = best {
            x.write(cand, &mut point);
            centers.extend_from_slice(&point);
            pot = p;
            closest = dists;
        }
    }
    centers
}

/// Lloyd iterations from `centers`; returns the centres, the inertia and
/// the iterations run.
fn lloyd<R: Records>(
    x: &R,
    mut centers: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> (Vec<f64>, f64, usize) {
    let (n, d) = (x.n(), x.d());
    let k = centers.len() / d;
    let assign = |centers: &[f64]| -> Vec<usize> {
        let c_sq = squared_norms(centers, d);
        (0..n)
            .into_par_iter()
            .map(|i| nearest(x, i, centers, &c_sq).0)
            .collect()
    };
    let mut labels = assign(&centers);
    let mut iters = 0;
    while iters < max_iter {
        iters += 1;
        let mut sums = vec![0f64; k * d];
        let mut counts = vec![0usize; k];
        for (i, &l) in labels.iter().enumerate() {
            counts[l] += 1;
            x.add_to(i, &mut sums[l * d..(l + 1) * d]);
        }
        let mut shift = 0f64;
        for j in 0..k {
            if counts[j] == 0 {
                continue;
            }
            let inv = 1.0 / counts[j] as f64;
            for t in 0..d {
                let new = sums[j * d + t] * inv;
                let old = centers[j * d + t];
                shift += (new - old) * (new - old);
                centers[j * d + t] = new;
            }
        }
        let new_labels = assign(&centers);
        if new_labels == labels {
            break;
        }
        labels = new_labels;
        if shift <= tol {
            break;
        }
    }
    // Every way out of the loop leaves `labels` assigned to the final
    // centres, as scikit-learn's last E-step does.
    let c_sq = squared_norms(&centers, d);
    let inertia = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| x.dist2(i, &centers[l * d..(l + 1) * d], c_sq[l]))
        .sum();
    (centers, inertia, iters)
}

impl KMeansValidParams {
    /// Clusters the rows of a sparse matrix (bag-of-words counts, say) exactly as
    /// [`Fit::fit`] clusters dense records — the same seeding, Lloyd loop and starts — with
    /// dense centres and distances `|x|² - 2 x·c + |c|²`, as scikit-learn on sparse input.
    pub fn fit_sparse(&self, x: &CsrMatrix) -> Result<KMeans> {
        self.fit_records(&SparseRecords::new(x))
    }

    fn fit_records<R: Records>(&self, x: &R) -> Result<KMeans> {
        let p = &self.0;
        let (n, d) = (x.n(), x.d());
        if n == 0 || d == 0 {
            return Err(MlError::EmptyInput(format!(
                "k-means needs at least one record and one feature, got {n} x {d}"
            )));
        }
        if p.k > n {
            return Err(MlError::InvalidParameter {
                name: "k",
                reason: format!("{} clusters need at least as many records, got {n}", p.k),
            });
        }
        // scikit-learn's `_tolerance`: tol times the mean feature variance.
        let tol = p.tol * x.mean_variance();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed);
        let mut best: Option<(Vec<f64>, f64, usize)> = None;
        for _ in 0..p.n_init {
            let init = kmeans_pp(x, p.k, &mut rng);
            let run = lloyd(x, init, p.max_iter, tol);
            if best.as_ref().is_none_or(|b| run.1 < b.1) {
                best = Some(run);
            }
        }
        let (centers, inertia, n_iter) = best.ok_or_else(|| MlError::InvalidParameter {
            name: "n_init",
            reason: "must be at least 1".into(),
        })?;
        if !inertia.is_finite() || centers.iter().any(|v| !v.is_finite()) {
            return Err(MlError::Numerical(
                "k-means produced non-finite centres".into(),
            ));
        }
        Ok(KMeans::with_centers(
            Matrix::new(p.k, d, centers.iter().map(|&v| v as f32).collect())?,
            inertia,
            n_iter,
        ))
    }
}

impl Fit for KMeansValidParams {
    type Model = KMeans;

    /// Clusters the records of `data`; its targets, if any, are ignored.
    fn fit(&self, data: &Dataset) -> Result<KMeans> {
        self.fit_records(&DenseRecords::new(data.view()))
    }
}

/// One-hot rows of `k` columns for `labels`.
fn one_hot(labels: &[u32], k: usize) -> Result<Prediction> {
    let mut out = vec![0f32; labels.len() * k];
    for (i, &l) in labels.iter().enumerate() {
        out[i * k + l as usize] = 1.0;
    }
    Ok(Prediction::Proba(Matrix::new(labels.len(), k, out)?))
}

impl Predict for KMeans {
    fn n_features(&self) -> usize {
        self.centers.cols()
    }

    /// A hard one-hot row per record, `k` columns: 1 in the nearest
    /// centre's column (not probabilities; [`Prediction::classes`] is the
    /// cluster index).
    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        one_hot(&self.labels(x)?, self.k())
    }

    fn predict_sparse(&self, x: &CsrMatrix) -> Result<Prediction> {
        KMeans::predict_sparse(self, x)
    }
}

/// Stored as `centers` (`[k, d]`), `inertia` (`[1]`, as `f32`) and meta
/// `n_iter`; the reloaded model predicts exactly as the fitted one (its
/// inertia is rounded to `f32`).
impl Persist for KMeans {
    const KIND: &'static str = "k-means";

    fn to_tensors(&self) -> ModelTensors {
        let mut t = ModelTensors::new(Self::KIND);
        t.insert_checked(
            "centers",
            vec![self.centers.rows(), self.centers.cols()],
            self.centers.data().to_vec(),
        );
        t.insert_checked("inertia", vec![1], vec![self.inertia as f32]);
        t.set_meta("n_iter", self.n_iter.to_string());
        t
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        let (shape, data) = t.f32_tensor("centers")?;
        let (k, d) = match shape {
            [k, d] if *k > 0 && *d > 0 => (*k, *d),
            _ => {
                return Err(MlError::CorruptModel(format!(
                    "`centers` has shape {shape:?}, expected [k, d] with k, d >= 1"
                )));
            }
        };
        if data.iter().any(|v| !v.is_finite()) {
            return Err(MlError::CorruptModel("non-finite centre".into()));
        }
        let inertia = t.f32_scalar("inertia")?;
        if !(inertia.is_finite() && inertia >= 0.0) {
            return Err(MlError::CorruptModel(format!(
                "inertia must be finite and at least 0, got {inertia}"
            )));
        }
        let n_iter = t
            .meta_str("n_iter")?
            .parse()
            .map_err(|e| MlError::CorruptModel(format!("metadata `n_iter`: {e}")))?;
        Ok(Self::with_centers(
            Matrix::new(k, d, data.to_vec()).map_err(|e| MlError::CorruptModel(e.to_string()))?,
            f64::from(inertia),
            n_iter,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Dataset {
        let x = Matrix::new(6, 1, vec![0., 1., 2., 10., 11., 12.]).unwrap();
        Dataset::unsupervised(x).unwrap()
    }

    #[test]
    fn bad_parameters_and_input_are_rejected() {
        for bad in [
            KMeans::params().k(0),
            KMeans::params().n_init(0),
            KMeans::params().max_iter(0),
            KMeans::params().tol(-1.0),
            KMeans::params().tol(f64::NAN),
        ] {
            assert!(matches!(bad.check(), Err(MlError::InvalidParameter { .. })));
        }
        assert!(matches!(
            KMeans::params().k(7).check().unwrap().fit(&blobs()),
            Err(MlError::InvalidParameter { name: "k", .. })
        ));
        let m = KMeans::params()
            .k(2)
            .check()
            .unwrap()
            .fit(&blobs())
            .unwrap();
        let nan = Matrix::new(1, 1, vec![f32::NAN]).unwrap();
        assert!(matches!(m.labels(nan.view()), Err(MlError::Numerical(_))));
        let wide = Matrix::new(1, 2, vec![0.0, 0.0]).unwrap();
        assert!(matches!(
            m.predict(wide.view()),
            Err(MlError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn finds_two_blobs() {
        let data = blobs();
        let m = KMeans::params().k(2).check().unwrap().fit(&data).unwrap();
        let labels = m.labels(data.view()).unwrap();
        assert_eq!(labels[0], labels[2]);
        assert_eq!(labels[3], labels[5]);
        assert_ne!(labels[0], labels[3]);
        assert!((m.inertia() - 4.0).abs() < 1e-9, "{}", m.inertia());
        assert_eq!(
            m.predict(data.view()).unwrap().classes(),
            Some(labels.clone())
        );
        // k = n puts a centre on every record.
        let all = KMeans::params().k(6).check().unwrap().fit(&data).unwrap();
        assert_eq!(all.inertia(), 0.0);
    }

    #[test]
    fn corrupt_stored_models_are_errors() {
        let m = KMeans::params()
            .k(2)
            .check()
            .unwrap()
            .fit(&blobs())
            .unwrap();
        let good = Persist::to_tensors(&m);
        let back = KMeans::from_tensors(&good).unwrap();
        assert_eq!(back.centers(), m.centers());
        let mut t = good.clone();
        t.insert("centers", crate::Tensor::f32_vector(vec![1.0, 2.0]));
        assert!(KMeans::from_tensors(&t).is_err());
        let mut t = good.clone();
        t.insert_checked("centers", vec![2, 1], vec![1.0, f32::NAN]);
        assert!(KMeans::from_tensors(&t).is_err());
        let mut t = good.clone();
        t.insert_checked("centers", vec![0, 1], vec![]);
        assert!(KMeans::from_tensors(&t).is_err());
        let mut t = good.clone();
        t.insert("inertia", crate::Tensor::f32_vector(vec![-1.0]));
        assert!(KMeans::from_tensors(&t).is_err());
        let mut t = good;
        t.set_meta("n_iter", "x");
        assert!(KMeans::from_tensors(&t).is_err());
    }

    #[test]
    fn sparse_fit_matches_the_dense_fit() {
        // 12 rows, 6 columns, three groups of word-count-like rows with shared words.
        let rows: [&[(u32, f32)]; 12] = [
            &[(0, 2.0), (1, 1.0)],
            &[(0, 1.0), (1, 2.0)],
            &[(0, 3.0)],
            &[(1, 1.0), (5, 1.0)],
            &[(2, 2.0), (3, 1.0)],
            &[(2, 1.0), (3, 3.0)],
            &[(3, 2.0)],
            &[(2, 2.0), (5, 1.0)],
            &[(4, 4.0)],
            &[(4, 3.0), (5, 1.0)],
            &[(4, 5.0), (0, 1.0)],
            &[],
        ];
        let mut x = CsrMatrix::empty(6);
        for r in rows {
            let mut r = r.to_vec();
            r.sort_by_key(|e| e.0);
            x.push_row(&r).unwrap();
        }
        let dense = Dataset::unsupervised(x.to_dense()).unwrap();
        for (k, seed) in [(2, 0), (3, 0), (3, 11), (4, 5)] {
            let p = KMeans::params().k(k).n_init(4).seed(seed).check().unwrap();
            let a = p.fit(&dense).unwrap();
            let b = p.fit_sparse(&x).unwrap();
            assert!(
                (a.inertia() - b.inertia()).abs() < 1e-5,
                "k {k}: {} vs {}",
                a.inertia(),
                b.inertia()
            );
            for (u, v) in a.centers().data().iter().zip(b.centers().data()) {
                assert!(
                    (u - v).abs() < 1e-5,
                    "k {k}: {:?} vs {:?}",
                    a.centers(),
                    b.centers()
                );
            }
            assert_eq!(a.n_iter(), b.n_iter());
            let labels = a.labels(dense.view()).unwrap();
            assert_eq!(b.labels_sparse(&x).unwrap(), labels);
            assert_eq!(a.labels_sparse(&x).unwrap(), labels);
            assert_eq!(
                b.predict_sparse(&x).unwrap(),
                b.predict(dense.view()).unwrap()
            );
        }
        // k = 3 separates the three word groups, the empty row joining the nearest.
        let m = KMeans::params()
            .k(3)
            .check()
            .unwrap()
            .fit_sparse(&x)
            .unwrap();
        let l = m.labels_sparse(&x).unwrap();
        assert!(l[0] == l[1] && l[1] == l[2] && l[4] == l[5] && l[5] == l[6]);
        assert!(l[8] == l[9] && l[9] == l[10]);
        assert!(l[0] != l[4] && l[4] != l[8] && l[0] != l[8]);
        assert!(matches!(
            m.labels_sparse(&CsrMatrix::empty(5)),
            Err(MlError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            KMeans::params()
                .k(1)
                .check()
                .unwrap()
                .fit_sparse(&CsrMatrix::empty(6)),
            Err(MlError::EmptyInput(_))
        ));
    }
}
