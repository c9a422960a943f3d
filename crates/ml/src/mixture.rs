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
//! log-determinant is `2 Σ ln Lᵢᵢ`, and the Mahalanobis term is `‖L⁻¹(x −
//! μ)‖²` with `L⁻¹` from a triangular solve against the identity. A
//! covariance that is not positive definite even with `reg_covar` is
//! [`MlError::Numerical`] naming the component. The fitted model keeps the
//! `f32` values it stores and derives its factors from them, so a model
//! rebuilt by [`Persist::from_tensors`] predicts exactly as the fitted one.

use faer::{Mat, Par, Side};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::persist::{ModelTensors, Persist, Tensor};
use crate::tree::splitmix64;
use crate::{Dataset, Fit, Matrix, MatrixView, MlError, Predict, Prediction, Result};

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
/// covariances: `prec_chol[k]` is `L⁻¹` (lower triangular, row-major
/// `d x d`) and `half_log_det[k]` is `Σ ln Lᵢᵢ`.
#[derive(Debug, Clone, PartialEq)]
struct Components {
    d: usize,
    weights: Vec<f64>,
    means: Vec<f64>,
    covariances: Vec<f64>,
    prec_chol: Vec<f64>,
    half_log_det: Vec<f64>,
}

/// Why a covariance could not be factored.
enum FactorError {
    NotPositiveDefinite(usize),
}

impl Components {
    /// Factors every covariance (`k` blocks of `d x d`, row-major).
    fn new(
        d: usize,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: Vec<f64>,
    ) -> std::result::Result<Self, FactorError> {
        let k = weights.len();
        let mut prec_chol = vec![0f64; k * d * d];
        let mut half_log_det = vec![0f64; k];
        for c in 0..k {
            let cov = &covariances[c * d * d..(c + 1) * d * d];
            let m = Mat::<f64>::from_fn(d, d, |i, j| cov[i * d + j]);
            let llt = m
                .llt(Side::Lower)
                .map_err(|_| FactorError::NotPositiveDefinite(c))?;
            let l = llt.L();
            let mut hld = 0f64;
            for i in 0..d {
                let v = l[(i, i)];
                if !(v.is_finite() && v > 0.0) {
                    return Err(FactorError::NotPositiveDefinite(c));
                }
                hld += v.ln();
            }
            let mut inv = Mat::<f64>::identity(d, d);
            faer::linalg::triangular_solve::solve_lower_triangular_in_place(
                l,
                inv.as_mut(),
                Par::Seq,
            );
            let out = &mut prec_chol[c * d * d..(c + 1) * d * d];
            for i in 0..d {
                for j in 0..=i {
                    out[i * d + j] = inv[(i, j)];
                }
            }
            if out.iter().any(|v| !v.is_finite()) {
                return Err(FactorError::NotPositiveDefinite(c));
            }
            half_log_det[c] = hld;
        }
        Ok(Self {
            d,
            weights,
            means,
            covariances,
            prec_chol,
            half_log_det,
        })
    }

    fn k(&self) -> usize {
        self.weights.len()
    }

    /// Log responsibilities (`n x k`, row-major) and each row's
    /// log-likelihood `ln Σₖ wₖ N(x | μₖ, Σₖ)`.
    fn log_resp(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (d, k) = (self.d, self.k());
        let n = x.len().checked_div(d).unwrap_or(0);
        let log_2pi = (2.0 * std::f64::consts::PI).ln();
        let log_w: Vec<f64> = self.weights.iter().map(|w| w.ln()).collect();
        let mut resp = vec![0f64; n * k];
        let mut ll = vec![0f64; n];
        resp.par_chunks_mut(k)
            .zip(ll.par_iter_mut())
            .zip(x.par_chunks(d))
            .for_each(|((r, l), row)| {
                for c in 0..k {
                    let mu = &self.means[c * d..(c + 1) * d];
                    let p = &self.prec_chol[c * d * d..(c + 1) * d * d];
                    let mut maha = 0f64;
                    for i in 0..d {
                        let mut s = 0f64;
                        for j in 0..=i {
                            s += p[i * d + j] * (row[j] - mu[j]);
                        }
                        maha += s * s;
                    }
                    r[c] = log_w[c] - 0.5 * (d as f64 * log_2pi + maha) - self.half_log_det[c];
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
    Components::new(d, weights, means, covs).map_err(|FactorError::NotPositiveDefinite(c)| {
        MlError::Numerical(format!(
            "gaussian mixture: the covariance of component {c} is not positive definite \
             (reg_covar = {reg_covar}); increase reg_covar or use fewer components"
        ))
    })
}

/// k-means++-style seeding followed by one hard assignment: one-hot
/// responsibilities (`n x k`).
fn init_resp(x: &[f64], d: usize, k: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    let n = x.len() / d;
    let uniform = |rng: &mut Xoshiro256PlusPlus, m: usize| {
        ((rng.next_u64() as u128 * m as u128) >> 64) as usize
    };
    let dist2 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum();
    let mut centres = vec![uniform(rng, n)];
    let mut nearest: Vec<f64> = x
        .chunks_exact(d)
        .map(|row| dist2(row, &x[centres[0] * d..(centres[0] + 1) * d]))
        .collect();
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
        let centre = &x[next * d..(next + 1) * d];
        for (m, row) in nearest.iter_mut().zip(x.chunks_exact(d)) {
            *m = m.min(dist2(row, centre));
        }
    }
    let mut resp = vec![0f64; n * k];
    for (r, row) in resp.chunks_exact_mut(k).zip(x.chunks_exact(d)) {
        let mut best = (0, f64::INFINITY);
        for (c, &i) in centres.iter().enumerate() {
            let dd: f64 = dist2(row, &x[i * d..(i + 1) * d]);
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
    x: &[f64],
    d: usize,
    resp: Vec<f64>,
    p: &GaussianMixtureParams,
) -> Result<(Components, f64, usize, bool)> {
    let k = p.n_components;
    let n = x.len() / d;
    let mut comps = m_step(x, d, &resp, k, p.reg_covar)?;
    let mut lower_bound = f64::NEG_INFINITY;
    for iter in 1..=p.max_iter {
        let prev = lower_bound;
        let (mut log_resp, ll) = comps.log_resp(x);
        lower_bound = ll.iter().sum::<f64>() / n as f64;
        if !lower_bound.is_finite() {
            return Err(MlError::Numerical(
                "gaussian mixture: the log-likelihood is not finite".into(),
            ));
        }
        log_resp.iter_mut().for_each(|v| *v = v.exp());
        comps = m_step(x, d, &log_resp, k, p.reg_covar)?;
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
        let p = &self.0;
        let (n, d, k) = (x.rows(), x.cols(), p.n_components);
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
        x.check_finite()?;
        let xf: Vec<f64> = x.data().iter().map(|&v| f64::from(v)).collect();
        let mut best: Option<(Components, f64, usize, bool)> = None;
        for init in 0..p.n_init {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed ^ splitmix64(init as u64));
            let resp = init_resp(&xf, d, k, &mut rng);
            let run = em_run(&xf, d, resp, p)?;
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
        GaussianMixtureModel::build(
            d,
            to32(&comps.weights),
            to32(&comps.means),
            to32(&comps.covariances),
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
        let comps = Components::new(d, to64(&weights), to64(&means), to64(&covariances)).map_err(
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

    fn two_clusters() -> Matrix {
        let mut v = Vec::new();
        for i in 0..50 {
            let t = (i as f32 / 49.0 - 0.5) * 0.6;
            v.push(-5.0 + t);
            v.push(5.0 + t);
        }
        Matrix::new(100, 1, v).unwrap()
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
