//! The `http` platform: invocations sent to `faasml serve` workers over the wire protocol.
//!
//! [`HttpPlatform`] implements [`Platform`] by posting the payload to
//! `<base>/function/<name>` with the [`RequestMeta`] headers and decoding the [`Envelope`] (see
//! [`crate::protocol`]). It returns the worker's record of the attempt (the worker decides cold
//! or warm) and the nested records, so a run's report is complete without any shared registry.
//!
//! The [`Gateway`] says where `<base>` is:
//!
//! - one URL (`http://gateway:8080`, an OpenFaaS gateway or a single worker);
//! - a comma-separated list of worker URLs, used round-robin; a worker that refuses the
//!   connection is skipped for the next one within the same attempt, since nothing was delivered;
//! - a template containing `{function}`, replaced by the DNS-safe function name
//!   ([`dns_name`], `ml-training-pca`), as Knative gives each function its own Service host:
//!   `http://{function}.default.example.com`.
//!
//! Transport failures (refused, reset, timed out, a non-protocol status, a body that is not an
//! envelope) are [`InvokeError::Platform`], which the [`Invoker`](faasml_core::Invoker) retries
//! with its bounded policy; a 404 from a worker is [`InvokeError::UnknownFunction`], which it
//! does not. A 503 (an overloaded or draining worker: nothing ran) is skipped for the next worker
//! of a list like a refused connection; when no worker takes the attempt and one answered 503 it
//! is [`InvokeError::Unavailable`] carrying the longest `Retry-After` (whole seconds), which the
//! invoker waits, up to its own bound, instead of a shorter backoff. A 401 (the worker refused
//! the signature) is a delivery failure like the others, carrying the worker's message (`HTTP
//! 401 Unauthorized: bad signature: ...`); each retry is signed afresh, so a replay refused
//! after a lost answer is not repeated.
//!
//! With [`HttpConfig::key`] every request is signed ([`crate::auth`]): a fresh timestamp and nonce
//! per attempt, over the method, the `/function/<name>` path the worker receives (without the
//! prefix of an OpenFaaS gateway, which strips it), the run id and the body. Plain `http://` is
//! the common case; `https://` works through rustls (ring).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use faasml_core::{
    Event, InvocationRequest, InvocationResponse, InvokeError, Observer, Platform, error_chain,
};
use reqwest::StatusCode;

use crate::auth::Key;
use crate::error::WorkerError;
use crate::protocol::{Envelope, FUNCTION_PATH, RequestMeta, dns_name};

/// Where the workers are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gateway {
    /// One base URL for every function.
    Single(String),
    /// Worker base URLs, used in turn.
    RoundRobin(Vec<String>),
    /// A base URL with `{function}` standing for the DNS-safe function name.
    Template(String),
}

impl Gateway {
    /// Parses a URL, a comma-separated list of URLs, or a template containing `{function}`.
    pub fn parse(gateway: &str) -> Result<Self, WorkerError> {
        let bad = |reason: String| WorkerError::BadGateway {
            gateway: gateway.to_string(),
            reason,
        };
        let check = |url: &str| -> Result<String, WorkerError> {
            let probe = url.replace("{function}", "f");
            let parsed = reqwest::Url::parse(&probe).map_err(|e| bad(format!("'{url}': {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(bad(format!("'{url}' is not an http:// or https:// URL")));
            }
            Ok(url.trim_end_matches('/').to_string())
        };
        let parts: Vec<&str> = gateway
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        match parts.as_slice() {
            [] => Err(bad("it is empty".to_string())),
            [one] if one.contains("{function}") => Ok(Self::Template(check(one)?)),
            [one] => Ok(Self::Single(check(one)?)),
            many => {
                if many.iter().any(|p| p.contains("{function}")) {
                    return Err(bad(
                        "a list of URLs cannot contain a {function} template".into()
                    ));
                }
                Ok(Self::RoundRobin(
                    many.iter().map(|p| check(p)).collect::<Result<_, _>>()?,
                ))
            }
        }
    }

    /// The base URLs to try for `function`, in order, starting with turn `turn` of a list.
    fn bases(&self, function: &str, turn: usize) -> Vec<String> {
        match self {
            Self::Single(url) => vec![url.clone()],
            Self::Template(template) => vec![template.replace("{function}", &dns_name(function))],
            Self::RoundRobin(urls) => {
                let n = urls.len();
                (0..n).map(|i| urls[(turn + i) % n].clone()).collect()
            }
        }
    }

    /// The URL that invokes `function` on base `base`.
    fn function_url(base: &str, function: &str) -> String {
        format!("{base}{FUNCTION_PATH}{function}")
    }
}

/// Timeouts and key of the [`HttpPlatform`].
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Time to establish a connection (default 2 s).
    pub connect_timeout: Duration,
    /// Time for a whole request when the retry policy sets no attempt timeout (default 15 min).
    pub request_timeout: Duration,
    /// The key that signs every request (default none: requests go unsigned).
    pub key: Option<Key>,
    /// The largest request body sent (default: a worker's own limit,
    /// [`crate::WorkerLimits::default`]'s `max_body_bytes`, 32 MiB); larger invocations fail
    /// before they are sent.
    pub payload_limit: Option<u64>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(15 * 60),
            key: None,
            payload_limit: Some(crate::WorkerLimits::default().max_body_bytes as u64),
        }
    }
}

impl HttpConfig {
    /// The same settings with payloads up to `limit` bytes (`None`: no limit).
    pub fn with_payload_limit(mut self, limit: Option<u64>) -> Self {
        self.payload_limit = limit;
        self
    }

    /// The same settings, signing every request with `key` when it is given.
    pub fn with_key(mut self, key: Option<Key>) -> Self {
        self.key = key;
        self
    }
}

/// A [`Platform`] whose functions run on HTTP workers.
pub struct HttpPlatform {
    gateway: Gateway,
    config: HttpConfig,
    client: reqwest::Client,
    turn: AtomicUsize,
    observer: Option<Observer>,
}

impl std::fmt::Debug for HttpPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPlatform")
            .field("gateway", &self.gateway)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HttpPlatform {
    /// A platform sending invocations to `gateway` (see [`Gateway::parse`]) with default timeouts.
    pub fn new(gateway: &str) -> Result<Arc<Self>, WorkerError> {
        Self::with_config(gateway, HttpConfig::default(), None)
    }

    /// A platform with explicit timeouts, reporting finished records to `observer`.
    pub fn with_config(
        gateway: &str,
        config: HttpConfig,
        observer: Option<Observer>,
    ) -> Result<Arc<Self>, WorkerError> {
        let gateway = Gateway::parse(gateway)?;
        faasml_store::ensure_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            // Below a worker's header read timeout (10 s by default), which also closes idle
            // keep-alive connections: a pooled connection is dropped here before the worker
            // closes it, so a request is not sent on a connection that is being closed.
            .pool_idle_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .no_proxy()
            .build()
            .map_err(|e| WorkerError::Client {
                reason: error_chain(&e),
            })?;
        Ok(Arc::new(Self {
            gateway,
            config,
            client,
            turn: AtomicUsize::new(0),
            observer,
        }))
    }

    /// Where the invocations go.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    fn platform_error(function: &str, reason: String) -> InvokeError {
        InvokeError::Platform {
            function: function.to_string(),
            reason,
        }
    }

    /// Sends one attempt to `url` and decodes the answer.
    async fn send(
        &self,
        url: &str,
        request: &InvocationRequest,
        meta: &RequestMeta,
    ) -> Result<InvocationResponse, SendError> {
        let function = request.function.as_str();
        let timeout = meta
            .retry
            .timeout_ms
            .map(|ms| Duration::from_millis(ms).saturating_add(Duration::from_secs(1)))
            .unwrap_or(self.config.request_timeout);
        let mut builder = self.client.post(url);
        if let Some(key) = &self.config.key {
            // The path the worker receives: the URL's `/function/<name>` part, percent-encoded
            // as it goes on the wire. A gateway's own prefix is left out, since the OpenFaaS
            // gateway strips its `/function/<dns name>` before forwarding.
            // `url` ends with `/function/<name>` (see `Gateway::function_url`), and function
            // names are made of characters a URL carries unencoded.
            let path = url.rfind(FUNCTION_PATH).map_or(url, |at| &url[at..]);
            let signature = key
                .sign("POST", path, &meta.run_id, &request.payload)
                .map_err(|e| SendError::Failed(Self::platform_error(function, e.to_string())))?;
            for (name, value) in signature.to_headers() {
                builder = builder.header(name, value);
            }
        }
        let mut builder = builder
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.payload.clone());
        for (name, value) in meta.to_headers() {
            builder = builder.header(name, value);
        }
        let response = builder.send().await.map_err(|e| {
            let reason = if e.is_timeout() {
                format!("{url}: no answer within {:.1} s", timeout.as_secs_f64())
            } else {
                format!("{url}: {}", error_chain(&e))
            };
            if e.is_connect() {
                SendError::NotConnected(reason)
            } else {
                SendError::Failed(Self::platform_error(function, reason))
            }
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(|e| {
            SendError::Failed(Self::platform_error(
                function,
                format!("{url}: reading the response: {}", error_chain(&e)),
            ))
        })?;
        let envelope = serde_json::from_slice::<Envelope>(&body);
        match (status, envelope) {
            (StatusCode::OK, Ok(envelope)) => envelope
                .into_response(function)
                .map_err(|e| SendError::Failed(Self::platform_error(function, e.to_string()))),
            (
                StatusCode::BAD_REQUEST,
                Ok(Envelope {
                    error: Some(error), ..
                }),
            ) => Err(SendError::Failed(InvokeError::BadRequest {
                function: function.to_string(),
                reason: error.error_message,
            })),
            (StatusCode::NOT_FOUND, Ok(envelope)) if envelope.error.is_some() => {
                Err(SendError::Failed(InvokeError::UnknownFunction {
                    function: function.to_string(),
                    known: envelope.known.join(", "),
                }))
            }
            (StatusCode::SERVICE_UNAVAILABLE, envelope) => {
                let detail = match envelope {
                    Ok(Envelope {
                        error: Some(error), ..
                    }) => error.error_message,
                    _ => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
                };
                Err(SendError::Unavailable {
                    reason: format!("{url}: HTTP 503: {detail}"),
                    retry_after,
                })
            }
            (StatusCode::OK, Err(e)) => Err(SendError::Failed(Self::platform_error(
                function,
                format!("{url}: the response is not an envelope: {e}"),
            ))),
            (status, envelope) => {
                let detail = match envelope {
                    Ok(Envelope {
                        error: Some(error), ..
                    }) => error.error_message,
                    _ => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
                };
                Err(SendError::Failed(Self::platform_error(
                    function,
                    format!("{url}: HTTP {status}: {detail}"),
                )))
            }
        }
    }

    fn notify(&self, response: &InvocationResponse) {
        if let Some(observer) = &self.observer {
            for record in response.nested.iter().chain([&response.record]) {
                observer(&Event::Finished(record));
            }
        }
    }
}

/// Why one send did not produce a response.
enum SendError {
    /// The connection could not be made: nothing was delivered, another worker may take it.
    NotConnected(String),
    /// The worker answered 503 (overloaded, draining): nothing ran, another worker may take it.
    Unavailable {
        /// What the worker said.
        reason: String,
        /// Its `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// Anything else.
    Failed(InvokeError),
}

#[async_trait]
impl Platform for HttpPlatform {
    fn name(&self) -> &str {
        "http"
    }

    fn payload_limit(&self) -> Option<u64> {
        self.config.payload_limit
    }

    async fn invoke(&self, request: InvocationRequest) -> Result<InvocationResponse, InvokeError> {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let meta = RequestMeta {
            run_id: request.run_id.clone(),
            attempt: request.attempt,
            parent: request.parent.clone(),
            task: request.task,
            retry: request.retry,
        };
        let mut refused = Vec::new();
        // Set when a worker answered 503: the longest Retry-After asked for, if any.
        let mut unavailable: Option<Option<Duration>> = None;
        for base in self.gateway.bases(&request.function, turn) {
            let url = Gateway::function_url(&base, &request.function);
            match self.send(&url, &request, &meta).await {
                Ok(response) => {
                    self.notify(&response);
                    return Ok(response);
                }
                Err(SendError::NotConnected(reason)) => refused.push(reason),
                Err(SendError::Unavailable {
                    reason,
                    retry_after,
                }) => {
                    refused.push(reason);
                    unavailable = Some(unavailable.flatten().max(retry_after));
                }
                Err(SendError::Failed(error)) => return Err(error),
            }
        }
        match unavailable {
            Some(retry_after) => Err(InvokeError::Unavailable {
                function: request.function.clone(),
                reason: format!("no worker could take it: {}", refused.join("; ")),
                retry_after,
            }),
            None => Err(Self::platform_error(
                &request.function,
                format!("no worker could be reached: {}", refused.join("; ")),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateways_parse_in_their_three_forms() {
        assert_eq!(
            Gateway::parse("http://gw:8080/").unwrap(),
            Gateway::Single("http://gw:8080".into())
        );
        let list = Gateway::parse("http://a:1, http://b:2,http://c:3").unwrap();
        assert_eq!(
            list.bases("f", 4),
            ["http://b:2", "http://c:3", "http://a:1"]
        );
        let template = Gateway::parse("http://{function}.default.example.com").unwrap();
        assert_eq!(
            template.bases("ml-training.pca", 0),
            ["http://ml-training-pca.default.example.com"]
        );
        assert_eq!(
            Gateway::function_url("http://gw", "ml-training.pca"),
            "http://gw/function/ml-training.pca"
        );
        for bad in ["", "gw:8080", "ftp://x", "http://a,{function}"] {
            assert!(Gateway::parse(bad).is_err(), "{bad}");
        }
    }
}
