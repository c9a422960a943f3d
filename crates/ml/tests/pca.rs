//! PCA integration tests: scikit-learn reference values (iris, MNIST), and
//! the top-k Krylov solver against the full eigendecomposition.

mod common;

use faasml_ml::pca::{EigenSolver, Pca, PcaModel};
use faasml_ml::{Matrix, MlError};

const SK_EV: [f64; 4] = [4.22824171, 0.24267075, 0.0782095, 0.02383509];
const SK_RATIO: [f64; 4] = [0.92461872, 0.05306648, 0.01710261, 0.00521218];

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-12)
}

#[test]
fn iris_matches_sklearn() {
    let (x, _, _) = common::load("iris.csv");
    assert_eq!((x.rows(), x.cols()), (150, 4));
    let model = Pca::params()
        .n_components(4)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    for i in 0..4 {
        let ev = model.explained_variance()[i] as f64;
        let r = model.explained_variance_ratio()[i] as f64;
        assert!(
            rel_close(ev, SK_EV[i], 1e-4),
            "ev[{i}] = {ev}, sklearn {}",
            SK_EV[i]
        );
        assert!(
            rel_close(r, SK_RATIO[i], 1e-4),
            "ratio[{i}] = {r}, sklearn {}",
            SK_RATIO[i]
        );
    }
    let sum: f32 = model.explained_variance_ratio().iter().sum();
    assert!((sum - 1.0).abs() < 1e-5, "ratios sum to {sum}");
}

#[test]
fn components_orthonormal_and_transform_variance() {
    let (x, _, _) = common::load("iris.csv");
    let model = Pca::params()
        .n_components(3)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    assert_eq!(model.n_components(), 3);
    assert_eq!(model.n_features(), 4);
    let c = model.components();
    for i in 0..3 {
        for j in 0..3 {
            let dot: f32 = c.row(i).iter().zip(c.row(j)).map(|(a, b)| a * b).sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-5, "<c{i}, c{j}> = {dot}");
        }
        // deterministic sign: largest-magnitude entry is positive
        let maxabs = c
            .row(i)
            .iter()
            .copied()
            .fold(0f32, |m, v| if v.abs() > m.abs() { v } else { m });
        assert!(maxabs > 0.0);
    }
    let z = model.transform(x.view()).unwrap();
    assert_eq!((z.rows(), z.cols()), (150, 3));
    for (j, &want) in SK_EV.iter().enumerate().take(3) {
        let col: Vec<f64> = (0..150).map(|i| z.row(i)[j] as f64).collect();
        let mean = col.iter().sum::<f64>() / 150.0;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 149.0;
        assert!(mean.abs() < 1e-5, "column {j} mean {mean}");
        assert!(rel_close(var, want, 1e-4), "column {j} var {var}");
    }
}

#[test]
fn rejects_bad_k_and_tiny_input() {
    let (x, _, _) = common::load("iris.csv");
    assert!(Pca::params().n_components(0).check().is_err());
    let p5 = Pca::params().n_components(5).check().unwrap();
    assert!(matches!(
        p5.fit(x.view()),
        Err(MlError::InvalidParameter { .. })
    ));
    let one = Matrix::new(1, 4, vec![1., 2., 3., 4.]).unwrap();
    let p1 = Pca::params().n_components(1).check().unwrap();
    assert!(p1.fit(one.view()).is_err());
    let nan = Matrix::new(2, 2, vec![1., f32::NAN, 3., 4.]).unwrap();
    assert!(matches!(p1.fit(nan.view()), Err(MlError::Numerical(_))));
    let model = p1.fit(x.view()).unwrap();
    let wrong = Matrix::zeros(3, 5);
    assert!(matches!(
        model.transform(wrong.view()),
        Err(MlError::ShapeMismatch { .. })
    ));
}

#[test]
fn from_parts_roundtrip_and_validation() {
    let (x, _, _) = common::load("iris.csv");
    let model = Pca::params()
        .n_components(2)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    let rebuilt = PcaModel::from_parts_with_ratio(
        model.mean().to_vec(),
        model.components().clone(),
        model.explained_variance().to_vec(),
        model.explained_variance_ratio().to_vec(),
    )
    .unwrap();
    assert_eq!(rebuilt, model);
    let again = PcaModel::from_parts(
        model.mean().to_vec(),
        model.components().clone(),
        model.explained_variance().to_vec(),
    )
    .unwrap();
    assert_eq!(
        again.transform(x.view()).unwrap(),
        model.transform(x.view()).unwrap()
    );

    let bad_mean = PcaModel::from_parts(vec![0.0; 3], model.components().clone(), vec![1.0, 0.5]);
    assert!(matches!(bad_mean, Err(MlError::CorruptModel(_))));
    let bad_ev = PcaModel::from_parts(model.mean().to_vec(), model.components().clone(), vec![1.0]);
    assert!(matches!(bad_ev, Err(MlError::CorruptModel(_))));
    let nan = Matrix::new(2, 4, vec![f32::NAN; 8]).unwrap();
    assert!(matches!(
        PcaModel::from_parts(model.mean().to_vec(), nan, vec![1.0, 0.5]),
        Err(MlError::CorruptModel(_))
    ));
}

#[test]
fn larger_random_matrix_is_consistent() {
    // 500 x 30 pseudo-random data: ratios of all components sum to 1 and
    // eigenvalues are descending.
    let mut s = 12345u64;
    let data: Vec<f32> = (0..500 * 30)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 1000) as f32 / 1000.0 + (i % 30) as f32 * 0.01 * ((i / 30) % 7) as f32
        })
        .collect();
    let x = Matrix::new(500, 30, data).unwrap();
    let m = Pca::params()
        .n_components(30)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    let ev = m.explained_variance();
    assert!(ev.windows(2).all(|w| w[0] >= w[1]));
    let sum: f32 = m.explained_variance_ratio().iter().sum();
    assert!((sum - 1.0).abs() < 1e-4);
}

/// The first `rows` MNIST training images scaled to [0, 1].
fn mnist(rows: usize) -> Matrix {
    let set = faasml_datasets::bundled::load("mnist-10k").expect("bundled MNIST");
    let data = set.pixels[..rows * 784]
        .iter()
        .map(|&p| p as f32 / 255.0)
        .collect();
    Matrix::new(rows, 784, data).unwrap()
}

fn fit(x: &Matrix, k: usize, solver: EigenSolver) -> PcaModel {
    Pca::params()
        .n_components(k)
        .solver(solver)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// Krylov and full results agree: eigenvalues to 1e-6 relative, each
/// component to |dot| > 1 - 1e-6 (or, within `groups` of near-equal
/// eigenvalues, each full component lies in the span of the Krylov ones).
fn assert_same(a: &PcaModel, b: &PcaModel, groups: &[std::ops::Range<usize>]) {
    assert_eq!(a.mean(), b.mean());
    for (i, (&x, &y)) in a
        .explained_variance()
        .iter()
        .zip(b.explained_variance())
        .enumerate()
    {
        assert!(rel_close(x as f64, y as f64, 1e-6), "ev[{i}]: {x} vs {y}");
    }
    let (ca, cb) = (a.components(), b.components());
    for g in groups {
        for i in g.clone() {
            let proj: f64 = g.clone().map(|j| dot(cb.row(i), ca.row(j)).powi(2)).sum();
            assert!(proj > 1.0 - 1e-6, "component {i}: projection {proj}");
            if g.len() == 1 {
                assert!(dot(cb.row(i), ca.row(i)) > 1.0 - 1e-6, "component {i} sign");
            }
        }
    }
}

#[test]
fn mnist_krylov_matches_full_decomposition() {
    let x = mnist(1000);
    let fast = fit(&x, 10, EigenSolver::Krylov);
    let full = fit(&x, 10, EigenSolver::Full);
    assert_eq!(fit(&x, 10, EigenSolver::Auto), fast);
    let singles: Vec<_> = (0..10).map(|i| i..i + 1).collect();
    assert_same(&fast, &full, &singles);
    assert_eq!(
        fast.explained_variance_ratio().len(),
        full.explained_variance_ratio().len()
    );
    for (a, b) in fast
        .explained_variance_ratio()
        .iter()
        .zip(full.explained_variance_ratio())
    {
        assert!(rel_close(*a as f64, *b as f64, 1e-6));
    }
}

#[test]
fn mnist_reference_explained_variance_and_k50() {
    // scikit-learn 1.9.1 on this machine, every svd_solver ("full",
    // "arpack", "auto", f32 or f64 input):
    //   PCA(50).fit(first 10000 MNIST train images / 255)
    //       .explained_variance_.sum() == 43.69695
    // (numpy's f64 eigvalsh of the covariance agrees: 43.6969549). The value
    // 43.84 quoted earlier does not reproduce for this subset.
    let x = mnist(10_000);
    let fast = fit(&x, 50, EigenSolver::Auto);
    let full = fit(&x, 50, EigenSolver::Full);
    for m in [&fast, &full] {
        let sum: f64 = m.explained_variance().iter().map(|&v| v as f64).sum();
        assert!(
            (sum - 43.69695).abs() <= 1e-3,
            "sum of explained variance {sum}"
        );
    }
    let singles: Vec<_> = (0..50).map(|i| i..i + 1).collect();
    assert_same(&fast, &full, &singles);
}

#[test]
fn repeated_eigenvalues_found_by_krylov() {
    // Rows ±s_j·q_j for orthonormal q_j: the covariance has eigenvalue
    // 2 s_j² / (n - 1) on q_j, so equal s_j give repeated eigenvalues
    // (up to f32 rounding of the data).
    let (d, r) = (200usize, 40usize);
    let mut s = 777u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % 2001) as f64 / 1000.0 - 1.0
    };
    let mut q: Vec<Vec<f64>> = Vec::new();
    while q.len() < r {
        let mut v: Vec<f64> = (0..d).map(|_| next()).collect();
        for _ in 0..2 {
            for u in &q {
                let a: f64 = u.iter().zip(&v).map(|(x, y)| x * y).sum();
                v.iter_mut().zip(u).for_each(|(x, y)| *x -= a * y);
            }
        }
        let n: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        q.push(v.iter().map(|x| x / n).collect());
    }
    let mut scale = vec![5.0, 5.0, 5.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 2.0];
    scale.extend((0..r - 10).map(|i| 1.5 / (1.0 + i as f64 * 0.05)));
    let mut data = Vec::new();
    for (u, &sj) in q.iter().zip(&scale) {
        for sign in [1.0, -1.0] {
            data.extend(u.iter().map(|&x| (sign * sj * x) as f32));
        }
    }
    let x = Matrix::new(2 * r, d, data).unwrap();
    let fast = fit(&x, 10, EigenSolver::Krylov);
    let full = fit(&x, 10, EigenSolver::Full);
    let ev = fast.explained_variance();
    let want = 2.0 * 25.0 / (2 * r - 1) as f64;
    assert!(rel_close(ev[2] as f64, want, 1e-5), "{ev:?}");
    assert_same(&fast, &full, &[0..3, 3..5, 5..9, 9..10]);
}

#[test]
fn pca_is_thread_count_independent() {
    let x = mnist(3000);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                (
                    fit(&x, 10, EigenSolver::Auto),
                    fit(&x, 3, EigenSolver::Full),
                )
            })
    };
    let one = run(1);
    assert_eq!(run(2), one);
    assert_eq!(run(3), one);
}
