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
//! A pointer-chasing walk with a data-dependent branch per level mispredicts
//! about half its branches and leaves the core waiting on one load chain at
//! a time. So `fit`/`from_parts` derive a traversal layout (never stored;
//! [`ForestParts`] is unchanged): each tree's nodes are re-laid out breadth
//! first as 16-byte `(feature, threshold, base, value)` records with the two
//! children of a node adjacent, so a step is `i = base + (x[feature] >
//! threshold)` — no branch. Leaves point to themselves with an infinite
//! threshold, so every row takes exactly the tree's depth in steps, and 16
//! rows walk one tree in lockstep, giving the core 16 independent load
//! chains to overlap. Leaf distributions are stored padded to a multiple of
//! four classes and summed with whole SIMD vectors into a padded per-block
//! buffer. Per row the sum still runs over the trees in order and is scaled
//! once at the end, so probabilities are bit-identical to the plain walk.
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
    /// Traversal layout derived from `trees` (rebuilt by `fit`/`from_parts`).
    flat: FlatForest,
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
            .for_each(|(o, xs)| self.flat.predict_block(xs, o, scale));
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
        Ok(Self::new(n_features, n_classes, trees))
    }

    /// Assembles a forest and derives its traversal layout.
    fn new(n_features: usize, n_classes: usize, trees: Vec<DecisionTree>) -> Self {
        let flat = FlatForest::build(&trees, n_features, n_classes);
        Self {
            n_features,
            n_classes,
            trees,
            flat,
        }
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
        Ok(RandomForest::new(x.cols(), n_classes, trees))
    }
}

/// One node of the traversal layout (16 bytes, array of structs).
///
/// The two children of an internal node are adjacent: the walk goes to
/// `base + (x[feature] > threshold)`. A leaf points to itself
/// (`base` = its own index, `threshold` = +inf, so the comparison is always
/// false) and keeps the offset of its class distribution in `value`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FlatNode {
    feature: u32,
    threshold: f32,
    base: u32,
    value: u32,
}

/// All trees of a forest in the branch-free traversal layout.
#[derive(Debug, Clone, PartialEq, Default)]
struct FlatForest {
    n_features: usize,
    n_classes: usize,
    /// `n_classes` rounded up to a multiple of [`LANES`]: the stride of
    /// `leaf_values` and of the accumulation buffer (padding lanes stay 0).
    stride: usize,
    /// Nodes of all trees; each tree is laid out breadth first.
    nodes: Vec<FlatNode>,
    /// `(root index, depth)` per tree: every walk takes exactly `depth` steps.
    trees: Vec<(u32, u32)>,
    /// Class distributions of the leaves, `n_classes` values each.
    leaf_values: Vec<f32>,
}

/// Rows walked through one tree in lockstep (independent load chains).
const LOCKSTEP: usize = 16;

/// Class-distribution padding, so adding a leaf is whole SIMD vectors.
const LANES: usize = 4;

impl FlatForest {
    /// Lays out validated trees breadth first with sibling pairs adjacent.
    fn build(trees: &[DecisionTree], n_features: usize, n_classes: usize) -> Self {
        let total: usize = trees.iter().map(|t| t.nodes().len()).sum();
        let stride = n_classes.div_ceil(LANES) * LANES;
        let mut f = FlatForest {
            n_features,
            n_classes,
            stride,
            nodes: Vec::with_capacity(total),
            trees: Vec::with_capacity(trees.len()),
            leaf_values: Vec::new(),
        };
        let mut queue = std::collections::VecDeque::new();
        for tree in trees {
            let nodes = tree.nodes();
            let root = f.nodes.len();
            f.nodes.push(FlatNode {
                feature: 0,
                threshold: 0.0,
                base: 0,
                value: 0,
            });
            let mut depth = 0u32;
            // (original index, new index, depth)
            queue.push_back((0usize, root, 0u32));
            while let Some((i, at, dep)) = queue.pop_front() {
                depth = depth.max(dep);
                let n = nodes[i];
                if n.feature == LEAF {
                    let value = (f.leaf_values.len() / stride) as u32;
                    f.leaf_values
                        .extend_from_slice(&tree.values()[i * n_classes..(i + 1) * n_classes]);
                    f.leaf_values.resize((value as usize + 1) * stride, 0.0);
                    f.nodes[at] = FlatNode {
                        feature: 0,
                        threshold: f32::INFINITY,
                        base: at as u32,
                        value,
                    };
                } else {
                    let base = f.nodes.len();
                    f.nodes.extend_from_slice(&[f.nodes[at]; 2]);
                    f.nodes[at] = FlatNode {
                        feature: n.feature,
                        threshold: n.threshold,
                        base: base as u32,
                        value: 0,
                    };
                    queue.push_back((n.left as usize, base, dep + 1));
                    queue.push_back((n.right as usize, base + 1, dep + 1));
                }
            }
            f.trees.push((root as u32, depth));
        }
        f
    }

    /// Mean class distribution over the trees for the rows of `xs`
    /// (`n x n_features`, row-major) into `out` (`n x n_classes`).
    ///
    /// Per row the trees' leaf distributions are summed in tree order and
    /// the sum is multiplied by `scale`, exactly as a plain per-row loop would.
    fn predict_block(&self, xs: &[f32], out: &mut [f32], scale: f32) {
        let (d, k, kp) = (self.n_features, self.n_classes, self.stride);
        let n = xs.len() / d;
        let mut acc = vec![0f32; n * kp];
        let full = n / LOCKSTEP * LOCKSTEP;
        for &(root, depth) in &self.trees {
            let mut r = 0;
            while r < full {
                let leaves = self.walk::<LOCKSTEP>(&xs[r * d..(r + LOCKSTEP) * d], root, depth);
                self.add_leaves(&leaves, &mut acc[r * kp..(r + LOCKSTEP) * kp]);
                r += LOCKSTEP;
            }
            while r < n {
                let leaves = self.walk::<1>(&xs[r * d..(r + 1) * d], root, depth);
                self.add_leaves(&leaves, &mut acc[r * kp..(r + 1) * kp]);
                r += 1;
            }
        }
        for (o, a) in out.chunks_exact_mut(k).zip(acc.chunks_exact(kp)) {
            for (o, &a) in o.iter_mut().zip(a) {
                *o = a * scale;
            }
        }
    }

    /// Walks `G` rows through one tree in lockstep; returns their leaves.
    #[inline(always)]
    fn walk<const G: usize>(&self, xs: &[f32], root: u32, depth: u32) -> [u32; G] {
        let nodes = &self.nodes[..];
        let d = self.n_features;
        assert!(xs.len() >= G * d);
        let mut idx = [root; G];
        for _ in 0..depth {
            for (g, i) in idx.iter_mut().enumerate() {
                // SAFETY: `build` only creates in-range child indices, and
                // every feature index is < d (validated by `from_nodes`, and
                // leaves use feature 0); the assert above covers the rows.
                unsafe {
                    let node = *nodes.get_unchecked(*i as usize);
                    let v = *xs.get_unchecked(g * d + node.feature as usize);
                    *i = node.base + (v > node.threshold) as u32;
                }
            }
        }
        idx
    }

    /// Adds the class distributions of `leaves` to consecutive rows of
    /// `acc` (stride [`Self::stride`]), a whole vector of lanes at a time.
    #[inline(always)]
    fn add_leaves(&self, leaves: &[u32], acc: &mut [f32]) {
        let kp = self.stride;
        for (&leaf, row) in leaves.iter().zip(acc.chunks_exact_mut(kp)) {
            let off = self.nodes[leaf as usize].value as usize * kp;
            let vals = &self.leaf_values[off..off + kp];
            for (a, v) in row.chunks_exact_mut(LANES).zip(vals.chunks_exact(LANES)) {
                add_lanes(
                    a.try_into().expect("LANES-wide chunk"),
                    v.try_into().expect("LANES-wide chunk"),
                );
            }
        }
    }
}

/// `a += v` lane by lane (one SIMD add; separate so the arrays cannot alias).
#[inline(always)]
fn add_lanes(a: &mut [f32; LANES], v: &[f32; LANES]) {
    *a = std::array::from_fn(|l| a[l] + v[l]);
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
