//! Random forest integration tests on the tabular data sets.

mod common;

use faasml_ml::forest::{ForestParts, RandomForest};
use faasml_ml::metrics::{accuracy, confusion_matrix};
use faasml_ml::tree::{DecisionTree, LEAF, MaxFeatures};
use faasml_ml::{Matrix, MlError};

fn forest_accuracy(file: &str, seed: u64) -> f64 {
    let (x, y, k) = common::load(file);
    let (xtr, ytr, xte, yte) = common::split(&x, &y, 0.25, seed);
    let forest = RandomForest::params()
        .n_trees(100)
        .max_depth(10)
        .seed(seed)
        .check()
        .unwrap()
        .fit(xtr.view(), &ytr, k)
        .unwrap();
    assert_eq!(forest.n_trees(), 100);
    assert_eq!(forest.n_features(), x.cols());
    assert_eq!(forest.n_classes(), k);
    let pred = forest.predict_classes(xte.view()).unwrap();
    let yte = common::widen(&yte);
    let cm = confusion_matrix(&pred, &yte, k);
    assert_eq!(cm.iter().flatten().sum::<u64>() as usize, yte.len());
    accuracy(&pred, &yte)
}

#[test]
fn digits_accuracy() {
    let acc = forest_accuracy("digits8x8.csv", 42);
    println!("digits held-out accuracy {acc:.4}");
    assert!(acc >= 0.93, "digits accuracy {acc}");
}

#[test]
fn breast_cancer_accuracy() {
    let acc = forest_accuracy("breast_cancer.csv", 7);
    println!("breast cancer held-out accuracy {acc:.4}");
    assert!(acc >= 0.92, "breast cancer accuracy {acc}");
}

#[test]
fn iris_accuracy() {
    let acc = forest_accuracy("iris.csv", 3);
    println!("iris held-out accuracy {acc:.4}");
    assert!(acc >= 0.9, "iris accuracy {acc}");
}

#[test]
fn wine_accuracy() {
    let acc = forest_accuracy("wine.csv", 5);
    println!("wine held-out accuracy {acc:.4}");
    assert!(acc >= 0.9, "wine accuracy {acc}");
}

fn digits_forest(seed: u64) -> (RandomForest, Matrix) {
    let (x, y, k) = common::load("digits8x8.csv");
    let forest = RandomForest::params()
        .n_trees(20)
        .seed(seed)
        .check()
        .unwrap()
        .fit(x.view(), &y, k)
        .unwrap();
    (forest, x)
}

#[test]
fn same_seed_same_model() {
    let (a, x) = digits_forest(11);
    let (b, _) = digits_forest(11);
    assert_eq!(a, b);
    assert_eq!(
        a.predict_proba(x.view()).unwrap(),
        b.predict_proba(x.view()).unwrap()
    );
    let (c, _) = digits_forest(12);
    assert_ne!(a.to_parts(), c.to_parts());
}

#[test]
fn thread_count_does_not_change_results() {
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let (f, x) = digits_forest(5);
                let p = f.predict_proba(x.view()).unwrap();
                (f, p)
            })
    };
    let (f1, p1) = run(1);
    let (f2, p2) = run(2);
    let (f3, p3) = run(3);
    assert_eq!(f1, f2);
    assert_eq!(f1, f3);
    assert_eq!(p1, p2);
    assert_eq!(p1, p3);
}

#[test]
fn probabilities_are_distributions() {
    let (f, x) = digits_forest(1);
    let p = f.predict_proba(x.view()).unwrap();
    assert_eq!((p.rows(), p.cols()), (1797, 10));
    for i in 0..p.rows() {
        let s: f32 = p.row(i).iter().sum();
        assert!((s - 1.0).abs() < 1e-4, "row {i} sums to {s}");
    }
    let pred = f.predict_classes(x.view()).unwrap();
    for (i, &c) in pred.iter().enumerate() {
        let row = p.row(i);
        assert!(row.iter().all(|&v| v <= row[c as usize]));
    }
}

#[test]
fn parts_roundtrip_gives_identical_predictions() {
    let (f, x) = digits_forest(9);
    let parts = f.to_parts();
    assert_eq!(parts.tree_offsets.len(), f.n_trees() + 1);
    let g = RandomForest::from_parts(parts.clone()).unwrap();
    assert_eq!(f, g);
    assert_eq!(
        f.predict_proba(x.view()).unwrap(),
        g.predict_proba(x.view()).unwrap()
    );
    assert_eq!(g.to_parts(), parts);
}

fn first_internal(p: &ForestParts) -> usize {
    p.feature.iter().position(|&f| f != LEAF).unwrap()
}

#[test]
fn from_parts_rejects_corruption() {
    let (f, _) = digits_forest(9);
    let good = f.to_parts();
    let corrupt = |p: ForestParts, what: &str| match RandomForest::from_parts(p) {
        Err(MlError::CorruptModel(msg)) => println!("{what}: {msg}"),
        other => panic!("{what}: expected CorruptModel, got {other:?}"),
    };

    let mut p = good.clone();
    let i = first_internal(&p);
    p.left[i] = 1_000_000;
    corrupt(p, "child out of range");

    let mut p = good.clone();
    let i = first_internal(&p);
    p.right[i] = i as u32; // self loop (root of tree 0 is node 0)
    corrupt(p, "cycle");

    let mut p = good.clone();
    let i = first_internal(&p);
    p.feature[i] = 64;
    corrupt(p, "feature out of range");

    let mut p = good.clone();
    p.threshold.pop();
    corrupt(p, "truncated thresholds");

    let mut p = good.clone();
    p.values.truncate(p.values.len() - 3);
    corrupt(p, "truncated values");

    let mut p = good.clone();
    p.tree_offsets.pop();
    corrupt(p, "truncated offsets");

    let mut p = good.clone();
    p.feature.truncate(5);
    corrupt(p, "truncated features");

    let mut p = good.clone();
    p.values[0] = f32::NAN;
    corrupt(p, "nan probability");

    let mut p = good.clone();
    p.tree_offsets[1] = p.tree_offsets[0];
    corrupt(p, "empty tree");

    corrupt(ForestParts::default(), "empty parts");
}

#[test]
fn predict_checks_input() {
    let (f, _) = digits_forest(2);
    let wrong = Matrix::zeros(2, 63);
    assert!(matches!(
        f.predict_classes(wrong.view()),
        Err(MlError::ShapeMismatch { .. })
    ));
    let mut nan = Matrix::zeros(1, 64);
    nan.data_mut()[3] = f32::NAN;
    assert!(matches!(
        f.predict_classes(nan.view()),
        Err(MlError::Numerical(_))
    ));
    let empty = Matrix::zeros(0, 64);
    assert_eq!(f.predict_classes(empty.view()).unwrap(), Vec::<u32>::new());
}

#[test]
fn fit_checks_input() {
    let p = RandomForest::params().n_trees(2).check().unwrap();
    let x = Matrix::new(3, 1, vec![0., 1., 2.]).unwrap();
    assert!(matches!(
        p.fit(x.view(), &[0, 1], 2),
        Err(MlError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        p.fit(x.view(), &[0, 1, 5], 2),
        Err(MlError::LabelOutOfRange { .. })
    ));
    let nan = Matrix::new(3, 1, vec![0., f32::NAN, 2.]).unwrap();
    assert!(matches!(
        p.fit(nan.view(), &[0, 1, 1], 2),
        Err(MlError::Numerical(_))
    ));
}

#[test]
fn single_tree_forest_is_a_decision_tree() {
    let (x, y, k) = common::load("iris.csv");
    let forest = RandomForest::params()
        .n_trees(1)
        .bootstrap(false)
        .max_features(MaxFeatures::All)
        .max_depth(8)
        .min_samples_split(2)
        .check()
        .unwrap()
        .fit(x.view(), &y, k)
        .unwrap();
    let tree = DecisionTree::params()
        .max_depth(8)
        .check()
        .unwrap()
        .fit(x.view(), &y, k)
        .unwrap();
    assert_eq!(&forest.trees()[0], &tree);
    // A full-depth tree on iris fits the training data almost perfectly.
    assert!(accuracy(&tree.predict_classes(x.view()).unwrap(), &common::widen(&y)) >= 0.99);
}

#[test]
fn perfectly_separable_forest_is_pure() {
    let x = Matrix::new(6, 1, vec![0., 1., 2., 10., 11., 12.]).unwrap();
    let y = [0, 0, 0, 1, 1, 1];
    let f = RandomForest::params()
        .n_trees(1)
        .bootstrap(false)
        .min_samples_split(2)
        .check()
        .unwrap()
        .fit(x.view(), &y, 2)
        .unwrap();
    let p = f.predict_proba(x.view()).unwrap();
    for (i, &c) in y.iter().enumerate() {
        assert_eq!(p.row(i)[c as usize], 1.0);
    }
    assert_eq!(f.trees()[0].n_leaves(), 2);
}

/// Straightforward per-row reference: walk each tree with branches and sum
/// the leaf distributions in tree order, then scale (the documented order).
fn reference_proba(f: &RandomForest, x: &Matrix) -> Vec<f32> {
    let k = f.n_classes();
    let scale = 1.0 / f.n_trees() as f32;
    let mut out = vec![0f32; x.rows() * k];
    for (r, o) in out.chunks_exact_mut(k).enumerate() {
        let row = x.row(r);
        for t in f.trees() {
            let nodes = t.nodes();
            let mut i = 0usize;
            while nodes[i].feature != LEAF {
                let n = nodes[i];
                i = if row[n.feature as usize] <= n.threshold {
                    n.left as usize
                } else {
                    n.right as usize
                };
            }
            for (a, &v) in o.iter_mut().zip(&t.values()[i * k..(i + 1) * k]) {
                *a += v;
            }
        }
        o.iter_mut().for_each(|v| *v *= scale);
    }
    out
}

/// Rows whose values sit exactly on split thresholds (and at ±inf), plus
/// the original rows: every comparison edge case of the traversal.
fn edge_rows(f: &RandomForest, x: &Matrix) -> Matrix {
    let d = x.cols();
    let thresholds: Vec<Vec<f32>> = (0..d)
        .map(|j| {
            f.trees()
                .iter()
                .flat_map(|t| t.nodes())
                .filter(|n| n.feature as usize == j)
                .map(|n| n.threshold)
                .collect()
        })
        .collect();
    let mut data = x.data().to_vec();
    let mut s = 99u64;
    for r in 0..x.rows().min(301) {
        for (j, th) in thresholds.iter().enumerate() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            data.push(match (s % 7, th.is_empty()) {
                (0, _) => f32::INFINITY,
                (1, _) => f32::NEG_INFINITY,
                (_, false) => th[(s >> 8) as usize % th.len()],
                (_, true) => x.row(r)[j],
            });
        }
    }
    Matrix::new(data.len() / d, d, data).unwrap()
}

#[test]
fn fast_traversal_is_bit_identical_to_reference() {
    for (file, trees, depth, seed) in [
        ("digits8x8.csv", 30, 10, 3u64),
        ("iris.csv", 7, 3, 1),
        ("wine.csv", 13, 20, 9),
        ("breast_cancer.csv", 5, 1, 4),
    ] {
        let (x, y, k) = common::load(file);
        let f = RandomForest::params()
            .n_trees(trees)
            .max_depth(depth)
            .seed(seed)
            .check()
            .unwrap()
            .fit(x.view(), &y, k)
            .unwrap();
        let xe = edge_rows(&f, &x);
        for n in [0, 1, 15, 17, 257, xe.rows()] {
            let part = Matrix::new(n, xe.cols(), xe.data()[..n * xe.cols()].to_vec()).unwrap();
            let got = f.predict_proba(part.view()).unwrap();
            let want = reference_proba(&f, &part);
            assert!(
                got.data()
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{file}: {n} rows differ from the reference traversal"
            );
            let g = RandomForest::from_parts(f.to_parts()).unwrap();
            assert_eq!(g.predict_proba(part.view()).unwrap(), got);
        }
    }
}

#[test]
fn traversal_handles_any_stored_node_order() {
    // Children not adjacent and in reverse order, a leaf-only tree, and a
    // deep left spine: the derived layout must not depend on node order.
    let p = ForestParts {
        n_features: 2,
        n_classes: 3,
        tree_offsets: vec![0, 5, 6, 11],
        feature: vec![0, LEAF, 1, LEAF, LEAF, LEAF, 0, 0, LEAF, LEAF, LEAF],
        threshold: vec![0.5, 0., 0., 0., 0., 0., 2., 1., 0., 0., 0.],
        left: vec![2, 0, 4, 0, 0, 0, 2, 3, 0, 0, 0],
        right: vec![1, 0, 3, 0, 0, 0, 1, 4, 0, 0, 0],
        values: (0..33).map(|i| (i % 5) as f32 * 0.25).collect(),
    };
    let f = RandomForest::from_parts(p.clone()).unwrap();
    assert_eq!(f.to_parts(), p);
    let mut data = Vec::new();
    for a in [-1.0f32, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, f32::INFINITY] {
        for b in [-1.0f32, 0.0, 0.25, f32::NEG_INFINITY] {
            data.extend([a, b]);
        }
    }
    let x = Matrix::new(data.len() / 2, 2, data).unwrap();
    let got = f.predict_proba(x.view()).unwrap();
    assert_eq!(got.data(), &reference_proba(&f, &x)[..]);
}
