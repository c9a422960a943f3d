//! The rows a stacking run trains and tests on, as they travel between its stages
//! ([`LabelledRows`]), and how the driver gets them: the seed's synthetic set or a table in the
//! store, its target made binary, a stratified held-out split.
//!
//! Every check a user's data can fail happens here, in the driver, before any trainer runs: a
//! target that is constant or has more than two values, a class with fewer rows than folds, a
//! held-out split that would leave a class out.

use faasml_ml::synthetic::{MakeClassification, make_classification};
use faasml_ml::{Dataset, Matrix, Targets};
use rand_core::{Rng as _, SeedableRng as _};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};
use crate::kit::wire;

/// Rows of features with a 0/1 label each: a training or held-out split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledRows {
    /// Rows.
    pub rows: usize,
    /// Features per row.
    pub cols: usize,
    /// The features, row-major.
    #[serde(with = "wire::f32s")]
    pub features: Vec<f32>,
    /// The label of each row, 0 or 1.
    #[serde(with = "wire::bytes")]
    pub labels: Vec<u8>,
}

impl LabelledRows {
    /// Checks that the parts agree (what a stage does with rows it received).
    pub fn check(&self) -> Result<()> {
        let cells = self.rows.checked_mul(self.cols);
        if cells != Some(self.features.len()) || self.labels.len() != self.rows {
            return Err(WorkflowError::InvalidParams(format!(
                "rows do not fit their shape: {} x {} with {} values and {} labels",
                self.rows,
                self.cols,
                self.features.len(),
                self.labels.len()
            )));
        }
        if let Some(row) = self.labels.iter().position(|&l| l > 1) {
            return Err(WorkflowError::InvalidParams(format!(
                "row {row} has label {}, not 0 or 1",
                self.labels[row]
            )));
        }
        Ok(())
    }

    /// The features as a matrix (copied).
    pub fn matrix(&self) -> Result<Matrix> {
        Ok(Matrix::new(self.rows, self.cols, self.features.clone())?)
    }

    /// The rows as a dataset whose targets are the labels: classes for a classifier, the
    /// reals 0.0 and 1.0 for a regressor (the seed regresses the labels).
    pub fn dataset(&self, as_classes: bool) -> Result<Dataset> {
        let targets = if as_classes {
            Targets::Classes {
                labels: self.labels.iter().map(|&l| u32::from(l)).collect(),
                n_classes: 2,
            }
        } else {
            Targets::Real(self.labels.iter().map(|&l| f32::from(l)).collect())
        };
        Ok(Dataset::new(self.matrix()?, targets)?)
    }

    /// Rows of each class: `[zeros, ones]`.
    pub fn class_counts(&self) -> [usize; 2] {
        let ones = self.labels.iter().filter(|&&l| l == 1).count();
        [self.labels.len() - ones, ones]
    }

    /// The rows at `indices`, in that order.
    fn select(&self, indices: &[usize]) -> Self {
        let mut features = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            features.extend_from_slice(&self.features[i * self.cols..(i + 1) * self.cols]);
        }
        Self {
            rows: indices.len(),
            cols: self.cols,
            features,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }
}

/// `columns` (each one score per row, all `rows` long) side by side, row-major: the
/// meta-features of `rows` rows, one column per base model.
pub fn interleave(columns: &[Vec<f64>], rows: usize) -> Vec<f32> {
    let mut features = Vec::with_capacity(rows * columns.len());
    for r in 0..rows {
        features.extend(columns.iter().map(|c| c[r] as f32));
    }
    features
}

/// The seed's synthetic set (scikit-learn's `make_classification` process with the seed's
/// settings) at `samples` x `features`.
pub fn synthetic(samples: usize, features: usize, seed: u64) -> Result<LabelledRows> {
    let params = MakeClassification {
        n_samples: samples,
        n_features: features,
        seed,
        ..MakeClassification::stacking_seed()
    };
    let data = make_classification(&params)?;
    let labels = data
        .labels()
        .map(|l| l.iter().map(|&c| u8::from(c > 0)).collect())
        .unwrap_or_default();
    let (records, _) = data.into_parts();
    Ok(LabelledRows {
        rows: records.rows(),
        cols: records.cols(),
        features: records.into_data(),
        labels,
    })
}

/// A table's rows with its target made binary: exactly two distinct values, the lower one
/// class 0. `source` names the table in errors.
pub fn binary(data: Dataset, source: &str) -> Result<LabelledRows> {
    let (records, targets) = data.into_parts();
    let values: Vec<f64> = match targets {
        Targets::Real(v) => v.into_iter().map(f64::from).collect(),
        Targets::Classes { labels, .. } => labels.into_iter().map(f64::from).collect(),
        Targets::None => {
            return Err(WorkflowError::InvalidParams(format!(
                "'{source}' has no target column: name it with --target COLUMN"
            )));
        }
    };
    let mut distinct: Vec<f64> = Vec::new();
    for &v in &values {
        if v.is_nan() {
            return Err(WorkflowError::InvalidParams(format!(
                "'{source}': a target is not a number"
            )));
        }
        if !distinct.contains(&v) {
            distinct.push(v);
            if distinct.len() > 16 {
                break;
            }
        }
    }
    distinct.sort_by(f64::total_cmp);
    match distinct.len() {
        0 => Err(WorkflowError::InvalidParams(format!(
            "'{source}' has no rows"
        ))),
        1 => Err(WorkflowError::InvalidParams(format!(
            "the target of '{source}' is constant (every row is {}): stacking's meta-model is a \
             binary classifier and needs two classes",
            distinct[0]
        ))),
        2 => Ok(LabelledRows {
            rows: records.rows(),
            cols: records.cols(),
            labels: values.iter().map(|&v| u8::from(v == distinct[1])).collect(),
            features: records.into_data(),
        }),
        n => Err(WorkflowError::InvalidParams(format!(
            "the target of '{source}' has {}{n} distinct values ({}, ...): stacking's meta-model \
             is binary logistic regression, so the target must have exactly two values (0/1, or \
             any two numbers: the lower is class 0)",
            if n > 16 { "more than " } else { "" },
            distinct
                .iter()
                .take(4)
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Splits `rows` into training and held-out rows: `fraction` of each class held out (rounded,
/// at least one row of each class when `fraction > 0`), chosen at random with `seed`; both
/// splits keep the original row order. `fraction` 0 holds nothing out.
pub fn holdout_split(
    rows: &LabelledRows,
    fraction: f64,
    seed: u64,
) -> Result<(LabelledRows, Option<LabelledRows>)> {
    if fraction <= 0.0 {
        return Ok((rows.clone(), None));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut test = Vec::new();
    for class in 0..=1u8 {
        let mut members: Vec<usize> = (0..rows.rows)
            .filter(|&i| rows.labels[i] == class)
            .collect();
        let n = members.len();
        let take = ((fraction * n as f64).round() as usize).clamp(1, n.max(1));
        if take >= n {
            return Err(WorkflowError::InvalidParams(format!(
                "class {class} has {n} row(s): holding out {:.0}% leaves none of it to train on \
                 (lower --holdout, or --holdout 0 for out-of-fold figures only)",
                fraction * 100.0
            )));
        }
        // A partial Fisher-Yates: the first `take` members become the held-out ones.
        for i in 0..take {
            let j = i + (rng.next_u64() % (n - i) as u64) as usize;
            members.swap(i, j);
        }
        test.extend_from_slice(&members[..take]);
    }
    test.sort_unstable();
    let mut held = vec![false; rows.rows];
    for &i in &test {
        held[i] = true;
    }
    let train: Vec<usize> = (0..rows.rows).filter(|&i| !held[i]).collect();
    Ok((rows.select(&train), Some(rows.select(&test))))
}

/// Fails unless every class of `rows` has at least `folds` rows, so that every fold of the
/// out-of-fold predictions sees both classes.
pub fn check_folds(rows: &LabelledRows, folds: usize, what: &str) -> Result<()> {
    for (class, n) in rows.class_counts().into_iter().enumerate() {
        if n < folds {
            return Err(WorkflowError::InvalidParams(format!(
                "class {class} has {n} row(s) in the {what}, fewer than --folds {folds}: every \
                 fold needs a row of each class (use fewer folds or more data)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(labels: &[u8]) -> LabelledRows {
        LabelledRows {
            rows: labels.len(),
            cols: 1,
            features: (0..labels.len()).map(|i| i as f32).collect(),
            labels: labels.to_vec(),
        }
    }

    #[test]
    fn the_synthetic_set_has_the_seeds_shape_and_imbalance() {
        let data = synthetic(300, 1024, 42).unwrap();
        data.check().unwrap();
        assert_eq!((data.rows, data.cols), (300, 1024));
        let [zeros, ones] = data.class_counts();
        // weights [0.9, 0.1] with 10% of labels flipped at random: about 255 / 45.
        assert!(
            (230..=285).contains(&zeros) && zeros + ones == 300,
            "{zeros} {ones}"
        );
        assert_eq!(data, synthetic(300, 1024, 42).unwrap(), "deterministic");
    }

    #[test]
    fn targets_become_binary_or_fail_naming_the_problem() {
        let x = Matrix::new(4, 1, vec![0.0; 4]).unwrap();
        let two = Dataset::new(x.clone(), Targets::Real(vec![2.0, 5.0, 2.0, 5.0])).unwrap();
        assert_eq!(binary(two, "t").unwrap().labels, vec![0, 1, 0, 1]);
        let one = Dataset::new(x.clone(), Targets::Real(vec![3.0; 4])).unwrap();
        let err = binary(one, "t").unwrap_err().to_string();
        assert!(err.contains("constant") && err.contains("3"), "{err}");
        let three = Dataset::new(x, Targets::Real(vec![0.0, 1.0, 2.0, 1.0])).unwrap();
        let err = binary(three, "t").unwrap_err().to_string();
        assert!(
            err.contains("3 distinct values") && err.contains("binary"),
            "{err}"
        );
    }

    #[test]
    fn the_holdout_is_stratified_and_keeps_order() {
        let labels: Vec<u8> = (0..100).map(|i| u8::from(i % 10 == 0)).collect();
        let all = rows(&labels);
        let (train, test) = holdout_split(&all, 0.2, 7).unwrap();
        let test = test.unwrap();
        assert_eq!(test.class_counts(), [18, 2]);
        assert_eq!(train.class_counts(), [72, 8]);
        for split in [&train, &test] {
            assert!(split.features.windows(2).all(|w| w[0] < w[1]), "order kept");
        }
        let (same, none) = holdout_split(&all, 0.0, 7).unwrap();
        assert!(none.is_none() && same == all);
        let err = holdout_split(&rows(&[0, 0, 0, 1]), 0.2, 1).unwrap_err();
        assert!(err.to_string().contains("class 1 has 1 row"), "{err}");
        let err = check_folds(&rows(&[0, 0, 0, 0, 0, 0, 1, 1]), 5, "training rows")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("class 1 has 2 row(s)") && err.contains("--folds 5"),
            "{err}"
        );
    }

    #[test]
    fn received_rows_are_checked() {
        let mut bad = rows(&[0, 1]);
        bad.rows = 3;
        assert!(bad.check().is_err());
        let mut bad = rows(&[0, 2]);
        assert!(bad.check().unwrap_err().to_string().contains("label 2"));
        bad.labels[1] = 1;
        bad.check().unwrap();
    }
}
