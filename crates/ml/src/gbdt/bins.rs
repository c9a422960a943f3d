//! Bin boundaries that every shard agrees on, and the shard's rows mapped to bins.
//!
//! Each shard summarises each feature as a [`FeatureSketch`]: its distinct values with counts
//! (absent sparse entries count as 0.0), compacted to at most [`SKETCH_POINTS`] weighted points
//! when a feature has more. Sketches merge by concatenation and compaction, in shard order, so
//! every worker that merges the same sketches gets the same bins; one process is one shard.
//!
//! [`BinMapper`] turns a merged sketch into edges the way LightGBM does for numerical features:
//! at most `max_bin` distinct values give one bin each (edges at the midpoints), more are cut
//! greedily into bins of about equal count, so a heavy value (the zeros of an image) gets a bin
//! of its own. A value `v` falls in bin `#{edges < v}`, hence `bin(v) <= b ⇔ v <= edge[b]` and a
//! split found on bins is stored as the raw threshold `edge[b]`.
//!
//! [`BinnedShard`] keeps the bins twice: row-major, only the bins that differ from the feature's
//! *default bin* (the bin of 0.0), as global bin indices — what the histogram build walks — and
//! feature-major as bytes, what row partitioning and tree traversal read. The default bin of a
//! leaf's histogram is never accumulated: it is the leaf's totals minus the other bins.

use crate::sparse::CsrMatrix;
use crate::{MatrixView, MlError, Result};

/// The most weighted points a sketch keeps per feature.
pub const SKETCH_POINTS: usize = 4096;

/// The training rows of one shard: dense or sparse (absent entries are 0.0).
#[derive(Debug, Clone, Copy)]
pub enum Features<'a> {
    /// Row-major dense values.
    Dense(MatrixView<'a>),
    /// Compressed sparse rows.
    Sparse(&'a CsrMatrix),
}

impl Features<'_> {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        match self {
            Features::Dense(x) => x.rows(),
            Features::Sparse(x) => x.n_rows(),
        }
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        match self {
            Features::Dense(x) => x.cols(),
            Features::Sparse(x) => x.n_cols(),
        }
    }

    /// Calls `f(feature, value)` for each stored value of row `i` (every value when dense,
    /// the stored entries when sparse), features ascending.
    pub(crate) fn for_each_in_row(&self, i: usize, mut f: impl FnMut(usize, f32)) {
        match self {
            Features::Dense(x) => {
                for (j, &v) in x.row(i).iter().enumerate() {
                    f(j, v)
                }
            }
            Features::Sparse(x) => {
                let r = x.row(i);
                for (&j, &v) in r.indices.iter().zip(r.values) {
                    f(j as usize, v)
                }
            }
        }
    }

    /// Fails on the first value that is not finite.
    pub(crate) fn check_finite(&self) -> Result<()> {
        for i in 0..self.n_rows() {
            let mut bad = None;
            self.for_each_in_row(i, |j, v| {
                if bad.is_none() && !v.is_finite() {
                    bad = Some((j, v));
                }
            });
            if let Some((j, v)) = bad {
                return Err(MlError::Numerical(format!(
                    "feature {j} of row {i} is {v}: gradient boosting needs finite features"
                )));
            }
        }
        Ok(())
    }
}

/// Weighted values of one feature, ascending and distinct.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeatureSketch {
    /// The values, ascending.
    pub values: Vec<f32>,
    /// The weight (row count) of each value.
    pub counts: Vec<u64>,
}

impl FeatureSketch {
    /// Total weight.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn from_sorted(values: &[f32], zeros: u64) -> Self {
        let mut s = FeatureSketch::default();
        let push = |v: f32, c: u64, s: &mut FeatureSketch| {
            if c == 0 {
                return;
            }
            match s.values.last() {
                Some(&last) if last == v => *s.counts.last_mut().expect("counts") += c,
                _ => {
                    s.values.push(v);
                    s.counts.push(c);
                }
            }
        };
        let mut zeros_placed = zeros == 0;
        for &v in values {
            if !zeros_placed && v >= 0.0 {
                push(0.0, zeros, &mut s);
                zeros_placed = true;
            }
            push(if v == 0.0 { 0.0 } else { v }, 1, &mut s);
        }
        if !zeros_placed {
            push(0.0, zeros, &mut s);
        }
        s.compact();
        s
    }

    /// Merges `other` in (the result does not depend on which side is which).
    pub fn merge(&mut self, other: &FeatureSketch) {
        let (a, b) = (std::mem::take(self), other);
        let (mut i, mut j) = (0, 0);
        while i < a.values.len() || j < b.values.len() {
            let take_a = j >= b.values.len()
                || (i < a.values.len() && a.values[i].total_cmp(&b.values[j]).is_le());
            let (v, c) = if take_a {
                i += 1;
                (a.values[i - 1], a.counts[i - 1])
            } else {
                j += 1;
                (b.values[j - 1], b.counts[j - 1])
            };
            match self.values.last() {
                Some(&last) if last == v => *self.counts.last_mut().expect("counts") += c,
                _ => {
                    self.values.push(v);
                    self.counts.push(c);
                }
            }
        }
        self.compact();
    }

    /// Keeps at most [`SKETCH_POINTS`] points: consecutive values are pooled into points of
    /// about equal weight, each at the value where the pool's weight peaks.
    fn compact(&mut self) {
        if self.values.len() <= SKETCH_POINTS {
            return;
        }
        let total = self.total();
        let per = total.div_ceil(SKETCH_POINTS as u64).max(1);
        let (mut values, mut counts) = (Vec::new(), Vec::new());
        let (mut acc, mut best, mut best_c) = (0u64, 0f32, 0u64);
        for (&v, &c) in self.values.iter().zip(&self.counts) {
            acc += c;
            if c > best_c {
                best = v;
                best_c = c;
            }
            if acc >= per {
                values.push(best);
                counts.push(acc);
                acc = 0;
                best_c = 0;
            }
        }
        if acc > 0 {
            values.push(best);
            counts.push(acc);
        }
        self.values = values;
        self.counts = counts;
    }
}

/// One sketch per feature of one shard (or of several, merged).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sketches(pub Vec<FeatureSketch>);

impl Sketches {
    /// Sketches every feature of `x`.
    pub fn of(x: Features<'_>) -> Self {
        let (n, d) = (x.n_rows(), x.n_features());
        let mut cols: Vec<Vec<f32>> = vec![Vec::new(); d];
        for i in 0..n {
            x.for_each_in_row(i, |j, v| {
                if v != 0.0 {
                    cols[j].push(v)
                }
            });
        }
        Sketches(
            cols.into_iter()
                .map(|mut c| {
                    c.sort_unstable_by(f32::total_cmp);
                    let zeros = (n - c.len()) as u64;
                    FeatureSketch::from_sorted(&c, zeros)
                })
                .collect(),
        )
    }

    /// Merges another shard's sketches; both must cover the same features.
    pub fn merge(&mut self, other: &Sketches) -> Result<()> {
        if self.0.len() != other.0.len() {
            return Err(MlError::ShapeMismatch {
                what: "features of two shards' sketches".into(),
                expected: self.0.len(),
                got: other.0.len(),
            });
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            a.merge(b);
        }
        Ok(())
    }

    /// Little-endian bytes: features, then per feature its point count and the points.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.0.len() as u32).to_le_bytes());
        for s in &self.0 {
            out.extend_from_slice(&(s.values.len() as u32).to_le_bytes());
            for (&v, &c) in s.values.iter().zip(&s.counts) {
                out.extend_from_slice(&v.to_le_bytes());
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        out
    }

    /// Reads what [`Sketches::to_bytes`] wrote, checking every length against the bytes left.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let corrupt = |why: &str| MlError::CorruptModel(format!("feature sketches: {why}"));
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let end = at.checked_add(n).filter(|&e| e <= bytes.len());
            let end = end.ok_or_else(|| corrupt("truncated"))?;
            let s = &bytes[at..end];
            at = end;
            Ok(s)
        };
        let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let d = u32_at(take(4)?);
        if d > bytes.len() / 4 {
            return Err(corrupt("feature count larger than the bytes"));
        }
        let mut out = Vec::with_capacity(d);
        for _ in 0..d {
            let m = u32_at(take(4)?);
            let raw = take(m.checked_mul(12).ok_or_else(|| corrupt("point count"))?)?;
            let mut s = FeatureSketch {
                values: Vec::with_capacity(m),
                counts: Vec::with_capacity(m),
            };
            for p in raw.chunks_exact(12) {
                let v = f32::from_le_bytes([p[0], p[1], p[2], p[3]]);
                let c = u64::from_le_bytes(p[4..12].try_into().expect("8 bytes"));
                if !v.is_finite() || s.values.last().is_some_and(|&l| l >= v) {
                    return Err(corrupt("values not finite and ascending"));
                }
                s.values.push(v);
                s.counts.push(c);
            }
            out.push(s);
        }
        if at != bytes.len() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Sketches(out))
    }
}

/// Per-feature bin edges agreed from merged sketches.
#[derive(Debug, Clone, PartialEq)]
pub struct BinMapper {
    edges: Vec<Vec<f32>>,
}

impl BinMapper {
    /// Edges for at most `max_bin` bins of at least `min_data_in_bin` rows per feature from
    /// merged sketches. A feature that no cut splits into two sides of `min_data_in_leaf` rows
    /// gets no edges (one bin): no leaf could ever split on it.
    pub fn from_sketches(
        s: &Sketches,
        max_bin: usize,
        min_data_in_bin: usize,
        min_data_in_leaf: usize,
    ) -> Self {
        let edges =
            s.0.iter()
                .map(|f| {
                    let e = feature_edges(f, max_bin, min_data_in_bin);
                    if can_split(f, &e, min_data_in_leaf as u64) {
                        e
                    } else {
                        Vec::new()
                    }
                })
                .collect();
        BinMapper { edges }
    }

    /// Rebuilds a mapper from stored edges (each ascending and finite).
    pub fn from_edges(edges: Vec<Vec<f32>>) -> Result<Self> {
        for (f, e) in edges.iter().enumerate() {
            if e.len() >= 256
                || e.iter().any(|v| !v.is_finite())
                || e.windows(2).any(|w| w[0] >= w[1])
            {
                return Err(MlError::CorruptModel(format!(
                    "bin edges of feature {f} are not at most 255 finite ascending values"
                )));
            }
        }
        Ok(BinMapper { edges })
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.edges.len()
    }

    /// Edges of feature `f`.
    pub fn edges(&self, f: usize) -> &[f32] {
        &self.edges[f]
    }

    /// Bins of feature `f`.
    pub fn n_bins(&self, f: usize) -> usize {
        self.edges[f].len() + 1
    }

    /// The bin of value `v` of feature `f`.
    #[inline]
    pub fn bin(&self, f: usize, v: f32) -> u8 {
        self.edges[f].partition_point(|&e| e < v) as u8
    }

    /// Maps the rows of one shard.
    pub fn bin_shard(&self, x: Features<'_>) -> Result<BinnedShard> {
        if x.n_features() != self.n_features() {
            return Err(MlError::ShapeMismatch {
                what: "features of the shard vs the agreed bins".into(),
                expected: self.n_features(),
                got: x.n_features(),
            });
        }
        x.check_finite()?;
        let (n, d) = (x.n_rows(), x.n_features());
        // Features that can split (two bins or more), and their place in the histogram.
        let mut used = Vec::new();
        let mut offsets = vec![0u32];
        let mut slot = vec![u32::MAX; d];
        for (f, slot) in slot.iter_mut().enumerate() {
            if self.n_bins(f) > 1 {
                *slot = used.len() as u32;
                used.push(f as u32);
                offsets.push(offsets[offsets.len() - 1] + self.n_bins(f) as u32);
            }
        }
        let default_bin: Vec<u8> = used.iter().map(|&f| self.bin(f as usize, 0.0)).collect();
        let mut columns = vec![0u8; n * used.len()];
        for (u, &b) in default_bin.iter().enumerate() {
            columns[u * n..(u + 1) * n].fill(b);
        }
        // Cut the used features into at least two blocks of about equal bins (two threads
        // build a histogram), each of at most BLOCK_BINS bins; a feature never straddles two.
        let total = offsets[used.len()] as usize;
        let n_blocks = total.div_ceil(BLOCK_BINS).max(2);
        let mut blocks: Vec<EntryBlock> = Vec::new();
        let mut block_of = vec![0u32; used.len()];
        for (u, block) in block_of.iter_mut().enumerate() {
            let (lo, hi) = (offsets[u] as usize, offsets[u + 1] as usize);
            let started = blocks.len();
            match blocks.last_mut() {
                Some(b) if hi - b.bins.start <= BLOCK_BINS && lo < total * started / n_blocks => {
                    b.bins.end = hi
                }
                _ => blocks.push(EntryBlock {
                    bins: lo..hi,
                    row_ptr: Vec::with_capacity(n + 1),
                    entries: Vec::new(),
                }),
            }
            *block = (blocks.len() - 1) as u32;
        }
        for b in &mut blocks {
            b.row_ptr.push(0);
        }
        for i in 0..n {
            x.for_each_in_row(i, |f, v| {
                let u = slot[f];
                if u == u32::MAX {
                    return;
                }
                let u = u as usize;
                let b = self.bin(f, v);
                columns[u * n + i] = b;
                if b != default_bin[u] {
                    let blk = &mut blocks[block_of[u] as usize];
                    blk.entries
                        .push((offsets[u] as usize + b as usize - blk.bins.start) as u16);
                }
            });
            for b in &mut blocks {
                b.row_ptr.push(b.entries.len() as u64);
            }
        }
        Ok(BinnedShard {
            n_rows: n,
            edges: self.edges.clone(),
            used,
            offsets,
            default_bin,
            blocks,
            columns,
        })
    }
}

/// Greedy equal-count edges over a weighted sketch (midpoints between kept values): every bin
/// but the last holds at least `min_data_in_bin` rows, a heavy value gets a bin of its own, and
/// 0.0 (the default bin) is always alone in its bin, as in LightGBM's `GreedyFindBin`.
fn feature_edges(s: &FeatureSketch, max_bin: usize, min_data_in_bin: usize) -> Vec<f32> {
    let m = s.values.len();
    if m <= 1 {
        return Vec::new();
    }
    let mid = |a: f32, b: f32| {
        let c = a + (b - a) / 2.0;
        if c >= b { a } else { c }
    };
    let min_bin = min_data_in_bin.max(1) as u64;
    let mut edges = Vec::with_capacity(max_bin.min(m) - 1);
    let mut remaining: u64 = s.total();
    let mut acc = 0u64;
    for i in 0..m - 1 {
        let bins_left = (max_bin - edges.len()) as u64;
        let target = if m <= max_bin {
            min_bin
        } else {
            remaining.div_ceil(bins_left).max(min_bin)
        };
        acc += s.counts[i];
        let at_zero = s.values[i] == 0.0 || s.values[i + 1] == 0.0;
        // Cut after value i when its bin is full, when the next value alone would overfill
        // it (a heavy value gets a bin of its own), or on either side of 0.0.
        let full = acc >= target || (acc >= min_bin && acc + s.counts[i + 1] > 2 * target);
        if edges.len() + 1 < max_bin && (full || at_zero) {
            edges.push(mid(s.values[i], s.values[i + 1]));
            remaining -= acc;
            acc = 0;
        }
    }
    edges
}

/// Whether some cut between the bins of `edges` leaves at least `min_rows` rows on both sides.
fn can_split(s: &FeatureSketch, edges: &[f32], min_rows: u64) -> bool {
    let total = s.total();
    let mut left = 0u64;
    let mut e = 0usize;
    for (&v, &c) in s.values.iter().zip(&s.counts) {
        // Close every bin that ends before v.
        while e < edges.len() && edges[e] < v {
            if left >= min_rows && total - left >= min_rows {
                return true;
            }
            e += 1;
        }
        left += c;
    }
    false
}

/// Most bins in one [`EntryBlock`], so that a bin within a block fits a `u16`. Blocks are as
/// few as that and two threads allow: L2-sized blocks of 16k bins (192 KiB of `f32` histogram)
/// were 5% slower on MNIST 10k and 12% slower on 60k than two blocks of 43k bins, the rows'
/// scattered entries costing more than the histogram's misses.
pub(crate) const BLOCK_BINS: usize = 64 * 1024;

/// The non-default bins of one block of consecutive used features, row by row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EntryBlock {
    /// The block's bins within a histogram.
    pub(crate) bins: std::ops::Range<usize>,
    /// Where each row's entries start in `entries` (`n_rows + 1` values).
    pub(crate) row_ptr: Vec<u64>,
    /// Bins relative to `bins.start`.
    pub(crate) entries: Vec<u16>,
}

/// One shard's rows as bins: per block of features, row-major non-default bins; and
/// feature-major bytes.
#[derive(Debug, Clone)]
pub struct BinnedShard {
    pub(crate) n_rows: usize,
    /// The agreed edges of every feature (for the thresholds of splits).
    pub(crate) edges: Vec<Vec<f32>>,
    /// The features with two bins or more, ascending (the others never split).
    pub(crate) used: Vec<u32>,
    /// Where each used feature's bins start in a histogram; the last entry is the total.
    pub(crate) offsets: Vec<u32>,
    /// The bin of 0.0 per used feature.
    pub(crate) default_bin: Vec<u8>,
    /// The non-default bins, by blocks of features that together cover every used feature.
    pub(crate) blocks: Vec<EntryBlock>,
    /// `n_rows` bins per used feature.
    pub(crate) columns: Vec<u8>,
}

impl BinnedShard {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of features that can split.
    pub fn n_used_features(&self) -> usize {
        self.used.len()
    }

    /// Bins in one histogram (all used features).
    pub fn total_bins(&self) -> usize {
        self.offsets[self.offsets.len() - 1] as usize
    }

    /// Stored non-default bins (the histogram build's work per full pass).
    pub fn n_entries(&self) -> usize {
        self.blocks.iter().map(|b| b.entries.len()).sum()
    }

    /// The bins of used feature `u` for every row.
    #[inline]
    pub(crate) fn column(&self, u: usize) -> &[u8] {
        &self.columns[u * self.n_rows..(u + 1) * self.n_rows]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Matrix;

    #[test]
    fn few_distinct_values_get_a_bin_each_and_heavy_zero_its_own() {
        let x = Matrix::new(6, 1, vec![0.0, 0.0, 1.0, 2.0, 2.0, 5.0]).unwrap();
        let s = Sketches::of(Features::Dense(x.view()));
        assert_eq!(s.0[0].values, vec![0.0, 1.0, 2.0, 5.0]);
        assert_eq!(s.0[0].counts, vec![2, 1, 2, 1]);
        let m = BinMapper::from_sketches(&s, 255, 1, 1);
        assert_eq!(m.edges(0), &[0.5, 1.5, 3.5]);
        assert_eq!(
            (m.bin(0, 0.0), m.bin(0, 0.5), m.bin(0, 0.6), m.bin(0, 9.0)),
            (0, 0, 1, 3)
        );
        // Many values into 4 bins: the 50% of zeros fill one bin alone.
        let mut v = vec![0.0f32; 100];
        v.extend((1..=100).map(|i| i as f32));
        let x = Matrix::new(200, 1, v).unwrap();
        let m = BinMapper::from_sketches(&Sketches::of(Features::Dense(x.view())), 4, 3, 20);
        assert_eq!(m.n_bins(0), 4);
        assert_eq!(m.bin(0, 0.0), 0);
        assert_eq!(m.bin(0, 1.0), 1);
    }

    #[test]
    fn rare_values_share_bins_and_zero_stays_alone() {
        // Values 1..=7 once each, 0.0 ten times, -1.0 once: bins of 3 rows, 0.0 alone.
        let mut v = vec![0.0f32; 10];
        v.push(-1.0);
        v.extend((1..=7).map(|i| i as f32));
        let x = Matrix::new(v.len(), 1, v).unwrap();
        let m = BinMapper::from_sketches(&Sketches::of(Features::Dense(x.view())), 255, 3, 1);
        assert_eq!(m.edges(0), &[-0.5, 0.5, 3.5, 6.5]);
        assert_eq!((m.bin(0, -1.0), m.bin(0, 0.0), m.bin(0, 3.0)), (0, 1, 2));
    }

    #[test]
    fn a_feature_no_cut_can_split_gets_one_bin() {
        // 25 rows: 0.0 in 22, other values in 3. With min_data_in_leaf 5 no cut leaves 5 rows
        // on both sides; with 3 the cut after 0.0 does.
        let mut v = vec![0.0f32; 22];
        v.extend([1.0, 2.0, 3.0]);
        let x = Matrix::new(25, 1, v).unwrap();
        let s = Sketches::of(Features::Dense(x.view()));
        assert_eq!(BinMapper::from_sketches(&s, 255, 1, 5).n_bins(0), 1);
        assert_eq!(BinMapper::from_sketches(&s, 255, 1, 3).n_bins(0), 4);
        assert_eq!(BinMapper::from_sketches(&s, 255, 3, 3).n_bins(0), 2);
    }

    #[test]
    fn sketches_of_shards_merge_to_the_sketch_of_the_whole() {
        let v: Vec<f32> = (0..3000)
            .map(|i| ((i * 7919) % 1013) as f32 / 7.0)
            .collect();
        let x = Matrix::new(1500, 2, v).unwrap();
        let whole = Sketches::of(Features::Dense(x.view()));
        let (a, b) = x.data().split_at(1000);
        let mut s = Sketches::of(Features::Dense(MatrixView::new(500, 2, a).unwrap()));
        s.merge(&Sketches::of(Features::Dense(
            MatrixView::new(1000, 2, b).unwrap(),
        )))
        .unwrap();
        assert_eq!(s, whole);
        assert_eq!(Sketches::from_bytes(&s.to_bytes()).unwrap(), s);
        let mut bytes = s.to_bytes();
        bytes.truncate(bytes.len() - 3);
        assert!(Sketches::from_bytes(&bytes).is_err());
        assert!(Sketches::from_bytes(&[255, 255, 255, 255]).is_err());
    }

    #[test]
    fn sparse_and_dense_rows_bin_alike() {
        let dense = Matrix::new(3, 3, vec![0.0, 2.0, 0.0, 1.0, 0.0, 0.0, 0.0, 3.0, 0.0]).unwrap();
        let mut sparse = CsrMatrix::empty(3);
        sparse.push_row(&[(1, 2.0)]).unwrap();
        sparse.push_row(&[(0, 1.0)]).unwrap();
        sparse.push_row(&[(1, 3.0)]).unwrap();
        let sd = Sketches::of(Features::Dense(dense.view()));
        assert_eq!(sd, Sketches::of(Features::Sparse(&sparse)));
        let m = BinMapper::from_sketches(&sd, 255, 1, 1);
        let a = m.bin_shard(Features::Dense(dense.view())).unwrap();
        let b = m.bin_shard(Features::Sparse(&sparse)).unwrap();
        assert_eq!(a.used, vec![0, 1]); // feature 2 is constant
        assert_eq!((a.blocks.clone(), a.columns.clone()), (b.blocks, b.columns));
        let bad = Matrix::new(1, 3, vec![f32::NAN, 0.0, 0.0]).unwrap();
        assert!(
            m.bin_shard(Features::Dense(bad.view()))
                .unwrap_err()
                .to_string()
                .contains("row 0")
        );
    }
}
