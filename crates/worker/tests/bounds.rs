//! Regression tests of the worker hardening issue, each against a [`RunningWorker`] on loopback:
//! retry headers clamped to the worker's policy, a disconnected client's invocation tree
//! cancelled, caps on invocations and body bytes in flight (503 + `Retry-After`, honoured by the
//! `http` platform), slow request headers, and the drain deadline.
//!
//! Each test waits for conditions by polling with generous deadlines rather than sleeping for
//! fixed times, so a loaded machine makes them slower, not flaky.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use faasml_core::{
    EmbeddedConfig, FunctionError, FunctionRef, Invoker, Outcome, Registry, RetryPolicy,
};
use faasml_store::Store;
use faasml_worker::{HttpPlatform, RunningWorker, Worker, WorkerLimits};
use serde_json::Value;

const SLEEP: FunctionRef<u64, u64> = FunctionRef::new("b.sleep");
const DOUBLE: FunctionRef<u32, u32> = FunctionRef::new("b.double");
const ECHO: FunctionRef<Value, Value> = FunctionRef::new("b.echo");
const SUM: FunctionRef<Vec<u32>, u32> = FunctionRef::new("b.sum");
/// Invokes `b.always-fails` once and reports its error.
const CALLS_FAILING: FunctionRef<(), ()> = FunctionRef::new("b.calls-failing");
const ALWAYS_FAILS: FunctionRef<(), ()> = FunctionRef::new("b.always-fails");
/// Fans out four slow children and, beside them, invokes a child that fails and is retried.
const TREE: FunctionRef<(), ()> = FunctionRef::new("b.tree");
const SLOW_CHILD: FunctionRef<u64, ()> = FunctionRef::new("b.slow-child");
const FAILING_CHILD: FunctionRef<(), ()> = FunctionRef::new("b.failing-child");

/// Attempts of `b.always-fails` (one test uses it).
static ALWAYS_FAILS_CALLS: AtomicUsize = AtomicUsize::new(0);
/// Children of `b.tree` started, finished, and attempts of its failing child.
static SLOW_STARTED: AtomicUsize = AtomicUsize::new(0);
static SLOW_FINISHED: AtomicUsize = AtomicUsize::new(0);
static FAILING_CALLS: AtomicUsize = AtomicUsize::new(0);

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(SLEEP, |ms: u64, _ctx| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<_, FunctionError>(ms)
    });
    r.register(DOUBLE, |x: u32, _ctx| async move {
        Ok::<_, FunctionError>(2 * x)
    });
    r.register(SUM, |xs: Vec<u32>, ctx| async move {
        Ok::<_, FunctionError>(ctx.map(DOUBLE, xs).await?.into_iter().sum())
    });
    r.register(
        ECHO,
        |v: Value, _ctx| async move { Ok::<_, FunctionError>(v) },
    );
    r.register(CALLS_FAILING, |(), ctx| async move {
        ctx.invoke(ALWAYS_FAILS, &()).await?;
        Ok::<_, FunctionError>(())
    });
    r.register(ALWAYS_FAILS, |(), _ctx| async move {
        ALWAYS_FAILS_CALLS.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(FunctionError::new("flaky", "fails every time"))
    });
    r.register(TREE, |(), ctx| async move {
        let slow = ctx.map(SLOW_CHILD, vec![120_000; 4]);
        let failing = ctx.invoke(FAILING_CHILD, &());
        let (slow, failing) = tokio::join!(slow, failing);
        slow?;
        failing?;
        Ok::<_, FunctionError>(())
    });
    r.register(SLOW_CHILD, |ms: u64, _ctx| async move {
        SLOW_STARTED.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        SLOW_FINISHED.fetch_add(1, Ordering::SeqCst);
        Ok::<_, FunctionError>(())
    });
    r.register(FAILING_CHILD, |(), _ctx| async move {
        FAILING_CALLS.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(FunctionError::new("flaky", "fails every time"))
    });
    r
}

fn config() -> EmbeddedConfig {
    EmbeddedConfig {
        concurrency: 16,
        ..EmbeddedConfig::default()
    }
}

async fn start(id: &str, limits: WorkerLimits) -> RunningWorker {
    let store = Store::open(&format!("memory://bounds-tests-{id}")).unwrap();
    let worker = Worker::with_limits(registry(), store, config(), id, limits).unwrap();
    RunningWorker::start(worker, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

/// A worker on a free port whose functions' own invocations come back to it over HTTP.
async fn start_with_itself_as_gateway(id: &str, limits: WorkerLimits) -> RunningWorker {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let config = EmbeddedConfig {
        nested: Some(HttpPlatform::new(&url).unwrap()),
        ..config()
    };
    let store = Store::open(&format!("memory://bounds-tests-{id}")).unwrap();
    let worker = Worker::with_limits(registry(), store, config, id, limits).unwrap();
    RunningWorker::start(worker, ([127, 0, 0, 1], port).into())
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    faasml_store::ensure_crypto_provider();
    reqwest::Client::new()
}

/// The worker's `/healthz` document.
async fn health(worker: &RunningWorker) -> Value {
    let response = client()
        .get(format!("{}/healthz", worker.url()))
        .send()
        .await
        .unwrap();
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// Polls `condition` every 20 ms until it holds, failing after `limit` with `what`.
async fn wait_for<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the worker's health until `field` equals `value`.
async fn wait_for_health(worker: &RunningWorker, field: &str, value: u64) {
    wait_for(
        Duration::from_secs(30),
        &format!("/healthz {field} is {value}"),
        || async { health(worker).await[field] == value },
    )
    .await;
}

/// Opens a raw connection and sends a `POST /function/<function>` head with `headers`, declaring
/// `length` body bytes, and `body` (possibly only part of them).
fn raw_post(
    worker: &RunningWorker,
    function: &str,
    headers: &[(&str, &str)],
    length: usize,
    body: &[u8],
) -> TcpStream {
    let mut stream = TcpStream::connect(worker.addr()).unwrap();
    let mut head = format!(
        "POST /function/{function} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {length}\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    stream
}

/// Issue: "client headers that set the retry policy made one request retry hundreds of times a
/// second". The headers ask for 1000 attempts without backoff; the worker allows 3, 50 ms apart
/// at least.
#[tokio::test]
async fn retry_headers_are_clamped_to_the_workers_policy() {
    let worker = start("clamp", WorkerLimits::default()).await;
    let started = Instant::now();
    let response = client()
        .post(format!("{}/function/b.calls-failing", worker.url()))
        .header("x-faasml-max-attempts", "1000")
        .header("x-faasml-backoff-ms", "0")
        .header("x-faasml-timeout-ms", "99999999999")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["error_type"], "invoke", "{body}");
    let message = body["error"]["error_message"].as_str().unwrap();
    assert!(message.contains("failed after 3 attempt(s)"), "{message}");
    assert_eq!(ALWAYS_FAILS_CALLS.load(Ordering::SeqCst), 3);
    assert_eq!(body["nested"].as_array().unwrap().len(), 3, "{body}");
    // Two pauses: at least 50 ms, then 100 ms.
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(health(&worker).await["limits"]["max_attempts"], 3);
}

/// Issue: "when the client disconnects, its invocation tree is cancelled". The client goes away
/// while four children sleep and a failed child waits out its backoff: everything stops, nothing
/// more runs, and `/healthz` says so.
#[tokio::test]
async fn a_client_that_disconnects_cancels_its_invocation_tree() {
    let worker = start("disconnect", WorkerLimits::default()).await;
    let stream = raw_post(
        &worker,
        "b.tree",
        // The failed child is retried after 30 s (the longest backoff a worker allows).
        &[("x-faasml-backoff-ms", "30000")],
        4,
        b"null",
    );
    wait_for(Duration::from_secs(30), "the tree runs", || async {
        SLOW_STARTED.load(Ordering::SeqCst) == 4 && FAILING_CALLS.load(Ordering::SeqCst) == 1
    })
    .await;
    // The driver and its four sleeping children; the failed child has stopped, its retry waits.
    wait_for_health(&worker, "in_flight", 5).await;
    assert_eq!(health(&worker).await["requests"], 1);

    drop(stream);
    wait_for_health(&worker, "in_flight", 0).await;
    wait_for_health(&worker, "requests", 0).await;
    // Long enough for a retry 50 ms later, had the backoff not been cancelled with the rest.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(SLOW_STARTED.load(Ordering::SeqCst), 4);
    assert_eq!(SLOW_FINISHED.load(Ordering::SeqCst), 0);
    assert_eq!(
        FAILING_CALLS.load(Ordering::SeqCst),
        1,
        "no retry after the client left"
    );
    assert_eq!(health(&worker).await["in_flight"], 0);
}

/// Issue: "30 concurrent 31 MiB bodies took a worker to 1.1 GB". Beyond the cap of invocations
/// in flight a request is refused at once with 503, `Retry-After` and an `overloaded` envelope
/// naming the limit; the `http` platform waits `Retry-After` and gets through.
#[tokio::test]
async fn beyond_max_in_flight_requests_get_503_with_retry_after_and_are_retried_after_it() {
    let worker = start("in-flight", WorkerLimits::default().max_in_flight(1)).await;
    let busy = {
        let url = format!("{}/function/b.sleep", worker.url());
        tokio::spawn(async move { client().post(url).body("1500").send().await })
    };
    wait_for_health(&worker, "requests", 1).await;

    let response = client()
        .post(format!("{}/function/b.double", worker.url()))
        .body("1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.headers()["x-faasml-function-error"], "overloaded");
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["error_type"], "overloaded");
    assert_eq!(body["error"]["retryable"], true);
    let message = body["error"]["error_message"].as_str().unwrap();
    assert!(message.contains("max-in-flight"), "{message}");

    // The platform's retry waits the second the worker asked for, not its 1 ms backoff.
    let retry = RetryPolicy {
        max_attempts: 10,
        backoff_ms: 1,
        timeout_ms: None,
    };
    let invoker = Invoker::new(HttpPlatform::new(&worker.url()).unwrap(), "r", retry);
    assert_eq!(invoker.invoke(DOUBLE, &21).await.unwrap(), 42);
    let records = invoker.take_records();
    let refused: Vec<_> = records.iter().filter(|r| !r.is_ok()).collect();
    assert!(!refused.is_empty(), "{records:?}");
    for (record, next) in records.iter().zip(records.iter().skip(1)) {
        if let Outcome::Error { error_message, .. } = &record.outcome {
            assert!(error_message.contains("overloaded"), "{error_message}");
            let pause = next.submit_us.saturating_sub(record.start_us);
            assert!(
                pause >= 1_000_000,
                "retried {pause} us after a 503 asking for 1 s"
            );
        }
    }
    assert_eq!(busy.await.unwrap().unwrap().status(), 200);
    wait_for_health(&worker, "requests", 0).await;
}

/// The body bytes of the requests in flight are capped too, whether their bodies have arrived
/// or not; a body over the per-request limit is a 413.
#[tokio::test]
async fn body_bytes_in_flight_are_capped_and_given_back() {
    let limits = WorkerLimits::default()
        .max_body_bytes(1000)
        .max_body_bytes_in_flight(1500);
    let worker = start("bytes", limits).await;
    // A client that declares 1000 bytes and sends 10 holds its reservation while it dawdles.
    let slow = raw_post(&worker, "b.echo", &[], 1000, b"\"aaaaaaaa\"");
    wait_for_health(&worker, "body_bytes", 1000).await;

    let body = format!("\"{}\"", "b".repeat(998));
    let response = client()
        .post(format!("{}/function/b.echo", worker.url()))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let refusal: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let message = refusal["error"]["error_message"].as_str().unwrap();
    assert!(message.contains("max-body-bytes-in-flight"), "{message}");
    // A small one still fits beside it.
    let response = client()
        .post(format!("{}/function/b.double", worker.url()))
        .body("4")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = client()
        .post(format!("{}/function/b.echo", worker.url()))
        .body("x".repeat(1001))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    drop(slow);
    wait_for_health(&worker, "body_bytes", 0).await;
    let response = client()
        .post(format!("{}/function/b.echo", worker.url()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Slowloris: a connection that does not finish its request headers in time is closed.
#[tokio::test]
async fn a_connection_that_does_not_finish_its_headers_is_closed() {
    let limits = WorkerLimits::default().header_read_timeout(Duration::from_secs(1));
    let worker = start("slowloris", limits).await;
    let addr = worker.addr();
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream
            .write_all(b"POST /function/b.double HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-le")
            .unwrap();
        let mut rest = Vec::new();
        // End of stream (or a reset) is the server closing; a timeout would fail the test.
        match stream.read_to_end(&mut rest) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
            Err(e) => Err(e),
        }
    })
    .await
    .unwrap();
    assert!(outcome.is_ok(), "the connection stayed open: {outcome:?}");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    // A client that sends its request promptly is served.
    let response = client()
        .post(format!("{}/function/b.double", worker.url()))
        .body("4")
        .send()
        .await
        .unwrap();
    assert!(response.text().await.unwrap().contains("\"output\":8"));
}

/// Issue: "after SIGTERM a busy worker said 'stopped' and kept running". Stopping drains what
/// finishes within the deadline and cancels the rest, which is answered 503 `cancelled`.
#[tokio::test]
async fn the_drain_lets_short_invocations_finish_and_cancels_long_ones_at_the_deadline() {
    let limits = WorkerLimits::default().drain_timeout(Duration::from_secs(2));
    let worker = start("drain-cancel", limits).await;
    let url = format!("{}/function/b.sleep", worker.url());
    let long = {
        let url = url.clone();
        tokio::spawn(async move { client().post(url).body("600000").send().await })
    };
    wait_for_health(&worker, "in_flight", 1).await;
    let started = Instant::now();
    let drained = worker.stop().await.unwrap();
    assert_eq!((drained.in_flight, drained.cancelled), (1, 1), "{drained}");
    assert!(started.elapsed() < Duration::from_secs(20), "{drained}");
    assert!(
        drained
            .to_string()
            .starts_with("cancelled 1 invocation(s) after 2 s"),
        "{drained}"
    );
    let response = long.await.unwrap().unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["error_type"], "cancelled", "{body}");

    let worker = start("drain-finish", WorkerLimits::default()).await;
    let url = format!("{}/function/b.sleep", worker.url());
    let short = tokio::spawn(async move { client().post(url).body("500").send().await });
    wait_for_health(&worker, "in_flight", 1).await;
    let drained = worker.stop().await.unwrap();
    assert_eq!((drained.in_flight, drained.cancelled), (1, 0), "{drained}");
    assert!(
        drained.to_string().starts_with("drained 1 in-flight"),
        "{drained}"
    );
    assert_eq!(short.await.unwrap().unwrap().status(), 200);
}

/// The caps count only requests delivered over HTTP: a fan-out that stays in its worker is
/// bounded by the concurrency slots instead, so a cap of one request does not refuse the
/// children of the request it admitted. Through a gateway back to the same worker the children
/// are refused at once, retried after `Retry-After` within the clamped attempts, and the driver
/// fails with the reason: bounded, never a deadlock.
#[tokio::test]
async fn a_driver_fanning_out_to_its_own_worker_cannot_deadlock_on_the_caps() {
    let worker = start("self-fan-out", WorkerLimits::default().max_in_flight(1)).await;
    let response = client()
        .post(format!("{}/function/b.sum", worker.url()))
        .body("[1, 2, 3, 4, 5, 6, 7, 8]")
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["output"], 72, "{body}");

    let limits = WorkerLimits::default().max_in_flight(1);
    let worker = start_with_itself_as_gateway("self-gateway", limits).await;
    let started = Instant::now();
    let response = client()
        .post(format!("{}/function/b.sum", worker.url()))
        .body("[1]")
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let message = body["error"]["error_message"].as_str().unwrap_or_default();
    assert!(
        message.contains("failed after 3 attempt(s)") && message.contains("max-in-flight"),
        "{body}"
    );
    // Two waits of the 1 s Retry-After between three attempts.
    assert!(started.elapsed() >= Duration::from_secs(2), "{body}");
    wait_for_health(&worker, "in_flight", 0).await;
}
