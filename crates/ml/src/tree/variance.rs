//! The variance-reduction (squared error) criterion for regression trees.
//!
//! A node's value is the weighted mean of its targets. A split maximises
//! the decrease of the weighted variance, through scikit-learn's
//! equivalent proxy `S_L²/W_L + S_R²/W_R` (`S` the weighted target sum, `W`
//! the weight of a side): the node's own `S²/W` is the same for every
//! candidate, and `Σ w y²` cancels.
//!
//! For each candidate feature one pass over the node's samples fills a
//! per-bin histogram of weight, weighted target sum (both `f64`) and sample
//! count; a 256-bit occupancy mask makes the scan and the clearing visit
//! only the occupied bins. The sums are taken in sample order, so results
//! are deterministic. A candidate is admissible when each side keeps at
//! least `min_samples_leaf` distinct samples, as in scikit-learn. A node
//! whose targets are all equal is a leaf.

use super::criterion::{Criterion, ScoredSplit, TreeSample, for_each_bin, occupied};
use crate::binning::MAX_BINS;

/// A regression sample: the row and its integer weight (bootstrap multiplicity).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WeightedRow {
    pub(crate) row: u32,
    pub(crate) weight: u32,
}

impl TreeSample for WeightedRow {
    #[inline]
    fn row(self) -> usize {
        self.row as usize
    }
}

/// Statistics of a regression node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VarianceStats {
    w: f64,
    sum: f64,
    pure: bool,
}

/// The variance-reduction criterion over the targets `y` (indexed by row).
pub(crate) struct Variance<'a> {
    y: &'a [f32],
    min_samples_leaf: usize,
    hist_w: Box<[f64; MAX_BINS]>,
    hist_s: Box<[f64; MAX_BINS]>,
    hist_n: Box<[u32; MAX_BINS]>,
}

impl<'a> Variance<'a> {
    /// The criterion for targets `y` (by row) and a minimum leaf size.
    pub(crate) fn new(y: &'a [f32], min_samples_leaf: usize) -> Self {
        Self {
            y,
            min_samples_leaf,
            hist_w: Box::new([0.0; MAX_BINS]),
            hist_s: Box::new([0.0; MAX_BINS]),
            hist_n: Box::new([0; MAX_BINS]),
        }
    }
}

impl Criterion for Variance<'_> {
    type Sample = WeightedRow;
    type Stats = VarianceStats;
    type Best = ScoredSplit;

    fn n_values(&self) -> usize {
        1
    }

    fn node_stats(&mut self, samples: &[WeightedRow]) -> VarianceStats {
        let (mut w, mut sum) = (0f64, 0f64);
        let first = samples.first().map(|s| self.y[s.row()]);
        let mut pure = true;
        for s in samples {
            let y = self.y[s.row()];
            let sw = s.weight as f64;
            w += sw;
            sum += sw * y as f64;
            pure &= Some(y) == first;
        }
        VarianceStats { w, sum, pure }
    }

    fn write_value(&self, stats: &VarianceStats, out: &mut [f32]) {
        if stats.w > 0.0 {
            out[0] = (stats.sum / stats.w) as f32;
        }
    }

    fn is_leaf(&self, stats: &VarianceStats, n_samples: usize) -> bool {
        stats.pure || n_samples < 2 * self.min_samples_leaf
    }

    fn evaluate(
        &mut self,
        feature: usize,
        col: &[u8],
        samples: &[WeightedRow],
        stats: &VarianceStats,
        best: &mut ScoredSplit,
    ) -> bool {
        let (hw, hs, hn) = (&mut *self.hist_w, &mut *self.hist_s, &mut *self.hist_n);
        let mut mask = [0u64; 4];
        for s in samples {
            let b = col[s.row()] as usize;
            mask[b >> 6] |= 1u64 << (b & 63);
            let w = s.weight as f64;
            hw[b] += w;
            hs[b] += w * self.y[s.row()] as f64;
            hn[b] += 1;
        }
        let occupied = occupied(&mask);
        if occupied > 1 {
            let n = samples.len();
            let msl = self.min_samples_leaf;
            let (mut w_l, mut s_l, mut n_l) = (0f64, 0f64, 0usize);
            for_each_bin(&mask, |b| {
                w_l += hw[b];
                s_l += hs[b];
                n_l += hn[b] as usize;
                let n_r = n - n_l;
                if n_r == 0 {
                    return false;
                }
                if n_l >= msl && n_r >= msl {
                    let (w_r, s_r) = (stats.w - w_l, stats.sum - s_l);
                    best.consider(feature, b, s_l * s_l / w_l + s_r * s_r / w_r);
                }
                true
            });
        }
        for_each_bin(&mask, |b| {
            hw[b] = 0.0;
            hs[b] = 0.0;
            hn[b] = 0;
            true
        });
        occupied > 1
    }
}
