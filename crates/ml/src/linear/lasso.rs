//! [`Lasso`]: least squares with an L1 penalty, scikit-learn's `Lasso`
//! (`1/(2n) ||y - X w - b||² + alpha ||w||₁`), fitted by
//! [`super::coordinate_descent`].

use serde::{Deserialize, Serialize};

use super::LinearFunction;
use super::elastic_net::ElasticNetParams;
use crate::persist::Persist;
use crate::{Dataset, Fit, Result};

/// Unchecked Lasso hyperparameters; see [`Lasso::params`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LassoParams {
    /// Strength of the L1 penalty; finite, at least 0.
    pub alpha: f64,
    /// Whether to fit an intercept (by centring `X` and `y`).
    pub fit_intercept: bool,
    /// Stopping tolerance (see [`super::coordinate_descent`]); above 0.
    pub tol: f64,
    /// Maximum number of epochs; at least 1.
    pub max_iter: usize,
}

impl Default for LassoParams {
    fn default() -> Self {
        Self {
            alpha: 0.1,
            fit_intercept: true,
            tol: 1e-4,
            max_iter: 1000,
        }
    }
}

impl LassoParams {
    /// Strength of the L1 penalty (finite, >= 0).
    pub fn alpha(mut self, v: f64) -> Self {
        self.alpha = v;
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
    pub fn check(self) -> Result<LassoValidParams> {
        let enet = ElasticNetParams::default()
            .alpha(self.alpha)
            .l1_ratio(1.0)
            .fit_intercept(self.fit_intercept)
            .tol(self.tol)
            .max_iter(self.max_iter)
            .check()?;
        Ok(LassoValidParams(enet.0))
    }
}

/// Validated Lasso hyperparameters; fits through [`crate::Fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct LassoValidParams(super::elastic_net::EnetConfig);

/// A fitted Lasso: `y ≈ x . coef + intercept`, `coef` sparse.
#[derive(Debug, Clone, PartialEq)]
pub struct Lasso(LinearFunction);

impl Lasso {
    /// Default (unchecked) parameters: alpha 0.1 (scikit-learn's is 1.0;
    /// 0.1 suits standardised features), intercept fitted, tol 1e-4,
    /// max_iter 1000.
    pub fn params() -> LassoParams {
        LassoParams::default()
    }
}

impl Fit for LassoValidParams {
    type Model = Lasso;

    fn fit(&self, data: &Dataset) -> Result<Lasso> {
        self.0.fit(data, Lasso::KIND).map(Lasso)
    }
}

linear_function_model!(regressor Lasso, "lasso", "Epochs of coordinate descent the fit took.");
