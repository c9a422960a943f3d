//! The downpour workflow end to end: every execution mode on the embedded platform with the
//! embedded state store and with a real `redis-server`, accuracy on the real MNIST test set, a
//! worker that fails and is replaced, concurrent pushers, and a Redis server that goes away.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use faasml_core::{
    EmbeddedConfig, EmbeddedPlatform, EmbeddedState, RetryPolicy, RunOptions, RunOutcome,
    StateStore, run,
};
use faasml_state::RedisState;
use faasml_store::Store;
use faasml_testkit::RedisServer;
use faasml_workflows::data::images;
use faasml_workflows::downpour::{
    self, DownpourParams, DownpourResult, InjectedFailure, Mode, ParameterServer,
};

static STORES: AtomicUsize = AtomicUsize::new(0);

/// A fresh in-memory store with the bundled mnist-10k and the MNIST test set.
async fn store() -> Store {
    let id = STORES.fetch_add(1, Ordering::SeqCst);
    let store = Store::open(&format!("memory://downpour-{id}")).unwrap();
    images::ensure_bundled(&store, "mnist-10k").await.unwrap();
    images::ensure_bundled(&store, "mnist-test").await.unwrap();
    store
}

/// Small but real: 4k training images, the full 10k test set, target 0.75.
fn params(mode: Mode, workers: usize) -> DownpourParams {
    DownpourParams {
        data: "mnist-10k".into(),
        test: Some("mnist-test".into()),
        limit: Some(4000),
        workers,
        mode,
        evals_per_epoch: Some(2),
        max_epochs: 4,
        target_accuracy: 0.75,
        ..DownpourParams::default()
    }
}

async fn train(
    store: &Store,
    state: Arc<dyn StateStore>,
    params: DownpourParams,
) -> RunOutcome<DownpourResult> {
    let config = EmbeddedConfig {
        concurrency: params.workers + 2,
        state,
        ..EmbeddedConfig::default()
    };
    let platform = EmbeddedPlatform::new(faasml_workflows::registry(), store.clone(), config);
    let options = RunOptions::new("downpour").with_retry(RetryPolicy {
        max_attempts: 3,
        backoff_ms: 1,
        timeout_ms: None,
    });
    run(platform, downpour::DRIVER, params, options).await
}

fn check_reached(result: &DownpourResult, workers: usize) {
    assert!(result.reached_target, "{result:#?}");
    let first = result.evals.first().unwrap();
    assert!(result.time_to_target_s.unwrap() >= first.elapsed_s - 1e-9);
    assert!(
        result.accuracy >= 0.70,
        "final accuracy {}",
        result.accuracy
    );
    assert_eq!(result.n_test, 10_000, "measured on the real MNIST test set");
    assert_eq!(result.n_train, 4000);
    assert_eq!(result.layers, vec![784, 100, 10]);
    assert_eq!(result.workers.len(), workers);
    for w in &result.workers {
        assert!(w.progress.iterations > 0, "{w:?}");
        assert!(w.progress.pushes > 0 && w.progress.pulls > 0, "{w:?}");
        assert!(w.n_train.abs_diff(4000 / workers) <= 1, "{w:?}");
    }
    assert_eq!(
        result.workers.iter().map(|w| w.n_train).sum::<usize>(),
        4000
    );
    let n_params = result.n_params as u64;
    assert!(result.bytes_pulled >= 4 * n_params * workers as u64);
    assert!(result.bytes_pushed >= 4 * n_params);
}

/// Whether any key of the run is left in the state store (every key of a run lives under
/// `runs/<run id>/`; removing them answers how many there were).
async fn leftover(state: &dyn StateStore, run_id: &str) -> bool {
    state
        .delete_prefix(&format!("runs/{run_id}/"))
        .await
        .unwrap()
        > 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_reaches_the_target_on_the_embedded_state() {
    let store = store().await;
    for (mode, workers) in [(Mode::Single, 1), (Mode::PerEpoch, 2), (Mode::Loop, 3)] {
        let state = Arc::new(EmbeddedState::new());
        let outcome = train(&store, state.clone(), params(mode, workers)).await;
        let result = outcome.output.unwrap();
        check_reached(&result, workers);
        assert_eq!(result.mode, mode);
        assert!(!leftover(state.as_ref(), &outcome.report.run_id).await);
        let functions: Vec<&str> = outcome
            .report
            .stages
            .iter()
            .map(|s| s.function.as_str())
            .collect();
        let expected = match mode {
            Mode::Single => "downpour.single",
            Mode::PerEpoch => "downpour.epoch",
            Mode::Loop => "downpour.train",
        };
        assert!(functions.contains(&expected), "{functions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_is_replaced_and_resumes_from_the_server() {
    let store = store().await;
    let state = Arc::new(EmbeddedState::new());
    let mut p = params(Mode::Loop, 2);
    p.inject_failure = Some(InjectedFailure {
        worker: 1,
        iteration: 25,
    });
    let outcome = train(&store, state, p).await;
    let result = outcome.output.unwrap();
    check_reached(&result, 2);
    let failed = &result.workers[1];
    assert_eq!(failed.progress.restarts, 1, "{failed:?}");
    assert_eq!(result.workers[0].progress.restarts, 0);
    let failures = outcome
        .report
        .invocations
        .iter()
        .filter(|r| r.function == "downpour.train" && !r.is_ok())
        .count();
    assert_eq!(failures, 1, "exactly the injected failure");

    // The replacement resumed from the last saved position (saved every `n_fetch` = 10
    // minibatches, so 20 for a kill after 25), not from the start.
    assert_eq!(failed.progress.resumed_at, Some(20), "{failed:?}");
    assert_eq!(result.workers[0].progress.resumed_at, None);

    // per-epoch: the failing epoch invocation is retried and the chain goes on.
    let mut p = params(Mode::PerEpoch, 2);
    p.inject_failure = Some(InjectedFailure {
        worker: 0,
        iteration: 70,
    });
    p.target_accuracy = 0.0;
    p.max_epochs = 2;
    let result = train(&store, Arc::new(EmbeddedState::new()), p)
        .await
        .output
        .unwrap();
    assert_eq!(result.workers[0].progress.restarts, 1);
    assert_eq!(result.workers[0].progress.epoch, 2, "both epochs done");
    assert_eq!(result.evals.len(), 4, "2 epochs x 2 evaluations");
    assert!(result.accuracy > 0.8, "{}", result.accuracy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_clear_errors() {
    let store = store().await;
    let state: Arc<dyn StateStore> = Arc::new(EmbeddedState::new());
    let mut p = params(Mode::Single, 3);
    let err = train(&store, state.clone(), p.clone())
        .await
        .output
        .unwrap_err();
    assert!(err.to_string().contains("--workers 1"), "{err}");
    p = params(Mode::Loop, 1);
    p.classes = 5;
    let err = train(&store, state.clone(), p).await.output.unwrap_err();
    assert!(err.to_string().contains("--classes"), "{err}");
    p = params(Mode::Loop, 1);
    p.data = "no-such-data".into();
    let err = train(&store, state, p).await.output.unwrap_err();
    assert!(err.to_string().contains("no-such-data"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downpour_on_redis_reaches_the_target_and_leaves_no_key() {
    let server = RedisServer::start();
    let redis = Arc::new(RedisState::connect(server.url()).await.unwrap());
    let store = store().await;
    let mut p = params(Mode::Loop, 3);
    p.changed_only = true;
    p.chunk = 1000;
    let outcome = train(&store, redis.clone(), p).await;
    let result = outcome.output.unwrap();
    check_reached(&result, 3);
    assert!(
        result.bytes_skipped > 0,
        "MNIST's blank border pixels leave whole chunks unchanged"
    );
    assert!(!leftover(redis.as_ref(), &outcome.report.run_id).await);
}

/// Many workers pushing at once through the parameter server lose no update, on both stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_lose_no_update() {
    let server = RedisServer::start();
    let redis: Arc<dyn StateStore> = Arc::new(RedisState::connect(server.url()).await.unwrap());
    let embedded: Arc<dyn StateStore> = Arc::new(EmbeddedState::new());
    for state in [redis, embedded] {
        let run = format!("concurrent-{}", STORES.fetch_add(1, Ordering::SeqCst));
        let n = 20_000;
        let ps = ParameterServer::new(state, &run, n, 4096);
        ps.init(&vec![0.5; n]).await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let ps = ps.clone();
                tokio::spawn(async move {
                    for _ in 0..40 {
                        ps.push(&vec![1.0; 20_000], false).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let mut params = vec![0.0; n];
        ps.pull(&mut params).await.unwrap();
        assert!(
            params.iter().all(|&v| v == 320.5),
            "{}: lost updates, e.g. {:?}",
            ps.url(),
            params.iter().find(|&&v| v != 320.5)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_server_that_goes_away_fails_the_run_clearly() {
    let mut server = RedisServer::spawn();
    let url = server.url().to_string();
    let redis = Arc::new(RedisState::connect(&url).await.unwrap());
    let store = store().await;
    let mut p = params(Mode::Loop, 2);
    p.target_accuracy = 0.0;
    p.max_epochs = 1000;
    let started = Instant::now();
    let run = tokio::spawn({
        let store = store.clone();
        async move { train(&store, redis, p).await }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.stop();
    let outcome = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run must fail, not hang")
        .unwrap();
    let err = outcome.output.unwrap_err().to_string();
    assert!(err.contains(url.trim_end_matches('/')), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
}
