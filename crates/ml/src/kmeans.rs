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
//! Distances are plain `O(n k d)` loops in `f64`: k-means is meant here for
//! small tables, and the loops keep every run bit-reproducible.
//!
//! Prediction: [`Predict::predict`] returns [`Prediction::Proba`] holding a
//! hard one-hot row per record (1 in the column of the nearest centre), so
//! that [`Prediction::classes`] gives scikit-learn's `predict` (the cluster
//! index); [`KMeans::labels`] gives those indices directly.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::persist::{ModelTensors, Persist};
use crate::{Dataset, Fit, Matrix, MatrixView, MlError, Predict, Prediction, Result};

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
}

impl KMeans {
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
        if x.cols() != self.centers.cols() {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: self.centers.cols(),
                got: x.cols(),
            });
        }
        x.check_finite()?;
        let c: Vec<f64> = self.centers.data().iter().map(|&v| f64::from(v)).collect();
        let d = x.cols();
        Ok((0..x.rows())
            .map(|i| {
                let row: Vec<f64> = x.row(i).iter().map(|&v| f64::from(v)).collect();
                nearest(&row, &c, d).0 as u32
            })
            .collect())
    }
}

/// Squared Euclidean distance.
#[inline]
fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Index of the nearest of the centres `c` (`k x d` row-major) to `row`,
/// ties to the lowest, and its squared distance.
fn nearest(row: &[f64], c: &[f64], d: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, cj) in c.chunks_exact(d.max(1)).enumerate() {
        let dd = dist2(row, cj);
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

/// Greedy k-means++ seeding of `k` centres from the `n x d` records `x`.
fn kmeans_pp(x: &[f64], n: usize, d: usize, k: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centers = Vec::with_capacity(k * d);
    let first = index_below(rng, n);
    centers.extend_from_slice(row(first));
    let mut closest: Vec<f64> = (0..n).map(|i| dist2(row(i), row(first))).collect();
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
            let dists: Vec<f64> = (0..n)
                .map(|i| closest[i].min(dist2(row(i), row(cand))))
                .collect();
            let p: f64 = dists.iter().sum();
            if best.as_ref().is_none_or(|b| p < b.1) {
                best = Some((cand, p, dists));
            }
        }
        if let Some((cand, p, dists)) = best {
            centers.extend_from_slice(row(cand));
            pot = p;
            closest = dists;
        }
    }
    centers
}

/// Lloyd iterations from `centers`; returns the centres, the inertia and
/// the iterations run.
fn lloyd(
    x: &[f64],
    n: usize,
    d: usize,
    mut centers: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> (Vec<f64>, f64, usize) {
    let k = centers.len() / d;
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let mut labels: Vec<usize> = (0..n).map(|i| nearest(row(i), &centers, d).0).collect();
    let mut iters = 0;
    while iters < max_iter {
        iters += 1;
        let mut sums = vec![0f64; k * d];
        let mut counts = vec![0usize; k];
        for (i, &l) in labels.iter().enumerate() {
            counts[l] += 1;
            for (s, &v) in sums[l * d..(l + 1) * d].iter_mut().zip(row(i)) {
                *s += v;
            }
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
        let new_labels: Vec<usize> = (0..n).map(|i| nearest(row(i), &centers, d).0).collect();
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
    let inertia = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| dist2(row(i), &centers[l * d..(l + 1) * d]))
        .sum();
    (centers, inertia, iters)
}

impl Fit for KMeansValidParams {
    type Model = KMeans;

    /// Clusters the records of `data`; its targets, if any, are ignored.
    fn fit(&self, data: &Dataset) -> Result<KMeans> {
        let p = &self.0;
        let (n, d) = (data.len(), data.n_features());
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
        let x: Vec<f64> = data.view().data().iter().map(|&v| f64::from(v)).collect();
        // scikit-learn's `_tolerance`: tol times the mean feature variance.
        let mut var_sum = 0f64;
        for t in 0..d {
            let mean = (0..n).map(|i| x[i * d + t]).sum::<f64>() / n as f64;
            var_sum += (0..n).map(|i| (x[i * d + t] - mean).powi(2)).sum::<f64>() / n as f64;
        }
        let tol = p.tol * var_sum / d as f64;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed);
        let mut best: Option<(Vec<f64>, f64, usize)> = None;
        for _ in 0..p.n_init {
            let init = kmeans_pp(&x, n, d, p.k, &mut rng);
            let run = lloyd(&x, n, d, init, p.max_iter, tol);
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
        Ok(KMeans {
            centers: Matrix::new(p.k, d, centers.iter().map(|&v| v as f32).collect())?,
            inertia,
            n_iter,
        })
    }
}

impl Predict for KMeans {
    fn n_features(&self) -> usize {
        self.centers.cols()
    }

    /// A hard one-hot row per record, `k` columns: 1 in the nearest
    /// centre's column (not probabilities; [`Prediction::classes`] is the
    /// cluster index).
    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        let labels = self.labels(x)?;
        let k = self.k();
        let mut out = vec![0f32; labels.len() * k];
        for (i, &l) in labels.iter().enumerate() {
            out[i * k + l as usize] = 1.0;
        }
        Ok(Prediction::Proba(Matrix::new(labels.len(), k, out)?))
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
        Ok(Self {
            centers: Matrix::new(k, d, data.to_vec())
                .map_err(|e| MlError::CorruptModel(e.to_string()))?,
            inertia: f64::from(inertia),
            n_iter,
        })
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
}
