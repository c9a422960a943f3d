//! Out-of-fold predictions: [`cross_val_predict`] fits an [`Algorithm`] on
//! all folds but one and scores the held-out fold, as scikit-learn's
//! `cross_val_predict` does by default, and [`score`] turns any prediction
//! into the same one-number-per-row score.
//!
//! Folds are scikit-learn's unshuffled ones ([`crate::folds`]): `KFold(k)`
//! for regressors, `StratifiedKFold(k)` for classifiers. The folds are
//! fitted in parallel; each writes its own rows, so the result does not
//! depend on the number of threads.

use rayon::prelude::*;

use crate::folds::{kfold, stratified_kfold};
use crate::{Algorithm, Dataset, MlError, Prediction, Result, Task};

/// One score per row of `prediction`: the value for a regression, the
/// probability of class 1 for a binary classification. Probabilities of
/// more (or fewer) than two classes, and transformed records, are
/// [`MlError::InvalidParameter`].
pub fn score(prediction: &Prediction) -> Result<Vec<f64>> {
    match prediction {
        Prediction::Real(v) => Ok(v.iter().map(|&p| f64::from(p)).collect()),
        Prediction::Proba(p) if p.cols() == 2 => {
            Ok(p.data().chunks_exact(2).map(|r| f64::from(r[1])).collect())
        }
        Prediction::Proba(p) => Err(MlError::InvalidParameter {
            name: "prediction",
            reason: format!(
                "a score per row needs binary class probabilities, got {} classes",
                p.cols()
            ),
        }),
        Prediction::Transformed(_) => Err(MlError::InvalidParameter {
            name: "prediction",
            reason: "transformed records have no score per row".into(),
        }),
    }
}

/// The out-of-fold score of every row of `data` under `k`-fold
/// cross-validation: each row is scored ([`score`]) by `algorithm` fitted on
/// the other folds.
///
/// Regressors use `KFold(k)`; classifiers use `StratifiedKFold(k)` on the
/// labels and must be binary. A transform, a classifier on a dataset
/// without exactly two classes, or fewer than 2 or more than `n` folds is
/// an error naming the problem; so is any fold's fit.
pub fn cross_val_predict(algorithm: &Algorithm, data: &Dataset, k: usize) -> Result<Vec<f64>> {
    let name = algorithm.name();
    let folds = match algorithm.task() {
        Task::Regression => kfold(data.len(), k)?,
        Task::Classification => {
            let labels = data.labels().ok_or_else(|| MlError::TargetMismatch {
                model: name,
                expected: "class",
                got: data.targets().kind(),
            })?;
            if data.n_classes() != Some(2) {
                return Err(MlError::InvalidParameter {
                    name: "algorithm",
                    reason: format!(
                        "cross_val_predict scores binary classifiers only; `{name}` was given {} classes",
                        data.n_classes().unwrap_or(0)
                    ),
                });
            }
            stratified_kfold(labels, k)?
        }
        Task::Transform | Task::Clustering => {
            return Err(MlError::InvalidParameter {
                name: "algorithm",
                reason: format!(
                    "`{name}` is a transform: it has no per-row score to cross-validate"
                ),
            });
        }
    };
    algorithm.check()?;
    let per_fold: Vec<(Vec<usize>, Vec<f64>)> = (0..k)
        .into_par_iter()
        .map(|fold| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..data.len()).partition(|&i| folds[i] == fold);
            let model = algorithm.fit(&data.select(&train)?)?;
            let held_out = data.select(&test)?;
            let scores = score(&model.predict(held_out.view())?)?;
            Ok((test, scores))
        })
        .collect::<Result<_>>()?;
    let mut out = vec![0f64; data.len()];
    for (rows, scores) in per_fold {
        for (r, s) in rows.into_iter().zip(scores) {
            out[r] = s;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Matrix;

    #[test]
    fn score_reads_values_and_the_positive_class() {
        assert_eq!(
            score(&Prediction::Real(vec![1.5, 2.0])).unwrap(),
            [1.5, 2.0]
        );
        let p = Matrix::new(2, 2, vec![0.75, 0.25, 0.5, 0.5]).unwrap();
        assert_eq!(score(&Prediction::Proba(p)).unwrap(), [0.25, 0.5]);
        let p3 = Matrix::new(1, 3, vec![0.2, 0.3, 0.5]).unwrap();
        assert!(score(&Prediction::Proba(p3)).is_err());
        assert!(score(&Prediction::Transformed(Matrix::zeros(1, 1))).is_err());
    }

    #[test]
    fn transforms_and_multiclass_are_refused() {
        let x = Matrix::new(6, 1, vec![0., 1., 2., 3., 4., 5.]).unwrap();
        let data = Dataset::classification(x, vec![0, 1, 2, 0, 1, 2], 3).unwrap();
        let pca = Algorithm::from_name("pca").unwrap();
        assert!(cross_val_predict(&pca, &data, 2).is_err());
        let logistic = Algorithm::from_name("logistic-regression").unwrap();
        let err = cross_val_predict(&logistic, &data, 2).unwrap_err();
        assert!(err.to_string().contains("logistic-regression"), "{err}");
    }
}
