//! The faasml wire protocol, shared by the worker server, the `http` platform and Lambda.
//!
//! **Request.** `POST /function/<name>` (the OpenFaaS gateway convention) with the function's
//! JSON input as the body, unchanged. Everything else travels in headers, all optional (a bare
//! `curl -d '{}' .../function/noop` works):
//!
//! | header | meaning | default |
//! | --- | --- | --- |
//! | `x-faasml-run-id` | the run the invocation belongs to; checked with [`faasml_core::check_run_id`] (a bad id is a 400) | a unique `adhoc-<time>-<random>` |
//! | `x-faasml-attempt` | 1 for the first attempt | `1` |
//! | `x-faasml-parent` | the calling instance | none |
//! | `x-faasml-task` | the invocation's index in its caller's fan-out | none |
//! | `x-faasml-max-attempts`, `x-faasml-backoff-ms`, `x-faasml-timeout-ms` | the run's [`RetryPolicy`], inherited by the invocations the function makes, **clamped by the worker** (below) | [`RetryPolicy::default`] |
//! | `x-faasml-timestamp`, `x-faasml-nonce`, `x-faasml-signature` | the request's signature ([`crate::auth`]), required by a worker with a key | none |
//!
//! **The retry policy is the worker's.** The three retry headers are a request, which the worker
//! clamps to its [`WorkerLimits`](crate::WorkerLimits) before anything runs: attempts to at most
//! its `max_attempts` (default 3, configurable up to 10), the first backoff to 50 ms .. 30 s, and
//! the timeout to at most the function's own spec timeout and the worker's `max_timeout`
//! (default 15 min; a request without a timeout gets that one). The invocation itself runs under
//! the clamped timeout, and the invocations it makes inherit the clamped policy, so no header can
//! make a worker retry faster, more often or longer than it allows.
//!
//! **Response.** A JSON [`Envelope`]:
//! `{"output": <the function's JSON output>, "record": <InvocationRecord>, "nested": [...]}` on
//! success; `{"error": {"error_type", "error_message", "retryable"}, "record": ..., "nested": ...}`
//! when the function ran and failed (a panic is an error of type `panic`). Both are status 200,
//! the function having been delivered; a failure also sets `x-faasml-function-error: <type>` (as
//! Lambda's `X-Amz-Function-Error`). An unknown function is a 404 with `{"error": ..., "known":
//! [names]}`; malformed headers, an invalid run id or an unreadable body are a 400 with
//! `{"error": ...}`, a body over the per-request limit (32 MiB) a 413 (`too-large`); on a worker
//! with a key, a missing, wrong, stale or replayed signature is a 401 of type `unauthorized`
//! that says which. Nothing ran in these cases:
//!
//! | status | error type | when | the caller |
//! | --- | --- | --- | --- |
//! | 503 + `Retry-After` | `overloaded` | the worker is at its cap of invocations or of body bytes in flight (the message names the limit) | retries, elsewhere or after `Retry-After` |
//! | 503 | `cancelled` | the worker's drain deadline passed while it ran | retries elsewhere |
//! | 504 | `timeout` | it ran past its (clamped) timeout and was stopped | retries |
//!
//! These, any other status, a refused or reset connection, a timeout or an unparsable envelope
//! are delivery failures, which the caller's [`Invoker`](faasml_core::Invoker) retries. A client
//! that disconnects cancels its invocation and everything it started.
//!
//! **Instances.** Records carry instance ids qualified with the worker id, `pca-1@host:8081`, so
//! they are unique across workers: the worker's embedded platform creates them that way
//! ([`faasml_core::EmbeddedConfig::worker_id`]).
//!
//! **Lambda.** The event is a [`LambdaRequest`], `{"function", "payload", "run_id", "attempt",
//! "parent", "retry", "auth"}`, and the response is the same [`Envelope`]. `auth` is the
//! [`Signature`] `{timestamp, nonce, signature}` over method `LAMBDA`, the function name as the
//! path, the run id and the payload's JSON text, required when the sandbox has a key.

use bytes::Bytes;
use faasml_core::{FunctionError, InvocationRecord, InvocationResponse, RetryPolicy};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::auth::{AuthError, Key, LAMBDA_METHOD, Signature, Verifier};
use crate::error::WorkerError;

/// Header carrying the run id.
pub const HEADER_RUN_ID: &str = "x-faasml-run-id";
/// Header carrying the attempt number (1 for the first).
pub const HEADER_ATTEMPT: &str = "x-faasml-attempt";
/// Header carrying the calling instance, if any.
pub const HEADER_PARENT: &str = "x-faasml-parent";
/// Header carrying the invocation's index in its caller's fan-out, if any.
pub const HEADER_TASK: &str = "x-faasml-task";
/// Header carrying the retry policy's attempts in total.
pub const HEADER_MAX_ATTEMPTS: &str = "x-faasml-max-attempts";
/// Header carrying the retry policy's first backoff in milliseconds.
pub const HEADER_BACKOFF_MS: &str = "x-faasml-backoff-ms";
/// Header carrying the retry policy's per-attempt timeout in milliseconds (absent: none).
pub const HEADER_TIMEOUT_MS: &str = "x-faasml-timeout-ms";
/// Response header set to the error type when the function ran and failed.
pub const HEADER_FUNCTION_ERROR: &str = "x-faasml-function-error";
/// The path prefix functions are served under.
pub const FUNCTION_PATH: &str = "/function/";
/// The prefix of the unique run id given to an invocation that names none.
pub const ADHOC_RUN_ID: &str = "adhoc";

/// Who is calling and how retries go: everything of an invocation but its name and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    /// The run id.
    pub run_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The calling instance, if any.
    pub parent: Option<String>,
    /// The invocation's index in its caller's fan-out, if any.
    pub task: Option<u32>,
    /// The run's retry policy.
    pub retry: RetryPolicy,
}

impl Default for RequestMeta {
    /// A first attempt of a fresh ad-hoc run (a unique `adhoc-...` id) with the default policy.
    fn default() -> Self {
        Self {
            run_id: faasml_core::new_run_id(ADHOC_RUN_ID),
            attempt: 1,
            parent: None,
            task: None,
            retry: RetryPolicy::default(),
        }
    }
}

impl RequestMeta {
    /// The headers that carry this metadata, as (name, value) pairs.
    pub fn to_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            (HEADER_RUN_ID, self.run_id.clone()),
            (HEADER_ATTEMPT, self.attempt.to_string()),
            (HEADER_MAX_ATTEMPTS, self.retry.max_attempts.to_string()),
            (HEADER_BACKOFF_MS, self.retry.backoff_ms.to_string()),
        ];
        if let Some(parent) = &self.parent {
            headers.push((HEADER_PARENT, parent.clone()));
        }
        if let Some(task) = self.task {
            headers.push((HEADER_TASK, task.to_string()));
        }
        if let Some(ms) = self.retry.timeout_ms {
            headers.push((HEADER_TIMEOUT_MS, ms.to_string()));
        }
        headers
    }

    /// Reads the metadata from headers, `get` returning a header's value by (lowercase) name.
    pub fn from_headers<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, WorkerError> {
        fn number<T: std::str::FromStr>(
            name: &str,
            value: Option<&str>,
        ) -> Result<Option<T>, WorkerError> {
            value
                .map(|v| {
                    v.trim().parse::<T>().map_err(|_| WorkerError::BadHeader {
                        header: name.to_string(),
                        value: v.to_string(),
                    })
                })
                .transpose()
        }
        let defaults = Self::default();
        let retry = RetryPolicy {
            max_attempts: number(HEADER_MAX_ATTEMPTS, get(HEADER_MAX_ATTEMPTS))?
                .unwrap_or(defaults.retry.max_attempts),
            backoff_ms: number(HEADER_BACKOFF_MS, get(HEADER_BACKOFF_MS))?
                .unwrap_or(defaults.retry.backoff_ms),
            timeout_ms: number(HEADER_TIMEOUT_MS, get(HEADER_TIMEOUT_MS))?,
        };
        let run_id = match get(HEADER_RUN_ID) {
            Some(id) => {
                faasml_core::check_run_id(id).map_err(|e| WorkerError::BadRunId {
                    header: HEADER_RUN_ID.to_string(),
                    source: e,
                })?;
                id.to_string()
            }
            None => defaults.run_id,
        };
        Ok(Self {
            run_id,
            attempt: number(HEADER_ATTEMPT, get(HEADER_ATTEMPT))?.unwrap_or(1),
            parent: get(HEADER_PARENT)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            task: number(HEADER_TASK, get(HEADER_TASK))?,
            retry,
        })
    }
}

/// The response body of an invocation, over HTTP and on Lambda alike.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Envelope {
    /// The function's JSON output, verbatim, on success (`null` is an output too).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_raw"
    )]
    pub output: Option<Box<RawValue>>,
    /// Why the function failed, or why it could not be run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FunctionError>,
    /// The worker's record of the attempt (absent only when nothing ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<InvocationRecord>,
    /// The records of the invocations the attempt made, transitively.
    #[serde(default)]
    pub nested: Vec<InvocationRecord>,
    /// The functions the worker serves, on an unknown-function error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known: Vec<String>,
}

/// A present field is `Some`, even when its value is `null`; an absent one is `None` (default).
fn present_raw<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(deserializer).map(Some)
}

impl Envelope {
    /// The envelope of a platform's response; an output that is not JSON becomes an error.
    pub fn from_response(response: InvocationResponse) -> Self {
        let InvocationResponse {
            result,
            mut record,
            nested,
        } = response;
        let (output, error) = match result {
            Ok(bytes) => match std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| RawValue::from_string(text.to_string()).ok())
            {
                Some(raw) => (Some(raw), None),
                None => {
                    let error = FunctionError::permanent(
                        "bad-output",
                        format!("the output of '{}' is not JSON", record.function),
                    );
                    record.outcome = faasml_core::Outcome::Error {
                        error_type: error.error_type.clone(),
                        error_message: error.error_message.clone(),
                    };
                    record.payload_out = 0;
                    (None, Some(error))
                }
            },
            Err(error) => (None, Some(error)),
        };
        Self {
            output,
            error,
            record: Some(record),
            nested,
            known: Vec::new(),
        }
    }

    /// An envelope carrying only an error (nothing ran).
    pub fn failure(error: FunctionError) -> Self {
        Self {
            error: Some(error),
            ..Self::default()
        }
    }

    /// The platform response this envelope describes; `function` names it in errors.
    pub fn into_response(self, function: &str) -> Result<InvocationResponse, WorkerError> {
        let record = self.record.ok_or_else(|| WorkerError::BadEnvelope {
            function: function.to_string(),
            reason: "it carries no record".to_string(),
        })?;
        let result = match (self.output, self.error) {
            (_, Some(error)) => Err(error),
            (Some(output), None) => Ok(Bytes::from(output.get().to_string())),
            (None, None) => {
                return Err(WorkerError::BadEnvelope {
                    function: function.to_string(),
                    reason: "it carries neither an output nor an error".to_string(),
                });
            }
        };
        Ok(InvocationResponse {
            result,
            record,
            nested: self.nested,
        })
    }

    /// The envelope as JSON bytes.
    pub fn to_bytes(&self) -> Bytes {
        // Serialising plain strings, numbers and already-valid raw JSON cannot fail; the fallback
        // is there so that no path panics.
        serde_json::to_vec(self).map(Bytes::from).unwrap_or_else(|e| {
            Bytes::from(format!(
                r#"{{"error":{{"error_type":"bad-envelope","error_message":"cannot encode the envelope: {}","retryable":true}}}}"#,
                e.to_string().replace(['"', '\\'], "'")
            ))
        })
    }
}

/// A Lambda event: which function to run, its input, and the invocation metadata.
#[derive(Debug, Serialize, Deserialize)]
pub struct LambdaRequest {
    /// The function name.
    pub function: String,
    /// The function's JSON input.
    pub payload: Box<RawValue>,
    /// The run id (default `adhoc`).
    #[serde(default)]
    pub run_id: Option<String>,
    /// The attempt number (default 1).
    #[serde(default)]
    pub attempt: Option<u32>,
    /// The calling instance.
    #[serde(default)]
    pub parent: Option<String>,
    /// The invocation's index in its caller's fan-out.
    #[serde(default)]
    pub task: Option<u32>,
    /// The run's retry policy (default [`RetryPolicy::default`]).
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
    /// The event's signature, required by a sandbox with a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Signature>,
}

impl LambdaRequest {
    /// The invocation metadata of the event; an invalid run id is an error.
    pub fn meta(&self) -> Result<RequestMeta, WorkerError> {
        let defaults = RequestMeta::default();
        let run_id = match &self.run_id {
            Some(id) => {
                faasml_core::check_run_id(id).map_err(|e| WorkerError::BadRunId {
                    header: "run_id".to_string(),
                    source: e,
                })?;
                id.clone()
            }
            None => defaults.run_id,
        };
        Ok(RequestMeta {
            run_id,
            attempt: self.attempt.unwrap_or(1),
            parent: self.parent.clone(),
            task: self.task,
            retry: self.retry.unwrap_or(defaults.retry),
        })
    }

    /// Signs the event with `key` (method `LAMBDA`, the function name as the path).
    pub fn sign(&mut self, key: &Key) -> Result<(), AuthError> {
        let run_id = self.run_id.as_deref().unwrap_or("");
        let signature = key.sign(
            LAMBDA_METHOD,
            &self.function,
            run_id,
            self.payload.get().as_bytes(),
        )?;
        self.auth = Some(signature);
        Ok(())
    }

    /// Checks the event's signature with `verifier`.
    pub fn verify(&self, verifier: &Verifier) -> Result<(), AuthError> {
        let signature = self
            .auth
            .as_ref()
            .ok_or(AuthError::MissingSignature { header: "auth" })?;
        let run_id = self.run_id.as_deref().unwrap_or("");
        verifier.verify(
            LAMBDA_METHOD,
            &self.function,
            run_id,
            self.payload.get().as_bytes(),
            signature,
        )
    }
}

pub use faasml_core::dns_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_headers() {
        let meta = RequestMeta {
            run_id: "r-1".into(),
            attempt: 2,
            parent: Some("driver-1@w".into()),
            task: Some(3),
            retry: RetryPolicy {
                max_attempts: 5,
                backoff_ms: 7,
                timeout_ms: Some(900),
            },
        };
        let headers = meta.to_headers();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(h, _)| *h == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(RequestMeta::from_headers(get).unwrap(), meta);
        let adhoc = RequestMeta::from_headers(|_| None).unwrap();
        assert!(adhoc.run_id.starts_with("adhoc-"), "{adhoc:?}");
        assert_ne!(
            adhoc.run_id,
            RequestMeta::from_headers(|_| None).unwrap().run_id
        );
        assert_eq!(
            RequestMeta {
                run_id: String::new(),
                ..adhoc
            },
            RequestMeta {
                run_id: String::new(),
                ..RequestMeta::default()
            }
        );
        let err =
            RequestMeta::from_headers(|h| (h == HEADER_ATTEMPT).then_some("two")).unwrap_err();
        assert!(err.to_string().contains("x-faasml-attempt"), "{err}");
    }

    #[test]
    fn run_ids_are_checked_in_headers_and_lambda_events() {
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            let err =
                RequestMeta::from_headers(|h| (h == HEADER_RUN_ID).then_some(bad)).unwrap_err();
            assert!(err.to_string().contains("invalid run id"), "{bad:?}: {err}");
            let event: LambdaRequest = serde_json::from_value(serde_json::json!({
                "function": "f", "payload": null, "run_id": bad
            }))
            .unwrap();
            assert!(event.meta().is_err(), "{bad:?}");
        }
        let event: LambdaRequest =
            serde_json::from_value(serde_json::json!({"function": "f", "payload": null})).unwrap();
        assert!(event.meta().unwrap().run_id.starts_with("adhoc-"));
    }

    #[test]
    fn lambda_events_are_signed_and_verified() {
        let key = Key::from_bytes(&[7; 32]).unwrap();
        let verifier = Verifier::new(key.clone());
        let mut event: LambdaRequest = serde_json::from_value(serde_json::json!({
            "function": "faasml.noop", "payload": {"a": 1}, "run_id": "r-1"
        }))
        .unwrap();
        assert!(matches!(
            event.verify(&verifier),
            Err(AuthError::MissingSignature { .. })
        ));
        event.sign(&key).unwrap();
        // Through JSON, as Lambda delivers it.
        let text = serde_json::to_string(&event).unwrap();
        let mut received: LambdaRequest = serde_json::from_str(&text).unwrap();
        received.verify(&verifier).unwrap();
        assert!(matches!(
            received.verify(&verifier),
            Err(AuthError::Replayed { .. })
        ));
        received.function = "faasml.other".into();
        assert_eq!(received.verify(&verifier), Err(AuthError::BadSignature));
    }

    #[test]
    fn a_null_output_is_an_output() {
        let envelope: Envelope = serde_json::from_str(r#"{"output": null}"#).unwrap();
        assert_eq!(envelope.output.unwrap().get(), "null");
        let envelope: Envelope = serde_json::from_str(r#"{"nested": []}"#).unwrap();
        assert!(envelope.output.is_none());
    }

    #[test]
    fn envelopes_without_a_record_are_rejected() {
        let err = Envelope::failure(FunctionError::new("x", "y"))
            .into_response("f")
            .unwrap_err();
        assert!(err.to_string().contains("no record"), "{err}");
    }
}
