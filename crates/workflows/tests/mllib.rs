//! The `mllib` workflow end to end on the embedded platform: each of Spark's examples on
//! Spark's sample data (imported by the run itself) gives Spark's figures whatever the number
//! of workers (the gradient-boosted trees: the same model), and bad input (an unknown example,
//! more workers than rows, labels a classifier cannot take) fails with one clear error before
//! any worker runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use faasml_core::{EmbeddedConfig, EmbeddedPlatform, RetryPolicy, RunOptions, RunOutcome, run};
use faasml_store::{Path, Store};
use faasml_workflows::kit::transfer::TransferMode;
use faasml_workflows::mllib::{self, Example, MllibParams, MllibResult};

static STORES: AtomicUsize = AtomicUsize::new(0);

fn store() -> Store {
    let id = STORES.fetch_add(1, Ordering::SeqCst);
    Store::open(&format!("memory://mllib-{id}")).unwrap()
}

fn platform(store: &Store) -> Arc<EmbeddedPlatform> {
    EmbeddedPlatform::new(
        faasml_workflows::registry(),
        store.clone(),
        EmbeddedConfig::default(),
    )
}

fn options() -> RunOptions {
    RunOptions::new("mllib").with_retry(RetryPolicy {
        max_attempts: 1,
        backoff_ms: 1,
        timeout_ms: None,
    })
}

async fn run_on(store: &Store, params: MllibParams) -> RunOutcome<MllibResult> {
    run(platform(store), mllib::DRIVER, params, options()).await
}

fn example(example: Example, workers: usize) -> MllibParams {
    MllibParams {
        example,
        workers,
        ..MllibParams::default()
    }
}

fn invoked(outcome: &RunOutcome<MllibResult>, function: &str) -> usize {
    outcome
        .report
        .invocations
        .iter()
        .filter(|i| i.function == function)
        .count()
}

#[tokio::test]
async fn kmeans_gives_sparks_wssse_and_silhouette_over_any_number_of_workers() {
    let store = store();
    for (workers, transfer) in [
        (1, TransferMode::Store),
        (2, TransferMode::Store),
        (3, TransferMode::Inline),
    ] {
        let params = MllibParams {
            transfer,
            ..example(Example::Kmeans, workers)
        };
        let outcome = run_on(&store, params).await;
        let r = outcome.output.as_ref().unwrap();
        let k = r.kmeans.as_ref().unwrap();
        assert!(((k.wssse - 0.12) / 0.12).abs() < 1e-9, "{workers}: {k:?}");
        assert!((k.silhouette - 0.999753).abs() < 1e-6, "{workers}: {k:?}");
        assert_eq!((r.rows, r.features), (6, 3));
        // Every step, then the cost and the silhouette, ask every worker once.
        assert_eq!(r.invocations, workers * (k.iterations + 2));
        assert_eq!(invoked(&outcome, "mllib.worker"), r.invocations);
        eprintln!(
            "kmeans W={workers}: WSSSE {:.12} silhouette {:.9} fit {:.4} s",
            k.wssse, k.silhouette, r.fit_s
        );
    }
}

#[tokio::test]
async fn linear_regression_gives_sparks_rmse_and_r2_over_any_number_of_workers() {
    let store = store();
    for workers in [1, 2, 5] {
        let outcome = run_on(&store, example(Example::LinearRegression, workers)).await;
        let r = outcome.output.unwrap();
        let l = r.linear_regression.unwrap();
        assert!((l.rmse - 10.189077).abs() < 5e-7, "{workers}: {l:?}");
        assert!((l.r2 - 0.022861).abs() < 5e-7, "{workers}: {l:?}");
        assert!(l.converged, "{workers}: {l:?}");
        assert_eq!((r.rows, r.features, r.invocations), (501, 10, workers));
        eprintln!(
            "linear regression W={workers}: RMSE {:.9} r2 {:.9} fit {:.4} s",
            l.rmse, l.r2, r.fit_s
        );
    }
}

#[tokio::test]
async fn random_forest_gives_the_same_forest_whatever_the_workers() {
    let store = store();
    let mut errors = Vec::new();
    for workers in [1, 3] {
        let outcome = run_on(&store, example(Example::RandomForest, workers)).await;
        let r = outcome.output.unwrap();
        let f = r.random_forest.unwrap();
        assert!(f.test_error <= 0.05, "{workers}: {f:?}");
        assert_eq!((f.trees, f.n_train + f.n_test), (10, 100));
        assert_eq!(r.invocations, workers);
        eprintln!(
            "random forest W={workers}: test error {} on {} rows, fit {:.4} s",
            f.test_error, f.n_test, r.fit_s
        );
        errors.push(f.test_error);
    }
    assert_eq!(errors[0], errors[1]);
}

#[tokio::test]
async fn gbt_gives_the_same_test_error_whatever_the_workers() {
    let store = store();
    let mut errors = Vec::new();
    for workers in [1, 2] {
        let outcome = run_on(&store, example(Example::Gbt, workers)).await;
        let r = outcome.output.as_ref().unwrap();
        let g = r.gbt.as_ref().unwrap();
        assert!(g.test_error <= 0.1, "{workers}: {g:?}");
        assert_eq!((g.iterations, g.n_train + g.n_test), (10, 100), "{g:?}");
        assert_eq!(r.invocations, workers);
        assert_eq!(invoked(&outcome, "mllib.gbt"), workers);
        eprintln!(
            "gbt W={workers}: test error {} on {} rows, fit {:.4} s, model {}",
            g.test_error, g.n_test, r.fit_s, g.model_digest
        );
        errors.push(g.test_error);
    }
    // The models themselves may differ in their last bits: one worker adds its histograms'
    // f32 values in another order than two do (the workers of one run agree bit for bit,
    // which the driver checks through their digests).
    assert_eq!(errors[0], errors[1]);
}

#[tokio::test]
async fn bad_input_fails_with_one_clear_error_before_any_worker() {
    let store = store();
    // More workers than rows.
    let outcome = run_on(&store, example(Example::Kmeans, 7)).await;
    let err = outcome.output.as_ref().unwrap_err().to_string();
    assert!(
        err.contains("--workers 7") && err.contains("6 rows"),
        "{err}"
    );
    assert_eq!(invoked(&outcome, "mllib.worker"), 0);
    // Labels a classifier cannot take.
    store
        .put(
            &Path::from("mine/real/rows.txt"),
            b"0.5 1:1\n1 1:2\n0 1:3\n".to_vec(),
        )
        .await
        .unwrap();
    let outcome = run_on(
        &store,
        MllibParams {
            data: Some("mine/real".into()),
            ..example(Example::RandomForest, 2)
        },
    )
    .await;
    let err = outcome.output.as_ref().unwrap_err().to_string();
    assert!(
        err.contains("cannot train a classifier") && err.contains("0.5"),
        "{err}"
    );
    assert_eq!(invoked(&outcome, "mllib.worker"), 0);
    // An unknown example.
    let workflow = faasml_workflows::kit::find(&faasml_workflows::workflows(), "mllib").unwrap();
    let outcome = workflow
        .run(
            platform(&store),
            serde_json::json!({"example": "xgboost"}),
            options(),
        )
        .await;
    let err = outcome.output.unwrap_err().to_string();
    assert!(
        err.contains("xgboost") && err.contains("kmeans") && err.contains("gbt"),
        "{err}"
    );
}
