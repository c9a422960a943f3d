//! Histogram-based decision trees: Gini classification trees
//! ([`DecisionTree`]), variance-reduction regression trees
//! ([`DecisionTreeRegressor`]) and gradient/hessian trees for boosting
//! ([`GradientTreeValidParams::grow`]), all grown by one shared grower.
//!
//! # Layout
//!
//! - `grow`: the growing loop every tree shares — features binned once per
//!   fit to `u8` (see [`crate::binning`]) and stored feature-major, a
//!   depth-first node stack, per-node feature draws and a stable in-place
//!   partition of the node's samples; plus the seeded generators.
//! - `criterion`: the `Criterion` trait the grower is generic over (static
//!   dispatch, one monomorphised grower per criterion): per-sample data,
//!   node statistics and value, leaf rule, and the split search on one
//!   binned feature.
//! - `gini`, `variance`, `gradient`: the three criteria.
//! - `hyperparams`: the parameter builders and [`MaxFeatures`].
//! - `classifier`, `regressor`: the fitted models.
//!
//! # Nodes
//!
//! A fitted tree is a vector of [`Node`]s (node 0 the root, children after
//! their parent) and `n_values` values per node: the class distribution
//! for a classifier, the mean target or the boosting output for the
//! others. A split found on bins, "bin ≤ b goes left", is stored as the
//! raw-space threshold `x ≤ upper_edge(b)`, so prediction needs no binner.

#[cfg(test)]
mod brute_force;
mod classifier;
mod criterion;
mod gini;
mod gradient;
mod grow;
mod hyperparams;
mod regressor;
mod variance;

pub use classifier::DecisionTree;
pub use gini::MAX_CLASSES;
pub use grow::splitmix64;
pub use hyperparams::{
    DecisionTreeParams, DecisionTreeRegressorParams, DecisionTreeRegressorValidParams,
    DecisionTreeValidParams, GradientTreeParams, GradientTreeValidParams, MaxFeatures,
};
pub use regressor::DecisionTreeRegressor;

pub(crate) use classifier::grow_classes;
pub(crate) use grow::{bootstrap_counts, tree_rng, uniform};
pub(crate) use hyperparams::TreeConfig;
pub(crate) use regressor::grow_regression;

use crate::{MatrixView, MlError, Result};
use grow::Grown;

/// Marker stored in [`Node::feature`] for a leaf.
pub const LEAF: u32 = u32::MAX;

/// The largest number of training rows a tree or forest accepts (the Gini
/// criterion's exact integer sums of squared counts must fit in 63 bits).
pub const MAX_ROWS: usize = (1 << 31) - 1;

/// One node of a fitted tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    /// Split feature, or [`LEAF`].
    pub feature: u32,
    /// Samples with `x[feature] <= threshold` go left.
    pub threshold: f32,
    /// Left child index (relative to the tree's first node); 0 for leaves.
    pub left: u32,
    /// Right child index (relative to the tree's first node); 0 for leaves.
    pub right: u32,
}

/// Nodes plus `n_values` values per node: what every fitted tree is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TreeNodes {
    pub(crate) n_features: usize,
    pub(crate) n_values: usize,
    pub(crate) nodes: Vec<Node>,
    pub(crate) values: Vec<f32>,
}

impl TreeNodes {
    /// Wraps a freshly grown tree (valid by construction).
    pub(crate) fn from_grown(n_features: usize, n_values: usize, g: Grown) -> Self {
        Self {
            n_features,
            n_values,
            nodes: g.nodes,
            values: g.values,
        }
    }

    /// Validates stored nodes: at least one node, `n_values` values per
    /// node each accepted by `value_ok`, features in range, finite
    /// thresholds, children after their parent and inside the tree (so
    /// every walk ends at a leaf), and every node but the root the child of
    /// exactly one node (so the nodes form a tree, which a forest's traversal
    /// layout then copies node for node: its size is the stored node count).
    pub(crate) fn validate(
        n_features: usize,
        n_values: usize,
        nodes: Vec<Node>,
        values: Vec<f32>,
        value_ok: fn(f32) -> bool,
        value_what: &str,
    ) -> Result<Self> {
        let bad = |m: String| Err(MlError::CorruptModel(m));
        if nodes.is_empty() {
            return bad("tree has no nodes".into());
        }
        if Some(values.len()) != nodes.len().checked_mul(n_values) {
            return bad(format!(
                "tree has {} values, expected {} nodes x {} values",
                values.len(),
                nodes.len(),
                n_values
            ));
        }
        let len = nodes.len();
        // Every node but the root must have exactly one parent. Children-after-parent alone
        // admits a DAG (node i pointing both ways to node i + 1), which the breadth-first
        // traversal layout of a forest unfolds into a tree of 2^depth nodes: 33 stored nodes
        // became 2^32 16-byte records, a 68 GB allocation that aborted the process.
        let mut has_parent = vec![false; len];
        for (i, n) in nodes.iter().enumerate() {
            if n.feature == LEAF {
                continue;
            }
            if n.feature as usize >= n_features {
                return bad(format!(
                    "node {i}: feature {} out of range (n_features {n_features})",
                    n.feature
                ));
            }
            if !n.threshold.is_finite() {
                return bad(format!("node {i}: threshold {} is not finite", n.threshold));
            }
            for (side, c) in [("left", n.left), ("right", n.right)] {
                let c = c as usize;
                if c <= i || c >= len {
                    return bad(format!(
                        "node {i}: {side} child {c} out of range (must be in {}..{len})",
                        i + 1
                    ));
                }
                if std::mem::replace(&mut has_parent[c], true) {
                    return bad(format!(
                        "node {i}: {side} child {c} already has a parent (nodes must form a tree)"
                    ));
                }
            }
        }
        if let Some(orphan) = has_parent.iter().skip(1).position(|&p| !p) {
            return bad(format!(
                "node {} is not reachable from the root (nodes must form a tree)",
                orphan + 1
            ));
        }
        if let Some(p) = values.iter().position(|&v| !value_ok(v)) {
            return bad(format!(
                "{value_what} {} at index {p} is not valid",
                values[p]
            ));
        }
        Ok(Self {
            n_features,
            n_values,
            nodes,
            values,
        })
    }

    /// Index of the leaf that row `x` (length `n_features`) falls into.
    #[inline]
    pub(crate) fn leaf_index(&self, x: &[f32]) -> usize {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.feature == LEAF {
                return i;
            }
            i = if x[n.feature as usize] <= n.threshold {
                n.left as usize
            } else {
                n.right as usize
            };
        }
    }

    /// Values of the leaf that row `x` falls into.
    #[inline]
    pub(crate) fn leaf_values(&self, x: &[f32]) -> &[f32] {
        let i = self.leaf_index(x);
        &self.values[i * self.n_values..(i + 1) * self.n_values]
    }

    pub(crate) fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.feature == LEAF).count()
    }

    pub(crate) fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        let mut max = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            max = max.max(depth[i]);
            if n.feature != LEAF {
                depth[n.left as usize] = depth[i] + 1;
                depth[n.right as usize] = depth[i] + 1;
            }
        }
        max
    }
}

/// Checks prediction input: feature count matches and values are not NaN.
pub(crate) fn check_predict_input(x: MatrixView<'_>, n_features: usize) -> Result<()> {
    if x.cols() != n_features {
        return Err(MlError::ShapeMismatch {
            what: "number of features".into(),
            expected: n_features,
            got: x.cols(),
        });
    }
    if let Some(p) = x.data().iter().position(|v| v.is_nan()) {
        return Err(MlError::Numerical(format!(
            "NaN at row {}, column {}",
            p / n_features.max(1),
            p % n_features.max(1)
        )));
    }
    Ok(())
}

/// Checks the shape of training input: non-empty, within the row and
/// feature bounds, `n_targets` targets, finite values.
pub(crate) fn check_fit_shape(x: MatrixView<'_>, n_targets: usize) -> Result<()> {
    if x.rows() == 0 || x.cols() == 0 {
        return Err(MlError::EmptyInput(
            "training needs at least one row and one feature".into(),
        ));
    }
    if x.rows() != n_targets {
        return Err(MlError::ShapeMismatch {
            what: "number of targets".into(),
            expected: x.rows(),
            got: n_targets,
        });
    }
    if x.cols() >= LEAF as usize || x.rows() > MAX_ROWS {
        return Err(MlError::InvalidParameter {
            name: "x",
            reason: format!("at most {MAX_ROWS} rows and 2^32 - 2 features are supported"),
        });
    }
    x.check_finite()
}

/// Checks classification training input: the shape, `n_classes` in
/// `1..=MAX_CLASSES` and every label below it.
pub(crate) fn check_fit_input<L: Copy + Into<u32>>(
    x: MatrixView<'_>,
    y: &[L],
    n_classes: usize,
) -> Result<()> {
    if n_classes == 0 || n_classes > MAX_CLASSES {
        return Err(MlError::InvalidParameter {
            name: "n_classes",
            reason: format!("must be in 1..={MAX_CLASSES}, got {n_classes}"),
        });
    }
    if let Some(row) = y.iter().position(|&l| l.into() as usize >= n_classes) {
        return Err(MlError::LabelOutOfRange {
            label: y[row].into(),
            row,
            n_classes,
        });
    }
    check_fit_shape(x, y.len())
}

/// Checks regression training input: the shape and finite targets.
pub(crate) fn check_fit_targets(x: MatrixView<'_>, y: &[f32]) -> Result<()> {
    if let Some(row) = y.iter().position(|v| !v.is_finite()) {
        return Err(MlError::Numerical(format!(
            "target {} at row {row} is not finite",
            y[row]
        )));
    }
    check_fit_shape(x, y.len())
}
