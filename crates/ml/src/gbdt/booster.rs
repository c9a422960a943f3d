//! The boosting loop of one shard, and the fitted ensemble.
//!
//! [`train`] runs on every shard of a data-parallel fit with that shard's rows and a
//! [`Collective`] linking the shards; alone ([`super::Solo`]) it is the ordinary single-process
//! fit. The shards agree on bins (all-gathered sketches) and starting scores (summed label
//! counts), then grow every tree together (see [`super::learner`]). Feature draws are seeded by
//! iteration and tree, the same on every shard; a shard's bag is seeded by iteration and rank.
//! A shard that starts from a partial ensemble (`resume`) recomputes its scores from it and
//! joins at the next iteration: the trees it grows are the ones it would have grown.

use std::time::{Duration, Instant};

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::bins::{BinMapper, Features, Sketches};
use super::collective::{Collective, Tag};
use super::learner::{GrowStats, Learner};
use super::objective::{self, Metrics};
use super::params::{GbdtParams, Objective};
use super::tree::Tree;
use crate::tree::splitmix64;
use crate::{MlError, Result};

/// A fitted gradient-boosted ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtModel {
    pub(crate) objective: Objective,
    pub(crate) n_features: usize,
    /// Starting score of each tree slot.
    pub(crate) init: Vec<f64>,
    /// Trees, iteration-major: tree `it * K + k` is slot `k` of iteration `it`.
    pub(crate) trees: Vec<Tree>,
}

impl GbdtModel {
    /// The objective.
    pub fn objective(&self) -> Objective {
        self.objective
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Completed iterations.
    pub fn n_iterations(&self) -> usize {
        self.trees.len() / self.objective.trees_per_iteration()
    }

    /// The trees, iteration-major.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// The first `iterations` iterations of this model.
    pub fn truncated(&self, iterations: usize) -> GbdtModel {
        let k = self.objective.trees_per_iteration();
        let mut m = self.clone();
        m.trees.truncate(iterations * k);
        m
    }

    /// Raw scores, `K` per row (row-major).
    pub fn predict_raw(&self, x: Features<'_>) -> Result<Vec<f64>> {
        if x.n_features() != self.n_features {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: self.n_features,
                got: x.n_features(),
            });
        }
        let k = self.objective.trees_per_iteration();
        let mut scores = Vec::with_capacity(x.n_rows() * k);
        for _ in 0..x.n_rows() {
            scores.extend_from_slice(&self.init);
        }
        for (t, tree) in self.trees.iter().enumerate() {
            tree.add_to(x, &mut scores, k, t % k);
        }
        Ok(scores)
    }

    /// The most likely class of each row (classification), or the prediction (regression).
    pub fn predict(&self, x: Features<'_>) -> Result<Vec<f32>> {
        let s = self.predict_raw(x)?;
        let k = self.objective.trees_per_iteration();
        Ok(match self.objective {
            Objective::Regression => s.iter().map(|&v| v as f32).collect(),
            Objective::Binary => s.iter().map(|&v| f32::from(u8::from(v > 0.0))).collect(),
            Objective::Multiclass { .. } => s
                .chunks_exact(k)
                .map(|r| (0..k).fold(0, |b, c| if r[c] > r[b] { c } else { b }) as f32)
                .collect(),
        })
    }

    /// Quality figures on `x` with `labels`.
    pub fn evaluate(&self, x: Features<'_>, labels: &[f32]) -> Result<Metrics> {
        objective::evaluate(self.objective, &self.predict_raw(x)?, labels)
    }
}

/// What one iteration did on this shard.
#[derive(Debug, Clone, Copy, Default)]
pub struct IterationReport {
    /// The iteration, from 0.
    pub iteration: usize,
    /// Leaves over the iteration's trees.
    pub leaves: usize,
    /// Time spent computing (gradients, histograms, splits, scores).
    pub compute: Duration,
    /// Time spent in collective operations (waiting included).
    pub collective: Duration,
    /// `f64` values summed across shards.
    pub reduced_values: usize,
    /// Histograms built from rows, and derived by subtraction.
    pub built: usize,
    /// Histograms derived by subtraction.
    pub subtracted: usize,
}

/// Measures the time spent inside a collective.
struct Timed<'c> {
    inner: &'c mut dyn Collective,
    spent: Duration,
}

impl Timed<'_> {
    /// Runs one operation of the inner collective, adding its time to `spent`.
    fn time<R>(&mut self, op: impl FnOnce(&mut dyn Collective) -> R) -> R {
        let t = Instant::now();
        let r = op(&mut *self.inner);
        self.spent += t.elapsed();
        r
    }
}

impl Collective for Timed<'_> {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn all_gather(&mut self, tag: Tag, local: Vec<u8>) -> Result<Vec<Vec<u8>>> {
        self.time(|c| c.all_gather(tag, local))
    }
    fn all_sum(&mut self, tag: Tag, values: &mut [f64]) -> Result<()> {
        self.time(|c| c.all_sum(tag, values))
    }
    fn reduce_scatter(
        &mut self,
        tag: Tag,
        values: &mut [f32],
        blocks: &[std::ops::Range<usize>],
        tail: usize,
    ) -> Result<()> {
        self.time(|c| c.reduce_scatter(tag, values, blocks, tail))
    }
}

fn rng(seed: u64, a: u64, b: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(
        seed ^ splitmix64(a.wrapping_mul(0x1_0000_0001) ^ splitmix64(b)),
    )
}

/// The features tree `tree` of iteration `it` may split: all, or a seeded draw of
/// `ceil(fraction * used)` of them.
fn feature_mask(p: &GbdtParams, n_used: usize, it: usize, tree: usize) -> Vec<bool> {
    if p.feature_fraction >= 1.0 || n_used == 0 {
        return vec![true; n_used];
    }
    let take = ((p.feature_fraction * n_used as f64).ceil() as usize).clamp(1, n_used);
    let mut idx: Vec<usize> = (0..n_used).collect();
    let mut r = rng(p.seed, it as u64, 1 + tree as u64);
    for i in 0..take {
        let j = i + ((r.next_u64() as u128 * (n_used - i) as u128) >> 64) as usize;
        idx.swap(i, j);
    }
    let mut mask = vec![false; n_used];
    for &i in &idx[..take] {
        mask[i] = true;
    }
    mask
}

/// The rows of this shard in iteration `it`'s bag: `round(fraction * n)` drawn without
/// replacement, ascending.
fn bag(p: &GbdtParams, n: usize, it: usize, rank: usize) -> Vec<u32> {
    let take = ((p.bagging_fraction * n as f64).round() as usize).clamp(1.min(n), n);
    let mut idx: Vec<u32> = (0..n as u32).collect();
    let mut r = rng(p.seed ^ 0xBA66, it as u64, rank as u64);
    for i in 0..take {
        let j = i + ((r.next_u64() as u128 * (n - i) as u128) >> 64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(take);
    idx.sort_unstable();
    idx
}

/// Fits (or continues) an ensemble on this shard's rows `x` with `labels`, together with the
/// other shards reached through `collective`. `on_iteration` sees each finished iteration and
/// the model so far (to checkpoint it, say); an error from it stops the fit.
pub fn train(
    params: &GbdtParams,
    x: Features<'_>,
    labels: &[f32],
    collective: &mut dyn Collective,
    resume: Option<GbdtModel>,
    on_iteration: &mut dyn FnMut(&IterationReport, &GbdtModel) -> Result<()>,
) -> Result<GbdtModel> {
    params.check()?;
    if x.n_rows() != labels.len() {
        return Err(MlError::ShapeMismatch {
            what: "labels vs rows".into(),
            expected: x.n_rows(),
            got: labels.len(),
        });
    }
    if x.n_rows() > u32::MAX as usize {
        return Err(MlError::InvalidParameter {
            name: "rows",
            reason: format!("a shard holds at most {} rows", u32::MAX),
        });
    }
    objective::check_labels(params.objective, labels)?;
    let mut timed = Timed {
        inner: collective,
        spent: Duration::ZERO,
    };
    let rank = timed.rank();
    // Bins agreed from every shard's sketches, merged in rank order.
    let sketches = Sketches::of(x);
    let all = timed.all_gather(Tag::Setup("sketches"), sketches.to_bytes())?;
    let mut merged: Option<Sketches> = None;
    for (r, bytes) in all.iter().enumerate() {
        let s = Sketches::from_bytes(bytes)
            .map_err(|e| MlError::Collective(format!("rank {r}'s bin sketches: {e}")))?;
        match &mut merged {
            None => merged = Some(s),
            Some(m) => m
                .merge(&s)
                .map_err(|e| MlError::Collective(format!("rank {r}'s bin sketches: {e}")))?,
        }
    }
    let merged = merged.ok_or_else(|| MlError::Collective("no shard contributed".into()))?;
    let mapper = BinMapper::from_sketches(
        &merged,
        params.max_bin,
        params.min_data_in_bin,
        params.min_data_in_leaf,
    );
    let shard = mapper.bin_shard(x)?;
    // Starting scores from the label sums of every shard.
    let mut sums = objective::label_sums(params.objective, labels);
    timed.all_sum(Tag::Setup("labels"), &mut sums)?;
    if sums[0] < 1.0 {
        return Err(MlError::EmptyInput("no shard holds a row".into()));
    }
    let k = params.objective.trees_per_iteration();
    let mut model = match resume {
        Some(m) => {
            if m.objective != params.objective || m.n_features != x.n_features() {
                return Err(MlError::InvalidParameter {
                    name: "resume",
                    reason: "the saved ensemble has another objective or feature count".into(),
                });
            }
            m
        }
        None => GbdtModel {
            objective: params.objective,
            n_features: x.n_features(),
            init: objective::init_scores(params.objective, &sums),
            trees: Vec::new(),
        },
    };
    let n = x.n_rows();
    let mut scores = model.predict_raw(x)?;
    let (mut g, mut h) = (vec![0f32; n * k], vec![0f32; n * k]);
    let mut learner = Learner::new(&shard, params, rank, timed.size());
    let all_rows: Vec<u32> = (0..n as u32).collect();
    let bagging = params.bagging_freq > 0 && params.bagging_fraction < 1.0;
    let (mut bag_rows, mut bag_drawn_at) = (Vec::new(), usize::MAX);
    for it in model.n_iterations()..params.n_iterations {
        let started = Instant::now();
        let waited_before = timed.spent;
        if bagging {
            let drawn = it - it % params.bagging_freq;
            if drawn != bag_drawn_at {
                bag_rows = bag(params, n, drawn, rank);
                bag_drawn_at = drawn;
            }
        }
        let bag_now = if bagging { &bag_rows } else { &all_rows };
        objective::gradients(params.objective, labels, &scores, &mut g, &mut h);
        let mut report = IterationReport {
            iteration: it,
            ..Default::default()
        };
        for c in 0..k {
            let mask = feature_mask(params, shard.n_used_features(), it, c);
            let (gc, hc) = (&g[c * n..(c + 1) * n], &h[c * n..(c + 1) * n]);
            let (tree, st): (Tree, GrowStats) =
                learner.grow(gc, hc, bag_now, &mask, &mut timed, it, c)?;
            if bagging {
                tree.add_to(x, &mut scores, k, c);
            } else {
                learner.add_to_grown_rows(&tree, &mut scores, k, c);
            }
            report.leaves += tree.n_leaves();
            report.reduced_values += st.reduced_values;
            report.built += st.built;
            report.subtracted += st.subtracted;
            model.trees.push(tree);
        }
        report.collective = timed.spent - waited_before;
        report.compute = started.elapsed().saturating_sub(report.collective);
        on_iteration(&report, &model)?;
    }
    Ok(model)
}

impl crate::Persist for GbdtModel {
    const KIND: &'static str = "gbdt";

    fn to_tensors(&self) -> crate::ModelTensors {
        use crate::{ModelTensors, Tensor};
        let mut t = ModelTensors::new(Self::KIND);
        t.set_meta("objective", self.objective.name());
        t.set_meta(
            "n_classes",
            match self.objective {
                Objective::Multiclass { n_classes } => n_classes,
                _ => 2,
            }
            .to_string(),
        );
        t.set_meta("n_features", self.n_features.to_string());
        let f64_bytes = |v: &mut dyn Iterator<Item = f64>| -> Vec<u8> {
            v.flat_map(|x| x.to_le_bytes()).collect()
        };
        t.insert(
            "nodes_per_tree",
            Tensor::u32_vector(self.trees.iter().map(|t| t.feature.len() as u32).collect()),
        );
        let cat = |f: &dyn Fn(&Tree) -> Vec<u32>| self.trees.iter().flat_map(f).collect();
        t.insert("feature", Tensor::u32_vector(cat(&|t| t.feature.clone())));
        t.insert(
            "left",
            Tensor::u32_vector(cat(&|t| t.left.iter().map(|&c| c as u32).collect())),
        );
        t.insert(
            "right",
            Tensor::u32_vector(cat(&|t| t.right.iter().map(|&c| c as u32).collect())),
        );
        t.insert(
            "threshold",
            Tensor::f32_vector(
                self.trees
                    .iter()
                    .flat_map(|t| t.threshold.clone())
                    .collect(),
            ),
        );
        t.insert(
            "leaf_value_f64",
            Tensor::u8_vector(f64_bytes(
                &mut self.trees.iter().flat_map(|t| t.leaf_value.iter().copied()),
            )),
        );
        t.insert(
            "init_f64",
            Tensor::u8_vector(f64_bytes(&mut self.init.iter().copied())),
        );
        t
    }

    fn from_tensors(t: &crate::ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        let corrupt = |why: String| MlError::CorruptModel(format!("gbdt: {why}"));
        let parse = |key: &str| -> Result<usize> {
            t.meta_str(key)?
                .parse()
                .map_err(|_| corrupt(format!("meta `{key}` is not a count")))
        };
        let n_features = parse("n_features")?;
        let objective = Objective::parse(t.meta_str("objective")?, parse("n_classes")?)
            .map_err(|e| corrupt(e.to_string()))?;
        if let Objective::Multiclass { n_classes } = objective
            && !(2..=65_536).contains(&n_classes)
        {
            return Err(corrupt(format!("{n_classes} classes")));
        }
        let k = objective.trees_per_iteration();
        let f64s = |name: &str| -> Result<Vec<f64>> {
            let (_, b) = t.u8_tensor(name)?;
            if b.len() % 8 != 0 {
                return Err(corrupt(format!("`{name}` is not whole f64 values")));
            }
            Ok(b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect())
        };
        let init = f64s("init_f64")?;
        if init.len() != k || init.iter().any(|v| !v.is_finite()) {
            return Err(corrupt(format!("{} finite starting scores expected", k)));
        }
        let per_tree = t.u32_vec("nodes_per_tree")?;
        if per_tree.len() % k != 0 {
            return Err(corrupt(format!(
                "{} trees is not a multiple of {k}",
                per_tree.len()
            )));
        }
        let (feature, left, right) = (
            t.u32_vec("feature")?,
            t.u32_vec("left")?,
            t.u32_vec("right")?,
        );
        let threshold = t.f32_vec("threshold")?;
        let leaves = f64s("leaf_value_f64")?;
        let total: usize = per_tree.iter().map(|&m| m as usize).sum();
        if [left.len(), right.len(), threshold.len()] != [total; 3] || feature.len() != total {
            return Err(corrupt("node arrays disagree with the node counts".into()));
        }
        if leaves.len() != total + per_tree.len() {
            return Err(corrupt("leaf values disagree with the node counts".into()));
        }
        let (mut at, mut leaf_at) = (0usize, 0usize);
        let mut trees = Vec::with_capacity(per_tree.len());
        for &m in per_tree {
            let m = m as usize;
            let i32s = |v: &[u32]| v[at..at + m].iter().map(|&c| c as i32).collect();
            trees.push(Tree::from_parts(
                feature[at..at + m].to_vec(),
                threshold[at..at + m].to_vec(),
                i32s(left),
                i32s(right),
                leaves[leaf_at..leaf_at + m + 1].to_vec(),
                n_features,
            )?);
            at += m;
            leaf_at += m + 1;
        }
        Ok(GbdtModel {
            objective,
            n_features,
            init,
            trees,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_draws_and_bags_are_seeded_and_sized() {
        let p = GbdtParams {
            feature_fraction: 0.5,
            bagging_fraction: 0.3,
            bagging_freq: 1,
            ..Default::default()
        };
        let m = feature_mask(&p, 10, 3, 0);
        assert_eq!(m.iter().filter(|&&b| b).count(), 5);
        assert_eq!(m, feature_mask(&p, 10, 3, 0));
        assert_ne!(m, feature_mask(&p, 10, 4, 0));
        let b = bag(&p, 100, 2, 1);
        assert_eq!(b.len(), 30);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        assert_ne!(b, bag(&p, 100, 2, 0));
    }
}
