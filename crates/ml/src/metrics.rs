//! Metrics: accuracy and confusion matrix for classes, R² and mean squared
//! error for real values.

use crate::{MlError, Result};

fn check_lengths(pred: usize, truth: usize) -> Result<()> {
    if pred != truth {
        return Err(MlError::ShapeMismatch {
            what: "number of predictions vs targets".into(),
            expected: truth,
            got: pred,
        });
    }
    Ok(())
}

/// Fraction of positions where `pred` equals `truth` (0.0 for empty input);
/// labels may be `u8`, `u32` or anything comparable.
///
/// Extra elements of the longer slice are ignored; use
/// [`try_accuracy`] to get an error on a length mismatch instead.
pub fn accuracy<T: PartialEq>(pred: &[T], truth: &[T]) -> f64 {
    let n = pred.len().min(truth.len());
    if n == 0 {
        return 0.0;
    }
    let hits = pred.iter().zip(truth).filter(|(p, t)| p == t).count();
    hits as f64 / n as f64
}

/// Accuracy that rejects slices of different lengths.
pub fn try_accuracy<T: PartialEq>(pred: &[T], truth: &[T]) -> Result<f64> {
    check_lengths(pred.len(), truth.len())?;
    Ok(accuracy(pred, truth))
}

/// Confusion matrix `m[truth][pred]` (`n_classes x n_classes`); labels
/// `>= n_classes` and unmatched trailing elements are ignored.
pub fn confusion_matrix<T: Copy + Into<u32>>(
    pred: &[T],
    truth: &[T],
    n_classes: usize,
) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0u64; n_classes]; n_classes];
    for (&p, &t) in pred.iter().zip(truth) {
        if let Some(cell) = m
            .get_mut(t.into() as usize)
            .and_then(|row| row.get_mut(p.into() as usize))
        {
            *cell += 1;
        }
    }
    m
}

/// Mean squared error of `pred` against `truth`, in `f64`.
pub fn mean_squared_error(pred: &[f32], truth: &[f32]) -> Result<f64> {
    check_lengths(pred.len(), truth.len())?;
    if truth.is_empty() {
        return Err(MlError::EmptyInput("mean squared error of nothing".into()));
    }
    let sse: f64 = pred
        .iter()
        .zip(truth)
        .map(|(&p, &t)| (p as f64 - t as f64).powi(2))
        .sum();
    Ok(sse / truth.len() as f64)
}

/// Coefficient of determination `1 - SSE / SST` (scikit-learn's
/// `r2_score`), in `f64`. With constant `truth` (SST = 0) it is 1.0 for a
/// perfect prediction and 0.0 otherwise, as scikit-learn does.
pub fn r2_score(pred: &[f32], truth: &[f32]) -> Result<f64> {
    let mse = mean_squared_error(pred, truth)?;
    let n = truth.len() as f64;
    let mean = truth.iter().map(|&t| t as f64).sum::<f64>() / n;
    let sst: f64 = truth.iter().map(|&t| (t as f64 - mean).powi(2)).sum();
    let sse = mse * n;
    Ok(if sst > 0.0 {
        1.0 - sse / sst
    } else if sse == 0.0 {
        1.0
    } else {
        0.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts_matches() {
        assert_eq!(accuracy(&[0u8, 1, 2, 1], &[0, 1, 1, 1]), 0.75);
        assert_eq!(accuracy::<u8>(&[], &[]), 0.0);
        assert!(try_accuracy(&[0u32], &[0, 1]).is_err());
        assert_eq!(try_accuracy(&[1u32, 1], &[1, 1]).unwrap(), 1.0);
    }

    #[test]
    fn confusion_matrix_rows_are_truth() {
        let m = confusion_matrix(&[0u8, 1, 1, 2, 9], &[0, 0, 1, 2, 2], 3);
        assert_eq!(m, vec![vec![1, 1, 0], vec![0, 1, 0], vec![0, 0, 1]]);
    }

    #[test]
    fn regression_metrics() {
        let truth = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            mean_squared_error(&[1.0, 2.0, 3.0, 6.0], &truth).unwrap(),
            1.0
        );
        assert_eq!(r2_score(&truth, &truth).unwrap(), 1.0);
        // Predicting the mean scores 0; SST = 5 and SSE = 4 give 0.2.
        assert_eq!(r2_score(&[2.5; 4], &truth).unwrap(), 0.0);
        assert!((r2_score(&[1.0, 2.0, 3.0, 6.0], &truth).unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(r2_score(&[1.0, 1.0], &[1.0, 1.0]).unwrap(), 1.0);
        assert_eq!(r2_score(&[1.0, 2.0], &[1.0, 1.0]).unwrap(), 0.0);
        assert!(r2_score(&[1.0], &[1.0, 2.0]).is_err());
        assert!(mean_squared_error(&[], &[]).is_err());
    }
}
