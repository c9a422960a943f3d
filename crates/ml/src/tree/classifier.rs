//! The Gini classification tree, [`DecisionTree`], and the class-label
//! growing entry shared with [`crate::forest::RandomForest`].

use rand_xoshiro::Xoshiro256PlusPlus;

use super::gini::{Gini, MAX_CLASSES, Narrow, Packing, Wide};
use super::grow::{grow, tree_rng};
use super::hyperparams::{DecisionTreeParams, DecisionTreeValidParams, TreeConfig};
use super::{Node, TreeNodes, check_fit_input, check_predict_input};
use crate::binning::{BinnedMatrix, FeatureBinner};
use crate::forest::ForestParts;
use crate::model::argmax_rows;
use crate::persist::{ModelTensors, Persist};
use crate::{Dataset, Fit, Matrix, MatrixView, MlError, Predict, Prediction, Result};

/// A fitted classification tree: nodes plus a class distribution per node.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTree(pub(crate) TreeNodes);

/// Entry point for single trees: `DecisionTree::params().max_depth(5).check()?.fit(x, y, k)`,
/// or [`Fit::fit`] on a [`Dataset`].
impl DecisionTree {
    /// Default (unchecked) parameters: max_depth 10, min_samples_split 2,
    /// all features, 256 bins, seed 0.
    pub fn params() -> DecisionTreeParams {
        DecisionTreeParams::default()
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.0.n_features
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.0.n_values
    }

    /// The nodes; node 0 is the root.
    pub fn nodes(&self) -> &[Node] {
        &self.0.nodes
    }

    /// Class distributions, `n_classes` values per node.
    pub fn values(&self) -> &[f32] {
        &self.0.values
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.0.n_leaves()
    }

    /// Depth of the tree (a single leaf has depth 0).
    pub fn depth(&self) -> usize {
        self.0.depth()
    }

    /// Builds a tree from raw nodes after validating them (see [`crate::forest::RandomForest::from_parts`]).
    pub fn from_nodes(
        n_features: usize,
        n_classes: usize,
        nodes: Vec<Node>,
        values: Vec<f32>,
    ) -> Result<Self> {
        if n_classes == 0 || n_classes > MAX_CLASSES {
            return Err(MlError::CorruptModel(format!(
                "invalid n_classes {n_classes} (must be in 1..={MAX_CLASSES})"
            )));
        }
        TreeNodes::validate(
            n_features,
            n_classes,
            nodes,
            values,
            |v| v.is_finite() && v >= 0.0,
            "class probability",
        )
        .map(Self)
    }

    /// Class probabilities for each row of `x` (n x n_classes).
    pub fn predict_proba(&self, x: MatrixView<'_>) -> Result<Matrix> {
        check_predict_input(x, self.0.n_features)?;
        let k = self.0.n_values;
        let mut out = vec![0f32; x.rows() * k];
        for (i, o) in out.chunks_exact_mut(k.max(1)).enumerate() {
            o.copy_from_slice(self.0.leaf_values(x.row(i)));
        }
        Matrix::new(x.rows(), k, out)
    }

    /// Most probable class for each row of `x` (ties go to the lowest class).
    pub fn predict_classes(&self, x: MatrixView<'_>) -> Result<Vec<u32>> {
        Ok(argmax_rows(&self.predict_proba(x)?))
    }
}

impl DecisionTreeValidParams {
    /// Fits a tree on `x` (n x d) with labels `y` in `0..n_classes`, every
    /// sample weight 1.
    ///
    /// The matrix-and-labels form kept from before [`Fit`]; with a
    /// [`Dataset`], call `Fit::fit(&params, &data)` (this inherent method
    /// has the name).
    pub fn fit(&self, x: MatrixView<'_>, y: &[u8], n_classes: usize) -> Result<DecisionTree> {
        self.fit_labels(x, y, n_classes)
    }

    /// Fits a tree on `x` (n x d) with labels `y` in `0..n_classes`
    /// (`u8`, `u16` or `u32`), every sample weight 1, without copying them
    /// into a [`Dataset`].
    pub fn fit_labels<L: Copy + Into<u32>>(
        &self,
        x: MatrixView<'_>,
        y: &[L],
        n_classes: usize,
    ) -> Result<DecisionTree> {
        check_fit_input(x, y, n_classes)?;
        let (binner, binned) = FeatureBinner::fit_transform(x, self.0.n_bins)?;
        let mut rng = tree_rng(self.0.seed, 0);
        Ok(DecisionTree(grow_classes(
            &binned, &binner, y, None, n_classes, &self.0, &mut rng,
        )))
    }
}

impl Fit for DecisionTreeValidParams {
    type Model = DecisionTree;

    fn fit(&self, data: &Dataset) -> Result<DecisionTree> {
        let (labels, n_classes) = data.require_classes(DecisionTree::KIND)?;
        self.fit_labels(data.view(), labels, n_classes)
    }
}

impl Predict for DecisionTree {
    fn n_features(&self) -> usize {
        self.0.n_features
    }

    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        self.predict_proba(x).map(Prediction::Proba)
    }
}

/// Stored as a one-tree [`ForestParts`] (the forest's tensor layout).
impl Persist for DecisionTree {
    const KIND: &'static str = "decision-tree";

    fn to_tensors(&self) -> ModelTensors {
        ForestParts::from_trees(self.0.n_features, self.0.n_values, std::iter::once(&self.0))
            .into_tensors(Self::KIND)
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        let parts = ForestParts::from_tensors(t)?;
        let (n_features, n_classes) = (parts.n_features as usize, parts.n_classes as usize);
        let trees = parts.into_trees(|_| true, "value")?;
        let [tree] = <[TreeNodes; 1]>::try_from(trees).map_err(|t| {
            MlError::CorruptModel(format!("a decision tree holds 1 tree, not {}", t.len()))
        })?;
        Self::from_nodes(n_features, n_classes, tree.nodes, tree.values)
    }
}

/// Grows one Gini tree on validated input: rows with labels `y` and, when
/// `counts` is given, integer weights (rows of weight 0 left out).
///
/// Picks the [`Narrow`] packing when it can hold the labels and weights
/// (at most 256 classes, fewer than 2^24 rows), else [`Wide`]; both grow
/// the same tree.
pub(crate) fn grow_classes<L: Copy + Into<u32>>(
    binned: &BinnedMatrix,
    binner: &FeatureBinner,
    y: &[L],
    counts: Option<&[u32]>,
    n_classes: usize,
    cfg: &TreeConfig,
    rng: &mut Xoshiro256PlusPlus,
) -> TreeNodes {
    if n_classes <= 256 && y.len() < (1 << 24) {
        grow_packed::<Narrow, L>(binned, binner, y, counts, n_classes, cfg, rng)
    } else {
        grow_packed::<Wide, L>(binned, binner, y, counts, n_classes, cfg, rng)
    }
}

pub(crate) fn grow_packed<P: Packing, L: Copy + Into<u32>>(
    binned: &BinnedMatrix,
    binner: &FeatureBinner,
    y: &[L],
    counts: Option<&[u32]>,
    n_classes: usize,
    cfg: &TreeConfig,
    rng: &mut Xoshiro256PlusPlus,
) -> TreeNodes {
    let samples: Vec<P::Sample> = match counts {
        Some(counts) => counts
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(r, &c)| P::sample(r as u32, y[r].into(), c))
            .collect(),
        None => (0..y.len())
            .map(|r| P::sample(r as u32, y[r].into(), 1))
            .collect(),
    };
    let mut crit = Gini::<P>::new(n_classes, samples.len());
    let grown = grow(binned, binner, samples, &mut crit, &cfg.limits(), rng);
    TreeNodes::from_grown(binned.n_features(), n_classes, grown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MlError;
    use crate::tree::{LEAF, MaxFeatures};

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
        let y: [u8; 8] = [0, 0, 0, 0, 1, 1, 1, 1];
        let tree = DecisionTree::params()
            .check()
            .unwrap()
            .fit_labels(x.view(), &y, 2)
            .unwrap();
        assert_eq!(
            tree.predict_classes(x.view()).unwrap(),
            [0, 0, 0, 0, 1, 1, 1, 1]
        );
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
        let y: [u32; 4] = [0, 1, 1, 0];
        let tree = DecisionTree::params()
            .check()
            .unwrap()
            .fit_labels(x.view(), &y, 2)
            .unwrap();
        assert_eq!(tree.predict_classes(x.view()).unwrap(), y);
        let stump = DecisionTree::params()
            .max_depth(1)
            .check()
            .unwrap()
            .fit_labels(x.view(), &y, 2)
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
            p.fit_labels(x.view(), &[0u8], 2),
            Err(MlError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            p.fit_labels(x.view(), &[0u8, 2], 2),
            Err(MlError::LabelOutOfRange {
                label: 2,
                row: 1,
                ..
            })
        ));
        let nan = Matrix::new(2, 1, vec![0., f32::NAN]).unwrap();
        assert!(matches!(
            p.fit_labels(nan.view(), &[0u8, 1], 2),
            Err(MlError::Numerical(_))
        ));
        let empty = Matrix::new(0, 1, vec![]).unwrap();
        assert!(matches!(
            p.fit_labels(empty.view(), &[] as &[u8], 2),
            Err(MlError::EmptyInput(_))
        ));
        assert!(matches!(
            p.fit_labels(x.view(), &[0u32, 1], crate::tree::MAX_CLASSES + 1),
            Err(MlError::InvalidParameter {
                name: "n_classes",
                ..
            })
        ));
    }

    /// A deterministic data set with `k` classes whose labels depend on the
    /// features, with ties, sized to reach all three Gini split paths.
    fn data(n: usize, d: usize, k: usize) -> (Matrix, Vec<u32>) {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut x = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f32> = (0..d).map(|_| (next() % 97) as f32 / 7.0).collect();
            let label = ((row[0] * 3.0 + row[1]) as u64 + next() % 3) % k as u64;
            x.extend(row);
            y.push(label as u32);
        }
        (Matrix::new(n, d, x).unwrap(), y)
    }

    #[test]
    fn wide_and_narrow_packings_grow_the_same_tree() {
        for (n, k) in [(3000, 5), (900, 40), (40, 7)] {
            let (x, y) = data(n, 6, k);
            let cfg = DecisionTree::params()
                .max_depth(30)
                .max_features(MaxFeatures::Count(3))
                .seed(3)
                .check()
                .unwrap()
                .0;
            let binner = FeatureBinner::fit(x.view(), 64).unwrap();
            let binned = binner.transform(x.view()).unwrap();
            let mut rng = tree_rng(1, 0);
            let counts = crate::tree::bootstrap_counts(&mut rng, n);
            let grow_with = |wide: bool| {
                let mut rng = rng.clone();
                if wide {
                    grow_packed::<Wide, u32>(&binned, &binner, &y, Some(&counts), k, &cfg, &mut rng)
                } else {
                    grow_packed::<Narrow, u32>(
                        &binned,
                        &binner,
                        &y,
                        Some(&counts),
                        k,
                        &cfg,
                        &mut rng,
                    )
                }
            };
            let (narrow, wide) = (grow_with(false), grow_with(true));
            assert!(narrow.nodes.len() > 20, "{n} rows: tree too small to test");
            assert_eq!(narrow, wide, "{n} rows, {k} classes");
        }
    }

    #[test]
    fn more_than_256_classes_are_learned() {
        // 300 classes. Bins are exact only for at most 256 distinct values,
        // so the class is spread over two features: 20 * x0 + x1 with
        // x0 < 15 and x1 < 20 (plus a small per-copy offset).
        let k = 300;
        let mut x = Vec::new();
        let mut y = Vec::new();
        for rep in 0..3 {
            for c in 0..k as u32 {
                x.extend([(c / 20) as f32, (c % 20) as f32 + rep as f32 * 0.01]);
                y.push(c);
            }
        }
        let x = Matrix::new(y.len(), 2, x).unwrap();
        // Greedy Gini splits peel off few classes at a time, so the tree
        // needs far more depth than log2(300).
        let tree = DecisionTree::params()
            .max_depth(300)
            .check()
            .unwrap()
            .fit_labels(x.view(), &y, k)
            .unwrap();
        assert_eq!(tree.n_classes(), k);
        assert_eq!(tree.predict_classes(x.view()).unwrap(), y);
    }
}
