//! The Gini criterion for classification trees.
//!
//! # Split search
//!
//! At a node, for each candidate feature a `(bin x class)` count histogram
//! is built in a single pass over the node's samples, then the bins are
//! scanned left to right keeping running class counts. The weighted Gini
//! decrease is maximised through the equivalent proxy
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
//! # Labels and weights
//!
//! Each sample carries its class label and its integer weight (the
//! bootstrap multiplicity in a forest). How the two are packed is a type
//! parameter ([`Packing`]) so that the common case stays as small and fast
//! as it was, while large label sets still work:
//! - [`Narrow`]: `{row: u32, label (8 bits) | weight (24 bits)}`, 8 bytes.
//!   Used when there are at most 256 classes and fewer than 2^24 rows (a
//!   bootstrap multiplicity never exceeds the row count, so it fits).
//! - [`Wide`]: `{row, label, weight}` as three `u32`, 12 bytes, for up to
//!   [`MAX_CLASSES`] classes and `2^32 - 1` rows.
//!
//! Both run the same arithmetic on the same counts, so they grow identical
//! trees (a unit test checks this).

use std::marker::PhantomData;

use super::criterion::{Criterion, SplitChoice, TreeSample, for_each_bin, occupied};
use crate::binning::MAX_BINS;

/// The largest number of classes a classification tree or forest accepts.
///
/// The bound is one of memory, not of representation: every node stores a
/// dense class distribution, and the histogram split search keeps a
/// `256 x n_classes` count table per thread.
pub const MAX_CLASSES: usize = 1 << 16;

/// How a classification sample stores its label and weight.
pub(crate) trait Packing: Copy + Send + Sync + 'static {
    /// One entry of the sample array.
    type Sample: TreeSample + Send + Sync;
    /// Label and weight as the counting-sort path stores them.
    type Lw: Copy + Default;
    /// Packs a sample (the caller guarantees the bounds of the packing).
    fn sample(row: u32, label: u32, weight: u32) -> Self::Sample;
    /// The sample's class.
    fn label(s: Self::Sample) -> usize;
    /// The sample's weight.
    fn weight(s: Self::Sample) -> u32;
    /// The sample's packed label and weight.
    fn lw(s: Self::Sample) -> Self::Lw;
    /// Class and weight of a packed label and weight.
    fn unpack(lw: Self::Lw) -> (usize, u64);
    /// A sort key whose high bits are `bin`.
    fn key(bin: u8, s: Self::Sample) -> u64;
    /// The bin of a key.
    fn key_bin(key: u64) -> u64;
    /// Class and weight of a key.
    fn key_unpack(key: u64) -> (usize, u64);
}

/// At most 256 classes and fewer than 2^24 rows: label and weight share a `u32`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Narrow;

/// A sample of the [`Narrow`] packing: row, then label (low 8 bits) and weight (high 24 bits).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NarrowSample {
    row: u32,
    yw: u32,
}

impl TreeSample for NarrowSample {
    #[inline]
    fn row(self) -> usize {
        self.row as usize
    }
}

impl Packing for Narrow {
    type Sample = NarrowSample;
    type Lw = u32;
    #[inline]
    fn sample(row: u32, label: u32, weight: u32) -> NarrowSample {
        NarrowSample {
            row,
            yw: (weight << 8) | label,
        }
    }
    #[inline]
    fn label(s: NarrowSample) -> usize {
        (s.yw & 0xff) as usize
    }
    #[inline]
    fn weight(s: NarrowSample) -> u32 {
        s.yw >> 8
    }
    #[inline]
    fn lw(s: NarrowSample) -> u32 {
        s.yw
    }
    #[inline]
    fn unpack(yw: u32) -> (usize, u64) {
        ((yw & 0xff) as usize, (yw >> 8) as u64)
    }
    #[inline]
    fn key(bin: u8, s: NarrowSample) -> u64 {
        ((bin as u64) << 32) | s.yw as u64
    }
    #[inline]
    fn key_bin(key: u64) -> u64 {
        key >> 32
    }
    #[inline]
    fn key_unpack(key: u64) -> (usize, u64) {
        ((key & 0xff) as usize, ((key as u32) >> 8) as u64)
    }
}

/// Up to [`MAX_CLASSES`] classes and `2^32 - 1` rows: label and weight in their own `u32`s.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wide;

/// A sample of the [`Wide`] packing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WideSample {
    row: u32,
    label: u32,
    weight: u32,
}

impl TreeSample for WideSample {
    #[inline]
    fn row(self) -> usize {
        self.row as usize
    }
}

impl Packing for Wide {
    type Sample = WideSample;
    type Lw = u64;
    #[inline]
    fn sample(row: u32, label: u32, weight: u32) -> WideSample {
        WideSample { row, label, weight }
    }
    #[inline]
    fn label(s: WideSample) -> usize {
        s.label as usize
    }
    #[inline]
    fn weight(s: WideSample) -> u32 {
        s.weight
    }
    #[inline]
    fn lw(s: WideSample) -> u64 {
        ((s.label as u64) << 32) | s.weight as u64
    }
    #[inline]
    fn unpack(lw: u64) -> (usize, u64) {
        ((lw >> 32) as usize, lw & 0xffff_ffff)
    }
    #[inline]
    fn key(bin: u8, s: WideSample) -> u64 {
        // MAX_CLASSES <= 2^24, so the label fits between the bin and the weight.
        ((bin as u64) << 56) | ((s.label as u64) << 32) | s.weight as u64
    }
    #[inline]
    fn key_bin(key: u64) -> u64 {
        key >> 56
    }
    #[inline]
    fn key_unpack(key: u64) -> (usize, u64) {
        (((key >> 32) & 0xff_ffff) as usize, key & 0xffff_ffff)
    }
}

/// The Gini criterion and its reusable split-search buffers.
pub(crate) struct Gini<P: Packing> {
    n_classes: usize,
    /// `MAX_BINS x n_classes` weighted counts; all zero between uses. Empty
    /// when even the root is too small for the histogram path.
    hist: Vec<u32>,
    /// Per-bin sample counts, then bin end offsets (sample path); zero between uses.
    cnt: [u32; MAX_BINS],
    /// Bin of each node sample (sample path).
    bins: Vec<u8>,
    /// `(bin, label, weight)` keys of tiny nodes.
    keys: Vec<u64>,
    /// Node samples' packed label/weight, sorted by bin (sample path).
    sorted: Vec<P::Lw>,
    left: Vec<u64>,
    right: Vec<u64>,
    /// Weighted class counts of the current node.
    node_counts: Vec<u64>,
    packing: PhantomData<P>,
}

/// Best split so far; `den == 0` means none yet (any candidate beats `num = -1`).
pub(crate) struct BestSplit {
    feature: usize,
    bin: u8,
    num: f64,
    den: f64,
}

impl SplitChoice for BestSplit {
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
    fn feature(&self) -> usize {
        self.feature
    }
    fn bin(&self) -> u8 {
        self.bin
    }
}

/// Node sizes below `SAMPLE_PATH_FACTOR * n_classes` use the sorted-sample scan.
const SAMPLE_PATH_FACTOR: usize = 64;

/// Nodes of at most this many samples sort `(bin, label, weight)` keys directly.
const SMALL_SORT: usize = 32;

impl<P: Packing> Gini<P> {
    /// Buffers for `n_classes` classes and a root of `n_root` samples.
    pub(crate) fn new(n_classes: usize, n_root: usize) -> Self {
        let hist_path = n_root >= SAMPLE_PATH_FACTOR * n_classes.max(2);
        Self {
            n_classes,
            hist: if hist_path {
                vec![0; MAX_BINS * n_classes]
            } else {
                Vec::new()
            },
            cnt: [0; MAX_BINS],
            bins: Vec::new(),
            keys: Vec::new(),
            sorted: Vec::new(),
            left: vec![0; n_classes],
            right: vec![0; n_classes],
            node_counts: vec![0; n_classes],
            packing: PhantomData,
        }
    }
}

impl<P: Packing> Criterion for Gini<P> {
    type Sample = P::Sample;
    /// The node's total weight (its class counts stay in `node_counts`).
    type Stats = u64;
    type Best = BestSplit;

    fn n_values(&self) -> usize {
        self.n_classes
    }

    #[inline]
    fn node_stats(&mut self, samples: &[P::Sample]) -> u64 {
        self.node_counts.fill(0);
        for &s in samples {
            self.node_counts[P::label(s)] += P::weight(s) as u64;
        }
        self.node_counts.iter().sum()
    }

    #[inline]
    fn write_value(&self, &total_w: &u64, out: &mut [f32]) {
        if total_w > 0 {
            for (v, &c) in out.iter_mut().zip(&self.node_counts) {
                *v = (c as f64 / total_w as f64) as f32;
            }
        }
    }

    #[inline]
    fn is_leaf(&self, _: &u64, _: usize) -> bool {
        self.node_counts.iter().filter(|&&c| c > 0).count() <= 1
    }

    #[inline]
    fn evaluate(
        &mut self,
        feature: usize,
        col: &[u8],
        samples: &[P::Sample],
        &total_w: &u64,
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
}

impl<P: Packing> Gini<P> {
    fn evaluate_hist(
        &mut self,
        feature: usize,
        col: &[u8],
        samples: &[P::Sample],
        total_w: u64,
        best: &mut BestSplit,
    ) -> bool {
        let k = self.n_classes;
        if self.hist.is_empty() {
            // Only reachable if a node is larger than the root was; kept so
            // the histogram is never indexed out of range.
            self.hist = vec![0; MAX_BINS * k];
        }
        let mut mask = [0u64; 4];
        {
            let hist = &mut self.hist[..];
            for &s in samples {
                let b = col[s.row()] as usize;
                mask[b >> 6] |= 1u64 << (b & 63);
                hist[b * k + P::label(s)] += P::weight(s);
            }
        }
        let occupied = occupied(&mask);
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
        samples: &[P::Sample],
        total_w: u64,
        best: &mut BestSplit,
    ) -> bool {
        if samples.len() <= SMALL_SORT {
            return self.evaluate_small(feature, col, samples, total_w, best);
        }
        let m = samples.len();
        let Gini {
            cnt,
            bins,
            sorted,
            left,
            node_counts,
            ..
        } = self;
        bins.resize(m, 0);
        sorted.resize(m, P::Lw::default());
        let (bins, sorted) = (&mut bins[..m], &mut sorted[..m]);
        let mut mask = [0u64; 4];
        for (s, o) in samples.iter().zip(bins.iter_mut()) {
            let b = col[s.row()];
            *o = b;
            let b = b as usize;
            mask[b >> 6] |= 1u64 << (b & 63);
            cnt[b] += 1;
        }
        let occupied = occupied(&mask);
        if occupied > 1 {
            // Exclusive prefix sums over occupied bins: cnt[b] = start of bin b.
            let mut acc = 0u32;
            for_each_bin(&mask, |b| {
                let c = cnt[b];
                cnt[b] = acc;
                acc += c;
                true
            });
            for (&s, &b) in samples.iter().zip(bins.iter()) {
                let pos = &mut cnt[b as usize];
                sorted[*pos as usize] = P::lw(s);
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
                for &lw in &sorted[start..end] {
                    let (y, h) = P::unpack(lw);
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

    /// Split search for tiny nodes: sort packed keys, scan samples in bin order.
    fn evaluate_small(
        &mut self,
        feature: usize,
        col: &[u8],
        samples: &[P::Sample],
        total_w: u64,
        best: &mut BestSplit,
    ) -> bool {
        self.keys.clear();
        self.keys
            .extend(samples.iter().map(|&s| P::key(col[s.row()], s)));
        self.keys.sort_unstable();
        let (Some(&first), Some(&last)) = (self.keys.first(), self.keys.last()) else {
            return false;
        };
        if P::key_bin(first) == P::key_bin(last) {
            return false;
        }
        self.left.fill(0);
        self.right.copy_from_slice(&self.node_counts);
        let mut sum_l2: u64 = 0;
        let mut sum_r2: u64 = self.right.iter().map(|&c| c * c).sum();
        let mut w_l: u64 = 0;
        let keys = &self.keys;
        for (i, &key) in keys.iter().enumerate() {
            let (y, h) = P::key_unpack(key);
            let l = &mut self.left[y];
            let r = self.node_counts[y] - *l;
            sum_l2 += (2 * *l + h) * h;
            sum_r2 -= (2 * r - h) * h;
            *l += h;
            w_l += h;
            let bin = P::key_bin(key);
            match keys.get(i + 1) {
                Some(&next) if P::key_bin(next) != bin => {
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
