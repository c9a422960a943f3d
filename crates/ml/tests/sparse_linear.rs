//! Logistic regression and the linear SVC fitted on compressed sparse rows agree with the
//! same models fitted on the densified matrix (same solver, same seed), predict the same,
//! and reject malformed sparse input with typed errors; multinomial logistic regression
//! (dense and sparse) matches scikit-learn on iris.

mod common;

use faasml_ml::linear::{LinearSvc, LogisticRegression, LogisticSolver};
use faasml_ml::{CsrMatrix, Dataset, Fit, MlError, Persist, Predict};

/// A deterministic 64-bit generator (splitmix64), enough for test data.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A `200 x 50` matrix of about 10% density (values are small counts or reals in
/// `[0.5, 3)`), with labels from `n_classes` random linear functions plus noise (argmax, or
/// its sign for two classes).
fn sparse_problem(n_classes: usize, seed: u64) -> (CsrMatrix, Vec<u32>) {
    let (n, d) = (200, 50);
    let mut g = Gen(seed);
    let m = if n_classes == 2 { 1 } else { n_classes };
    let w: Vec<f64> = (0..m * d).map(|_| g.unit() * 2.0 - 1.0).collect();
    let mut x = CsrMatrix::empty(d);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let mut row = Vec::new();
        for j in 0..d as u32 {
            if g.unit() < 0.1 {
                let v = if g.unit() < 0.5 {
                    (1 + g.next() % 3) as f32
                } else {
                    (0.5 + 2.5 * g.unit()) as f32
                };
                row.push((j, v));
            }
        }
        let scores: Vec<f64> = (0..m)
            .map(|k| {
                row.iter()
                    .map(|&(j, v)| f64::from(v) * w[k * d + j as usize])
                    .sum::<f64>()
                    + 0.5 * (g.unit() - 0.5)
            })
            .collect();
        let label = if m == 1 {
            u32::from(scores[0] > 0.0)
        } else {
            let mut best = 0;
            for (k, &s) in scores.iter().enumerate() {
                if s > scores[best] {
                    best = k;
                }
            }
            best as u32
        };
        y.push(label);
        x.push_row(&row).unwrap();
    }
    (x, y)
}

/// Largest `|a - b|` over the entries, divided by the largest `|b|`.
fn rel_diff(a: &[f32], b: &[f32]) -> f64 {
    let scale = b.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    let diff = a.iter().zip(b).fold(0f64, |m, (&p, &q)| {
        m.max((f64::from(p) - f64::from(q)).abs())
    });
    diff / scale
}

#[test]
fn logistic_regression_fits_sparse_rows_as_it_fits_dense_ones() {
    let (x, y) = sparse_problem(2, 7);
    assert!((900..1100).contains(&x.nnz()), "nnz {}", x.nnz());
    let positives = y.iter().filter(|&&l| l == 1).count();
    assert!((60..140).contains(&positives), "{positives} positives");
    let data = Dataset::classification(x.to_dense(), y.clone(), 2).unwrap();
    for solver in [
        LogisticSolver::Auto,
        LogisticSolver::Newton,
        LogisticSolver::Lbfgs,
    ] {
        let params = LogisticRegression::params().solver(solver).check().unwrap();
        let dense = params.fit(&data).unwrap();
        let sparse = params.fit_sparse(&x, &y, 2).unwrap();
        let err = rel_diff(sparse.coef(), dense.coef());
        assert!(err <= 1e-5, "{solver:?}: coef rel diff {err:.2e}");
        let b_err = (sparse.intercept() - dense.intercept()).abs();
        assert!(
            f64::from(b_err) <= 1e-5 * f64::from(dense.intercept().abs().max(1.0)),
            "{solver:?}: intercept {} vs {}",
            sparse.intercept(),
            dense.intercept()
        );
        assert_eq!(sparse.n_iter(), dense.n_iter(), "{solver:?}");

        // The optimum of sum log-loss + ||w||²/2 (C = 1): the gradient
        // sum (p_i - y_i) x_i + w vanishes, up to the f32 rounding of the
        // stored coefficients.
        let p = sparse.predict_positive_sparse(&x).unwrap();
        let mut grad: Vec<f64> = sparse.coef().iter().map(|&w| f64::from(w)).collect();
        let mut grad_b = 0.0;
        for (i, (&pi, &yi)) in p.iter().zip(&y).enumerate() {
            let r = pi - f64::from(yi);
            x.row(i).axpy_f64(r, &mut grad);
            grad_b += r;
        }
        let worst = grad.iter().fold(grad_b.abs(), |m, g| m.max(g.abs()));
        assert!(worst < 1e-3, "{solver:?}: gradient entry {worst:.2e}");

        // Both models predict the same on either form of the records.
        let on_dense = dense.predict(data.view()).unwrap();
        assert_eq!(
            on_dense.classes(),
            sparse.predict_sparse(&x).unwrap().classes()
        );
        assert_eq!(
            on_dense.classes(),
            sparse.predict(data.view()).unwrap().classes()
        );
        assert_eq!(dense.predict_sparse(&x).unwrap(), on_dense);
        assert_eq!(
            dense.decision_function_sparse(&x).unwrap(),
            dense.decision_function(data.view()).unwrap()
        );
        let accuracy =
            faasml_ml::metrics::accuracy(&on_dense.classes().unwrap(), data.labels().unwrap());
        assert!(accuracy > 0.85, "{solver:?}: train accuracy {accuracy}");
    }
}

#[test]
fn linear_svc_fits_sparse_rows_as_it_fits_dense_ones() {
    for n_classes in [2, 3] {
        let (x, y) = sparse_problem(n_classes, 11 + n_classes as u64);
        for c in 0..n_classes as u32 {
            let count = y.iter().filter(|&&l| l == c).count();
            assert!(count >= 30, "class {c} has {count} rows");
        }
        let data = Dataset::classification(x.to_dense(), y.clone(), n_classes).unwrap();
        let params = LinearSvc::params().check().unwrap();
        let dense = params.fit(&data).unwrap();
        let sparse = params.fit_sparse(&x, &y, n_classes).unwrap();
        assert_eq!(sparse.n_functions(), if n_classes == 2 { 1 } else { 3 });
        assert_eq!(sparse.n_classes(), n_classes);
        let err = rel_diff(sparse.coef(), dense.coef());
        assert!(err <= 1e-5, "{n_classes} classes: coef rel diff {err:.2e}");
        let b_err = rel_diff(sparse.intercept(), dense.intercept());
        assert!(
            b_err <= 1e-5,
            "{n_classes} classes: intercept rel diff {b_err:.2e}"
        );
        assert_eq!(sparse.n_iter(), dense.n_iter());

        let on_dense = dense.predict(data.view()).unwrap();
        assert_eq!(sparse.predict_sparse(&x).unwrap(), on_dense);
        assert_eq!(dense.predict_sparse(&x).unwrap(), on_dense);
        assert_eq!(
            sparse.predict_classes_sparse(&x).unwrap(),
            on_dense.classes().unwrap()
        );
        assert_eq!(
            dense.decision_function_sparse(&x).unwrap(),
            dense.decision_function(data.view()).unwrap()
        );
        let accuracy =
            faasml_ml::metrics::accuracy(&on_dense.classes().unwrap(), data.labels().unwrap());
        assert!(
            accuracy > 0.8,
            "{n_classes} classes: train accuracy {accuracy}"
        );
    }
}

#[test]
fn malformed_sparse_input_is_a_typed_error() {
    let (x, y) = sparse_problem(2, 3);
    let lr = LogisticRegression::params().check().unwrap();
    let svc = LinearSvc::params().check().unwrap();
    assert!(matches!(
        lr.fit_sparse(&x, &y[..10], 2),
        Err(MlError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        svc.fit_sparse(&x, &y[..10], 2),
        Err(MlError::ShapeMismatch { .. })
    ));
    let mut bad = y.clone();
    bad[5] = 2;
    assert!(matches!(
        lr.fit_sparse(&x, &bad, 2),
        Err(MlError::LabelOutOfRange {
            label: 2,
            row: 5,
            ..
        })
    ));
    assert!(matches!(
        svc.fit_sparse(&x, &bad, 2),
        Err(MlError::LabelOutOfRange {
            label: 2,
            row: 5,
            ..
        })
    ));
    let empty = CsrMatrix::empty(50);
    assert!(matches!(
        lr.fit_sparse(&empty, &[], 2),
        Err(MlError::EmptyInput(_))
    ));
    assert!(matches!(
        svc.fit_sparse(&empty, &[], 2),
        Err(MlError::EmptyInput(_))
    ));
    assert!(matches!(
        svc.fit_sparse(&x, &vec![0; y.len()], 1),
        Err(MlError::TargetMismatch { .. })
    ));

    let lr_model = lr.fit_sparse(&x, &y, 2).unwrap();
    let svc_model = svc.fit_sparse(&x, &y, 2).unwrap();
    let narrow = CsrMatrix::empty(49);
    assert!(matches!(
        lr_model.predict_sparse(&narrow),
        Err(MlError::ShapeMismatch {
            expected: 50,
            got: 49,
            ..
        })
    ));
    assert!(matches!(
        svc_model.predict_sparse(&narrow),
        Err(MlError::ShapeMismatch {
            expected: 50,
            got: 49,
            ..
        })
    ));
    // No rows to predict is no predictions, not an error.
    assert_eq!(
        lr_model
            .predict_sparse(&CsrMatrix::empty(50))
            .unwrap()
            .len(),
        0
    );
}

/// The rows of `m` as a [`CsrMatrix`] (zeros left out).
fn to_csr(m: &faasml_ml::Matrix) -> CsrMatrix {
    let mut x = CsrMatrix::empty(m.cols());
    for i in 0..m.rows() {
        let row: Vec<(u32, f32)> = (0..m.cols() as u32)
            .zip(m.row(i))
            .filter(|&(_, &v)| v != 0.0)
            .map(|(j, &v)| (j, v))
            .collect();
        x.push_row(&row).unwrap();
    }
    x
}

#[test]
fn multinomial_logistic_regression_matches_scikit_learn_on_iris() {
    // scikit-learn 1.9.1, run to the optimum:
    // python -c "from sklearn.datasets import load_iris; from sklearn.linear_model import
    //   LogisticRegression as L; X,y=load_iris(return_X_y=True); m=L(tol=1e-10,max_iter=10000)
    //   .fit(X,y); print(m.coef_.ravel().tolist(), m.intercept_.tolist(), m.score(X,y),
    //   m.predict_proba(X[[0,50,100]]).ravel().tolist())"
    let want_coef = [
        -0.42350553807794267,
        0.9673498593452036,
        -2.5171537411657474,
        -1.0793360613631535,
        0.5344595534288595,
        -0.32158870656154626,
        -0.20639182962950564,
        -0.9442973969773316,
        -0.11095401535091098,
        -0.6457611527836576,
        2.7235455707952596,
        2.023633458340492,
    ];
    let want_intercept = [9.849549877713894, 2.237216694273421, -12.086766571986708];
    let want_proba = [
        0.9815835166145922,
        0.01841646888671666,
        1.449869105521239e-08,
        0.002126710754431518,
        0.873956584523646,
        0.12391670472192245,
        9.052698080304987e-07,
        0.003912749123065519,
        0.9960863456071264,
    ];
    let (x, y, n_classes) = common::load("iris.csv");
    assert_eq!((x.rows(), x.cols(), n_classes), (150, 4, 3));
    let y: Vec<u32> = y.into_iter().map(u32::from).collect();
    let data = Dataset::classification(x.clone(), y.clone(), 3).unwrap();
    let params = LogisticRegression::params()
        .tol(1e-5)
        .max_iter(1000)
        .check()
        .unwrap();
    let model = params.fit(&data).unwrap();
    assert_eq!(model.n_classes(), 3);
    let coef: Vec<f32> = want_coef.iter().map(|&v| v as f32).collect();
    let intercept: Vec<f32> = want_intercept.iter().map(|&v| v as f32).collect();
    let err = rel_diff(model.coef(), &coef);
    let b_err = rel_diff(model.intercepts(), &intercept);
    println!(
        "multinomial iris: coef rel diff {err:.2e}, intercept rel diff {b_err:.2e}, n_iter {}",
        model.n_iter()
    );
    assert!(err < 1e-4, "coef {:?}", model.coef());
    assert!(b_err < 1e-4, "intercepts {:?}", model.intercepts());
    let sum: f32 = model.intercepts().iter().sum();
    assert!(sum.abs() < 1e-4, "intercepts sum to {sum}");

    let proba = model.predict(data.view()).unwrap();
    let p = proba.proba().unwrap();
    assert_eq!((p.rows(), p.cols()), (150, 3));
    for (r, &row) in [0usize, 50, 100].iter().enumerate() {
        for c in 0..3 {
            let got = f64::from(p.row(row)[c]);
            assert!(
                (got - want_proba[r * 3 + c]).abs() < 1e-5,
                "P(class {c} | row {row}) = {got}, want {}",
                want_proba[r * 3 + c]
            );
        }
    }
    let accuracy = faasml_ml::metrics::accuracy(&proba.classes().unwrap(), &y);
    assert!(
        (accuracy - 146.0 / 150.0).abs() < 1e-12,
        "accuracy {accuracy}"
    );
    assert_eq!(model.decision_function(data.view()).unwrap().len(), 450);

    // The sparse rows fit to the same model and predict the same.
    let xs = to_csr(&x);
    let sparse = params.fit_sparse(&xs, &y, 3).unwrap();
    assert!(rel_diff(sparse.coef(), model.coef()) <= 1e-5);
    assert!(rel_diff(sparse.intercepts(), model.intercepts()) <= 1e-5);
    assert_eq!(
        sparse.predict_sparse(&xs).unwrap().classes(),
        proba.classes()
    );
    assert_eq!(model.predict_sparse(&xs).unwrap(), proba);

    // Stored and reloaded, it predicts the same; a two-class model keeps its old layout.
    let back = LogisticRegression::from_tensors(&Persist::to_tensors(&model)).unwrap();
    assert_eq!(back, model);
    // Newton fits two classes only.
    let newton = LogisticRegression::params()
        .solver(LogisticSolver::Newton)
        .check()
        .unwrap();
    assert!(matches!(
        newton.fit(&data),
        Err(MlError::InvalidParameter { name: "solver", .. })
    ));
    // The defaults (max_iter 100, where scikit-learn also stops short of the optimum) give
    // the same training accuracy.
    let default = LogisticRegression::params()
        .check()
        .unwrap()
        .fit(&data)
        .unwrap();
    let classes = default.predict(data.view()).unwrap().classes().unwrap();
    let accuracy = faasml_ml::metrics::accuracy(&classes, &y);
    println!(
        "multinomial iris defaults: n_iter {}, coef rel diff {:.2e}, accuracy {accuracy}",
        default.n_iter(),
        rel_diff(default.coef(), &coef)
    );
    assert!(
        (accuracy - 146.0 / 150.0).abs() < 1e-12,
        "accuracy {accuracy}"
    );
}
