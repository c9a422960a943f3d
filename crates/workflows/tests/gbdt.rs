//! The gbdt workflow end to end on the embedded platform: shards that end with one model (and
//! the model does not depend on a worker failing and rejoining), the held-out quality on real
//! tables and MNIST, Redis as the state store, and bad input as clear errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use faasml_core::{
    EmbeddedConfig, EmbeddedPlatform, EmbeddedState, RetryPolicy, RunOptions, RunOutcome,
    StateStore, run,
};
use faasml_state::RedisState;
use faasml_store::Store;
use faasml_testkit::RedisServer;
use faasml_workflows::data::{bundled, images};
use faasml_workflows::gbdt::{self, GbdtResult, GbdtRunParams, InjectedFailure};

static STORES: AtomicUsize = AtomicUsize::new(0);

async fn store(tables: &[&str]) -> Store {
    let id = STORES.fetch_add(1, Ordering::SeqCst);
    let store = Store::open(&format!("memory://gbdt-{id}")).unwrap();
    for t in tables {
        bundled::ensure(&store, t).await.unwrap();
    }
    store
}

async fn fit(
    store: &Store,
    state: Arc<dyn StateStore>,
    params: GbdtRunParams,
) -> RunOutcome<GbdtResult> {
    let config = EmbeddedConfig {
        concurrency: params.workers + 1,
        state,
        ..EmbeddedConfig::default()
    };
    let platform = EmbeddedPlatform::new(faasml_workflows::registry(), store.clone(), config);
    let options = RunOptions::new("gbdt").with_retry(RetryPolicy {
        max_attempts: 3,
        backoff_ms: 1,
        timeout_ms: None,
    });
    run(platform, gbdt::DRIVER, params, options).await
}

fn cancer(workers: usize) -> GbdtRunParams {
    GbdtRunParams {
        data: "tabular/breast_cancer".into(),
        workers,
        iterations: 30,
        leaves: 15,
        feature_fraction: 0.8,
        bagging_fraction: 0.8,
        bagging_freq: 5,
        ..GbdtRunParams::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_agree_and_a_failed_worker_rejoins_with_the_same_model() {
    let store = store(&["tabular/breast_cancer"]).await;
    let clean = fit(&store, Arc::new(EmbeddedState::new()), cancer(3))
        .await
        .output
        .unwrap();
    assert_eq!(clean.objective, "binary");
    assert_eq!(clean.workers, 3);
    assert_eq!((clean.n_train + clean.n_test), 569);
    assert!(clean.accuracy.unwrap() > 0.93, "{clean:#?}");
    assert!(clean.auc.unwrap() > 0.97, "{clean:#?}");
    assert_eq!(clean.iterations, 30);
    assert_eq!(clean.rejoined, 0);
    assert!(clean.bytes_per_iteration > 0.0);
    for w in &clean.worker_reports {
        assert_eq!(w.model_digest, clean.model_digest);
        assert!(w.rows.abs_diff(clean.n_train / 3) <= 1, "{w:?}");
    }
    // Worker 1 fails after iteration 12; its retry reads the checkpoint and rejoins.
    let mut p = cancer(3);
    p.inject_failure = Some(InjectedFailure {
        worker: 1,
        iteration: 12,
    });
    let outcome = fit(&store, Arc::new(EmbeddedState::new()), p).await;
    let faulted = outcome.output.unwrap();
    assert_eq!(faulted.rejoined, 1, "{faulted:#?}");
    let rejoined = &faulted.worker_reports[1];
    assert!((12..=13).contains(&rejoined.started_at), "{rejoined:?}");
    assert_eq!(
        faulted.model_digest, clean.model_digest,
        "the fault changed the model"
    );
    let failures = outcome
        .report
        .invocations
        .iter()
        .filter(|r| r.function == "gbdt.worker" && !r.is_ok())
        .count();
    assert_eq!(failures, 1);
    // One worker fits the same data to a model of the same quality.
    let solo = fit(&store, Arc::new(EmbeddedState::new()), cancer(1))
        .await
        .output
        .unwrap();
    assert!((solo.accuracy.unwrap() - clean.accuracy.unwrap()).abs() < 0.03);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mnist_multiclass_on_redis_matches_the_embedded_state_and_leaves_no_key() {
    let store = Store::open("memory://gbdt-mnist").unwrap();
    images::ensure_bundled(&store, "mnist-2k").await.unwrap();
    images::ensure_bundled(&store, "mnist-test").await.unwrap();
    let p = GbdtRunParams {
        data: "mnist-2k".into(),
        workers: 2,
        iterations: 20,
        leaves: 15,
        ..GbdtRunParams::default()
    };
    let embedded = fit(&store, Arc::new(EmbeddedState::new()), p.clone())
        .await
        .output
        .unwrap();
    assert_eq!(embedded.objective, "multiclass");
    assert_eq!(embedded.n_test, 10_000, "the real MNIST test set");
    assert_eq!(embedded.trees, 200);
    assert!(embedded.accuracy.unwrap() > 0.85, "{embedded:#?}");
    let server = RedisServer::start();
    let redis = Arc::new(RedisState::connect(server.url()).await.unwrap());
    let outcome = fit(&store, redis.clone(), p).await;
    let on_redis = outcome.output.unwrap();
    assert_eq!(on_redis.model_digest, embedded.model_digest);
    let left = redis
        .delete_prefix(&format!("runs/{}/", outcome.report.run_id))
        .await
        .unwrap();
    assert_eq!(left, 0, "the run's keys are removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_error() {
    let store = store(&["tabular/iris", "tabular/breast_cancer"]).await;
    let state: Arc<dyn StateStore> = Arc::new(EmbeddedState::new());
    let err = |p: GbdtRunParams| {
        let (store, state) = (store.clone(), state.clone());
        async move { fit(&store, state, p).await.output.unwrap_err().to_string() }
    };
    // Three classes with a binary objective: the label and row are named.
    let e = err(GbdtRunParams {
        data: "tabular/iris".into(),
        objective: "binary".into(),
        iterations: 2,
        ..GbdtRunParams::default()
    })
    .await;
    assert!(e.contains("label 2") && e.contains("binary"), "{e}");
    let e = err(GbdtRunParams {
        data: "tabular/iris".into(),
        limit: Some(3),
        workers: 4,
        ..GbdtRunParams::default()
    })
    .await;
    assert!(
        e.contains("--workers 4") && e.contains("3 training rows"),
        "{e}"
    );
    let e = err(GbdtRunParams {
        data: "tabular/breast_cancer".into(),
        leaves: 1,
        ..GbdtRunParams::default()
    })
    .await;
    assert!(e.contains("num_leaves"), "{e}");
    let e = err(GbdtRunParams {
        data: "tabular/no_such_table".into(),
        ..GbdtRunParams::default()
    })
    .await;
    assert!(e.contains("no_such_table"), "{e}");
    let e = err(GbdtRunParams {
        objective: "poisson".into(),
        ..GbdtRunParams::default()
    })
    .await;
    assert!(e.contains("poisson"), "{e}");
    // LIBSVM rows that do not parse, and indices out of order or zero: the line is named.
    for (name, text) in [
        ("unparsable", "1 1:0.5 2:0.25\n0 1:0.5 2:x\n"),
        ("descending", "1 1:0.5 2:0.25\n0 3:1 2:1\n"),
        ("zero-index", "1 0:0.5\n"),
    ] {
        let key = faasml_store::Path::from(format!("bad-{name}/rows.libsvm"));
        store.put(&key, bytes::Bytes::from(text)).await.unwrap();
        let e = err(GbdtRunParams {
            data: format!("bad-{name}"),
            ..GbdtRunParams::default()
        })
        .await;
        assert!(e.contains("line"), "{name}: {e}");
    }
}
