//! Leaf-wise growth of one tree over gradient/hessian histograms, with the subtraction trick,
//! for one shard of a data-parallel fit.
//!
//! A histogram holds `(Σg, Σh, n)` per bin of every used feature, then the leaf's totals: one
//! flat `f64` vector, which is what the shards all-reduce. A shard accumulates only the bins that
//! differ from a feature's default bin (the bin of 0.0; most of an image's pixels, every absent
//! sparse entry); after the sum, each default bin is the leaf's totals minus the feature's other
//! bins. Of two new children only the one with fewer rows (over all shards) is accumulated and
//! reduced; the other is its parent minus it.
//!
//! The leaf to split next is the one whose best split gains most (ties: the oldest leaf). Every
//! choice is taken from reduced values, so every shard grows the same tree; within a shard, rows
//! stay in ascending order inside each leaf and chunk sums are added in a fixed order, so a
//! shard's contribution does not depend on thread timing.

use rayon::prelude::*;

use super::bins::BinnedShard;
use super::collective::{Collective, Tag};
use super::params::GbdtParams;
use super::tree::Tree;
use crate::Result;

/// Values per histogram bin: gradient sum, hessian sum, row count.
const W: usize = 3;
/// Rows per chunk of a parallel histogram build.
const CHUNK_ROWS: usize = 4096;
/// Most chunks of one build (and buffers kept for them).
const MAX_CHUNKS: usize = 4;

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
    hist: Option<Vec<f64>>,
    best: Option<Split>,
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
    free: Vec<Vec<f64>>,
    chunk_bufs: Vec<Vec<f64>>,
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
            chunk_bufs: Vec::new(),
            order: Vec::new(),
            scratch: Vec::new(),
            leaf_ranges: Vec::new(),
            own,
            blocks,
        }
    }

    fn buffer(&mut self) -> Vec<f64> {
        self.free.pop().unwrap_or_else(|| vec![0.0; self.len])
    }

    /// This shard's histogram of `rows` (default bins left at zero), totals last.
    fn accumulate(&mut self, rows: &[u32], g: &[f32], h: &[f32], out: &mut [f64]) {
        let n_chunks = (rows.len() / CHUNK_ROWS).clamp(1, MAX_CHUNKS);
        let shard = self.shard;
        if n_chunks == 1 {
            out.fill(0.0);
            accumulate_rows(shard, rows, g, h, out);
            return;
        }
        while self.chunk_bufs.len() < n_chunks {
            self.chunk_bufs.push(vec![0.0; self.len]);
        }
        let per = rows.len().div_ceil(n_chunks);
        self.chunk_bufs[..n_chunks]
            .par_iter_mut()
            .zip(rows.par_chunks(per))
            .for_each(|(buf, part)| {
                buf.fill(0.0);
                accumulate_rows(shard, part, g, h, buf);
            });
        out.copy_from_slice(&self.chunk_bufs[0]);
        for buf in &self.chunk_bufs[1..n_chunks] {
            for (o, v) in out.iter_mut().zip(buf) {
                *o += v;
            }
        }
    }

    /// Sets each used feature's default bin to the totals minus its other bins.
    fn fill_default_bins(&self, hist: &mut [f64]) {
        let t = self.len - W;
        let (tg, th, tn) = (hist[t], hist[t + 1], hist[t + 2]);
        let s = self.shard;
        for u in self.own.clone() {
            let (lo, hi) = (s.offsets[u] as usize, s.offsets[u + 1] as usize);
            let (mut sg, mut sh, mut sn) = (0.0, 0.0, 0.0);
            for b in lo..hi {
                sg += hist[b * W];
                sh += hist[b * W + 1];
                sn += hist[b * W + 2];
            }
            let at = (lo + s.default_bin[u] as usize) * W;
            hist[at] = tg - (sg - hist[at]);
            hist[at + 1] = (th - (sh - hist[at + 1])).max(0.0);
            hist[at + 2] = (tn - (sn - hist[at + 2])).max(0.0);
        }
    }

    /// The best admissible split of a leaf with histogram `hist` over this participant's own
    /// allowed features.
    fn best_split(&self, hist: &[f64], allowed: &[bool]) -> Option<Split> {
        let p = self.params;
        let t = self.len - W;
        let (tg, th, tn) = (hist[t], hist[t + 1], hist[t + 2]);
        let lambda = p.lambda_l2;
        let parent = tg * tg / (th + lambda);
        let min_n = p.min_data_in_leaf as f64;
        let min_h = p.min_sum_hessian_in_leaf;
        if tn < 2.0 * min_n || th < 2.0 * min_h {
            return None;
        }
        let s = self.shard;
        let scan = |u: usize| -> Option<Split> {
            if !allowed[u] {
                return None;
            }
            let (lo, hi) = (s.offsets[u] as usize, s.offsets[u + 1] as usize);
            if hist[(lo + s.default_bin[u] as usize) * W + 2] >= tn {
                // Every row of the leaf is in the default bin (a blank pixel): nothing to split.
                return None;
            }
            let (mut gl, mut hl, mut nl) = (0.0f64, 0.0f64, 0.0f64);
            let mut best: Option<Split> = None;
            for b in lo..hi - 1 {
                let nb = hist[b * W + 2];
                if nb == 0.0 {
                    // An empty bin moves no row: the same partition as the bin before it.
                    continue;
                }
                gl += hist[b * W];
                hl += hist[b * W + 1];
                nl += nb;
                if nl < min_n || hl < min_h {
                    continue;
                }
                let (nr, hr) = (tn - nl, th - hl);
                if nr < min_n {
                    break;
                }
                if hr < min_h {
                    continue;
                }
                let gr = tg - gl;
                let gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parent;
                if gain > p.min_gain_to_split && best.is_none_or(|x| gain > x.gain) {
                    best = Some(Split {
                        u,
                        bin: (b - lo) as u8,
                        gain,
                        n_left: nl,
                    });
                }
            }
            best
        };
        let own = self.own.clone();
        let own_bins = (s.offsets[own.end] - s.offsets[own.start]) as usize;
        if own_bins > 16 * 1024 {
            own.into_par_iter().map(scan).reduce(|| None, better)
        } else {
            own.map(scan).fold(None, better)
        }
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

    /// Accumulates this shard's rows `begin..end` and sums the histogram over all shards.
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
    ) -> Result<Vec<f64>> {
        let mut hist = self.buffer();
        let rows = std::mem::take(&mut self.order);
        self.accumulate(&rows[begin..end], g, h, &mut hist);
        self.order = rows;
        collective.reduce_scatter(tag, &mut hist, &self.blocks, W)?;
        self.fill_default_bins(&mut hist);
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
        let root_hist =
            self.reduced_histogram(0, bag.len(), g, h, collective, tag(), &mut stats)?;
        let t = self.len - W;
        let root_best = self.best_split(&root_hist, allowed);
        let root_best = self.agree(&[root_best], collective, tag())?[0];
        let mut leaves = vec![Leaf {
            begin: 0,
            end: bag.len(),
            depth: 0,
            best: root_best,
            hist: Some(root_hist),
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
            let n_right = parent_hist[t + 2] - split.n_left;
            let left_smaller = split.n_left <= n_right;
            let (sb, se) = if left_smaller {
                (begin, mid)
            } else {
                (mid, end)
            };
            let small = self.reduced_histogram(sb, se, g, h, collective, tag(), &mut stats)?;
            let own = self.own_values();
            for (pv, sv) in parent_hist[own.clone()].iter_mut().zip(&small[own]) {
                *pv -= sv;
            }
            for k in t..t + W {
                parent_hist[k] -= small[k];
            }
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
            let can_deepen = p.max_depth.is_none_or(|m| depth + 1 < m);
            let bests = if can_deepen {
                let mine = [
                    self.best_split(&left_hist, allowed),
                    self.best_split(&right_hist, allowed),
                ];
                self.agree(&mine, collective, tag())?
            } else {
                vec![None, None]
            };
            let mut child = |b: usize, e: usize, hist: Vec<f64>, best: Option<Split>| {
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
                    },
                    tot,
                )
            };
            let (l, lt) = child(begin, mid, left_hist, bests[0]);
            let (r, rt) = child(mid, end, right_hist, bests[1]);
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

    /// This participant's own range of histogram values.
    fn own_values(&self) -> std::ops::Range<usize> {
        let o = &self.shard.offsets;
        o[self.own.start] as usize * W..o[self.own.end] as usize * W
    }

    fn leaf_totals(&self, hist: Option<&[f64]>) -> (f64, f64) {
        let t = self.len - W;
        hist.map_or((0.0, 0.0), |h| (h[t], h[t + 1]))
    }

    /// The raw threshold of "bin <= b" for used feature `u`.
    fn threshold(&self, u: usize, b: u8) -> f32 {
        let f = self.shard.used[u] as usize;
        self.shard.edges[f][b as usize]
    }
}

/// Adds rows to a histogram: every stored bin, and the totals.
fn accumulate_rows(s: &BinnedShard, rows: &[u32], g: &[f32], h: &[f32], out: &mut [f64]) {
    let t = out.len() - W;
    let (mut tg, mut th) = (0.0f64, 0.0f64);
    for &r in rows {
        let r = r as usize;
        let (gr, hr) = (g[r] as f64, h[r] as f64);
        tg += gr;
        th += hr;
        let (a, b) = (s.row_ptr[r] as usize, s.row_ptr[r + 1] as usize);
        for &e in &s.entries[a..b] {
            let e = e as usize * W;
            out[e] += gr;
            out[e + 1] += hr;
            out[e + 2] += 1.0;
        }
    }
    out[t] += tg;
    out[t + 1] += th;
    out[t + 2] += rows.len() as f64;
}
