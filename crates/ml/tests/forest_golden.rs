//! Golden-model test: fitted forests must stay bit-identical across
//! training-speed work. The expected hashes were computed with the tree
//! code of commit 2651585 (histogram / counting-sort / small-sort split
//! search); any change in a split, threshold, child index or class
//! distribution changes a hash. The cases cover all three split-search
//! paths, bootstrap on and off, several `max_features`, `n_bins` and depth
//! settings, tied (rounded) feature values and 3 to 40 classes.

mod common;

use faasml_ml::Matrix;
use faasml_ml::forest::{ForestParts, RandomForest};
use faasml_ml::tree::MaxFeatures;

/// FNV-1a over every array of the parts (floats by their bit patterns).
fn parts_hash(p: &ForestParts) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |v: u32| {
        for b in v.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(p.n_features);
    eat(p.n_classes);
    for a in [&p.tree_offsets, &p.feature, &p.left, &p.right] {
        eat(a.len() as u32);
        a.iter().for_each(|&v| eat(v));
    }
    for a in [&p.threshold, &p.values] {
        eat(a.len() as u32);
        a.iter().for_each(|&v| eat(v.to_bits()));
    }
    h
}

/// Gaussian blobs like the forest benchmark (xorshift64* + Box-Muller).
fn blobs(rows: usize, cols: usize, classes: usize, seed: u64) -> (Matrix, Vec<u8>) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut normal = || {
        let u1 = ((next() >> 11) as f64 / (1u64 << 53) as f64).max(1e-300);
        let u2 = (next() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    };
    let centers: Vec<f32> = (0..classes * cols).map(|_| normal() * 0.6).collect();
    let mut data = Vec::with_capacity(rows * cols);
    let mut y = Vec::with_capacity(rows);
    for r in 0..rows {
        let c = (r * 7 + r / 3) % classes;
        y.push(c as u8);
        for f in 0..cols {
            // Coarse rounding on some features gives ties and constant nodes.
            let v = centers[c * cols + f] + normal();
            data.push(if f % 3 == 0 { (v * 2.0).round() } else { v });
        }
    }
    (Matrix::new(rows, cols, data).unwrap(), y)
}

fn fit_hash(
    x: &Matrix,
    y: &[u8],
    k: usize,
    seed: u64,
    configure: impl Fn(faasml_ml::forest::RandomForestParams) -> faasml_ml::forest::RandomForestParams,
) -> u64 {
    let f = configure(RandomForest::params().n_trees(12).seed(seed))
        .check()
        .unwrap()
        .fit(x.view(), y, k)
        .unwrap();
    parts_hash(&f.to_parts())
}

#[test]
fn fitted_forests_are_bit_identical_to_reference() {
    let mut got = Vec::new();
    let (x, y, k) = common::load("digits8x8.csv");
    got.push(fit_hash(&x, &y, k, 42, |p| p));
    got.push(fit_hash(&x, &y, k, 1, |p| {
        p.max_depth(25)
            .min_samples_split(2)
            .max_features(MaxFeatures::Log2)
    }));
    let (x, y, k) = common::load("breast_cancer.csv");
    got.push(fit_hash(&x, &y, k, 7, |p| p.n_bins(32)));
    let (x, y, k) = common::load("wine.csv");
    got.push(fit_hash(&x, &y, k, 5, |p| {
        p.bootstrap(false).max_features(MaxFeatures::All)
    }));
    let (x, y) = blobs(3000, 24, 10, 3);
    got.push(fit_hash(&x, &y, 10, 9, |p| p));
    got.push(fit_hash(&x, &y, 10, 11, |p| {
        p.max_depth(14)
            .min_samples_split(3)
            .max_features(MaxFeatures::Fraction(0.5))
    }));
    let (x, y) = blobs(2000, 12, 3, 5);
    got.push(fit_hash(&x, &y, 3, 13, |p| p.max_depth(20).n_bins(64)));
    let (x, y) = blobs(1500, 8, 40, 8);
    got.push(fit_hash(&x, &y, 40, 17, |p| {
        p.max_depth(18).min_samples_split(2)
    }));
    let expected: [u64; 8] = [
        0xf8d4123e96da37c3,
        0xc840142bf4e9ad74,
        0xd9b618a1ea17ed52,
        0x714f3dfdc0edce18,
        0x756aca36c1de7a90,
        0x13bf3bd1c749ad9b,
        0xd6f571e09d12c716,
        0x1847e8e43f981154,
    ];
    assert_eq!(got, expected);
}
