//! Metrics: accuracy and confusion matrix for classes, ROC-AUC for scores of
//! a binary target, R² and mean squared error for real values.

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

/// Area under the ROC curve of `scores` for the binary target `truth` (1 positive, 0
/// negative), as scikit-learn's `roc_auc_score(y_true, y_score)`: the probability that a random
/// positive scores above a random negative, tied scores counting one half. Computed from
/// average ranks (Mann-Whitney U) in `O(n log n)`.
///
/// Errors on a length mismatch, a label other than 0 or 1, a score that is not a number, or a
/// target with only one class (the AUC is undefined there, as scikit-learn says too).
pub fn roc_auc(truth: &[u8], scores: &[f64]) -> Result<f64> {
    check_lengths(scores.len(), truth.len())?;
    if let Some((row, &label)) = truth.iter().enumerate().find(|(_, t)| **t > 1) {
        return Err(MlError::LabelOutOfRange {
            label: u32::from(label),
            row,
            n_classes: 2,
        });
    }
    if let Some(row) = scores.iter().position(|s| s.is_nan()) {
        return Err(MlError::Numerical(format!(
            "roc_auc: the score of row {row} is not a number"
        )));
    }
    let positives = truth.iter().filter(|&&t| t == 1).count();
    let negatives = truth.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(MlError::EmptyInput(format!(
            "roc_auc is undefined when the target has one class only ({positives} positive, \
             {negatives} negative)"
        )));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0f64;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| truth[i] == 1).count();
        rank_sum += average_rank * tied_positives as f64;
        start = end;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
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

    /// The pairwise definition: positives ranked above negatives, ties counting one half.
    fn brute_force_auc(truth: &[u8], scores: &[f64]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (i, &ti) in truth.iter().enumerate() {
            for (j, &tj) in truth.iter().enumerate() {
                if ti == 1 && tj == 0 {
                    pairs += 1.0;
                    wins += match scores[i].partial_cmp(&scores[j]) {
                        Some(std::cmp::Ordering::Greater) => 1.0,
                        Some(std::cmp::Ordering::Equal) => 0.5,
                        _ => 0.0,
                    };
                }
            }
        }
        wins / pairs
    }

    #[test]
    fn roc_auc_matches_scikit_learn_with_ties() {
        // ../shared/data/reference/classic-ml.json, case roc_auc_example.
        let truth = [0u8, 0, 1, 1, 0, 1];
        let scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4];
        assert!((roc_auc(&truth, &scores).unwrap() - 0.666667).abs() < 1e-6);
        // The seed called roc_auc_score(predictions, labels) on hard predictions. Here the
        // target is `&[u8]` and the scores `&[f64]`, so the arguments cannot be swapped, and
        // scores that carry no ranking (all tied) give 0.5.
        assert!(roc_auc(&[1, 0], &[1.0, 1.0]).unwrap() == 0.5);
        assert_eq!(roc_auc(&[0, 1], &[0.2, 0.9]).unwrap(), 1.0);
        assert_eq!(roc_auc(&[1, 0], &[0.2, 0.9]).unwrap(), 0.0);
    }

    #[test]
    fn roc_auc_equals_the_pairwise_definition() {
        // A small deterministic generator: scores on a coarse grid, so ties are common.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for n in [2usize, 3, 10, 57, 200] {
            let truth: Vec<u8> = (0..n)
                .map(|i| {
                    if i < 1 {
                        0
                    } else if i < 2 {
                        1
                    } else {
                        (next() % 2) as u8
                    }
                })
                .collect();
            let scores: Vec<f64> = (0..n).map(|_| (next() % 7) as f64 / 7.0).collect();
            let fast = roc_auc(&truth, &scores).unwrap();
            assert!(
                (fast - brute_force_auc(&truth, &scores)).abs() < 1e-12,
                "n = {n}"
            );
        }
    }

    #[test]
    fn roc_auc_refuses_what_has_no_auc() {
        assert!(roc_auc(&[1, 1], &[0.1, 0.2]).is_err());
        assert!(roc_auc(&[0, 2], &[0.1, 0.2]).is_err());
        assert!(roc_auc(&[0, 1], &[f64::NAN, 0.2]).is_err());
        assert!(roc_auc(&[0, 1], &[0.1]).is_err());
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
