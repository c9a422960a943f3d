//! The AWS Lambda adapter: the worker's functions behind the Lambda runtime API.
//!
//! One Lambda function (one container image or `bootstrap` binary) serves every faasml
//! function. Each event is a [`LambdaRequest`],
//! `{"function": "ml-inference.predict", "payload": {...}, "run_id": ..., "attempt": ...,
//! "parent": ..., "retry": {...}}`; the response is the same [`Envelope`] the HTTP worker sends,
//! posted to `/runtime/invocation/<id>/response` also when the function failed (the envelope's
//! `error` says so, with the record). Only an event that cannot be run at all (an unknown
//! function, an event that is not a `LambdaRequest`) is posted to `/error`, with `errorType` and
//! `errorMessage`; so is an event refused by the sandbox's key (type `unauthorized`: its `auth`
//! signature is missing, wrong, stale or replayed, see [`crate::auth`]) or naming an invalid run
//! id (type `bad-request`). The sandbox is the instance: its first invocation of a function is cold, and
//! instance ids are qualified with the log stream name, unique per sandbox.
//!
//! [`run`] drives the `lambda_runtime` crate, which polls
//! `GET /2018-06-01/runtime/invocation/next` on `AWS_LAMBDA_RUNTIME_API`; it checks the
//! environment that crate needs first, so a missing variable is an error rather than a panic.

use std::sync::Arc;

use bytes::Bytes;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

use crate::error::WorkerError;
use crate::protocol::{Envelope, LambdaRequest};
use crate::server::{Delivery, Worker};

/// The environment variables the Lambda runtime requires.
pub const REQUIRED_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
];

/// The worker id a Lambda sandbox uses: its log stream name, else the function name.
pub fn sandbox_id() -> String {
    ["AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_FUNCTION_NAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "lambda".to_string())
}

/// Checks that the runtime's environment is complete.
pub fn check_env() -> Result<(), WorkerError> {
    let missing: Vec<&str> = REQUIRED_ENV
        .iter()
        .copied()
        .filter(|v| std::env::var(v).map_or(true, |x| x.is_empty()))
        .collect();
    if !missing.is_empty() {
        return Err(WorkerError::Lambda {
            reason: format!(
                "missing environment variable(s) {} (set by AWS Lambda, or by the emulator)",
                missing.join(", ")
            ),
        });
    }
    let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    if memory.parse::<i32>().is_err() {
        return Err(WorkerError::Lambda {
            reason: format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE is '{memory}', not a number"),
        });
    }
    Ok(())
}

/// Handles one Lambda event on `worker`.
pub async fn handle(worker: &Worker, request: LambdaRequest) -> Result<Envelope, Diagnostic> {
    // A sandbox with a key runs only events whose `auth` verifies.
    if let Some(verifier) = worker.auth() {
        request.verify(verifier).map_err(|e| Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        })?;
    }
    let meta = request.meta().map_err(|e| Diagnostic {
        error_type: "bad-request".to_string(),
        error_message: e.to_string(),
    })?;
    let payload = Bytes::from(request.payload.get().to_string());
    let executed = worker.execute(&request.function, payload, meta).await;
    match executed.delivery {
        Delivery::Ran => Ok(executed.envelope),
        // Within the crate the match is exhaustive: a new kind of delivery is decided here.
        Delivery::UnknownFunction
        | Delivery::Unavailable
        | Delivery::TimedOut
        | Delivery::BadRequest => {
            let (error_type, error_message) = match executed.envelope.error {
                Some(e) => (e.error_type, e.error_message),
                None => (
                    "unavailable".to_string(),
                    "the worker cannot run it".to_string(),
                ),
            };
            Err(Diagnostic {
                error_type,
                error_message,
            })
        }
    }
}

/// Serves `worker` on the Lambda runtime API until the runtime stops.
pub async fn run(worker: Arc<Worker>) -> Result<(), WorkerError> {
    check_env()?;
    let handler = service_fn(move |event: LambdaEvent<LambdaRequest>| {
        let worker = Arc::clone(&worker);
        async move { handle(&worker, event.payload).await }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(|e| WorkerError::Lambda {
            reason: e.to_string(),
        })
}
