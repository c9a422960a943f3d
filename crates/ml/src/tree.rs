//! Histogram-based Gini decision trees for classification.
//!
//! # Split search
//!
//! Features are binned once per fit to `u8` (see [`crate::binning`]), stored
//! feature-major. At a node, for each candidate feature a `(bin x class)`
//! count histogram is built in a single pass over the node's samples, then
//! the bins are scanned left to right keeping running class counts. The
//! weighted Gini decrease is maximised through the equivalent proxy
//! `Σ_c L_c²/|L| + Σ_c R_c²/|R|`, whose two sums are updated incrementally in
//! exact integer arithmetic, so a candidate costs `O(n_classes)` and ties are
//! resolved deterministically (first best feature in draw order, then lowest
//! bin).
//!
//! Small nodes must not pay for 256 bins. The work per node-feature is
//! picked by node size `m` (thresholds measured on the benchmarks):
//! - `m >= 64 x n_classes`: the `(bin x class)` histogram above; a 256-bit
//!   occupancy mask makes the scan visit only non-empty bins, and only
//!   those histogram rows are cleared afterwards.
//! - medium nodes: a counting sort of the samples by bin (bin counts, prefix
//!   sums over occupied bins, scatter), then a scan with `O(1)` work per
//!   sample — only that sample's class changes — and one candidate per bin.
//! - `m <= 32`: packed `(bin, label, weight)` keys are sorted directly.
//!
//! All three give exactly the same splits. Candidates are compared by
//! cross-multiplying the proxy fractions, so no division is needed.
//!
//! The chosen split "bin ≤ b goes left" is stored as the raw-space threshold
//! `x ≤ upper_edge(b)`, so prediction needs no binner.
//!
//! # Samples and weights
//!
//! A node's samples are a contiguous range of one index array that is
//! partitioned in place (stably, so indices stay sorted and the column
//! gathers stay cache friendly). Each entry packs the row, its label and its
//! integer weight (the bootstrap multiplicity in a forest). As in
//! scikit-learn, `min_samples_split` counts distinct samples, and leaf class
//! distributions use the weights.
//!
//! # Feature sampling
//!
//! `max_features` features are drawn without replacement at each node. As in
//! scikit-learn, a drawn feature that is constant within the node does not
//! count towards `max_features`: drawing continues until that many
//! non-constant features were evaluated or all features are exhausted. If no
//! evaluated feature yields a split with both children non-empty, the node
//! is a leaf. Nodes also stop at `max_depth`, below `min_samples_split`
//! samples, or when pure.
//!
//! Nodes are grown depth-first from an explicit stack (no recursion); a
//! child always has a larger index than its parent.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::binning::{BinnedMatrix, FeatureBinner, MAX_BINS};
use crate::{Matrix, MatrixView, MlError, Result};

/// Marker stored in [`Node::feature`] for a leaf.
pub const LEAF: u32 = u32::MAX;

/// How many features to consider at each split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFeatures {
    /// `max(1, floor(sqrt(d)))` (the classification default).
    Sqrt,
    /// `max(1, floor(log2(d)))`.
    Log2,
    /// All `d` features (a plain, non-randomised tree).
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

/// A fitted classification tree: nodes plus a class distribution per node.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTree {
    n_features: usize,
    n_classes: usize,
    nodes: Vec<Node>,
    values: Vec<f32>,
}

/// Entry point for single trees: `DecisionTree::params().max_depth(5).check()?.fit(x, y, k)`.
impl DecisionTree {
    /// Default (unchecked) parameters: max_depth 10, min_samples_split 2,
    /// all features, 256 bins, seed 0.
    pub fn params() -> DecisionTreeParams {
        DecisionTreeParams(TreeConfig {
            max_depth: 10,
            min_samples_split: 2,
            max_features: MaxFeatures::All,
            n_bins: MAX_BINS,
            seed: 0,
        })
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The nodes; node 0 is the root.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Class distributions, `n_classes` values per node.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.feature == LEAF).count()
    }

    /// Depth of the tree (a single leaf has depth 0).
    pub fn depth(&self) -> usize {
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

    /// Builds a tree from raw nodes after validating them (see [`crate::forest::RandomForest::from_parts`]).
    pub fn from_nodes(
        n_features: usize,
        n_classes: usize,
        nodes: Vec<Node>,
        values: Vec<f32>,
    ) -> Result<Self> {
        let bad = |m: String| Err(MlError::CorruptModel(m));
        if nodes.is_empty() {
            return bad("tree has no nodes".into());
        }
        if values.len() != nodes.len() * n_classes {
            return bad(format!(
                "tree has {} values, expected {} nodes x {} classes",
                values.len(),
                nodes.len(),
                n_classes
            ));
        }
        let len = nodes.len();
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
            }
        }
        if let Some(p) = values.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return bad(format!(
                "class probability {} at index {p} is not a finite non-negative number",
                values[p]
            ));
        }
        Ok(Self {
            n_features,
            n_classes,
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

    /// Class distribution of the leaf that row `x` falls into.
    #[inline]
    pub(crate) fn leaf_value(&self, x: &[f32]) -> &[f32] {
        let i = self.leaf_index(x);
        &self.values[i * self.n_classes..(i + 1) * self.n_classes]
    }

    /// Class probabilities for each row of `x` (n x n_classes).
    pub fn predict_proba(&self, x: MatrixView<'_>) -> Result<Matrix> {
        check_predict_input(x, self.n_features)?;
        let k = self.n_classes;
        let mut out = vec![0f32; x.rows() * k];
        for (i, o) in out.chunks_exact_mut(k.max(1)).enumerate() {
            o.copy_from_slice(self.leaf_value(x.row(i)));
        }
        Matrix::new(x.rows(), k, out)
    }

    /// Most probable class for each row of `x` (ties go to the lowest class).
    pub fn predict(&self, x: MatrixView<'_>) -> Result<Vec<u8>> {
        let p = self.predict_proba(x)?;
        Ok(argmax_rows(&p))
    }
}

/// Row-wise argmax of a probability matrix; ties go to the lowest index.
pub(crate) fn argmax_rows(p: &Matrix) -> Vec<u8> {
    if p.cols() == 0 {
        return vec![0; p.rows()];
    }
    p.data()
        .chunks_exact(p.cols())
        .map(|row| {
            let mut best = 0usize;
            for (c, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = c;
                }
            }
            best as u8
        })
        .collect()
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

/// Checks training input: shapes, non-empty, labels in range, finite values.
pub(crate) fn check_fit_input(x: MatrixView<'_>, y: &[u8], n_classes: usize) -> Result<()> {
    if x.rows() == 0 || x.cols() == 0 {
        return Err(MlError::EmptyInput(
            "training needs at least one row and one feature".into(),
        ));
    }
    if x.rows() != y.len() {
        return Err(MlError::ShapeMismatch {
            what: "number of labels".into(),
            expected: x.rows(),
            got: y.len(),
        });
    }
    if n_classes == 0 || n_classes > 256 {
        return Err(MlError::InvalidParameter {
            name: "n_classes",
            reason: format!("must be in 1..=256, got {n_classes}"),
        });
    }
    if x.cols() >= LEAF as usize || x.rows() >= (1usize << 24) {
        return Err(MlError::InvalidParameter {
            name: "x",
            reason: "at most 2^24 - 1 rows and 2^32 - 2 features are supported".into(),
        });
    }
    if let Some(row) = y.iter().position(|&l| l as usize >= n_classes) {
        return Err(MlError::LabelOutOfRange {
            label: y[row],
            row,
            n_classes,
        });
    }
    x.check_finite()
}

/// Tree-growing hyperparameters shared by trees and forests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TreeConfig {
    pub(crate) max_depth: usize,
    pub(crate) min_samples_split: usize,
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
        if !(2..=MAX_BINS).contains(&self.n_bins) {
            return Err(MlError::InvalidParameter {
                name: "n_bins",
                reason: format!("must be in 2..={MAX_BINS}, got {}", self.n_bins),
            });
        }
        self.max_features.check()?;
        Ok(self)
    }
}

/// Unchecked single-tree hyperparameters (builder).
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTreeParams(TreeConfig);

impl DecisionTreeParams {
    /// Maximum depth (root has depth 0); must be >= 1.
    pub fn max_depth(mut self, v: usize) -> Self {
        self.0.max_depth = v;
        self
    }
    /// Minimum number of samples a node needs to be split; must be >= 2.
    pub fn min_samples_split(mut self, v: usize) -> Self {
        self.0.min_samples_split = v;
        self
    }
    /// Features considered per split.
    pub fn max_features(mut self, v: MaxFeatures) -> Self {
        self.0.max_features = v;
        self
    }
    /// Maximum number of bins per feature, in `2..=256`.
    pub fn n_bins(mut self, v: usize) -> Self {
        self.0.n_bins = v;
        self
    }
    /// Seed for feature sampling (the tree uses the same generator as tree 0 of a forest).
    pub fn seed(mut self, v: u64) -> Self {
        self.0.seed = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<DecisionTreeValidParams> {
        Ok(DecisionTreeValidParams(self.0.check()?))
    }
}

/// Validated single-tree hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTreeValidParams(TreeConfig);

impl DecisionTreeValidParams {
    /// Fits a tree on `x` (n x d) with labels `y` in `0..n_classes`, every sample weight 1.
    pub fn fit(&self, x: MatrixView<'_>, y: &[u8], n_classes: usize) -> Result<DecisionTree> {
        check_fit_input(x, y, n_classes)?;
        let binner = FeatureBinner::fit(x, self.0.n_bins)?;
        let binned = binner.transform(x)?;
        let mut rng = tree_rng(self.0.seed, 0);
        let samples = (0..x.rows() as u32)
            .map(|r| Sample::new(r, y[r as usize], 1))
            .collect();
        Ok(grow(
            &binned, &binner, samples, n_classes, &self.0, &mut rng,
        ))
    }
}

/// One training sample: row index plus label (low 8 bits) and weight (high 24 bits).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    row: u32,
    yw: u32,
}

impl Sample {
    #[inline]
    pub(crate) fn new(row: u32, label: u8, weight: u32) -> Self {
        Self {
            row,
            yw: (weight << 8) | label as u32,
        }
    }
    #[inline]
    fn label(self) -> usize {
        (self.yw & 0xff) as usize
    }
    #[inline]
    fn weight(self) -> u32 {
        self.yw >> 8
    }
}

/// SplitMix64 finalizer, used to derive per-tree seeds.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of tree `t` for base seed `seed`: `Xoshiro256PlusPlus::seed_from_u64(seed ^ splitmix64(t))`.
pub(crate) fn tree_rng(seed: u64, t: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed ^ splitmix64(t as u64))
}

/// Uniform integer in `0..n` (n > 0) by multiply-shift; bias is < n / 2^64.
#[inline]
pub(crate) fn uniform(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// Reusable buffers for split search.
struct Workspace {
    n_classes: usize,
    /// `MAX_BINS x n_classes` weighted counts; all zero between uses.
    hist: Vec<u32>,
    /// Per-bin sample counts, then bin end offsets (sample path); zero between uses.
    cnt: [u32; MAX_BINS],
    /// Bin of each node sample (sample path).
    bins: Vec<u8>,
    /// `(bin << 32) | label/weight` keys of tiny nodes.
    keys: Vec<u64>,
    /// Node samples' packed label/weight, sorted by bin (sample path).
    sorted: Vec<u32>,
    left: Vec<u64>,
    right: Vec<u64>,
    node_counts: Vec<u64>,
}

/// Best split so far; `den == 0` means none yet (any candidate beats `num = -1`).
struct BestSplit {
    feature: usize,
    bin: u8,
    num: f64,
    den: f64,
}

impl BestSplit {
    fn none() -> Self {
        Self {
            feature: 0,
            bin: 0,
            num: -1.0,
            den: 0.0,
        }
    }
    fn found(&self) -> bool {
        self.den > 0.0
    }
}

/// Iterates the set bits of a 256-bit mask in increasing order.
#[inline]
fn for_each_bin(mask: &[u64; 4], mut f: impl FnMut(usize) -> bool) {
    for (w, &m) in mask.iter().enumerate() {
        let mut m = m;
        while m != 0 {
            let b = w * 64 + m.trailing_zeros() as usize;
            m &= m - 1;
            if !f(b) {
                return;
            }
        }
    }
}

impl Workspace {
    fn new(n_classes: usize) -> Self {
        Self {
            n_classes,
            hist: vec![0; MAX_BINS * n_classes],
            cnt: [0; MAX_BINS],
            bins: Vec::new(),
            keys: Vec::new(),
            sorted: Vec::new(),
            left: vec![0; n_classes],
            right: vec![0; n_classes],
            node_counts: vec![0; n_classes],
        }
    }

    /// Evaluates feature `feature` on the node's samples; updates `best`.
    /// Returns false if the feature is constant within the node.
    fn evaluate(
        &mut self,
        feature: usize,
        col: &[u8],
        samples: &[Sample],
        total_w: u64,
        best: &mut BestSplit,
    ) -> bool {
        // Small nodes: counting-sort samples by bin, O(1) work per sample.
        // Large nodes: (bin x class) histogram, O(n_classes) work per bin.
        if samples.len() < SAMPLE_PATH_FACTOR * self.n_classes.max(2) {
            self.evaluate_sorted(feature, col, samples, total_w, best)
        } else {
            self.evaluate_hist(feature, col, samples, total_w, best)
        }
    }

    fn evaluate_hist(
        &mut self,
        feature: usize,
        col: &[u8],
        samples: &[Sample],
        total_w: u64,
        best: &mut BestSplit,
    ) -> bool {
        let k = self.n_classes;
        let mut mask = [0u64; 4];
        {
            let hist = &mut self.hist[..];
            for s in samples {
                let b = col[s.row as usize] as usize;
                mask[b >> 6] |= 1u64 << (b & 63);
                hist[b * k + s.label()] += s.weight();
            }
        }
        let occupied: u32 = mask.iter().map(|m| m.count_ones()).sum();
        if occupied > 1 {
            self.left.fill(0);
            self.right.copy_from_slice(&self.node_counts);
            let mut sum_l2: u64 = 0;
            let mut sum_r2: u64 = self.right.iter().map(|&c| c * c).sum();
            let mut w_l: u64 = 0;
            let (hist, left, right) = (&self.hist, &mut self.left, &mut self.right);
            for_each_bin(&mask, |b| {
                let row = &hist[b * k..(b + 1) * k];
                let mut moved = 0u64;
                for ((&h, l), r) in row.iter().zip(left.iter_mut()).zip(right.iter_mut()) {
                    let h = h as u64;
                    // (l+h)² - l² and r² - (r-h)², exact in integers
                    sum_l2 += (2 * *l + h) * h;
                    sum_r2 -= (2 * *r - h) * h;
                    *l += h;
                    *r -= h;
                    moved += h;
                }
                w_l += moved;
                let w_r = total_w - w_l;
                if w_r == 0 {
                    return false;
                }
                consider(best, feature, b, sum_l2, w_l, sum_r2, w_r);
                true
            });
        }
        for_each_bin(&mask, |b| {
            self.hist[b * k..(b + 1) * k].fill(0);
            true
        });
        occupied > 1
    }

    fn evaluate_sorted(
        &mut self,
        feature: usize,
        col: &[u8],
        samples: &[Sample],
        total_w: u64,
        best: &mut BestSplit,
    ) -> bool {
        if samples.len() <= SMALL_SORT {
            return self.evaluate_small(feature, col, samples, total_w, best);
        }
        let m = samples.len();
        let Workspace {
            cnt,
            bins,
            sorted,
            left,
            node_counts,
            ..
        } = self;
        bins.resize(m, 0);
        sorted.resize(m, 0);
        let (bins, sorted) = (&mut bins[..m], &mut sorted[..m]);
        let mut mask = [0u64; 4];
        for (s, o) in samples.iter().zip(bins.iter_mut()) {
            let b = col[s.row as usize];
            *o = b;
            let b = b as usize;
            mask[b >> 6] |= 1u64 << (b & 63);
            cnt[b] += 1;
        }
        let occupied: u32 = mask.iter().map(|m| m.count_ones()).sum();
        if occupied > 1 {
            // Exclusive prefix sums over occupied bins: cnt[b] = start of bin b.
            let mut acc = 0u32;
            for_each_bin(&mask, |b| {
                let c = cnt[b];
                cnt[b] = acc;
                acc += c;
                true
            });
            for (s, &b) in samples.iter().zip(bins.iter()) {
                let pos = &mut cnt[b as usize];
                sorted[*pos as usize] = s.yw;
                *pos += 1;
            }
            // Now cnt[b] = end of bin b.
            left.fill(0);
            let mut sum_l2: u64 = 0;
            let mut sum_r2: u64 = node_counts.iter().map(|&c| c * c).sum();
            let mut w_l: u64 = 0;
            let mut start = 0usize;
            for_each_bin(&mask, |b| {
                let end = cnt[b] as usize;
                for &yw in &sorted[start..end] {
                    let y = (yw & 0xff) as usize;
                    let h = (yw >> 8) as u64;
                    let l = &mut left[y];
                    let r = node_counts[y] - *l;
                    sum_l2 += (2 * *l + h) * h;
                    sum_r2 -= (2 * r - h) * h;
                    *l += h;
                    w_l += h;
                }
                start = end;
                let w_r = total_w - w_l;
                if w_r == 0 {
                    return false;
                }
                consider(best, feature, b, sum_l2, w_l, sum_r2, w_r);
                true
            });
        }
        for_each_bin(&mask, |b| {
            self.cnt[b] = 0;
            true
        });
        occupied > 1
    }
}

/// Nodes of at most this many samples sort `(bin, label, weight)` keys directly.
const SMALL_SORT: usize = 32;

impl Workspace {
    /// Split search for tiny nodes: sort packed keys, scan samples in bin order.
    fn evaluate_small(
        &mut self,
        feature: usize,
        col: &[u8],
        samples: &[Sample],
        total_w: u64,
        best: &mut BestSplit,
    ) -> bool {
        self.keys.clear();
        self.keys.extend(
            samples
                .iter()
                .map(|s| ((col[s.row as usize] as u64) << 32) | s.yw as u64),
        );
        self.keys.sort_unstable();
        let (Some(&first), Some(&last)) = (self.keys.first(), self.keys.last()) else {
            return false;
        };
        if first >> 32 == last >> 32 {
            return false;
        }
        self.left.fill(0);
        self.right.copy_from_slice(&self.node_counts);
        let mut sum_l2: u64 = 0;
        let mut sum_r2: u64 = self.right.iter().map(|&c| c * c).sum();
        let mut w_l: u64 = 0;
        let keys = &self.keys;
        for (i, &key) in keys.iter().enumerate() {
            let y = (key & 0xff) as usize;
            let h = ((key as u32) >> 8) as u64;
            let l = &mut self.left[y];
            let r = self.node_counts[y] - *l;
            sum_l2 += (2 * *l + h) * h;
            sum_r2 -= (2 * r - h) * h;
            *l += h;
            w_l += h;
            let bin = key >> 32;
            match keys.get(i + 1) {
                Some(&next) if next >> 32 != bin => {
                    consider(
                        best,
                        feature,
                        bin as usize,
                        sum_l2,
                        w_l,
                        sum_r2,
                        total_w - w_l,
                    );
                }
                _ => {}
            }
        }
        true
    }
}

/// Node sizes below `SAMPLE_PATH_FACTOR * n_classes` use the sorted-sample scan.
const SAMPLE_PATH_FACTOR: usize = 64;

/// Scores a candidate split by the Gini proxy `ΣL²/|L| + ΣR²/|R|` and keeps the best.
///
/// The proxy is kept as a fraction `num / den` with
/// `num = ΣL²·|R| + ΣR²·|L|`, `den = |L|·|R|`, and candidates are compared by
/// cross-multiplication, which avoids a division per candidate.
#[inline]
fn consider(
    best: &mut BestSplit,
    feature: usize,
    bin: usize,
    sum_l2: u64,
    w_l: u64,
    sum_r2: u64,
    w_r: u64,
) {
    // All values are < 2^63; converting through i64 is one instruction on x86-64.
    let f = |v: u64| v as i64 as f64;
    let num = f(sum_l2) * f(w_r) + f(sum_r2) * f(w_l);
    let den = f(w_l) * f(w_r);
    if num * best.den > best.num * den {
        *best = BestSplit {
            feature,
            bin: bin as u8,
            num,
            den,
        };
    }
}

/// Grows one tree over `samples` (rows with their labels and weights).
pub(crate) fn grow(
    binned: &BinnedMatrix,
    binner: &FeatureBinner,
    mut samples: Vec<Sample>,
    n_classes: usize,
    cfg: &TreeConfig,
    rng: &mut Xoshiro256PlusPlus,
) -> DecisionTree {
    let d = binned.n_features();
    let mtry = cfg.max_features.resolve(d);
    let mut ws = Workspace::new(n_classes);
    let mut features: Vec<usize> = (0..d).collect();
    let mut scratch: Vec<Sample> = Vec::with_capacity(samples.len());
    let mut nodes: Vec<Node> = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    let leaf = Node {
        feature: LEAF,
        threshold: 0.0,
        left: 0,
        right: 0,
    };
    nodes.push(leaf);
    values.resize(n_classes, 0.0);
    // (node id, start, end, depth)
    let mut stack: Vec<(usize, usize, usize, usize)> = vec![(0, 0, samples.len(), 0)];
    while let Some((id, start, end, depth)) = stack.pop() {
        let node_samples = &samples[start..end];
        ws.node_counts.fill(0);
        for s in node_samples {
            ws.node_counts[s.label()] += s.weight() as u64;
        }
        let total_w: u64 = ws.node_counts.iter().sum();
        if total_w > 0 {
            for (v, &c) in values[id * n_classes..(id + 1) * n_classes]
                .iter_mut()
                .zip(&ws.node_counts)
            {
                *v = (c as f64 / total_w as f64) as f32;
            }
        }
        let n_nonzero = ws.node_counts.iter().filter(|&&c| c > 0).count();
        if depth >= cfg.max_depth || node_samples.len() < cfg.min_samples_split || n_nonzero <= 1 {
            continue;
        }

        let mut best = BestSplit::none();
        let mut evaluated = 0usize;
        let mut drawn = 0usize;
        while evaluated < mtry && drawn < d {
            let r = drawn + uniform(rng, d - drawn);
            features.swap(drawn, r);
            let f = features[drawn];
            drawn += 1;
            if ws.evaluate(f, binned.column(f), node_samples, total_w, &mut best) {
                evaluated += 1;
            }
        }
        if !best.found() {
            continue;
        }

        // Stable partition: left samples compacted in place, right ones via scratch.
        let col = binned.column(best.feature);
        scratch.clear();
        let mut w = start;
        for i in start..end {
            let s = samples[i];
            if col[s.row as usize] <= best.bin {
                samples[w] = s;
                w += 1;
            } else {
                scratch.push(s);
            }
        }
        samples[w..end].copy_from_slice(&scratch);
        let mid = w;

        let left = nodes.len();
        nodes.push(leaf);
        nodes.push(leaf);
        values.resize(nodes.len() * n_classes, 0.0);
        nodes[id] = Node {
            feature: best.feature as u32,
            threshold: binner.edges(best.feature)[best.bin as usize],
            left: left as u32,
            right: left as u32 + 1,
        };
        stack.push((left + 1, mid, end, depth + 1));
        stack.push((left, start, mid, depth + 1));
    }
    DecisionTree {
        n_features: d,
        n_classes,
        nodes,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_toy_set_gives_pure_leaves() {
        // class = (x0 > 2) ; x1 is noise
        let x = Matrix::new(
            8,
            2,
            vec![
                0., 5., 1., 3., 2., 9., 1.5, 0., 3., 1., 4., 7., 5., 2., 3.5, 8.,
            ],
        )
        .unwrap();
        let y = [0, 0, 0, 0, 1, 1, 1, 1];
        let tree = DecisionTree::params()
            .check()
            .unwrap()
            .fit(x.view(), &y, 2)
            .unwrap();
        assert_eq!(tree.predict(x.view()).unwrap(), y);
        assert_eq!(tree.depth(), 1);
        assert_eq!(tree.n_leaves(), 2);
        for (i, n) in tree.nodes().iter().enumerate() {
            if n.feature == LEAF {
                let v = &tree.values()[i * 2..i * 2 + 2];
                assert!(v.contains(&1.0), "leaf {i} not pure: {v:?}");
            }
        }
        assert_eq!(tree.nodes()[0].feature, 0);
        assert_eq!(tree.nodes()[0].threshold, 2.5);
    }

    #[test]
    fn xor_needs_depth_two() {
        let x = Matrix::new(4, 2, vec![0., 0., 0., 1., 1., 0., 1., 1.]).unwrap();
        let y = [0, 1, 1, 0];
        let tree = DecisionTree::params()
            .check()
            .unwrap()
            .fit(x.view(), &y, 2)
            .unwrap();
        assert_eq!(tree.predict(x.view()).unwrap(), y);
        let stump = DecisionTree::params()
            .max_depth(1)
            .check()
            .unwrap()
            .fit(x.view(), &y, 2)
            .unwrap();
        assert_eq!(stump.depth(), 1);
    }

    #[test]
    fn max_features_resolve() {
        assert_eq!(MaxFeatures::Sqrt.resolve(64), 8);
        assert_eq!(MaxFeatures::Sqrt.resolve(1), 1);
        assert_eq!(MaxFeatures::Log2.resolve(64), 6);
        assert_eq!(MaxFeatures::Fraction(0.5).resolve(9), 4);
        assert_eq!(MaxFeatures::Count(100).resolve(9), 9);
        assert!(MaxFeatures::Fraction(0.0).check().is_err());
        assert!(MaxFeatures::Count(0).check().is_err());
    }

    #[test]
    fn fit_input_errors() {
        let p = DecisionTree::params().check().unwrap();
        let x = Matrix::new(2, 1, vec![0., 1.]).unwrap();
        assert!(matches!(
            p.fit(x.view(), &[0], 2),
            Err(MlError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            p.fit(x.view(), &[0, 2], 2),
            Err(MlError::LabelOutOfRange { .. })
        ));
        let nan = Matrix::new(2, 1, vec![0., f32::NAN]).unwrap();
        assert!(matches!(
            p.fit(nan.view(), &[0, 1], 2),
            Err(MlError::Numerical(_))
        ));
        let empty = Matrix::new(0, 1, vec![]).unwrap();
        assert!(matches!(
            p.fit(empty.view(), &[], 2),
            Err(MlError::EmptyInput(_))
        ));
    }
}
