//! The silhouette of a clustering as Spark's `ClusteringEvaluator` computes it by default
//! (`metricName` silhouette, `distanceMeasure` squaredEuclidean): the mean over rows of
//! `s = 1 - a/b` (or `b/a - 1` when `a > b`, 0 when equal), where `a` is the row's mean
//! *squared* Euclidean distance to the other rows of its cluster and `b` the smallest mean
//! squared distance to the rows of another cluster; a row alone in its cluster scores 0.
//!
//! Spark's trick makes it linear in the rows: the mean squared distance from `x` to the rows
//! `y` of cluster `c` is `|x|² + (Ψ_c - 2 x·Y_c) / N_c` with `N_c` the cluster's size, `Y_c`
//! the sum of its rows and `Ψ_c` the sum of their squared norms. Those per-cluster sums
//! ([`ClusterStats`]) add up over shards; each shard then sums its rows' `s`
//! ([`SilhouetteSum`], additive too) against the whole data's statistics.

use serde::{Deserialize, Serialize};

use super::Rows;
use crate::{MlError, Result};

/// Per-cluster sums over rows: their count, the sum of the rows and of their squared norms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ClusterStatsParts")]
pub struct ClusterStats {
    k: usize,
    d: usize,
    counts: Vec<u64>,
    /// `k x d` row-major.
    sums: Vec<f64>,
    sq_norms: Vec<f64>,
}

/// The serialised form of [`ClusterStats`], checked on the way in (a worker's answer is input).
#[derive(Deserialize)]
struct ClusterStatsParts {
    k: usize,
    d: usize,
    counts: Vec<u64>,
    sums: Vec<f64>,
    sq_norms: Vec<f64>,
}

impl TryFrom<ClusterStatsParts> for ClusterStats {
    type Error = MlError;
    fn try_from(p: ClusterStatsParts) -> Result<Self> {
        if p.k.checked_mul(p.d) != Some(p.sums.len())
            || p.counts.len() != p.k
            || p.sq_norms.len() != p.k
        {
            return Err(MlError::ShapeMismatch {
                what: format!("cluster statistics of {} clusters x {} features", p.k, p.d),
                expected: p.k.saturating_mul(p.d),
                got: p.sums.len(),
            });
        }
        if p.sums.iter().chain(&p.sq_norms).any(|v| !v.is_finite()) {
            return Err(MlError::Numerical("non-finite cluster statistics".into()));
        }
        Ok(Self {
            k: p.k,
            d: p.d,
            counts: p.counts,
            sums: p.sums,
            sq_norms: p.sq_norms,
        })
    }
}

fn check_labels(x: &Rows, labels: &[u32], k: usize) -> Result<()> {
    if labels.len() != x.n() {
        return Err(MlError::ShapeMismatch {
            what: "cluster labels".into(),
            expected: x.n(),
            got: labels.len(),
        });
    }
    if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l as usize >= k) {
        return Err(MlError::LabelOutOfRange {
            label,
            row,
            n_classes: k,
        });
    }
    Ok(())
}

fn squared_norm(row: &[f64]) -> f64 {
    row.iter().map(|v| v * v).sum()
}

impl ClusterStats {
    /// The sums of no rows, for `k` clusters of `d` features.
    pub fn zeros(k: usize, d: usize) -> Self {
        Self {
            k,
            d,
            counts: vec![0; k],
            sums: vec![0.0; k * d],
            sq_norms: vec![0.0; k],
        }
    }

    /// The sums of the rows of `x`, row `i` in cluster `labels[i] < k`.
    pub fn of_rows(x: &Rows, labels: &[u32], k: usize) -> Result<Self> {
        check_labels(x, labels, k)?;
        let d = x.d();
        let mut out = Self::zeros(k, d);
        for (i, &l) in labels.iter().enumerate() {
            let (l, row) = (l as usize, x.row(i));
            out.counts[l] += 1;
            out.sq_norms[l] += squared_norm(row);
            for (s, &v) in out.sums[l * d..(l + 1) * d].iter_mut().zip(row) {
                *s += v;
            }
        }
        Ok(out)
    }

    /// Adds another shard's sums (of the same `k` and `d`).
    pub fn merge(&mut self, other: &ClusterStats) -> Result<()> {
        if (self.k, self.d) != (other.k, other.d) {
            return Err(MlError::ShapeMismatch {
                what: "k x d of the cluster statistics merged".into(),
                expected: self.k * self.d,
                got: other.k * other.d,
            });
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        for (a, b) in self.sq_norms.iter_mut().zip(&other.sq_norms) {
            *a += b;
        }
        Ok(())
    }

    /// Rows per cluster.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
}

/// The summed silhouettes of some rows and how many there were; shards' sums add up, and
/// [`Self::value`] is the mean.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SilhouetteSum {
    /// Sum of the rows' silhouettes.
    pub total: f64,
    /// Number of rows.
    pub rows: u64,
}

impl SilhouetteSum {
    /// The silhouettes of the rows of `x` (row `i` in cluster `labels[i]`) against the
    /// statistics of the whole clustering, `stats`, which must count at least two non-empty
    /// clusters (Spark's requirement).
    pub fn of_rows(x: &Rows, labels: &[u32], stats: &ClusterStats) -> Result<Self> {
        check_labels(x, labels, stats.k)?;
        if x.d() != stats.d {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: stats.d,
                got: x.d(),
            });
        }
        let non_empty = stats.counts.iter().filter(|&&c| c > 0).count();
        if non_empty < 2 {
            return Err(MlError::InvalidParameter {
                name: "k",
                reason: format!(
                    "the silhouette needs at least two non-empty clusters, got {non_empty}"
                ),
            });
        }
        let d = stats.d;
        let mut total = 0.0;
        for (i, &own) in labels.iter().enumerate() {
            let own = own as usize;
            if stats.counts[own] == 0 {
                return Err(MlError::InvalidParameter {
                    name: "labels",
                    reason: format!(
                        "row {i} is in cluster {own}, which the statistics count empty"
                    ),
                });
            }
            let row = x.row(i);
            let x_sq = squared_norm(row);
            let mean_dist = |c: usize| -> f64 {
                let n = stats.counts[c] as f64;
                let dot: f64 = row
                    .iter()
                    .zip(&stats.sums[c * d..(c + 1) * d])
                    .map(|(v, s)| v * s)
                    .sum();
                x_sq + (stats.sq_norms[c] - 2.0 * dot) / n
            };
            let own_n = stats.counts[own];
            if own_n == 1 {
                continue;
            }
            // The mean over the cluster includes the row itself (distance 0): rescale to the
            // mean over the others, as Spark does.
            let a = mean_dist(own) * own_n as f64 / (own_n - 1) as f64;
            let b = (0..stats.k)
                .filter(|&c| c != own && stats.counts[c] > 0)
                .map(mean_dist)
                .fold(f64::INFINITY, f64::min);
            total += if a < b {
                1.0 - a / b
            } else if a > b {
                b / a - 1.0
            } else {
                0.0
            };
        }
        Ok(Self {
            total,
            rows: labels.len() as u64,
        })
    }

    /// Adds another shard's sum.
    pub fn merge(&mut self, other: SilhouetteSum) {
        self.total += other.total;
        self.rows += other.rows;
    }

    /// The mean silhouette (0 for no rows).
    pub fn value(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.total / self.rows as f64
        }
    }
}

/// Spark's squared-Euclidean silhouette of the clustering `labels` (`< k`) of the rows of `x`.
pub fn silhouette(x: &Rows, labels: &[u32], k: usize) -> Result<f64> {
    let stats = ClusterStats::of_rows(x, labels, k)?;
    Ok(SilhouetteSum::of_rows(x, labels, &stats)?.value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mllib::{KMeans, samples};

    /// The silhouette by its definition, all pairs.
    fn brute_force(x: &Rows, labels: &[u32], k: usize) -> f64 {
        let n = x.n();
        let dist = |i: usize, j: usize| -> f64 {
            x.row(i)
                .iter()
                .zip(x.row(j))
                .map(|(a, b)| (a - b).powi(2))
                .sum()
        };
        let mut total = 0.0;
        for i in 0..n {
            let mut sum = vec![0.0; k];
            let mut cnt = vec![0usize; k];
            for j in 0..n {
                if j != i {
                    sum[labels[j] as usize] += dist(i, j);
                    cnt[labels[j] as usize] += 1;
                }
            }
            let own = labels[i] as usize;
            if cnt[own] == 0 {
                continue;
            }
            let a = sum[own] / cnt[own] as f64;
            let b = (0..k)
                .filter(|&c| c != own && cnt[c] > 0)
                .map(|c| sum[c] / cnt[c] as f64)
                .fold(f64::INFINITY, f64::min);
            total += (b - a) / a.max(b);
        }
        total / n as f64
    }

    #[test]
    fn spark_kmeans_example_silhouette() {
        let (x, _) = samples::load("sample_kmeans_data");
        let m = KMeans::params()
            .check()
            .unwrap()
            .fit_shards(&x, std::slice::from_ref(&x))
            .unwrap();
        let labels = m.labels(&x).unwrap();
        let s = silhouette(&x, &labels, 2).unwrap();
        eprintln!("silhouette {s:.9}");
        assert!((s - 0.999753).abs() < 1e-6, "silhouette {s}");
        assert!((s - brute_force(&x, &labels, 2)).abs() < 1e-9);
    }

    #[test]
    fn shards_add_up_and_match_the_definition() {
        let x = Rows::new(
            7,
            2,
            vec![0., 0., 1., 0., 0., 2., 5., 5., 6., 5., 9., 9., 3., 3.],
        )
        .unwrap();
        let labels = [0, 0, 0, 1, 1, 2, 1];
        let whole = silhouette(&x, &labels, 3).unwrap();
        assert!((whole - brute_force(&x, &labels, 3)).abs() < 1e-12);
        let (a, b) = (x.slice(0..3).unwrap(), x.slice(3..7).unwrap());
        let mut stats = ClusterStats::of_rows(&a, &labels[..3], 3).unwrap();
        stats
            .merge(&ClusterStats::of_rows(&b, &labels[3..], 3).unwrap())
            .unwrap();
        let mut sum = SilhouetteSum::of_rows(&a, &labels[..3], &stats).unwrap();
        sum.merge(SilhouetteSum::of_rows(&b, &labels[3..], &stats).unwrap());
        assert!((sum.value() - whole).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = Rows::new(3, 1, vec![0., 1., 2.]).unwrap();
        assert!(matches!(
            silhouette(&x, &[0, 0, 0], 2),
            Err(MlError::InvalidParameter { .. })
        ));
        assert!(matches!(
            silhouette(&x, &[0, 1, 2], 2),
            Err(MlError::LabelOutOfRange { .. })
        ));
        assert!(matches!(
            silhouette(&x, &[0, 1], 2),
            Err(MlError::ShapeMismatch { .. })
        ));
        let bad: std::result::Result<ClusterStats, _> = serde_json::from_str(
            r#"{"k": 2, "d": 1, "counts": [1], "sums": [0.0, 1.0], "sq_norms": [0.0, 1.0]}"#,
        );
        assert!(bad.is_err());
    }
}
