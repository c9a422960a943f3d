//! Linear models, k-NN regression and out-of-fold predictions against
//! scikit-learn 1.9.1's values in the bundled `data/reference/classic-ml.json`
//! (provenance in `data/reference/README.md`), on the bundled diabetes and
//! breast cancer tables, standardised as the reference says (z-scores with
//! the population standard deviation).
//!
//! Each test states the tolerance it checks; the reached agreement is
//! usually far tighter, and is printed by `cargo test -- --nocapture`.

use faasml_ml::linear::{
    ElasticNet, Lasso, LinearSvc, LinearSvr, LogisticRegression, LogisticSolver,
};
use faasml_ml::metrics::roc_auc;
use faasml_ml::model_selection::{cross_val_predict, score};
use faasml_ml::neighbors::KnnRegressor;
use faasml_ml::{Algorithm, Dataset, Fit, Matrix, MlError, Persist, Predict, Targets};
use serde_json::Value;

fn reference(case: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/reference/classic-ml.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let all: Value = serde_json::from_str(&text).expect("reference JSON");
    all["cases"][case].clone()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// A bundled table, features standardised (population std), targets raw.
fn standardised(name: &str) -> (Matrix, Vec<f32>) {
    let path = format!("{}/../../data/tabular/{name}", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    let t = faasml_datasets::csv_table::read_table(file, "target").expect("table");
    let (n, d) = (t.n_rows, t.n_cols);
    let mut x = t.features.clone();
    for j in 0..d {
        let col: Vec<f64> = (0..n).map(|i| f64::from(t.features[i * d + j])).collect();
        let mean = col.iter().sum::<f64>() / n as f64;
        let std = (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        for i in 0..n {
            x[i * d + j] = ((col[i] - mean) / std) as f32;
        }
    }
    (Matrix::new(n, d, x).unwrap(), t.targets)
}

fn diabetes() -> Dataset {
    let (x, y) = standardised("diabetes.csv");
    Dataset::regression(x, y).unwrap()
}

fn breast_cancer() -> Dataset {
    let (x, y) = standardised("breast_cancer.csv");
    Dataset::classification(x, y.iter().map(|&v| v as u32).collect(), 2).unwrap()
}

/// Largest |got - want| over the largest |want|.
fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0f64, f64::max)
        / scale
}

fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

fn mean_abs_error(pred: &[f64], y: &[f32]) -> f64 {
    pred.iter()
        .zip(y)
        .map(|(p, &t)| (p - f64::from(t)).abs())
        .sum::<f64>()
        / y.len() as f64
}

/// scikit-learn 1.9.1's Lasso and elastic-net values are the exact optima
/// (within 2e-9, checked in numpy): its solver runs on past the classic
/// stopping rule implemented here, which at the default tol 1e-4 stops
/// within about 1e-3 of the optimum on these correlated features (s1-s4).
/// So: 1.5e-3 at the default tol, and 1e-5 (the `f32` coefficients) with
/// the tolerance tightened.
#[test]
fn lasso_matches_scikit_learn_on_diabetes() {
    let r = reference("lasso_diabetes_std");
    let want = floats(&r["coef"]);
    let data = diabetes();
    let model = Fit::fit(&Lasso::params().alpha(0.1).check().unwrap(), &data).unwrap();
    let err = rel_err(&wide(model.coef()), &want);
    println!(
        "lasso (tol 1e-4) coef rel err {err:.2e}, n_iter {}",
        model.n_iter()
    );
    assert!(err < 1.5e-3, "coef {:?} vs {want:?}", model.coef());
    let params = Lasso::params().alpha(0.1).tol(1e-10).max_iter(10_000);
    let model = Fit::fit(&params.check().unwrap(), &data).unwrap();
    let err = rel_err(&wide(model.coef()), &want);
    println!(
        "lasso (tol 1e-10) coef rel err {err:.2e}, n_iter {}",
        model.n_iter()
    );
    assert!(err < 1e-5, "coef {:?} vs {want:?}", model.coef());
    // The exact zero (s3) is reproduced.
    assert_eq!(model.coef()[6], 0.0);
    let b = r["intercept"].as_f64().unwrap();
    assert!((f64::from(model.intercept()) - b).abs() < 1e-4 * b);
}

#[test]
fn elastic_net_matches_scikit_learn_on_diabetes() {
    let r = reference("elastic_net_diabetes_std");
    let want = floats(&r["coef"]);
    let params = ElasticNet::params().alpha(0.3).l1_ratio(0.8);
    let model = Fit::fit(&params.clone().check().unwrap(), &diabetes()).unwrap();
    let err = rel_err(&wide(model.coef()), &want);
    println!(
        "elastic net (tol 1e-4) coef rel err {err:.2e}, n_iter {}",
        model.n_iter()
    );
    assert!(err < 1.5e-3, "coef {:?} vs {want:?}", model.coef());
    let params = params.tol(1e-10).max_iter(10_000).check().unwrap();
    let model = Fit::fit(&params, &diabetes()).unwrap();
    let err = rel_err(&wide(model.coef()), &want);
    println!(
        "elastic net (tol 1e-10) coef rel err {err:.2e}, n_iter {}",
        model.n_iter()
    );
    assert!(err < 1e-5, "coef {:?} vs {want:?}", model.coef());
    assert_eq!(model.coef()[0], 0.0);
    let b = r["intercept"].as_f64().unwrap();
    assert!((f64::from(model.intercept()) - b).abs() < 1e-4 * b);
}

#[test]
fn linear_svr_matches_scikit_learn_on_diabetes() {
    let r = reference("linear_svr_diabetes_std");
    let data = diabetes();
    let model = Fit::fit(&LinearSvr::params().check().unwrap(), &data).unwrap();
    let want = floats(&r["coef"]);
    let err = rel_err(&wide(model.coef()), &want);
    let b = r["intercept"].as_f64().unwrap();
    let b_err = (f64::from(model.intercept()) - b).abs() / b;
    let pred = score(&model.predict(data.view()).unwrap()).unwrap();
    let mae = mean_abs_error(&pred, data.real_targets().unwrap());
    let want_mae = r["mean_abs_error_train"].as_f64().unwrap();
    println!(
        "linear svr coef rel err {err:.2e}, intercept rel err {b_err:.2e}, MAE {mae:.6} vs \
         {want_mae}, n_iter {}",
        model.n_iter()
    );
    // scikit-learn stopped at its tol 1e-4; we run to 1e-6.
    assert!(err < 2e-3, "coef {:?} vs {want:?}", model.coef());
    assert!(b_err < 2e-3, "intercept {} vs {b}", model.intercept());
    assert!((mae - want_mae).abs() < 1e-3 * want_mae);
}

#[test]
fn knn_regressor_matches_scikit_learn_on_diabetes() {
    let r = reference("knn_regressor_diabetes_std");
    let data = diabetes();
    let model = Fit::fit(&KnnRegressor::params().k(20).check().unwrap(), &data).unwrap();
    let first5 = data.select(&[0, 1, 2, 3, 4]).unwrap();
    let pred = score(&model.predict(first5.view()).unwrap()).unwrap();
    let want = floats(&r["predict_first5"]);
    for (p, w) in pred.iter().zip(&want) {
        assert!((p - w).abs() < 1e-4, "{pred:?} vs {want:?}");
    }
}

#[test]
fn lasso_out_of_fold_predictions_match_scikit_learn() {
    let r = reference("lasso_diabetes_oof");
    let data = diabetes();
    let algorithm: Algorithm =
        serde_json::from_str(r#"{"algorithm": "lasso", "alpha": 0.1}"#).unwrap();
    let oof = cross_val_predict(&algorithm, &data, 5).unwrap();
    let want = floats(&r["oof_first5"]);
    for (p, w) in oof.iter().zip(&want) {
        assert!((p - w).abs() < 1e-3, "{:?} vs {want:?}", &oof[..5]);
    }
    let mae = mean_abs_error(&oof, data.real_targets().unwrap());
    let want_mae = r["oof_mean_abs_error"].as_f64().unwrap();
    println!("lasso oof MAE {mae:.6} vs {want_mae}");
    assert!((mae - want_mae).abs() < 1e-4);
}

#[test]
fn logistic_regression_matches_scikit_learn_on_breast_cancer() {
    let r = reference("logistic_breast_cancer_std");
    let data = breast_cancer();
    let want = floats(&r["coef"]);
    let b = r["intercept"].as_f64().unwrap();
    let truth: Vec<u8> = data.labels().unwrap().iter().map(|&l| l as u8).collect();
    for solver in [
        LogisticSolver::Auto,
        LogisticSolver::Newton,
        LogisticSolver::Lbfgs,
    ] {
        let params = LogisticRegression::params().solver(solver).check().unwrap();
        let model = Fit::fit(&params, &data).unwrap();
        let err = rel_err(&wide(model.coef()), &want);
        let b_err = (f64::from(model.intercept()) - b).abs();
        println!(
            "logistic ({solver:?}) coef rel err {err:.2e}, intercept abs err {b_err:.2e}, n_iter {}",
            model.n_iter()
        );
        assert!(
            err < 1e-4,
            "{solver:?}: coef {:?} vs {want:?}",
            model.coef()
        );
        assert!(
            b_err < 1e-4,
            "{solver:?}: intercept {} vs {b}",
            model.intercept()
        );
        let pred = model.predict(data.view()).unwrap();
        let p1 = score(&pred).unwrap();
        let auc = roc_auc(&truth, &p1).unwrap();
        assert!(
            (auc - r["train_roc_auc"].as_f64().unwrap()).abs() < 1e-5,
            "auc {auc}"
        );
        let classes = pred.classes().unwrap();
        let acc = faasml_ml::metrics::accuracy(&classes, data.labels().unwrap());
        assert!(
            (acc - r["train_accuracy"].as_f64().unwrap()).abs() < 1e-5,
            "acc {acc}"
        );
    }
}

#[test]
fn logistic_out_of_fold_auc_matches_scikit_learn() {
    let r = reference("logistic_breast_cancer_oof_auc");
    let data = breast_cancer();
    let algorithm = Algorithm::from_name("logistic-regression").unwrap();
    let oof = cross_val_predict(&algorithm, &data, 5).unwrap();
    let truth: Vec<u8> = data.labels().unwrap().iter().map(|&l| l as u8).collect();
    let auc = roc_auc(&truth, &oof).unwrap();
    let want = r["oof_roc_auc"].as_f64().unwrap();
    println!("logistic oof AUC {auc:.6} vs {want}");
    // One pair in 212 x 357 is 1.3e-5 of AUC; probabilities are `f32`, so
    // scores near 1 tie where scikit-learn's `f64` ones do not.
    assert!((auc - want).abs() < 2e-5);
}

#[test]
fn regressors_fit_class_labels_as_reals() {
    let cancer = breast_cancer();
    let labels: Vec<f32> = cancer.labels().unwrap().iter().map(|&l| l as f32).collect();
    let as_real = cancer.clone().with_targets(Targets::Real(labels)).unwrap();
    for name in ["lasso", "elastic-net", "linear-svr", "knn-regressor"] {
        let algorithm = Algorithm::from_name(name).unwrap();
        let a = algorithm
            .fit(&cancer)
            .unwrap()
            .predict(cancer.view())
            .unwrap();
        let b = algorithm
            .fit(&as_real)
            .unwrap()
            .predict(cancer.view())
            .unwrap();
        assert_eq!(a, b, "{name}");
        let oof = cross_val_predict(&algorithm, &cancer, 3).unwrap();
        assert_eq!(oof.len(), cancer.len());
    }
}

#[test]
fn every_model_round_trips_through_tensors() {
    let data = diabetes();
    let cancer = breast_cancer();
    for name in [
        "lasso",
        "elastic-net",
        "linear-svr",
        "knn-regressor",
        "logistic-regression",
        "linear-svc",
    ] {
        let algorithm = Algorithm::from_name(name).unwrap();
        let train = if name == "logistic-regression" || name == "linear-svc" {
            &cancer
        } else {
            &data
        };
        let model = algorithm.fit(train).unwrap();
        assert_eq!(model.kind(), name);
        let stored = model.to_tensors();
        let loaded = Algorithm::load(&stored).unwrap();
        assert_eq!(
            loaded.predict(train.view()).unwrap(),
            model.predict(train.view()).unwrap(),
            "{name}"
        );
        // Remove any one tensor or the metadata: a corrupt model, no panic.
        for key in stored.tensors.keys() {
            let mut broken = stored.clone();
            broken.tensors.remove(key);
            assert!(
                matches!(Algorithm::load(&broken), Err(MlError::CorruptModel(_))),
                "{name} {key}"
            );
        }
        for key in stored.meta.keys().filter(|k| *k != "kind") {
            let mut broken = stored.clone();
            broken.meta.insert(key.clone(), "-3".into());
            assert!(Algorithm::load(&broken).is_err(), "{name} {key}");
        }
    }
}

#[test]
fn corrupt_knn_shapes_are_rejected() {
    let model = Fit::fit(&KnnRegressor::params().k(3).check().unwrap(), &diabetes()).unwrap();
    let mut t = Persist::to_tensors(&model);
    t.insert("targets", faasml_ml::Tensor::f32_vector(vec![1.0; 10]));
    assert!(matches!(
        KnnRegressor::from_tensors(&t),
        Err(MlError::CorruptModel(_))
    ));
    let mut t = Persist::to_tensors(&model);
    t.set_meta("k", "100000");
    assert!(matches!(
        KnnRegressor::from_tensors(&t),
        Err(MlError::CorruptModel(_))
    ));
}

#[test]
fn predict_checks_width_and_nan() {
    let data = diabetes();
    for name in ["lasso", "elastic-net", "linear-svr", "knn-regressor"] {
        let model = Algorithm::from_name(name).unwrap().fit(&data).unwrap();
        let narrow = Matrix::zeros(2, 3);
        assert!(
            matches!(
                model.predict(narrow.view()),
                Err(MlError::ShapeMismatch { .. })
            ),
            "{name}"
        );
        let mut nan = Matrix::zeros(2, 10);
        nan.data_mut()[3] = f32::NAN;
        assert!(
            matches!(model.predict(nan.view()), Err(MlError::Numerical(_))),
            "{name}"
        );
        assert!(
            model
                .predict(Matrix::zeros(0, 10).view())
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn settings_parse_and_are_checked() {
    let a: Algorithm = serde_json::from_str(r#"{"algorithm":"lasso","alpha":0.05}"#).unwrap();
    assert_eq!(a, Algorithm::Lasso(Lasso::params().alpha(0.05)));
    assert!(serde_json::from_str::<Algorithm>(r#"{"algorithm":"lasso","alpah":0.05}"#).is_err());
    let a: Algorithm =
        serde_json::from_str(r#"{"algorithm":"linear-svr","C":2.0,"tol":1e-4}"#).unwrap();
    assert_eq!(
        a,
        Algorithm::LinearSvr(LinearSvr::params().c(2.0).tol(1e-4))
    );
    let a: Algorithm = serde_json::from_str(r#"{"algorithm":"knn-regressor","k":5}"#).unwrap();
    assert_eq!(a.name(), "knn-regressor");
    let a: Algorithm =
        serde_json::from_str(r#"{"algorithm":"logistic-regression","C":0.5,"solver":"lbfgs"}"#)
            .unwrap();
    assert_eq!(a.name(), "logistic-regression");
    for name in [
        "lasso",
        "elastic-net",
        "linear-svr",
        "knn-regressor",
        "logistic-regression",
        "linear-svc",
        "k-means",
    ] {
        assert!(Algorithm::names().contains(&name));
        assert_eq!(Algorithm::from_name(name).unwrap().name(), name);
    }
    let invalid = |a: Algorithm, param: &str| match a.check() {
        Err(MlError::InvalidParameter { name, .. }) => assert_eq!(name, param),
        other => panic!("{param}: {other:?}"),
    };
    invalid(Algorithm::Lasso(Lasso::params().alpha(-1.0)), "alpha");
    invalid(Algorithm::LinearSvc(LinearSvc::params().c(0.0)), "C");
    invalid(Algorithm::LinearSvc(LinearSvc::params().c(-1.0)), "C");
    invalid(Algorithm::Lasso(Lasso::params().alpha(f64::NAN)), "alpha");
    invalid(Algorithm::Lasso(Lasso::params().tol(0.0)), "tol");
    invalid(Algorithm::Lasso(Lasso::params().max_iter(0)), "max_iter");
    invalid(
        Algorithm::ElasticNet(ElasticNet::params().l1_ratio(1.5)),
        "l1_ratio",
    );
    invalid(Algorithm::LinearSvr(LinearSvr::params().c(0.0)), "C");
    invalid(
        Algorithm::LinearSvr(LinearSvr::params().epsilon(-0.1)),
        "epsilon",
    );
    invalid(Algorithm::KnnRegressor(KnnRegressor::params().k(0)), "k");
    invalid(
        Algorithm::LogisticRegression(LogisticRegression::params().c(-1.0)),
        "C",
    );
}

#[test]
fn logistic_regression_needs_two_classes() {
    let x = Matrix::new(4, 1, vec![0., 1., 2., 3.]).unwrap();
    let one = Dataset::classification(x.clone(), vec![0, 0, 0, 0], 1).unwrap();
    let params = LogisticRegression::params().check().unwrap();
    assert!(matches!(
        Fit::fit(&params, &one),
        Err(MlError::TargetMismatch {
            expected: "at least 2-class",
            ..
        })
    ));
    let real = Dataset::regression(x, vec![0., 1., 0., 1.]).unwrap();
    assert!(matches!(
        Fit::fit(&params, &real),
        Err(MlError::TargetMismatch { .. })
    ));
}

#[test]
fn linear_svc_matches_scikit_learn_on_breast_cancer() {
    let r = reference("linear_svc_breast_cancer_std");
    let data = breast_cancer();
    let model = LinearSvc::params().check().unwrap().fit(&data).unwrap();
    let classes = model.predict(data.view()).unwrap().classes().unwrap();
    let labels = data.labels().unwrap();
    let correct = classes.iter().zip(labels).filter(|(a, b)| a == b).count();
    let accuracy = correct as f64 / labels.len() as f64;
    let want_accuracy = r["train_accuracy"].as_f64().unwrap();
    let norm = model
        .coef()
        .iter()
        .map(|&w| f64::from(w).powi(2))
        .sum::<f64>()
        .sqrt();
    let want_norm = r["coef_l2_norm"].as_f64().unwrap();
    println!(
        "linear SVC: accuracy {accuracy} (want {want_accuracy}), |coef| {norm} (want {want_norm}), \
         {} epochs",
        model.n_iter()
    );
    // One row of 569 is 0.00176 of accuracy; the reference norm has four
    // significant digits.
    assert!((accuracy - want_accuracy).abs() < 1e-5, "{accuracy}");
    assert!((norm - want_norm).abs() / want_norm < 1e-3, "{norm}");
    // The decision function ranks as well as the classes say, and better
    // than the one-hot prediction can.
    let scores = model.decision_function(data.view()).unwrap();
    let y: Vec<u8> = labels.iter().map(|&l| l as u8).collect();
    let auc = roc_auc(&y, &scores).unwrap();
    assert!(auc > 0.99, "{auc}");
    // Stored and reloaded, it predicts the same.
    let back = LinearSvc::from_tensors(&Persist::to_tensors(&model)).unwrap();
    assert_eq!(back, model);
}

#[test]
fn linear_svc_is_one_vs_rest_beyond_two_classes() {
    let (x, y) = standardised("iris.csv");
    let data = Dataset::classification(x, y.iter().map(|&v| v as u32).collect(), 3).unwrap();
    let model = LinearSvc::params().check().unwrap().fit(&data).unwrap();
    assert_eq!(model.n_functions(), 3);
    assert_eq!(model.coef().len(), 3 * 4);
    let classes = model.predict(data.view()).unwrap().classes().unwrap();
    let correct = classes
        .iter()
        .zip(data.labels().unwrap())
        .filter(|(a, b)| a == b)
        .count();
    // scikit-learn's LinearSVC gets about 0.95 on standardised iris.
    assert!(correct as f64 / 150.0 > 0.9, "{correct}");
    assert_eq!(model.predict_classes(data.view()).unwrap(), classes);
}
