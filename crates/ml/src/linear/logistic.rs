//! [`LogisticRegression`]: L2-regularised logistic regression, scikit-learn's
//! `LogisticRegression(penalty="l2")`: binary for two classes, multinomial (softmax, as
//! scikit-learn's default since 1.5) for more.
//!
//! For two classes it minimises `Σ log(1 + exp(-s_i (x_i . w + b))) + 1/(2C) ||w||²`
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
//! For `K > 2` classes it minimises `Σ -log softmax(W x_i + b)_{y_i} + 1/(2C) ||W||²` over
//! the `K x d` coefficients `W` and `K` unpenalised intercepts `b` (scikit-learn's full,
//! not reduced, parametrisation) by the same L-BFGS, stopping on the same gradient test.
//! The intercepts are only defined up to a common shift; started from zero, every gradient
//! of theirs sums to zero over the classes, so they end up summing to zero, as
//! scikit-learn's do.
//!
//! Every objective is written once over [`Rows`], so dense records and compressed sparse
//! rows ([`CsrMatrix`]) fit through the same code.
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
use crate::persist::{ModelTensors, Persist};
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

/// A fitted logistic regression: for two classes `P(class 1) = σ(x . coef + intercept)`,
/// for more `P(class k) = softmax(coef x + intercept)_k`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegression {
    /// Number of classes (at least 2).
    n_classes: usize,
    /// Number of features.
    d: usize,
    /// `m x d` row-major, `m` = 1 for two classes, else `n_classes`.
    coef: Vec<f32>,
    /// One intercept per function.
    intercept: Vec<f32>,
    /// Solver iterations the fit took.
    n_iter: usize,
}

impl LogisticRegression {
    /// Default (unchecked) parameters, scikit-learn's: C 1.0, tol 1e-4,
    /// max_iter 100, intercept fitted, solver chosen by width.
    pub fn params() -> LogisticRegressionParams {
        LogisticRegressionParams::default()
    }

    /// A model from its `f64` solution: `m x d` coefficients and `m` intercepts.
    fn from_solution(
        n_classes: usize,
        d: usize,
        coef: &[f64],
        intercept: &[f64],
        n_iter: usize,
    ) -> Result<Self> {
        if coef.iter().chain(intercept).any(|v| !v.is_finite()) {
            return Err(MlError::Numerical(
                "the solver produced non-finite coefficients".into(),
            ));
        }
        Ok(Self {
            n_classes,
            d,
            coef: coef.iter().map(|&v| v as f32).collect(),
            intercept: intercept.iter().map(|&v| v as f32).collect(),
            n_iter,
        })
    }

    /// Number of classes the model tells apart.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The coefficients: for two classes one per feature; for more, `n_classes x n_features`
    /// row-major (one row per class).
    pub fn coef(&self) -> &[f32] {
        &self.coef
    }

    /// The intercept of a two-class model (for more classes, class 0's; see
    /// [`Self::intercepts`]).
    pub fn intercept(&self) -> f32 {
        self.intercept[0]
    }

    /// The intercepts: one for two classes, else one per class.
    pub fn intercepts(&self) -> &[f32] {
        &self.intercept
    }

    /// Solver iterations the fit took.
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// `P(class 1)` for every row of `x`.
    pub fn predict_positive(&self, x: MatrixView<'_>) -> Result<Vec<f64>> {
        self.positive_rows(&x)
    }

    /// `P(class 1)` for every sparse row of `x`.
    pub fn predict_positive_sparse(&self, x: &CsrMatrix) -> Result<Vec<f64>> {
        self.positive_rows(x)
    }

    /// scikit-learn's `decision_function`: for two classes the log-odds of class 1,
    /// `x . coef + intercept`, one per row; for more, the `n_classes` logits of each row
    /// (row-major).
    pub fn decision_function(&self, x: MatrixView<'_>) -> Result<Vec<f64>> {
        self.decision_rows(&x)
    }

    /// [`Self::decision_function`] on sparse rows.
    pub fn decision_function_sparse(&self, x: &CsrMatrix) -> Result<Vec<f64>> {
        self.decision_rows(x)
    }

    /// [`Predict::predict`] on sparse rows: class probabilities, one column per class.
    pub fn predict_sparse(&self, x: &CsrMatrix) -> Result<Prediction> {
        self.proba_rows(x)
    }

    fn decision_rows<R: Rows>(&self, x: &R) -> Result<Vec<f64>> {
        x.check_predict(self.d)?;
        let mut out = Vec::with_capacity(x.n_rows() * self.intercept.len());
        for i in 0..x.n_rows() {
            for (k, &b) in self.intercept.iter().enumerate() {
                out.push(x.dot_f32(i, &self.coef[k * self.d..(k + 1) * self.d]) + f64::from(b));
            }
        }
        Ok(out)
    }

    /// `P(class 1)` of every row.
    fn positive_rows<R: Rows>(&self, x: &R) -> Result<Vec<f64>> {
        let z = self.decision_rows(x)?;
        if self.intercept.len() == 1 {
            return Ok(z.into_iter().map(sigmoid).collect());
        }
        Ok(z.chunks_exact(self.n_classes)
            .map(|logits| softmax(logits)[1])
            .collect())
    }

    /// The `n x n_classes` class probabilities.
    fn proba_rows<R: Rows>(&self, x: &R) -> Result<Prediction> {
        let z = self.decision_rows(x)?;
        let n = x.n_rows();
        let mut out = Vec::with_capacity(n * self.n_classes);
        if self.intercept.len() == 1 {
            for p in z.into_iter().map(sigmoid) {
                out.push((1.0 - p) as f32);
                out.push(p as f32);
            }
        } else {
            for logits in z.chunks_exact(self.n_classes) {
                out.extend(softmax(logits).into_iter().map(|p| p as f32));
            }
        }
        Ok(Prediction::Proba(Matrix::new(n, self.n_classes, out)?))
    }
}

/// `softmax(z)`, computed from `z - max z`.
fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let e: Vec<f64> = z.iter().map(|&v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
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

/// A smooth objective for L-BFGS: its dimension, and its value and gradient at a point.
trait Objective: Sync {
    fn dim(&self) -> usize;
    fn value_grad(&self, theta: &[f64]) -> (f64, Vec<f64>);
}

/// `(start, len)` of the fixed chunks of `n` rows that the parallel sums run over.
fn row_chunks(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .step_by(CHUNK_ROWS)
        .map(|s| (s, CHUNK_ROWS.min(n - s)))
        .collect()
}

/// Whether every gradient entry is within `tol`.
fn converged(grad: &[f64], tol: f64) -> bool {
    grad.iter().all(|g| g.abs() <= tol)
}

/// The multinomial objective over records `x` (dense or sparse rows) and labels `y` below
/// `k`: parameters `W` (`k x d` row-major), then `b` (`k`) if fitted.
struct Softmax<'a, R: Rows> {
    x: &'a R,
    y: &'a [u32],
    k: usize,
    /// `1 / C`.
    lambda: f64,
    fit_intercept: bool,
}

impl<R: Rows> Objective for Softmax<'_, R> {
    fn dim(&self) -> usize {
        self.k * (self.x.n_cols() + usize::from(self.fit_intercept))
    }

    fn value_grad(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let (d, k, dim) = (self.x.n_cols(), self.k, self.dim());
        let (w, b) = theta.split_at(k * d);
        let parts: Vec<(f64, Vec<f64>)> = row_chunks(self.x.n_rows())
            .into_par_iter()
            .map(|(start, len)| {
                let mut loss = 0.0;
                let mut g = vec![0f64; dim];
                let mut z = vec![0f64; k];
                for i in start..start + len {
                    for (c, zc) in z.iter_mut().enumerate() {
                        *zc = self.x.dot(i, &w[c * d..(c + 1) * d]) + b.get(c).unwrap_or(&0.0);
                    }
                    let m = z.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v));
                    let lse = m + z.iter().map(|&v| (v - m).exp()).sum::<f64>().ln();
                    let yi = self.y[i] as usize;
                    loss += lse - z[yi];
                    for (c, &zc) in z.iter().enumerate() {
                        let r = (zc - lse).exp() - f64::from(u8::from(c == yi));
                        self.x.axpy(i, r, &mut g[c * d..(c + 1) * d]);
                        if self.fit_intercept {
                            g[k * d + c] += r;
                        }
                    }
                }
                (loss, g)
            })
            .collect();
        let mut value = 0.5 * self.lambda * dot(w, w);
        let mut grad: Vec<f64> = w.iter().map(|v| self.lambda * v).collect();
        grad.resize(dim, 0.0);
        for (loss, g) in parts {
            value += loss;
            for (a, b) in grad.iter_mut().zip(g) {
                *a += b;
            }
        }
        (value, grad)
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

impl<R: Rows> Objective for Problem<'_, R> {
    /// Number of parameters: the coefficients, then the intercept if fitted.
    fn dim(&self) -> usize {
        self.x.n_cols() + usize::from(self.fit_intercept)
    }

    /// The objective and its gradient at `theta`.
    fn value_grad(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        self.binary_value_grad(theta)
    }
}

impl<R: Rows> Problem<'_, R> {
    /// Margins `x_i . w + b` of rows `start..start + len`.
    fn margins(&self, theta: &[f64], start: usize, len: usize) -> Vec<f64> {
        let d = self.x.n_cols();
        let b = if self.fit_intercept { theta[d] } else { 0.0 };
        (start..start + len)
            .map(|i| self.x.dot(i, &theta[..d]) + b)
            .collect()
    }

    fn chunks(&self) -> Vec<(usize, usize)> {
        row_chunks(self.x.n_rows())
    }

    /// The objective and its gradient at `theta`.
    fn binary_value_grad(&self, theta: &[f64]) -> (f64, Vec<f64>) {
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
}

/// Backtracking (Armijo) along `dir` from `theta`; returns the new point,
/// value and gradient, or `None` when no step decreases the objective.
fn line_search<O: Objective>(
    prob: &O,
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
        polished = converged(&grad, tol);
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
fn lbfgs<O: Objective>(prob: &O, tol: f64, max_iter: usize) -> (Vec<f64>, usize) {
    const MEMORY: usize = 10;
    let dim = prob.dim();
    let mut theta = vec![0f64; dim];
    let (mut value, mut grad) = prob.value_grad(&theta);
    let mut pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::with_capacity(MEMORY);
    for iter in 0..max_iter {
        if converged(&grad, tol) {
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
    /// without densifying. Auto picks Newton only for two classes and up to
    /// [`NEWTON_MAX_FEATURES`] columns, so a bag-of-words vocabulary runs L-BFGS, whose steps cost two passes over the stored
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
        if n_classes < 2 {
            return Err(MlError::TargetMismatch {
                model: kind,
                expected: "at least 2-class",
                got: "one-class",
            });
        }
        let p = &self.0;
        let d = x.n_cols();
        if n_classes > 2 {
            if p.solver == LogisticSolver::Newton {
                return Err(MlError::InvalidParameter {
                    name: "solver",
                    reason: format!(
                        "newton fits two classes only; {n_classes} classes need lbfgs (or auto)"
                    ),
                });
            }
            let prob = Softmax {
                x,
                y: labels,
                k: n_classes,
                lambda: 1.0 / p.c,
                fit_intercept: p.fit_intercept,
            };
            let (theta, n_iter) = lbfgs(&prob, p.tol, p.max_iter);
            let (w, b) = theta.split_at(n_classes * d);
            let zeros = vec![0f64; n_classes];
            let b = if p.fit_intercept { b } else { &zeros };
            return LogisticRegression::from_solution(n_classes, d, w, b, n_iter);
        }
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
        let intercept = if p.fit_intercept { theta[d] } else { 0.0 };
        LogisticRegression::from_solution(2, d, &theta[..d], &[intercept], n_iter)
    }
}

impl Predict for LogisticRegression {
    fn n_features(&self) -> usize {
        self.d
    }

    /// Class probabilities, one column per class (for two classes column 0 is
    /// `P(class 0)`, column 1 `P(class 1)`).
    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        self.proba_rows(&x)
    }

    fn predict_sparse(&self, x: &CsrMatrix) -> Result<Prediction> {
        LogisticRegression::predict_sparse(self, x)
    }
}

/// A two-class model is stored as before multinomial fits existed: `coef` (`[d]`),
/// `intercept` (`[1]`), meta `n_iter`; a `K`-class one as `coef` (`[K, d]`) and `intercept`
/// (`[K]`), meta `n_iter`.
impl Persist for LogisticRegression {
    const KIND: &'static str = "logistic-regression";

    fn to_tensors(&self) -> ModelTensors {
        let n_iter = self.n_iter;
        if self.intercept.len() == 1 {
            let f = LinearFunction {
                coef: self.coef.clone(),
                intercept: self.intercept[0],
                n_iter,
            };
            return f.to_tensors(Self::KIND);
        }
        let mut t = ModelTensors::new(Self::KIND);
        let k = self.n_classes;
        t.insert_checked("coef", vec![k, self.d], self.coef.clone());
        t.insert_checked("intercept", vec![k], self.intercept.clone());
        t.set_meta("n_iter", n_iter.to_string());
        t
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        let (shape, coef) = t.f32_tensor("coef")?;
        let (k, d) = match *shape {
            [_] => {
                let f = LinearFunction::from_tensors(t, Self::KIND)?;
                return Ok(Self {
                    n_classes: 2,
                    d: f.coef.len(),
                    coef: f.coef,
                    intercept: vec![f.intercept],
                    n_iter: f.n_iter,
                });
            }
            [k, d] if k > 2 => (k, d),
            _ => {
                return Err(MlError::CorruptModel(format!(
                    "`coef` has shape {shape:?}, expected [d] or [K > 2, d]"
                )));
            }
        };
        let intercept = t.f32_shaped("intercept", &[k])?;
        if coef.iter().chain(intercept).any(|v| !v.is_finite()) {
            return Err(MlError::CorruptModel(
                "non-finite coefficient or intercept".into(),
            ));
        }
        let n_iter = t
            .meta_str("n_iter")?
            .parse()
            .map_err(|e| MlError::CorruptModel(format!("metadata `n_iter`: {e}")))?;
        Ok(Self {
            n_classes: k,
            d,
            coef: coef.to_vec(),
            intercept: intercept.to_vec(),
            n_iter,
        })
    }
}
