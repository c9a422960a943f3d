//! Linear models and their solvers, each matching its scikit-learn
//! counterpart's objective and stopping rule:
//!
//! - [`Lasso`] and [`ElasticNet`]: least squares with an L1 (and L2)
//!   penalty, both fitted by the one elastic-net coordinate-descent core in
//!   [`coordinate_descent`] (scikit-learn's `enet_coordinate_descent`).
//! - [`LinearSvr`]: epsilon-insensitive support vector regression by
//!   liblinear's dual coordinate descent.
//! - [`LinearSvc`]: linear support vector classification (squared hinge,
//!   scikit-learn's `LinearSVC` default) by liblinear's dual coordinate
//!   descent, one-vs-rest beyond two classes.
//! - [`LogisticRegression`]: L2-regularised logistic regression, binary by
//!   Newton's method for few features and L-BFGS for many, multinomial
//!   (softmax) beyond two classes by L-BFGS.
//!
//! [`LogisticRegression`] and [`LinearSvc`] also fit and predict on compressed
//! sparse rows ([`crate::CsrMatrix`]) through the same solvers, written once
//! over the row access of the private `rows` module.
//!
//! Records are `f32` at the API, as everywhere in the crate; every solver
//! computes in `f64` and the fitted coefficients are stored as `f32`, so a
//! stored and reloaded model predicts exactly as the fitted one.
//!
//! The regressors also fit on class targets, reading each label as the
//! real number it is (`0`, `1`, ...): a stacking layer regresses 0/1 labels
//! with them, as scikit-learn lets it.

/// What every model holding one [`LinearFunction`] shares, written once: its `coef`,
/// `intercept` and `n_iter` accessors and its [`crate::Persist`] (tensors `coef` `[d]`,
/// `intercept` `[1]`, meta `n_iter`, under the model's kind); a `regressor` also predicts the
/// function's value as [`crate::Prediction::Real`].
macro_rules! linear_function_model {
    ($model:ident, $kind:literal, $n_iter_doc:literal) => {
        impl $model {
            /// The coefficients, one per feature.
            pub fn coef(&self) -> &[f32] {
                &self.0.coef
            }

            /// The intercept.
            pub fn intercept(&self) -> f32 {
                self.0.intercept
            }

            #[doc = $n_iter_doc]
            pub fn n_iter(&self) -> usize {
                self.0.n_iter
            }
        }

        /// Stored as `coef` (`[d]`), `intercept` (`[1]`) and meta `n_iter`.
        impl crate::Persist for $model {
            const KIND: &'static str = $kind;

            fn to_tensors(&self) -> crate::ModelTensors {
                self.0.to_tensors(Self::KIND)
            }

            fn from_tensors(t: &crate::ModelTensors) -> crate::Result<Self> {
                super::LinearFunction::from_tensors(t, Self::KIND).map(Self)
            }
        }
    };
    (regressor $model:ident, $kind:literal, $n_iter_doc:literal) => {
        linear_function_model!($model, $kind, $n_iter_doc);

        impl crate::Predict for $model {
            fn n_features(&self) -> usize {
                self.0.coef.len()
            }

            fn predict(&self, x: crate::MatrixView<'_>) -> crate::Result<crate::Prediction> {
                let v = self.0.decision(x)?;
                Ok(crate::Prediction::Real(
                    v.into_iter().map(|p| p as f32).collect(),
                ))
            }
        }
    };
}

pub mod coordinate_descent;
mod elastic_net;
mod lasso;
mod logistic;
mod rows;
mod svc;
mod svr;

pub use elastic_net::{ElasticNet, ElasticNetParams, ElasticNetValidParams};
pub use lasso::{Lasso, LassoParams, LassoValidParams};
pub use logistic::{
    LogisticRegression, LogisticRegressionParams, LogisticRegressionValidParams, LogisticSolver,
    NEWTON_MAX_FEATURES,
};
pub use svc::{LinearSvc, LinearSvcParams, LinearSvcValidParams};
pub use svr::{LinearSvr, LinearSvrParams, LinearSvrValidParams};

use crate::persist::ModelTensors;
use crate::{Dataset, MatrixView, MlError, Result, Targets};
use rows::Rows;

/// The targets of `data` as reals for the regressor `model`: real targets
/// as they are, class labels as the numbers they are; no targets is
/// [`MlError::TargetMismatch`].
pub(crate) fn real_targets(data: &Dataset, model: &'static str) -> Result<Vec<f64>> {
    match data.targets() {
        Targets::Real(y) => Ok(y.iter().map(|&v| f64::from(v)).collect()),
        Targets::Classes { labels, .. } => Ok(labels.iter().map(|&l| f64::from(l)).collect()),
        Targets::None => Err(data.target_mismatch(model, "real-valued or class")),
    }
}

/// Rejects a dataset without rows or features.
pub(crate) fn check_not_empty(data: &Dataset, model: &str) -> Result<()> {
    if data.is_empty() || data.n_features() == 0 {
        return Err(MlError::EmptyInput(format!(
            "{model} needs at least one record and one feature, got {} x {}",
            data.len(),
            data.n_features()
        )));
    }
    Ok(())
}

/// Checks records to predict: `n_features` columns, all finite.
pub(crate) fn check_predict_input(x: MatrixView<'_>, n_features: usize) -> Result<()> {
    if x.cols() != n_features {
        return Err(MlError::ShapeMismatch {
            what: "number of features".into(),
            expected: n_features,
            got: x.cols(),
        });
    }
    x.check_finite()
}

/// `v` must be finite and at least zero.
pub(crate) fn check_non_negative(name: &'static str, v: f64) -> Result<()> {
    if !(v.is_finite() && v >= 0.0) {
        return Err(MlError::InvalidParameter {
            name,
            reason: format!("must be finite and at least 0, got {v}"),
        });
    }
    Ok(())
}

/// `v` must be finite and above zero.
pub(crate) fn check_positive(name: &'static str, v: f64) -> Result<()> {
    if !(v.is_finite() && v > 0.0) {
        return Err(MlError::InvalidParameter {
            name,
            reason: format!("must be finite and above 0, got {v}"),
        });
    }
    Ok(())
}

/// `v` must be at least 1.
pub(crate) fn check_at_least_one(name: &'static str, v: usize) -> Result<()> {
    if v == 0 {
        return Err(MlError::InvalidParameter {
            name,
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}

/// Column means of `x` in `f64`.
pub(crate) fn column_means(x: MatrixView<'_>) -> Vec<f64> {
    let d = x.cols();
    let mut mean = vec![0f64; d];
    for row in x.data().chunks_exact(d.max(1)) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    let n = x.rows().max(1) as f64;
    for m in &mut mean {
        *m /= n;
    }
    mean
}

/// A fitted linear function `x . coef + intercept`, the part every linear
/// model shares: prediction and storage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinearFunction {
    pub(crate) coef: Vec<f32>,
    pub(crate) intercept: f32,
    /// Solver iterations (epochs) the fit took.
    pub(crate) n_iter: usize,
}

impl LinearFunction {
    /// Rounds an `f64` solution to the stored `f32` form.
    pub(crate) fn new(coef: &[f64], intercept: f64, n_iter: usize) -> Result<Self> {
        if !intercept.is_finite() || coef.iter().any(|w| !w.is_finite()) {
            return Err(MlError::Numerical(
                "the solver produced non-finite coefficients".into(),
            ));
        }
        Ok(Self {
            coef: coef.iter().map(|&w| w as f32).collect(),
            intercept: intercept as f32,
            n_iter,
        })
    }

    /// `x . coef + intercept` for every row, in `f64`, after checking `x`.
    pub(crate) fn decision(&self, x: MatrixView<'_>) -> Result<Vec<f64>> {
        self.decision_rows(&x)
    }

    /// [`Self::decision`] on dense or sparse rows.
    pub(crate) fn decision_rows<R: Rows>(&self, x: &R) -> Result<Vec<f64>> {
        x.check_predict(self.coef.len())?;
        let w: Vec<f64> = self.coef.iter().map(|&v| f64::from(v)).collect();
        let b = f64::from(self.intercept);
        Ok((0..x.n_rows()).map(|i| x.dot(i, &w) + b).collect())
    }

    /// Tensors `coef` (`[d]`) and `intercept` (`[1]`), meta `n_iter`.
    pub(crate) fn to_tensors(&self, kind: &str) -> ModelTensors {
        let mut t = ModelTensors::new(kind);
        t.insert_checked("coef", vec![self.coef.len()], self.coef.clone());
        t.insert_checked("intercept", vec![1], vec![self.intercept]);
        t.set_meta("n_iter", self.n_iter.to_string());
        t
    }

    /// Reads what [`Self::to_tensors`] wrote, checking kind and values.
    pub(crate) fn from_tensors(t: &ModelTensors, kind: &str) -> Result<Self> {
        t.check_kind(kind)?;
        let coef = t.f32_vec("coef")?;
        let intercept = t.f32_scalar("intercept")?;
        if !intercept.is_finite() || coef.iter().any(|w| !w.is_finite()) {
            return Err(MlError::CorruptModel(
                "non-finite coefficient or intercept".into(),
            ));
        }
        let n_iter = t
            .meta_str("n_iter")?
            .parse()
            .map_err(|e| MlError::CorruptModel(format!("metadata `n_iter`: {e}")))?;
        Ok(Self {
            coef: coef.to_vec(),
            intercept,
            n_iter,
        })
    }
}
