//! Growing one tree, whatever the criterion: the node stack, the per-node
//! feature draws and the in-place partition of the samples, plus the seeded
//! generators and bootstrap draws that trees and forests share.
//!
//! # Samples
//!
//! A node's samples are a contiguous range of one array that is partitioned
//! in place (stably, so rows stay sorted and the column gathers stay cache
//! friendly). What an entry holds besides its row is up to the criterion
//! (see [`super::criterion`]). As in scikit-learn, `min_samples_split`
//! counts distinct samples, not bootstrap weight.
//!
//! # Feature sampling
//!
//! `max_features` features are drawn without replacement at each node. As in
//! scikit-learn, a drawn feature that is constant within the node does not
//! count towards `max_features`: drawing continues until that many
//! non-constant features were evaluated or all features are exhausted. If no
//! evaluated feature yields an admissible split, the node is a leaf. Nodes
//! also stop at `max_depth`, below `min_samples_split` samples, or when the
//! criterion says so (a pure node, or one too small for its leaf limits).
//!
//! Nodes are grown depth-first from an explicit stack (no recursion); a
//! child always has a larger index than its parent. Ties between candidate
//! splits go to the first feature in draw order, then to the lowest bin.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::criterion::{Criterion, SplitChoice, TreeSample};
use super::hyperparams::MaxFeatures;
use super::{LEAF, Node};
use crate::binning::{BinnedMatrix, FeatureBinner};

/// The growing limits every criterion shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GrowLimits {
    pub(crate) max_depth: usize,
    pub(crate) min_samples_split: usize,
    pub(crate) max_features: MaxFeatures,
}

/// A grown tree: its nodes and `n_values` values per node.
#[derive(Debug)]
pub(crate) struct Grown {
    pub(crate) nodes: Vec<Node>,
    pub(crate) values: Vec<f32>,
}

const LEAF_NODE: Node = Node {
    feature: LEAF,
    threshold: 0.0,
    left: 0,
    right: 0,
};

/// Grows one tree over `samples` with criterion `crit`.
///
/// A split "bin <= b goes left" is stored as the raw-space threshold
/// `x <= upper_edge(b)` taken from `binner`, so prediction needs no binner.
pub(crate) fn grow<C: Criterion>(
    binned: &BinnedMatrix,
    binner: &FeatureBinner,
    mut samples: Vec<C::Sample>,
    crit: &mut C,
    limits: &GrowLimits,
    rng: &mut Xoshiro256PlusPlus,
) -> Grown {
    let d = binned.n_features();
    let k = crit.n_values();
    let mtry = limits.max_features.resolve(d);
    let mut features: Vec<usize> = (0..d).collect();
    let mut scratch: Vec<C::Sample> = Vec::with_capacity(samples.len());
    let mut nodes: Vec<Node> = vec![LEAF_NODE];
    let mut values: Vec<f32> = vec![0.0; k];
    // (node id, start, end, depth)
    let mut stack: Vec<(usize, usize, usize, usize)> = vec![(0, 0, samples.len(), 0)];
    while let Some((id, start, end, depth)) = stack.pop() {
        let node_samples = &samples[start..end];
        let stats = crit.node_stats(node_samples);
        crit.write_value(&stats, &mut values[id * k..(id + 1) * k]);
        if depth >= limits.max_depth
            || node_samples.len() < limits.min_samples_split
            || crit.is_leaf(&stats, node_samples.len())
        {
            continue;
        }

        let mut best = C::Best::none();
        let mut evaluated = 0usize;
        let mut drawn = 0usize;
        while evaluated < mtry && drawn < d {
            let r = drawn + uniform(rng, d - drawn);
            features.swap(drawn, r);
            let f = features[drawn];
            drawn += 1;
            if crit.evaluate(f, binned.column(f), node_samples, &stats, &mut best) {
                evaluated += 1;
            }
        }
        if !best.found() {
            continue;
        }

        // Stable partition: left samples compacted in place, right ones via scratch.
        let (feature, bin) = (best.feature(), best.bin());
        let col = binned.column(feature);
        scratch.clear();
        let mut w = start;
        for i in start..end {
            let s = samples[i];
            if col[s.row()] <= bin {
                samples[w] = s;
                w += 1;
            } else {
                scratch.push(s);
            }
        }
        samples[w..end].copy_from_slice(&scratch);
        let mid = w;

        let left = nodes.len();
        nodes.push(LEAF_NODE);
        nodes.push(LEAF_NODE);
        values.resize(nodes.len() * k, 0.0);
        nodes[id] = Node {
            feature: feature as u32,
            threshold: binner.edges(feature)[bin as usize],
            left: left as u32,
            right: left as u32 + 1,
        };
        stack.push((left + 1, mid, end, depth + 1));
        stack.push((left, start, mid, depth + 1));
    }
    Grown { nodes, values }
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

/// Bootstrap multiplicities of `n` rows: `n` uniform draws with replacement.
pub(crate) fn bootstrap_counts(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<u32> {
    let mut counts = vec![0u32; n];
    for _ in 0..n {
        counts[uniform(rng, n)] += 1;
    }
    counts
}
