//! [`KMeans`]: Spark's `KMeans` as far as its outputs go (`k` 2, `seed` 1, `maxIter` 20, `tol`
//! 1e-4 in its example), written so that a Lloyd step runs over shards.
//!
//! Seeding is the crate's greedy k-means++ ([`crate::kmeans`]), drawn from a xoshiro256++
//! seeded with `seed` (Spark seeds by k-means||, whose draws are not reproduced). Each Lloyd
//! step assigns every row to its nearest centre (ties to the lowest index) and moves each
//! centre to the mean of its rows; a centre that gets no rows stays where it was, as in Spark.
//! The run stops, as Spark's does, once no centre moved by more than `tol` (Euclidean
//! distance), or after `max_iter` steps.
//!
//! A step is data-parallel: each shard computes [`LloydSums`] (per cluster the sum of its
//! points and their count, and the cost — squared distances to the current centres), the
//! driver adds the shards' sums ([`LloydSums::merge`]) and takes the step
//! ([`KMeansValidParams::step`]). [`KMeansValidParams::fit_shards`] is that driver over
//! in-memory shards; [`crate::Fit::fit`] is one shard.
//!
//! The within-cluster sum of squared errors (WSSSE, [`KMeans::cost`]) is the cost of the
//! training rows under the final centres: Spark's `computeCost` / `ClusteringEvaluator`
//! definition.

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::Rows;
use crate::kmeans::{DenseRecords, kmeans_pp};
use crate::{Dataset, Fit, MlError, Result};

/// Unchecked k-means hyperparameters; see [`KMeans::params`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct KMeansParams {
    /// Number of clusters; at least 2 (Spark's minimum) and at most the number of rows.
    pub k: usize,
    /// Maximum Lloyd steps; at least 1.
    pub max_iter: usize,
    /// Convergence tolerance: the run stops once no centre moved further; finite, at least 0.
    pub tol: f64,
    /// Seed of the k-means++ seeding.
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        Self {
            k: 2,
            max_iter: 20,
            tol: 1e-4,
            seed: 1,
        }
    }
}

impl KMeansParams {
    /// Number of clusters (>= 2).
    pub fn k(mut self, v: usize) -> Self {
        self.k = v;
        self
    }
    /// Maximum Lloyd steps (>= 1).
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Convergence tolerance on the centres' moves (finite, >= 0).
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Seed of the seeding.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Validates the parameters (`k` against the data is checked when seeding).
    pub fn check(self) -> Result<KMeansValidParams> {
        if self.k < 2 {
            return Err(MlError::InvalidParameter {
                name: "k",
                reason: format!("must be at least 2, got {}", self.k),
            });
        }
        if self.max_iter == 0 {
            return Err(MlError::InvalidParameter {
                name: "max_iter",
                reason: "must be at least 1".into(),
            });
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

/// Validated k-means hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansValidParams(KMeansParams);

/// `k` centres of `d` features, `f64`, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CentersParts")]
pub struct Centers {
    k: usize,
    d: usize,
    data: Vec<f64>,
}

/// The serialised form of [`Centers`], checked on the way in.
#[derive(Deserialize)]
struct CentersParts {
    k: usize,
    d: usize,
    data: Vec<f64>,
}

impl TryFrom<CentersParts> for Centers {
    type Error = MlError;
    fn try_from(p: CentersParts) -> Result<Self> {
        Centers::new(p.k, p.d, p.data)
    }
}

impl Centers {
    /// `k` centres from `k * d` row-major values; a wrong length or a non-finite value is an
    /// error.
    pub fn new(k: usize, d: usize, data: Vec<f64>) -> Result<Self> {
        if k == 0 || d == 0 || data.len() != k * d {
            return Err(MlError::ShapeMismatch {
                what: format!("{k} centres of {d} features"),
                expected: k * d,
                got: data.len(),
            });
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(MlError::Numerical("non-finite centre".into()));
        }
        Ok(Self { k, d, data })
    }

    /// Number of centres.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of features.
    pub fn d(&self) -> usize {
        self.d
    }

    /// Centre `j`. Panics if `j >= k()`.
    pub fn center(&self, j: usize) -> &[f64] {
        &self.data[j * self.d..(j + 1) * self.d]
    }

    /// All centres, row-major.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// The nearest centre of every row of `x` (ties to the lowest index) and its squared
    /// distance `Σ (x - c)²`.
    pub fn assign(&self, x: &Rows) -> Result<Vec<(u32, f64)>> {
        self.check_width(x.d())?;
        Ok((0..x.n())
            .map(|i| {
                let row = x.row(i);
                let mut best = (0u32, f64::INFINITY);
                for j in 0..self.k {
                    let dist: f64 = row
                        .iter()
                        .zip(self.center(j))
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum();
                    if dist < best.1 {
                        best = (j as u32, dist);
                    }
                }
                best
            })
            .collect())
    }

    fn check_width(&self, cols: usize) -> Result<()> {
        if cols != self.d {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: self.d,
                got: cols,
            });
        }
        Ok(())
    }
}

/// What one shard contributes to a Lloyd step under given centres: per cluster the sum of the
/// shard's rows assigned to it and their count, and the cost (summed squared distances to the
/// nearest centre). Shards' sums add up ([`Self::merge`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LloydSumsParts")]
pub struct LloydSums {
    k: usize,
    d: usize,
    /// `k x d` row-major.
    sums: Vec<f64>,
    counts: Vec<u64>,
    cost: f64,
}

/// The serialised form of [`LloydSums`], checked on the way in (a worker's answer is input).
#[derive(Deserialize)]
struct LloydSumsParts {
    k: usize,
    d: usize,
    sums: Vec<f64>,
    counts: Vec<u64>,
    cost: f64,
}

impl TryFrom<LloydSumsParts> for LloydSums {
    type Error = MlError;
    fn try_from(p: LloydSumsParts) -> Result<Self> {
        if p.k.checked_mul(p.d) != Some(p.sums.len()) || p.counts.len() != p.k {
            return Err(MlError::ShapeMismatch {
                what: format!("Lloyd sums of {} clusters x {} features", p.k, p.d),
                expected: p.k.saturating_mul(p.d),
                got: p.sums.len(),
            });
        }
        if !p.cost.is_finite() || p.sums.iter().any(|v| !v.is_finite()) {
            return Err(MlError::Numerical("non-finite Lloyd sums".into()));
        }
        Ok(Self {
            k: p.k,
            d: p.d,
            sums: p.sums,
            counts: p.counts,
            cost: p.cost,
        })
    }
}

impl LloydSums {
    /// The sums of no rows.
    pub fn zeros(k: usize, d: usize) -> Self {
        Self {
            k,
            d,
            sums: vec![0.0; k * d],
            counts: vec![0; k],
            cost: 0.0,
        }
    }

    /// The sums of the rows of `x` under `centers`.
    pub fn of_rows(x: &Rows, centers: &Centers) -> Result<Self> {
        let mut out = Self::zeros(centers.k, centers.d);
        let d = centers.d;
        for (i, (j, dist)) in centers.assign(x)?.into_iter().enumerate() {
            let j = j as usize;
            out.counts[j] += 1;
            out.cost += dist;
            for (s, &v) in out.sums[j * d..(j + 1) * d].iter_mut().zip(x.row(i)) {
                *s += v;
            }
        }
        Ok(out)
    }

    /// Adds another shard's sums (of the same `k` and `d`).
    pub fn merge(&mut self, other: &LloydSums) -> Result<()> {
        if (self.k, self.d) != (other.k, other.d) {
            return Err(MlError::ShapeMismatch {
                what: "k x d of the Lloyd sums merged".into(),
                expected: self.k * self.d,
                got: other.k * other.d,
            });
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.cost += other.cost;
        Ok(())
    }

    /// Summed squared distances of the rows to their nearest centre.
    pub fn cost(&self) -> f64 {
        self.cost
    }

    /// Rows per cluster.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
}

/// A fitted k-means model.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    centers: Centers,
    cost: f64,
    n_iter: usize,
    converged: bool,
}

impl KMeans {
    /// Default (unchecked) parameters, those of Spark's `KMeansExample`: k 2, max_iter 20,
    /// tol 1e-4, seed 1.
    pub fn params() -> KMeansParams {
        KMeansParams::default()
    }

    /// The centres.
    pub fn centers(&self) -> &Centers {
        &self.centers
    }

    /// Within-cluster sum of squared errors (WSSSE) of the training rows under the final
    /// centres.
    pub fn cost(&self) -> f64 {
        self.cost
    }

    /// Lloyd steps taken.
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Whether the run stopped because no centre moved more than `tol`.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// The nearest centre of every row of `x`.
    pub fn labels(&self, x: &Rows) -> Result<Vec<u32>> {
        Ok(self
            .centers
            .assign(x)?
            .into_iter()
            .map(|(j, _)| j)
            .collect())
    }
}

impl KMeansValidParams {
    /// The parameters.
    pub fn params(&self) -> &KMeansParams {
        &self.0
    }

    /// Seeds `k` centres from the rows of `x` by greedy k-means++, drawn from `seed`.
    pub fn init(&self, x: &Rows) -> Result<Centers> {
        let (n, d, k) = (x.n(), x.d(), self.0.k);
        if n == 0 || d == 0 {
            return Err(MlError::EmptyInput(format!(
                "k-means needs at least one row and one feature, got {n} x {d}"
            )));
        }
        if k > n {
            return Err(MlError::InvalidParameter {
                name: "k",
                reason: format!("{k} clusters need at least as many rows, got {n}"),
            });
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.0.seed);
        let records = DenseRecords::from_f64(x.data().to_vec(), n, d);
        Centers::new(k, d, kmeans_pp(&records, k, &mut rng))
    }

    /// One Lloyd step: the centres `sums` (added over every shard, taken under `centers`)
    /// move them to, and whether no centre moved by more than `tol`.
    pub fn step(&self, centers: &Centers, sums: &LloydSums) -> Result<(Centers, bool)> {
        if (sums.k, sums.d) != (centers.k, centers.d) {
            return Err(MlError::ShapeMismatch {
                what: "k x d of the Lloyd sums".into(),
                expected: centers.k * centers.d,
                got: sums.k * sums.d,
            });
        }
        let d = centers.d;
        let mut next = centers.data.clone();
        let mut converged = true;
        let tol2 = self.0.tol * self.0.tol;
        for j in 0..centers.k {
            if sums.counts[j] == 0 {
                continue;
            }
            let inv = 1.0 / sums.counts[j] as f64;
            let mut moved = 0.0;
            for t in 0..d {
                let new = sums.sums[j * d + t] * inv;
                moved += (new - centers.data[j * d + t]).powi(2);
                next[j * d + t] = new;
            }
            if moved > tol2 {
                converged = false;
            }
        }
        Ok((Centers::new(centers.k, d, next)?, converged))
    }

    /// Fits over in-memory shards of the rows, as a driver over `W` functions does: seeding on
    /// the concatenated `seed_rows`, then Lloyd steps whose sums are taken shard by shard and
    /// added, then a last pass for the cost under the final centres.
    pub fn fit_shards(&self, seed_rows: &Rows, shards: &[Rows]) -> Result<KMeans> {
        let mut centers = self.init(seed_rows)?;
        let sums_over = |centers: &Centers| -> Result<LloydSums> {
            let mut total = LloydSums::zeros(centers.k, centers.d);
            for shard in shards {
                total.merge(&LloydSums::of_rows(shard, centers)?)?;
            }
            Ok(total)
        };
        let mut n_iter = 0;
        let mut converged = false;
        while n_iter < self.0.max_iter && !converged {
            let sums = sums_over(&centers)?;
            (centers, converged) = self.step(&centers, &sums)?;
            n_iter += 1;
        }
        let cost = sums_over(&centers)?.cost;
        Ok(KMeans {
            centers,
            cost,
            n_iter,
            converged,
        })
    }
}

impl Fit for KMeansValidParams {
    type Model = KMeans;

    /// Clusters the records of `data` (one shard); its targets, if any, are ignored.
    fn fit(&self, data: &Dataset) -> Result<KMeans> {
        let rows = Rows::from_matrix(data.view())?;
        self.fit_shards(&rows, std::slice::from_ref(&rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mllib::samples;

    #[test]
    fn spark_kmeans_example_wssse() {
        let (x, _) = samples::load("sample_kmeans_data");
        let p = KMeans::params().check().unwrap();
        let m = p.fit_shards(&x, std::slice::from_ref(&x)).unwrap();
        eprintln!("k-means: WSSSE {:.12} after {} steps", m.cost(), m.n_iter());
        assert!(m.converged());
        assert!(
            ((m.cost() - 0.12) / 0.12).abs() < 1e-9,
            "WSSSE {}",
            m.cost()
        );
        let labels = m.labels(&x).unwrap();
        assert_eq!(labels[0], labels[1]);
        assert_eq!(labels[1], labels[2]);
        assert_eq!(labels[3], labels[5]);
        assert_ne!(labels[0], labels[3]);
        // Through `Fit` on `f32` records the figure moves by the rounding of the values.
        let data = Dataset::unsupervised(x.to_matrix().unwrap()).unwrap();
        assert!((p.fit(&data).unwrap().cost() - 0.12).abs() < 1e-5);
    }

    #[test]
    fn sharded_lloyd_sums_add_up_to_the_whole() {
        let (x, _) = samples::load("sample_kmeans_data");
        let p = KMeans::params().check().unwrap();
        let one = p.fit_shards(&x, std::slice::from_ref(&x)).unwrap();
        let (a, b) = (x.slice(0..2).unwrap(), x.slice(2..6).unwrap());
        let two = p.fit_shards(&x, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(one.n_iter(), two.n_iter());
        assert!((one.cost() - two.cost()).abs() < 1e-12);
        for (u, v) in one.centers().data().iter().zip(two.centers().data()) {
            assert!((u - v).abs() < 1e-12);
        }
        let mut s = LloydSums::of_rows(&a, one.centers()).unwrap();
        s.merge(&LloydSums::of_rows(&b, one.centers()).unwrap())
            .unwrap();
        assert_eq!(s.counts(), &[3, 3]);
        assert!(s.merge(&LloydSums::zeros(3, 3)).is_err());
    }

    #[test]
    fn bad_parameters_and_input_are_errors() {
        for bad in [
            KMeans::params().k(1),
            KMeans::params().max_iter(0),
            KMeans::params().tol(f64::NAN),
        ] {
            assert!(matches!(bad.check(), Err(MlError::InvalidParameter { .. })));
        }
        let x = Rows::new(3, 1, vec![0.0, 1.0, 2.0]).unwrap();
        let p = KMeans::params().k(4).check().unwrap();
        assert!(matches!(
            p.init(&x),
            Err(MlError::InvalidParameter { name: "k", .. })
        ));
        let c = Centers::new(2, 1, vec![0.0, 1.0]).unwrap();
        let wide = Rows::new(1, 2, vec![0.0, 0.0]).unwrap();
        assert!(matches!(
            LloydSums::of_rows(&wide, &c),
            Err(MlError::ShapeMismatch { .. })
        ));
        assert!(Centers::new(2, 1, vec![0.0]).is_err());
        // What comes back from a worker is checked like any input.
        let bad: std::result::Result<Centers, _> =
            serde_json::from_str(r#"{"k": 2, "d": 2, "data": [0.0]}"#);
        assert!(bad.is_err());
        let bad: std::result::Result<LloydSums, _> = serde_json::from_str(
            r#"{"k": 2, "d": 1, "sums": [0.0], "counts": [1, 1], "cost": 0.0}"#,
        );
        assert!(bad.is_err());
        let sums = LloydSums::of_rows(&x, &c).unwrap();
        let back: LloydSums = serde_json::from_str(&serde_json::to_string(&sums).unwrap()).unwrap();
        assert_eq!(back.counts(), sums.counts());
    }
}
