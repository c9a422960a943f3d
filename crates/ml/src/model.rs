//! The vocabulary every algorithm speaks: [`Fit`] (validated
//! hyperparameters train on a [`Dataset`]), [`Predict`] (a fitted model
//! maps records to a [`Prediction`]) and [`Model`] (a fitted model behind
//! a trait object: predict, name its kind, store itself).

use std::any::Any;
use std::fmt::Debug;

use crate::persist::{ModelTensors, Persist};
use crate::{CsrMatrix, Dataset, Matrix, MatrixView, Result};

/// Validated hyperparameters that train a model on a [`Dataset`].
///
/// Implemented on the `...ValidParams` types (what `params().check()`
/// returns), so an invalid setting is rejected before any data is seen.
pub trait Fit {
    /// The fitted model.
    type Model;

    /// Trains on `data`. A dataset whose targets are of the wrong kind is
    /// [`crate::MlError::TargetMismatch`].
    fn fit(&self, data: &Dataset) -> Result<Self::Model>;
}

/// What a model predicts for a batch of records.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Class probabilities, one row per record and one column per class.
    Proba(Matrix),
    /// One real value per record (regression).
    Real(Vec<f32>),
    /// A new representation of each record (PCA projections).
    Transformed(Matrix),
}

impl Prediction {
    /// Number of records predicted.
    pub fn len(&self) -> usize {
        match self {
            Prediction::Proba(m) | Prediction::Transformed(m) => m.rows(),
            Prediction::Real(v) => v.len(),
        }
    }

    /// Whether no records were predicted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most probable class of each record (ties go to the lowest
    /// class), for class probabilities; `None` otherwise.
    pub fn classes(&self) -> Option<Vec<u32>> {
        match self {
            Prediction::Proba(p) => Some(argmax_rows(p)),
            _ => None,
        }
    }

    /// The class probabilities, if that is what this is.
    pub fn proba(&self) -> Option<&Matrix> {
        match self {
            Prediction::Proba(p) => Some(p),
            _ => None,
        }
    }

    /// The real values, if that is what this is.
    pub fn real(&self) -> Option<&[f32]> {
        match self {
            Prediction::Real(v) => Some(v),
            _ => None,
        }
    }

    /// The transformed records, if that is what this is.
    pub fn transformed(&self) -> Option<&Matrix> {
        match self {
            Prediction::Transformed(m) => Some(m),
            _ => None,
        }
    }
}

/// A fitted model that predicts.
pub trait Predict {
    /// Number of features (columns) `predict` expects.
    fn n_features(&self) -> usize;

    /// Predicts for every row of `x`; a wrong column count is
    /// [`crate::MlError::ShapeMismatch`], a NaN [`crate::MlError::Numerical`].
    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction>;

    /// Predicts for every row of the sparse `x`, as [`Self::predict`] would for its dense form.
    /// By default `x` is densified; the models that read bag-of-words features (logistic
    /// regression, linear SVC, k-means) work on the sparse rows directly.
    fn predict_sparse(&self, x: &CsrMatrix) -> Result<Prediction> {
        self.predict(x.to_dense().view())
    }
}

/// A fitted model behind a trait object: what [`crate::Algorithm::fit`]
/// and [`crate::Algorithm::load`] return.
///
/// Implemented for every type that is [`Persist`] and [`Predict`]. On a
/// concrete model with both this trait and [`Persist`] in scope, call
/// `Persist::to_tensors(&m)` (the two methods are the same).
pub trait Model: Predict + Send + Sync + Debug {
    /// The model's kind ([`Persist::KIND`], the algorithm's name).
    fn kind(&self) -> &'static str;

    /// The model as tensors ([`Persist::to_tensors`]).
    fn to_tensors(&self) -> ModelTensors;

    /// The model as [`Any`], to downcast to its concrete type.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Persist + Predict + Send + Sync + Debug + 'static> Model for T {
    fn kind(&self) -> &'static str {
        T::KIND
    }

    fn to_tensors(&self) -> ModelTensors {
        Persist::to_tensors(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Row-wise argmax of a probability matrix; ties go to the lowest index.
pub(crate) fn argmax_rows(p: &Matrix) -> Vec<u32> {
    if p.cols() == 0 {
        return vec![0; p.rows()];
    }
    p.data()
        .chunks_exact(p.cols())
        .map(|row| {
            let mut best = 0usize;
            for (c, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = c;
                }
            }
            best as u32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_is_argmax_with_ties_to_the_lowest() {
        let p = Matrix::new(3, 3, vec![0.2, 0.5, 0.3, 0.4, 0.2, 0.4, 0.0, 0.0, 1.0]).unwrap();
        let pred = Prediction::Proba(p);
        assert_eq!(pred.classes(), Some(vec![1, 0, 2]));
        assert_eq!(pred.len(), 3);
        assert!(pred.real().is_none());
        assert_eq!(Prediction::Real(vec![1.0]).classes(), None);
        assert_eq!(Prediction::Real(vec![1.0]).real(), Some(&[1.0][..]));
    }
}
