//! The embedded platform's contract: fan-out, retries, failures, panics, concurrency, warm starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use faasml_core::{
    EmbeddedConfig, EmbeddedPlatform, FunctionError, FunctionRef, InvokeError, Outcome, Registry,
    RetryPolicy, RunOptions, run,
};
use faasml_store::{Path, Store};

const SQUARE: FunctionRef<u64, u64> = FunctionRef::new("test.square");
const DRIVER: FunctionRef<Vec<u64>, u64> = FunctionRef::new("test.driver");
const FLAKY: FunctionRef<(), u32> = FunctionRef::new("test.flaky");
const BROKEN: FunctionRef<(), ()> = FunctionRef::new("test.broken");
const PANICS: FunctionRef<(), ()> = FunctionRef::new("test.panics");
const MISSING: FunctionRef<(), ()> = FunctionRef::new("test.missing");
const WRITER: FunctionRef<String, usize> = FunctionRef::new("test.writer");

fn platform(registry: Registry, concurrency: usize) -> Arc<EmbeddedPlatform> {
    let config = EmbeddedConfig {
        concurrency,
        ..EmbeddedConfig::default()
    };
    EmbeddedPlatform::new(
        registry,
        Store::open("memory://core-tests").unwrap(),
        config,
    )
}

fn fast_retry(max_attempts: u32) -> RunOptions {
    RunOptions::new("test").with_retry(RetryPolicy {
        max_attempts,
        backoff_ms: 1,
        timeout_ms: None,
    })
}

fn fan_out_registry(running: Arc<AtomicUsize>, peak: Arc<AtomicUsize>) -> Registry {
    let mut registry = Registry::new();
    registry.register(SQUARE, move |x: u64, _ctx| {
        let running = Arc::clone(&running);
        let peak = Arc::clone(&peak);
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, FunctionError>(x * x)
        }
    });
    registry.register(DRIVER, |xs: Vec<u64>, ctx| async move {
        let squares = ctx.map(SQUARE, xs).await?;
        Ok::<_, FunctionError>(squares.iter().sum())
    });
    registry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_fans_out_within_the_concurrency_limit_without_deadlock() {
    for limit in [1, 2, 3] {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let registry = fan_out_registry(Arc::clone(&running), Arc::clone(&peak));
        let outcome = run(
            platform(registry, limit),
            DRIVER,
            (1..=10).collect(),
            fast_retry(1),
        )
        .await;
        assert_eq!(outcome.output.unwrap(), 385);
        assert!(peak.load(Ordering::SeqCst) <= limit, "limit {limit}");
        let report = outcome.report;
        assert_eq!(report.invocations.len(), 11);
        assert_eq!(report.stages[0].function, "test.driver");
        assert_eq!(report.stages[1].invocations, 10);
        // Instances are reused: never more cold starts than instances that ran at once.
        assert!(report.stages[1].cold as usize <= limit);
        assert!(
            report
                .invocations
                .iter()
                .filter(|r| r.function == "test.square")
                .all(|r| r.parent.as_deref() == Some("driver-1"))
        );
    }
}

#[tokio::test]
async fn a_flaky_function_is_retried_and_each_attempt_recorded() {
    let calls = Arc::new(AtomicU32::new(0));
    let mut registry = Registry::new();
    let counter = Arc::clone(&calls);
    registry.register(FLAKY, move |(), ctx| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            if ctx.attempt() < 3 {
                return Err(FunctionError::new("transient", "try again"));
            }
            Ok(ctx.attempt())
        }
    });
    let outcome = run(platform(registry, 2), FLAKY, (), fast_retry(3)).await;
    assert_eq!(outcome.output.unwrap(), 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(outcome.report.stages[0].failed, 2);
    assert_eq!(outcome.report.stages[0].invocations, 1);
}

#[tokio::test]
async fn a_failing_function_fails_the_run_naming_the_function_and_cause() {
    let mut registry = Registry::new();
    registry.register(BROKEN, |(), _ctx| async move {
        Err::<(), _>(FunctionError::new("disk", "the disk is on fire"))
    });
    let outcome = run(platform(registry, 2), BROKEN, (), fast_retry(2)).await;
    let err = outcome.output.unwrap_err().to_string();
    assert_eq!(
        err,
        "function 'test.broken' failed after 2 attempt(s): the disk is on fire"
    );
    assert!(matches!(outcome.report.outcome, Outcome::Error { .. }));
    assert_eq!(outcome.report.invocations.len(), 2);
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let mut registry = Registry::new();
    registry.register(BROKEN, |(), _ctx| async move {
        Err::<(), _>(FunctionError::permanent("bad-input", "no"))
    });
    let outcome = run(platform(registry, 2), BROKEN, (), fast_retry(5)).await;
    assert!(matches!(
        outcome.output,
        Err(InvokeError::Failed { attempts: 1, .. })
    ));
}

/// Issue: "a panic is reported as retryable". It is permanent: the same input panics again.
#[tokio::test]
async fn a_panic_fails_one_invocation_not_the_process_and_is_not_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let counter = Arc::clone(&calls);
    registry.register(PANICS, move |(), _ctx| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if true {
                panic!("index out of bounds");
            }
            Ok::<_, FunctionError>(())
        }
    });
    let outcome = run(platform(registry, 2), PANICS, (), fast_retry(3)).await;
    let err = outcome.output.unwrap_err();
    assert!(
        err.to_string().contains("panicked: index out of bounds"),
        "{err}"
    );
    match &err {
        InvokeError::Failed {
            attempts, error, ..
        } => {
            assert_eq!((*attempts, error.error_type.as_str()), (1, "panic"));
            assert!(!error.retryable);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

const SLOW: FunctionRef<u64, ()> = FunctionRef::new("test.slow");
const FAN: FunctionRef<Vec<u64>, ()> = FunctionRef::new("test.fan");

/// Dropping an invocation aborts its function and everything it invoked: nothing goes on
/// running detached, and the platform's in-flight count returns to 0.
#[tokio::test]
async fn dropping_an_invocation_cancels_its_function_and_fan_out() {
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let (s, f) = (Arc::clone(&started), Arc::clone(&finished));
    registry.register(SLOW, move |ms: u64, _ctx| {
        let (s, f) = (Arc::clone(&s), Arc::clone(&f));
        async move {
            s.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            f.fetch_add(1, Ordering::SeqCst);
            Ok::<_, FunctionError>(())
        }
    });
    registry.register(FAN, |xs: Vec<u64>, ctx| async move {
        ctx.map(SLOW, xs).await?;
        Ok::<_, FunctionError>(())
    });
    let platform = platform(registry, 8);
    let running = {
        let platform = Arc::clone(&platform);
        tokio::spawn(async move {
            run(platform, FAN, vec![60_000; 3], fast_retry(1)).await;
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while started.load(Ordering::SeqCst) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the fan-out never ran"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(platform.in_flight(), 4);
    running.abort();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while platform.in_flight() > 0 {
        assert!(std::time::Instant::now() < deadline, "still in flight");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(finished.load(Ordering::SeqCst), 0);
    assert_eq!(platform.queued(), 0);
}

#[tokio::test]
async fn an_unknown_function_is_a_clear_error() {
    let outcome = run(platform(Registry::new(), 2), MISSING, (), fast_retry(3)).await;
    let err = outcome.output.unwrap_err().to_string();
    assert!(err.contains("no function named 'test.missing'"), "{err}");
}

#[tokio::test]
async fn store_traffic_is_counted_per_invocation() {
    let mut registry = Registry::new();
    registry.register(WRITER, |text: String, ctx| async move {
        let key = Path::from(format!("runs/{}/out.txt", ctx.run_id()));
        ctx.store().put(&key, text.clone().into_bytes()).await?;
        let back = ctx.store().get(&key).await?;
        Ok::<_, FunctionError>(back.len())
    });
    let outcome = run(
        platform(registry, 2),
        WRITER,
        "x".repeat(1000),
        fast_retry(1),
    )
    .await;
    assert_eq!(outcome.output.unwrap(), 1000);
    let record = &outcome.report.invocations[0];
    assert_eq!((record.bytes_read, record.bytes_written), (1000, 1000));
    assert_eq!(record.payload_in, 1002);
}
