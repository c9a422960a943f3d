//! The worker and the `http` platform against each other over real loopback sockets: success,
//! failing, panicking and unknown functions, bad input and headers, health and readiness,
//! fan-out across workers, dead workers, graceful shutdown, run-id checks, and signed requests on
//! a keyed worker.

use std::sync::Arc;
use std::time::Duration;

use faasml_core::{
    EmbeddedConfig, FunctionError, FunctionRef, InvokeError, Invoker, Outcome, Platform, Registry,
    RetryPolicy,
};
use faasml_store::Store;
use faasml_worker::{HttpConfig, HttpPlatform, Key, RunningWorker, Verifier, Worker};
use serde_json::{Value, json};

const ECHO: FunctionRef<Value, Value> = FunctionRef::new("t.echo");
const FAIL: FunctionRef<(), ()> = FunctionRef::new("t.fail");
const FLAKY: FunctionRef<(), u32> = FunctionRef::new("t.flaky");
const PERMANENT: FunctionRef<(), ()> = FunctionRef::new("t.permanent");
const PANIC: FunctionRef<(), ()> = FunctionRef::new("t.panic");
const DOUBLE: FunctionRef<u32, u32> = FunctionRef::new("t.double");
const SUM: FunctionRef<Vec<u32>, u32> = FunctionRef::new("t.sum");
const SLEEP: FunctionRef<u64, u64> = FunctionRef::new("t.sleep");

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(
        ECHO,
        |v: Value, _ctx| async move { Ok::<_, FunctionError>(v) },
    );
    r.register(FAIL, |(), _ctx| async move {
        Err::<(), _>(FunctionError::new("boom", "it always fails"))
    });
    r.register(FLAKY, |(), ctx| async move {
        if ctx.attempt() < 2 {
            Err(FunctionError::new("flaky", "first attempt fails"))
        } else {
            Ok(ctx.attempt())
        }
    });
    r.register(PERMANENT, |(), _ctx| async move {
        Err::<(), _>(FunctionError::permanent(
            "bad-input",
            "no retry can fix this",
        ))
    });
    r.register(PANIC, |(), _ctx| async move {
        if std::hint::black_box(true) {
            panic!("the function blew up");
        }
        Ok::<_, FunctionError>(())
    });
    r.register(DOUBLE, |x: u32, _ctx| async move {
        Ok::<_, FunctionError>(2 * x)
    });
    r.register(SUM, |xs: Vec<u32>, ctx| async move {
        Ok::<_, FunctionError>(ctx.map(DOUBLE, xs).await?.into_iter().sum())
    });
    r.register(SLEEP, |ms: u64, _ctx| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<_, FunctionError>(ms)
    });
    r
}

fn store(name: &str) -> Store {
    Store::open(&format!("memory://worker-tests-{name}")).unwrap()
}

async fn start(id: &str, config: EmbeddedConfig) -> RunningWorker {
    let worker = Worker::new(registry(), store(id), config, id);
    RunningWorker::start(worker, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

fn invoker(platform: Arc<dyn Platform>) -> Invoker {
    let retry = RetryPolicy {
        max_attempts: 3,
        backoff_ms: 1,
        timeout_ms: None,
    };
    Invoker::new(platform, "test-run", retry)
}

/// A plain HTTP client for raw requests (reqwest is built without a bundled crypto provider).
fn client() -> reqwest::Client {
    faasml_store::ensure_crypto_provider();
    reqwest::Client::new()
}

/// A loopback URL nothing listens on.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
async fn success_carries_the_output_and_the_workers_cold_then_warm_records() {
    let worker = start("w-ok", EmbeddedConfig::default()).await;
    let invoker = invoker(HttpPlatform::new(&worker.url()).unwrap());
    let input = json!({"keys": ["a", "b"], "n": 3, "nothing": null});
    assert_eq!(invoker.invoke(ECHO, &input).await.unwrap(), input);
    assert_eq!(
        invoker.invoke(ECHO, &Value::Null).await.unwrap(),
        Value::Null
    );
    let records = invoker.take_records();
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| r.instance == "echo-1@w-ok" && r.is_ok())
    );
    assert!(records[0].cold && !records[1].cold, "{records:?}");
    assert_eq!(
        records[0].payload_in,
        serde_json::to_vec(&input).unwrap().len() as u64
    );
    assert_eq!(records[1].payload_out, 4);
}

#[tokio::test]
async fn failures_come_back_structured_and_are_retried_only_when_retryable() {
    let worker = start("w-fail", EmbeddedConfig::default()).await;
    let invoker = invoker(HttpPlatform::new(&worker.url()).unwrap());

    let err = invoker.invoke(FAIL, &()).await.unwrap_err();
    match &err {
        InvokeError::Failed {
            function,
            attempts,
            error,
        } => {
            assert_eq!((function.as_str(), *attempts), ("t.fail", 3));
            assert_eq!(error.error_type, "boom");
            assert!(error.retryable);
        }
        other => panic!("{other:?}"),
    }
    let records = invoker.take_records();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(records.iter().all(|r| matches!(
        &r.outcome,
        Outcome::Error { error_type, .. } if error_type == "boom"
    )));

    assert_eq!(invoker.invoke(FLAKY, &()).await.unwrap(), 2);
    invoker.take_records();

    let err = invoker.invoke(PERMANENT, &()).await.unwrap_err();
    assert!(
        matches!(&err, InvokeError::Failed { attempts: 1, error, .. } if !error.retryable),
        "{err:?}"
    );
    assert_eq!(invoker.take_records().len(), 1);
}

#[tokio::test]
async fn a_panic_is_an_error_of_type_panic_and_the_worker_keeps_serving() {
    let worker = start("w-panic", EmbeddedConfig::default()).await;
    let invoker = invoker(HttpPlatform::new(&worker.url()).unwrap());
    let err = invoker.invoke(PANIC, &()).await.unwrap_err();
    match &err {
        InvokeError::Failed { error, .. } => {
            assert_eq!(error.error_type, "panic");
            assert!(
                error.error_message.contains("the function blew up"),
                "{error:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let records = invoker.take_records();
    // A failed instance is not reused: every attempt starts a new (cold) one.
    assert!(records.iter().all(|r| r.cold), "{records:?}");
    assert_eq!(invoker.invoke(DOUBLE, &21).await.unwrap(), 42);
}

#[tokio::test]
async fn unknown_functions_bad_json_and_bad_headers_get_structured_answers() {
    let worker = start("w-bad", EmbeddedConfig::default()).await;
    let invoker = invoker(HttpPlatform::new(&worker.url()).unwrap());
    const MISSING: FunctionRef<(), ()> = FunctionRef::new("t.missing");
    let err = invoker.invoke(MISSING, &()).await.unwrap_err();
    match &err {
        InvokeError::UnknownFunction { function, known } => {
            assert_eq!(function, "t.missing");
            assert!(known.contains("t.echo"), "{known}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        invoker.take_records().is_empty(),
        "an unknown function is not retried"
    );

    let client = client();
    let url = |name: &str| format!("{}/function/{name}", worker.url());
    let response = client
        .post(url("t.missing"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["error_type"], "unknown-function");
    assert_eq!(body["error"]["retryable"], false);

    let response = client
        .post(url("t.double"))
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-faasml-function-error"], "bad-input");
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["error_type"], "bad-input");
    assert_eq!(body["error"]["retryable"], false);
    assert_eq!(body["record"]["outcome"]["status"], "error");
    assert!(body.get("output").is_none());

    let response = client
        .post(url("t.double"))
        .header("x-faasml-attempt", "second")
        .body("1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert!(
        body["error"]["error_message"]
            .as_str()
            .unwrap()
            .contains("x-faasml-attempt"),
        "{body}"
    );

    // Headers are optional: a bare POST runs the function as a fresh `adhoc-...` run, attempt 1.
    let response = client.post(url("t.double")).body("5").send().await.unwrap();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["output"], 10);
    assert_eq!(body["record"]["attempt"], 1);

    // A run id reaches store keys: one that breaks the rule is a 400 naming the rule.
    for bad in ["../escape", "a/b", ".hidden"] {
        let response = client
            .post(url("t.double"))
            .header("x-faasml-run-id", bad)
            .body("1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        let message = body["error"]["error_message"].as_str().unwrap();
        assert!(
            message.contains("invalid run id") && message.contains("A-Z a-z 0-9"),
            "{message}"
        );
    }
}

const COUNT: FunctionRef<(), usize> = FunctionRef::new("t.count");

/// A worker whose only function counts its runs in `runs`, checking signatures with `key`.
async fn start_keyed(
    id: &str,
    key: &Key,
    runs: &'static std::sync::atomic::AtomicUsize,
) -> RunningWorker {
    let mut registry = Registry::new();
    registry.register(COUNT, move |(), _ctx| async move {
        Ok::<_, FunctionError>(runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1)
    });
    let worker = Worker::with_auth(
        registry,
        store(id),
        EmbeddedConfig::default(),
        id,
        Some(Verifier::new(key.clone())),
    );
    RunningWorker::start(worker, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

/// The status and the envelope's error message of a response.
async fn refusal(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["error_type"], "unauthorized", "{body}");
    (
        status,
        body["error"]["error_message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn a_keyed_worker_runs_only_signed_requests_and_refuses_replays() {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let runs = || RUNS.load(std::sync::atomic::Ordering::SeqCst);
    let key = Key::from_bytes(b"a test key of 32 bytes, not real").unwrap();
    let worker = start_keyed("w-keyed", &key, &RUNS).await;
    let client = client();
    let url = format!("{}/function/t.count", worker.url());

    // Unsigned: 401, and nothing ran.
    let (status, message) = refusal(client.post(&url).body("null").send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(message.starts_with("missing signature"), "{message}");
    assert_eq!(runs(), 0);

    // Signed by hand: 200. The same request again: a replay, refused.
    let signature = key
        .sign("POST", "/function/t.count", "run-7", b"null")
        .unwrap();
    let signed = || {
        let mut request = client
            .post(&url)
            .header("x-faasml-run-id", "run-7")
            .body("null");
        for (name, value) in signature.to_headers() {
            request = request.header(name, value);
        }
        request
    };
    let response = signed().send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["output"], 1);
    let (status, message) = refusal(signed().send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(message.starts_with("nonce replayed"), "{message}");
    assert_eq!(runs(), 1);

    // A changed run id, another key, or an old timestamp: refused, and nothing ran.
    let fresh = key
        .sign("POST", "/function/t.count", "run-7", b"null")
        .unwrap();
    let mut request = client
        .post(&url)
        .header("x-faasml-run-id", "run-8")
        .body("null");
    for (name, value) in fresh.to_headers() {
        request = request.header(name, value);
    }
    let (status, message) = refusal(request.send().await.unwrap()).await;
    assert_eq!(
        (status, message.starts_with("bad signature")),
        (401, true),
        "{message}"
    );
    let other = Key::from_bytes(b"another key of 32 bytes, not it!").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (signer, timestamp, expected) in [
        (&other, now, "bad signature"),
        (
            &key,
            now - 3600,
            "stale signature: timestamp -3600 s outside the ±300 s window",
        ),
    ] {
        let s = signer.sign_at(
            "POST",
            "/function/t.count",
            "",
            b"null",
            timestamp,
            &format!("{:032x}", timestamp + 1),
        );
        let mut request = client.post(&url).body("null");
        for (name, value) in s.to_headers() {
            request = request.header(name, value);
        }
        let (status, message) = refusal(request.send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert!(message.starts_with(expected), "{message}");
        assert!(!message.contains("test key"), "{message}");
    }
    assert_eq!(runs(), 1);

    // The http platform signs every attempt; without the key it gets the worker's message.
    let signing = HttpPlatform::with_config(
        &worker.url(),
        HttpConfig::default().with_key(Some(key.clone())),
        None,
    )
    .unwrap();
    let invoker = invoker(signing);
    assert_eq!(invoker.invoke(COUNT, &()).await.unwrap(), 2);
    assert_eq!(invoker.invoke(COUNT, &()).await.unwrap(), 3);
    let unsigned = invoker_for_url(&worker.url());
    let err = unsigned.invoke(COUNT, &()).await.unwrap_err().to_string();
    assert!(
        err.contains("401") && err.contains("missing signature"),
        "{err}"
    );
    assert_eq!(runs(), 3);

    // The probes stay open.
    for path in ["/healthz", "/_/health", "/readyz"] {
        let response = client
            .get(format!("{}{path}", worker.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let worker = start("w-health", EmbeddedConfig::default()).await;
    let client = client();
    let health = client
        .get(format!("{}/healthz", worker.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = client
        .get(format!("{}/readyz", worker.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = serde_json::from_slice(&ready.bytes().await.unwrap()).unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["worker"], "w-health");

    // A store that cannot be read makes the worker unready, not dead.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let broken = Store::open(&format!("file://{}", root.display())).unwrap();
    // Opening writes nothing (the directory comes with the first object), so a file can take
    // the directory's place.
    assert!(!root.exists());
    std::fs::write(&root, b"not a directory").unwrap();
    let worker = Worker::new(registry(), broken, EmbeddedConfig::default(), "w-unready");
    let worker = RunningWorker::start(worker, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let ready = client
        .get(format!("{}/readyz", worker.url()))
        .send()
        .await
        .unwrap();
    let status = ready.status();
    let body: Value = serde_json::from_slice(&ready.bytes().await.unwrap()).unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not-ready");
    assert!(body["reason"].as_str().unwrap().contains("store"), "{body}");
    let health = client
        .get(format!("{}/healthz", worker.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn fan_out_goes_through_the_gateway_to_every_worker_with_consistent_records() {
    // Workers b and c run the children; a runs the driver and sends its fan-out to b and c.
    let b = start("w-b", EmbeddedConfig::default()).await;
    let c = start("w-c", EmbeddedConfig::default()).await;
    let nested = HttpPlatform::new(&format!("{},{}", b.url(), c.url())).unwrap();
    let a = start(
        "w-a",
        EmbeddedConfig {
            nested: Some(nested),
            ..EmbeddedConfig::default()
        },
    )
    .await;
    let invoker = invoker(HttpPlatform::new(&a.url()).unwrap());
    assert_eq!(invoker.invoke(SUM, &vec![1, 2, 3, 4]).await.unwrap(), 20);
    let records = invoker.take_records();
    assert_eq!(records.len(), 5);
    let driver = records.iter().find(|r| r.function == "t.sum").unwrap();
    assert_eq!(driver.instance, "sum-1@w-a");
    assert_eq!(driver.parent, None);
    let children: Vec<_> = records
        .iter()
        .filter(|r| r.function == "t.double")
        .collect();
    assert_eq!(children.len(), 4);
    for child in &children {
        assert_eq!(child.parent.as_deref(), Some("sum-1@w-a"), "{child:?}");
    }
    let on = |w: &str| children.iter().filter(|r| r.instance.ends_with(w)).count();
    assert_eq!((on("@w-b"), on("@w-c")), (2, 2), "{children:?}");

    // Without a gateway the fan-out stays in the worker, with the same record shape.
    let invoker2 = invoker_for(&b);
    assert_eq!(invoker2.invoke(SUM, &vec![5]).await.unwrap(), 10);
    let records = invoker2.take_records();
    let child = records.iter().find(|r| r.function == "t.double").unwrap();
    assert_eq!(child.parent.as_deref(), Some("sum-1@w-b"));
    assert!(child.instance.ends_with("@w-b"));
}

fn invoker_for(worker: &RunningWorker) -> Invoker {
    invoker(HttpPlatform::new(&worker.url()).unwrap())
}

#[tokio::test]
async fn refused_workers_are_skipped_and_unreachable_ones_fail_with_a_clear_error() {
    let live = start("w-live", EmbeddedConfig::default()).await;
    let dead = dead_url();
    let platform = HttpPlatform::new(&format!("{dead},{},{dead}", live.url())).unwrap();
    let invoker = invoker(platform);
    for i in 0..6u32 {
        assert_eq!(invoker.invoke(DOUBLE, &i).await.unwrap(), 2 * i);
    }
    let records = invoker.take_records();
    assert_eq!(records.len(), 6);
    assert!(records.iter().all(|r| r.instance.ends_with("@w-live")));

    let invoker = invoker_for_url(&dead);
    let err = invoker.invoke(DOUBLE, &1).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("'t.double' failed after 3 attempt(s)")
            && message.contains("no worker could be reached"),
        "{message}"
    );
    let records = invoker.take_records();
    assert_eq!(records.len(), 3, "every failed delivery is recorded");
    assert!(records.iter().all(|r| r.instance == "-"));
}

fn invoker_for_url(url: &str) -> Invoker {
    invoker(HttpPlatform::new(url).unwrap())
}

#[tokio::test]
async fn stopping_a_worker_lets_requests_in_flight_finish() {
    let worker = start("w-stop", EmbeddedConfig::default()).await;
    let url = worker.url();
    let invoker = invoker_for_url(&url);
    let call = tokio::spawn(async move { invoker.invoke(SLEEP, &300).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    worker.stop().await.unwrap();
    assert_eq!(call.await.unwrap().unwrap(), 300);
    let after = invoker_for_url(&url).invoke(SLEEP, &1).await.unwrap_err();
    assert!(
        after.to_string().contains("no worker could be reached"),
        "{after}"
    );
}

#[tokio::test]
async fn a_keyed_lambda_sandbox_runs_only_signed_events() {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let key = Key::from_bytes(b"a lambda key of 32 bytes, unreal").unwrap();
    let mut registry = Registry::new();
    registry.register(COUNT, |(), _ctx| async move {
        Ok::<_, FunctionError>(RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1)
    });
    let worker = Worker::with_auth(
        registry,
        store("lambda-keyed"),
        EmbeddedConfig::default(),
        "sandbox-1",
        Some(Verifier::new(key.clone())),
    );
    let event = || -> faasml_worker::LambdaRequest {
        serde_json::from_value(json!({"function": "t.count", "payload": null, "run_id": "r-1"}))
            .unwrap()
    };
    let refused = faasml_worker::lambda::handle(&worker, event())
        .await
        .unwrap_err();
    assert_eq!(refused.error_type, "unauthorized");
    assert!(
        refused.error_message.starts_with("missing signature"),
        "{}",
        refused.error_message
    );
    assert_eq!(RUNS.load(std::sync::atomic::Ordering::SeqCst), 0);

    let mut signed = event();
    signed.sign(&key).unwrap();
    let replay: faasml_worker::LambdaRequest =
        serde_json::from_str(&serde_json::to_string(&signed).unwrap()).unwrap();
    let envelope = faasml_worker::lambda::handle(&worker, signed)
        .await
        .unwrap();
    assert_eq!(envelope.output.unwrap().get(), "1");
    let refused = faasml_worker::lambda::handle(&worker, replay)
        .await
        .unwrap_err();
    assert!(
        refused.error_message.starts_with("nonce replayed"),
        "{}",
        refused.error_message
    );
    assert_eq!(RUNS.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// Regression (review): an unsigned request that declares a body and never sends it used to be
/// admitted first, holding a slot and a body reservation; a keyed worker now refuses it from its
/// headers alone, before reading any body.
#[tokio::test]
async fn a_keyed_worker_refuses_unsigned_requests_before_reading_their_body() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let key = Key::from_bytes(b"a test key of 32 bytes, not real").unwrap();
    let worker = start_keyed("w-early", &key, &RUNS).await;
    let mut stream = tokio::net::TcpStream::connect(worker.addr()).await.unwrap();
    stream
        .write_all(
            b"POST /function/t.count HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\
              connection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("answered without waiting for the body")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("missing signature"), "{answer}");
    assert_eq!(RUNS.load(std::sync::atomic::Ordering::SeqCst), 0);
}
