//! Gaussian mixture model with full covariances, fitted by
//! expectation-maximisation: scikit-learn's `GaussianMixture` with
//! `covariance_type="full"`.
//!
//! # Algorithm
//!
//! Each of `n_init` runs starts from its own seeded initialisation, then
//! alternates an E-step (log responsibilities by log-sum-exp) and an M-step
//! (weights, means, covariances from the responsibilities, `reg_covar`
//! added to every covariance's diagonal) until the mean log-likelihood
//! lower bound changes by less than `tol`, or `max_iter` iterations have
//! run. The run with the highest lower bound is kept, as in scikit-learn.
//!
//! Only full covariances are supported: there is no `covariance_type`
//! setting, and `tied`, `diag` and `spherical` are not implemented.
//!
//! # Initialisation (differs from scikit-learn)
//!
//! scikit-learn initialises the responsibilities from a full k-means fit
//! (`init_params="kmeans"`). Here the means are seeded k-means++-style —
//! the first uniformly, each next one a row chosen with probability
//! proportional to its squared distance to the nearest chosen mean — and
//! each row is then assigned to its nearest seed (one hard assignment, no
//! Lloyd iterations). EM then refines from there. The starting points
//! differ, so on data with several local optima a single run may end in a
//! different one than scikit-learn's; with a few `n_init` the best runs
//! agree (iris: the mean log-likelihood and weights match scikit-learn's
//! best of 5 to 1e-3).
//!
//! # Numerics
//!
//! Everything is `f64` inside; the API and the stored model are `f32`.
//! Each covariance is factored by faer's Cholesky (`Σ = L Lᵀ`); its
//! log-determinant is `2 Σ ln Lᵢᵢ`, and with `P = L⁻¹` (faer's triangular
//! inverse) the Mahalanobis term is `‖P(x − μ)‖²`. Dense rows take it by
//! GEMM per block of rows, `Y = (X − μ) Pᵀ` and the row sums of `Y²`, as
//! scikit-learn does; sparse rows ([`GaussianMixtureValidParams::fit_sparse`],
//! [`Predict::predict_sparse`]) as `‖P x − P μ‖²`, `P x` summing the columns
//! of `P` at the row's entries (`nnz · d` per row and component instead of
//! `d²`), and the sparse M-step takes the covariances from second moments
//! (`Σ r x xᵀ / nₖ − μ μᵀ`). A
//! covariance that is not positive definite even with `reg_covar` is
//! [`MlError::Numerical`] naming the component. The fitted model keeps the
//! `f32` values it stores and derives its factors from them (keeping `P`
//! once, column-major, and no `f64` covariances), so a model
//! rebuilt by [`Persist::from_tensors`] predicts exactly as the fitted one.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::persist::{ModelTensors, Persist, Tensor};
use crate::tree::splitmix64;
use crate::{CsrMatrix, Dataset, Fit, Matrix, MatrixView, MlError, Predict, Prediction, Result};

/// Entry point: `GaussianMixture::params().n_components(3).check()?.fit(x)`,
/// or [`Fit::fit`] on a [`Dataset`] (its targets are ignored).
#[derive(Debug, Clone, Copy)]
pub struct GaussianMixture;

impl GaussianMixture {
    /// Default (unchecked) parameters, scikit-learn's: `n_components = 1`,
    /// `reg_covar = 1e-6`, `tol = 1e-3`, `max_iter = 100`, `n_init = 1`,
    /// `seed = 0`.
    pub fn params() -> GaussianMixtureParams {
        GaussianMixtureParams::default()
    }
}

/// Unchecked Gaussian mixture hyperparameters (builder; serde fields
/// default to [`GaussianMixture::params`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GaussianMixtureParams {
    /// Number of mixture components; at least 1 and at most the number of rows.
    pub n_components: usize,
    /// Non-negative value added to each covariance's diagonal.
    pub reg_covar: f64,
    /// Convergence threshold on the change of the mean log-likelihood lower bound.
    pub tol: f64,
    /// Maximum EM iterations per initialisation; at least 1.
    pub max_iter: usize,
    /// Number of initialisations; the best (highest lower bound) is kept.
    pub n_init: usize,
    /// Base seed; initialisation `i` uses `seed ^ splitmix64(i)`.
    pub seed: u64,
}

impl Default for GaussianMixtureParams {
    fn default() -> Self {
        Self {
            n_components: 1,
            reg_covar: 1e-6,
            tol: 1e-3,
            max_iter: 100,
            n_init: 1,
            seed: 0,
        }
    }
}

impl GaussianMixtureParams {
    /// Sets the number of components.
    pub fn n_components(mut self, k: usize) -> Self {
        self.n_components = k;
        self
    }

    /// Sets the value added to each covariance's diagonal.
    pub fn reg_covar(mut self, v: f64) -> Self {
        self.reg_covar = v;
        self
    }

    /// Sets the convergence threshold.
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }

    /// Sets the maximum number of EM iterations per initialisation.
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }

    /// Sets the number of initialisations.
    pub fn n_init(mut self, v: usize) -> Self {
        self.n_init = v;
        self
    }

    /// Sets the base seed.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }

    /// Validates the parameters (data-independent checks only).
    pub fn check(self) -> Result<GaussianMixtureValidParams> {
        let invalid = |name, reason: &str| {
            Err(MlError::InvalidParameter {
                name,
                reason: reason.into(),
            })
        };
        if self.n_components == 0 {
            return invalid("n_components", "must be at least 1");
        }
        if !(self.reg_covar.is_finite() && self.reg_covar >= 0.0) {
            return invalid("reg_covar", "must be finite and non-negative");
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return invalid("tol", "must be finite and non-negative");
        }
        if self.max_iter == 0 {
            return invalid("max_iter", "must be at least 1");
        }
        if self.n_init == 0 {
            return invalid("n_init", "must be at least 1");
        }
        Ok(GaussianMixtureValidParams(self))
    }
}

/// Validated Gaussian mixture hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixtureValidParams(GaussianMixtureParams);

/// Mixture parameters in `f64` with the Cholesky factors of their
/// covariances. With `P = L⁻¹` (lower triangular, `Σ = L Lᵀ`),
/// `prec_chol_t[k]` holds `Pᵀ` row-major (`d x d`; equivalently `P`
/// column-major, so that column `j` of `P` — nonzero from row `j` on — is
/// contiguous), `prec_mean[k]` is `P μ` and `half_log_det[k]` is `Σ ln Lᵢᵢ`.
/// `covariances` is kept while fitting only; a built model empties it (its
/// `f32` covariances are the model's).
#[derive(Debug, Clone, PartialEq)]
struct Components {
    d: usize,
    weights: Vec<f64>,
    means: Vec<f64>,
    covariances: Vec<f64>,
    prec_chol_t: Vec<Vec<f64>>,
    prec_mean: Vec<f64>,
    half_log_det: Vec<f64>,
}

/// Why a covariance could not be factored.
enum FactorError {
    NotPositiveDefinite(usize),
}

/// Rows per block of the dense GEMM E-step; fixed, so results do not depend
/// on the number of threads.
const DENSE_BLOCK: usize = 128;

/// One factored component: `Pᵀ` row-major, `P μ` and `Σ ln Lᵢᵢ`.
type Factor = (Vec<f64>, Vec<f64>, f64);

/// Factors one covariance (`cov(i, j)`): `Pᵀ` row-major, `P μ` and
/// `Σ ln Lᵢᵢ`; `None` if it is not positive definite.
fn factor(d: usize, mu: &[f64], cov: impl Fn(usize, usize) -> f64) -> Option<Factor> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
    // In place (one `d x d` buffer, not two), sequential so that the factor
    // does not depend on the thread count; only the lower triangle is
    // filled and read.
    let mut a = Mat::<f64>::from_fn(d, d, |i, j| if i >= j { cov(i, j) } else { 0.0 });
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(
        d,
        Par::Seq,
        Default::default(),
    ));
    cholesky_in_place(
        a.as_mut(),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .ok()?;
    drop(mem);
    let l = a.as_ref();
    let mut hld = 0f64;
    for i in 0..d {
        let v = l[(i, i)];
        if !(v.is_finite() && v > 0.0) {
            return None;
        }
        hld += v.ln();
    }
    // `P` column-major is `Pᵀ` row-major: invert straight into it (the
    // inverse writes the lower triangle only; the upper stays zero).
    let mut pt = vec![0f64; d * d];
    faer::linalg::triangular_inverse::invert_lower_triangular(
        MatMut::from_column_major_slice_mut(&mut pt, d, d),
        l,
        Par::Seq,
    );
    drop(a);
    if pt.iter().any(|v| !v.is_finite()) {
        return None;
    }
    // P μ = Σⱼ μⱼ P[:, j].
    let mut b = vec![0f64; d];
    for (j, &m) in mu.iter().enumerate() {
        let col = &pt[j * d + j..(j + 1) * d];
        for (o, &p) in b[j..].iter_mut().zip(col) {
            *o += m * p;
        }
    }
    Some((pt, b, hld))
}

impl Components {
    /// Factors every covariance (`k` blocks of `d x d`, row-major), the
    /// components in parallel, and keeps the covariances.
    fn new(
        d: usize,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: Vec<f64>,
    ) -> std::result::Result<Self, FactorError> {
        let k = weights.len();
        let parts: Vec<Option<Factor>> = (0..k)
            .into_par_iter()
            .map(|c| {
                let cov = &covariances[c * d * d..(c + 1) * d * d];
                factor(d, &means[c * d..(c + 1) * d], |i, j| cov[i * d + j])
            })
            .collect();
        let mut s = Self::assemble(d, weights, means, parts)?;
        s.covariances = covariances;
        Ok(s)
    }

    /// Factors `f32` covariances one component after another (to bound the
    /// memory of loading a large model), keeping no `f64` copy of them.
    fn from_f32(
        d: usize,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: &[f32],
    ) -> std::result::Result<Self, FactorError> {
        let k = weights.len();
        let parts = (0..k)
            .map(|c| {
                let cov = &covariances[c * d * d..(c + 1) * d * d];
                factor(d, &means[c * d..(c + 1) * d], |i, j| {
                    f64::from(cov[i * d + j])
                })
            })
            .collect();
        Self::assemble(d, weights, means, parts)
    }

    fn assemble(
        d: usize,
        weights: Vec<f64>,
        means: Vec<f64>,
        parts: Vec<Option<Factor>>,
    ) -> std::result::Result<Self, FactorError> {
        let k = weights.len();
        let mut prec_chol_t = Vec::with_capacity(k);
        let mut prec_mean = Vec::with_capacity(k * d);
        let mut half_log_det = Vec::with_capacity(k);
        for (c, part) in parts.into_iter().enumerate() {
            let (pt, b, hld) = part.ok_or(FactorError::NotPositiveDefinite(c))?;
            prec_chol_t.push(pt);
            prec_mean.extend_from_slice(&b);
            half_log_det.push(hld);
        }
        Ok(Self {
            d,
            weights,
            means,
            covariances: Vec::new(),
            prec_chol_t,
            prec_mean,
            half_log_det,
        })
    }

    fn k(&self) -> usize {
        self.weights.len()
    }

    /// Log responsibilities (`n x k`, row-major) and each row's
    /// log-likelihood `ln Σₖ wₖ N(x | μₖ, Σₖ)`, from the squared
    /// Mahalanobis distances (`n x k`).
    fn finish(&self, maha: Vec<f64>) -> (Vec<f64>, Vec<f64>) {
        let (d, k) = (self.d, self.k());
        let log_2pi = (2.0 * std::f64::consts::PI).ln();
        let log_w: Vec<f64> = self.weights.iter().map(|w| w.ln()).collect();
        let mut resp = maha;
        let mut ll = vec![0f64; resp.len() / k];
        resp.par_chunks_mut(k)
            .zip(ll.par_iter_mut())
            .for_each(|(r, l)| {
                for c in 0..k {
                    r[c] = log_w[c] - 0.5 * (d as f64 * log_2pi + r[c]) - self.half_log_det[c];
                }
                let max = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = if max.is_finite() {
                    max + r.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
                } else {
                    max
                };
                r.iter_mut().for_each(|v| *v -= lse);
                *l = lse;
            });
        (resp, ll)
    }

    /// [`Self::finish`] for dense rows (`n x d`, row-major): per block of
    /// rows and component, `Y = (X − μ) Pᵀ` by faer's GEMM and the
    /// distances as the row sums of `Y²`, as scikit-learn computes them.
    fn log_resp(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (d, k) = (self.d, self.k());
        let n = x.len().checked_div(d).unwrap_or(0);
        let mut maha = vec![0f64; n * k];
        maha.par_chunks_mut(DENSE_BLOCK * k)
            .zip(x.par_chunks(DENSE_BLOCK * d))
            .for_each(|(m, xb)| {
                let rows = xb.len() / d;
                let mut diff = Mat::<f64>::zeros(rows, d);
                let mut y = Mat::<f64>::zeros(rows, d);
                let mut acc = vec![0f64; rows];
                for c in 0..k {
                    let mu = &self.means[c * d..(c + 1) * d];
                    for (j, &mj) in mu.iter().enumerate() {
                        for r in 0..rows {
                            diff[(r, j)] = xb[r * d + j] - mj;
                        }
                    }
                    let p = MatRef::from_column_major_slice(&self.prec_chol_t[c], d, d);
                    matmul(
                        y.as_mut(),
                        Accum::Replace,
                        diff.as_ref(),
                        p.transpose(),
                        1.0,
                        Par::Seq,
                    );
                    acc.fill(0.0);
                    for j in 0..d {
                        for (a, r) in acc.iter_mut().zip(0..rows) {
                            let v = y[(r, j)];
                            *a += v * v;
                        }
                    }
                    for (r, &a) in acc.iter().enumerate() {
                        m[r * k + c] = a;
                    }
                }
            });
        self.finish(maha)
    }

    /// [`Self::finish`] for sparse rows: `‖P x − P μ‖²`, `P x` as the sum of
    /// the columns of `P` at the row's entries (`nnz · d` per row and
    /// component instead of `d²`).
    fn log_resp_sparse(&self, x: &CsrMatrix) -> (Vec<f64>, Vec<f64>) {
        let (d, k) = (self.d, self.k());
        let mut maha = vec![0f64; x.n_rows() * k];
        maha.par_chunks_mut(k).enumerate().for_each_init(
            || vec![0f64; d],
            |y, (i, m)| {
                let row = x.row(i);
                for (c, out) in m.iter_mut().enumerate() {
                    let pt = &self.prec_chol_t[c];
                    let b = &self.prec_mean[c * d..(c + 1) * d];
                    y.iter_mut().zip(b).for_each(|(o, &v)| *o = -v);
                    for (&j, &v) in row.indices.iter().zip(row.values) {
                        let (j, v) = (j as usize, f64::from(v));
                        let col = &pt[j * d + j..(j + 1) * d];
                        for (o, &p) in y[j..].iter_mut().zip(col) {
                            *o += v * p;
                        }
                    }
                    *out = y.iter().map(|v| v * v).sum();
                }
            },
        );
        self.finish(maha)
    }
}

/// Components from the M-step's parts; a covariance that cannot be factored
/// is [`MlError::Numerical`] naming its component.
fn components(
    d: usize,
    weights: Vec<f64>,
    means: Vec<f64>,
    covs: Vec<f64>,
    reg_covar: f64,
) -> Result<Components> {
    Components::new(d, weights, means, covs).map_err(|FactorError::NotPositiveDefinite(c)| {
        MlError::Numerical(format!(
            "gaussian mixture: the covariance of component {c} is not positive definite \
             (reg_covar = {reg_covar}); increase reg_covar or use fewer components"
        ))
    })
}

/// Weights, means and regularised covariances from responsibilities
/// (`n x k`, not log), as scikit-learn's M-step (`nₖ` gets `10 ε`).
fn m_step(x: &[f64], d: usize, resp: &[f64], k: usize, reg_covar: f64) -> Result<Components> {
    let n = resp.len() / k;
    let mut nk = vec![10.0 * f64::EPSILON; k];
    let mut means = vec![0f64; k * d];
    for (r, row) in resp.chunks_exact(k).zip(x.chunks_exact(d)) {
        for c in 0..k {
            nk[c] += r[c];
            for (m, &v) in means[c * d..(c + 1) * d].iter_mut().zip(row) {
                *m += r[c] * v;
            }
        }
    }
    for c in 0..k {
        means[c * d..(c + 1) * d]
            .iter_mut()
            .for_each(|m| *m /= nk[c]);
    }
    let mut covs = vec![0f64; k * d * d];
    let mut diff = vec![0f64; d];
    for (r, row) in resp.chunks_exact(k).zip(x.chunks_exact(d)) {
        for c in 0..k {
            if r[c] == 0.0 {
                continue;
            }
            for ((o, &v), &m) in diff.iter_mut().zip(row).zip(&means[c * d..(c + 1) * d]) {
                *o = v - m;
            }
            let cov = &mut covs[c * d * d..(c + 1) * d * d];
            for i in 0..d {
                let ri = r[c] * diff[i];
                for j in 0..=i {
                    cov[i * d + j] += ri * diff[j];
                }
            }
        }
    }
    for c in 0..k {
        let cov = &mut covs[c * d * d..(c + 1) * d * d];
        for i in 0..d {
            for j in 0..=i {
                let v = cov[i * d + j] / nk[c];
                cov[i * d + j] = v;
                cov[j * d + i] = v;
            }
            cov[i * d + i] += reg_covar;
        }
    }
    let weights = nk.iter().map(|&v| v / n as f64).collect();
    components(d, weights, means, covs, reg_covar)
}

/// [`m_step`] for sparse rows: the same weights and means (the zeros add
/// nothing), the covariances from the second moments as
/// `Σ rᵢ xᵢ xᵢᵀ / nₖ − μ μᵀ` (equal to scikit-learn's `Σ r (x − μ)(x − μ)ᵀ / nₖ`
/// in exact arithmetic; `nnz²` per row instead of `d²`), all in `f64`.
fn m_step_sparse(x: &CsrMatrix, resp: &[f64], k: usize, reg_covar: f64) -> Result<Components> {
    let d = x.n_cols();
    let n = resp.len() / k;
    let mut nk = vec![10.0 * f64::EPSILON; k];
    let mut means = vec![0f64; k * d];
    for (i, r) in resp.chunks_exact(k).enumerate() {
        let row = x.row(i);
        for c in 0..k {
            nk[c] += r[c];
            row.axpy_f64(r[c], &mut means[c * d..(c + 1) * d]);
        }
    }
    for c in 0..k {
        means[c * d..(c + 1) * d]
            .iter_mut()
            .for_each(|m| *m /= nk[c]);
    }
    let mut covs = vec![0f64; k * d * d];
    covs.par_chunks_mut(d * d).enumerate().for_each(|(c, cov)| {
        for (i, r) in resp.chunks_exact(k).enumerate() {
            let rc = r[c];
            if rc == 0.0 {
                continue;
            }
            let row = x.row(i);
            for (a, (&ja, &va)) in row.indices.iter().zip(row.values).enumerate() {
                let ra = rc * f64::from(va);
                let base = ja as usize * d;
                for (&jb, &vb) in row.indices[..=a].iter().zip(&row.values[..=a]) {
                    cov[base + jb as usize] += ra * f64::from(vb);
                }
            }
        }
        let mu = &means[c * d..(c + 1) * d];
        for i in 0..d {
            for j in 0..=i {
                let v = cov[i * d + j] / nk[c] - mu[i] * mu[j];
                cov[i * d + j] = v;
                cov[j * d + i] = v;
            }
            cov[i * d + i] += reg_covar;
        }
    });
    let weights = nk.iter().map(|&v| v / n as f64).collect();
    components(d, weights, means, covs, reg_covar)
}

/// The rows EM runs on: dense or sparse, one implementation of the fit.
trait Records: Sync {
    fn n(&self) -> usize;
    fn d(&self) -> usize;
    /// Squared Euclidean distance between rows `a` and `b`, summed over the
    /// columns in order.
    fn dist2(&self, a: usize, b: usize) -> f64;
    fn log_resp(&self, comps: &Components) -> (Vec<f64>, Vec<f64>);
    fn m_step(&self, resp: &[f64], k: usize, reg_covar: f64) -> Result<Components>;
}

/// Dense rows copied to `f64`.
struct DenseRecords {
    x: Vec<f64>,
    d: usize,
}

impl Records for DenseRecords {
    fn n(&self) -> usize {
        self.x.len() / self.d
    }
    fn d(&self) -> usize {
        self.d
    }
    fn dist2(&self, a: usize, b: usize) -> f64 {
        let d = self.d;
        let (p, q) = (&self.x[a * d..(a + 1) * d], &self.x[b * d..(b + 1) * d]);
        p.iter().zip(q).map(|(p, q)| (p - q) * (p - q)).sum()
    }
    fn log_resp(&self, comps: &Components) -> (Vec<f64>, Vec<f64>) {
        comps.log_resp(&self.x)
    }
    fn m_step(&self, resp: &[f64], k: usize, reg_covar: f64) -> Result<Components> {
        m_step(&self.x, self.d, resp, k, reg_covar)
    }
}

/// Sparse rows. Distances merge the two rows' entries in column order, so
/// they equal the dense ones exactly (the skipped terms are zeros).
struct SparseRecords<'a>(&'a CsrMatrix);

impl Records for SparseRecords<'_> {
    fn n(&self) -> usize {
        self.0.n_rows()
    }
    fn d(&self) -> usize {
        self.0.n_cols()
    }
    fn dist2(&self, a: usize, b: usize) -> f64 {
        let (ra, rb) = (self.0.row(a), self.0.row(b));
        let (mut i, mut j, mut s) = (0, 0, 0f64);
        let sq = |v: f64| v * v;
        while i < ra.nnz() || j < rb.nnz() {
            let ca = ra.indices.get(i).copied().unwrap_or(u32::MAX);
            let cb = rb.indices.get(j).copied().unwrap_or(u32::MAX);
            if ca == cb {
                s += sq(f64::from(ra.values[i]) - f64::from(rb.values[j]));
                i += 1;
                j += 1;
            } else if ca < cb {
                s += sq(f64::from(ra.values[i]));
                i += 1;
            } else {
                s += sq(-f64::from(rb.values[j]));
                j += 1;
            }
        }
        s
    }
    fn log_resp(&self, comps: &Components) -> (Vec<f64>, Vec<f64>) {
        comps.log_resp_sparse(self.0)
    }
    fn m_step(&self, resp: &[f64], k: usize, reg_covar: f64) -> Result<Components> {
        m_step_sparse(self.0, resp, k, reg_covar)
    }
}

/// k-means++-style seeding followed by one hard assignment: one-hot
/// responsibilities (`n x k`).
fn init_resp(x: &dyn Records, k: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    let n = x.n();
    let uniform = |rng: &mut Xoshiro256PlusPlus, m: usize| {
        ((rng.next_u64() as u128 * m as u128) >> 64) as usize
    };
    let mut centres = vec![uniform(rng, n)];
    let mut nearest: Vec<f64> = (0..n).map(|i| x.dist2(i, centres[0])).collect();
    while centres.len() < k {
        let total: f64 = nearest.iter().sum();
        let next = if total > 0.0 && total.is_finite() {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
            let mut acc = 0f64;
            let mut pick = n - 1;
            for (i, &w) in nearest.iter().enumerate() {
                acc += w;
                if acc > u && w > 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            uniform(rng, n)
        };
        centres.push(next);
        for (i, m) in nearest.iter_mut().enumerate() {
            *m = m.min(x.dist2(i, next));
        }
    }
    let mut resp = vec![0f64; n * k];
    for (i, r) in resp.chunks_exact_mut(k).enumerate() {
        let mut best = (0, f64::INFINITY);
        for (c, &j) in centres.iter().enumerate() {
            let dd = x.dist2(i, j);
            if dd < best.1 {
                best = (c, dd);
            }
        }
        r[best.0] = 1.0;
    }
    resp
}

/// One EM run from `resp`: the components, the final lower bound, the
/// number of iterations and whether it converged.
fn em_run(
    x: &dyn Records,
    resp: Vec<f64>,
    p: &GaussianMixtureParams,
) -> Result<(Components, f64, usize, bool)> {
    let k = p.n_components;
    let n = x.n();
    let mut comps = x.m_step(&resp, k, p.reg_covar)?;
    let mut lower_bound = f64::NEG_INFINITY;
    for iter in 1..=p.max_iter {
        let prev = lower_bound;
        let (mut log_resp, ll) = x.log_resp(&comps);
        lower_bound = ll.iter().sum::<f64>() / n as f64;
        if !lower_bound.is_finite() {
            return Err(MlError::Numerical(
                "gaussian mixture: the log-likelihood is not finite".into(),
            ));
        }
        log_resp.iter_mut().for_each(|v| *v = v.exp());
        comps = x.m_step(&log_resp, k, p.reg_covar)?;
        if (lower_bound - prev).abs() < p.tol {
            return Ok((comps, lower_bound, iter, true));
        }
    }
    Ok((comps, lower_bound, p.max_iter, false))
}

impl GaussianMixtureValidParams {
    /// The settings.
    pub fn params(&self) -> &GaussianMixtureParams {
        &self.0
    }

    /// Fits the mixture on `x` (n samples x d features). Fewer rows than
    /// components is [`MlError::InvalidParameter`], a non-finite value
    /// [`MlError::Numerical`]. (The [`Fit`] impl takes a dataset; call it
    /// as `Fit::fit(&params, &data)`, since this inherent method has the name.)
    pub fn fit(&self, x: MatrixView<'_>) -> Result<GaussianMixtureModel> {
        self.check_shape(x.rows(), x.cols())?;
        x.check_finite()?;
        let records = DenseRecords {
            x: x.data().iter().map(|&v| f64::from(v)).collect(),
            d: x.cols(),
        };
        self.fit_records(&records)
    }

    /// Fits the mixture on sparse rows (bag-of-words counts): the same EM as
    /// [`Self::fit`] on `x.to_dense()` — the same initialisation, stopping
    /// rule and regularisation — with sparse algebra: each E-step row costs
    /// `nnz · d` per component instead of `d²`, and the M-step's second
    /// moments `nnz²` instead of `d²`. The result equals the dense fit's up
    /// to rounding.
    pub fn fit_sparse(&self, x: &CsrMatrix) -> Result<GaussianMixtureModel> {
        self.check_shape(x.n_rows(), x.n_cols())?;
        self.fit_records(&SparseRecords(x))
    }

    fn check_shape(&self, n: usize, d: usize) -> Result<()> {
        let k = self.0.n_components;
        if n == 0 || d == 0 {
            return Err(MlError::EmptyInput(
                "a Gaussian mixture needs a non-empty matrix".into(),
            ));
        }
        if k > n {
            return Err(MlError::InvalidParameter {
                name: "n_components",
                reason: format!("{k} components exceed the {n} samples"),
            });
        }
        Ok(())
    }

    fn fit_records(&self, x: &dyn Records) -> Result<GaussianMixtureModel> {
        let p = &self.0;
        let (d, k) = (x.d(), p.n_components);
        let mut best: Option<(Components, f64, usize, bool)> = None;
        for init in 0..p.n_init {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed ^ splitmix64(init as u64));
            let resp = init_resp(x, k, &mut rng);
            let run = em_run(x, resp, p)?;
            if best.as_ref().is_none_or(|b| run.1 > b.1) {
                best = Some(run);
            }
        }
        let Some((comps, lower_bound, n_iter, converged)) = best else {
            return Err(MlError::InvalidParameter {
                name: "n_init",
                reason: "must be at least 1".into(),
            });
        };
        let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let (weights, means, covariances) = (
            to32(&comps.weights),
            to32(&comps.means),
            to32(&comps.covariances),
        );
        drop(comps);
        GaussianMixtureModel::build(
            d,
            weights,
            means,
            covariances,
            FitInfo {
                n_iter,
                converged,
                // Rounded as stored, so a reloaded model equals this one.
                lower_bound: f64::from(lower_bound as f32),
            },
        )
        .map_err(|e| match e {
            MlError::CorruptModel(m) => MlError::Numerical(format!("gaussian mixture: {m}")),
            other => other,
        })
    }
}

impl Fit for GaussianMixtureValidParams {
    type Model = GaussianMixtureModel;

    /// Fits on the records; the targets, whatever they are, are ignored.
    fn fit(&self, data: &Dataset) -> Result<GaussianMixtureModel> {
        GaussianMixtureValidParams::fit(self, data.view())
    }
}

/// How the fit ended.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FitInfo {
    n_iter: usize,
    converged: bool,
    lower_bound: f64,
}

/// A fitted Gaussian mixture: weights (k), means (k x d) and full
/// covariances (k x d x d).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixtureModel {
    weights: Vec<f32>,
    means: Matrix,
    covariances: Vec<f32>,
    info: FitInfo,
    comps: Components,
}

impl GaussianMixtureModel {
    /// Validates `f32` parts and factors them; any problem is
    /// [`MlError::CorruptModel`].
    fn build(
        d: usize,
        weights: Vec<f32>,
        means: Vec<f32>,
        covariances: Vec<f32>,
        info: FitInfo,
    ) -> Result<Self> {
        let corrupt = |m: String| Err(MlError::CorruptModel(m));
        let k = weights.len();
        if k == 0 || d == 0 {
            return corrupt(format!(
                "Gaussian mixture with {k} components of {d} features"
            ));
        }
        if means.len() != k * d {
            return corrupt(format!(
                "Gaussian mixture means have {} values, expected {k} x {d}",
                means.len()
            ));
        }
        if covariances.len() != k * d * d {
            return corrupt(format!(
                "Gaussian mixture covariances have {} values, expected {k} x {d} x {d}",
                covariances.len()
            ));
        }
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !finite(&weights) || !finite(&means) || !finite(&covariances) {
            return corrupt("Gaussian mixture parts contain non-finite values".into());
        }
        if let Some(c) = weights.iter().position(|&w| w <= 0.0) {
            return corrupt(format!(
                "Gaussian mixture weight of component {c} is {}, expected > 0",
                weights[c]
            ));
        }
        let sum: f64 = weights.iter().map(|&w| f64::from(w)).sum();
        if (sum - 1.0).abs() > 1e-4 {
            return corrupt(format!("Gaussian mixture weights sum to {sum}, expected 1"));
        }
        for c in 0..k {
            let cov = &covariances[c * d * d..(c + 1) * d * d];
            for i in 0..d {
                for j in 0..i {
                    let (a, b) = (cov[i * d + j], cov[j * d + i]);
                    if (a - b).abs() > 1e-5 * (a.abs() + b.abs()) {
                        return corrupt(format!(
                            "Gaussian mixture covariance of component {c} is not symmetric \
                             at ({i}, {j}): {a} vs {b}"
                        ));
                    }
                }
            }
        }
        let to64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let comps = Components::from_f32(d, to64(&weights), to64(&means), &covariances).map_err(
            |FactorError::NotPositiveDefinite(c)| {
                MlError::CorruptModel(format!(
                    "Gaussian mixture covariance of component {c} is not positive definite"
                ))
            },
        )?;
        Ok(Self {
            weights,
            means: Matrix::new(k, d, means)?,
            covariances,
            info,
            comps,
        })
    }

    /// Mixture weights, one per component, summing to one.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// Component means, one per row (k x d).
    pub fn means(&self) -> &Matrix {
        &self.means
    }

    /// Component covariances, `reg_covar` included: one `d x d` row-major
    /// matrix after another (`k * d * d` values).
    pub fn covariances(&self) -> &[f32] {
        &self.covariances
    }

    /// Component `c`'s covariance as a `d x d` matrix; `None` if `c >= k`.
    pub fn covariance(&self, c: usize) -> Option<Matrix> {
        let d = self.n_features();
        if c >= self.n_components() {
            return None;
        }
        let block = self.covariances.get(c * d * d..(c + 1) * d * d)?;
        Matrix::new(d, d, block.to_vec()).ok()
    }

    /// Number of components k.
    pub fn n_components(&self) -> usize {
        self.weights.len()
    }

    /// Number of input features d.
    pub fn n_features(&self) -> usize {
        self.means.cols()
    }

    /// Whether the kept initialisation converged within `max_iter`.
    pub fn converged(&self) -> bool {
        self.info.converged
    }

    /// EM iterations the kept initialisation ran.
    pub fn n_iter(&self) -> usize {
        self.info.n_iter
    }

    /// The kept initialisation's final lower bound on the mean
    /// log-likelihood (computed before its last M-step, as scikit-learn's
    /// `lower_bound_`), rounded to `f32` as stored.
    pub fn lower_bound(&self) -> f64 {
        self.info.lower_bound
    }

    fn checked_f64(&self, x: MatrixView<'_>) -> Result<Vec<f64>> {
        if x.cols() != self.n_features() {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: self.n_features(),
                got: x.cols(),
            });
        }
        x.check_finite()?;
        Ok(x.data().iter().map(|&v| f64::from(v)).collect())
    }

    /// Per-row log-likelihood `ln p(x)` under the mixture.
    pub fn score_samples(&self, x: MatrixView<'_>) -> Result<Vec<f64>> {
        let xf = self.checked_f64(x)?;
        Ok(self.comps.log_resp(&xf).1)
    }

    /// Mean log-likelihood per sample (scikit-learn's `score`); an empty
    /// input is [`MlError::EmptyInput`].
    pub fn score(&self, x: MatrixView<'_>) -> Result<f64> {
        if x.rows() == 0 {
            return Err(MlError::EmptyInput("score needs at least one row".into()));
        }
        let ll = self.score_samples(x)?;
        Ok(ll.iter().sum::<f64>() / ll.len() as f64)
    }

    /// Responsibilities: the posterior probability of each component for
    /// each row (n x k, rows summing to one).
    pub fn predict_proba(&self, x: MatrixView<'_>) -> Result<Matrix> {
        let xf = self.checked_f64(x)?;
        let (log_resp, _) = self.comps.log_resp(&xf);
        let p = log_resp.iter().map(|&v| v.exp() as f32).collect();
        Matrix::new(x.rows(), self.n_components(), p)
    }
}

impl Predict for GaussianMixtureModel {
    fn n_features(&self) -> usize {
        GaussianMixtureModel::n_features(self)
    }

    /// The responsibilities as [`Prediction::Proba`]; its `classes()` are
    /// the most probable components.
    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        self.predict_proba(x).map(Prediction::Proba)
    }

    /// The responsibilities of sparse rows by the sparse E-step (`nnz · d`
    /// per row and component), as [`Self::predict`] on `x.to_dense()` up to
    /// rounding.
    fn predict_sparse(&self, x: &CsrMatrix) -> Result<Prediction> {
        if x.n_cols() != self.n_features() {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: self.n_features(),
                got: x.n_cols(),
            });
        }
        let (log_resp, _) = self.comps.log_resp_sparse(x);
        let p = log_resp.iter().map(|&v| v.exp() as f32).collect();
        Matrix::new(x.n_rows(), self.n_components(), p).map(Prediction::Proba)
    }
}

/// Stored as `weights` (`[k]`), `means` (`[k, d]`), `covariances`
/// (`[k, d, d]`), `lower_bound` (`[1]`), all `f32`, and `fit_info`
/// (`u32` `[n_iter, converged]`).
impl Persist for GaussianMixtureModel {
    const KIND: &'static str = "gaussian-mixture";

    fn to_tensors(&self) -> ModelTensors {
        let (k, d) = (self.n_components(), self.n_features());
        let mut t = ModelTensors::new(Self::KIND);
        t.insert("weights", Tensor::f32_vector(self.weights.clone()));
        t.insert_checked("means", vec![k, d], self.means.data().to_vec());
        t.insert_checked("covariances", vec![k, d, d], self.covariances.clone());
        t.insert(
            "lower_bound",
            Tensor::f32_vector(vec![self.info.lower_bound as f32]),
        );
        let n_iter = u32::try_from(self.info.n_iter).unwrap_or(u32::MAX);
        t.insert(
            "fit_info",
            Tensor::u32_vector(vec![n_iter, u32::from(self.info.converged)]),
        );
        t
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        let weights = t.f32_vec("weights")?.to_vec();
        let k = weights.len();
        let (shape, means) = t.f32_tensor("means")?;
        let &[km, d] = shape else {
            return Err(MlError::CorruptModel(format!(
                "Gaussian mixture means have shape {shape:?}, expected 2 dimensions"
            )));
        };
        if km != k {
            return Err(MlError::CorruptModel(format!(
                "Gaussian mixture has {k} weights but {km} means"
            )));
        }
        let covariances = t.f32_shaped("covariances", &[k, d, d])?.to_vec();
        let lower_bound = f64::from(t.f32_scalar("lower_bound")?);
        let [n_iter, converged] = t.u32_array::<2>("fit_info")?;
        if converged > 1 {
            return Err(MlError::CorruptModel(format!(
                "Gaussian mixture fit_info converged flag is {converged}, expected 0 or 1"
            )));
        }
        Self::build(
            d,
            weights,
            means.to_vec(),
            covariances,
            FitInfo {
                n_iter: n_iter as usize,
                converged: converged == 1,
                lower_bound,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Side;

    fn two_clusters() -> Matrix {
        let mut v = Vec::new();
        for i in 0..50 {
            let t = (i as f32 / 49.0 - 0.5) * 0.6;
            v.push(-5.0 + t);
            v.push(5.0 + t);
        }
        Matrix::new(100, 1, v).unwrap()
    }

    /// A random `n x d` matrix of small counts with about `density` of its
    /// entries non-zero (splitmix64-driven, reproducible).
    fn random_counts(n: usize, d: usize, density: f64, seed: u64) -> CsrMatrix {
        let mut s = seed;
        let mut next = || {
            s = s.wrapping_add(1);
            (splitmix64(s) >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut x = CsrMatrix::empty(d);
        for _ in 0..n {
            let mut row = Vec::new();
            for j in 0..d {
                if next() < density {
                    row.push((j as u32, (1.0 + (next() * 4.0).floor()) as f32));
                }
            }
            x.push_row(&row).unwrap();
        }
        x
    }

    /// The log responsibilities as the code before the GEMM E-step computed
    /// them: `L⁻¹` by a triangular solve against the identity, then a scalar
    /// triangular mat-vec per row and component.
    fn reference_log_resp(m: &GaussianMixtureModel, x: &[f64]) -> Vec<f64> {
        let (k, d) = (m.n_components(), m.n_features());
        let log_2pi = (2.0 * std::f64::consts::PI).ln();
        let mut out = Vec::new();
        for row in x.chunks_exact(d) {
            let mut r = vec![0f64; k];
            for (c, rc) in r.iter_mut().enumerate() {
                let cov = &m.covariances()[c * d * d..(c + 1) * d * d];
                let a = Mat::<f64>::from_fn(d, d, |i, j| f64::from(cov[i * d + j]));
                let llt = a.llt(Side::Lower).unwrap();
                let l = llt.L();
                let hld: f64 = (0..d).map(|i| l[(i, i)].ln()).sum();
                let mut inv = Mat::<f64>::identity(d, d);
                faer::linalg::triangular_solve::solve_lower_triangular_in_place(
                    l,
                    inv.as_mut(),
                    Par::Seq,
                );
                let mu = &m.means().data()[c * d..(c + 1) * d];
                let mut maha = 0f64;
                for i in 0..d {
                    let mut s = 0f64;
                    for j in 0..=i {
                        s += inv[(i, j)] * (row[j] - f64::from(mu[j]));
                    }
                    maha += s * s;
                }
                *rc = f64::from(m.weights()[c]).ln() - 0.5 * (d as f64 * log_2pi + maha) - hld;
            }
            let max = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + r.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            out.extend(r.iter().map(|v| v - lse));
        }
        out
    }

    fn assert_close(a: &[f64], b: &[f64], rel: f64, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        let scale = b.iter().fold(0f64, |s, v| s.max(v.abs())).max(1e-300);
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= rel * scale.max(y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    #[test]
    fn fit_sparse_equals_the_dense_fit() {
        // A large reg_covar keeps the responsibilities soft, so that EM runs
        // several iterations; with a small one the components separate at once.
        for (k, seed, reg) in [(2, 1u64, 0.5), (3, 2, 0.5), (3, 5, 0.5), (3, 2, 1e-3)] {
            let xs = random_counts(300, 40, 0.1, seed);
            let xd = xs.to_dense();
            let p = GaussianMixture::params()
                .n_components(k)
                .reg_covar(reg)
                .tol(1e-6)
                .max_iter(25)
                .seed(seed)
                .check()
                .unwrap();
            let dense = p.fit(xd.view()).unwrap();
            let sparse = p.fit_sparse(&xs).unwrap();
            assert_eq!(dense.n_iter(), sparse.n_iter(), "k={k}");
            assert!(
                reg < 0.1 || dense.n_iter() > 2,
                "k={k}: {} iterations",
                dense.n_iter()
            );
            assert_eq!(dense.converged(), sparse.converged());
            let f = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
            assert_close(&f(sparse.weights()), &f(dense.weights()), 1e-6, "weights");
            assert_close(
                &f(sparse.means().data()),
                &f(dense.means().data()),
                1e-6,
                "means",
            );
            assert_close(
                &f(sparse.covariances()),
                &f(dense.covariances()),
                1e-6,
                "covariances",
            );
            let pd = dense.predict(xd.view()).unwrap();
            let ps = sparse.predict_sparse(&xs).unwrap();
            assert_eq!(pd.classes(), ps.classes());
            // The sparse E-step of one model agrees with its dense one.
            let dd = dense.predict_sparse(&xs).unwrap();
            assert_eq!(dd.classes(), pd.classes());
            let (a, b) = (dd.proba().unwrap(), pd.proba().unwrap());
            for (x, y) in a.data().iter().zip(b.data()) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
            let xf: Vec<f64> = xd.data().iter().map(|&v| f64::from(v)).collect();
            let (ls, lls) = dense.comps.log_resp_sparse(&xs);
            let (ld, lld) = dense.comps.log_resp(&xf);
            assert_close(&ls, &ld, 1e-9, "sparse log_resp");
            assert_close(&lls, &lld, 1e-9, "sparse log-likelihood");
        }
        let wide = random_counts(3, 41, 0.5, 0);
        let m = GaussianMixture::params()
            .check()
            .unwrap()
            .fit_sparse(&random_counts(20, 40, 0.3, 1))
            .unwrap();
        assert!(matches!(
            m.predict_sparse(&wide),
            Err(MlError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            GaussianMixture::params()
                .check()
                .unwrap()
                .fit_sparse(&CsrMatrix::empty(4)),
            Err(MlError::EmptyInput(_))
        ));
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        // 300 rows: the dense E-step runs in three GEMM blocks.
        let xs = random_counts(300, 30, 0.15, 4);
        let xd = xs.to_dense();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let p = GaussianMixture::params()
                    .n_components(3)
                    .reg_covar(1e-3)
                    .check()
                    .unwrap();
                let (dense, sparse) = (p.fit(xd.view()).unwrap(), p.fit_sparse(&xs).unwrap());
                let pd = dense.predict(xd.view()).unwrap();
                let ps = sparse.predict_sparse(&xs).unwrap();
                (dense, sparse, pd, ps)
            })
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn gemm_e_step_matches_the_scalar_one() {
        let cases = [
            (
                random_counts(200, 30, 0.2, 9).to_dense(),
                GaussianMixture::params().n_components(3).reg_covar(1e-3),
            ),
            (
                two_clusters(),
                GaussianMixture::params().n_components(2).seed(7),
            ),
        ];
        for (x, params) in cases {
            let xf: Vec<f64> = x.data().iter().map(|&v| f64::from(v)).collect();
            let m = params.check().unwrap().fit(x.view()).unwrap();
            assert_close(
                &m.comps.log_resp(&xf).0,
                &reference_log_resp(&m, &xf),
                1e-9,
                "log_resp",
            );
        }
    }

    #[test]
    fn recovers_two_one_dimensional_clusters() {
        let x = two_clusters();
        let m = GaussianMixture::params()
            .n_components(2)
            .seed(7)
            .check()
            .unwrap()
            .fit(x.view())
            .unwrap();
        let mut means = m.means().data().to_vec();
        means.sort_by(f32::total_cmp);
        assert!((means[0] + 5.0).abs() < 1e-4, "{means:?}");
        assert!((means[1] - 5.0).abs() < 1e-4, "{means:?}");
        for &w in m.weights() {
            assert!((w - 0.5).abs() < 1e-4);
        }
        assert!(m.converged());
        assert!(m.n_iter() >= 1);
        let p = m.predict_proba(x.view()).unwrap();
        for row in p.data().chunks_exact(2) {
            assert!((row[0] + row[1] - 1.0).abs() < 1e-5);
            assert!(row[0] > 0.999 || row[1] > 0.999);
        }
        // The whole-sample score is the mean of the per-row log-likelihoods.
        let s = m.score(x.view()).unwrap();
        let per_row = m.score_samples(x.view()).unwrap();
        assert!((s - per_row.iter().sum::<f64>() / 100.0).abs() < 1e-12);
    }

    #[test]
    fn bad_settings_and_inputs_are_clear_errors() {
        let x = two_clusters();
        assert!(matches!(
            GaussianMixture::params().n_components(0).check(),
            Err(MlError::InvalidParameter {
                name: "n_components",
                ..
            })
        ));
        for bad in [
            GaussianMixture::params().reg_covar(-1.0),
            GaussianMixture::params().tol(f64::NAN),
            GaussianMixture::params().max_iter(0),
            GaussianMixture::params().n_init(0),
        ] {
            assert!(matches!(bad.check(), Err(MlError::InvalidParameter { .. })));
        }
        let small = Matrix::new(2, 1, vec![0.0, 1.0]).unwrap();
        assert!(matches!(
            GaussianMixture::params()
                .n_components(3)
                .check()
                .unwrap()
                .fit(small.view()),
            Err(MlError::InvalidParameter {
                name: "n_components",
                ..
            })
        ));
        let mut nan = x.clone();
        nan.data_mut()[3] = f32::NAN;
        assert!(matches!(
            GaussianMixture::params().check().unwrap().fit(nan.view()),
            Err(MlError::Numerical(_))
        ));
        let empty = Matrix::new(0, 1, vec![]).unwrap();
        assert!(matches!(
            GaussianMixture::params().check().unwrap().fit(empty.view()),
            Err(MlError::EmptyInput(_))
        ));
        // A covariance that cannot be made positive definite names its
        // component: with no responsibility and no reg_covar, component 1's
        // covariance is exactly zero.
        let xs = [0.0, 1.0, 2.0, 3.0];
        let resp = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let err = m_step(&xs, 1, &resp, 2, 0.0).unwrap_err();
        assert!(
            matches!(&err, MlError::Numerical(m) if m.contains("component 1")),
            "{err:?}"
        );
        assert!(m_step(&xs, 1, &resp, 2, 1e-6).is_ok());
        let m = GaussianMixture::params()
            .check()
            .unwrap()
            .fit(x.view())
            .unwrap();
        let wide = Matrix::new(1, 2, vec![0.0, 0.0]).unwrap();
        assert!(matches!(
            m.predict(wide.view()),
            Err(MlError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn round_trips_and_rejects_corrupt_models() {
        let x = Matrix::new(
            8,
            2,
            vec![
                0.0, 0.1, 0.2, -0.1, -0.1, 0.3, 0.1, 0.0, 5.0, 5.2, 5.1, 4.9, 4.8, 5.0, 5.3, 5.1,
            ],
        )
        .unwrap();
        let m = GaussianMixture::params()
            .n_components(2)
            .check()
            .unwrap()
            .fit(x.view())
            .unwrap();
        let t = Persist::to_tensors(&m);
        let back = GaussianMixtureModel::from_tensors(&t).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            back.predict(x.view()).unwrap(),
            m.predict(x.view()).unwrap()
        );

        let corrupt = |f: &dyn Fn(&mut ModelTensors)| {
            let mut bad = t.clone();
            f(&mut bad);
            let r = GaussianMixtureModel::from_tensors(&bad);
            assert!(matches!(r, Err(MlError::CorruptModel(_))), "{r:?}");
        };
        // Weights that do not sum to one.
        corrupt(&|t| t.insert("weights", Tensor::f32_vector(vec![0.5, 0.6])));
        // A negative weight.
        corrupt(&|t| t.insert("weights", Tensor::f32_vector(vec![1.5, -0.5])));
        // Too few weights for the means.
        corrupt(&|t| t.insert("weights", Tensor::f32_vector(vec![1.0])));
        // A covariance that is not symmetric.
        corrupt(&|t| {
            t.insert_checked(
                "covariances",
                vec![2, 2, 2],
                vec![1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0],
            )
        });
        // A symmetric covariance that is not positive definite.
        corrupt(&|t| {
            t.insert_checked(
                "covariances",
                vec![2, 2, 2],
                vec![1.0, 2.0, 2.0, 1.0, 1.0, 0.0, 0.0, 1.0],
            )
        });
        // Mis-shaped covariances, a missing tensor, NaN means, a bad flag.
        corrupt(&|t| t.insert("covariances", Tensor::f32_vector(vec![1.0; 8])));
        corrupt(&|t| {
            t.tensors.remove("means");
        });
        corrupt(&|t| t.insert_checked("means", vec![2, 2], vec![f32::NAN, 0.0, 1.0, 1.0]));
        corrupt(&|t| t.insert("fit_info", Tensor::u32_vector(vec![3, 2])));
        corrupt(&|t| t.set_meta("kind", "pca"));
    }
}
