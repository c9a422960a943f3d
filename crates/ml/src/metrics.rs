//! Classification metrics: accuracy and confusion matrix.

use crate::{MlError, Result};

fn check_lengths(pred: &[u8], truth: &[u8]) -> Result<()> {
    if pred.len() != truth.len() {
        return Err(MlError::ShapeMismatch {
            what: "number of predictions vs labels".into(),
            expected: truth.len(),
            got: pred.len(),
        });
    }
    Ok(())
}

/// Fraction of positions where `pred` equals `truth` (0.0 for empty input).
///
/// Extra elements of the longer slice are ignored; use
/// [`try_accuracy`] to get an error on a length mismatch instead.
pub fn accuracy(pred: &[u8], truth: &[u8]) -> f64 {
    let n = pred.len().min(truth.len());
    if n == 0 {
        return 0.0;
    }
    let hits = pred.iter().zip(truth).filter(|(p, t)| p == t).count();
    hits as f64 / n as f64
}

/// Accuracy that rejects slices of different lengths.
pub fn try_accuracy(pred: &[u8], truth: &[u8]) -> Result<f64> {
    check_lengths(pred, truth)?;
    Ok(accuracy(pred, truth))
}

/// Confusion matrix `m[truth][pred]` (`n_classes x n_classes`); labels
/// `>= n_classes` and unmatched trailing elements are ignored.
pub fn confusion_matrix(pred: &[u8], truth: &[u8], n_classes: usize) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0u64; n_classes]; n_classes];
    for (&p, &t) in pred.iter().zip(truth) {
        if let Some(cell) = m
            .get_mut(t as usize)
            .and_then(|row| row.get_mut(p as usize))
        {
            *cell += 1;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts_matches() {
        assert_eq!(accuracy(&[0, 1, 2, 1], &[0, 1, 1, 1]), 0.75);
        assert_eq!(accuracy(&[], &[]), 0.0);
        assert!(try_accuracy(&[0], &[0, 1]).is_err());
        assert_eq!(try_accuracy(&[1, 1], &[1, 1]).unwrap(), 1.0);
    }

    #[test]
    fn confusion_matrix_rows_are_truth() {
        let m = confusion_matrix(&[0, 1, 1, 2, 9], &[0, 0, 1, 2, 2], 3);
        assert_eq!(m, vec![vec![1, 1, 0], vec![0, 1, 0], vec![0, 0, 1]]);
    }
}
