//! Synthetic classification data by the generative process of scikit-learn's
//! `make_classification` (Guyon's design for the NIPS 2003 variable selection
//! benchmark): Gaussian clusters at the vertices of a hypercube in the
//! informative subspace, linear combinations of them as redundant features,
//! pure noise as the rest, a fraction of labels flipped at random, then rows
//! and columns shuffled.
//!
//! The steps and their order follow scikit-learn's, so the same parameters
//! give data with the same structure (class balance, cluster geometry, noise
//! columns, label noise). The values differ: the random generator is a seeded
//! xoshiro256++ with Box-Muller normals, not NumPy's. `n_repeated` is not
//! supported (the stacking seed sets it to 0); a non-zero value is an error.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::{Dataset, Matrix, MlError, Result};

/// The parameters of [`make_classification`], scikit-learn's defaults except
/// where the stacking seed differs (see [`MakeClassification::stacking_seed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MakeClassification {
    /// Rows.
    pub n_samples: usize,
    /// Columns: informative, then redundant, then noise (before the shuffle).
    pub n_features: usize,
    /// Columns that carry the class structure.
    pub n_informative: usize,
    /// Random linear combinations of the informative columns.
    pub n_redundant: usize,
    /// Classes.
    pub n_classes: usize,
    /// Gaussian clusters per class.
    pub n_clusters_per_class: usize,
    /// Fraction of rows per class (before the label flips); `None`: balanced.
    pub weights: Option<Vec<f64>>,
    /// Fraction of labels replaced by a random class.
    pub flip_y: f64,
    /// Half the edge of the hypercube the cluster centres sit on.
    pub class_sep: f64,
    /// Added to every value.
    pub shift: f64,
    /// Every value is multiplied by it (after the shift).
    pub scale: f64,
    /// Whether rows and columns are shuffled.
    pub shuffle: bool,
    /// Seed of the generator.
    pub seed: u64,
}

impl Default for MakeClassification {
    /// scikit-learn's defaults: 100 x 20, 2 informative, 2 redundant, 2
    /// classes of 2 clusters, balanced, 1% flipped, class_sep 1, shuffled.
    fn default() -> Self {
        Self {
            n_samples: 100,
            n_features: 20,
            n_informative: 2,
            n_redundant: 2,
            n_classes: 2,
            n_clusters_per_class: 2,
            weights: None,
            flip_y: 0.01,
            class_sep: 1.0,
            shift: 0.0,
            scale: 1.0,
            shuffle: true,
            seed: 0,
        }
    }
}

impl MakeClassification {
    /// The stacking seed's data: 300 x 1024, 2 informative, no redundant,
    /// 2 clusters per class, weights [0.9, 0.1], 10% of labels flipped,
    /// seed 42.
    pub fn stacking_seed() -> Self {
        Self {
            n_samples: 300,
            n_features: 1024,
            n_informative: 2,
            n_redundant: 0,
            weights: Some(vec![0.9, 0.1]),
            flip_y: 0.1,
            seed: 42,
            ..Self::default()
        }
    }

    fn check(&self) -> Result<()> {
        let bad =
            |name: &'static str, reason: String| Err(MlError::InvalidParameter { name, reason });
        if self.n_samples == 0 {
            return bad("n_samples", "must be at least 1".into());
        }
        if self.n_classes < 2 || self.n_clusters_per_class == 0 {
            return bad(
                "n_classes",
                "needs at least 2 classes of at least 1 cluster".into(),
            );
        }
        if self.n_informative == 0 || self.n_informative > 64 {
            return bad("n_informative", "must be between 1 and 64".into());
        }
        if self.n_informative + self.n_redundant > self.n_features {
            return bad(
                "n_features",
                format!(
                    "{} is fewer than n_informative + n_redundant = {}",
                    self.n_features,
                    self.n_informative + self.n_redundant
                ),
            );
        }
        let clusters = self.n_classes * self.n_clusters_per_class;
        if (clusters as u128) > (1u128 << self.n_informative) {
            return bad(
                "n_informative",
                format!(
                    "2^{} hypercube vertices cannot hold {clusters} clusters",
                    self.n_informative
                ),
            );
        }
        if let Some(weights) = &self.weights
            && (weights.len() != self.n_classes
                || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)))
        {
            return bad(
                "weights",
                format!("needs {} non-negative fractions", self.n_classes),
            );
        }
        if !(0.0..=1.0).contains(&self.flip_y) {
            return bad("flip_y", "is a fraction between 0 and 1".into());
        }
        if !(self.class_sep.is_finite() && self.shift.is_finite() && self.scale.is_finite()) {
            return bad(
                "class_sep",
                "class_sep, shift and scale must be finite".into(),
            );
        }
        Ok(())
    }
}

/// Standard normal draws by Box-Muller, both of each pair used (the cosine, then the sine).
#[derive(Default)]
struct Normals {
    spare: Option<f64>,
}

impl Normals {
    fn next(&mut self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        let u1 = uniform(rng).max(f64::MIN_POSITIVE);
        let u2 = uniform(rng);
        let r = (-2.0 * u1.ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare = Some(r * sin);
        r * cos
    }
}

/// A uniform draw in [0, 1).
fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform index in 0..n.
fn below(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    ((uniform(rng) * n as f64) as usize).min(n.saturating_sub(1))
}

/// Fisher-Yates.
fn shuffle<T>(rng: &mut Xoshiro256PlusPlus, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, below(rng, i + 1));
    }
}

/// `clusters` distinct vertices of the `k`-dimensional unit hypercube, as numbers whose bits are
/// the coordinates (see [`make_classification`]).
fn hypercube_vertices(rng: &mut Xoshiro256PlusPlus, clusters: usize, k: usize) -> Vec<u64> {
    let population = if k >= 64 { u64::MAX } else { 1u64 << k };
    if (clusters as f64) / (population as f64) >= 0.2 {
        // Reservoir sampling; `check` caps k so that 2^k is small here (clusters >= 2^k / 5).
        let mut out: Vec<u64> = (0..clusters as u64).collect();
        for i in clusters as u64..population {
            let j = rng.next_u64() % (i + 1);
            if (j as usize) < clusters {
                out[j as usize] = i;
            }
        }
        out
    } else {
        let mask = population.wrapping_sub(1);
        let mut vertices: Vec<u64> = Vec::with_capacity(clusters);
        while vertices.len() < clusters {
            let v = rng.next_u64() & if k >= 64 { u64::MAX } else { mask };
            if !vertices.contains(&v) {
                vertices.push(v);
            }
        }
        vertices
    }
}

/// Generates the data `params` describe: a [`Dataset`] with class labels.
pub fn make_classification(params: &MakeClassification) -> Result<Dataset> {
    params.check()?;
    let p = params;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed);
    let (n, d, k) = (p.n_samples, p.n_features, p.n_informative);
    let clusters = p.n_classes * p.n_clusters_per_class;

    // Rows per cluster from the class weights; the remainder dealt round-robin.
    let weight = |class: usize| {
        p.weights
            .as_ref()
            .map_or(1.0 / p.n_classes as f64, |w| w[class])
    };
    let mut per_cluster: Vec<usize> = (0..clusters)
        .map(|c| (n as f64 * weight(c % p.n_classes) / p.n_clusters_per_class as f64) as usize)
        .collect();
    let assigned: usize = per_cluster.iter().sum();
    for i in 0..n.saturating_sub(assigned) {
        per_cluster[i % clusters] += 1;
    }

    // Distinct hypercube vertices as centres, scaled to +-class_sep, chosen as scikit-learn's
    // `sample_without_replacement` does: when the clusters take at least a fifth of the 2^k
    // vertices, reservoir sampling (vertices 0..clusters, later ones replacing them at
    // random), so that e.g. 4 clusters on a square are always vertices 0, 1, 2, 3 in that
    // order and the classes (cluster c is class c mod n_classes) sit on opposite edges rather
    // than on a random pairing; below a fifth, distinct random vertices.
    let vertices = hypercube_vertices(&mut rng, clusters, k);

    let mut normals = Normals::default();
    let mut x = vec![0.0f64; n * d];
    let mut y = vec![0u32; n];
    for row in 0..n {
        for col in 0..k {
            x[row * d + col] = normals.next(&mut rng);
        }
    }
    // Each cluster: a random linear map of its Gaussian block, moved to its centre.
    let mut start = 0;
    for (c, &vertex) in vertices.iter().enumerate() {
        let stop = (start + per_cluster[c]).min(n);
        let a: Vec<f64> = (0..k * k).map(|_| 2.0 * uniform(&mut rng) - 1.0).collect();
        for row in start..stop {
            y[row] = (c % p.n_classes) as u32;
            let z: Vec<f64> = x[row * d..row * d + k].to_vec();
            for j in 0..k {
                let mapped: f64 = (0..k).map(|i| z[i] * a[i * k + j]).sum();
                // Column j is bit k-1-j of the vertex number (scikit-learn's unpacking).
                let centre = if vertex >> (k - 1 - j) & 1 == 1 {
                    p.class_sep
                } else {
                    -p.class_sep
                };
                x[row * d + j] = mapped + centre;
            }
        }
        start = stop;
    }
    // Redundant columns: random linear combinations of the informative ones.
    if p.n_redundant > 0 {
        let r = p.n_redundant;
        let b: Vec<f64> = (0..k * r).map(|_| 2.0 * uniform(&mut rng) - 1.0).collect();
        for row in 0..n {
            for j in 0..r {
                let value: f64 = (0..k).map(|i| x[row * d + i] * b[i * r + j]).sum();
                x[row * d + k + j] = value;
            }
        }
    }
    // The rest is noise.
    for row in 0..n {
        for col in k + p.n_redundant..d {
            x[row * d + col] = normals.next(&mut rng);
        }
    }
    // Label noise: a fraction of rows get a random class (possibly their own).
    for label in y.iter_mut() {
        if uniform(&mut rng) < p.flip_y {
            *label = below(&mut rng, p.n_classes) as u32;
        }
    }
    for v in x.iter_mut() {
        *v = (*v + p.shift) * p.scale;
    }
    let (x, y) = if p.shuffle {
        let mut rows: Vec<usize> = (0..n).collect();
        shuffle(&mut rng, &mut rows);
        let mut cols: Vec<usize> = (0..d).collect();
        shuffle(&mut rng, &mut cols);
        let mut shuffled = Vec::with_capacity(n * d);
        for &r in &rows {
            shuffled.extend(cols.iter().map(|&c| x[r * d + c]));
        }
        (shuffled, rows.iter().map(|&r| y[r]).collect())
    } else {
        (x, y)
    };
    let records = Matrix::new(n, d, x.into_iter().map(|v| v as f32).collect())?;
    Dataset::classification(records, y, p.n_classes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Targets;

    fn labels(set: &Dataset) -> Vec<u32> {
        match set.targets() {
            Targets::Classes { labels, .. } => labels.clone(),
            other => panic!("class labels expected, got {}", other.kind()),
        }
    }

    #[test]
    fn the_stacking_seed_data_has_its_shape_balance_and_label_noise() {
        let set = make_classification(&MakeClassification::stacking_seed()).unwrap();
        assert_eq!((set.records().rows(), set.records().cols()), (300, 1024));
        let y = labels(&set);
        let positives = y.iter().filter(|&&l| l == 1).count();
        // 30 rows of class 1 before the flips; 10% of the 300 get a random class, half of them
        // class 1: about 30 + 13.5 - 1.5 = 42 (scikit-learn gives 41 for seed 42, 39..50 for
        // seeds 0..4).
        assert!((28..=58).contains(&positives), "{positives} positives");
        // Same seed, same data; another seed, other data.
        let again = make_classification(&MakeClassification::stacking_seed()).unwrap();
        assert_eq!(set.records().data(), again.records().data());
        let other = make_classification(&MakeClassification {
            seed: 7,
            ..MakeClassification::stacking_seed()
        })
        .unwrap();
        assert_ne!(set.records().data(), other.records().data());
    }

    #[test]
    fn informative_columns_separate_the_classes_and_noise_columns_do_not() {
        let params = MakeClassification {
            n_samples: 2000,
            n_features: 6,
            n_informative: 2,
            n_redundant: 1,
            flip_y: 0.0,
            shuffle: false,
            class_sep: 2.0,
            ..MakeClassification::default()
        };
        let set = make_classification(&params).unwrap();
        let y = labels(&set);
        let x = set.records();
        let column = |c: usize| {
            (0..x.rows())
                .map(|r| x.data()[r * x.cols() + c])
                .collect::<Vec<_>>()
        };
        // Balanced classes with no flips.
        assert_eq!(y.iter().filter(|&&l| l == 1).count(), 1000);
        // The best single threshold on an informative or redundant column beats chance by
        // far on some column; on a noise column it stays near chance.
        let best_split = |values: &[f32]| {
            let mut pairs: Vec<(f32, u32)> =
                values.iter().copied().zip(y.iter().copied()).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let total_pos = y.iter().filter(|&&l| l == 1).count() as f64;
            let n = y.len() as f64;
            let mut pos_below = 0.0;
            let mut best: f64 = 0.5;
            for (i, &(_, label)) in pairs.iter().enumerate() {
                pos_below += f64::from(label);
                let below = (i + 1) as f64;
                // Predict 0 below the threshold and 1 above, or the reverse.
                let correct = (below - pos_below) + (total_pos - pos_below);
                best = best.max(correct / n).max(1.0 - correct / n);
            }
            best
        };
        let informative = (0..3).map(|c| best_split(&column(c))).fold(0.0, f64::max);
        assert!(informative > 0.7, "{informative}");
        for c in 3..6 {
            let noise = best_split(&column(c));
            assert!(noise < 0.56, "noise column {c}: {noise}");
        }
        // Noise columns are standard normal.
        let noise = column(5);
        let mean = noise.iter().map(|&v| f64::from(v)).sum::<f64>() / noise.len() as f64;
        let var = noise
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / noise.len() as f64;
        assert!(
            mean.abs() < 0.1 && (var - 1.0).abs() < 0.1,
            "mean {mean} var {var}"
        );
    }

    #[test]
    fn impossible_parameters_are_errors() {
        for bad in [
            MakeClassification {
                n_samples: 0,
                ..Default::default()
            },
            MakeClassification {
                n_features: 3,
                ..Default::default()
            },
            MakeClassification {
                n_classes: 3,
                n_informative: 1,
                ..Default::default()
            },
            MakeClassification {
                weights: Some(vec![1.0]),
                ..Default::default()
            },
            MakeClassification {
                flip_y: 2.0,
                ..Default::default()
            },
        ] {
            assert!(make_classification(&bad).is_err(), "{bad:?}");
        }
    }
}
