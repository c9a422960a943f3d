//! The regression tree, [`DecisionTreeRegressor`]: variance-reduction
//! splits, the weighted mean target in each node. Gradient-boosting trees
//! ([`super::GradientTreeValidParams::grow`]) are the same fitted type,
//! with the boosting output in each node.

use rand_xoshiro::Xoshiro256PlusPlus;

use super::grow::{grow, tree_rng};
use super::hyperparams::{
    DecisionTreeRegressorParams, DecisionTreeRegressorValidParams, TreeConfig,
};
use super::variance::{Variance, WeightedRow};
use super::{Node, TreeNodes, check_fit_targets, check_predict_input};
use crate::binning::{BinnedMatrix, FeatureBinner};
use crate::forest::ForestParts;
use crate::persist::{ModelTensors, Persist};
use crate::{Dataset, Fit, MatrixView, MlError, Predict, Prediction, Result};

/// A fitted regression tree: nodes plus one value per node.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTreeRegressor(pub(crate) TreeNodes);

/// Entry point for regression trees:
/// `DecisionTreeRegressor::params().max_depth(2).min_samples_leaf(2).check()?`,
/// then [`crate::Fit::fit`] on a [`crate::Dataset`] or
/// [`DecisionTreeRegressorValidParams::fit_targets`].
impl DecisionTreeRegressor {
    /// Default (unchecked) parameters: max_depth 10, min_samples_split 2,
    /// min_samples_leaf 1, all features, 256 bins, seed 0.
    pub fn params() -> DecisionTreeRegressorParams {
        DecisionTreeRegressorParams::default()
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.0.n_features
    }

    /// The nodes; node 0 is the root.
    pub fn nodes(&self) -> &[Node] {
        &self.0.nodes
    }

    /// One value per node (the leaf's prediction at leaves).
    pub fn values(&self) -> &[f32] {
        &self.0.values
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.0.n_leaves()
    }

    /// Depth of the tree (a single leaf has depth 0).
    pub fn depth(&self) -> usize {
        self.0.depth()
    }

    /// Builds a tree from raw nodes and one finite value per node, after
    /// validating them like [`super::DecisionTree::from_nodes`].
    pub fn from_nodes(n_features: usize, nodes: Vec<Node>, values: Vec<f32>) -> Result<Self> {
        TreeNodes::validate(n_features, 1, nodes, values, f32::is_finite, "node value").map(Self)
    }

    /// The predicted value of each row of `x`.
    pub fn predict_values(&self, x: MatrixView<'_>) -> Result<Vec<f32>> {
        check_predict_input(x, self.0.n_features)?;
        Ok((0..x.rows())
            .map(|i| self.0.leaf_values(x.row(i))[0])
            .collect())
    }
}

impl DecisionTreeRegressorValidParams {
    /// Fits a tree on `x` (n x d) with finite targets `y`, every sample weight 1.
    pub fn fit_targets(&self, x: MatrixView<'_>, y: &[f32]) -> Result<DecisionTreeRegressor> {
        check_fit_targets(x, y)?;
        let (binner, binned) = FeatureBinner::fit_transform(x, self.0.n_bins)?;
        let mut rng = tree_rng(self.0.seed, 0);
        Ok(DecisionTreeRegressor(grow_regression(
            &binned, &binner, y, None, &self.0, &mut rng,
        )))
    }
}

impl Fit for DecisionTreeRegressorValidParams {
    type Model = DecisionTreeRegressor;

    fn fit(&self, data: &Dataset) -> Result<DecisionTreeRegressor> {
        let y = data.require_real(DecisionTreeRegressor::KIND)?;
        self.fit_targets(data.view(), y)
    }
}

impl Predict for DecisionTreeRegressor {
    fn n_features(&self) -> usize {
        self.0.n_features
    }

    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        self.predict_values(x).map(Prediction::Real)
    }
}

/// Stored as a one-tree [`ForestParts`] with one value per node.
impl Persist for DecisionTreeRegressor {
    const KIND: &'static str = "decision-tree-regressor";

    fn to_tensors(&self) -> ModelTensors {
        ForestParts::from_trees(self.0.n_features, 1, std::iter::once(&self.0))
            .into_tensors(Self::KIND)
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        let parts = ForestParts::from_tensors(t)?;
        if parts.n_classes != 1 {
            return Err(MlError::CorruptModel(format!(
                "a regression tree has 1 value per node, not {}",
                parts.n_classes
            )));
        }
        let n_features = parts.n_features as usize;
        let trees = parts.into_trees(f32::is_finite, "node value")?;
        let [tree] = <[TreeNodes; 1]>::try_from(trees).map_err(|t| {
            MlError::CorruptModel(format!("a regression tree holds 1 tree, not {}", t.len()))
        })?;
        Self::from_nodes(n_features, tree.nodes, tree.values)
    }
}

/// Grows one variance-reduction tree on validated input: rows with targets
/// `y` and, when `counts` is given, integer weights (rows of weight 0 left out).
pub(crate) fn grow_regression(
    binned: &BinnedMatrix,
    binner: &FeatureBinner,
    y: &[f32],
    counts: Option<&[u32]>,
    cfg: &TreeConfig,
    rng: &mut Xoshiro256PlusPlus,
) -> TreeNodes {
    let samples: Vec<WeightedRow> = match counts {
        Some(counts) => counts
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(r, &c)| WeightedRow {
                row: r as u32,
                weight: c,
            })
            .collect(),
        None => (0..y.len() as u32)
            .map(|row| WeightedRow { row, weight: 1 })
            .collect(),
    };
    let mut crit = Variance::new(y, cfg.min_samples_leaf);
    let grown = grow(binned, binner, samples, &mut crit, &cfg.limits(), rng);
    TreeNodes::from_grown(binned.n_features(), 1, grown)
}
