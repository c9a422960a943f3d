//! The split criterion: what the shared grower ([`super::grow`]) asks of
//! Gini classification, variance-reduction regression and gradient/hessian
//! boosting trees.
//!
//! The grower owns everything the three have in common: the binned
//! features, the depth-first node stack, the per-node feature draws
//! (`max_features`, constant features not counted), the stable in-place
//! partition of the node's samples and the node records. A criterion owns
//! what differs: which per-sample data travels with a row (a packed class
//! label and bootstrap weight, a weight, or nothing), the node statistics,
//! the value stored per node, when a node must stay a leaf, and the split
//! search on one binned feature, including its histogram layout and its
//! reusable buffers.
//!
//! The grower is generic over the criterion, so each criterion gets its own
//! monomorphised copy of the growing loop with the criterion's methods
//! inlined: the Gini path compiles to the same code it was before the trait
//! existed (`tests/forest_golden.rs` checks it stays bit-identical).

/// One entry of a node's sample range: at least the row it stands for.
pub(crate) trait TreeSample: Copy {
    /// The row of the binned matrix this sample refers to.
    fn row(self) -> usize;
}

/// The best split found so far at a node.
pub(crate) trait SplitChoice {
    /// No split yet; any valid candidate beats it.
    fn none() -> Self;
    /// Whether a valid split was found.
    fn found(&self) -> bool;
    /// The split feature (meaningful only when [`Self::found`]).
    fn feature(&self) -> usize;
    /// Samples whose bin is `<= bin()` go left.
    fn bin(&self) -> u8;
}

/// A split criterion for the shared tree grower.
///
/// For every node the grower calls [`Criterion::node_stats`] on the node's
/// samples, then [`Criterion::write_value`] and [`Criterion::is_leaf`], then
/// [`Criterion::evaluate`] for each drawn feature of that same node. A
/// criterion may therefore keep per-node scratch state from `node_stats`
/// for the `evaluate` calls that follow.
pub(crate) trait Criterion {
    /// What one entry of the sample array holds.
    type Sample: TreeSample;
    /// Sufficient statistics of a node.
    type Stats;
    /// The best split of a node so far.
    type Best: SplitChoice;

    /// Values stored per node (classes for Gini, one for the others).
    fn n_values(&self) -> usize;

    /// Statistics of the node holding `samples`.
    fn node_stats(&mut self, samples: &[Self::Sample]) -> Self::Stats;

    /// Writes the node's value(s) (`n_values()` of them) into `out`.
    fn write_value(&self, stats: &Self::Stats, out: &mut [f32]);

    /// Whether the node must stay a leaf whatever its depth (pure, or too
    /// small or light for any split the criterion allows).
    fn is_leaf(&self, stats: &Self::Stats, n_samples: usize) -> bool;

    /// Searches the splits of `feature` (bins `col`, indexed by row) over
    /// the node's samples and updates `best` when one beats it. Returns
    /// false when the feature is constant within the node, so the draw does
    /// not count towards `max_features`.
    fn evaluate(
        &mut self,
        feature: usize,
        col: &[u8],
        samples: &[Self::Sample],
        stats: &Self::Stats,
        best: &mut Self::Best,
    ) -> bool;
}

/// Iterates the set bits of a 256-bit bin mask in increasing order until
/// `f` returns false.
#[inline]
pub(crate) fn for_each_bin(mask: &[u64; 4], mut f: impl FnMut(usize) -> bool) {
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

/// Number of set bits of a 256-bit bin mask.
#[inline]
pub(crate) fn occupied(mask: &[u64; 4]) -> u32 {
    mask.iter().map(|m| m.count_ones()).sum()
}

/// The best split of a criterion whose candidates carry one `f64` score
/// (greater is better; ties keep the earlier candidate).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScoredSplit {
    pub(crate) feature: usize,
    pub(crate) bin: u8,
    pub(crate) score: f64,
}

impl SplitChoice for ScoredSplit {
    fn none() -> Self {
        Self {
            feature: 0,
            bin: 0,
            score: f64::NEG_INFINITY,
        }
    }
    fn found(&self) -> bool {
        self.score > f64::NEG_INFINITY
    }
    fn feature(&self) -> usize {
        self.feature
    }
    fn bin(&self) -> u8 {
        self.bin
    }
}

impl ScoredSplit {
    /// Keeps `(feature, bin)` if `score` beats the current best.
    #[inline]
    pub(crate) fn consider(&mut self, feature: usize, bin: usize, score: f64) {
        if score > self.score {
            *self = Self {
                feature,
                bin: bin as u8,
                score,
            };
        }
    }
}
