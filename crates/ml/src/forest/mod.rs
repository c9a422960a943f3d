//! Random forests: the classifier [`RandomForest`] (Gini trees, soft vote)
//! and the regressor [`RandomForestRegressor`] (variance-reduction trees,
//! mean of the trees).
//!
//! # Training
//!
//! Features are binned once per fit ([`crate::binning`]) and shared by all
//! trees. Each tree then draws a bootstrap sample of `n` rows with
//! replacement (when enabled) and is grown by [`crate::tree`]'s shared
//! grower with `max_features` random features per node. Bootstrap
//! multiplicities become integer sample weights, so a row drawn three times
//! is stored once with weight 3 (about 37% of rows are absent and cost
//! nothing).
//!
//! # Determinism
//!
//! Tree `t` uses its own generator,
//! `Xoshiro256PlusPlus::seed_from_u64(seed ^ splitmix64(t))`, for both its
//! bootstrap and its feature draws. Trees are built in parallel with rayon's
//! `par_iter` on the global pool and collected in index order, and every
//! reduction has a fixed order, so a given seed gives bit-identical models
//! and predictions for any number of threads or any scheduling.
//!
//! # Prediction
//!
//! The classifier averages the trees' leaf class distributions (soft
//! voting, like scikit-learn) — more stable than majority voting; the
//! regressor averages the trees' leaf values. Rows are processed in
//! parallel blocks; within a block the loop runs tree by tree so that each
//! tree's nodes stay in cache, through the branch-free lockstep layout of
//! `flat.rs`. Per row the sum runs over the trees in order and is scaled
//! once at the end, so results are bit-identical to a plain walk.
//!
//! # Storage
//!
//! [`ForestParts`] is a flat, tensor-friendly representation (one array per
//! node attribute, all trees concatenated). `from_parts` validates it fully,
//! so a corrupt model is an error, never a panic; the [`crate::Persist`]
//! impls store exactly these arrays.

mod classifier;
mod flat;
mod hyperparams;
mod regressor;

pub use classifier::RandomForest;
pub use hyperparams::{
    RandomForestParams, RandomForestRegressorParams, RandomForestRegressorValidParams,
    RandomForestValidParams,
};
pub use regressor::RandomForestRegressor;

use crate::persist::{ModelTensors, Tensor};
use crate::tree::{LEAF, Node, TreeNodes};
use crate::{MlError, Result};

/// Flat representation of a forest, suitable for storing as tensors.
///
/// Node `j` of tree `t` is entry `tree_offsets[t] + j` of every per-node
/// array; child indices are relative to the tree's first node. A regressor
/// stores one value per node, so its `n_classes` is 1.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForestParts {
    /// Number of input features.
    pub n_features: u32,
    /// Number of classes (values per node; 1 for a regressor).
    pub n_classes: u32,
    /// `n_trees + 1` node offsets; tree `t` owns nodes `tree_offsets[t]..tree_offsets[t+1]`.
    pub tree_offsets: Vec<u32>,
    /// Split feature per node, or [`LEAF`] (`u32::MAX`) for leaves.
    pub feature: Vec<u32>,
    /// Split threshold per node (`x <= threshold` goes left; 0 for leaves).
    pub threshold: Vec<f32>,
    /// Left child per node, relative to the tree start (0 for leaves).
    pub left: Vec<u32>,
    /// Right child per node, relative to the tree start (0 for leaves).
    pub right: Vec<u32>,
    /// `n_classes` values per node (class distribution, or the regression value).
    pub values: Vec<f32>,
}

impl ForestParts {
    /// Flattens trees that all have `n_features` inputs and `n_values` values per node.
    pub(crate) fn from_trees<'a>(
        n_features: usize,
        n_values: usize,
        trees: impl ExactSizeIterator<Item = &'a TreeNodes>,
    ) -> Self {
        let mut p = ForestParts {
            n_features: n_features as u32,
            n_classes: n_values as u32,
            tree_offsets: Vec::with_capacity(trees.len() + 1),
            ..ForestParts::default()
        };
        p.tree_offsets.push(0);
        for t in trees {
            for n in &t.nodes {
                p.feature.push(n.feature);
                p.threshold.push(n.threshold);
                p.left.push(n.left);
                p.right.push(n.right);
            }
            p.values.extend_from_slice(&t.values);
            p.tree_offsets.push(p.feature.len() as u32);
        }
        p
    }

    /// Validates every array and node and splits the parts into trees.
    pub(crate) fn into_trees(
        self,
        value_ok: fn(f32) -> bool,
        value_what: &str,
    ) -> Result<Vec<TreeNodes>> {
        let p = self;
        let bad = |m: String| Err(MlError::CorruptModel(m));
        let n_features = p.n_features as usize;
        let n_values = p.n_classes as usize;
        if n_features == 0 || p.n_features == LEAF {
            return bad(format!("invalid n_features {}", p.n_features));
        }
        if p.tree_offsets.len() < 2 {
            return bad(format!(
                "tree_offsets has length {}, need at least 2",
                p.tree_offsets.len()
            ));
        }
        let n_nodes = p.feature.len();
        for (name, len) in [
            ("threshold", p.threshold.len()),
            ("left", p.left.len()),
            ("right", p.right.len()),
        ] {
            if len != n_nodes {
                return bad(format!("{name} has length {len}, feature has {n_nodes}"));
            }
        }
        if Some(p.values.len()) != n_nodes.checked_mul(n_values) {
            return bad(format!(
                "values has length {}, expected {n_nodes} nodes x {n_values} values",
                p.values.len()
            ));
        }
        if p.tree_offsets[0] != 0 || *p.tree_offsets.last().unwrap_or(&0) as usize != n_nodes {
            return bad(format!(
                "tree_offsets must start at 0 and end at the node count {n_nodes}"
            ));
        }
        let mut trees = Vec::with_capacity(p.tree_offsets.len() - 1);
        for (t, w) in p.tree_offsets.windows(2).enumerate() {
            let (a, b) = (w[0] as usize, w[1] as usize);
            if a >= b {
                return bad(format!("tree {t} has no nodes (offsets {a}..{b})"));
            }
            // Offsets must rise to the node count, not only end there: [0, 7, 6] over six
            // nodes would read node 6 (found by the `model` fuzz target).
            if b > n_nodes {
                return bad(format!(
                    "tree {t} ends at node {b}, beyond the {n_nodes} nodes stored"
                ));
            }
            let nodes = (a..b)
                .map(|i| Node {
                    feature: p.feature[i],
                    threshold: p.threshold[i],
                    left: p.left[i],
                    right: p.right[i],
                })
                .collect();
            let values = p.values[a * n_values..b * n_values].to_vec();
            let tree =
                TreeNodes::validate(n_features, n_values, nodes, values, value_ok, value_what)
                    .map_err(|e| MlError::CorruptModel(format!("tree {t}: {e}")))?;
            trees.push(tree);
        }
        Ok(trees)
    }

    /// The parts as named tensors: `shape` (`u32 [n_features, n_classes]`),
    /// `tree_offsets`, `feature`, `threshold`, `left`, `right` (one entry per
    /// node) and `values` (`f32 [nodes, n_classes]`), the layout the
    /// workflows' published ensembles have always used.
    pub(crate) fn into_tensors(self, kind: &str) -> ModelTensors {
        let n = self.feature.len();
        let k = self.n_classes as usize;
        let mut t = ModelTensors::new(kind);
        t.insert(
            "shape",
            Tensor::u32_vector(vec![self.n_features, self.n_classes]),
        );
        t.insert("tree_offsets", Tensor::u32_vector(self.tree_offsets));
        t.insert("feature", Tensor::u32_vector(self.feature));
        t.insert("threshold", Tensor::f32_vector(self.threshold));
        t.insert("left", Tensor::u32_vector(self.left));
        t.insert("right", Tensor::u32_vector(self.right));
        t.insert_checked("values", vec![n, k], self.values);
        t
    }

    /// Reads the tensors written by [`Self::into_tensors`] (shapes checked;
    /// the node structure is checked by [`Self::into_trees`]).
    pub(crate) fn from_tensors(t: &ModelTensors) -> Result<Self> {
        let [n_features, n_classes] = t.u32_array::<2>("shape")?;
        let feature = t.u32_vec("feature")?;
        let n = feature.len();
        let values = t.f32_shaped("values", &[n, n_classes as usize])?;
        Ok(ForestParts {
            n_features,
            n_classes,
            tree_offsets: t.u32_vec("tree_offsets")?.to_vec(),
            feature: feature.to_vec(),
            threshold: t.f32_shaped("threshold", &[n])?.to_vec(),
            left: t.u32_shaped("left", &[n])?.to_vec(),
            right: t.u32_shaped("right", &[n])?.to_vec(),
            values: values.to_vec(),
        })
    }
}
