//! The gradient/hessian criterion of gradient-boosted trees, and the entry
//! point that grows one such tree from per-row gradients and hessians.
//!
//! With `G`, `H` the sums of the gradients and hessians of a node's rows,
//! the node's value (its leaf output) is `-G / (H + λ)`, and a split into
//! `L` and `R` has the gain
//!
//! `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)`,
//!
//! the decrease of the second-order approximation of the loss (up to a
//! factor ½, as in LightGBM). A split is admissible when each child has at
//! least `min_data_in_leaf` rows and a hessian sum of at least
//! `min_sum_hessian_in_leaf`; it is made only when its gain exceeds
//! `min_gain_to_split`.
//!
//! The split search of one feature is split into two steps on purpose:
//! [`GradHistogram::accumulate`] sums `(g, h, count)` per bin over the
//! node's rows, and [`GradHistogram::scan`] finds the best admissible bin.
//! Histograms of the same node from different row shards add up bin by
//! bin, so a distributed booster can all-reduce them between the two steps.
//! Sums are `f64`, taken in row order, so a tree is a deterministic
//! function of its inputs.

use super::criterion::{Criterion, ScoredSplit, TreeSample, for_each_bin, occupied};
use super::grow::{GrowLimits, grow, tree_rng};
use super::hyperparams::{GradientTreeParams, GradientTreeValidParams};
use super::{DecisionTreeRegressor, TreeNodes};
use crate::binning::{BinnedMatrix, FeatureBinner, MAX_BINS};
use crate::{MlError, Result};

/// A boosting sample: just the row (gradients and hessians are looked up by row).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GradRow(pub(crate) u32);

impl TreeSample for GradRow {
    #[inline]
    fn row(self) -> usize {
        self.0 as usize
    }
}

/// Gradient and hessian sums and the row count of a node.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct GradStats {
    pub(crate) g: f64,
    pub(crate) h: f64,
    pub(crate) n: usize,
}

/// Per-bin gradient sums, hessian sums and row counts of one feature over
/// a node's rows, with the mask of occupied bins.
pub(crate) struct GradHistogram {
    g: Box<[f64; MAX_BINS]>,
    h: Box<[f64; MAX_BINS]>,
    n: Box<[u32; MAX_BINS]>,
    mask: [u64; 4],
}

impl GradHistogram {
    /// An empty histogram.
    pub(crate) fn new() -> Self {
        Self {
            g: Box::new([0.0; MAX_BINS]),
            h: Box::new([0.0; MAX_BINS]),
            n: Box::new([0; MAX_BINS]),
            mask: [0; 4],
        }
    }

    /// Adds the rows `rows` of the feature with bins `col` (gradients `g`
    /// and hessians `h` indexed by row).
    pub(crate) fn accumulate(&mut self, col: &[u8], rows: &[GradRow], g: &[f32], h: &[f32]) {
        for r in rows {
            let i = r.row();
            let b = col[i] as usize;
            self.mask[b >> 6] |= 1u64 << (b & 63);
            self.g[b] += g[i] as f64;
            self.h[b] += h[i] as f64;
            self.n[b] += 1;
        }
    }

    /// Number of occupied bins.
    pub(crate) fn occupied(&self) -> u32 {
        occupied(&self.mask)
    }

    /// Scans the occupied bins left to right and offers every admissible
    /// split of `feature` to `best`, scored by its gain over `node`.
    pub(crate) fn scan(
        &self,
        feature: usize,
        node: &GradStats,
        p: &GradientTreeParams,
        best: &mut ScoredSplit,
    ) {
        let lambda = p.lambda;
        let parent = node.g * node.g / (node.h + lambda);
        let (mut g_l, mut h_l, mut n_l) = (0f64, 0f64, 0usize);
        for_each_bin(&self.mask, |b| {
            g_l += self.g[b];
            h_l += self.h[b];
            n_l += self.n[b] as usize;
            let n_r = node.n - n_l;
            if n_r == 0 {
                return false;
            }
            let (g_r, h_r) = (node.g - g_l, node.h - h_l);
            if n_l >= p.min_data_in_leaf
                && n_r >= p.min_data_in_leaf
                && h_l >= p.min_sum_hessian_in_leaf
                && h_r >= p.min_sum_hessian_in_leaf
            {
                let gain = g_l * g_l / (h_l + lambda) + g_r * g_r / (h_r + lambda) - parent;
                if gain > p.min_gain_to_split {
                    best.consider(feature, b, gain);
                }
            }
            true
        });
    }

    /// Zeroes the occupied bins.
    pub(crate) fn clear(&mut self) {
        let (g, h, n) = (&mut *self.g, &mut *self.h, &mut *self.n);
        for_each_bin(&self.mask, |b| {
            g[b] = 0.0;
            h[b] = 0.0;
            n[b] = 0;
            true
        });
        self.mask = [0; 4];
    }
}

/// The gradient/hessian criterion over per-row gradients and hessians.
pub(crate) struct GradientCriterion<'a> {
    g: &'a [f32],
    h: &'a [f32],
    params: GradientTreeParams,
    hist: GradHistogram,
}

impl<'a> GradientCriterion<'a> {
    pub(crate) fn new(g: &'a [f32], h: &'a [f32], params: GradientTreeParams) -> Self {
        Self {
            g,
            h,
            params,
            hist: GradHistogram::new(),
        }
    }
}

/// The leaf output `-G / (H + λ)` (0 when the denominator is not positive).
pub(crate) fn leaf_output(stats: &GradStats, lambda: f64) -> f64 {
    let den = stats.h + lambda;
    if den > 0.0 { -stats.g / den } else { 0.0 }
}

impl Criterion for GradientCriterion<'_> {
    type Sample = GradRow;
    type Stats = GradStats;
    type Best = ScoredSplit;

    fn n_values(&self) -> usize {
        1
    }

    fn node_stats(&mut self, samples: &[GradRow]) -> GradStats {
        let mut s = GradStats {
            n: samples.len(),
            ..GradStats::default()
        };
        for r in samples {
            s.g += self.g[r.row()] as f64;
            s.h += self.h[r.row()] as f64;
        }
        s
    }

    fn write_value(&self, stats: &GradStats, out: &mut [f32]) {
        out[0] = leaf_output(stats, self.params.lambda) as f32;
    }

    fn is_leaf(&self, stats: &GradStats, n_samples: usize) -> bool {
        n_samples < 2 * self.params.min_data_in_leaf
            || stats.h < 2.0 * self.params.min_sum_hessian_in_leaf
    }

    fn evaluate(
        &mut self,
        feature: usize,
        col: &[u8],
        samples: &[GradRow],
        stats: &GradStats,
        best: &mut ScoredSplit,
    ) -> bool {
        self.hist.accumulate(col, samples, self.g, self.h);
        let varies = self.hist.occupied() > 1;
        if varies {
            self.hist.scan(feature, stats, &self.params, best);
        }
        self.hist.clear();
        varies
    }
}

impl GradientTreeValidParams {
    /// The validated settings.
    pub fn params(&self) -> &GradientTreeParams {
        &self.0
    }

    /// Grows one tree on the pre-binned features `binned` (binned by
    /// `binner`, whose edges give the stored thresholds) from the gradients
    /// and hessians of every row.
    ///
    /// Each node's value is its output `-G / (H + λ)`, so the returned
    /// tree predicts the additive step of a boosting round (before any
    /// learning rate). Gradients must be finite, hessians finite and
    /// non-negative.
    pub fn grow(
        &self,
        binned: &BinnedMatrix,
        binner: &FeatureBinner,
        gradients: &[f32],
        hessians: &[f32],
    ) -> Result<DecisionTreeRegressor> {
        let (n, d) = (binned.n_rows(), binned.n_features());
        if n == 0 || d == 0 {
            return Err(MlError::EmptyInput(
                "a gradient tree needs at least one row and one feature".into(),
            ));
        }
        if binner.n_features() != d {
            return Err(MlError::ShapeMismatch {
                what: "binner features vs binned features".into(),
                expected: d,
                got: binner.n_features(),
            });
        }
        for (what, len) in [("gradients", gradients.len()), ("hessians", hessians.len())] {
            if len != n {
                return Err(MlError::ShapeMismatch {
                    what: format!("number of {what}"),
                    expected: n,
                    got: len,
                });
            }
        }
        if n > u32::MAX as usize {
            return Err(MlError::InvalidParameter {
                name: "binned",
                reason: format!("at most {} rows are supported", u32::MAX),
            });
        }
        if let Some(i) = gradients.iter().position(|v| !v.is_finite()) {
            return Err(MlError::Numerical(format!(
                "gradient {} of row {i} is not finite",
                gradients[i]
            )));
        }
        if let Some(i) = hessians.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(MlError::Numerical(format!(
                "hessian {} of row {i} is not a finite non-negative number",
                hessians[i]
            )));
        }
        let p = &self.0;
        let limits = GrowLimits {
            max_depth: p.max_depth,
            min_samples_split: 2,
            max_features: p.max_features,
        };
        let mut crit = GradientCriterion::new(gradients, hessians, p.clone());
        let samples = (0..n as u32).map(GradRow).collect();
        let mut rng = tree_rng(p.seed, 0);
        let grown = grow(binned, binner, samples, &mut crit, &limits, &mut rng);
        Ok(DecisionTreeRegressor(TreeNodes::from_grown(d, 1, grown)))
    }
}
