//! [`LogisticRegression`]: binary L2-regularised logistic regression,
//! scikit-learn's `LogisticRegression(penalty="l2")`.
//!
//! It minimises `Σ log(1 + exp(-s_i (x_i . w + b))) + 1/(2C) ||w||²`
//! (`s_i = ±1`), the intercept `b` unpenalised, and stops once the largest
//! gradient entry of that objective is at most `tol`. scikit-learn's lbfgs
//! applies its `tol` to the objective divided by `n`, but in practice runs
//! on well past it (its results sit within 1e-6 of the exact optimum where
//! that test alone leaves errors near 1e-2 on correlated features), so the
//! undivided sum is the closer match.
//!
//! The solver depends on the width. Up to [`NEWTON_MAX_FEATURES`] features
//! (a stacking meta-model has a handful) it is Newton's method: the
//! `(d+1) x (d+1)` Hessian `Xᵀ D X + I/C` is formed and Cholesky-factored
//! by faer, and a backtracking line search guards each step. Once the
//! gradient is within `tol` it takes one more step, which squares the
//! error. Wider data uses L-BFGS
//! (10 correction pairs, Armijo backtracking), whose steps cost two passes
//! over the data instead of a `d²` Hessian.
//!
//! Sums over rows run in fixed chunks of rows combined in order, so results
//! do not depend on the number of threads.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::{Accum, Mat, Par, Side};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::coordinate_descent::dot;
use super::rows::{Rows, check_sparse_classes};
use super::{LinearFunction, check_at_least_one, check_not_empty, check_positive};
use crate::persist::Persist;
use crate::{CsrMatrix, Dataset, Fit, Matrix, MatrixView, MlError, Predict, Prediction, Result};

/// Widest data (in features) fitted by Newton's method; wider uses L-BFGS.
pub const NEWTON_MAX_FEATURES: usize = 128;

/// Which solver [`LogisticRegression`] fits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LogisticSolver {
    /// Newton up to [`NEWTON_MAX_FEATURES`] features, L-BFGS above.
    #[default]
    Auto,
    /// Newton's method with a Cholesky-factored Hessian.
    Newton,
    /// L-BFGS.
    Lbfgs,
}

/// Rows per chunk of the parallel sums.
const CHUNK_ROWS: usize = 1024;

/// Unchecked logistic regression hyperparameters; see
/// [`LogisticRegression::params`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LogisticRegressionParams {
    /// Inverse L2 penalty strength; finite, above 0.
    #[serde(rename = "C", alias = "c")]
    pub c: f64,
    /// Tolerance on the largest per-sample gradient entry; above 0.
    pub tol: f64,
    /// Maximum number of solver iterations; at least 1.
    pub max_iter: usize,
    /// Whether to fit an (unpenalised) intercept.
    pub fit_intercept: bool,
    /// The solver.
    pub solver: LogisticSolver,
}

impl Default for LogisticRegressionParams {
    fn default() -> Self {
        Self {
            c: 1.0,
            tol: 1e-4,
            max_iter: 100,
            fit_intercept: true,
            solver: LogisticSolver::Auto,
        }
    }
}

impl LogisticRegressionParams {
    /// Inverse L2 penalty strength (finite, > 0).
    pub fn c(mut self, v: f64) -> Self {
        self.c = v;
        self
    }
    /// Gradient tolerance (> 0).
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Maximum number of solver iterations (>= 1).
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Whether to fit an intercept.
    pub fn fit_intercept(mut self, v: bool) -> Self {
        self.fit_intercept = v;
        self
    }
    /// The solver.
    pub fn solver(mut self, v: LogisticSolver) -> Self {
        self.solver = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<LogisticRegressionValidParams> {
        check_positive("C", self.c)?;
        check_positive("tol", self.tol)?;
        check_at_least_one("max_iter", self.max_iter)?;
        Ok(LogisticRegressionValidParams(self))
    }
}

/// Validated logistic regression hyperparameters; fits through [`crate::Fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegressionValidParams(LogisticRegressionParams);

/// A fitted binary logistic regression: `P(class 1) = σ(x . coef + intercept)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression(LinearFunction);

impl LogisticRegression {
    /// Default (unchecked) parameters, scikit-learn's: C 1.0, tol 1e-4,
    /// max_iter 100, intercept fitted, solver chosen by width.
    pub fn params() -> LogisticRegressionParams {
        LogisticRegressionParams::default()
    }

    /// `P(class 1)` for every row of `x`.
    pub fn predict_positive(&self, x: MatrixView<'_>) -> Result<Vec<f64>> {
        Ok(self.0.decision(x)?.into_iter().map(sigmoid).collect())
    }

    /// `P(class 1)` for every sparse row of `x`.
    pub fn predict_positive_sparse(&self, x: &CsrMatrix) -> Result<Vec<f64>> {
        Ok(self.0.decision_rows(x)?.into_iter().map(sigmoid).collect())
    }

    /// The log-odds of class 1, `x . coef + intercept`, for every row of `x`
    /// (scikit-learn's `decision_function`).
    pub fn decision_function(&self, x: MatrixView<'_>) -> Result<Vec<f64>> {
        self.0.decision(x)
    }

    /// [`Self::decision_function`] on sparse rows.
    pub fn decision_function_sparse(&self, x: &CsrMatrix) -> Result<Vec<f64>> {
        self.0.decision_rows(x)
    }

    /// [`Predict::predict`] on sparse rows: class probabilities, column 0 `P(class 0)`,
    /// column 1 `P(class 1)`.
    pub fn predict_sparse(&self, x: &CsrMatrix) -> Result<Prediction> {
        proba_two_classes(&self.predict_positive_sparse(x)?)
    }
}

/// The `n x 2` probabilities `[1 - p, p]` of `P(class 1)` values `p1`.
fn proba_two_classes(p1: &[f64]) -> Result<Prediction> {
    let mut out = Vec::with_capacity(p1.len() * 2);
    for p in p1 {
        out.push((1.0 - p) as f32);
        out.push(*p as f32);
    }
    Ok(Prediction::Proba(Matrix::new(p1.len(), 2, out)?))
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(z))` without overflow.
fn log1p_exp(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// The objective over the data: records `x` (dense or sparse rows), 0/1 targets `y`.
struct Problem<'a, R: Rows> {
    x: &'a R,
    y: Vec<f64>,
    /// `1 / C`.
    lambda: f64,
    fit_intercept: bool,
}

impl<R: Rows> Problem<'_, R> {
    /// Number of parameters: the coefficients, then the intercept if fitted.
    fn dim(&self) -> usize {
        self.x.n_cols() + usize::from(self.fit_intercept)
    }

    /// Margins `x_i . w + b` of rows `start..start + len`.
    fn margins(&self, theta: &[f64], start: usize, len: usize) -> Vec<f64> {
        let d = self.x.n_cols();
        let b = if self.fit_intercept { theta[d] } else { 0.0 };
        (start..start + len)
            .map(|i| self.x.dot(i, &theta[..d]) + b)
            .collect()
    }

    fn chunks(&self) -> Vec<(usize, usize)> {
        let n = self.x.n_rows();
        (0..n)
            .step_by(CHUNK_ROWS)
            .map(|s| (s, CHUNK_ROWS.min(n - s)))
            .collect()
    }

    /// The objective and its gradient at `theta`.
    fn value_grad(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let d = self.x.n_cols();
        let dim = self.dim();
        let parts: Vec<(f64, Vec<f64>)> = self
            .chunks()
            .into_par_iter()
            .map(|(start, len)| {
                let z = self.margins(theta, start, len);
                let mut loss = 0.0;
                let mut g = vec![0f64; dim];
                for (k, &zi) in z.iter().enumerate() {
                    let i = start + k;
                    let yi = self.y[i];
                    loss += log1p_exp(zi) - yi * zi;
                    let r = sigmoid(zi) - yi;
                    self.x.axpy(i, r, &mut g[..d]);
                    if self.fit_intercept {
                        g[d] += r;
                    }
                }
                (loss, g)
            })
            .collect();
        let mut value = 0.5 * self.lambda * dot(&theta[..d], &theta[..d]);
        let mut grad: Vec<f64> = theta[..d].iter().map(|w| self.lambda * w).collect();
        grad.resize(dim, 0.0);
        for (loss, g) in parts {
            value += loss;
            for (a, b) in grad.iter_mut().zip(g) {
                *a += b;
            }
        }
        (value, grad)
    }

    /// The Hessian `Xᵀ D X + λ I` (intercept unpenalised) at `theta`.
    fn hessian(&self, theta: &[f64]) -> Mat<f64> {
        let d = self.x.n_cols();
        let dim = self.dim();
        let parts: Vec<Mat<f64>> = self
            .chunks()
            .into_par_iter()
            .map(|(start, len)| {
                let z = self.margins(theta, start, len);
                let mut a = Mat::<f64>::zeros(len, dim);
                let mut row = vec![0f64; d];
                for (k, &zi) in z.iter().enumerate() {
                    let p = sigmoid(zi);
                    let s = (p * (1.0 - p)).sqrt();
                    row.fill(0.0);
                    self.x.axpy(start + k, s, &mut row);
                    for (j, &v) in row.iter().enumerate() {
                        a[(k, j)] = v;
                    }
                    if self.fit_intercept {
                        a[(k, d)] = s;
                    }
                }
                let mut h = Mat::<f64>::zeros(dim, dim);
                matmul(
                    h.as_mut(),
                    Accum::Replace,
                    a.transpose(),
                    a.as_ref(),
                    1.0,
                    Par::Seq,
                );
                h
            })
            .collect();
        let mut h = Mat::<f64>::zeros(dim, dim);
        for part in parts {
            h += &part;
        }
        for j in 0..d {
            h[(j, j)] += self.lambda;
        }
        h
    }

    /// Whether the gradient is within `tol`.
    fn converged(&self, grad: &[f64], tol: f64) -> bool {
        grad.iter().all(|g| g.abs() <= tol)
    }
}

/// Backtracking (Armijo) along `dir` from `theta`; returns the new point,
/// value and gradient, or `None` when no step decreases the objective.
fn line_search<R: Rows>(
    prob: &Problem<'_, R>,
    theta: &[f64],
    value: f64,
    grad: &[f64],
    dir: &[f64],
    mut step: f64,
) -> Option<(Vec<f64>, f64, Vec<f64>)> {
    let slope = dot(grad, dir);
    if slope.is_nan() || slope >= 0.0 {
        return None;
    }
    for _ in 0..60 {
        let next: Vec<f64> = theta.iter().zip(dir).map(|(t, d)| t + step * d).collect();
        let (v, g) = prob.value_grad(&next);
        if v.is_finite() && v <= value + 1e-4 * step * slope {
            return Some((next, v, g));
        }
        step *= 0.5;
    }
    None
}

/// Newton's method with a Cholesky-factored Hessian.
fn newton<R: Rows>(prob: &Problem<'_, R>, tol: f64, max_iter: usize) -> Result<(Vec<f64>, usize)> {
    let mut theta = vec![0f64; prob.dim()];
    let (mut value, mut grad) = prob.value_grad(&theta);
    let mut polished = false;
    for iter in 0..max_iter {
        if polished {
            return Ok((theta, iter));
        }
        // Within tolerance: one more (quadratically convergent) step.
        polished = prob.converged(&grad, tol);
        let mut h = prob.hessian(&theta);
        let dim = prob.dim();
        // A flat direction (the intercept when every probability is 0 or 1)
        // makes the Hessian singular: add a little to the diagonal until
        // Cholesky goes through.
        let mut jitter = 0.0;
        let llt = loop {
            match h.llt(Side::Lower) {
                Ok(llt) => break llt,
                Err(_) => {
                    let next = if jitter == 0.0 { 1e-10 } else { jitter * 100.0 };
                    if next > 1e6 {
                        return Err(MlError::Numerical(
                            "logistic regression: the Hessian is not positive definite".into(),
                        ));
                    }
                    for j in 0..dim {
                        h[(j, j)] += next - jitter;
                    }
                    jitter = next;
                }
            }
        };
        let mut dir = Mat::<f64>::from_fn(dim, 1, |j, _| -grad[j]);
        llt.solve_in_place(dir.as_mut());
        let dir: Vec<f64> = (0..dim).map(|j| dir[(j, 0)]).collect();
        match line_search(prob, &theta, value, &grad, &dir, 1.0) {
            Some((t, v, g)) => (theta, value, grad) = (t, v, g),
            None => return Ok((theta, iter + 1)),
        }
    }
    Ok((theta, max_iter))
}

/// L-BFGS with 10 correction pairs.
fn lbfgs<R: Rows>(prob: &Problem<'_, R>, tol: f64, max_iter: usize) -> (Vec<f64>, usize) {
    const MEMORY: usize = 10;
    let dim = prob.dim();
    let mut theta = vec![0f64; dim];
    let (mut value, mut grad) = prob.value_grad(&theta);
    let mut pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::with_capacity(MEMORY);
    for iter in 0..max_iter {
        if prob.converged(&grad, tol) {
            return (theta, iter);
        }
        // Two-loop recursion: dir = -H grad.
        let mut q = grad.clone();
        let mut alphas = Vec::with_capacity(pairs.len());
        for (s, y, rho) in pairs.iter().rev() {
            let a = rho * dot(s, &q);
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi -= a * yi;
            }
            alphas.push(a);
        }
        let gamma = match pairs.back() {
            Some((s, y, _)) => dot(s, y) / dot(y, y),
            None => 1.0 / dot(&grad, &grad).sqrt().max(1.0),
        };
        for qi in &mut q {
            *qi *= gamma;
        }
        for ((s, y, rho), a) in pairs.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (a - b) * si;
            }
        }
        let dir: Vec<f64> = q.iter().map(|v| -v).collect();
        let Some((next, v, g)) = line_search(prob, &theta, value, &grad, &dir, 1.0) else {
            return (theta, iter + 1);
        };
        let s: Vec<f64> = next.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g.iter().zip(&grad).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
            if pairs.len() == MEMORY {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / sy));
        }
        (theta, value, grad) = (next, v, g);
    }
    (theta, max_iter)
}

impl Fit for LogisticRegressionValidParams {
    type Model = LogisticRegression;

    fn fit(&self, data: &Dataset) -> Result<LogisticRegression> {
        let kind = LogisticRegression::KIND;
        check_not_empty(data, kind)?;
        let (labels, n_classes) = data.require_classes(kind)?;
        self.fit_rows(&data.view(), labels, n_classes)
    }
}

impl LogisticRegressionValidParams {
    /// Fits on sparse records `x` with class labels `y` (one per row, each below
    /// `n_classes`): the same objective and solver choice as [`Fit::fit`] on the dense rows,
    /// without densifying. Auto picks Newton only up to [`NEWTON_MAX_FEATURES`] columns, so a
    /// bag-of-words vocabulary runs L-BFGS, whose steps cost two passes over the stored
    /// entries.
    pub fn fit_sparse(
        &self,
        x: &CsrMatrix,
        y: &[u32],
        n_classes: usize,
    ) -> Result<LogisticRegression> {
        check_sparse_classes(x, y, n_classes, LogisticRegression::KIND)?;
        self.fit_rows(x, y, n_classes)
    }

    /// The fit on checked, non-empty rows with one label per row.
    fn fit_rows<R: Rows>(
        &self,
        x: &R,
        labels: &[u32],
        n_classes: usize,
    ) -> Result<LogisticRegression> {
        let kind = LogisticRegression::KIND;
        if n_classes != 2 {
            return Err(MlError::TargetMismatch {
                model: kind,
                expected: "binary (2-class)",
                got: if n_classes > 2 {
                    "multi-class"
                } else {
                    "one-class"
                },
            });
        }
        let p = &self.0;
        let prob = Problem {
            x,
            y: labels.iter().map(|&l| f64::from(l)).collect(),
            lambda: 1.0 / p.c,
            fit_intercept: p.fit_intercept,
        };
        let use_newton = match p.solver {
            LogisticSolver::Auto => x.n_cols() <= NEWTON_MAX_FEATURES,
            LogisticSolver::Newton => true,
            LogisticSolver::Lbfgs => false,
        };
        let (theta, n_iter) = if use_newton {
            newton(&prob, p.tol, p.max_iter)?
        } else {
            lbfgs(&prob, p.tol, p.max_iter)
        };
        let d = x.n_cols();
        let intercept = if p.fit_intercept { theta[d] } else { 0.0 };
        Ok(LogisticRegression(LinearFunction::new(
            &theta[..d],
            intercept,
            n_iter,
        )?))
    }
}

impl Predict for LogisticRegression {
    fn n_features(&self) -> usize {
        self.0.coef.len()
    }

    /// Class probabilities: column 0 is `P(class 0)`, column 1 `P(class 1)`.
    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        proba_two_classes(&self.predict_positive(x)?)
    }
}

linear_function_model!(
    LogisticRegression,
    "logistic-regression",
    "Solver iterations the fit took."
);
