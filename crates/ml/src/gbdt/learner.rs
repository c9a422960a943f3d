//! Leaf-wise growth of one tree over gradient/hessian histograms, with the subtraction trick,
//! for one shard of a data-parallel fit.
//!
//! A histogram holds `(Σg, Σh, n)` per bin of every used feature, then the leaf's totals: one
//! flat `f32` vector, which is what the shards reduce-scatter. A shard accumulates only the bins
//! that differ from a feature's default bin (the bin of 0.0; most of an image's pixels, every
//! absent sparse entry); after the sum, each default bin is the leaf's totals minus the feature's
//! other bins. Of two new children only the one with fewer rows (over all shards) is accumulated
//! and reduced; the other is its parent minus it. A leaf remembers which features had an
//! admissible cut in it; its children fill, subtract and scan only those.
//!
//! The leaf to split next is the one whose best split gains most (ties: the oldest leaf). Every
//! choice is taken from reduced values, so every shard grows the same tree; within a shard, rows
//! stay in ascending order inside each leaf and a histogram is built one block of features at a
//! time, each bin's adds in row order, so a shard's contribution depends neither on thread timing
//! nor on the thread count.

use rayon::prelude::*;

use super::bins::{BinnedShard, EntryBlock};
use super::collective::{Collective, Tag};
use super::params::GbdtParams;
use super::tree::Tree;
use crate::Result;

/// One value of a histogram bin. `f32` halves the memory every pass over a histogram touches
/// (and the bytes the shards exchange) against `f64`: fits 26% faster on MNIST at the same
/// accuracy. Running sums over bins and every gain are computed in `f64`; counts stay exact
/// up to 2^24 rows in one bin.
pub(crate) type HistValue = f32;

/// Values per histogram bin: gradient sum, hessian sum, row count.
const W: usize = 3;
/// Fewest rows for a histogram build shared among threads.
const PARALLEL_ROWS: usize = 1024;

/// The best split of a leaf.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// Index into the shard's used features.
    u: usize,
    /// Rows with bin `<= bin` go left.
    bin: u8,
    gain: f64,
    /// Row count of the left child over all shards.
    n_left: f64,
}

/// Values per split candidate on the wire: present, feature, bin, gain, left count.
const CANDIDATE: usize = 5;

fn encode_candidates(c: &[Option<Split>]) -> Vec<u8> {
    c.iter()
        .flat_map(|s| match s {
            Some(s) => [1.0, s.u as f64, f64::from(s.bin), s.gain, s.n_left],
            None => [0.0; CANDIDATE],
        })
        .flat_map(f64::to_le_bytes)
        .collect()
}

/// The better of two candidates: more gain, ties to the lower feature (then bin).
fn better(a: Option<Split>, b: Option<Split>) -> Option<Split> {
    match (a, b) {
        (Some(x), Some(y)) => {
            if y.gain > x.gain || (y.gain == x.gain && (y.u, y.bin) < (x.u, x.bin)) {
                Some(y)
            } else {
                Some(x)
            }
        }
        (x, None) => x,
        (None, y) => y,
    }
}

struct Leaf {
    /// Range of this shard's rows in the learner's row order.
    begin: usize,
    end: usize,
    depth: usize,
    hist: Option<Vec<HistValue>>,
    best: Option<Split>,
    /// The own features with an admissible cut in this leaf: its children's candidates (a
    /// cut that leaves too few rows or too little hessian on a side here does so in any
    /// subset of the rows).
    feasible: Vec<u32>,
}

/// What the learner did for one tree: work and traffic.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrowStats {
    /// Histograms built from rows (one per collective sum).
    pub built: usize,
    /// Histograms derived by subtraction.
    pub subtracted: usize,
    /// `f64` values summed across shards.
    pub reduced_values: usize,
}

/// Grows trees on one shard.
pub(crate) struct Learner<'a> {
    shard: &'a BinnedShard,
    params: &'a GbdtParams,
    len: usize,
    free: Vec<Vec<HistValue>>,
    order: Vec<u32>,
    scratch: Vec<u32>,
    /// This shard's rows of each leaf of the last tree: `order[begin..end]`.
    leaf_ranges: Vec<(usize, usize)>,
    /// The used features whose histograms this participant reduces and scans.
    own: std::ops::Range<usize>,
    /// Each participant's range of histogram values (its features' bins).
    blocks: Vec<std::ops::Range<usize>>,
}

impl<'a> Learner<'a> {
    /// A learner for participant `rank` of `size`: the used features are cut into `size`
    /// contiguous blocks of about equal bins, and `rank` reduces and scans its own.
    pub(crate) fn new(
        shard: &'a BinnedShard,
        params: &'a GbdtParams,
        rank: usize,
        size: usize,
    ) -> Self {
        let len = shard.total_bins() * W + W;
        let n_used = shard.used.len();
        let total = shard.total_bins().max(1);
        let mut cuts = vec![0usize];
        let mut u = 0usize;
        for r in 1..size.max(1) {
            let target = total * r / size;
            while u < n_used && (shard.offsets[u] as usize) < target {
                u += 1;
            }
            cuts.push(u.max(cuts[r - 1]));
        }
        cuts.push(n_used);
        let features: Vec<std::ops::Range<usize>> = cuts.windows(2).map(|c| c[0]..c[1]).collect();
        let blocks = features
            .iter()
            .map(|f| shard.offsets[f.start] as usize * W..shard.offsets[f.end] as usize * W)
            .collect();
        let own = features[rank.min(features.len() - 1)].clone();
        Learner {
            shard,
            params,
            len,
            free: Vec::new(),
            order: Vec::new(),
            scratch: Vec::new(),
            leaf_ranges: Vec::new(),
            own,
            blocks,
        }
    }

    fn buffer(&mut self) -> Vec<HistValue> {
        self.free.pop().unwrap_or_else(|| vec![0.0; self.len])
    }

    /// This shard's histogram of `rows` (default bins left at zero), totals last. Built one
    /// block of features at a time (in parallel when threads are free): each bin's adds come in
    /// row order whatever the thread count, so the histogram has the same bits with any.
    fn accumulate(&mut self, rows: &[u32], g: &[f32], h: &[f32], out: &mut [HistValue]) {
        let t = out.len() - W;
        let (mut tg, mut th) = (0.0f64, 0.0f64);
        for &r in rows {
            tg += f64::from(g[r as usize]);
            th += f64::from(h[r as usize]);
        }
        out[t] = tg as HistValue;
        out[t + 1] = th as HistValue;
        out[t + 2] = rows.len() as HistValue;
        let blocks = &self.shard.blocks;
        let mut slices = Vec::with_capacity(blocks.len());
        let mut rest = &mut out[..t];
        let mut at = 0usize;
        for b in blocks {
            let tail = std::mem::take(&mut rest);
            let (_, tail) = tail.split_at_mut(b.bins.start * W - at);
            let (mine, tail) = tail.split_at_mut(b.bins.len() * W);
            slices.push(mine);
            rest = tail;
            at = b.bins.end * W;
        }
        let work = |(b, out): (&EntryBlock, &mut &mut [HistValue])| {
            out.fill(0.0);
            accumulate_block(b, rows, g, h, out);
        };
        if rayon::current_num_threads() > 1 && rows.len() >= PARALLEL_ROWS && blocks.len() > 1 {
            blocks.par_iter().zip(slices.par_iter_mut()).for_each(work);
        } else {
            blocks.iter().zip(slices.iter_mut()).for_each(work);
        }
    }

    /// What a scan of one leaf needs: its totals and the split rules, or `None` when the leaf
    /// is too small (in rows or hessian) for any split.
    fn scan_rules(&self, hist: &[HistValue]) -> Option<ScanRules> {
        let p = self.params;
        let t = self.len - W;
        let (tg, th, tn) = (
            f64::from(hist[t]),
            f64::from(hist[t + 1]),
            f64::from(hist[t + 2]),
        );
        let min_n = p.min_data_in_leaf as f64;
        let min_h = p.min_sum_hessian_in_leaf;
        if tn < 2.0 * min_n || th < 2.0 * min_h {
            return None;
        }
        Some(ScanRules {
            tg,
            th,
            tn,
            parent: tg * tg / (th + p.lambda_l2),
            lambda: p.lambda_l2,
            min_n,
            min_h,
            min_gain: p.min_gain_to_split,
        })
    }

    /// The per-feature slices of `hist` for `features` (ascending): `(feature, bins)`.
    fn feature_slices<'h>(
        &self,
        hist: &'h mut [HistValue],
        features: &[u32],
    ) -> Vec<&'h mut [HistValue]> {
        let offsets = &self.shard.offsets;
        let mut out = Vec::with_capacity(features.len());
        let mut rest = hist;
        let mut at = 0usize;
        for &u in features {
            let (lo, hi) = (
                offsets[u as usize] as usize * W,
                offsets[u as usize + 1] as usize * W,
            );
            let tail = std::mem::take(&mut rest);
            let (_, tail) = tail.split_at_mut(lo - at);
            let (mine, tail) = tail.split_at_mut(hi - lo);
            out.push(mine);
            rest = tail;
            at = hi;
        }
        out
    }

    /// Whether the work over `features` is large enough to share among threads.
    fn parallel(&self, features: &[u32]) -> bool {
        let o = &self.shard.offsets;
        let bins: usize = features
            .iter()
            .map(|&u| (o[u as usize + 1] - o[u as usize]) as usize)
            .sum();
        bins > 16 * 1024 && rayon::current_num_threads() > 1
    }

    /// The root's scan: fills each feature's default bin, then finds the best split over
    /// `features` and those of them with an admissible cut.
    fn scan_root(&self, hist: &mut [HistValue], features: &[u32]) -> (Option<Split>, Vec<u32>) {
        let t = self.len - W;
        let totals = [hist[t], hist[t + 1], hist[t + 2]].map(f64::from);
        let rules = self.scan_rules(hist);
        let s = self.shard;
        let parallel = self.parallel(features);
        let mut slices = self.feature_slices(hist, features);
        let work = |x: &mut ScanScratch, (&u, bins): (&u32, &mut &mut [HistValue])| {
            let default = s.default_bin[u as usize] as usize;
            fill_default_bin(bins, default, totals);
            rules.map_or(NO_CUT, |r| r.scan(bins, default, x))
        };
        let found: Vec<FeatureCut> = if parallel {
            features
                .par_iter()
                .zip(slices.par_iter_mut())
                .map_init(ScanScratch::default, work)
                .collect()
        } else {
            let mut x = ScanScratch::default();
            features
                .iter()
                .zip(slices.iter_mut())
                .map(|f| work(&mut x, f))
                .collect()
        };
        collect_cuts(features, &found)
    }

    /// After a split: fills the default bins of the smaller child's histogram `small`, turns
    /// `parent` into the larger child's (parent minus smaller) and scans both, one feature at
    /// a time while its bins are in cache. Only `features` (the parent's feasible ones) are
    /// touched; the other bins of both histograms are never read again. Returns the smaller
    /// child's result, then the larger's.
    fn split_and_scan(
        &self,
        parent: &mut [HistValue],
        small: &mut [HistValue],
        features: &[u32],
        deepen: bool,
    ) -> [(Option<Split>, Vec<u32>); 2] {
        let t = self.len - W;
        for k in t..t + W {
            parent[k] -= small[k];
        }
        if !deepen {
            return [(None, Vec::new()), (None, Vec::new())];
        }
        let small_totals = [small[t], small[t + 1], small[t + 2]].map(f64::from);
        let (rs, rl) = (self.scan_rules(small), self.scan_rules(parent));
        if rs.is_none() && rl.is_none() {
            return [(None, Vec::new()), (None, Vec::new())];
        }
        let s = self.shard;
        let parallel = self.parallel(features);
        let mut ps = self.feature_slices(parent, features);
        let mut ss = self.feature_slices(small, features);
        let work =
            |x: &mut ScanScratch,
             ((&u, p), sm): ((&u32, &mut &mut [HistValue]), &mut &mut [HistValue])| {
                let default = s.default_bin[u as usize] as usize;
                if rl.is_none() {
                    fill_default_bin(sm, default, small_totals);
                    return (rs.map_or(NO_CUT, |r| r.scan(sm, default, x)), NO_CUT);
                }
                fill_and_subtract(sm, p, default, small_totals);
                let small_cut = rs.map_or(NO_CUT, |r| r.scan(sm, default, x));
                (small_cut, rl.map_or(NO_CUT, |r| r.scan(p, default, x)))
            };
        let found: Vec<(FeatureCut, FeatureCut)> = if parallel {
            features
                .par_iter()
                .zip(ps.par_iter_mut())
                .zip(ss.par_iter_mut())
                .map_init(ScanScratch::default, work)
                .collect()
        } else {
            let mut x = ScanScratch::default();
            features
                .iter()
                .zip(ps.iter_mut())
                .zip(ss.iter_mut())
                .map(|f| work(&mut x, f))
                .collect()
        };
        let (a, b): (Vec<FeatureCut>, Vec<FeatureCut>) = found.into_iter().unzip();
        [collect_cuts(features, &a), collect_cuts(features, &b)]
    }

    /// Every participant's candidates for the same leaves, and the best per leaf: what all of
    /// them then split on.
    fn agree(
        &self,
        mine: &[Option<Split>],
        collective: &mut dyn Collective,
        tag: Tag,
    ) -> Result<Vec<Option<Split>>> {
        if collective.size() == 1 {
            return Ok(mine.to_vec());
        }
        let all = collective.all_gather(tag, encode_candidates(mine))?;
        let mut best = vec![None; mine.len()];
        for (rank, bytes) in all.iter().enumerate() {
            if bytes.len() != mine.len() * CANDIDATE * 8 {
                return Err(crate::MlError::Collective(format!(
                    "rank {rank} sent {} bytes of split candidates to {tag}, expected {}",
                    bytes.len(),
                    mine.len() * CANDIDATE * 8
                )));
            }
            let v: Vec<f64> = bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            for (slot, c) in v.chunks_exact(CANDIDATE).enumerate() {
                if c[0] == 0.0 {
                    continue;
                }
                let u = c[1] as usize;
                if u >= self.shard.used.len() || !(0.0..=255.0).contains(&c[2]) {
                    return Err(crate::MlError::Collective(format!(
                        "rank {rank} sent a split on feature {} bin {} to {tag}",
                        c[1], c[2]
                    )));
                }
                let s = Split {
                    u,
                    bin: c[2] as u8,
                    gain: c[3],
                    n_left: c[4],
                };
                best[slot] = better(best[slot], Some(s));
            }
        }
        Ok(best)
    }

    /// Accumulates this shard's rows `begin..end` and sums the histogram over all shards (the
    /// default bins stay to be filled).
    #[allow(clippy::too_many_arguments)]
    fn reduced_histogram(
        &mut self,
        begin: usize,
        end: usize,
        g: &[f32],
        h: &[f32],
        collective: &mut dyn Collective,
        tag: Tag,
        stats: &mut GrowStats,
    ) -> Result<Vec<HistValue>> {
        let mut hist = self.buffer();
        let rows = std::mem::take(&mut self.order);
        self.accumulate(&rows[begin..end], g, h, &mut hist);
        self.order = rows;
        collective.reduce_scatter(tag, &mut hist, &self.blocks, W)?;
        stats.built += 1;
        stats.reduced_values += self.blocks.iter().map(|b| b.len()).sum::<usize>() + W;
        Ok(hist)
    }

    /// Grows one tree from gradients `g` and hessians `h` (indexed by row) on the rows `bag`
    /// (ascending), splitting only features whose `allowed` flag is set. Leaf outputs are
    /// shrunk by the learning rate.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn grow(
        &mut self,
        g: &[f32],
        h: &[f32],
        bag: &[u32],
        allowed: &[bool],
        collective: &mut dyn Collective,
        iteration: usize,
        tree: usize,
    ) -> Result<(Tree, GrowStats)> {
        let p = self.params;
        let mut stats = GrowStats::default();
        let mut step = 0usize;
        let mut tag = || {
            step += 1;
            Tag::Node {
                iteration,
                tree,
                step: step - 1,
            }
        };
        self.order.clear();
        self.order.extend_from_slice(bag);
        let candidates: Vec<u32> = self
            .own
            .clone()
            .filter(|&u| allowed[u])
            .map(|u| u as u32)
            .collect();
        let mut root_hist =
            self.reduced_histogram(0, bag.len(), g, h, collective, tag(), &mut stats)?;
        let t = self.len - W;
        let (root_best, feasible) = self.scan_root(&mut root_hist, &candidates);
        let root_best = self.agree(&[root_best], collective, tag())?[0];
        let mut leaves = vec![Leaf {
            begin: 0,
            end: bag.len(),
            depth: 0,
            best: root_best,
            hist: Some(root_hist),
            feasible,
        }];
        let mut totals = vec![self.leaf_totals(leaves[0].hist.as_deref())];
        // Internal nodes, and for each leaf the (node, is_left) slot that points at it.
        let mut tree = Tree::leaf(0.0);
        let mut parent_slot: Vec<Option<(usize, bool)>> = vec![None];
        while leaves.len() < p.num_leaves {
            let pick = (0..leaves.len())
                .filter(|&i| leaves[i].best.is_some())
                .fold(None, |b: Option<usize>, i| match b {
                    Some(j) if leaves[j].best.map(|s| s.gain) >= leaves[i].best.map(|s| s.gain) => {
                        Some(j)
                    }
                    _ => Some(i),
                });
            let Some(li) = pick else { break };
            let split = leaves[li].best.expect("picked leaf has a split");
            let (begin, end, depth) = (leaves[li].begin, leaves[li].end, leaves[li].depth);
            let mut parent_hist = leaves[li]
                .hist
                .take()
                .expect("splittable leaf has a histogram");
            let features = std::mem::take(&mut leaves[li].feasible);
            // Partition this shard's rows of the leaf, stably.
            let col = self.shard.column(split.u);
            self.scratch.clear();
            let mut w = begin;
            for k in begin..end {
                let r = self.order[k];
                if col[r as usize] <= split.bin {
                    self.order[w] = r;
                    w += 1;
                } else {
                    self.scratch.push(r);
                }
            }
            self.order[w..end].copy_from_slice(&self.scratch);
            let mid = w;
            // Which child has fewer rows over all shards: the split's left count.
            let n_right = f64::from(parent_hist[t + 2]) - split.n_left;
            let left_smaller = split.n_left <= n_right;
            let (sb, se) = if left_smaller {
                (begin, mid)
            } else {
                (mid, end)
            };
            let mut small = self.reduced_histogram(sb, se, g, h, collective, tag(), &mut stats)?;
            let can_deepen = p.max_depth.is_none_or(|m| depth + 1 < m);
            let [small_found, large_found] =
                self.split_and_scan(&mut parent_hist, &mut small, &features, can_deepen);
            stats.subtracted += 1;
            let large = parent_hist;
            let (left_hist, right_hist) = if left_smaller {
                (small, large)
            } else {
                (large, small)
            };
            // Record the split: the leaf becomes node `node`, its children two leaves.
            let node = tree.feature.len();
            let f = self.shard.used[split.u];
            tree.feature.push(f);
            tree.threshold.push(self.threshold(split.u, split.bin));
            let right_leaf = leaves.len();
            tree.left.push(!(li as i32));
            tree.right.push(!(right_leaf as i32));
            if let Some((pn, is_left)) = parent_slot[li] {
                if is_left {
                    tree.left[pn] = node as i32;
                } else {
                    tree.right[pn] = node as i32;
                }
            }
            parent_slot[li] = Some((node, true));
            parent_slot.push(Some((node, false)));
            let ((lb, left_feasible), (rb, right_feasible)) = if left_smaller {
                (small_found, large_found)
            } else {
                (large_found, small_found)
            };
            let bests = if can_deepen {
                self.agree(&[lb, rb], collective, tag())?
            } else {
                vec![None, None]
            };
            let mut child = |b: usize,
                             e: usize,
                             hist: Vec<HistValue>,
                             best: Option<Split>,
                             feasible: Vec<u32>| {
                let tot = self.leaf_totals(Some(&hist));
                let hist = if best.is_some() {
                    Some(hist)
                } else {
                    self.free.push(hist);
                    None
                };
                (
                    Leaf {
                        begin: b,
                        end: e,
                        depth: depth + 1,
                        hist,
                        best,
                        feasible,
                    },
                    tot,
                )
            };
            let (l, lt) = child(begin, mid, left_hist, bests[0], left_feasible);
            let (r, rt) = child(mid, end, right_hist, bests[1], right_feasible);
            leaves[li] = l;
            totals[li] = lt;
            leaves.push(r);
            totals.push(rt);
        }
        self.leaf_ranges.clear();
        for leaf in &mut leaves {
            if let Some(hist) = leaf.hist.take() {
                self.free.push(hist);
            }
            self.leaf_ranges.push((leaf.begin, leaf.end));
        }
        tree.leaf_value = totals
            .iter()
            .map(|&(g, h)| {
                let den = h + p.lambda_l2;
                let v = if den > 0.0 { -g / den } else { 0.0 };
                v * p.learning_rate
            })
            .collect();
        Ok((tree, stats))
    }

    /// Adds the last tree's leaf values to the scores of the rows it was grown on
    /// (`scores[row * stride + slot]`): the rows of the bag.
    pub(crate) fn add_to_grown_rows(
        &self,
        tree: &Tree,
        scores: &mut [f64],
        stride: usize,
        slot: usize,
    ) {
        for (leaf, &(b, e)) in self.leaf_ranges.iter().enumerate() {
            let v = tree.leaf_value[leaf];
            for &r in &self.order[b..e] {
                scores[r as usize * stride + slot] += v;
            }
        }
    }

    fn leaf_totals(&self, hist: Option<&[HistValue]>) -> (f64, f64) {
        let t = self.len - W;
        hist.map_or((0.0, 0.0), |h| (f64::from(h[t]), f64::from(h[t + 1])))
    }

    /// The raw threshold of "bin <= b" for used feature `u`.
    fn threshold(&self, u: usize, b: u8) -> f32 {
        let f = self.shard.used[u] as usize;
        self.shard.edges[f][b as usize]
    }
}

/// One feature's best cut in one leaf: `(bin, gain, left count)` when one gains, and whether
/// any cut is admissible (leaves enough rows and hessian on both sides) whatever its gain.
type FeatureCut = (Option<(u8, f64, f64)>, bool);

const NO_CUT: FeatureCut = (None, false);

/// A leaf's totals and the rules a cut must meet.
#[derive(Debug, Clone, Copy)]
struct ScanRules {
    tg: f64,
    th: f64,
    tn: f64,
    /// The leaf's own score `G² / (H + λ)`.
    parent: f64,
    lambda: f64,
    min_n: f64,
    min_h: f64,
    min_gain: f64,
}

/// Most bins of one feature (`max_bin` is at most 256).
const MAX_BINS: usize = 256;

/// Per-thread scratch of a scan: the admissible cuts of one feature, compacted. Fixed-size
/// arrays, so that an index masked to `MAX_BINS - 1` needs no bounds check.
struct ScanScratch {
    gl: [f64; MAX_BINS],
    hl: [f64; MAX_BINS],
    nl: [f64; MAX_BINS],
    score: [f64; MAX_BINS],
    bin: [u8; MAX_BINS],
}

impl Default for ScanScratch {
    fn default() -> Self {
        ScanScratch {
            gl: [0.0; MAX_BINS],
            hl: [0.0; MAX_BINS],
            nl: [0.0; MAX_BINS],
            score: [0.0; MAX_BINS],
            bin: [0; MAX_BINS],
        }
    }
}

impl ScanRules {
    /// The best cut "bin <= b goes left" of one feature's bins (default bin filled).
    ///
    /// Three passes: the running sums of the cuts whose both sides hold enough rows (empty
    /// bins skipped: they move no row) are written out without branches, each such cut's gain
    /// is computed without branches, and the first best is kept (4.5% faster fits than one
    /// branching loop over the cuts; a division-free comparison by cross-multiplying was 17%
    /// slower, and the gain loop compiled for AVX2 no faster).
    fn scan(&self, bins: &[HistValue], default: usize, x: &mut ScanScratch) -> FeatureCut {
        if f64::from(bins[default * W + 2]) >= self.tn {
            // Every row of the leaf is in the default bin (a blank pixel): nothing to split.
            return NO_CUT;
        }
        let n_bins = bins.len() / W;
        let (mut gl, mut hl, mut nl) = (0.0f64, 0.0f64, 0.0f64);
        let mut w = 0usize;
        let max_left = self.tn - self.min_n;
        for (b, v) in bins.chunks_exact(W).take(n_bins - 1).enumerate() {
            gl += f64::from(v[0]);
            hl += f64::from(v[1]);
            nl += f64::from(v[2]);
            if nl > max_left {
                break;
            }
            let k = w & (MAX_BINS - 1);
            x.gl[k] = gl;
            x.hl[k] = hl;
            x.nl[k] = nl;
            x.bin[k] = b as u8;
            w += usize::from(v[2] != 0.0 && nl >= self.min_n);
        }
        let (tg, th, lambda, parent) = (self.tg, self.th, self.lambda, self.parent);
        let (min_h, min_gain) = (self.min_h, self.min_gain);
        let w = w.min(MAX_BINS);
        let mut feasible = false;
        for k in 0..w {
            let (gl, hl) = (x.gl[k], x.hl[k]);
            let (gr, hr) = (tg - gl, th - hl);
            let ok = hl >= min_h && hr >= min_h;
            let gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parent;
            feasible |= ok;
            x.score[k] = if ok && gain > min_gain {
                gain
            } else {
                f64::NEG_INFINITY
            };
        }
        let mut best: Option<(u8, f64, f64)> = None;
        let mut top = f64::NEG_INFINITY;
        for k in 0..w {
            if x.score[k] > top {
                top = x.score[k];
                best = Some((x.bin[k], top, x.nl[k]));
            }
        }
        (best, feasible)
    }
}

/// A feature's default bin: the leaf's `totals` minus the feature's other bins, given the sums
/// over all its bins (`sums`) and the default bin's value before the fill (`own`).
fn default_bin_value(totals: [f64; 3], sums: [f64; 3], own: [HistValue; 3]) -> [HistValue; 3] {
    let other = |k: usize| sums[k] - f64::from(own[k]);
    [
        (totals[0] - other(0)) as HistValue,
        (totals[1] - other(1)).max(0.0) as HistValue,
        (totals[2] - other(2)).max(0.0) as HistValue,
    ]
}

/// Sets a feature's default bin to the leaf's totals minus its other bins.
fn fill_default_bin(bins: &mut [HistValue], default: usize, totals: [f64; 3]) {
    let (mut sg, mut sh, mut sn) = (0.0f64, 0.0f64, 0.0f64);
    for v in bins.chunks_exact(W) {
        sg += f64::from(v[0]);
        sh += f64::from(v[1]);
        sn += f64::from(v[2]);
    }
    let sums = [sg, sh, sn];
    let at = default * W;
    let own = [bins[at], bins[at + 1], bins[at + 2]];
    bins[at..at + W].copy_from_slice(&default_bin_value(totals, sums, own));
}

/// [`fill_default_bin`] of the smaller child's bins `small`, and `parent` made the larger
/// child's (parent minus smaller), in one pass over `small`.
fn fill_and_subtract(
    small: &mut [HistValue],
    parent: &mut [HistValue],
    default: usize,
    totals: [f64; 3],
) {
    let (mut sg, mut sh, mut sn) = (0.0f64, 0.0f64, 0.0f64);
    for (p, v) in parent.chunks_exact_mut(W).zip(small.chunks_exact(W)) {
        sg += f64::from(v[0]);
        sh += f64::from(v[1]);
        sn += f64::from(v[2]);
        p[0] -= v[0];
        p[1] -= v[1];
        p[2] -= v[2];
    }
    let sums = [sg, sh, sn];
    let at = default * W;
    let own = [small[at], small[at + 1], small[at + 2]];
    let filled = default_bin_value(totals, sums, own);
    // The default bin so far lost only `own`; it loses the rest of the filled value now.
    for (k, (&o, &f)) in own.iter().zip(&filled).enumerate() {
        parent[at + k] += o;
        parent[at + k] -= f;
    }
    small[at..at + W].copy_from_slice(&filled);
}

/// The best of per-feature cuts (ties to the earlier feature) and the features with an
/// admissible cut.
fn collect_cuts(features: &[u32], found: &[FeatureCut]) -> (Option<Split>, Vec<u32>) {
    let mut best = None;
    let mut feasible = Vec::new();
    for (&u, &(cut, ok)) in features.iter().zip(found) {
        if ok {
            feasible.push(u);
        }
        if let Some((bin, gain, n_left)) = cut {
            best = better(
                best,
                Some(Split {
                    u: u as usize,
                    bin,
                    gain,
                    n_left,
                }),
            );
        }
    }
    (best, feasible)
}

/// Adds rows to one block's histogram: their stored bins.
fn accumulate_block(b: &EntryBlock, rows: &[u32], g: &[f32], h: &[f32], out: &mut [HistValue]) {
    for &r in rows {
        let r = r as usize;
        let (gr, hr) = (g[r], h[r]);
        let (lo, hi) = (b.row_ptr[r] as usize, b.row_ptr[r + 1] as usize);
        for &e in &b.entries[lo..hi] {
            let e = e as usize * W;
            out[e] += gr;
            out[e + 1] += hr;
            out[e + 2] += 1.0;
        }
    }
}
