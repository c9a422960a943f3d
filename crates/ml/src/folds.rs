//! Cross-validation folds as scikit-learn deals them without shuffling, so
//! that out-of-fold predictions match `cross_val_predict`'s row for row:
//! [`kfold`] (`KFold(k)`: contiguous folds, the first `n % k` one row longer)
//! and [`stratified_kfold`] (`StratifiedKFold(k)`: each class spread over the
//! folds in the proportions scikit-learn allocates, rows kept in order).
//!
//! Both return the test fold of every row.

use crate::{MlError, Result};

fn check(n: usize, k: usize) -> Result<()> {
    if k < 2 {
        return Err(MlError::InvalidParameter {
            name: "folds",
            reason: format!("{k} fold(s): cross-validation needs at least 2"),
        });
    }
    if k > n {
        return Err(MlError::InvalidParameter {
            name: "folds",
            reason: format!("{k} folds of {n} rows: at most one fold per row"),
        });
    }
    Ok(())
}

/// The test fold of each of `n` rows under `KFold(k)` unshuffled.
pub fn kfold(n: usize, k: usize) -> Result<Vec<usize>> {
    check(n, k)?;
    let mut folds = Vec::with_capacity(n);
    for fold in 0..k {
        let size = n / k + usize::from(fold < n % k);
        folds.extend(std::iter::repeat_n(fold, size));
    }
    Ok(folds)
}

/// The test fold of each row under `StratifiedKFold(k)` unshuffled, for the
/// class `labels`.
///
/// scikit-learn's allocation: classes are numbered by first appearance, the
/// sorted encoded labels are dealt round-robin into `k` piles, and a class
/// gets as many rows in fold `f` as pile `f` holds of it; its rows, in order,
/// fill fold 0 first, then fold 1, and so on.
pub fn stratified_kfold(labels: &[u32], k: usize) -> Result<Vec<usize>> {
    check(labels.len(), k)?;
    // Classes in order of first appearance.
    let mut classes: Vec<u32> = Vec::new();
    let encoded: Vec<usize> = labels
        .iter()
        .map(|label| match classes.iter().position(|c| c == label) {
            Some(i) => i,
            None => {
                classes.push(*label);
                classes.len() - 1
            }
        })
        .collect();
    let n_classes = classes.len();
    let mut counts = vec![0usize; n_classes];
    for &c in &encoded {
        counts[c] += 1;
    }
    if counts.iter().all(|&count| count < k) {
        return Err(MlError::InvalidParameter {
            name: "folds",
            reason: format!("{k} folds, but no class has {k} rows"),
        });
    }
    let mut order = encoded.clone();
    order.sort_unstable();
    // allocation[f][c]: rows of class c in fold f.
    let mut allocation = vec![vec![0usize; n_classes]; k];
    for (i, &c) in order.iter().enumerate() {
        allocation[i % k][c] += 1;
    }
    let mut next_fold = vec![0usize; n_classes];
    let mut used = vec![0usize; n_classes];
    let mut folds = Vec::with_capacity(labels.len());
    for &c in &encoded {
        while used[c] >= allocation[next_fold[c]][c] {
            used[c] = 0;
            next_fold[c] += 1;
        }
        folds.push(next_fold[c]);
        used[c] += 1;
    }
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kfold_matches_scikit_learn() {
        // KFold(5).split on 23 rows, from scikit-learn 1.9.1.
        let expected = [
            0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
        ];
        assert_eq!(kfold(23, 5).unwrap(), expected);
        assert!(kfold(3, 5).is_err());
        assert!(kfold(10, 1).is_err());
    }

    #[test]
    fn stratified_kfold_matches_scikit_learn() {
        // StratifiedKFold(5).split, from scikit-learn 1.9.1.
        let labels = [
            0, 1, 1, 0, 0, 2, 1, 0, 0, 0, 1, 2, 2, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 2, 0, 2, 1,
        ];
        let expected = [
            0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 3, 4, 4, 4,
        ];
        assert_eq!(stratified_kfold(&labels, 5).unwrap(), expected);
        assert!(stratified_kfold(&[0, 1, 0, 1], 3).is_err());
    }
}
