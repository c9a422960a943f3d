//! The losses: label checks, starting scores, per-row gradients and hessians, and the quality
//! figures of raw scores (log-loss, accuracy, AUC, RMSE).
//!
//! Scores are raw margins, `K` per row (row-major), `K` the trees per iteration. Gradients follow
//! LightGBM: squared error `s − y` (hessian 1); binary log-loss `σ(s) − y` (hessian `σ(1−σ)`);
//! softmax `p_k − [y = k]` with hessian `K/(K−1) · p_k(1 − p_k)`. The starting scores are
//! LightGBM's `boost_from_average`: the mean label, the log-odds of the positive rate, the log of
//! each class's share.

use super::params::Objective;
use crate::{MlError, Result};

/// Checks that every label fits the objective, naming the first one that does not.
pub(crate) fn check_labels(objective: Objective, labels: &[f32]) -> Result<()> {
    for (row, &y) in labels.iter().enumerate() {
        let ok = match objective {
            Objective::Regression => y.is_finite(),
            Objective::Binary => y == 0.0 || y == 1.0,
            Objective::Multiclass { n_classes } => {
                y >= 0.0 && y.fract() == 0.0 && (y as usize) < n_classes
            }
        };
        if !ok {
            let need = match objective {
                Objective::Regression => "a finite number".to_string(),
                Objective::Binary => "0 or 1 (use --objective multiclass for more classes)".into(),
                Objective::Multiclass { n_classes } => {
                    format!("a class index in 0..{n_classes}")
                }
            };
            return Err(MlError::InvalidParameter {
                name: "labels",
                reason: format!(
                    "label {y} of row {row} does not fit objective {}: it must be {need}",
                    objective.name()
                ),
            });
        }
    }
    Ok(())
}

/// What one shard contributes to the starting scores: `[n, Σy]` or `[n, count per class...]`.
pub(crate) fn label_sums(objective: Objective, labels: &[f32]) -> Vec<f64> {
    let k = objective.trees_per_iteration();
    let mut s = vec![0.0; 1 + k];
    s[0] = labels.len() as f64;
    for &y in labels {
        match objective {
            Objective::Multiclass { .. } => s[1 + y as usize] += 1.0,
            _ => s[1] += y as f64,
        }
    }
    s
}

/// The starting score of each tree slot from the summed [`label_sums`] of every shard.
pub(crate) fn init_scores(objective: Objective, sums: &[f64]) -> Vec<f64> {
    let n = sums[0].max(1.0);
    match objective {
        Objective::Regression => vec![sums[1] / n],
        Objective::Binary => {
            let p = (sums[1] / n).clamp(1e-15, 1.0 - 1e-15);
            vec![(p / (1.0 - p)).ln()]
        }
        Objective::Multiclass { .. } => {
            sums[1..].iter().map(|&c| (c / n).max(1e-15).ln()).collect()
        }
    }
}

#[inline]
fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

/// Softmax of one row's scores into `p`.
#[inline]
pub(crate) fn softmax(scores: &[f64], p: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for (pk, &s) in p.iter_mut().zip(scores) {
        *pk = (s - max).exp();
        sum += *pk;
    }
    for pk in p.iter_mut() {
        *pk /= sum;
    }
}

/// Gradients and hessians of every tree slot: `g[k * n + i]` for slot `k`, row `i`.
pub(crate) fn gradients(
    objective: Objective,
    labels: &[f32],
    scores: &[f64],
    g: &mut [f32],
    h: &mut [f32],
) {
    let n = labels.len();
    match objective {
        Objective::Regression => {
            for i in 0..n {
                g[i] = (scores[i] - labels[i] as f64) as f32;
                h[i] = 1.0;
            }
        }
        Objective::Binary => {
            for i in 0..n {
                let p = sigmoid(scores[i]);
                g[i] = (p - labels[i] as f64) as f32;
                h[i] = (p * (1.0 - p)).max(1e-16) as f32;
            }
        }
        Objective::Multiclass { n_classes: k } => {
            let factor = k as f64 / (k as f64 - 1.0);
            let mut p = vec![0.0; k];
            for i in 0..n {
                softmax(&scores[i * k..(i + 1) * k], &mut p);
                let y = labels[i] as usize;
                for (c, &pc) in p.iter().enumerate() {
                    let t = if c == y { 1.0 } else { 0.0 };
                    g[c * n + i] = (pc - t) as f32;
                    h[c * n + i] = (factor * pc * (1.0 - pc)).max(1e-16) as f32;
                }
            }
        }
    }
}

/// Quality of raw scores against labels.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Mean log-loss (classification).
    pub logloss: Option<f64>,
    /// Share of rows whose most likely class is the label (classification).
    pub accuracy: Option<f64>,
    /// Area under the ROC curve (binary, when both classes occur).
    pub auc: Option<f64>,
    /// Root mean squared error (regression).
    pub rmse: Option<f64>,
}

/// The figures of `scores` (`K` per row) for `labels`.
pub fn evaluate(objective: Objective, scores: &[f64], labels: &[f32]) -> Result<Metrics> {
    let k = objective.trees_per_iteration();
    if scores.len() != labels.len() * k {
        return Err(MlError::ShapeMismatch {
            what: "scores (rows x trees per iteration)".into(),
            expected: labels.len() * k,
            got: scores.len(),
        });
    }
    check_labels(objective, labels)?;
    let n = labels.len().max(1) as f64;
    let mut m = Metrics::default();
    match objective {
        Objective::Regression => {
            let se: f64 = scores
                .iter()
                .zip(labels)
                .map(|(&s, &y)| (s - y as f64).powi(2))
                .sum();
            m.rmse = Some((se / n).sqrt());
        }
        Objective::Binary => {
            let (mut ll, mut right) = (0.0, 0usize);
            for (&s, &y) in scores.iter().zip(labels) {
                let p = sigmoid(s).clamp(1e-15, 1.0 - 1e-15);
                ll -= if y == 1.0 { p.ln() } else { (1.0 - p).ln() };
                right += usize::from((p > 0.5) == (y == 1.0));
            }
            m.logloss = Some(ll / n);
            m.accuracy = Some(right as f64 / n);
            let truth: Vec<u8> = labels.iter().map(|&y| y as u8).collect();
            m.auc = crate::metrics::roc_auc(&truth, scores).ok();
        }
        Objective::Multiclass { .. } => {
            let (mut ll, mut right) = (0.0, 0usize);
            let mut p = vec![0.0; k];
            for (i, &y) in labels.iter().enumerate() {
                softmax(&scores[i * k..(i + 1) * k], &mut p);
                ll -= p[y as usize].clamp(1e-15, 1.0).ln();
                let best = (0..k).fold(0, |b, c| if p[c] > p[b] { c } else { b });
                right += usize::from(best == y as usize);
            }
            m.logloss = Some(ll / n);
            m.accuracy = Some(right as f64 / n);
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_match_finite_differences_of_the_loss() {
        let labels = [0.0f32, 2.0, 1.0];
        let obj = Objective::Multiclass { n_classes: 3 };
        let scores = vec![0.3, -0.2, 0.1, 1.0, 0.5, -1.0, 0.0, 0.2, 0.4];
        let (mut g, mut h) = (vec![0.0; 9], vec![0.0; 9]);
        gradients(obj, &labels, &scores, &mut g, &mut h);
        let loss = |s: &[f64]| evaluate(obj, s, &labels).unwrap().logloss.unwrap() * 3.0;
        for i in 0..3 {
            for c in 0..3 {
                let eps = 1e-6;
                let (mut up, mut dn) = (scores.clone(), scores.clone());
                up[i * 3 + c] += eps;
                dn[i * 3 + c] -= eps;
                let fd = (loss(&up) - loss(&dn)) / (2.0 * eps);
                assert!(
                    (fd - g[c * 3 + i] as f64).abs() < 1e-5,
                    "{fd} vs {}",
                    g[c * 3 + i]
                );
            }
        }
        let (labels, scores) = ([1.0f32, 0.0], [0.7, -0.4]);
        let (mut g, mut h) = (vec![0.0; 2], vec![0.0; 2]);
        gradients(Objective::Binary, &labels, &scores, &mut g, &mut h);
        let loss = |s: &[f64]| {
            evaluate(Objective::Binary, s, &labels)
                .unwrap()
                .logloss
                .unwrap()
                * 2.0
        };
        for i in 0..2 {
            let (mut up, mut dn) = (scores, scores);
            up[i] += 1e-6;
            dn[i] -= 1e-6;
            let fd = (loss(&up) - loss(&dn)) / 2e-6;
            assert!((fd - g[i] as f64).abs() < 1e-5);
            let p = sigmoid(scores[i]);
            assert!((h[i] as f64 - p * (1.0 - p)).abs() < 1e-7);
        }
    }

    #[test]
    fn labels_that_do_not_fit_are_named() {
        let e = check_labels(Objective::Binary, &[0.0, 1.0, 2.0])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("label 2 of row 2") && e.contains("binary"),
            "{e}"
        );
        let e = check_labels(Objective::Multiclass { n_classes: 3 }, &[0.5])
            .unwrap_err()
            .to_string();
        assert!(e.contains("0..3"), "{e}");
        assert!(check_labels(Objective::Regression, &[f32::INFINITY]).is_err());
    }

    #[test]
    fn starting_scores_are_the_average_s() {
        let s = label_sums(Objective::Binary, &[1.0, 0.0, 0.0, 0.0]);
        assert!((init_scores(Objective::Binary, &s)[0] - (1.0f64 / 3.0).ln()).abs() < 1e-12);
        let obj = Objective::Multiclass { n_classes: 2 };
        let s = label_sums(obj, &[1.0, 0.0, 1.0, 1.0]);
        assert_eq!(s, vec![4.0, 1.0, 3.0]);
        let i = init_scores(obj, &s);
        assert!((i[1] - 0.75f64.ln()).abs() < 1e-12);
    }
}
