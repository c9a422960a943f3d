//! Categorical features as Spark's random-forest example finds and splits them.
//!
//! [`CategoricalFeatures::detect`] is `VectorIndexer(maxCategories)`: a feature with at most
//! `max_categories` distinct values is categorical, its categories those values in increasing
//! order (Spark indexes them the same way, with 0.0 first when present: 0.0 is the smallest of
//! the non-negative pixel values here, and the order only matters through the ranks below).
//!
//! [`BreimanOrder`] is how Spark's trees split such a feature for a binary label: its
//! categories are ordered by their mean label (Breiman's trick — for two classes and Gini
//! impurity the best split into two sets of categories is a prefix of that order) and the
//! feature is then split like an ordered one on the category's rank. Spark orders per tree
//! node; here the order is fitted once on the training rows and each categorical value is
//! replaced by its rank, so the crate's ordinal trees ([`crate::forest`]) split on it as they
//! are. Categories with equal means keep their index order; categories absent from the
//! training rows come last. For more than two classes (where Spark splits on unordered
//! subsets) the rank is the category's index.

use super::Rows;
use crate::{MlError, Result};

/// Which features are categorical, with their categories.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalFeatures {
    /// Per feature: its distinct values in increasing order if categorical.
    features: Vec<Option<Vec<f64>>>,
}

impl CategoricalFeatures {
    /// Spark's `VectorIndexer(maxCategories = max_categories)` detection over the rows of `x`
    /// (at least 1 row; `max_categories` at least 2, as Spark requires).
    pub fn detect(x: &Rows, max_categories: usize) -> Result<Self> {
        if max_categories < 2 {
            return Err(MlError::InvalidParameter {
                name: "max_categories",
                reason: format!("must be at least 2, got {max_categories}"),
            });
        }
        if x.n() == 0 {
            return Err(MlError::EmptyInput("no rows to find categories in".into()));
        }
        let features = (0..x.d())
            .map(|j| {
                let mut values: Vec<f64> = Vec::new();
                for i in 0..x.n() {
                    let v = x.row(i)[j];
                    // -0.0 and 0.0 are one value.
                    let v = if v == 0.0 { 0.0 } else { v };
                    if !values.contains(&v) {
                        if values.len() == max_categories {
                            return None;
                        }
                        values.push(v);
                    }
                }
                values.sort_by(f64::total_cmp);
                Some(values)
            })
            .collect();
        Ok(Self { features })
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// The indices of the categorical features.
    pub fn categorical(&self) -> Vec<usize> {
        (0..self.features.len())
            .filter(|&j| self.features[j].is_some())
            .collect()
    }

    /// The categories of feature `j`, if it is categorical.
    pub fn categories(&self, j: usize) -> Option<&[f64]> {
        self.features.get(j).and_then(|c| c.as_deref())
    }
}

/// The rank of every category of every categorical feature (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct BreimanOrder {
    /// Per feature: `(category value, rank)` if categorical.
    ranks: Vec<Option<Vec<(f64, f64)>>>,
}

impl BreimanOrder {
    /// Orders the categories of `cats` by their mean label over the rows of `x` (labels `y`
    /// below `n_classes`) for two classes, by index otherwise.
    pub fn fit(cats: &CategoricalFeatures, x: &Rows, y: &[u32], n_classes: usize) -> Result<Self> {
        if x.d() != cats.n_features() {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: cats.n_features(),
                got: x.d(),
            });
        }
        if y.len() != x.n() {
            return Err(MlError::ShapeMismatch {
                what: "labels".into(),
                expected: x.n(),
                got: y.len(),
            });
        }
        if let Some((row, &label)) = y
            .iter()
            .enumerate()
            .find(|(_, l)| **l as usize >= n_classes)
        {
            return Err(MlError::LabelOutOfRange {
                label,
                row,
                n_classes,
            });
        }
        let ranks = cats
            .features
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let c = c.as_ref()?;
                let mut order: Vec<usize> = (0..c.len()).collect();
                if n_classes == 2 {
                    let mut sum = vec![0.0f64; c.len()];
                    let mut count = vec![0usize; c.len()];
                    for (i, &label) in y.iter().enumerate() {
                        let v = x.row(i)[j];
                        if let Some(k) = c.iter().position(|&u| u == v) {
                            sum[k] += f64::from(label);
                            count[k] += 1;
                        }
                    }
                    let mean = |k: usize| {
                        if count[k] == 0 {
                            f64::INFINITY
                        } else {
                            sum[k] / count[k] as f64
                        }
                    };
                    order.sort_by(|&a, &b| mean(a).total_cmp(&mean(b)));
                }
                let mut ranked = vec![(0.0, 0.0); c.len()];
                for (rank, &k) in order.iter().enumerate() {
                    ranked[k] = (c[k], rank as f64);
                }
                Some(ranked)
            })
            .collect();
        Ok(Self { ranks })
    }

    /// The rows of `x` with every categorical value replaced by its rank; a value that is not
    /// one of its feature's categories is an error (Spark's `handleInvalid = "error"`).
    pub fn transform(&self, x: &Rows) -> Result<Rows> {
        if x.d() != self.ranks.len() {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: self.ranks.len(),
                got: x.d(),
            });
        }
        let d = x.d();
        let mut out = x.data().to_vec();
        for (i, row) in out.chunks_exact_mut(d.max(1)).enumerate() {
            for (j, r) in self.ranks.iter().enumerate() {
                let Some(r) = r else { continue };
                let v = row[j];
                let Some(&(_, rank)) = r.iter().find(|(u, _)| *u == v) else {
                    return Err(MlError::InvalidParameter {
                        name: "x",
                        reason: format!(
                            "row {i}: feature {j} has value {v}, not one of its categories"
                        ),
                    });
                };
                row[j] = rank;
            }
        }
        Rows::new(x.n(), d, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four features over six rows: f0 binary, f1 three colours, f2 continuous (six values),
    /// f3 constant.
    fn table() -> Rows {
        #[rustfmt::skip]
        let v = vec![
            0., 2., 0.5, 7.,
            1., 1., 1.5, 7.,
            0., 3., 2.5, 7.,
            1., 2., 3.5, 7.,
            0., 1., 4.5, 7.,
            1., 3., 5.5, 7.,
        ];
        Rows::new(6, 4, v).unwrap()
    }

    #[test]
    fn detection_finds_the_features_with_few_values() {
        let c = CategoricalFeatures::detect(&table(), 4).unwrap();
        assert_eq!(c.categorical(), vec![0, 1, 3]);
        assert_eq!(c.categories(1), Some(&[1.0, 2.0, 3.0][..]));
        assert_eq!(c.categories(2), None);
        assert_eq!(c.categories(3), Some(&[7.0][..]));
        // With at most 2 categories the three colours are continuous.
        let c2 = CategoricalFeatures::detect(&table(), 2).unwrap();
        assert_eq!(c2.categorical(), vec![0, 3]);
        assert!(CategoricalFeatures::detect(&table(), 1).is_err());
    }

    #[test]
    fn categories_are_ranked_by_mean_label() {
        let x = table();
        // Colour 3 is always class 1, colour 1 never, colour 2 half the time.
        let y = [1, 0, 1, 0, 0, 1];
        let c = CategoricalFeatures::detect(&x, 4).unwrap();
        let order = BreimanOrder::fit(&c, &x, &y, 2).unwrap();
        let t = order.transform(&x).unwrap();
        let colour_rank: Vec<f64> = (0..6).map(|i| t.row(i)[1]).collect();
        assert_eq!(colour_rank, [1., 0., 2., 1., 0., 2.]);
        // Continuous features pass through.
        assert_eq!(t.row(3)[2], 3.5);
        // For three classes the rank is the index.
        let by_index = BreimanOrder::fit(&c, &x, &[2, 0, 1, 0, 0, 1], 3)
            .unwrap()
            .transform(&x)
            .unwrap();
        assert_eq!(by_index.row(0)[1], 1.0);
        let unseen = Rows::new(1, 4, vec![0., 9., 0.5, 7.]).unwrap();
        assert!(order.transform(&unseen).is_err());
        assert!(BreimanOrder::fit(&c, &x, &[0, 1, 2, 0, 0, 1], 2).is_err());
    }
}
