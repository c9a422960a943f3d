//! Spark's `RandomForestClassifierExample`: index the categorical features
//! (`VectorIndexer(maxCategories = 4)`), split the rows 70/30 at random, train a random forest
//! of 10 trees on the 70% and report the test error on the 30%.
//!
//! The forest is [`crate::forest::RandomForest`] with Spark's defaults for a classifier:
//! depth 5, 32 bins, `sqrt(d)` features per split (`featureSubsetStrategy` auto), bootstrap
//! samples, Gini impurity, one row per leaf at least. Categorical features are split
//! ordinally on their categories' Breiman ranks ([`super::categorical`]).
//!
//! [`ForestExampleValidParams::prepare`] does what Spark's driver does before training
//! (categories detected on all rows, as Spark's example fits its indexer before splitting;
//! the split; the ranks fitted on the training rows); [`ForestExampleValidParams::fit_trees`]
//! trains any range of the trees on the whole training split — tree `t` is seeded by `t`, so
//! `W` functions training a share each give the forest one function would —; and
//! [`test_error`] scores it.

use serde::{Deserialize, Serialize};

use super::Rows;
use super::categorical::{BreimanOrder, CategoricalFeatures};
use super::split::random_split;
use crate::forest::{RandomForest, RandomForestValidParams};
use crate::tree::MaxFeatures;
use crate::{MlError, Result};

/// Unchecked settings of the example; see [`ForestExample::params`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ForestExampleParams {
    /// Number of trees; at least 1.
    pub n_trees: usize,
    /// Maximum tree depth; at least 1.
    pub max_depth: usize,
    /// Bins per continuous feature (Spark's `maxBins`), in `2..=256`.
    pub max_bins: usize,
    /// Features with at most this many distinct values are categorical; at least 2.
    pub max_categories: usize,
    /// Share of the rows that train, in `(0, 1)`.
    pub train_fraction: f64,
    /// Seed of the split and of the trees.
    pub seed: u64,
}

impl Default for ForestExampleParams {
    fn default() -> Self {
        Self {
            n_trees: 10,
            max_depth: 5,
            max_bins: 32,
            max_categories: 4,
            train_fraction: 0.7,
            seed: 1,
        }
    }
}

impl ForestExampleParams {
    /// Number of trees (>= 1).
    pub fn n_trees(mut self, v: usize) -> Self {
        self.n_trees = v;
        self
    }
    /// Maximum tree depth (>= 1).
    pub fn max_depth(mut self, v: usize) -> Self {
        self.max_depth = v;
        self
    }
    /// Features with at most this many distinct values are categorical (>= 2).
    pub fn max_categories(mut self, v: usize) -> Self {
        self.max_categories = v;
        self
    }
    /// Share of the rows that train, in `(0, 1)`.
    pub fn train_fraction(mut self, v: f64) -> Self {
        self.train_fraction = v;
        self
    }
    /// Seed of the split and of the trees.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Validates the settings.
    pub fn check(self) -> Result<ForestExampleValidParams> {
        if self.max_categories < 2 {
            return Err(MlError::InvalidParameter {
                name: "max_categories",
                reason: format!("must be at least 2, got {}", self.max_categories),
            });
        }
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            return Err(MlError::InvalidParameter {
                name: "train_fraction",
                reason: format!("must be in (0, 1), got {}", self.train_fraction),
            });
        }
        let forest = RandomForest::params()
            .n_trees(self.n_trees)
            .max_depth(self.max_depth)
            .min_samples_split(2)
            .max_features(MaxFeatures::Sqrt)
            .bootstrap(true)
            .n_bins(self.max_bins)
            .seed(self.seed)
            .check()?;
        Ok(ForestExampleValidParams {
            params: self,
            forest,
        })
    }
}

/// Validated settings of the example.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestExampleValidParams {
    params: ForestExampleParams,
    forest: RandomForestValidParams,
}

/// The rows after the driver's preparation: split, categorical values replaced by ranks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedSplit {
    /// Training rows.
    pub train_x: Rows,
    /// Training labels.
    pub train_y: Vec<u32>,
    /// Test rows.
    pub test_x: Rows,
    /// Test labels.
    pub test_y: Vec<u32>,
    /// Number of classes.
    pub n_classes: usize,
    /// The indices of the categorical features.
    pub categorical: Vec<usize>,
}

/// The outcome of the example.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestExample {
    /// The forest.
    pub forest: RandomForest,
    /// Share of the test rows misclassified.
    pub test_error: f64,
    /// Training rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// The indices of the categorical features.
    pub categorical: Vec<usize>,
}

impl ForestExample {
    /// Default (unchecked) settings, Spark's example's: 10 trees, depth 5, 32 bins, at most 4
    /// categories, a 70/30 split; seed 1.
    pub fn params() -> ForestExampleParams {
        ForestExampleParams::default()
    }
}

/// Class labels from real-valued ones: each must be a whole number in `0..65536` (Spark's
/// classifiers need labels `0, 1, ..., k-1`); returns them and the number of classes (the
/// largest plus one, at least 2).
pub fn class_labels(y: &[f64]) -> Result<(Vec<u32>, usize)> {
    let mut labels = Vec::with_capacity(y.len());
    for (row, &v) in y.iter().enumerate() {
        if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 65536.0) {
            return Err(MlError::InvalidParameter {
                name: "labels",
                reason: format!(
                    "row {row} has label {v}; a classifier needs whole-number labels 0, 1, ..."
                ),
            });
        }
        labels.push(v as u32);
    }
    let n_classes = labels.iter().max().map_or(2, |&m| (m as usize + 1).max(2));
    Ok((labels, n_classes))
}

/// Share of the rows of `x` that `forest` misclassifies.
pub fn test_error(forest: &RandomForest, x: &Rows, y: &[u32]) -> Result<f64> {
    if y.len() != x.n() {
        return Err(MlError::ShapeMismatch {
            what: "labels".into(),
            expected: x.n(),
            got: y.len(),
        });
    }
    if y.is_empty() {
        return Err(MlError::EmptyInput("no test rows".into()));
    }
    let pred = forest.predict_classes(x.to_matrix()?.view())?;
    let wrong = pred.iter().zip(y).filter(|(p, t)| p != t).count();
    Ok(wrong as f64 / y.len() as f64)
}

impl ForestExampleValidParams {
    /// The settings.
    pub fn params(&self) -> &ForestExampleParams {
        &self.params
    }

    /// The driver's preparation of the rows `x` with labels `y` (below `n_classes`).
    pub fn prepare(&self, x: &Rows, y: &[u32], n_classes: usize) -> Result<PreparedSplit> {
        if y.len() != x.n() {
            return Err(MlError::ShapeMismatch {
                what: "labels".into(),
                expected: x.n(),
                got: y.len(),
            });
        }
        let cats = CategoricalFeatures::detect(x, self.params.max_categories)?;
        let (train, test) = random_split(x.n(), self.params.train_fraction, self.params.seed)?;
        if train.is_empty() || test.is_empty() {
            return Err(MlError::EmptyInput(format!(
                "the {}/{} split of {} rows left one side empty",
                self.params.train_fraction,
                1.0 - self.params.train_fraction,
                x.n()
            )));
        }
        let (train_x, test_x) = (x.select(&train)?, x.select(&test)?);
        let train_y: Vec<u32> = train.iter().map(|&i| y[i]).collect();
        let test_y: Vec<u32> = test.iter().map(|&i| y[i]).collect();
        let order = BreimanOrder::fit(&cats, &train_x, &train_y, n_classes)?;
        Ok(PreparedSplit {
            train_x: order.transform(&train_x)?,
            train_y,
            test_x: order.transform(&test_x)?,
            test_y,
            n_classes,
            categorical: cats.categorical(),
        })
    }

    /// Trains the trees `trees` (of `0..n_trees`) on prepared training rows `x` (labels `y`
    /// below `n_classes`). The trees are `f32` ones: the ranks, and the integer pixel values
    /// of Spark's samples, are exact in `f32`.
    pub fn fit_trees(
        &self,
        x: &Rows,
        y: &[u32],
        n_classes: usize,
        trees: std::ops::Range<usize>,
    ) -> Result<RandomForest> {
        self.forest
            .fit_tree_range(x.to_matrix()?.view(), y, n_classes, trees)
    }

    /// The whole example on one machine: prepare, train every tree, score.
    pub fn run(&self, x: &Rows, y: &[u32], n_classes: usize) -> Result<ForestExample> {
        let split = self.prepare(x, y, n_classes)?;
        let forest = self.fit_trees(
            &split.train_x,
            &split.train_y,
            split.n_classes,
            0..self.params.n_trees,
        )?;
        let test_error = test_error(&forest, &split.test_x, &split.test_y)?;
        Ok(ForestExample {
            forest,
            test_error,
            n_train: split.train_y.len(),
            n_test: split.test_y.len(),
            categorical: split.categorical,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mllib::samples;

    #[test]
    fn spark_random_forest_example_test_error() {
        let (x, y) = samples::load("sample_libsvm_data");
        let (labels, n_classes) = class_labels(&y).unwrap();
        assert_eq!(n_classes, 2);
        let p = ForestExample::params().check().unwrap();
        let out = p.run(&x, &labels, n_classes).unwrap();
        assert_eq!(out.n_train + out.n_test, 100);
        assert_eq!(out.forest.n_trees(), 10);
        eprintln!(
            "random forest: test error {} on {} test rows ({} training), {} categorical features",
            out.test_error,
            out.n_test,
            out.n_train,
            out.categorical.len()
        );
        assert!(out.test_error <= 0.05, "test error {}", out.test_error);
        assert!(!out.categorical.is_empty());
        // Trained in parts (as W functions do), the forest is the same.
        let split = p.prepare(&x, &labels, n_classes).unwrap();
        let (x, y) = (&split.train_x, &split.train_y);
        let parts = vec![
            p.fit_trees(x, y, 2, 0..3).unwrap(),
            p.fit_trees(x, y, 2, 3..7).unwrap(),
            p.fit_trees(x, y, 2, 7..10).unwrap(),
        ];
        assert_eq!(RandomForest::concat(parts).unwrap(), out.forest);
    }

    #[test]
    fn labels_that_are_not_classes_are_errors() {
        assert_eq!(class_labels(&[0.0, 2.0, 1.0]).unwrap(), (vec![0, 2, 1], 3));
        assert_eq!(class_labels(&[0.0, 0.0]).unwrap().1, 2);
        for bad in [[0.5f64], [-1.0], [f64::NAN]] {
            assert!(class_labels(&bad).is_err());
        }
        assert!(ForestExample::params().train_fraction(1.0).check().is_err());
        assert!(ForestExample::params().max_categories(1).check().is_err());
        assert!(ForestExample::params().n_trees(0).check().is_err());
    }
}
