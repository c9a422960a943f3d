//! `faasml lambda` against the AWS Lambda Runtime API contract, implemented here: a small HTTP
//! server on 127.0.0.1 hands out events on `GET /2018-06-01/runtime/invocation/next` (with the
//! request id, deadline and function ARN headers) and collects what the real `faasml lambda`
//! process posts to `/runtime/invocation/<id>/response` and `/error`. Events come direct or, as
//! the inference benchmark's seed sends them, inside an SNS notification.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// What the runtime posted back for one request id.
#[derive(Debug)]
struct Posted {
    id: String,
    kind: &'static str,
    body: Value,
}

struct RuntimeApi {
    events: Mutex<VecDeque<(String, Value)>>,
    arrived: Notify,
    posted: mpsc::UnboundedSender<Posted>,
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> Response {
    loop {
        let event = api
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        if let Some((id, body)) = event {
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 60_000;
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            headers.insert(
                "lambda-runtime-deadline-ms",
                deadline.to_string().parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:faasml"),
            );
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            return (StatusCode::OK, headers, body.to_string()).into_response();
        }
        api.arrived.notified().await;
    }
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()))
}

async fn response(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = api.posted.send(Posted {
        id,
        kind: "response",
        body: parse(&body),
    });
    StatusCode::ACCEPTED
}

async fn error(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = api.posted.send(Posted {
        id,
        kind: "error",
        body: parse(&body),
    });
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> StatusCode {
    let _ = api.posted.send(Posted {
        id: "-".into(),
        kind: "init-error",
        body: parse(&body),
    });
    StatusCode::ACCEPTED
}

/// The `faasml lambda` child, killed when dropped.
struct Sandbox(Child);

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An SNS notification carrying `request` as its message, as Lambda delivers one.
fn sns(request: Value) -> Value {
    json!({"Records": [{
        "EventSource": "aws:sns",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:batches:1",
        "Sns": {"Type": "Notification", "MessageId": "m-1", "Message": request.to_string()}
    }]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_serves_the_functions_behind_the_runtime_api() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let api = Arc::new(RuntimeApi {
        events: Mutex::default(),
        arrived: Notify::new(),
        posted: tx,
    });
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(Arc::clone(&api));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let _sandbox = Sandbox(
        Command::new(env!("CARGO_BIN_EXE_faasml"))
            .arg("lambda")
            .current_dir(dir.path())
            .env_remove("FAASML_GATEWAY")
            .env("FAASML_STORE", &store)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "faasml")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/22/[$LATEST]sandbox1")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/faasml")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("faasml lambda starts"),
    );

    let events = [
        (
            "noop-1",
            json!({"function": "faasml.noop", "payload": null, "run_id": "lambda-test"}),
        ),
        (
            "noop-2",
            json!({"function": "faasml.noop", "payload": null, "run_id": "lambda-test"}),
        ),
        (
            "predict",
            json!({
                "function": "ml-inference.predict",
                "payload": {"model_key": "models/absent/model.safetensors", "sources": []},
                "run_id": "lambda-test",
                "attempt": 2,
                "parent": "driver-1@elsewhere",
                "retry": {"max_attempts": 3, "backoff_ms": 10, "timeout_ms": null}
            }),
        ),
        ("unknown", json!({"function": "nope", "payload": {}})),
        ("malformed", json!({"payload": 1})),
        // The seed's trigger: an SNS notification whose message is the request.
        (
            "sns",
            sns(json!({"function": "faasml.noop", "payload": null, "run_id": "lambda-test"})),
        ),
        (
            "sns-text",
            sns(json!({
                "function": "text-inference.k-means",
                "payload": {"message_id": "m-1", "texts": ["so good"], "model": "absent-text"},
                "run_id": "lambda-test"
            })),
        ),
        (
            "sns-bad",
            json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "a batch"}}]}),
        ),
    ];
    let mut posted = Vec::new();
    for (id, event) in events {
        api.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back((id.to_string(), event));
        api.arrived.notify_one();
        let answer = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no answer to '{id}' within 60 s"))
            .expect("the runtime API is up");
        assert_eq!(answer.id, id, "{answer:?}");
        posted.push(answer);
    }

    let [
        noop1,
        noop2,
        predict,
        unknown,
        malformed,
        sns_noop,
        sns_text,
        sns_bad,
    ] = &posted[..]
    else {
        panic!("{posted:?}")
    };
    assert_eq!(sns_noop.kind, "response", "{sns_noop:?}");
    assert_eq!(sns_noop.body["record"]["function"], "faasml.noop");
    assert_eq!(sns_text.kind, "response", "{sns_text:?}");
    let message = sns_text.body["error"]["error_message"]
        .as_str()
        .unwrap_or("");
    assert!(
        message.contains("models/absent-text/k-means.safetensors")
            && message.contains("text-train"),
        "{sns_text:?}"
    );
    assert_eq!(sns_bad.kind, "error", "{sns_bad:?}");
    assert_eq!(sns_bad.body["errorType"], "bad-request", "{sns_bad:?}");
    for (noop, cold) in [(noop1, true), (noop2, false)] {
        assert_eq!(noop.kind, "response", "{noop:?}");
        assert_eq!(noop.body["output"], Value::Null);
        assert!(noop.body.get("output").is_some(), "{:?}", noop.body);
        let record = &noop.body["record"];
        assert_eq!(record["function"], "faasml.noop");
        assert_eq!(record["instance"], "noop-1@2026/11/22/[$LATEST]sandbox1");
        assert_eq!(record["cold"], cold, "{record}");
        assert_eq!(record["outcome"]["status"], "ok");
    }

    assert_eq!(
        predict.kind, "response",
        "a function failure is an envelope: {predict:?}"
    );
    let error = &predict.body["error"];
    assert_eq!(error["error_type"], "store", "{error}");
    assert!(
        error["error_message"]
            .as_str()
            .unwrap()
            .contains("models/absent/model.safetensors"),
        "{error}"
    );
    assert_eq!(predict.body["record"]["attempt"], 2);
    assert_eq!(predict.body["record"]["parent"], "driver-1@elsewhere");
    assert_eq!(predict.body["record"]["outcome"]["status"], "error");

    assert_eq!(unknown.kind, "error", "{unknown:?}");
    assert_eq!(unknown.body["errorType"], "unknown-function");
    assert!(
        unknown.body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("no function named 'nope'"),
        "{unknown:?}"
    );

    assert_eq!(malformed.kind, "error", "{malformed:?}");
    assert!(
        malformed.body["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("function"),
        "{malformed:?}"
    );
}

#[test]
fn lambda_outside_lambda_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_faasml"))
        .arg("lambda")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("AWS_LAMBDA_FUNCTION_NAME")
        .output()
        .expect("faasml runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("missing environment variable(s) AWS_LAMBDA_RUNTIME_API"),
        "{stderr}"
    );
}
