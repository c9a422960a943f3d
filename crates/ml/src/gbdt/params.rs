//! The settings of a gradient-boosted tree ensemble, with LightGBM's names and defaults, and
//! their validation.

use crate::{MlError, Result};

/// What the ensemble predicts and which loss its trees descend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Squared error on a real target (`regression` / `l2`).
    Regression,
    /// Log-loss on labels 0 and 1 (`binary`).
    Binary,
    /// Softmax log-loss over `n_classes` labels `0..n_classes` (`multiclass`); one tree per
    /// class per iteration.
    Multiclass {
        /// The number of classes (at least 2).
        n_classes: usize,
    },
}

impl Objective {
    /// Trees per iteration: the number of classes for softmax, else one.
    pub fn trees_per_iteration(self) -> usize {
        match self {
            Objective::Multiclass { n_classes } => n_classes,
            _ => 1,
        }
    }

    /// LightGBM's name for the objective.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Regression => "regression",
            Objective::Binary => "binary",
            Objective::Multiclass { .. } => "multiclass",
        }
    }

    /// Parses LightGBM's name (`regression`/`l2`, `binary`, `multiclass`); softmax takes its
    /// class count from `n_classes`.
    pub fn parse(name: &str, n_classes: usize) -> Result<Self> {
        match name {
            "regression" | "l2" | "regression_l2" => Ok(Objective::Regression),
            "binary" => Ok(Objective::Binary),
            "multiclass" | "softmax" => Ok(Objective::Multiclass { n_classes }),
            other => Err(MlError::InvalidParameter {
                name: "objective",
                reason: format!(
                    "unknown objective `{other}`; known objectives: regression, binary, multiclass"
                ),
            }),
        }
    }
}

/// Gradient-boosting settings. The defaults are LightGBM's.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtParams {
    /// The loss (default binary).
    pub objective: Objective,
    /// Boosting iterations (`num_iterations`, default 100).
    pub n_iterations: usize,
    /// Most leaves per tree (`num_leaves`, default 31); trees grow leaf-wise, best gain first.
    pub num_leaves: usize,
    /// Deepest a leaf may be (`max_depth`; `None`, the default, is no limit).
    pub max_depth: Option<usize>,
    /// Shrinkage of each tree's output (`learning_rate`, default 0.1).
    pub learning_rate: f64,
    /// Most bins per feature (`max_bin`, default 255, at most 256).
    pub max_bin: usize,
    /// Fewest rows in a bin (`min_data_in_bin`, default 3): rarer values share a bin with
    /// their neighbours. The bin of 0.0 is always its own.
    pub min_data_in_bin: usize,
    /// Fewest rows in a leaf (`min_data_in_leaf`, default 20). A feature none of whose
    /// thresholds leaves this many rows on both sides over the whole training set can never
    /// split, and gets one bin (LightGBM's `feature_pre_filter`).
    pub min_data_in_leaf: usize,
    /// Smallest hessian sum in a leaf (`min_sum_hessian_in_leaf`, default 1e-3).
    pub min_sum_hessian_in_leaf: f64,
    /// L2 penalty on leaf outputs (`lambda_l2`, default 0).
    pub lambda_l2: f64,
    /// Smallest gain worth a split (`min_gain_to_split`, default 0).
    pub min_gain_to_split: f64,
    /// Share of the features each tree may split on, drawn per tree (`feature_fraction`,
    /// default 1).
    pub feature_fraction: f64,
    /// Share of the rows each bagging draw keeps (`bagging_fraction`, default 1).
    pub bagging_fraction: f64,
    /// Redraw the bag every this many iterations (`bagging_freq`; 0, the default, is no
    /// bagging).
    pub bagging_freq: usize,
    /// Seed of the feature and row draws (default 0).
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            objective: Objective::Binary,
            n_iterations: 100,
            num_leaves: 31,
            max_depth: None,
            learning_rate: 0.1,
            max_bin: 255,
            min_data_in_bin: 3,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            lambda_l2: 0.0,
            min_gain_to_split: 0.0,
            feature_fraction: 1.0,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            seed: 0,
        }
    }
}

fn invalid(name: &'static str, reason: String) -> MlError {
    MlError::InvalidParameter { name, reason }
}

impl GbdtParams {
    /// Checks every setting, naming the first one out of range.
    pub fn check(&self) -> Result<()> {
        if let Objective::Multiclass { n_classes } = self.objective
            && n_classes < 2
        {
            return Err(invalid(
                "objective",
                format!("multiclass needs at least 2 classes, got {n_classes}"),
            ));
        }
        if self.n_iterations == 0 {
            return Err(invalid("num_iterations", "must be at least 1".into()));
        }
        if !(2..=131_072).contains(&self.num_leaves) {
            return Err(invalid(
                "num_leaves",
                format!("must be in 2..=131072, got {}", self.num_leaves),
            ));
        }
        if self.max_depth == Some(0) {
            return Err(invalid("max_depth", "must be at least 1 when set".into()));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(invalid(
                "learning_rate",
                format!("must be a positive number, got {}", self.learning_rate),
            ));
        }
        if !(2..=256).contains(&self.max_bin) {
            return Err(invalid(
                "max_bin",
                format!("must be in 2..=256, got {}", self.max_bin),
            ));
        }
        if self.min_data_in_bin == 0 {
            return Err(invalid("min_data_in_bin", "must be at least 1".into()));
        }
        if self.min_data_in_leaf == 0 {
            return Err(invalid("min_data_in_leaf", "must be at least 1".into()));
        }
        for (name, v) in [
            ("min_sum_hessian_in_leaf", self.min_sum_hessian_in_leaf),
            ("lambda_l2", self.lambda_l2),
            ("min_gain_to_split", self.min_gain_to_split),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(
                    name,
                    format!("must be a finite number >= 0, got {v}"),
                ));
            }
        }
        for (name, v) in [
            ("feature_fraction", self.feature_fraction),
            ("bagging_fraction", self.bagging_fraction),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(invalid(name, format!("must be in (0, 1], got {v}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_lightgbm_s_and_valid() {
        let p = GbdtParams::default();
        p.check().unwrap();
        assert_eq!((p.num_leaves, p.min_data_in_leaf, p.max_bin), (31, 20, 255));
    }

    #[test]
    fn each_bad_setting_is_named() {
        let cases: Vec<(GbdtParams, &str)> = vec![
            (
                GbdtParams {
                    num_leaves: 1,
                    ..Default::default()
                },
                "num_leaves",
            ),
            (
                GbdtParams {
                    learning_rate: f64::NAN,
                    ..Default::default()
                },
                "learning_rate",
            ),
            (
                GbdtParams {
                    max_bin: 300,
                    ..Default::default()
                },
                "max_bin",
            ),
            (
                GbdtParams {
                    feature_fraction: 0.0,
                    ..Default::default()
                },
                "feature_fraction",
            ),
            (
                GbdtParams {
                    bagging_fraction: 1.5,
                    ..Default::default()
                },
                "bagging_fraction",
            ),
            (
                GbdtParams {
                    lambda_l2: -1.0,
                    ..Default::default()
                },
                "lambda_l2",
            ),
            (
                GbdtParams {
                    objective: Objective::Multiclass { n_classes: 1 },
                    ..Default::default()
                },
                "objective",
            ),
        ];
        for (p, name) in cases {
            let e = p.check().unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
        assert!(
            Objective::parse("poisson", 2)
                .unwrap_err()
                .to_string()
                .contains("poisson")
        );
    }
}
