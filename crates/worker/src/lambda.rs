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
//! An event may also be an SNS notification (the seed's trigger: a publisher sends each batch to
//! an SNS topic subscribed by the function): `Records[0].Sns.Message` then holds the
//! `LambdaRequest` as a JSON string ([`request_from_event`]). A Lambda function deployed for one
//! faasml function (`FAASML_FUNCTION`, one per algorithm and memory size in the SAM template of
//! `faasml deploy lambda`) refuses events for any other.
//!
//! [`run`] drives the `lambda_runtime` crate, which polls
//! `GET /2018-06-01/runtime/invocation/next` on `AWS_LAMBDA_RUNTIME_API`; it checks the
//! environment that crate needs first, so a missing variable is an error rather than a panic.

use std::sync::Arc;

use bytes::Bytes;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::value::RawValue;

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

/// The variable naming the only faasml function a Lambda function serves, when it serves one.
pub const FUNCTION_ENV: &str = "FAASML_FUNCTION";

/// The request inside a Lambda event: the event itself, or for an SNS notification
/// (`{"Records": [{"Sns": {"Message": "..."}}]}`) its first record's message, a JSON string.
/// Anything else is a `bad-request` diagnostic naming what is wrong.
pub fn request_from_event(event: &str) -> Result<LambdaRequest, Diagnostic> {
    let bad = |message: String| Diagnostic {
        error_type: "bad-request".to_string(),
        error_message: message,
    };
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "Records")]
        records: Option<Vec<Record>>,
    }
    #[derive(serde::Deserialize)]
    struct Record {
        #[serde(rename = "Sns")]
        sns: Option<Sns>,
    }
    #[derive(serde::Deserialize)]
    struct Sns {
        #[serde(rename = "Message")]
        message: String,
    }
    let probe: Probe = serde_json::from_str(event)
        .map_err(|e| bad(format!("the event is not a JSON object: {e}")))?;
    match probe.records {
        None => serde_json::from_str(event)
            .map_err(|e| bad(format!("the event is not a faasml request: {e}"))),
        Some(records) => {
            let message = records
                .into_iter()
                .next()
                .and_then(|r| r.sns)
                .ok_or_else(|| bad("an event with Records but no Records[0].Sns".to_string()))?
                .message;
            serde_json::from_str(&message).map_err(|e| {
                bad(format!(
                    "Records[0].Sns.Message is not a faasml request \
                     ({{\"function\": ..., \"payload\": ...}}): {e}"
                ))
            })
        }
    }
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
    if let Ok(only) = std::env::var(FUNCTION_ENV)
        && !only.is_empty()
        && only != request.function
    {
        return Err(Diagnostic {
            error_type: "bad-request".to_string(),
            error_message: format!(
                "this Lambda function serves only {only} ({FUNCTION_ENV}), not {}",
                request.function
            ),
        });
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
    let handler = service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let worker = Arc::clone(&worker);
        async move {
            let request = request_from_event(event.payload.get())?;
            handle(&worker, request).await
        }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(|e| WorkerError::Lambda {
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sns_notifications_carry_the_request_in_their_message() {
        let direct = r#"{"function": "faasml.noop", "payload": null, "run_id": "r-1"}"#;
        assert_eq!(request_from_event(direct).unwrap().function, "faasml.noop");
        let sns = serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {
            "MessageId": "m-1", "Message": direct}}]})
        .to_string();
        let request = request_from_event(&sns).unwrap();
        assert_eq!(request.function, "faasml.noop");
        assert_eq!(request.run_id.as_deref(), Some("r-1"));
        for (event, says) in [
            ("[1]", "not a JSON object"),
            (r#"{"Records": []}"#, "Records[0].Sns"),
            (
                r#"{"Records": [{"Sns": {"Message": "texts"}}]}"#,
                "Sns.Message is not",
            ),
            (r#"{"payload": 1}"#, "not a faasml request"),
        ] {
            let e = request_from_event(event).unwrap_err();
            assert_eq!(e.error_type, "bad-request");
            assert!(
                e.error_message.contains(says),
                "{event}: {}",
                e.error_message
            );
        }
    }
}
