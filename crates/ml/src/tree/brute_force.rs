//! Each split criterion against a brute-force split search.
//!
//! On small random data (few distinct values per feature, so the 256 bins
//! hold every distinct value and the candidate thresholds are exactly the
//! midpoints between consecutive distinct values), the search below
//! enumerates every feature and every threshold, computes the criterion
//! exactly in `f64` from its textbook definition (weighted impurities, not
//! the proxies the grower uses) and keeps the best. The root split the
//! grower chose must reach that best value; ties may pick another
//! (feature, threshold) of equal value. Weights (bootstrap multiplicities)
//! and the leaf-size limits are exercised too.

use super::classifier::grow_classes;
use super::gradient::leaf_output;
use super::grow::tree_rng;
use super::hyperparams::{DecisionTreeParams, DecisionTreeRegressorParams, GradientTreeParams};
use super::regressor::grow_regression;
use super::{LEAF, MaxFeatures, TreeNodes};
use crate::Matrix;
use crate::binning::FeatureBinner;

/// xorshift64 for test data.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n x d` features on a grid of `levels` values per feature (ties).
fn features(g: &mut Gen, n: usize, d: usize, levels: u64) -> Matrix {
    let data = (0..n * d)
        .map(|_| g.below(levels) as f32 * 0.25 - 3.0)
        .collect();
    Matrix::new(n, d, data).unwrap()
}

/// Every candidate split: `(feature, threshold, left mask)`, thresholds at
/// the midpoints between consecutive distinct values of the rows in use.
fn candidates(x: &Matrix, used: &[bool]) -> Vec<(usize, f32, Vec<bool>)> {
    let mut out = Vec::new();
    for f in 0..x.cols() {
        let mut vals: Vec<f32> = (0..x.rows())
            .filter(|&r| used[r])
            .map(|r| x.row(r)[f])
            .collect();
        vals.sort_by(f32::total_cmp);
        vals.dedup();
        for w in vals.windows(2) {
            let t = w[0] + (w[1] - w[0]) * 0.5;
            let left = (0..x.rows()).map(|r| x.row(r)[f] <= t).collect();
            out.push((f, t, left));
        }
    }
    out
}

/// The rows the root split sends left.
fn root_left(tree: &TreeNodes, x: &Matrix) -> Vec<bool> {
    let root = tree.nodes[0];
    (0..x.rows())
        .map(|r| x.row(r)[root.feature as usize] <= root.threshold)
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

/// Weighted Gini impurity decrease of a split, from class counts.
fn gini_decrease(y: &[u32], w: &[u32], k: usize, left: &[bool]) -> f64 {
    let gini = |side: Option<bool>| {
        let mut c = vec![0f64; k];
        let mut total = 0f64;
        for r in 0..y.len() {
            if side.is_none_or(|s| left[r] == s) {
                c[y[r] as usize] += w[r] as f64;
                total += w[r] as f64;
            }
        }
        let imp = if total > 0.0 {
            1.0 - c.iter().map(|v| (v / total).powi(2)).sum::<f64>()
        } else {
            0.0
        };
        (imp, total)
    };
    let (all, n) = gini(None);
    let (l, nl) = gini(Some(true));
    let (r, nr) = gini(Some(false));
    all - nl / n * l - nr / n * r
}

#[test]
fn gini_root_split_is_the_best_split() {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    // 20 rows: sorted small-node path; 120: counting sort; 700: histogram.
    for (case, n) in [20usize, 120, 700].into_iter().cycle().take(30).enumerate() {
        let (d, k) = (4, 3);
        let x = features(&mut g, n, d, 12);
        let y: Vec<u32> = (0..n)
            .map(|r| ((x.row(r)[case % d] > 0.0) as u64 * 2 + g.below(2)) as u32 % k as u32)
            .collect();
        let counts: Vec<u32> = (0..n).map(|_| g.below(4) as u32).collect();
        let used: Vec<bool> = counts.iter().map(|&c| c > 0).collect();
        let cfg = DecisionTreeParams::default()
            .max_depth(1)
            .max_features(MaxFeatures::All)
            .check()
            .unwrap()
            .0;
        let binner = FeatureBinner::fit(x.view(), 256).unwrap();
        let binned = binner.transform(x.view()).unwrap();
        let tree = grow_classes(
            &binned,
            &binner,
            &y,
            Some(&counts),
            k,
            &cfg,
            &mut tree_rng(0, 0),
        );
        let best = candidates(&x, &used)
            .iter()
            .map(|(_, _, left)| gini_decrease(&y, &counts, k, left))
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(tree.nodes[0].feature != LEAF, "case {case}: no split");
        let got = gini_decrease(&y, &counts, k, &root_left(&tree, &x));
        assert!(
            close(got, best),
            "case {case} (n {n}): got {got}, best {best}"
        );
    }
}

/// Weighted sum of squared errors of the rows `side` selects.
fn sse(y: &[f32], w: &[u32], keep: impl Fn(usize) -> bool) -> f64 {
    let (mut sw, mut s) = (0f64, 0f64);
    for r in (0..y.len()).filter(|&r| keep(r)) {
        sw += w[r] as f64;
        s += w[r] as f64 * y[r] as f64;
    }
    if sw == 0.0 {
        return 0.0;
    }
    let mean = s / sw;
    (0..y.len())
        .filter(|&r| keep(r))
        .map(|r| w[r] as f64 * (y[r] as f64 - mean).powi(2))
        .sum()
}

#[test]
fn variance_root_split_is_the_best_split() {
    let mut g = Gen(0xD1B5_4A32_D192_ED03);
    for case in 0..30 {
        let (n, d) = (30 + case * 7, 3);
        let msl = [1, 2, 5][case % 3];
        let mut x = features(&mut g, n, d, 15);
        let mut y: Vec<f32> = (0..n)
            .map(|r| (x.row(r)[0] * 2.0 - x.row(r)[1]) + g.unit() as f32 * 3.0)
            .collect();
        let mut counts: Vec<u32> = (0..n).map(|_| g.below(3) as u32).collect();
        // Outliers alone at the top and the bottom of feature 0: the best
        // splits without leaf limits isolate one of them (on either side),
        // so `min_samples_leaf` > 1 must bind.
        x.data_mut()[0] = 100.0;
        x.data_mut()[d] = -100.0;
        (y[0], y[1]) = (1000.0, -900.0);
        (counts[0], counts[1]) = (1, 1);
        let used: Vec<bool> = counts.iter().map(|&c| c > 0).collect();
        let cfg = DecisionTreeRegressorParams::default()
            .max_depth(1)
            .min_samples_leaf(msl)
            .check()
            .unwrap()
            .0;
        let binner = FeatureBinner::fit(x.view(), 256).unwrap();
        let binned = binner.transform(x.view()).unwrap();
        let tree = grow_regression(
            &binned,
            &binner,
            &y,
            Some(&counts),
            &cfg,
            &mut tree_rng(0, 0),
        );
        let total = sse(&y, &counts, |r| used[r]);
        let decrease = |left: &[bool]| {
            total
                - sse(&y, &counts, |r| used[r] && left[r])
                - sse(&y, &counts, |r| used[r] && !left[r])
        };
        let distinct =
            |left: &[bool], side: bool| (0..n).filter(|&r| used[r] && left[r] == side).count();
        let best = candidates(&x, &used)
            .iter()
            .filter(|(_, _, l)| distinct(l, true) >= msl && distinct(l, false) >= msl)
            .map(|(_, _, l)| decrease(l))
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(tree.nodes[0].feature != LEAF, "case {case}: no split");
        let left = root_left(&tree, &x);
        assert!(distinct(&left, true) >= msl && distinct(&left, false) >= msl);
        let got = decrease(&left);
        assert!(close(got, best), "case {case}: got {got}, best {best}");
        // Each leaf holds the weighted mean of its targets.
        for (node, side) in [(tree.nodes[0].left, true), (tree.nodes[0].right, false)] {
            let (mut sw, mut s) = (0f64, 0f64);
            for r in (0..n).filter(|&r| used[r] && left[r] == side) {
                sw += counts[r] as f64;
                s += counts[r] as f64 * y[r] as f64;
            }
            let v = tree.values[node as usize] as f64;
            assert!((v - s / sw).abs() <= 1e-5 * (s / sw).abs().max(1.0));
        }
    }
}

#[test]
fn gradient_root_split_is_the_best_split() {
    let mut g = Gen(0x2545_F491_4F6C_DD1D);
    for case in 0..30 {
        let (n, d) = (40 + case * 9, 3);
        let p = GradientTreeParams::default()
            .max_depth(1)
            .min_data_in_leaf([1, 3, 10][case % 3])
            .min_sum_hessian_in_leaf([1e-3, 0.5, 2.0][(case / 9) % 3])
            .lambda([0.0, 1.0, 0.3][(case / 3) % 3]);
        let mut x = features(&mut g, n, d, 20);
        let mut grad: Vec<f32> = (0..n)
            .map(|r| x.row(r)[case % d] + (g.unit() as f32 - 0.5))
            .collect();
        let mut hess: Vec<f32> = (0..n).map(|_| 0.05 + g.unit() as f32).collect();
        // Outliers with light hessians alone at the top and the bottom of
        // feature 0: without leaf limits the best splits isolate one of
        // them (on either side), so `min_data_in_leaf` and
        // `min_sum_hessian_in_leaf` must bind.
        x.data_mut()[0] = 100.0;
        x.data_mut()[d] = -100.0;
        (grad[0], grad[1]) = (1000.0, -900.0);
        (hess[0], hess[1]) = (0.1, 0.1);
        let binner = FeatureBinner::fit(x.view(), 256).unwrap();
        let binned = binner.transform(x.view()).unwrap();
        let tree = p
            .clone()
            .check()
            .unwrap()
            .grow(&binned, &binner, &grad, &hess)
            .unwrap();
        let sums = |keep: &dyn Fn(usize) -> bool| {
            let (mut gs, mut hs, mut c) = (0f64, 0f64, 0usize);
            for r in (0..n).filter(|&r| keep(r)) {
                gs += grad[r] as f64;
                hs += hess[r] as f64;
                c += 1;
            }
            (gs, hs, c)
        };
        let (gt, ht, _) = sums(&|_| true);
        let gain = |left: &[bool]| -> Option<f64> {
            let (gl, hl, nl) = sums(&|r| left[r]);
            let (gr, hr, nr) = sums(&|r| !left[r]);
            let ok = nl >= p.min_data_in_leaf
                && nr >= p.min_data_in_leaf
                && hl >= p.min_sum_hessian_in_leaf
                && hr >= p.min_sum_hessian_in_leaf;
            ok.then(|| {
                gl * gl / (hl + p.lambda) + gr * gr / (hr + p.lambda) - gt * gt / (ht + p.lambda)
            })
        };
        let used = vec![true; n];
        let best = candidates(&x, &used)
            .iter()
            .filter_map(|(_, _, l)| gain(l))
            .fold(f64::NEG_INFINITY, f64::max);
        let root = tree.0.nodes[0];
        if best > p.min_gain_to_split {
            assert!(
                root.feature != LEAF,
                "case {case}: no split, best gain {best}"
            );
            let left = root_left(&tree.0, &x);
            let got = gain(&left).expect("the chosen split is admissible");
            assert!(close(got, best), "case {case}: got {got}, best {best}");
            // Each leaf holds -G / (H + lambda) of its rows.
            for (node, side) in [(root.left, true), (root.right, false)] {
                let (gs, hs, c) = sums(&|r| left[r] == side);
                let want =
                    leaf_output(&super::gradient::GradStats { g: gs, h: hs, n: c }, p.lambda);
                let v = tree.0.values[node as usize] as f64;
                assert!(
                    (v - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "case {case}"
                );
            }
        } else {
            assert_eq!(root.feature, LEAF, "case {case}: split without gain");
        }
    }
}

#[test]
fn gradient_tree_respects_min_gain_and_checks_input() {
    let x = Matrix::new(4, 1, vec![0., 1., 2., 3.]).unwrap();
    let binner = FeatureBinner::fit(x.view(), 256).unwrap();
    let binned = binner.transform(x.view()).unwrap();
    let (grad, hess) = ([1.0, 1.0, -1.0, -1.0], [1.0; 4]);
    let p = GradientTreeParams::default().min_data_in_leaf(1);
    // Gain of the middle split: 2²/2 + 2²/2 - 0 = 4.
    let split = p
        .clone()
        .check()
        .unwrap()
        .grow(&binned, &binner, &grad, &hess)
        .unwrap();
    assert_eq!(split.nodes()[0].feature, 0);
    assert_eq!(split.nodes()[0].threshold, 1.5);
    assert_eq!(
        split.predict_values(x.view()).unwrap(),
        [-1.0, -1.0, 1.0, 1.0]
    );
    let none = p.clone().min_gain_to_split(4.0).check().unwrap();
    assert_eq!(
        none.grow(&binned, &binner, &grad, &hess)
            .unwrap()
            .n_leaves(),
        1
    );
    let ok = p.check().unwrap();
    assert!(ok.grow(&binned, &binner, &grad[..3], &hess).is_err());
    assert!(
        ok.grow(&binned, &binner, &grad, &[1.0, -1.0, 1.0, 1.0])
            .is_err()
    );
    assert!(
        ok.grow(&binned, &binner, &[f32::NAN, 0., 0., 0.], &hess)
            .is_err()
    );
    assert!(
        GradientTreeParams::default()
            .lambda(0.0)
            .min_sum_hessian_in_leaf(0.0)
            .check()
            .is_err()
    );
}
