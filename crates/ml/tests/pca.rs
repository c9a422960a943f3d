//! PCA integration tests against scikit-learn reference values on iris.

mod common;

use faasml_ml::pca::{Pca, PcaModel};
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
