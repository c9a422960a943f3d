//! Random forest classifier: bagged histogram trees with soft voting.
//!
//! # Training
//!
//! Features are binned once per fit ([`crate::binning`]) and shared by all
//! trees. Each tree then draws a bootstrap sample of `n` rows with
//! replacement (when enabled) and is grown by [`crate::tree`]'s histogram
//! split search with `max_features` random features per node. Bootstrap
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
//! `predict_proba` averages the trees' leaf class distributions (soft
//! voting, like scikit-learn) — more stable than majority voting. `predict`
//! takes the argmax, ties going to the lowest class. Rows are processed in
//! parallel blocks; within a block the loop runs tree by tree so that each
//! tree's nodes stay in cache.
//!
//! # Storage
//!
//! [`ForestParts`] is a flat, tensor-friendly representation (one array per
//! node attribute, all trees concatenated). [`RandomForest::from_parts`]
//! validates it fully, so a corrupt model is an error, never a panic.

use rayon::prelude::*;

use crate::binning::{FeatureBinner, MAX_BINS};
use crate::tree::{
    DecisionTree, LEAF, MaxFeatures, Node, Sample, TreeConfig, argmax_rows, check_fit_input,
    check_predict_input, grow, tree_rng, uniform,
};
use crate::{Matrix, MatrixView, MlError, Result};

/// Rows per parallel block in prediction.
const PREDICT_BLOCK: usize = 256;

/// A fitted random forest classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForest {
    n_features: usize,
    n_classes: usize,
    trees: Vec<DecisionTree>,
}

/// Unchecked random forest hyperparameters (builder).
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForestParams {
    n_trees: usize,
    bootstrap: bool,
    tree: TreeConfig,
}

/// Validated random forest hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForestValidParams {
    n_trees: usize,
    bootstrap: bool,
    tree: TreeConfig,
}

/// Flat representation of a forest, suitable for storing as tensors.
///
/// Node `j` of tree `t` is entry `tree_offsets[t] + j` of every per-node
/// array; child indices are relative to the tree's first node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForestParts {
    /// Number of input features.
    pub n_features: u32,
    /// Number of classes.
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
    /// Class distribution per node, `n_classes` values each.
    pub values: Vec<f32>,
}

impl RandomForest {
    /// Default (unchecked) parameters: n_trees 100, max_depth 10,
    /// min_samples_split 5, max_features sqrt, bootstrap on, seed 0, 256 bins.
    pub fn params() -> RandomForestParams {
        RandomForestParams {
            n_trees: 100,
            bootstrap: true,
            tree: TreeConfig {
                max_depth: 10,
                min_samples_split: 5,
                max_features: MaxFeatures::Sqrt,
                n_bins: MAX_BINS,
                seed: 0,
            },
        }
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The fitted trees.
    pub fn trees(&self) -> &[DecisionTree] {
        &self.trees
    }

    /// Mean of the trees' leaf class distributions for each row (n x n_classes).
    pub fn predict_proba(&self, x: MatrixView<'_>) -> Result<Matrix> {
        check_predict_input(x, self.n_features)?;
        let (n, d, k) = (x.rows(), self.n_features, self.n_classes);
        let mut out = vec![0f32; n * k];
        if n == 0 {
            return Matrix::new(0, k, out);
        }
        let scale = 1.0 / self.trees.len() as f32;
        let data = x.data();
        out.par_chunks_mut(PREDICT_BLOCK * k)
            .zip(data.par_chunks(PREDICT_BLOCK * d))
            .for_each(|(o, xs)| {
                for tree in &self.trees {
                    for (orow, xrow) in o.chunks_exact_mut(k).zip(xs.chunks_exact(d)) {
                        for (a, &v) in orow.iter_mut().zip(tree.leaf_value(xrow)) {
                            *a += v;
                        }
                    }
                }
                o.iter_mut().for_each(|v| *v *= scale);
            });
        Matrix::new(n, k, out)
    }

    /// Most probable class per row (argmax of [`Self::predict_proba`], ties to the lowest class).
    pub fn predict(&self, x: MatrixView<'_>) -> Result<Vec<u8>> {
        Ok(argmax_rows(&self.predict_proba(x)?))
    }

    /// Flattens the forest into [`ForestParts`].
    pub fn to_parts(&self) -> ForestParts {
        let mut p = ForestParts {
            n_features: self.n_features as u32,
            n_classes: self.n_classes as u32,
            tree_offsets: Vec::with_capacity(self.trees.len() + 1),
            ..ForestParts::default()
        };
        p.tree_offsets.push(0);
        for t in &self.trees {
            for n in t.nodes() {
                p.feature.push(n.feature);
                p.threshold.push(n.threshold);
                p.left.push(n.left);
                p.right.push(n.right);
            }
            p.values.extend_from_slice(t.values());
            p.tree_offsets.push(p.feature.len() as u32);
        }
        p
    }

    /// Rebuilds a forest from [`ForestParts`], validating every array and node.
    pub fn from_parts(p: ForestParts) -> Result<Self> {
        let bad = |m: String| Err(MlError::CorruptModel(m));
        let n_features = p.n_features as usize;
        let n_classes = p.n_classes as usize;
        if n_features == 0 || p.n_features == LEAF {
            return bad(format!("invalid n_features {}", p.n_features));
        }
        if n_classes == 0 || n_classes > 256 {
            return bad(format!("invalid n_classes {}", p.n_classes));
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
        if Some(p.values.len()) != n_nodes.checked_mul(n_classes) {
            return bad(format!(
                "values has length {}, expected {n_nodes} nodes x {n_classes} classes",
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
            let nodes = (a..b)
                .map(|i| Node {
                    feature: p.feature[i],
                    threshold: p.threshold[i],
                    left: p.left[i],
                    right: p.right[i],
                })
                .collect();
            let values = p.values[a * n_classes..b * n_classes].to_vec();
            let tree = DecisionTree::from_nodes(n_features, n_classes, nodes, values)
                .map_err(|e| MlError::CorruptModel(format!("tree {t}: {e}")))?;
            trees.push(tree);
        }
        Ok(Self {
            n_features,
            n_classes,
            trees,
        })
    }
}

impl RandomForestParams {
    /// Number of trees (>= 1).
    pub fn n_trees(mut self, v: usize) -> Self {
        self.n_trees = v;
        self
    }
    /// Maximum tree depth (>= 1; the root has depth 0).
    pub fn max_depth(mut self, v: usize) -> Self {
        self.tree.max_depth = v;
        self
    }
    /// Minimum number of distinct samples a node needs to be split (>= 2).
    pub fn min_samples_split(mut self, v: usize) -> Self {
        self.tree.min_samples_split = v;
        self
    }
    /// Features considered per split.
    pub fn max_features(mut self, v: MaxFeatures) -> Self {
        self.tree.max_features = v;
        self
    }
    /// Whether each tree trains on a bootstrap sample (else on all rows).
    pub fn bootstrap(mut self, v: bool) -> Self {
        self.bootstrap = v;
        self
    }
    /// Base seed; tree `t` uses `seed ^ splitmix64(t)`.
    pub fn seed(mut self, v: u64) -> Self {
        self.tree.seed = v;
        self
    }
    /// Maximum number of bins per feature, in `2..=256`.
    pub fn n_bins(mut self, v: usize) -> Self {
        self.tree.n_bins = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<RandomForestValidParams> {
        if self.n_trees == 0 {
            return Err(MlError::InvalidParameter {
                name: "n_trees",
                reason: "must be at least 1".into(),
            });
        }
        Ok(RandomForestValidParams {
            n_trees: self.n_trees,
            bootstrap: self.bootstrap,
            tree: self.tree.check()?,
        })
    }
}

impl RandomForestValidParams {
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }

    /// Fits a forest on `x` (n x d) with labels `y` in `0..n_classes`.
    pub fn fit(&self, x: MatrixView<'_>, y: &[u8], n_classes: usize) -> Result<RandomForest> {
        check_fit_input(x, y, n_classes)?;
        let binner = FeatureBinner::fit(x, self.tree.n_bins)?;
        let binned = binner.transform(x)?;
        let n = x.rows();
        let trees = (0..self.n_trees)
            .into_par_iter()
            .map(|t| {
                let mut rng = tree_rng(self.tree.seed, t);
                let samples: Vec<Sample> = if self.bootstrap {
                    let mut counts = vec![0u32; n];
                    for _ in 0..n {
                        counts[uniform(&mut rng, n)] += 1;
                    }
                    counts
                        .iter()
                        .enumerate()
                        .filter(|&(_, &c)| c > 0)
                        .map(|(r, &c)| Sample::new(r as u32, y[r], c))
                        .collect()
                } else {
                    (0..n).map(|r| Sample::new(r as u32, y[r], 1)).collect()
                };
                grow(&binned, &binner, samples, n_classes, &self.tree, &mut rng)
            })
            .collect();
        Ok(RandomForest {
            n_features: x.cols(),
            n_classes,
            trees,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_check_rejects_bad_values() {
        assert!(RandomForest::params().check().is_ok());
        assert!(RandomForest::params().n_trees(0).check().is_err());
        assert!(RandomForest::params().max_depth(0).check().is_err());
        assert!(RandomForest::params().min_samples_split(1).check().is_err());
        assert!(RandomForest::params().n_bins(1).check().is_err());
        assert!(RandomForest::params().n_bins(257).check().is_err());
        assert!(
            RandomForest::params()
                .max_features(MaxFeatures::Fraction(1.5))
                .check()
                .is_err()
        );
        assert!(matches!(
            RandomForest::params().n_trees(0).check(),
            Err(MlError::InvalidParameter {
                name: "n_trees",
                ..
            })
        ));
    }

    #[test]
    fn splitmix_differs_per_tree() {
        use crate::tree::splitmix64;
        assert_ne!(splitmix64(0), splitmix64(1));
    }
}
