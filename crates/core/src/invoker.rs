//! The invoker: typed invocation and fan-out with retries, collecting every attempt's record.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{FunctionError, InvokeError};
use crate::function::FunctionRef;
use crate::platform::{InvocationRequest, Platform};
use crate::record::{InvocationRecord, Outcome, now_micros};

/// The longest pause a platform's `retry_after` can impose between two attempts.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How often and how patiently an invocation is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (at least 1).
    pub max_attempts: u32,
    /// Pause before the first retry in milliseconds; it doubles for each further retry.
    pub backoff_ms: u64,
    /// Time limit of one attempt in milliseconds, if any.
    pub timeout_ms: Option<u64>,
}

impl Default for RetryPolicy {
    /// Three attempts, 10 ms initial backoff, no timeout.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff_ms: 10,
            timeout_ms: None,
        }
    }
}

/// Invokes functions on a platform on behalf of a caller, with retries, and keeps the records.
#[derive(Debug, Clone)]
pub struct Invoker {
    platform: Arc<dyn Platform>,
    run_id: Arc<str>,
    parent: Option<Arc<str>>,
    retry: RetryPolicy,
    records: Arc<Mutex<Vec<InvocationRecord>>>,
}

impl Invoker {
    /// An invoker for the run `run_id`, calling from outside any function.
    pub fn new(platform: Arc<dyn Platform>, run_id: &str, retry: RetryPolicy) -> Self {
        Self {
            platform,
            run_id: Arc::from(run_id),
            parent: None,
            retry,
            records: Arc::default(),
        }
    }

    /// An invoker for the invocations made by `parent` (an instance id) in the same run.
    pub fn for_instance(
        platform: Arc<dyn Platform>,
        run_id: &str,
        parent: &str,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            parent: Some(Arc::from(parent)),
            ..Self::new(platform, run_id, retry)
        }
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The platform invocations go to.
    pub fn platform(&self) -> &Arc<dyn Platform> {
        &self.platform
    }

    /// Removes and returns the records collected so far, in completion order.
    pub fn take_records(&self) -> Vec<InvocationRecord> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn push_records(&self, records: impl IntoIterator<Item = InvocationRecord>) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(records);
    }

    /// Invokes `function` with `input` and parses its output.
    pub async fn invoke<I: Serialize, O: DeserializeOwned>(
        &self,
        function: FunctionRef<I, O>,
        input: &I,
    ) -> Result<O, InvokeError> {
        self.invoke_task(function, input, None).await
    }

    async fn invoke_task<I: Serialize, O: DeserializeOwned>(
        &self,
        function: FunctionRef<I, O>,
        input: &I,
        task: Option<u32>,
    ) -> Result<O, InvokeError> {
        let payload = serde_json::to_vec(input).map_err(|e| InvokeError::Payload {
            function: function.name().to_string(),
            reason: format!("cannot encode the input: {e}"),
        })?;
        let output = self
            .invoke_raw_task(function.name(), Bytes::from(payload), task)
            .await?;
        serde_json::from_slice(&output).map_err(|e| InvokeError::Payload {
            function: function.name().to_string(),
            reason: format!("cannot parse the output: {e}"),
        })
    }

    /// Invokes `function` once per input, all at once, and returns the outputs in input order.
    ///
    /// Every invocation is awaited even when one fails, so no work is left running unobserved;
    /// the first failure (in input order) is returned. Each invocation's record carries its
    /// index in `inputs` as its task number.
    pub async fn map<I: Serialize, O: DeserializeOwned>(
        &self,
        function: FunctionRef<I, O>,
        inputs: Vec<I>,
    ) -> Result<Vec<O>, InvokeError> {
        let calls = inputs.iter().enumerate().map(|(i, input)| {
            let task = u32::try_from(i).ok();
            self.invoke_task(function, input, task)
        });
        futures::future::join_all(calls).await.into_iter().collect()
    }

    /// Invokes a function by name with a JSON payload, retrying per the policy.
    pub async fn invoke_raw(&self, function: &str, payload: Bytes) -> Result<Bytes, InvokeError> {
        self.invoke_raw_task(function, payload, None).await
    }

    async fn invoke_raw_task(
        &self,
        function: &str,
        payload: Bytes,
        task: Option<u32>,
    ) -> Result<Bytes, InvokeError> {
        if let Some(limit) = self.platform.payload_limit()
            && payload.len() as u64 > limit
        {
            return Err(InvokeError::Payload {
                function: function.to_string(),
                reason: format!(
                    "{} bytes, above the {} platform's payload limit of {limit} bytes \
                     (--payload-limit)",
                    payload.len(),
                    self.platform.name()
                ),
            });
        }
        let max_attempts = self.retry.max_attempts.max(1);
        let mut backoff = Duration::from_millis(self.retry.backoff_ms);
        let mut attempt = 1;
        loop {
            let request = InvocationRequest {
                run_id: self.run_id.to_string(),
                function: function.to_string(),
                payload: payload.clone(),
                attempt,
                parent: self.parent.as_deref().map(str::to_string),
                task,
                retry: self.retry,
            };
            let (error, retry_after) = match self.attempt(request).await {
                Ok(Ok(output)) => return Ok(output),
                Ok(Err(failure)) => failure,
                Err(fatal) => return Err(fatal),
            };
            if !error.retryable || attempt >= max_attempts {
                return Err(InvokeError::Failed {
                    function: function.to_string(),
                    attempts: attempt,
                    error,
                });
            }
            // A platform that asked for a pause (an overloaded worker's Retry-After) gets it, up
            // to a bound, when it is longer than the backoff.
            let pause = backoff.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
            tokio::time::sleep(pause).await;
            backoff = backoff.saturating_mul(2);
            attempt += 1;
        }
    }

    /// One attempt: `Err` is fatal (no retry), `Ok(Err)` may be retried, no sooner than the
    /// pause the platform asked for, if any.
    async fn attempt(
        &self,
        request: InvocationRequest,
    ) -> Result<Result<Bytes, (FunctionError, Option<Duration>)>, InvokeError> {
        let function = request.function.clone();
        let attempt = request.attempt;
        let task = request.task;
        let payload_in = request.payload.len() as u64;
        let start_us = now_micros();
        let call = self.platform.invoke(request);
        let delivered = match self.retry.timeout_ms {
            Some(ms) => match tokio::time::timeout(Duration::from_millis(ms), call).await {
                Ok(delivered) => delivered,
                Err(_) => {
                    let seconds = ms as f64 / 1000.0;
                    let error = InvokeError::Timeout {
                        function: function.clone(),
                        seconds,
                    };
                    Err(error)
                }
            },
            None => call.await,
        };
        match delivered {
            Ok(mut response) => {
                // The caller's clock says when it submitted the attempt; platforms that measure
                // their own queueing (the embedded one) have set it already.
                if response.record.submit_us == 0 {
                    response.record.submit_us = start_us;
                }
                self.push_records(response.nested);
                self.push_records([response.record]);
                Ok(response.result.map_err(|error| (error, None)))
            }
            Err(e @ (InvokeError::UnknownFunction { .. } | InvokeError::BadRequest { .. })) => {
                Err(e)
            }
            Err(e) => {
                // The platform could not run it: record the failed delivery, and retry it.
                let retry_after = match &e {
                    InvokeError::Unavailable { retry_after, .. } => *retry_after,
                    _ => None,
                };
                let error = FunctionError::new("delivery", e.to_string());
                self.push_records([InvocationRecord {
                    function,
                    instance: "-".to_string(),
                    parent: self.parent.as_deref().map(str::to_string),
                    attempt,
                    cold: false,
                    task,
                    submit_us: start_us,
                    start_us,
                    end_us: now_micros(),
                    bytes_read: 0,
                    bytes_written: 0,
                    payload_in,
                    payload_out: 0,
                    cpu_us: 0,
                    peak_rss_bytes: 0,
                    outcome: Outcome::Error {
                        error_type: error.error_type.clone(),
                        error_message: error.error_message.clone(),
                    },
                }]);
                Ok(Err((error, retry_after)))
            }
        }
    }
}
