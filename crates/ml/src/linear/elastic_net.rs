//! [`ElasticNet`]: least squares with a mixed L1/L2 penalty, scikit-learn's
//! `ElasticNet`, fitted by [`super::coordinate_descent`]; also the shared
//! fitting path of [`super::Lasso`] (an elastic net with `l1_ratio = 1`).

use serde::{Deserialize, Serialize};

use super::coordinate_descent::{Columns, Penalty, Stopping, coordinate_descent};
use super::{
    LinearFunction, check_at_least_one, check_non_negative, check_not_empty, check_positive,
};
use crate::persist::Persist;
use crate::{Dataset, Fit, MlError, Result};

/// Unchecked elastic-net hyperparameters; see [`ElasticNet::params`] for
/// the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ElasticNetParams {
    /// Overall penalty strength; finite, at least 0.
    pub alpha: f64,
    /// Share of the L1 penalty, in `[0, 1]`.
    pub l1_ratio: f64,
    /// Whether to fit an intercept (by centring `X` and `y`).
    pub fit_intercept: bool,
    /// Stopping tolerance (see [`super::coordinate_descent`]); above 0.
    pub tol: f64,
    /// Maximum number of epochs; at least 1.
    pub max_iter: usize,
}

impl Default for ElasticNetParams {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            l1_ratio: 0.5,
            fit_intercept: true,
            tol: 1e-4,
            max_iter: 1000,
        }
    }
}

impl ElasticNetParams {
    /// Overall penalty strength (finite, >= 0).
    pub fn alpha(mut self, v: f64) -> Self {
        self.alpha = v;
        self
    }
    /// Share of the L1 penalty, in `[0, 1]`.
    pub fn l1_ratio(mut self, v: f64) -> Self {
        self.l1_ratio = v;
        self
    }
    /// Whether to fit an intercept.
    pub fn fit_intercept(mut self, v: bool) -> Self {
        self.fit_intercept = v;
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
    /// Validates the parameters.
    pub fn check(self) -> Result<ElasticNetValidParams> {
        check_non_negative("alpha", self.alpha)?;
        if !(0.0..=1.0).contains(&self.l1_ratio) {
            return Err(MlError::InvalidParameter {
                name: "l1_ratio",
                reason: format!("must be in [0, 1], got {}", self.l1_ratio),
            });
        }
        check_positive("tol", self.tol)?;
        check_at_least_one("max_iter", self.max_iter)?;
        Ok(ElasticNetValidParams(EnetConfig {
            penalty: Penalty {
                l1: self.alpha * self.l1_ratio,
                l2: self.alpha * (1.0 - self.l1_ratio),
            },
            stop: Stopping {
                tol: self.tol,
                max_iter: self.max_iter,
            },
            fit_intercept: self.fit_intercept,
        }))
    }
}

/// What an elastic-net fit needs, validated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EnetConfig {
    pub(crate) penalty: Penalty,
    pub(crate) stop: Stopping,
    pub(crate) fit_intercept: bool,
}

impl EnetConfig {
    /// Fits on `data` for the model `kind` (class labels read as reals).
    pub(crate) fn fit(&self, data: &Dataset, kind: &'static str) -> Result<LinearFunction> {
        check_not_empty(data, kind)?;
        let y = super::real_targets(data, kind)?;
        let x = data.view();
        let (x_mean, y_mean) = if self.fit_intercept {
            (
                super::column_means(x),
                y.iter().sum::<f64>() / y.len() as f64,
            )
        } else {
            (vec![0.0; x.cols()], 0.0)
        };
        let cols = Columns::from_rows(x, &x_mean)?;
        let yc: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
        let mut w = vec![0f64; x.cols()];
        let out = coordinate_descent(&cols, &yc, self.penalty, self.stop, &mut w)?;
        let intercept = y_mean - super::coordinate_descent::dot(&x_mean, &w);
        LinearFunction::new(&w, intercept, out.n_iter)
    }
}

/// Validated elastic-net hyperparameters; fits through [`crate::Fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticNetValidParams(pub(crate) EnetConfig);

/// A fitted elastic net: `y ≈ x . coef + intercept`.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticNet(pub(crate) LinearFunction);

impl ElasticNet {
    /// Default (unchecked) parameters, scikit-learn's: alpha 1.0, l1_ratio
    /// 0.5, intercept fitted, tol 1e-4, max_iter 1000.
    pub fn params() -> ElasticNetParams {
        ElasticNetParams::default()
    }
}

impl Fit for ElasticNetValidParams {
    type Model = ElasticNet;

    fn fit(&self, data: &Dataset) -> Result<ElasticNet> {
        self.0.fit(data, ElasticNet::KIND).map(ElasticNet)
    }
}

linear_function_model!(regressor ElasticNet, "elastic-net", "Epochs of coordinate descent the fit took.");
