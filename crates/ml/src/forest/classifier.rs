//! The random forest classifier, [`RandomForest`]: bagged Gini trees with
//! soft voting (see the [`super`] module docs for training, determinism
//! and prediction).

use rayon::prelude::*;

use super::ForestParts;
use super::flat::FlatForest;
use super::hyperparams::{RandomForestParams, RandomForestValidParams};
use crate::binning::FeatureBinner;
use crate::model::argmax_rows;
use crate::persist::{ModelTensors, Persist};
use crate::tree::{
    DecisionTree, bootstrap_counts, check_fit_input, check_predict_input, grow_classes, tree_rng,
};
use crate::{Dataset, Fit, Matrix, MatrixView, MlError, Predict, Prediction, Result};

/// A fitted random forest classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForest {
    n_features: usize,
    n_classes: usize,
    trees: Vec<DecisionTree>,
    /// Traversal layout derived from `trees` (rebuilt by `fit`/`from_parts`).
    flat: FlatForest,
}

impl RandomForest {
    /// Default (unchecked) parameters: n_trees 100, max_depth 10,
    /// min_samples_split 5, max_features sqrt, bootstrap on, seed 0, 256 bins.
    pub fn params() -> RandomForestParams {
        RandomForestParams::default()
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The fitted trees.
    pub fn trees(&self) -> &[DecisionTree] {
        &self.trees
    }

    /// Mean of the trees' leaf class distributions for each row (n x n_classes).
    pub fn predict_proba(&self, x: MatrixView<'_>) -> Result<Matrix> {
        check_predict_input(x, self.n_features)?;
        Matrix::new(x.rows(), self.n_classes, self.flat.predict(x))
    }

    /// Most probable class per row (argmax of [`Self::predict_proba`], ties to the lowest class).
    pub fn predict_classes(&self, x: MatrixView<'_>) -> Result<Vec<u32>> {
        Ok(argmax_rows(&self.predict_proba(x)?))
    }

    /// Flattens the forest into [`ForestParts`].
    pub fn to_parts(&self) -> ForestParts {
        ForestParts::from_trees(
            self.n_features,
            self.n_classes,
            self.trees.iter().map(|t| &t.0),
        )
    }

    /// Rebuilds a forest from [`ForestParts`], validating every array and node.
    pub fn from_parts(p: ForestParts) -> Result<Self> {
        let (n_features, n_classes) = (p.n_features as usize, p.n_classes as usize);
        if n_classes == 0 || n_classes > crate::tree::MAX_CLASSES {
            return Err(MlError::CorruptModel(format!(
                "invalid n_classes {}",
                p.n_classes
            )));
        }
        let trees = p.into_trees(|v| v.is_finite() && v >= 0.0, "class probability")?;
        Ok(Self::new(
            n_features,
            n_classes,
            trees.into_iter().map(DecisionTree).collect(),
        ))
    }

    /// The forest of the trees of `parts`, in order (forests fitted by
    /// [`RandomForestValidParams::fit_tree_range`] over consecutive ranges give the forest
    /// fitted at once). The parts must agree on features and classes.
    pub fn concat(parts: Vec<RandomForest>) -> Result<Self> {
        let Some(first) = parts.first() else {
            return Err(MlError::EmptyInput("no forests to put together".into()));
        };
        let (n_features, n_classes) = (first.n_features, first.n_classes);
        let mut trees = Vec::new();
        for p in parts {
            for (what, expected, got) in [
                ("number of features", n_features, p.n_features),
                ("number of classes", n_classes, p.n_classes),
            ] {
                if expected != got {
                    return Err(MlError::ShapeMismatch {
                        what: format!("{what} of a forest put together"),
                        expected,
                        got,
                    });
                }
            }
            trees.extend(p.trees);
        }
        Ok(Self::new(n_features, n_classes, trees))
    }

    /// Assembles a forest and derives its traversal layout.
    fn new(n_features: usize, n_classes: usize, trees: Vec<DecisionTree>) -> Self {
        let flat = FlatForest::build(trees.iter().map(|t| &t.0), n_features, n_classes);
        Self {
            n_features,
            n_classes,
            trees,
            flat,
        }
    }
}

impl RandomForestValidParams {
    /// Fits a forest on `x` (n x d) with labels `y` in `0..n_classes`.
    ///
    /// The matrix-and-labels form kept from before [`Fit`]; with a
    /// [`Dataset`], call `Fit::fit(&params, &data)` (this inherent method
    /// has the name).
    pub fn fit(&self, x: MatrixView<'_>, y: &[u8], n_classes: usize) -> Result<RandomForest> {
        self.fit_labels(x, y, n_classes)
    }

    /// Fits a forest on `x` (n x d) with labels `y` in `0..n_classes`
    /// (`u8`, `u16` or `u32`) without copying them into a [`Dataset`].
    pub fn fit_labels<L: Copy + Into<u32> + Sync>(
        &self,
        x: MatrixView<'_>,
        y: &[L],
        n_classes: usize,
    ) -> Result<RandomForest> {
        self.fit_tree_range(x, y, n_classes, 0..self.n_trees)
    }

    /// Fits only the trees `trees` of the forest [`Self::fit_labels`] would fit (tree `t`
    /// seeded by `t`, as there), as a forest of its own: a forest fitted in parts by several
    /// workers and put together by [`RandomForest::concat`] is the forest fitted at once.
    /// The range may reach beyond `n_trees`.
    pub fn fit_tree_range<L: Copy + Into<u32> + Sync>(
        &self,
        x: MatrixView<'_>,
        y: &[L],
        n_classes: usize,
        trees: std::ops::Range<usize>,
    ) -> Result<RandomForest> {
        check_fit_input(x, y, n_classes)?;
        if trees.is_empty() {
            return Err(MlError::InvalidParameter {
                name: "n_trees",
                reason: format!("the tree range {trees:?} is empty"),
            });
        }
        let (binner, binned) = FeatureBinner::fit_transform(x, self.tree.n_bins)?;
        let n = x.rows();
        let trees = trees
            .into_par_iter()
            .map(|t| {
                let mut rng = tree_rng(self.tree.seed, t);
                let counts = self.bootstrap.then(|| bootstrap_counts(&mut rng, n));
                DecisionTree(grow_classes(
                    &binned,
                    &binner,
                    y,
                    counts.as_deref(),
                    n_classes,
                    &self.tree,
                    &mut rng,
                ))
            })
            .collect();
        Ok(RandomForest::new(x.cols(), n_classes, trees))
    }
}

impl Fit for RandomForestValidParams {
    type Model = RandomForest;

    fn fit(&self, data: &Dataset) -> Result<RandomForest> {
        let (labels, n_classes) = data.require_classes(RandomForest::KIND)?;
        self.fit_labels(data.view(), labels, n_classes)
    }
}

impl Predict for RandomForest {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        self.predict_proba(x).map(Prediction::Proba)
    }
}

/// Stored as the [`ForestParts`] arrays (see `ForestParts::into_tensors`).
impl Persist for RandomForest {
    const KIND: &'static str = "random-forest";

    fn to_tensors(&self) -> ModelTensors {
        self.to_parts().into_tensors(Self::KIND)
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        Self::from_parts(ForestParts::from_tensors(t)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::MaxFeatures;

    #[test]
    fn params_check_rejects_bad_values() {
        assert!(RandomForest::params().check().is_ok());
        assert!(RandomForest::params().n_trees(0).check().is_err());
        assert!(RandomForest::params().max_depth(0).check().is_err());
        assert!(RandomForest::params().min_samples_split(1).check().is_err());
        assert!(RandomForest::params().n_bins(1).check().is_err());
        assert!(RandomForest::params().n_bins(257).check().is_err());
        assert!(
            RandomForest::params()
                .max_features(MaxFeatures::Fraction(1.5))
                .check()
                .is_err()
        );
        assert!(matches!(
            RandomForest::params().n_trees(0).check(),
            Err(MlError::InvalidParameter {
                name: "n_trees",
                ..
            })
        ));
    }

    #[test]
    fn a_forest_fitted_in_parts_is_the_forest_fitted_at_once() {
        let x = Matrix::new(
            8,
            2,
            vec![
                0., 1., 1., 0., 2., 2., 3., 1., 7., 8., 8., 7., 9., 9., 8., 8.,
            ],
        )
        .unwrap();
        let y: [u32; 8] = [0, 0, 0, 0, 1, 1, 1, 1];
        let p = RandomForest::params()
            .n_trees(5)
            .min_samples_split(2)
            .seed(3)
            .check()
            .unwrap();
        let whole = p.fit_labels(x.view(), &y, 2).unwrap();
        let parts = vec![
            p.fit_tree_range(x.view(), &y, 2, 0..2).unwrap(),
            p.fit_tree_range(x.view(), &y, 2, 2..5).unwrap(),
        ];
        assert_eq!(RandomForest::concat(parts).unwrap(), whole);
        assert!(p.fit_tree_range(x.view(), &y, 2, 3..3).is_err());
        assert!(RandomForest::concat(vec![]).is_err());
        let three = p.fit_labels(x.view(), &y, 3).unwrap();
        assert!(RandomForest::concat(vec![whole, three]).is_err());
    }

    #[test]
    fn splitmix_differs_per_tree() {
        use crate::tree::splitmix64;
        assert_ne!(splitmix64(0), splitmix64(1));
    }
}
