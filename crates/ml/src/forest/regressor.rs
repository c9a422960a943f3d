//! The random forest regressor, [`RandomForestRegressor`]: bagged
//! variance-reduction trees whose prediction is the mean of the trees'
//! leaf values (see the [`super`] module docs for training, determinism
//! and prediction).

use rayon::prelude::*;

use super::ForestParts;
use super::flat::FlatForest;
use super::hyperparams::{RandomForestRegressorParams, RandomForestRegressorValidParams};
use crate::binning::FeatureBinner;
use crate::persist::{ModelTensors, Persist};
use crate::tree::{
    DecisionTreeRegressor, bootstrap_counts, check_fit_targets, check_predict_input,
    grow_regression, tree_rng,
};
use crate::{Dataset, Fit, MatrixView, MlError, Predict, Prediction, Result};

/// A fitted random forest regressor.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForestRegressor {
    n_features: usize,
    trees: Vec<DecisionTreeRegressor>,
    /// Traversal layout derived from `trees` (rebuilt by `fit`/`from_parts`).
    flat: FlatForest,
}

impl RandomForestRegressor {
    /// Default (unchecked) parameters: n_trees 100, max_depth 10,
    /// min_samples_split 2, min_samples_leaf 1, all features (scikit-learn's
    /// regression default), bootstrap on, seed 0, 256 bins.
    pub fn params() -> RandomForestRegressorParams {
        RandomForestRegressorParams::default()
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The fitted trees.
    pub fn trees(&self) -> &[DecisionTreeRegressor] {
        &self.trees
    }

    /// Mean of the trees' predictions for each row of `x`.
    pub fn predict_values(&self, x: MatrixView<'_>) -> Result<Vec<f32>> {
        check_predict_input(x, self.n_features)?;
        Ok(self.flat.predict(x))
    }

    /// Flattens the forest into [`ForestParts`] (`n_classes` = 1).
    pub fn to_parts(&self) -> ForestParts {
        ForestParts::from_trees(self.n_features, 1, self.trees.iter().map(|t| &t.0))
    }

    /// Rebuilds a forest from [`ForestParts`], validating every array and node.
    pub fn from_parts(p: ForestParts) -> Result<Self> {
        if p.n_classes != 1 {
            return Err(MlError::CorruptModel(format!(
                "a regression forest has 1 value per node, not {}",
                p.n_classes
            )));
        }
        let n_features = p.n_features as usize;
        let trees = p.into_trees(f32::is_finite, "node value")?;
        Ok(Self::new(
            n_features,
            trees.into_iter().map(DecisionTreeRegressor).collect(),
        ))
    }

    /// Assembles a forest and derives its traversal layout.
    fn new(n_features: usize, trees: Vec<DecisionTreeRegressor>) -> Self {
        let flat = FlatForest::build(trees.iter().map(|t| &t.0), n_features, 1);
        Self {
            n_features,
            trees,
            flat,
        }
    }
}

impl RandomForestRegressorValidParams {
    /// Fits a forest on `x` (n x d) with finite targets `y`.
    pub fn fit_targets(&self, x: MatrixView<'_>, y: &[f32]) -> Result<RandomForestRegressor> {
        check_fit_targets(x, y)?;
        let (binner, binned) = FeatureBinner::fit_transform(x, self.tree.n_bins)?;
        let n = x.rows();
        let trees = (0..self.n_trees)
            .into_par_iter()
            .map(|t| {
                let mut rng = tree_rng(self.tree.seed, t);
                let counts = self.bootstrap.then(|| bootstrap_counts(&mut rng, n));
                DecisionTreeRegressor(grow_regression(
                    &binned,
                    &binner,
                    y,
                    counts.as_deref(),
                    &self.tree,
                    &mut rng,
                ))
            })
            .collect();
        Ok(RandomForestRegressor::new(x.cols(), trees))
    }
}

impl Fit for RandomForestRegressorValidParams {
    type Model = RandomForestRegressor;

    fn fit(&self, data: &Dataset) -> Result<RandomForestRegressor> {
        let y = data.require_real(RandomForestRegressor::KIND)?;
        self.fit_targets(data.view(), y)
    }
}

impl Predict for RandomForestRegressor {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        self.predict_values(x).map(Prediction::Real)
    }
}

/// Stored as the [`ForestParts`] arrays with one value per node.
impl Persist for RandomForestRegressor {
    const KIND: &'static str = "random-forest-regressor";

    fn to_tensors(&self) -> ModelTensors {
        self.to_parts().into_tensors(Self::KIND)
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        Self::from_parts(ForestParts::from_tensors(t)?)
    }
}
