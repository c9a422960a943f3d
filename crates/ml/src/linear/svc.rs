//! [`LinearSvc`]: linear support vector classification, scikit-learn's
//! `LinearSVC` with its defaults (`penalty="l2"`, `loss="squared_hinge"`,
//! `dual=True`), solved as liblinear's `solve_l2r_l1l2_svc` does for the
//! L2 loss.
//!
//! The primal is `1/2 ||w||² + C Σ max(0, 1 - y_i w . x_i)²` with
//! `y_i = ±1`. Dual coordinate descent keeps one dual variable `α_i ≥ 0`
//! per row (the squared hinge puts `0.5 / C` on the diagonal of the dual
//! Hessian and lifts the upper bound to infinity) and `w = Σ α_i y_i x_i`;
//! each epoch visits the active rows in a fresh random permutation, takes
//! the one-variable Newton step clipped at zero, and shrinks away rows
//! whose variable sits at zero with a gradient above the previous epoch's
//! largest projected gradient. It stops when the spread of the projected
//! gradients (largest minus smallest) falls to `tol`, after a last pass
//! over all rows with shrinking undone, or after `max_iter` epochs.
//!
//! The intercept is liblinear's, as in [`super::LinearSvr`]: a constant
//! feature `intercept_scaling` appended to every row, its weight
//! regularised like the others.
//!
//! Classes: two classes fit one function, class 1 being the positive side
//! (as scikit-learn's `classes_[1]`). More classes fit one function per
//! class against the rest (scikit-learn's default `multi_class="ovr"`),
//! each with its own dual problem and the same seed, and predict the class
//! of the largest decision value.
//!
//! Prediction: an SVC has no probabilities. [`Predict::predict`] returns
//! [`Prediction::Proba`] holding a hard one-hot row (1 for the predicted
//! class, 0 elsewhere), so that [`Prediction::classes`] and accuracy work;
//! ranking metrics such as ROC-AUC need a score and must use
//! [`LinearSvc::decision_function`] instead, since a one-hot column only
//! ranks rows in two ties.
//!
//! The permutation comes from a seeded xoshiro256++ (liblinear uses C's
//! `rand()`), so the path differs from scikit-learn's, not the optimum.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::rows::{Rows, check_sparse_classes};
use super::{check_at_least_one, check_not_empty, check_positive};
use crate::persist::{ModelTensors, Persist};
use crate::{CsrMatrix, Dataset, Fit, Matrix, MatrixView, MlError, Predict, Prediction, Result};

/// Unchecked linear SVC hyperparameters; see [`LinearSvc::params`] for the
/// defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LinearSvcParams {
    /// Weight of the loss against the L2 penalty; finite, above 0.
    #[serde(rename = "C", alias = "c")]
    pub c: f64,
    /// Stopping tolerance on the spread of the projected gradients; above 0.
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

impl Default for LinearSvcParams {
    fn default() -> Self {
        Self {
            c: 1.0,
            tol: 1e-4,
            max_iter: 1000,
            fit_intercept: true,
            intercept_scaling: 1.0,
            seed: 0,
        }
    }
}

impl LinearSvcParams {
    /// Weight of the loss (finite, > 0).
    pub fn c(mut self, v: f64) -> Self {
        self.c = v;
        self
    }
    /// Stopping tolerance (> 0).
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
    pub fn check(self) -> Result<LinearSvcValidParams> {
        check_positive("C", self.c)?;
        check_positive("tol", self.tol)?;
        check_at_least_one("max_iter", self.max_iter)?;
        check_positive("intercept_scaling", self.intercept_scaling)?;
        Ok(LinearSvcValidParams(self))
    }
}

/// Validated linear SVC hyperparameters; fits through [`crate::Fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct LinearSvcValidParams(LinearSvcParams);

/// A fitted linear SVC: one linear decision function for two classes, one
/// per class (one-vs-rest) for more.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearSvc {
    /// Number of classes (at least 2).
    n_classes: usize,
    /// Number of features.
    d: usize,
    /// `m x d` row-major, `m` = 1 for two classes, else `n_classes`.
    coef: Vec<f32>,
    /// One intercept per decision function.
    intercept: Vec<f32>,
    /// The largest number of epochs any of the decision functions took.
    n_iter: usize,
}

impl LinearSvc {
    /// Default (unchecked) parameters, scikit-learn's: C 1.0, tol 1e-4,
    /// max_iter 1000, intercept fitted with intercept_scaling 1; seed 0.
    pub fn params() -> LinearSvcParams {
        LinearSvcParams::default()
    }

    /// Number of classes the model tells apart.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Number of decision functions: 1 for two classes, else one per class.
    pub fn n_functions(&self) -> usize {
        self.intercept.len()
    }

    /// The coefficients, `n_functions() x n_features()` row-major (for two
    /// classes just the one coefficient vector).
    pub fn coef(&self) -> &[f32] {
        &self.coef
    }

    /// The intercepts, one per decision function.
    pub fn intercept(&self) -> &[f32] {
        &self.intercept
    }

    /// The largest number of epochs the dual coordinate descent ran for
    /// any decision function (`max_iter` if one did not reach the
    /// tolerance).
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// The signed distances to the hyperplanes (up to `||w||`), scikit-learn's
    /// `decision_function`: for two classes one value per row, positive
    /// for class 1; for more, `n_classes` values per row (row-major), one
    /// per class against the rest. Use this, not [`Predict::predict`], for
    /// ROC-AUC and other ranking metrics.
    pub fn decision_function(&self, x: MatrixView<'_>) -> Result<Vec<f64>> {
        self.decision_rows(&x)
    }

    /// [`Self::decision_function`] on sparse rows.
    pub fn decision_function_sparse(&self, x: &CsrMatrix) -> Result<Vec<f64>> {
        self.decision_rows(x)
    }

    /// The predicted class of each row (ties to the lowest class).
    pub fn predict_classes(&self, x: MatrixView<'_>) -> Result<Vec<u32>> {
        self.classes_rows(&x)
    }

    /// [`Self::predict_classes`] on sparse rows.
    pub fn predict_classes_sparse(&self, x: &CsrMatrix) -> Result<Vec<u32>> {
        self.classes_rows(x)
    }

    /// The hard one-hot rows of predicted `classes`.
    fn one_hot(&self, classes: &[u32]) -> Result<Prediction> {
        let mut out = vec![0f32; classes.len() * self.n_classes];
        for (i, &c) in classes.iter().enumerate() {
            out[i * self.n_classes + c as usize] = 1.0;
        }
        Ok(Prediction::Proba(Matrix::new(
            classes.len(),
            self.n_classes,
            out,
        )?))
    }

    /// [`Predict::predict`] on sparse rows: a hard one-hot row per record.
    pub fn predict_sparse(&self, x: &CsrMatrix) -> Result<Prediction> {
        self.one_hot(&self.classes_rows(x)?)
    }

    fn decision_rows<R: Rows>(&self, x: &R) -> Result<Vec<f64>> {
        x.check_predict(self.d)?;
        let m = self.intercept.len();
        let mut out = Vec::with_capacity(x.n_rows() * m);
        for i in 0..x.n_rows() {
            for (k, &b) in self.intercept.iter().enumerate() {
                let w = &self.coef[k * self.d..(k + 1) * self.d];
                out.push(x.dot_f32(i, w) + f64::from(b));
            }
        }
        Ok(out)
    }

    fn classes_rows<R: Rows>(&self, x: &R) -> Result<Vec<u32>> {
        let scores = self.decision_rows(x)?;
        if self.intercept.len() == 1 {
            return Ok(scores.iter().map(|&s| u32::from(s > 0.0)).collect());
        }
        Ok(scores
            .chunks_exact(self.n_classes)
            .map(|row| {
                let mut best = 0usize;
                for (c, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = c;
                    }
                }
                best as u32
            })
            .collect())
    }
}

impl Fit for LinearSvcValidParams {
    type Model = LinearSvc;

    fn fit(&self, data: &Dataset) -> Result<LinearSvc> {
        check_not_empty(data, LinearSvc::KIND)?;
        let (labels, n_classes) = data.require_classes(LinearSvc::KIND)?;
        self.fit_rows(&data.view(), labels, n_classes)
    }
}

impl LinearSvcValidParams {
    /// Fits on sparse records `x` with class labels `y` (one per row, each below
    /// `n_classes`): the same dual coordinate descent as [`Fit::fit`] on the dense rows,
    /// each step touching only the row's stored entries.
    pub fn fit_sparse(&self, x: &CsrMatrix, y: &[u32], n_classes: usize) -> Result<LinearSvc> {
        check_sparse_classes(x, y, n_classes, LinearSvc::KIND)?;
        self.fit_rows(x, y, n_classes)
    }

    /// The fit on checked, non-empty rows with one label per row.
    fn fit_rows<R: Rows>(&self, x: &R, labels: &[u32], n_classes: usize) -> Result<LinearSvc> {
        let kind = LinearSvc::KIND;
        let p = &self.0;
        if n_classes < 2 {
            return Err(MlError::TargetMismatch {
                model: kind,
                expected: "at least 2-class",
                got: "one-class",
            });
        }
        let d = x.n_cols();
        let bias = if p.fit_intercept {
            p.intercept_scaling
        } else {
            0.0
        };
        let positives: Vec<u32> = if n_classes == 2 {
            vec![1]
        } else {
            (0..n_classes as u32).collect()
        };
        let mut coef = Vec::with_capacity(positives.len() * d);
        let mut intercept = Vec::with_capacity(positives.len());
        let mut n_iter = 0;
        for &positive in &positives {
            let y: Vec<f64> = labels
                .iter()
                .map(|&l| if l == positive { 1.0 } else { -1.0 })
                .collect();
            let (w, wb, iters) = solve(x, bias, &y, p);
            let b = wb * bias;
            if !b.is_finite() || w.iter().any(|v| !v.is_finite()) {
                return Err(MlError::Numerical(
                    "the solver produced non-finite coefficients".into(),
                ));
            }
            coef.extend(w.iter().map(|&v| v as f32));
            intercept.push(b as f32);
            n_iter = n_iter.max(iters);
        }
        Ok(LinearSvc {
            n_classes,
            d,
            coef,
            intercept,
            n_iter,
        })
    }
}

/// liblinear's `solve_l2r_l1l2_svc` for the L2 loss on the rows `x` (dense or sparse)
/// plus the constant feature `bias` (0 without an intercept); returns `w`, the weight of the
/// intercept feature and the epochs run.
fn solve<R: Rows>(x: &R, bias: f64, y: &[f64], p: &LinearSvcParams) -> (Vec<f64>, f64, usize) {
    let n = y.len();
    let diag = 0.5 / p.c;
    let qd: Vec<f64> = (0..n)
        .map(|i| diag + x.squared_norm(i) + bias * bias)
        .collect();
    let mut alpha = vec![0f64; n];
    let mut w = vec![0f64; x.n_cols()];
    let mut wb = 0f64;
    let mut index: Vec<usize> = (0..n).collect();
    let mut active = n;
    let mut pg_max_old = f64::INFINITY;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed);
    let mut iter = 0;
    while iter < p.max_iter {
        let mut pg_max_new = f64::NEG_INFINITY;
        let mut pg_min_new = f64::INFINITY;
        for i in 0..active {
            let j = i + (rng.next_u64() % (active - i) as u64) as usize;
            index.swap(i, j);
        }
        let mut s = 0;
        while s < active {
            let i = index[s];
            let yi = y[i];
            let wx = x.dot(i, &w) + wb * bias;
            let g = yi * wx - 1.0 + alpha[i] * diag;
            // The upper bound is infinite, so only the lower bound (0)
            // projects or shrinks.
            let pg = if alpha[i] == 0.0 {
                if g > pg_max_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                }
                g.min(0.0)
            } else {
                g
            };
            s += 1;
            pg_max_new = pg_max_new.max(pg);
            pg_min_new = pg_min_new.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                let new = (old - g / qd[i]).max(0.0);
                alpha[i] = new;
                let delta = (new - old) * yi;
                x.axpy(i, delta, &mut w);
                wb += delta * bias;
            }
        }
        iter += 1;
        if pg_max_new - pg_min_new <= p.tol {
            if active == n {
                break;
            }
            active = n;
            pg_max_old = f64::INFINITY;
            continue;
        }
        pg_max_old = if pg_max_new <= 0.0 {
            f64::INFINITY
        } else {
            pg_max_new
        };
    }
    (w, wb, iter)
}

impl Predict for LinearSvc {
    fn n_features(&self) -> usize {
        self.d
    }

    /// A hard one-hot row per record: 1 in the predicted class's column,
    /// 0 elsewhere (not probabilities; see [`LinearSvc::decision_function`]
    /// for scores).
    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        self.one_hot(&self.predict_classes(x)?)
    }

    fn predict_sparse(&self, x: &CsrMatrix) -> Result<Prediction> {
        LinearSvc::predict_sparse(self, x)
    }
}

/// Stored as `coef` (`[m, d]`), `intercept` (`[m]`), meta `n_classes` and
/// `n_iter`, where `m` is 1 for two classes and `n_classes` otherwise.
impl Persist for LinearSvc {
    const KIND: &'static str = "linear-svc";

    fn to_tensors(&self) -> ModelTensors {
        let mut t = ModelTensors::new(Self::KIND);
        let m = self.intercept.len();
        t.insert_checked("coef", vec![m, self.d], self.coef.clone());
        t.insert_checked("intercept", vec![m], self.intercept.clone());
        t.set_meta("n_classes", self.n_classes.to_string());
        t.set_meta("n_iter", self.n_iter.to_string());
        t
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        let parse = |key: &str| -> Result<usize> {
            t.meta_str(key)?
                .parse()
                .map_err(|e| MlError::CorruptModel(format!("metadata `{key}`: {e}")))
        };
        let n_classes = parse("n_classes")?;
        let n_iter = parse("n_iter")?;
        if n_classes < 2 {
            return Err(MlError::CorruptModel(format!(
                "a linear SVC needs at least 2 classes, got {n_classes}"
            )));
        }
        let m = if n_classes == 2 { 1 } else { n_classes };
        let intercept = t.f32_shaped("intercept", &[m])?;
        let (shape, coef) = t.f32_tensor("coef")?;
        let d = match shape {
            [rows, d] if *rows == m => *d,
            _ => {
                return Err(MlError::CorruptModel(format!(
                    "`coef` has shape {shape:?}, expected [{m}, d]"
                )));
            }
        };
        if coef.iter().chain(intercept).any(|v| !v.is_finite()) {
            return Err(MlError::CorruptModel(
                "non-finite coefficient or intercept".into(),
            ));
        }
        Ok(Self {
            n_classes,
            d,
            coef: coef.to_vec(),
            intercept: intercept.to_vec(),
            n_iter,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_blobs() -> Dataset {
        let x = Matrix::new(6, 1, vec![0., 1., 2., 10., 11., 12.]).unwrap();
        Dataset::classification(x, vec![0, 0, 0, 1, 1, 1], 2).unwrap()
    }

    #[test]
    fn bad_parameters_are_rejected() {
        for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                LinearSvc::params().c(c).check(),
                Err(MlError::InvalidParameter { name: "C", .. })
            ));
        }
        assert!(LinearSvc::params().tol(0.0).check().is_err());
        assert!(LinearSvc::params().max_iter(0).check().is_err());
        assert!(LinearSvc::params().intercept_scaling(-1.0).check().is_err());
    }

    #[test]
    fn separates_two_blobs_and_rejects_bad_input() {
        let data = two_blobs();
        let m = LinearSvc::params().check().unwrap().fit(&data).unwrap();
        assert_eq!(
            m.predict(data.view()).unwrap().classes(),
            Some(vec![0, 0, 0, 1, 1, 1])
        );
        let nan = Matrix::new(1, 1, vec![f32::NAN]).unwrap();
        assert!(matches!(m.predict(nan.view()), Err(MlError::Numerical(_))));
        let wide = Matrix::new(1, 2, vec![0.0, 0.0]).unwrap();
        assert!(matches!(
            m.decision_function(wide.view()),
            Err(MlError::ShapeMismatch { .. })
        ));
        let real = Dataset::regression(data.records().clone(), vec![0.0; 6]).unwrap();
        assert!(matches!(
            LinearSvc::params().check().unwrap().fit(&real),
            Err(MlError::TargetMismatch { .. })
        ));
        let one = Dataset::classification(data.records().clone(), vec![0; 6], 1).unwrap();
        assert!(LinearSvc::params().check().unwrap().fit(&one).is_err());
    }

    #[test]
    fn corrupt_stored_models_are_errors() {
        let m = LinearSvc::params()
            .check()
            .unwrap()
            .fit(&two_blobs())
            .unwrap();
        let good = Persist::to_tensors(&m);
        assert_eq!(LinearSvc::from_tensors(&good).unwrap(), m);
        let mut t = good.clone();
        t.set_meta("n_classes", "3");
        assert!(LinearSvc::from_tensors(&t).is_err());
        let mut t = good.clone();
        t.set_meta("n_classes", "1");
        assert!(LinearSvc::from_tensors(&t).is_err());
        let mut t = good.clone();
        t.insert("intercept", crate::Tensor::f32_vector(vec![f32::NAN]));
        assert!(LinearSvc::from_tensors(&t).is_err());
        let mut t = good;
        t.insert("coef", crate::Tensor::f32_vector(vec![1.0]));
        assert!(LinearSvc::from_tensors(&t).is_err());
    }
}
