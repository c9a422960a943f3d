//! Forest hyperparameters in the linfa "param guard" style: the unchecked
//! [`RandomForestParams`] / [`RandomForestRegressorParams`] (plain structs
//! with builder methods and serde defaults, so an [`crate::Algorithm`] can
//! be read from a config) and their validated counterparts.

use serde::{Deserialize, Serialize};

use crate::binning::MAX_BINS;
use crate::tree::{MaxFeatures, TreeConfig};
use crate::{MlError, Result};

/// Unchecked random forest classifier hyperparameters; see
/// [`super::RandomForest::params`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RandomForestParams {
    /// Number of trees; at least 1.
    pub n_trees: usize,
    /// Maximum tree depth (the root has depth 0); at least 1.
    pub max_depth: usize,
    /// Minimum number of distinct samples a node needs to be split; at least 2.
    pub min_samples_split: usize,
    /// Features considered per split.
    pub max_features: MaxFeatures,
    /// Whether each tree trains on a bootstrap sample (else on all rows).
    pub bootstrap: bool,
    /// Maximum number of bins per feature, in `2..=256`.
    pub n_bins: usize,
    /// Base seed; tree `t` uses `seed ^ splitmix64(t)`.
    pub seed: u64,
}

impl Default for RandomForestParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_depth: 10,
            min_samples_split: 5,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            n_bins: MAX_BINS,
            seed: 0,
        }
    }
}

/// Validated random forest classifier hyperparameters; fits through
/// [`crate::Fit`] or [`RandomForestValidParams::fit_labels`].
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForestValidParams {
    pub(crate) n_trees: usize,
    pub(crate) bootstrap: bool,
    pub(crate) tree: TreeConfig,
}

impl RandomForestParams {
    /// Number of trees (>= 1).
    pub fn n_trees(mut self, v: usize) -> Self {
        self.n_trees = v;
        self
    }
    /// Maximum tree depth (>= 1; the root has depth 0).
    pub fn max_depth(mut self, v: usize) -> Self {
        self.max_depth = v;
        self
    }
    /// Minimum number of distinct samples a node needs to be split (>= 2).
    pub fn min_samples_split(mut self, v: usize) -> Self {
        self.min_samples_split = v;
        self
    }
    /// Features considered per split.
    pub fn max_features(mut self, v: MaxFeatures) -> Self {
        self.max_features = v;
        self
    }
    /// Whether each tree trains on a bootstrap sample (else on all rows).
    pub fn bootstrap(mut self, v: bool) -> Self {
        self.bootstrap = v;
        self
    }
    /// Base seed; tree `t` uses `seed ^ splitmix64(t)`.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Maximum number of bins per feature, in `2..=256`.
    pub fn n_bins(mut self, v: usize) -> Self {
        self.n_bins = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<RandomForestValidParams> {
        check_n_trees(self.n_trees)?;
        Ok(RandomForestValidParams {
            n_trees: self.n_trees,
            bootstrap: self.bootstrap,
            tree: TreeConfig {
                max_depth: self.max_depth,
                min_samples_split: self.min_samples_split,
                min_samples_leaf: 1,
                max_features: self.max_features,
                n_bins: self.n_bins,
                seed: self.seed,
            }
            .check()?,
        })
    }
}

fn check_n_trees(n_trees: usize) -> Result<()> {
    if n_trees == 0 {
        return Err(MlError::InvalidParameter {
            name: "n_trees",
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}

impl RandomForestValidParams {
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }
}

/// Unchecked random forest regressor hyperparameters; see
/// [`super::RandomForestRegressor::params`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RandomForestRegressorParams {
    /// Number of trees; at least 1.
    pub n_trees: usize,
    /// Maximum tree depth (the root has depth 0); at least 1.
    pub max_depth: usize,
    /// Minimum number of distinct samples a node needs to be split; at least 2.
    pub min_samples_split: usize,
    /// Minimum number of distinct samples in each child of a split; at least 1.
    pub min_samples_leaf: usize,
    /// Features considered per split.
    pub max_features: MaxFeatures,
    /// Whether each tree trains on a bootstrap sample (else on all rows).
    pub bootstrap: bool,
    /// Maximum number of bins per feature, in `2..=256`.
    pub n_bins: usize,
    /// Base seed; tree `t` uses `seed ^ splitmix64(t)`.
    pub seed: u64,
}

impl Default for RandomForestRegressorParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_depth: 10,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::All,
            bootstrap: true,
            n_bins: MAX_BINS,
            seed: 0,
        }
    }
}

/// Validated random forest regressor hyperparameters; fits through
/// [`crate::Fit`] or [`RandomForestRegressorValidParams::fit_targets`].
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForestRegressorValidParams {
    pub(crate) n_trees: usize,
    pub(crate) bootstrap: bool,
    pub(crate) tree: TreeConfig,
}

impl RandomForestRegressorParams {
    /// Number of trees (>= 1).
    pub fn n_trees(mut self, v: usize) -> Self {
        self.n_trees = v;
        self
    }
    /// Maximum tree depth (>= 1; the root has depth 0).
    pub fn max_depth(mut self, v: usize) -> Self {
        self.max_depth = v;
        self
    }
    /// Minimum number of distinct samples a node needs to be split (>= 2).
    pub fn min_samples_split(mut self, v: usize) -> Self {
        self.min_samples_split = v;
        self
    }
    /// Minimum number of distinct samples in each child of a split (>= 1).
    pub fn min_samples_leaf(mut self, v: usize) -> Self {
        self.min_samples_leaf = v;
        self
    }
    /// Features considered per split.
    pub fn max_features(mut self, v: MaxFeatures) -> Self {
        self.max_features = v;
        self
    }
    /// Whether each tree trains on a bootstrap sample (else on all rows).
    pub fn bootstrap(mut self, v: bool) -> Self {
        self.bootstrap = v;
        self
    }
    /// Base seed; tree `t` uses `seed ^ splitmix64(t)`.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Maximum number of bins per feature, in `2..=256`.
    pub fn n_bins(mut self, v: usize) -> Self {
        self.n_bins = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<RandomForestRegressorValidParams> {
        check_n_trees(self.n_trees)?;
        Ok(RandomForestRegressorValidParams {
            n_trees: self.n_trees,
            bootstrap: self.bootstrap,
            tree: TreeConfig {
                max_depth: self.max_depth,
                min_samples_split: self.min_samples_split,
                min_samples_leaf: self.min_samples_leaf,
                max_features: self.max_features,
                n_bins: self.n_bins,
                seed: self.seed,
            }
            .check()?,
        })
    }
}

impl RandomForestRegressorValidParams {
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }
}
