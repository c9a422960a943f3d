//! [`LinearSvr`]: linear epsilon-insensitive support vector regression,
//! scikit-learn's `LinearSVR` (`loss="epsilon_insensitive"`), solved as
//! liblinear's `solve_l2r_l1l2_svr` does for the L1 loss.
//!
//! The primal is `1/2 ||w||² + C Σ max(0, |y_i - w . x_i| - epsilon)`.
//! Dual coordinate descent keeps one dual variable `β_i ∈ [-C, C]` per row
//! and `w = Σ β_i x_i`; each epoch visits the active rows in a fresh random
//! permutation, takes the one-variable Newton step clipped to the box, and
//! shrinks away rows whose variable sits at a bound with a gradient that
//! keeps it there (by the previous epoch's largest violation). It stops when
//! the sum of violations falls below `tol` times that of the first epoch,
//! after a last pass over all rows with shrinking undone, or after
//! `max_iter` epochs.
//!
//! The intercept is liblinear's: a constant feature `intercept_scaling`
//! appended to every row, its weight regularised like the others, and the
//! intercept is `intercept_scaling` times that weight.
//!
//! The permutation comes from a seeded xoshiro256++ (liblinear uses C's
//! `rand()`), so the path differs from scikit-learn's, not the optimum.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::coordinate_descent::{axpy, dot};
use super::{
    LinearFunction, check_at_least_one, check_non_negative, check_not_empty, check_positive,
};
use crate::persist::{ModelTensors, Persist};
use crate::{Dataset, Fit, MatrixView, Predict, Prediction, Result};

/// Unchecked linear SVR hyperparameters; see [`LinearSvr::params`] for the
/// defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LinearSvrParams {
    /// Weight of the loss against the L2 penalty; finite, above 0.
    #[serde(rename = "C", alias = "c")]
    pub c: f64,
    /// Half-width of the insensitive tube; finite, at least 0.
    pub epsilon: f64,
    /// Relative stopping tolerance on the summed dual violations; above 0.
    pub tol: f64,
    /// Maximum number of epochs; at least 1.
    pub max_iter: usize,
    /// Whether to fit an intercept (as a regularised constant feature).
    pub fit_intercept: bool,
    /// Value of that constant feature; finite, above 0.
    pub intercept_scaling: f64,
    /// Seed of the permutations.
    pub seed: u64,
}

impl Default for LinearSvrParams {
    fn default() -> Self {
        Self {
            c: 1.0,
            epsilon: 0.0,
            tol: 1e-6,
            max_iter: 1000,
            fit_intercept: true,
            intercept_scaling: 1.0,
            seed: 0,
        }
    }
}

impl LinearSvrParams {
    /// Weight of the loss (finite, > 0).
    pub fn c(mut self, v: f64) -> Self {
        self.c = v;
        self
    }
    /// Half-width of the insensitive tube (finite, >= 0).
    pub fn epsilon(mut self, v: f64) -> Self {
        self.epsilon = v;
        self
    }
    /// Relative stopping tolerance (> 0).
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Maximum number of epochs (>= 1).
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Whether to fit an intercept.
    pub fn fit_intercept(mut self, v: bool) -> Self {
        self.fit_intercept = v;
        self
    }
    /// Value of the constant intercept feature (finite, > 0).
    pub fn intercept_scaling(mut self, v: f64) -> Self {
        self.intercept_scaling = v;
        self
    }
    /// Seed of the permutations.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<LinearSvrValidParams> {
        check_positive("C", self.c)?;
        check_non_negative("epsilon", self.epsilon)?;
        check_positive("tol", self.tol)?;
        check_at_least_one("max_iter", self.max_iter)?;
        check_positive("intercept_scaling", self.intercept_scaling)?;
        Ok(LinearSvrValidParams(self))
    }
}

/// Validated linear SVR hyperparameters; fits through [`crate::Fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct LinearSvrValidParams(LinearSvrParams);

/// A fitted linear SVR: `y ≈ x . coef + intercept`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearSvr(LinearFunction);

impl LinearSvr {
    /// Default (unchecked) parameters: C 1.0, epsilon 0.0, tol 1e-6 (the
    /// stacking seed's setting; scikit-learn's default is 1e-4), max_iter
    /// 1000, intercept fitted with intercept_scaling 1, seed 0.
    pub fn params() -> LinearSvrParams {
        LinearSvrParams::default()
    }

    /// The coefficients, one per feature.
    pub fn coef(&self) -> &[f32] {
        &self.0.coef
    }

    /// The intercept.
    pub fn intercept(&self) -> f32 {
        self.0.intercept
    }

    /// Epochs the dual coordinate descent ran (`max_iter` if it did not
    /// reach the tolerance).
    pub fn n_iter(&self) -> usize {
        self.0.n_iter
    }
}

impl Fit for LinearSvrValidParams {
    type Model = LinearSvr;

    fn fit(&self, data: &Dataset) -> Result<LinearSvr> {
        let p = &self.0;
        check_not_empty(data, LinearSvr::KIND)?;
        let y = super::real_targets(data, LinearSvr::KIND)?;
        let x = data.view();
        let d = x.cols();
        let width = d + usize::from(p.fit_intercept);
        let mut rows = Vec::with_capacity(x.rows() * width);
        for row in x.data().chunks_exact(d) {
            rows.extend(row.iter().map(|&v| f64::from(v)));
            if p.fit_intercept {
                rows.push(p.intercept_scaling);
            }
        }
        let (w, n_iter) = solve(&rows, width, &y, p);
        let intercept = if p.fit_intercept {
            w[d] * p.intercept_scaling
        } else {
            0.0
        };
        Ok(LinearSvr(LinearFunction::new(&w[..d], intercept, n_iter)?))
    }
}

/// liblinear's `solve_l2r_l1l2_svr` for the L1 loss on `rows` (`n x width`,
/// row-major); returns `w` and the epochs run.
fn solve(rows: &[f64], width: usize, y: &[f64], p: &LinearSvrParams) -> (Vec<f64>, usize) {
    let n = y.len();
    let (c, eps) = (p.c, p.epsilon);
    let row = |i: usize| &rows[i * width..(i + 1) * width];
    let qd: Vec<f64> = (0..n).map(|i| dot(row(i), row(i))).collect();
    let mut beta = vec![0f64; n];
    let mut w = vec![0f64; width];
    let mut index: Vec<usize> = (0..n).collect();
    let mut active = n;
    let mut gmax_old = f64::INFINITY;
    let mut gnorm1_init = -1.0;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed);
    let mut iter = 0;
    while iter < p.max_iter {
        let mut gmax_new = 0f64;
        let mut gnorm1_new = 0f64;
        for i in 0..active {
            let j = i + (rng.next_u64() % (active - i) as u64) as usize;
            index.swap(i, j);
        }
        let mut s = 0;
        while s < active {
            let i = index[s];
            let g = dot(&w, row(i)) - y[i];
            let h = qd[i];
            let (gp, gn) = (g + eps, g - eps);
            let b = beta[i];
            let shrink = if b == 0.0 {
                gp >= 0.0 && gn <= 0.0 && gp > gmax_old && gn < -gmax_old
            } else if b >= c {
                gp <= 0.0 && gp < -gmax_old
            } else if b <= -c {
                gn >= 0.0 && gn > gmax_old
            } else {
                false
            };
            if shrink {
                active -= 1;
                index.swap(s, active);
                continue;
            }
            let violation = if b == 0.0 {
                if gp < 0.0 {
                    -gp
                } else if gn > 0.0 {
                    gn
                } else {
                    0.0
                }
            } else if b >= c {
                gp.max(0.0)
            } else if b <= -c {
                (-gn).max(0.0)
            } else if b > 0.0 {
                gp.abs()
            } else {
                gn.abs()
            };
            gmax_new = gmax_new.max(violation);
            gnorm1_new += violation;
            s += 1;
            // The Newton direction of the one-variable problem.
            let step = if gp < h * b {
                -gp / h
            } else if gn > h * b {
                -gn / h
            } else {
                -b
            };
            if step.abs() < 1e-12 {
                continue;
            }
            let new = (b + step).clamp(-c, c);
            beta[i] = new;
            let delta = new - b;
            if delta != 0.0 {
                axpy(delta, row(i), &mut w);
            }
        }
        if iter == 0 {
            gnorm1_init = gnorm1_new;
        }
        iter += 1;
        if gnorm1_new <= p.tol * gnorm1_init {
            if active == n {
                break;
            }
            active = n;
            gmax_old = f64::INFINITY;
            continue;
        }
        gmax_old = gmax_new;
    }
    (w, iter)
}

impl Predict for LinearSvr {
    fn n_features(&self) -> usize {
        self.0.coef.len()
    }

    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        let v = self.0.decision(x)?;
        Ok(Prediction::Real(v.into_iter().map(|p| p as f32).collect()))
    }
}

/// Stored as `coef` (`[d]`), `intercept` (`[1]`) and meta `n_iter`.
impl Persist for LinearSvr {
    const KIND: &'static str = "linear-svr";

    fn to_tensors(&self) -> ModelTensors {
        self.0.to_tensors(Self::KIND)
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        LinearFunction::from_tensors(t, Self::KIND).map(Self)
    }
}
