//! `Algorithm`: every algorithm fits through the enum on a small real
//! dataset, round-trips through tensors and `Algorithm::load`, and predicts
//! the same; names, JSON configs and errors behave as documented.

mod common;

use faasml_ml::forest::{RandomForest, RandomForestParams};
use faasml_ml::mlp::Activation;
use faasml_ml::pca::PcaModel;
use faasml_ml::tree::MaxFeatures;
use faasml_ml::{
    Algorithm, Dataset, MlError, Model, ModelTensors, Persist, Prediction, Targets, Task,
};

fn iris() -> Dataset {
    let (x, y, k) = common::load("iris.csv");
    Dataset::from_u8_labels(x, &y, k).unwrap()
}

/// Iris' first two classes (the first 100 rows), for binary classifiers.
fn iris_binary() -> Dataset {
    let data = iris();
    let rows: Vec<usize> = (0..100).collect();
    let (x, t) = data.select(&rows).unwrap().into_parts();
    let Targets::Classes { labels, .. } = t else {
        panic!("iris has classes")
    };
    Dataset::classification(x, labels, 2).unwrap()
}

fn diabetes() -> Dataset {
    let (x, y) = common::load_regression("diabetes.csv");
    Dataset::regression(x, y).unwrap()
}

/// Small settings for each algorithm, so the test is quick.
fn small(name: &str) -> Algorithm {
    let json = match name {
        "random-forest" => r#"{"algorithm": "random-forest", "n_trees": 10, "seed": 3}"#,
        "random-forest-regressor" => {
            r#"{"algorithm": "random-forest-regressor", "n_trees": 10, "max_depth": 6}"#
        }
        "decision-tree" => r#"{"algorithm": "decision-tree", "max_depth": 4}"#,
        "decision-tree-regressor" => {
            r#"{"algorithm": "decision-tree-regressor", "max_depth": 4, "min_samples_leaf": 5}"#
        }
        "pca" => r#"{"algorithm": "pca", "n_components": 3}"#,
        "mlp" => r#"{"algorithm": "mlp", "hidden": [8], "epochs": 5, "learning_rate": 0.02}"#,
        "lasso" => r#"{"algorithm": "lasso", "alpha": 0.5}"#,
        "elastic-net" => r#"{"algorithm": "elastic-net", "alpha": 0.5, "l1_ratio": 0.7}"#,
        "linear-svr" => r#"{"algorithm": "linear-svr", "C": 0.5, "tol": 1e-4}"#,
        "knn-regressor" => r#"{"algorithm": "knn-regressor", "k": 7}"#,
        "logistic-regression" => r#"{"algorithm": "logistic-regression", "C": 0.1}"#,
        "linear-svc" => r#"{"algorithm": "linear-svc", "C": 0.5}"#,
        "k-means" => r#"{"algorithm": "k-means", "k": 3, "n_init": 2}"#,
        "gaussian-mixture" => r#"{"algorithm": "gaussian-mixture", "n_components": 3}"#,
        other => panic!("no small settings for {other}"),
    };
    serde_json::from_str(json).unwrap()
}

#[test]
fn every_algorithm_fits_round_trips_and_predicts_the_same() {
    let (iris, diabetes) = (iris(), diabetes());
    assert_eq!(
        Algorithm::names(),
        [
            "random-forest",
            "random-forest-regressor",
            "decision-tree",
            "decision-tree-regressor",
            "pca",
            "mlp",
            "lasso",
            "elastic-net",
            "linear-svr",
            "knn-regressor",
            "logistic-regression",
            "linear-svc",
            "k-means",
            "gaussian-mixture"
        ]
    );
    let iris_binary = iris_binary();
    for &name in Algorithm::names() {
        let algorithm = small(name);
        assert_eq!(algorithm.name(), name);
        let data = match algorithm.task() {
            Task::Regression => &diabetes,
            _ if name == "logistic-regression" => &iris_binary,
            _ => &iris,
        };
        let model = algorithm.fit(data).unwrap();
        assert_eq!(model.kind(), name);
        assert_eq!(model.n_features(), data.n_features());
        let prediction = model.predict(data.view()).unwrap();
        assert_eq!(prediction.len(), data.len());
        match (algorithm.task(), &prediction) {
            (Task::Classification, Prediction::Proba(p)) => {
                assert_eq!(Some(p.cols()), data.n_classes())
            }
            (Task::Regression, Prediction::Real(_)) => {}
            (Task::Transform, Prediction::Transformed(t)) => assert_eq!(t.cols(), 3),
            (Task::Clustering, Prediction::Proba(p)) => assert_eq!(p.cols(), 3),
            (task, p) => panic!("{name}: {task:?} predicted {p:?}"),
        }
        let stored = model.to_tensors();
        assert_eq!(stored.kind(), Some(name));
        let loaded = Algorithm::load(&stored).unwrap();
        assert_eq!(loaded.kind(), name);
        assert_eq!(loaded.predict(data.view()).unwrap(), prediction, "{name}");
        assert_eq!(loaded.to_tensors(), stored, "{name}");
    }
}

#[test]
fn the_classifiers_learn_iris() {
    let data = iris();
    let (train, test) = common::split_rows(data.len(), 0.3, 5);
    let (train, test) = (data.select(&train).unwrap(), data.select(&test).unwrap());
    // The MLP sees iris unscaled (centimetres), so it needs many small steps.
    for (json, floor) in [
        (r#"{"algorithm": "random-forest", "n_trees": 30}"#, 0.9),
        (r#"{"algorithm": "decision-tree", "max_depth": 4}"#, 0.9),
        (
            r#"{"algorithm": "mlp", "hidden": [16], "epochs": 200, "learning_rate": 0.05, "dropout": 0.0, "batch_size": 16}"#,
            0.9,
        ),
    ] {
        let algorithm: Algorithm = serde_json::from_str(json).unwrap();
        let model = algorithm.fit(&train).unwrap();
        let pred = model.predict(test.view()).unwrap().classes().unwrap();
        let acc = faasml_ml::metrics::accuracy(&pred, test.labels().unwrap());
        println!("{}: held-out accuracy {acc:.3}", algorithm.name());
        assert!(
            acc >= floor,
            "{}: accuracy {acc} < {floor}",
            algorithm.name()
        );
    }
}

#[test]
fn json_settings_default_what_is_not_given() {
    let a: Algorithm =
        serde_json::from_str(r#"{"algorithm": "random-forest", "n_trees": 50}"#).unwrap();
    let Algorithm::RandomForest(p) = &a else {
        panic!("parsed {a:?}");
    };
    assert_eq!(p, &RandomForest::params().n_trees(50));
    assert_eq!(
        Algorithm::from_name("random-forest").unwrap(),
        Algorithm::RandomForest(RandomForestParams::default())
    );
    // Serialising and parsing again gives the same settings.
    let text = serde_json::to_string(&a).unwrap();
    assert!(text.contains(r#""algorithm":"random-forest""#), "{text}");
    assert_eq!(serde_json::from_str::<Algorithm>(&text).unwrap(), a);
    for &name in Algorithm::names() {
        let a = Algorithm::from_name(name).unwrap();
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            serde_json::from_str::<Algorithm>(&text).unwrap(),
            a,
            "{text}"
        );
        let bare: Algorithm =
            serde_json::from_str(&format!(r#"{{"algorithm": "{name}"}}"#)).unwrap();
        assert_eq!(bare, a);
        assert!(a.check().is_ok());
    }
    let a: Algorithm = serde_json::from_str(
        r#"{"algorithm": "mlp", "hidden": [], "activation": "relu", "batch_size": 4}"#,
    )
    .unwrap();
    let Algorithm::Mlp(p) = &a else {
        panic!("parsed {a:?}");
    };
    assert_eq!(
        (p.hidden.len(), p.activation, p.batch_size),
        (0, Activation::Relu, 4)
    );
}

#[test]
fn max_features_reads_names_counts_and_fractions() {
    let parse = |v: &str| -> MaxFeatures {
        let a: Algorithm = serde_json::from_str(&format!(
            r#"{{"algorithm": "decision-tree", "max_features": {v}}}"#
        ))
        .unwrap();
        match a {
            Algorithm::DecisionTree(p) => p.max_features,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(parse(r#""sqrt""#), MaxFeatures::Sqrt);
    assert_eq!(parse(r#""log2""#), MaxFeatures::Log2);
    assert_eq!(parse(r#""all""#), MaxFeatures::All);
    assert_eq!(parse("3"), MaxFeatures::Count(3));
    assert_eq!(parse(r#""3""#), MaxFeatures::Count(3));
    assert_eq!(parse("0.5"), MaxFeatures::Fraction(0.5));
    assert_eq!(parse(r#""1.0""#), MaxFeatures::Fraction(1.0));
    for m in [
        MaxFeatures::Sqrt,
        MaxFeatures::Log2,
        MaxFeatures::All,
        MaxFeatures::Count(7),
        MaxFeatures::Fraction(1.0),
        MaxFeatures::Fraction(0.25),
    ] {
        assert_eq!(m.to_string().parse::<MaxFeatures>().unwrap(), m);
    }
    assert!("most".parse::<MaxFeatures>().is_err());
    // Parsing accepts any number; the range is checked with the settings.
    let a: Algorithm =
        serde_json::from_str(r#"{"algorithm": "decision-tree", "max_features": 1.5}"#).unwrap();
    assert!(matches!(
        a.check(),
        Err(MlError::InvalidParameter {
            name: "max_features",
            ..
        })
    ));
}

#[test]
fn unknown_names_and_settings_are_errors() {
    match Algorithm::from_name("svm") {
        Err(e @ MlError::UnknownAlgorithm { .. }) => {
            let msg = e.to_string();
            for &name in Algorithm::names() {
                assert!(msg.contains(name), "{msg}");
            }
        }
        other => panic!("expected UnknownAlgorithm, got {other:?}"),
    }
    for bad in [
        r#"{"algorithm": "svm"}"#,
        r#"{"algorithm": "random-forest", "n_tree": 5}"#,
        r#"{"algorithm": "pca", "n_components": -1}"#,
        r#"{"n_trees": 5}"#,
    ] {
        assert!(serde_json::from_str::<Algorithm>(bad).is_err(), "{bad}");
    }
    let zero: Algorithm =
        serde_json::from_str(r#"{"algorithm": "random-forest", "n_trees": 0}"#).unwrap();
    assert!(matches!(
        zero.fit(&iris()),
        Err(MlError::InvalidParameter {
            name: "n_trees",
            ..
        })
    ));
}

#[test]
fn targets_of_the_wrong_kind_are_rejected() {
    let (iris, diabetes) = (iris(), diabetes());
    for &name in Algorithm::names() {
        let a = small(name);
        let wrong = match a.task() {
            Task::Classification => &diabetes,
            // The regressors read class labels as reals.
            Task::Regression => {
                if a.fit(&iris).is_err() {
                    assert!(
                        matches!(a.fit(&iris), Err(MlError::TargetMismatch { .. })),
                        "{name}"
                    );
                }
                &iris
            }
            _ => continue,
        };
        if a.task() == Task::Regression && a.fit(wrong).is_ok() {
            let none = Dataset::unsupervised(wrong.records().clone()).unwrap();
            assert!(
                matches!(a.fit(&none), Err(MlError::TargetMismatch { got: "no", .. })),
                "{name}"
            );
            continue;
        }
        assert!(
            matches!(a.fit(wrong), Err(MlError::TargetMismatch { .. })),
            "{name}"
        );
        let none = Dataset::unsupervised(wrong.records().clone()).unwrap();
        assert!(
            matches!(a.fit(&none), Err(MlError::TargetMismatch { got: "no", .. })),
            "{name}"
        );
    }
    // The transforms and clusterings (PCA, the Gaussian mixture) take any targets.
    let unlabelled = Dataset::new(iris.records().clone(), Targets::None).unwrap();
    assert!(small("pca").fit(&unlabelled).is_ok());
    assert!(small("gaussian-mixture").fit(&unlabelled).is_ok());
    assert!(small("gaussian-mixture").fit(&diabetes).is_ok());
}

#[test]
fn load_needs_a_known_kind() {
    assert!(matches!(
        Algorithm::load(&ModelTensors::default()),
        Err(MlError::CorruptModel(_))
    ));
    assert!(matches!(
        Algorithm::load(&ModelTensors::new("gbdt")),
        Err(MlError::CorruptModel(_))
    ));
    // A corrupt model of a known kind is the model's own error.
    let mut t = small("pca").fit(&iris()).unwrap().to_tensors();
    t.tensors.remove("mean");
    assert!(matches!(Algorithm::load(&t), Err(MlError::CorruptModel(_))));
}

#[test]
fn a_boxed_model_downcasts_to_its_type() {
    let model = small("pca").fit(&iris()).unwrap();
    let pca = model.as_any().downcast_ref::<PcaModel>().unwrap();
    assert_eq!(pca.n_components(), 3);
    assert_eq!(Persist::to_tensors(pca), model.to_tensors());
    assert!(model.as_any().downcast_ref::<RandomForest>().is_none());
}

fn assert_auto_traits<T: Send + Sync + Unpin + Clone + std::fmt::Debug>() {}

#[test]
fn autotraits() {
    fn boxed_model_is_shareable<T: Send + Sync>() {}
    boxed_model_is_shareable::<Box<dyn Model>>();
    assert_auto_traits::<Algorithm>();
    assert_auto_traits::<Dataset>();
    assert_auto_traits::<ModelTensors>();
    assert_auto_traits::<RandomForest>();
    assert_auto_traits::<faasml_ml::forest::RandomForestRegressor>();
    assert_auto_traits::<faasml_ml::tree::DecisionTree>();
    assert_auto_traits::<faasml_ml::tree::DecisionTreeRegressor>();
    assert_auto_traits::<PcaModel>();
    assert_auto_traits::<faasml_ml::mlp::Mlp>();
    assert_auto_traits::<faasml_ml::forest::RandomForestValidParams>();
    assert_auto_traits::<faasml_ml::mlp::MlpTrainValidParams>();
    assert_auto_traits::<MlError>();
}
