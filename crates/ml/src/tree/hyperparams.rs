//! Tree hyperparameters in the linfa "param guard" style: the unchecked
//! [`DecisionTreeParams`] / [`DecisionTreeRegressorParams`] /
//! [`GradientTreeParams`] (plain structs with builder methods and serde
//! defaults, so an [`crate::Algorithm`] can be read from a config) and
//! their validated counterparts, plus [`MaxFeatures`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::grow::GrowLimits;
use crate::binning::MAX_BINS;
use crate::{MlError, Result};

/// How many features to consider at each split.
///
/// As text (serde, `FromStr`, `Display`, and so a command-line value):
/// `sqrt`, `log2`, `all`, an integer count (`7`) or a fraction with a
/// decimal point or exponent (`0.5`, `1.0`). In JSON a bare number works
/// too: an integer is a count, any other number a fraction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFeatures {
    /// `max(1, floor(sqrt(d)))` (the classification default).
    Sqrt,
    /// `max(1, floor(log2(d)))`.
    Log2,
    /// All `d` features (a plain, non-randomised tree; the regression default).
    All,
    /// `max(1, floor(f * d))` for `f` in `(0, 1]`.
    Fraction(f32),
    /// A fixed count, clamped to `d`.
    Count(usize),
}

impl MaxFeatures {
    /// Checks that the setting is meaningful independently of the data.
    pub fn check(self) -> Result<Self> {
        match self {
            MaxFeatures::Fraction(f) if !(f > 0.0 && f <= 1.0) => Err(MlError::InvalidParameter {
                name: "max_features",
                reason: format!("fraction must be in (0, 1], got {f}"),
            }),
            MaxFeatures::Count(0) => Err(MlError::InvalidParameter {
                name: "max_features",
                reason: "count must be at least 1".into(),
            }),
            other => Ok(other),
        }
    }

    /// Resolves the setting to a count in `1..=d` (for `d >= 1`).
    pub fn resolve(self, d: usize) -> usize {
        let k = match self {
            MaxFeatures::Sqrt => (d as f64).sqrt().floor() as usize,
            MaxFeatures::Log2 => (d as f64).log2().floor() as usize,
            MaxFeatures::All => d,
            MaxFeatures::Fraction(f) => (f as f64 * d as f64).floor() as usize,
            MaxFeatures::Count(c) => c,
        };
        k.clamp(1, d.max(1))
    }
}

impl fmt::Display for MaxFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxFeatures::Sqrt => f.write_str("sqrt"),
            MaxFeatures::Log2 => f.write_str("log2"),
            MaxFeatures::All => f.write_str("all"),
            // Debug keeps a decimal point or exponent ("1.0"), so the text
            // parses back as a fraction rather than a count.
            MaxFeatures::Fraction(x) => write!(f, "{x:?}"),
            MaxFeatures::Count(c) => write!(f, "{c}"),
        }
    }
}

impl FromStr for MaxFeatures {
    type Err = MlError;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        match t {
            "sqrt" => return Ok(MaxFeatures::Sqrt),
            "log2" => return Ok(MaxFeatures::Log2),
            "all" => return Ok(MaxFeatures::All),
            _ => {}
        }
        if let Ok(c) = t.parse::<usize>() {
            return Ok(MaxFeatures::Count(c));
        }
        match t.parse::<f32>() {
            Ok(x) if x.is_finite() => Ok(MaxFeatures::Fraction(x)),
            _ => Err(MlError::InvalidParameter {
                name: "max_features",
                reason: format!(
                    "`{s}` is not `sqrt`, `log2`, `all`, a count or a fraction such as 0.5"
                ),
            }),
        }
    }
}

impl Serialize for MaxFeatures {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MaxFeatures {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = MaxFeatures;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"sqrt\", \"log2\", \"all\", an integer count or a fraction")
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<Self::Value, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
                usize::try_from(v)
                    .map(MaxFeatures::Count)
                    .map_err(|_| E::custom(format!("max_features count {v} is too large")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
                usize::try_from(v)
                    .map(MaxFeatures::Count)
                    .map_err(|_| E::custom(format!("max_features count {v} is negative")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
                Ok(MaxFeatures::Fraction(v as f32))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Tree-growing hyperparameters shared by every tree and forest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TreeConfig {
    pub(crate) max_depth: usize,
    pub(crate) min_samples_split: usize,
    pub(crate) min_samples_leaf: usize,
    pub(crate) max_features: MaxFeatures,
    pub(crate) n_bins: usize,
    pub(crate) seed: u64,
}

impl TreeConfig {
    pub(crate) fn check(self) -> Result<Self> {
        if self.max_depth == 0 {
            return Err(MlError::InvalidParameter {
                name: "max_depth",
                reason: "must be at least 1".into(),
            });
        }
        if self.min_samples_split < 2 {
            return Err(MlError::InvalidParameter {
                name: "min_samples_split",
                reason: format!("must be at least 2, got {}", self.min_samples_split),
            });
        }
        if self.min_samples_leaf == 0 {
            return Err(MlError::InvalidParameter {
                name: "min_samples_leaf",
                reason: "must be at least 1".into(),
            });
        }
        if !(2..=MAX_BINS).contains(&self.n_bins) {
            return Err(MlError::InvalidParameter {
                name: "n_bins",
                reason: format!("must be in 2..={MAX_BINS}, got {}", self.n_bins),
            });
        }
        self.max_features.check()?;
        Ok(self)
    }

    pub(crate) fn limits(&self) -> GrowLimits {
        GrowLimits {
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split,
            max_features: self.max_features,
        }
    }
}

/// Unchecked hyperparameters of a Gini classification tree; see
/// [`super::DecisionTree::params`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DecisionTreeParams {
    /// Maximum depth (the root has depth 0); at least 1.
    pub max_depth: usize,
    /// Minimum number of distinct samples a node needs to be split; at least 2.
    pub min_samples_split: usize,
    /// Features considered per split.
    pub max_features: MaxFeatures,
    /// Maximum number of bins per feature, in `2..=256`.
    pub n_bins: usize,
    /// Seed of the feature draws (the tree uses the generator of tree 0 of a forest).
    pub seed: u64,
}

impl Default for DecisionTreeParams {
    fn default() -> Self {
        Self {
            max_depth: 10,
            min_samples_split: 2,
            max_features: MaxFeatures::All,
            n_bins: MAX_BINS,
            seed: 0,
        }
    }
}

impl DecisionTreeParams {
    /// Maximum depth (root has depth 0); must be >= 1.
    pub fn max_depth(mut self, v: usize) -> Self {
        self.max_depth = v;
        self
    }
    /// Minimum number of samples a node needs to be split; must be >= 2.
    pub fn min_samples_split(mut self, v: usize) -> Self {
        self.min_samples_split = v;
        self
    }
    /// Features considered per split.
    pub fn max_features(mut self, v: MaxFeatures) -> Self {
        self.max_features = v;
        self
    }
    /// Maximum number of bins per feature, in `2..=256`.
    pub fn n_bins(mut self, v: usize) -> Self {
        self.n_bins = v;
        self
    }
    /// Seed for feature sampling (the tree uses the same generator as tree 0 of a forest).
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<DecisionTreeValidParams> {
        Ok(DecisionTreeValidParams(
            TreeConfig {
                max_depth: self.max_depth,
                min_samples_split: self.min_samples_split,
                min_samples_leaf: 1,
                max_features: self.max_features,
                n_bins: self.n_bins,
                seed: self.seed,
            }
            .check()?,
        ))
    }
}

/// Validated Gini classification tree hyperparameters; fits through
/// [`crate::Fit`] or [`DecisionTreeValidParams::fit_labels`].
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTreeValidParams(pub(crate) TreeConfig);

/// Unchecked hyperparameters of a variance-reduction regression tree; see
/// [`super::DecisionTreeRegressor::params`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DecisionTreeRegressorParams {
    /// Maximum depth (the root has depth 0); at least 1.
    pub max_depth: usize,
    /// Minimum number of distinct samples a node needs to be split; at least 2.
    pub min_samples_split: usize,
    /// Minimum number of distinct samples in each child of a split; at least 1.
    pub min_samples_leaf: usize,
    /// Features considered per split.
    pub max_features: MaxFeatures,
    /// Maximum number of bins per feature, in `2..=256`.
    pub n_bins: usize,
    /// Seed of the feature draws.
    pub seed: u64,
}

impl Default for DecisionTreeRegressorParams {
    fn default() -> Self {
        Self {
            max_depth: 10,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::All,
            n_bins: MAX_BINS,
            seed: 0,
        }
    }
}

impl DecisionTreeRegressorParams {
    /// Maximum depth (root has depth 0); must be >= 1.
    pub fn max_depth(mut self, v: usize) -> Self {
        self.max_depth = v;
        self
    }
    /// Minimum number of distinct samples a node needs to be split; must be >= 2.
    pub fn min_samples_split(mut self, v: usize) -> Self {
        self.min_samples_split = v;
        self
    }
    /// Minimum number of distinct samples in each child of a split; must be >= 1.
    pub fn min_samples_leaf(mut self, v: usize) -> Self {
        self.min_samples_leaf = v;
        self
    }
    /// Features considered per split.
    pub fn max_features(mut self, v: MaxFeatures) -> Self {
        self.max_features = v;
        self
    }
    /// Maximum number of bins per feature, in `2..=256`.
    pub fn n_bins(mut self, v: usize) -> Self {
        self.n_bins = v;
        self
    }
    /// Seed for feature sampling.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<DecisionTreeRegressorValidParams> {
        Ok(DecisionTreeRegressorValidParams(
            TreeConfig {
                max_depth: self.max_depth,
                min_samples_split: self.min_samples_split,
                min_samples_leaf: self.min_samples_leaf,
                max_features: self.max_features,
                n_bins: self.n_bins,
                seed: self.seed,
            }
            .check()?,
        ))
    }
}

/// Validated regression tree hyperparameters; fits through [`crate::Fit`]
/// or [`DecisionTreeRegressorValidParams::fit_targets`].
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTreeRegressorValidParams(pub(crate) TreeConfig);

/// Unchecked hyperparameters of one gradient/hessian tree, the building
/// block of gradient boosting.
///
/// Defaults: max_depth 6, min_data_in_leaf 20, min_sum_hessian_in_leaf
/// 1e-3, lambda 0, min_gain_to_split 0, all features, seed 0 (LightGBM's
/// defaults for the settings the two share).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GradientTreeParams {
    /// Maximum depth (the root has depth 0); at least 1.
    pub max_depth: usize,
    /// Minimum number of samples in each child of a split; at least 1.
    pub min_data_in_leaf: usize,
    /// Minimum sum of hessians in each child of a split; at least 0.
    pub min_sum_hessian_in_leaf: f64,
    /// L2 regularisation `λ` of the leaf values; at least 0, and above 0
    /// when `min_sum_hessian_in_leaf` is 0 (else a leaf could divide by 0).
    pub lambda: f64,
    /// A split is made only when its gain exceeds this; at least 0.
    pub min_gain_to_split: f64,
    /// Features considered per split.
    pub max_features: MaxFeatures,
    /// Seed of the feature draws.
    pub seed: u64,
}

impl Default for GradientTreeParams {
    fn default() -> Self {
        Self {
            max_depth: 6,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            lambda: 0.0,
            min_gain_to_split: 0.0,
            max_features: MaxFeatures::All,
            seed: 0,
        }
    }
}

impl GradientTreeParams {
    /// Maximum depth (root has depth 0); must be >= 1.
    pub fn max_depth(mut self, v: usize) -> Self {
        self.max_depth = v;
        self
    }
    /// Minimum number of samples in each child; must be >= 1.
    pub fn min_data_in_leaf(mut self, v: usize) -> Self {
        self.min_data_in_leaf = v;
        self
    }
    /// Minimum sum of hessians in each child; must be >= 0.
    pub fn min_sum_hessian_in_leaf(mut self, v: f64) -> Self {
        self.min_sum_hessian_in_leaf = v;
        self
    }
    /// L2 regularisation `λ`; must be >= 0.
    pub fn lambda(mut self, v: f64) -> Self {
        self.lambda = v;
        self
    }
    /// Minimum gain of a split; must be >= 0.
    pub fn min_gain_to_split(mut self, v: f64) -> Self {
        self.min_gain_to_split = v;
        self
    }
    /// Features considered per split.
    pub fn max_features(mut self, v: MaxFeatures) -> Self {
        self.max_features = v;
        self
    }
    /// Seed for feature sampling.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<GradientTreeValidParams> {
        let bad = |name, reason: String| Err(MlError::InvalidParameter { name, reason });
        if self.max_depth == 0 {
            return bad("max_depth", "must be at least 1".into());
        }
        if self.min_data_in_leaf == 0 {
            return bad("min_data_in_leaf", "must be at least 1".into());
        }
        let finite_nonneg = |v: f64| v.is_finite() && v >= 0.0;
        for (name, v) in [
            ("min_sum_hessian_in_leaf", self.min_sum_hessian_in_leaf),
            ("lambda", self.lambda),
            ("min_gain_to_split", self.min_gain_to_split),
        ] {
            if !finite_nonneg(v) {
                return bad(name, format!("must be a finite number >= 0, got {v}"));
            }
        }
        if self.lambda == 0.0 && self.min_sum_hessian_in_leaf == 0.0 {
            return bad(
                "lambda",
                "lambda and min_sum_hessian_in_leaf cannot both be 0 (a leaf could divide by 0)"
                    .into(),
            );
        }
        self.max_features.check()?;
        Ok(GradientTreeValidParams(self))
    }
}

/// Validated gradient tree hyperparameters; grows trees with
/// [`GradientTreeValidParams::grow`].
#[derive(Debug, Clone, PartialEq)]
pub struct GradientTreeValidParams(pub(crate) GradientTreeParams);
