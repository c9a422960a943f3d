//! [`LinearRegression`]: Spark's `LinearRegression` with elastic net (`solver` auto, which is
//! OWL-QN once there is an L1 penalty), `standardization=true` and `fitIntercept`, fitted
//! from additive sufficient statistics by coordinate descent.
//!
//! # Objective
//!
//! With `μ`, `σ` the features' means and population standard deviations and `ȳ`, `σ_y` the
//! label's, Spark minimises over the standardised coefficients `v`
//!
//! ```text
//! 1/(2n) Σ_i (Σ_j v_j (x_ij - μ_j)/σ_j - (y_i - ȳ)/σ_y)²  +  (λ/σ_y) (α ||v||₁ + (1-α)/2 ||v||²)
//! ```
//!
//! (`λ` = `regParam`, `α` = `elasticNetParam`) and returns `w_j = v_j σ_y / σ_j` and the
//! intercept `ȳ - w·μ`: the penalty is on the standardised coefficients and the label is
//! scaled by its deviation. That is the objective 1/(2n) Σ (y − w·x − b)² + λ(α‖w‖₁ +
//! (1−α)/2 ‖w‖²) of the original problem with each `w_j` read in units of `σ_j`. A feature of
//! zero deviation gets coefficient 0, as in Spark. Spark's `standardization=false` (the penalty
//! on the raw coefficients) is not implemented; without an intercept the moments are taken
//! about zero, the deviations still about the mean, as Spark does.
//!
//! The deviations are the population ones (divided by `n`). Computed, not assumed: at the
//! converged optimum they give Spark's documented objective 0.4936351206 and training RMSE
//! 10.189077 / r2 0.022861 on `sample_linear_regression_data`, where the sample deviations
//! (divided by `n - 1`) give RMSE 10.189126 and r2 0.022852.
//!
//! # Solver
//!
//! Spark runs OWL-QN for at most `maxIter` (10 in its example) iterations with tolerance
//! `tol` on the objective; on the sample data it stops after 7 iterations, within 1e-10 of the
//! optimum, so its outputs are the optimum's to the digits it prints. Here the same problem
//! is solved to convergence by the crate's coordinate descent on the Gram matrix
//! ([`crate::linear::coordinate_descent::coordinate_descent_gram`]); `max_iter` counts its
//! epochs and `tol` is its duality-gap tolerance (relative to `Σ ((y - ȳ)/σ_y)² = n`), so
//! neither means what Spark's does, and the defaults (100 epochs, 1e-12) are chosen to reach
//! the optimum.
//!
//! # Data parallelism
//!
//! Everything is fitted from [`SufficientStats`] (`n`, `Σx`, `Σy`, `XᵀX`, `Xᵀy`, `Σy²`), which
//! add up over shards; the training RMSE and r2 ([`LinearRegression::summary`]) come from the
//! same statistics, so a driver needs one pass of its workers over the rows.

use serde::{Deserialize, Serialize};

use super::Rows;
use crate::linear::coordinate_descent::{Gram, Penalty, Stopping, coordinate_descent_gram};
use crate::{MlError, Result};

/// Additive sufficient statistics of a least-squares problem over some rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StatsParts")]
pub struct SufficientStats {
    d: usize,
    n: u64,
    sum_x: Vec<f64>,
    sum_y: f64,
    /// `d x d` row-major.
    xtx: Vec<f64>,
    xty: Vec<f64>,
    yty: f64,
}

/// The serialised form of [`SufficientStats`], checked on the way in (a worker's answer is
/// input).
#[derive(Deserialize)]
struct StatsParts {
    d: usize,
    n: u64,
    sum_x: Vec<f64>,
    sum_y: f64,
    xtx: Vec<f64>,
    xty: Vec<f64>,
    yty: f64,
}

impl TryFrom<StatsParts> for SufficientStats {
    type Error = MlError;
    fn try_from(p: StatsParts) -> Result<Self> {
        let d = p.d;
        if p.sum_x.len() != d || p.xty.len() != d || d.checked_mul(d) != Some(p.xtx.len()) {
            return Err(MlError::ShapeMismatch {
                what: format!("sufficient statistics of {d} features"),
                expected: d.saturating_mul(d),
                got: p.xtx.len(),
            });
        }
        let scalars = [p.sum_y, p.yty];
        if p.sum_x
            .iter()
            .chain(&p.xtx)
            .chain(&p.xty)
            .chain(&scalars)
            .any(|v| !v.is_finite())
        {
            return Err(MlError::Numerical(
                "non-finite sufficient statistics".into(),
            ));
        }
        Ok(Self {
            d,
            n: p.n,
            sum_x: p.sum_x,
            sum_y: p.sum_y,
            xtx: p.xtx,
            xty: p.xty,
            yty: p.yty,
        })
    }
}

impl SufficientStats {
    /// The statistics of no rows of `d` features.
    pub fn zeros(d: usize) -> Self {
        Self {
            d,
            n: 0,
            sum_x: vec![0.0; d],
            sum_y: 0.0,
            xtx: vec![0.0; d * d],
            xty: vec![0.0; d],
            yty: 0.0,
        }
    }

    /// The statistics of the rows of `x` with labels `y`; a non-finite label is an error.
    pub fn of_rows(x: &Rows, y: &[f64]) -> Result<Self> {
        if y.len() != x.n() {
            return Err(MlError::ShapeMismatch {
                what: "labels".into(),
                expected: x.n(),
                got: y.len(),
            });
        }
        if y.iter().any(|v| !v.is_finite()) {
            return Err(MlError::Numerical("non-finite label".into()));
        }
        let d = x.d();
        let mut s = Self::zeros(d);
        for (i, &yi) in y.iter().enumerate() {
            let row = x.row(i);
            s.n += 1;
            s.sum_y += yi;
            s.yty += yi * yi;
            for a in 0..d {
                s.sum_x[a] += row[a];
                s.xty[a] += row[a] * yi;
                // The upper triangle only; mirrored when read.
                for b in a..d {
                    s.xtx[a * d + b] += row[a] * row[b];
                }
            }
        }
        for a in 0..d {
            for b in 0..a {
                s.xtx[a * d + b] = s.xtx[b * d + a];
            }
        }
        Ok(s)
    }

    /// Adds another shard's statistics (of the same width).
    pub fn merge(&mut self, other: &SufficientStats) -> Result<()> {
        if self.d != other.d {
            return Err(MlError::ShapeMismatch {
                what: "features of the statistics merged".into(),
                expected: self.d,
                got: other.d,
            });
        }
        self.n += other.n;
        self.sum_y += other.sum_y;
        self.yty += other.yty;
        for (a, b) in self.sum_x.iter_mut().zip(&other.sum_x) {
            *a += b;
        }
        for (a, b) in self.xtx.iter_mut().zip(&other.xtx) {
            *a += b;
        }
        for (a, b) in self.xty.iter_mut().zip(&other.xty) {
            *a += b;
        }
        Ok(())
    }

    /// Number of rows.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Number of features.
    pub fn d(&self) -> usize {
        self.d
    }

    /// The moments about the mean (divided by `n`) when `centre`, else about zero:
    /// `(mean_x, mean_y, cov_xx, cov_xy, var_y)` with the means zero when not centring.
    fn moments(&self, centre: bool) -> (Vec<f64>, f64, Vec<f64>, Vec<f64>, f64) {
        let (d, n) = (self.d, self.n as f64);
        let mx: Vec<f64> = self.sum_x.iter().map(|s| s / n).collect();
        let my = self.sum_y / n;
        let (cx, cy) = if centre {
            (mx.clone(), my)
        } else {
            (vec![0.0; d], 0.0)
        };
        let mut cxx = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..d {
                cxx[a * d + b] = self.xtx[a * d + b] / n - cx[a] * cx[b];
            }
        }
        let cxy = (0..d).map(|a| self.xty[a] / n - cx[a] * cy).collect();
        let vy = self.yty / n - cy * cy;
        (cx, cy, cxx, cxy, vy)
    }

    /// Population variances of the features and the label (about their means).
    fn variances(&self) -> (Vec<f64>, f64) {
        let (_, _, cxx, _, vy) = self.moments(true);
        let d = self.d;
        (
            (0..d).map(|j| cxx[j * d + j].max(0.0)).collect(),
            vy.max(0.0),
        )
    }
}

/// Unchecked hyperparameters; see [`LinearRegression::params`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LinearRegressionParams {
    /// Spark's `regParam` (`λ`); finite, at least 0.
    pub reg_param: f64,
    /// Spark's `elasticNetParam` (`α`, the L1 share), in `[0, 1]`.
    pub elastic_net_param: f64,
    /// Whether to fit an intercept (Spark's `fitIntercept`).
    pub fit_intercept: bool,
    /// Epochs of coordinate descent; at least 1.
    pub max_iter: usize,
    /// Duality-gap tolerance of coordinate descent; finite, above 0.
    pub tol: f64,
}

impl Default for LinearRegressionParams {
    fn default() -> Self {
        Self {
            reg_param: 0.0,
            elastic_net_param: 0.0,
            fit_intercept: true,
            max_iter: 100,
            tol: 1e-12,
        }
    }
}

impl LinearRegressionParams {
    /// Spark's `regParam` (finite, >= 0).
    pub fn reg_param(mut self, v: f64) -> Self {
        self.reg_param = v;
        self
    }
    /// Spark's `elasticNetParam`, in `[0, 1]`.
    pub fn elastic_net_param(mut self, v: f64) -> Self {
        self.elastic_net_param = v;
        self
    }
    /// Whether to fit an intercept.
    pub fn fit_intercept(mut self, v: bool) -> Self {
        self.fit_intercept = v;
        self
    }
    /// Epochs of coordinate descent (>= 1).
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Duality-gap tolerance (> 0).
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<LinearRegressionValidParams> {
        if !(self.reg_param.is_finite() && self.reg_param >= 0.0) {
            return Err(MlError::InvalidParameter {
                name: "reg_param",
                reason: format!("must be finite and at least 0, got {}", self.reg_param),
            });
        }
        if !(0.0..=1.0).contains(&self.elastic_net_param) {
            return Err(MlError::InvalidParameter {
                name: "elastic_net_param",
                reason: format!("must be in [0, 1], got {}", self.elastic_net_param),
            });
        }
        if self.max_iter == 0 {
            return Err(MlError::InvalidParameter {
                name: "max_iter",
                reason: "must be at least 1".into(),
            });
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(MlError::InvalidParameter {
                name: "tol",
                reason: format!("must be finite and above 0, got {}", self.tol),
            });
        }
        Ok(LinearRegressionValidParams(self))
    }
}

/// Validated hyperparameters; fit with [`Self::fit_stats`].
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegressionValidParams(LinearRegressionParams);

/// A fitted linear model `y ≈ w·x + b`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearRegression {
    coef: Vec<f64>,
    intercept: f64,
    n_iter: usize,
    converged: bool,
    objective: f64,
}

/// Spark's training summary figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionSummary {
    /// Root mean squared error.
    pub rmse: f64,
    /// Coefficient of determination, `1 - SSE / Σ (y - ȳ)²`.
    pub r2: f64,
    /// Mean squared error.
    pub mse: f64,
}

impl LinearRegression {
    /// Default (unchecked) parameters, Spark's: regParam 0, elasticNetParam 0, intercept
    /// fitted; 100 epochs of coordinate descent to a duality gap of 1e-12. Spark's example
    /// sets regParam 0.3, elasticNetParam 0.8 and maxIter 10.
    pub fn params() -> LinearRegressionParams {
        LinearRegressionParams::default()
    }

    /// The coefficients, one per feature.
    pub fn coef(&self) -> &[f64] {
        &self.coef
    }

    /// The intercept.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    /// Epochs of coordinate descent taken.
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }

    /// Whether the duality gap fell below the tolerance.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// The final value of Spark's (standardised) objective, what Spark's `objectiveHistory`
    /// ends with.
    pub fn objective(&self) -> f64 {
        self.objective
    }

    /// Predictions for the rows of `x`.
    pub fn predict(&self, x: &Rows) -> Result<Vec<f64>> {
        if x.d() != self.coef.len() {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: self.coef.len(),
                got: x.d(),
            });
        }
        Ok((0..x.n())
            .map(|i| {
                x.row(i)
                    .iter()
                    .zip(&self.coef)
                    .map(|(v, w)| v * w)
                    .sum::<f64>()
                    + self.intercept
            })
            .collect())
    }

    /// RMSE and r2 on the rows `stats` summarise (Spark's `summary.rootMeanSquaredError` and
    /// `summary.r2` for the training statistics), from the statistics alone.
    pub fn summary(&self, stats: &SufficientStats) -> Result<RegressionSummary> {
        if stats.d != self.coef.len() {
            return Err(MlError::ShapeMismatch {
                what: "features of the statistics".into(),
                expected: self.coef.len(),
                got: stats.d,
            });
        }
        if stats.n == 0 {
            return Err(MlError::EmptyInput("statistics of no rows".into()));
        }
        // SSE/n = var_y - 2 w·cov_xy + wᵀ cov_xx w + (ȳ - b - w·μ)², from centred moments.
        let (mx, my, cxx, cxy, vy) = stats.moments(true);
        let (w, d) = (&self.coef, stats.d);
        let w_cxy: f64 = w.iter().zip(&cxy).map(|(a, b)| a * b).sum();
        let mut w_cxx_w = 0.0;
        for a in 0..d {
            for b in 0..d {
                w_cxx_w += w[a] * cxx[a * d + b] * w[b];
            }
        }
        let bias = my - self.intercept - w.iter().zip(&mx).map(|(a, b)| a * b).sum::<f64>();
        let mse = (vy - 2.0 * w_cxy + w_cxx_w + bias * bias).max(0.0);
        let r2 = if vy > 0.0 { 1.0 - mse / vy } else { f64::NAN };
        Ok(RegressionSummary {
            rmse: mse.sqrt(),
            r2,
            mse,
        })
    }
}

impl LinearRegressionValidParams {
    /// Fits on the rows `stats` summarise (see the module docs for the objective).
    pub fn fit_stats(&self, stats: &SufficientStats) -> Result<LinearRegression> {
        let p = &self.0;
        let d = stats.d;
        if stats.n == 0 || d == 0 {
            return Err(MlError::EmptyInput(format!(
                "linear regression needs rows and features, got {} x {d}",
                stats.n
            )));
        }
        let (var_x, var_y) = stats.variances();
        let (mx, my, cxx, cxy, m2y) = stats.moments(p.fit_intercept);
        let sd_y = var_y.sqrt();
        if sd_y == 0.0 {
            // A constant label: Spark returns zero coefficients and the label as intercept
            // (or all zeros without one).
            let intercept = if p.fit_intercept { my } else { 0.0 };
            return Ok(LinearRegression {
                coef: vec![0.0; d],
                intercept,
                n_iter: 0,
                converged: true,
                objective: 0.0,
            });
        }
        let sd_x: Vec<f64> = var_x.iter().map(|v| v.sqrt()).collect();
        let n = stats.n as f64;
        // The standardised problem's sufficient statistics, scaled back to sums over rows.
        let mut xtx = vec![0.0; d * d];
        let mut xty = vec![0.0; d];
        for a in 0..d {
            if sd_x[a] == 0.0 {
                continue;
            }
            xty[a] = n * cxy[a] / (sd_x[a] * sd_y);
            for b in 0..d {
                if sd_x[b] != 0.0 {
                    xtx[a * d + b] = n * cxx[a * d + b] / (sd_x[a] * sd_x[b]);
                }
            }
        }
        let gram = Gram {
            n: stats.n as usize,
            xtx,
            xty,
            yty: n * m2y / var_y,
        };
        let effective = p.reg_param / sd_y;
        let penalty = Penalty {
            l1: p.elastic_net_param * effective,
            l2: (1.0 - p.elastic_net_param) * effective,
        };
        let stop = Stopping {
            tol: p.tol,
            max_iter: p.max_iter,
        };
        let mut v = vec![0.0; d];
        let out = coordinate_descent_gram(&gram, penalty, stop, &mut v)?;
        // 1/(2n) |Zv - t|² = (tᵀt - 2 vᵀZᵀt + vᵀZᵀZv) / (2n).
        let mut quad = 0.0;
        for a in 0..d {
            for b in 0..d {
                quad += v[a] * gram.xtx[a * d + b] * v[b];
            }
        }
        let lin: f64 = v.iter().zip(&gram.xty).map(|(a, b)| a * b).sum();
        let l1: f64 = v.iter().map(|a| a.abs()).sum();
        let l2: f64 = v.iter().map(|a| a * a).sum();
        let objective =
            (gram.yty - 2.0 * lin + quad) / (2.0 * n) + penalty.l1 * l1 + penalty.l2 / 2.0 * l2;
        let coef: Vec<f64> = (0..d)
            .map(|j| {
                if sd_x[j] == 0.0 {
                    0.0
                } else {
                    v[j] * sd_y / sd_x[j]
                }
            })
            .collect();
        let intercept = if p.fit_intercept {
            my - coef.iter().zip(&mx).map(|(a, b)| a * b).sum::<f64>()
        } else {
            0.0
        };
        if !(intercept.is_finite() && coef.iter().all(|c| c.is_finite())) {
            return Err(MlError::Numerical(
                "linear regression produced non-finite coefficients".into(),
            ));
        }
        Ok(LinearRegression {
            coef,
            intercept,
            n_iter: out.n_iter,
            converged: out.converged,
            objective,
        })
    }

    /// Fits on the rows of `x` with labels `y` (one shard).
    pub fn fit(&self, x: &Rows, y: &[f64]) -> Result<LinearRegression> {
        self.fit_stats(&SufficientStats::of_rows(x, y)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mllib::samples;

    fn spark_example() -> LinearRegressionValidParams {
        LinearRegression::params()
            .reg_param(0.3)
            .elastic_net_param(0.8)
            .check()
            .unwrap()
    }

    #[test]
    fn spark_elastic_net_example_rmse_and_r2() {
        let (x, y) = samples::load("sample_linear_regression_data");
        let stats = SufficientStats::of_rows(&x, &y).unwrap();
        let m = spark_example().fit_stats(&stats).unwrap();
        assert!(m.converged());
        let s = m.summary(&stats).unwrap();
        eprintln!(
            "linear regression: RMSE {:.9} r2 {:.9} objective {:.12} epochs {}",
            s.rmse,
            s.r2,
            m.objective(),
            m.n_iter()
        );
        assert!((s.rmse - 10.189077).abs() < 5e-7, "RMSE {}", s.rmse);
        assert!((s.r2 - 0.022861).abs() < 5e-7, "r2 {}", s.r2);
        // Spark's last objective, and its coefficients to the digits OWL-QN reached.
        assert!(
            (m.objective() - 0.4936351206).abs() < 1e-9,
            "{}",
            m.objective()
        );
        let spark = [
            0.0, 0.322925, -0.343855, 1.915602, 0.052881, 0.765963, 0.0, -0.151054, -0.215879,
            0.220254,
        ];
        for (a, b) in m.coef().iter().zip(spark) {
            assert!((a - b).abs() < 5e-6, "{:?}", m.coef());
        }
        assert!((m.intercept() - 0.159894).abs() < 5e-6);
        // The figures from the statistics are those of the predictions.
        let pred = m.predict(&x).unwrap();
        let mse = pred
            .iter()
            .zip(&y)
            .map(|(p, t)| (p - t).powi(2))
            .sum::<f64>()
            / y.len() as f64;
        assert!((mse.sqrt() - s.rmse).abs() < 1e-9);
    }

    #[test]
    fn spark_max_iter_of_ten_epochs_gives_the_same_figures() {
        let (x, y) = samples::load("sample_linear_regression_data");
        let stats = SufficientStats::of_rows(&x, &y).unwrap();
        let m = LinearRegression::params()
            .reg_param(0.3)
            .elastic_net_param(0.8)
            .max_iter(10)
            .check()
            .unwrap()
            .fit_stats(&stats)
            .unwrap();
        let s = m.summary(&stats).unwrap();
        assert!((s.rmse - 10.189077).abs() < 5e-7, "RMSE {}", s.rmse);
        assert!((s.r2 - 0.022861).abs() < 5e-7, "r2 {}", s.r2);
    }

    #[test]
    fn statistics_of_two_shards_equal_those_of_one() {
        let (x, y) = samples::load("sample_linear_regression_data");
        let whole = SufficientStats::of_rows(&x, &y).unwrap();
        let cut = 200;
        let mut two = SufficientStats::of_rows(&x.slice(0..cut).unwrap(), &y[..cut]).unwrap();
        let rest = x.slice(cut..x.n()).unwrap();
        two.merge(&SufficientStats::of_rows(&rest, &y[cut..]).unwrap())
            .unwrap();
        assert_eq!(two.n(), whole.n());
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()));
        assert!(close(two.sum_y, whole.sum_y) && close(two.yty, whole.yty));
        for (a, b) in [
            (&two.sum_x, &whole.sum_x),
            (&two.xtx, &whole.xtx),
            (&two.xty, &whole.xty),
        ] {
            assert!(a.iter().zip(b).all(|(u, v)| close(*u, *v)));
        }
        let (m1, m2) = (
            spark_example().fit_stats(&whole).unwrap(),
            spark_example().fit_stats(&two).unwrap(),
        );
        assert!(m1.coef().iter().zip(m2.coef()).all(|(a, b)| close(*a, *b)));
        assert!(two.merge(&SufficientStats::zeros(3)).is_err());
        // What comes back from a worker is checked like any input.
        let json = serde_json::to_string(&two).unwrap();
        // (serde_json reads floats to within an ulp, not always exactly.)
        let back: SufficientStats = serde_json::from_str(&json).unwrap();
        assert_eq!((back.n(), back.d()), (two.n(), two.d()));
        assert!(back.xtx.iter().zip(&two.xtx).all(|(u, v)| close(*u, *v)));
        let short = json.replacen("\"xty\":[", "\"xty\":[1.0,", 1);
        assert!(serde_json::from_str::<SufficientStats>(&short).is_err());
    }

    #[test]
    fn without_penalty_it_is_least_squares_and_constant_columns_get_zero() {
        // y = 2 x0 - 3 + 0 x1 (x1 constant).
        let x = Rows::new(4, 2, vec![0., 5., 1., 5., 2., 5., 3., 5.]).unwrap();
        let y = [-3., -1., 1., 3.];
        let m = LinearRegression::params()
            .check()
            .unwrap()
            .fit(&x, &y)
            .unwrap();
        assert!((m.coef()[0] - 2.0).abs() < 1e-9 && m.coef()[1] == 0.0);
        assert!((m.intercept() + 3.0).abs() < 1e-9);
        let stats = SufficientStats::of_rows(&x, &y).unwrap();
        let s = m.summary(&stats).unwrap();
        assert!(s.rmse < 1e-6 && (s.r2 - 1.0).abs() < 1e-9);
        // A constant label: zero coefficients, the label as intercept.
        let c = LinearRegression::params()
            .check()
            .unwrap()
            .fit(&x, &[4.0; 4])
            .unwrap();
        assert_eq!((c.coef(), c.intercept()), (&[0.0, 0.0][..], 4.0));
    }

    #[test]
    fn bad_parameters_and_input_are_errors() {
        for bad in [
            LinearRegression::params().reg_param(-1.0),
            LinearRegression::params().elastic_net_param(1.5),
            LinearRegression::params().max_iter(0),
            LinearRegression::params().tol(0.0),
        ] {
            assert!(matches!(bad.check(), Err(MlError::InvalidParameter { .. })));
        }
        let x = Rows::new(2, 1, vec![0., 1.]).unwrap();
        let p = LinearRegression::params().check().unwrap();
        assert!(matches!(
            p.fit(&x, &[1.0]),
            Err(MlError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            p.fit(&x, &[1.0, f64::NAN]),
            Err(MlError::Numerical(_))
        ));
        assert!(matches!(
            p.fit_stats(&SufficientStats::zeros(1)),
            Err(MlError::EmptyInput(_))
        ));
    }
}
