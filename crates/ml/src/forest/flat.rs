//! The branch-free traversal layout that forest prediction walks.
//!
//! A pointer-chasing walk with a data-dependent branch per level mispredicts
//! about half its branches and leaves the core waiting on one load chain at
//! a time. So a forest derives this layout when it is fitted or rebuilt
//! (it is never stored; [`super::ForestParts`] is unchanged): each tree's
//! nodes are re-laid out breadth first as 16-byte `(feature, threshold,
//! base, value)` records with the two children of a node adjacent, so a
//! step is `i = base + (x[feature] > threshold)` — no branch. Leaves point
//! to themselves with an infinite threshold, so every row takes exactly the
//! tree's depth in steps, and 16 rows walk one tree in lockstep, giving the
//! core 16 independent load chains to overlap. Leaf values are stored
//! padded to a multiple of four and summed with whole SIMD vectors into a
//! padded per-block buffer. Per row the sum still runs over the trees in
//! order and is scaled once at the end, so results are bit-identical to the
//! plain walk.

use rayon::prelude::*;

use crate::MatrixView;
use crate::tree::{LEAF, TreeNodes};

/// Rows per parallel block in prediction.
const PREDICT_BLOCK: usize = 256;

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
pub(super) struct FlatForest {
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
    pub(super) fn build<'a>(
        trees: impl ExactSizeIterator<Item = &'a TreeNodes> + Clone,
        n_features: usize,
        n_classes: usize,
    ) -> Self {
        let total: usize = trees.clone().map(|t| t.nodes.len()).sum();
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
            let nodes = &tree.nodes;
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
                        .extend_from_slice(&tree.values[i * n_classes..(i + 1) * n_classes]);
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

    /// Mean of the trees' leaf values for each row of `x` (checked by the
    /// caller), `n_classes` values per row, in parallel row blocks.
    pub(super) fn predict(&self, x: MatrixView<'_>) -> Vec<f32> {
        let (n, d, k) = (x.rows(), self.n_features, self.n_classes);
        let mut out = vec![0f32; n * k];
        if n == 0 || self.trees.is_empty() {
            return out;
        }
        let scale = 1.0 / self.trees.len() as f32;
        out.par_chunks_mut(PREDICT_BLOCK * k)
            .zip(x.data().par_chunks(PREDICT_BLOCK * d))
            .for_each(|(o, xs)| self.predict_block(xs, o, scale));
        out
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
