//! The worker: every function of a [`Registry`] behind HTTP, as `faasml serve` runs it.
//!
//! A worker given a [`Verifier`] ([`Worker::with_auth`], [`Worker::configured`]) checks the
//! signature of every `POST /function/<name>` before its headers are parsed or anything runs,
//! and answers 401 with an `unauthorized` envelope when it fails (see [`crate::auth`]); the
//! health routes stay open.
//!
//! Routes:
//!
//! - `POST /function/<name>`: runs `<name>` on the worker's [`EmbeddedPlatform`] with the body
//!   as its JSON input and the [`RequestMeta`] from the `x-faasml-*` headers, and answers with an
//!   [`Envelope`] (see [`crate::protocol`] for the status codes). The embedded platform's warm
//!   instances are the worker's: the first invocation of a function in a worker is cold, later
//!   ones reuse an idle instance. Instance ids in the records are qualified with the worker id.
//! - `GET /healthz`: 200 while the process serves requests (liveness), with the worker id, the
//!   invocations running on it (`in_flight`: those delivered over HTTP and those its functions
//!   run here for their own fan-out, until they have really stopped; `queued` of them wait for a
//!   concurrency slot), the HTTP requests admitted and their body bytes, whether it is draining,
//!   and its limits: `{"status": "ok", "worker": ..., "in_flight": 1, "queued": 0, "requests": 1,
//!   "body_bytes": 2, "draining": false, "limits": {...}}`.
//! - `GET /readyz`: 200 when the object store and the state store answer, else 503 (readiness).
//!
//! Invocations made by functions (a driver's fan-out) go where the embedded platform's
//! [`EmbeddedConfig::nested`] points: to the gateway through an
//! [`HttpPlatform`](crate::HttpPlatform) when one is configured, so fan-out spreads over every
//! worker, or to this same worker otherwise. A panicking function fails its invocation with a
//! permanent error of type `panic`; the worker keeps serving.
//!
//! **Bounds** ([`WorkerLimits`], in [`crate::limits`]). The worker owns the retry policy: the
//! caller's `x-faasml-*` retry headers are clamped to its limits, and the invocation itself runs
//! under the clamped timeout. Requests beyond `max_in_flight` or `max_body_bytes_in_flight` are
//! answered at once with 503, a `Retry-After` header and an `overloaded` envelope naming the
//! limit. [`serve`] is hyper-util's server rather than `axum::serve`, for the header read
//! timeout (a connection that has not sent its request headers in time is closed: slowloris).
//!
//! **Cancellation.** When the client of `POST /function/<name>` goes away, hyper reads the end of
//! the connection (half-closed connections are not kept) and drops the request's future; the
//! invocation is in that future, and the embedded platform aborts a function's task when its
//! invocation is dropped, so the function, its fan-out (local, or remote requests whose
//! connections close in turn), its retries and its backoff sleeps all stop.
//!
//! **Drain.** [`serve`] stops accepting on the shutdown future (SIGTERM or Ctrl-C with
//! [`shutdown_signal`], as Knative sends), closes idle connections, lets the invocations in
//! flight finish for up to `drain_timeout`, then cancels what is left (answered 503 `cancelled`,
//! so their callers retry elsewhere) and returns a [`Drained`] saying what happened.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use faasml_core::{
    EmbeddedConfig, EmbeddedPlatform, FunctionError, InvocationRequest, InvokeError, Platform,
    Registry, StateStore,
};
use faasml_store::Store;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::{self, Verifier};
use crate::error::WorkerError;
use crate::limits::{Admission, Refusal, WorkerLimits};
use crate::protocol::{Envelope, HEADER_FUNCTION_ERROR, RequestMeta};

/// How long a readiness probe waits for the stores.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long cancelled invocations get to send their answers once the drain deadline has passed.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// How long a request's body may take to arrive once its headers have: a client that sends
/// headers and then trickles (or withholds) the body would otherwise hold its admission slot and
/// body-byte reservation for as long as it likes.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How an invocation was delivered on a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// The function ran (and succeeded or failed, as the envelope says).
    Ran,
    /// No function of that name is served here.
    UnknownFunction,
    /// The worker could not run it, or stopped it (it is shutting down).
    Unavailable,
    /// The invocation ran past its time limit and was stopped.
    TimedOut,
    /// The request is invalid (a run id outside the rule): nothing ran, and retrying cannot help.
    BadRequest,
}

/// The result of [`Worker::execute`]: how it was delivered and the envelope to send back.
#[derive(Debug)]
pub struct Executed {
    /// How it was delivered.
    pub delivery: Delivery,
    /// The response body.
    pub envelope: Envelope,
}

/// What a worker's drain did: returned by [`serve`] and [`RunningWorker::stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Invocations delivered over HTTP that were in flight when shutdown began.
    pub in_flight: usize,
    /// Invocations cancelled at the drain deadline.
    pub cancelled: usize,
    /// From the start of shutdown to the end of the drain.
    pub waited: Duration,
    /// The drain deadline.
    pub deadline: Duration,
}

impl std::fmt::Display for Drained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.cancelled == 0 {
            write!(
                f,
                "drained {} in-flight invocation(s) in {:.1} s",
                self.in_flight,
                self.waited.as_secs_f64()
            )
        } else {
            write!(
                f,
                "cancelled {} invocation(s) after {:.0} s (drained {})",
                self.cancelled,
                self.deadline.as_secs_f64(),
                self.in_flight.saturating_sub(self.cancelled)
            )
        }
    }
}

/// A worker: the functions of a registry on an embedded platform, under a worker id, within
/// its [`WorkerLimits`].
#[derive(Debug)]
pub struct Worker {
    id: String,
    platform: Arc<EmbeddedPlatform>,
    state: Arc<dyn StateStore>,
    limits: WorkerLimits,
    admission: Admission,
    /// Cancelled at the drain deadline: every invocation still running stops.
    cancel: CancellationToken,
    draining: AtomicBool,
    cancelled: AtomicUsize,
    /// Checks request signatures; `None` runs unsigned requests (see [`crate::auth`]).
    auth: Option<Verifier>,
}

impl Worker {
    /// A worker `id` running the functions of `registry` against `store` with `config`
    /// (whose `nested` decides where the functions' own invocations go), with the default
    /// [`WorkerLimits`].
    pub fn new(
        registry: Registry,
        store: Store,
        config: EmbeddedConfig,
        id: impl Into<String>,
    ) -> Arc<Self> {
        Self::build(
            registry,
            store,
            config,
            id.into(),
            WorkerLimits::default(),
            None,
        )
    }

    /// As [`Worker::new`], running only requests that `auth` verifies when it is given.
    pub fn with_auth(
        registry: Registry,
        store: Store,
        config: EmbeddedConfig,
        id: impl Into<String>,
        auth: Option<Verifier>,
    ) -> Arc<Self> {
        Self::build(
            registry,
            store,
            config,
            id.into(),
            WorkerLimits::default(),
            auth,
        )
    }

    /// As [`Worker::new`], within `limits` (checked first).
    pub fn with_limits(
        registry: Registry,
        store: Store,
        config: EmbeddedConfig,
        id: impl Into<String>,
        limits: WorkerLimits,
    ) -> Result<Arc<Self>, WorkerError> {
        Self::configured(registry, store, config, id, limits, None)
    }

    /// A worker within `limits` (checked first) that runs only requests `auth` verifies, when
    /// it is given: what `faasml serve` builds.
    pub fn configured(
        registry: Registry,
        store: Store,
        config: EmbeddedConfig,
        id: impl Into<String>,
        limits: WorkerLimits,
        auth: Option<Verifier>,
    ) -> Result<Arc<Self>, WorkerError> {
        Ok(Self::build(
            registry,
            store,
            config,
            id.into(),
            limits.check()?,
            auth,
        ))
    }

    fn build(
        registry: Registry,
        store: Store,
        mut config: EmbeddedConfig,
        id: String,
        limits: WorkerLimits,
        auth: Option<Verifier>,
    ) -> Arc<Self> {
        // Instance ids carry the worker id from creation, so the records of this worker's
        // instances, and the parents of the invocations they make, are unique across workers.
        config.worker_id = Some(id.clone());
        Arc::new(Self {
            id,
            state: Arc::clone(&config.state),
            platform: EmbeddedPlatform::new(registry, store, config),
            limits,
            admission: Admission::default(),
            cancel: CancellationToken::new(),
            draining: AtomicBool::new(false),
            cancelled: AtomicUsize::new(0),
            auth,
        })
    }

    /// The verifier requests must pass, if the worker has a key.
    pub fn auth(&self) -> Option<&Verifier> {
        self.auth.as_ref()
    }

    /// The worker id that qualifies its instance ids.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its limits.
    pub fn limits(&self) -> &WorkerLimits {
        &self.limits
    }

    /// Invocations running on this worker now: those delivered to it and those its functions
    /// run here for their own fan-out, queued ones included, until they have really stopped.
    pub fn in_flight(&self) -> usize {
        self.platform.in_flight()
    }

    /// HTTP requests to `POST /function/<name>` admitted and not yet answered.
    pub fn requests(&self) -> usize {
        self.admission.requests()
    }

    /// The embedded platform running the functions.
    pub fn platform(&self) -> &Arc<EmbeddedPlatform> {
        &self.platform
    }

    /// Runs one attempt of `function` on `payload`; the transport-independent core of the
    /// HTTP route and the Lambda handler.
    ///
    /// The caller's retry policy is clamped to the worker's ([`WorkerLimits::clamp_retry`]), the
    /// invocation runs under the clamped timeout, and it stops when the worker cancels its
    /// invocations at the drain deadline. Dropping the returned future stops it too.
    pub async fn execute(&self, function: &str, payload: Bytes, meta: RequestMeta) -> Executed {
        let spec_timeout = self
            .platform
            .registry()
            .spec(function)
            .and_then(|spec| spec.timeout_s)
            .map(|s| Duration::from_secs(u64::from(s)));
        let retry = self.limits.clamp_retry(meta.retry, spec_timeout);
        let limit = Duration::from_millis(retry.timeout_ms.unwrap_or(u64::MAX));
        let request = InvocationRequest {
            run_id: meta.run_id,
            function: function.to_string(),
            payload,
            attempt: meta.attempt,
            parent: meta.parent,
            task: meta.task,
            retry,
        };
        let run = tokio::time::timeout(limit, self.platform.invoke(request));
        let outcome = tokio::select! {
            biased;
            () = self.cancel.cancelled() => {
                self.cancelled.fetch_add(1, Ordering::AcqRel);
                return Executed {
                    delivery: Delivery::Unavailable,
                    envelope: Envelope::failure(FunctionError::new(
                        "cancelled",
                        format!(
                            "worker {} is shutting down: '{function}' was cancelled at the end \
                             of the {:.0} s drain",
                            self.id,
                            self.limits.drain_timeout.as_secs_f64()
                        ),
                    )),
                };
            }
            outcome = run => outcome,
        };
        let Ok(outcome) = outcome else {
            return Executed {
                delivery: Delivery::TimedOut,
                envelope: Envelope::failure(FunctionError::new(
                    "timeout",
                    format!(
                        "worker {}: '{function}' ran past its {:.1} s limit and was stopped",
                        self.id,
                        limit.as_secs_f64()
                    ),
                )),
            };
        };
        match outcome {
            Ok(response) => Executed {
                delivery: Delivery::Ran,
                envelope: Envelope::from_response(response),
            },
            Err(InvokeError::UnknownFunction { function, known }) => Executed {
                delivery: Delivery::UnknownFunction,
                envelope: Envelope {
                    known: self
                        .platform
                        .registry()
                        .names()
                        .map(str::to_string)
                        .collect(),
                    ..Envelope::failure(FunctionError::permanent(
                        "unknown-function",
                        format!("no function named '{function}' is registered (known: {known})"),
                    ))
                },
            },
            Err(InvokeError::BadRequest { reason, .. }) => Executed {
                delivery: Delivery::BadRequest,
                envelope: Envelope::failure(FunctionError::permanent("bad-request", reason)),
            },
            Err(other) => Executed {
                delivery: Delivery::Unavailable,
                envelope: Envelope::failure(FunctionError::new(
                    "unavailable",
                    format!("worker {}: {other}", self.id),
                )),
            },
        }
    }

    /// Whether the object store and the state store answer: `Err` says which does not.
    pub async fn ready(&self) -> Result<(), String> {
        let store = self.platform.store();
        // The store's own probe (a listing's first page: credentials, bucket, endpoint), then
        // one object lookup, which also fails on a local root that is not a directory.
        let probe = faasml_store::Path::from(".faasml/readyz");
        let checks = async {
            store.check().await?;
            store.exists(&probe).await
        };
        match tokio::time::timeout(READY_TIMEOUT, checks).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("store {}: no answer in 5 s", store.url())),
        }
        let state = &self.state;
        match tokio::time::timeout(READY_TIMEOUT, state.get("faasml:readyz")).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("state {}: {e}", state.url())),
            Err(_) => Err(format!("state {}: no answer in 5 s", state.url())),
        }
    }

    /// The HTTP routes of this worker.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/function/{name}", post(invoke))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            // The paths OpenFaaS Community Edition probes.
            .route("/_/health", get(healthz))
            .route("/_/ready", get(readyz))
            .with_state(Arc::clone(self))
    }

    /// The answer to a request refused at a cap: 503, `Retry-After`, an `overloaded` envelope.
    fn overloaded(&self, refusal: Refusal) -> Response {
        let limits = &self.limits;
        let message = match refusal {
            Refusal::InFlight => format!(
                "worker {} is overloaded: {} invocations in flight, its limit (max-in-flight)",
                self.id, limits.max_in_flight
            ),
            Refusal::BodyBytes => format!(
                "worker {} is overloaded: request bodies in flight would exceed its limit of {} \
                 bytes (max-body-bytes-in-flight)",
                self.id, limits.max_body_bytes_in_flight
            ),
        };
        let error = FunctionError::new("overloaded", message);
        let mut response = failure(StatusCode::SERVICE_UNAVAILABLE, error);
        let seconds = limits.retry_after.as_secs().max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    }
}

fn json(status: StatusCode, body: Bytes) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// An envelope answer carrying only `error`, with its type in `x-faasml-function-error`.
fn failure(status: StatusCode, error: FunctionError) -> Response {
    let error_type = HeaderValue::from_str(&error.error_type).ok();
    let mut response = json(status, Envelope::failure(error).to_bytes());
    if let Some(value) = error_type {
        response.headers_mut().insert(HEADER_FUNCTION_ERROR, value);
    }
    response
}

async fn invoke(
    State(worker): State<Arc<Worker>>,
    Path(function): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    // On a keyed worker, a request without a well-formed, current signature is refused before
    // it is admitted or its body read (the signature itself is checked once the body is in).
    if let Some(verifier) = &worker.auth
        && let Some(refused) = auth::early_refusal_of(verifier, headers)
    {
        return refused;
    }
    let max_body = worker.limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(length) = declared
        && length > max_body as u64
    {
        let error = FunctionError::permanent(
            "too-large",
            format!("the request body of {length} bytes exceeds the limit of {max_body} bytes"),
        );
        return failure(StatusCode::PAYLOAD_TOO_LARGE, error);
    }
    // A body of unknown length may be as large as the limit: reserve that much.
    let reserve = declared.map_or(max_body, |length| length as usize);
    let _admitted = match worker.admission.admit(reserve, &worker.limits) {
        Ok(admitted) => admitted,
        Err(refusal) => return worker.overloaded(refusal),
    };
    let read = tokio::select! {
        biased;
        () = worker.cancel.cancelled() => {
            let message = format!("worker {} is shutting down", worker.id);
            let error = FunctionError::new("cancelled", message);
            return failure(StatusCode::SERVICE_UNAVAILABLE, error);
        }
        read = tokio::time::timeout(
            BODY_READ_TIMEOUT,
            axum::body::to_bytes(Body::new(body), max_body),
        ) => match read {
            Ok(read) => read,
            Err(_) => {
                let error = FunctionError::permanent(
                    "bad-request",
                    format!(
                        "the request body did not arrive within {} s",
                        BODY_READ_TIMEOUT.as_secs()
                    ),
                );
                return failure(StatusCode::REQUEST_TIMEOUT, error);
            }
        },
    };
    let payload = match read {
        Ok(payload) => payload,
        Err(e) => {
            let error = FunctionError::permanent(
                "bad-request",
                format!("cannot read the request body (at most {max_body} bytes): {e}"),
            );
            return failure(StatusCode::BAD_REQUEST, error);
        }
    };
    // On a keyed worker nothing is parsed or run before the signature checks (the body is read
    // first only because its digest is signed; its size is bounded by the admission above).
    if let Some(verifier) = &worker.auth
        && let Some(refused) =
            auth::refusal_of(verifier, &parts.method, &parts.uri, headers, &payload)
    {
        return refused;
    }
    let meta =
        match RequestMeta::from_headers(|name| headers.get(name).and_then(|v| v.to_str().ok())) {
            Ok(meta) => meta,
            Err(e) => {
                let error = FunctionError::permanent("bad-request", e.to_string());
                return failure(StatusCode::BAD_REQUEST, error);
            }
        };
    let executed = worker.execute(&function, payload, meta).await;
    let status = match executed.delivery {
        Delivery::Ran => StatusCode::OK,
        Delivery::UnknownFunction => StatusCode::NOT_FOUND,
        Delivery::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Delivery::TimedOut => StatusCode::GATEWAY_TIMEOUT,
        Delivery::BadRequest => StatusCode::BAD_REQUEST,
    };
    let mut response = json(status, executed.envelope.to_bytes());
    if let Some(error) = &executed.envelope.error
        && let Ok(value) = HeaderValue::from_str(&error.error_type)
    {
        response.headers_mut().insert(HEADER_FUNCTION_ERROR, value);
    }
    response
}

async fn healthz(State(worker): State<Arc<Worker>>) -> Response {
    let limits = &worker.limits;
    let body = serde_json::json!({
        "status": "ok",
        "worker": worker.id,
        "in_flight": worker.in_flight(),
        "queued": worker.platform.queued(),
        "requests": worker.admission.requests(),
        "body_bytes": worker.admission.body_bytes(),
        "draining": worker.draining.load(Ordering::Acquire),
        "limits": {
            "max_in_flight": limits.max_in_flight,
            "max_body_bytes": limits.max_body_bytes,
            "max_body_bytes_in_flight": limits.max_body_bytes_in_flight,
            "max_attempts": limits.max_attempts,
            "max_timeout_s": limits.max_timeout.as_secs_f64(),
            "drain_timeout_s": limits.drain_timeout.as_secs_f64(),
        },
    });
    json(StatusCode::OK, Bytes::from(body.to_string()))
}

async fn readyz(State(worker): State<Arc<Worker>>) -> Response {
    match worker.ready().await {
        Ok(()) => {
            let body = serde_json::json!({"status": "ready", "worker": worker.id});
            json(StatusCode::OK, Bytes::from(body.to_string()))
        }
        Err(reason) => {
            let body =
                serde_json::json!({"status": "not-ready", "worker": worker.id, "reason": reason});
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                Bytes::from(body.to_string()),
            )
        }
    }
}

/// Serves `worker` on `listener` until `shutdown` completes, then drains: stops accepting,
/// closes idle connections, lets the invocations in flight finish for up to the worker's
/// `drain_timeout`, cancels what is left, and says what happened.
pub async fn serve(
    listener: TcpListener,
    worker: Arc<Worker>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Drained, WorkerError> {
    let router = worker.router();
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(worker.limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let tcp = match accepted {
            Ok((tcp, _peer)) => tcp,
            Err(_) => {
                // Out of file descriptors, a connection reset before it was accepted: nothing
                // to do for that connection; pause so that a persistent error does not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Small request/response pairs: never wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection(TokioIo::new(tcp), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A connection's errors (a client gone, headers too slow) concern it alone.
            let _ = connection.await;
        });
    }
    drop(listener);
    Ok(drain(&worker, graceful).await)
}

/// The drain after shutdown began (see [`serve`]).
async fn drain(worker: &Worker, graceful: GracefulShutdown) -> Drained {
    let began = Instant::now();
    worker.draining.store(true, Ordering::Release);
    let in_flight = worker.admission.requests();
    let deadline = worker.limits.drain_timeout;
    let closed = graceful.shutdown();
    let mut closed = std::pin::pin!(closed);
    if tokio::time::timeout(deadline, &mut closed).await.is_err() {
        worker.cancel.cancel();
        // The cancelled invocations answer at once; give their connections a moment to send.
        let _ = tokio::time::timeout(CANCEL_GRACE, &mut closed).await;
    }
    Drained {
        in_flight,
        cancelled: worker.cancelled.load(Ordering::Acquire),
        waited: began.elapsed(),
        deadline,
    }
}

/// Completes on SIGTERM (what Knative and Kubernetes send) or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A worker serving on a background task of this process (for tests and benchmarks).
#[derive(Debug)]
pub struct RunningWorker {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<Drained, WorkerError>>,
}

impl RunningWorker {
    /// Binds `addr` (port 0 picks a free port) and serves `worker` there in the background.
    pub async fn start(worker: Arc<Worker>, addr: SocketAddr) -> Result<Self, WorkerError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| WorkerError::Io {
                what: format!("cannot listen on {addr}"),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| WorkerError::Io {
            what: "cannot read the listening address".to_string(),
            source,
        })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, worker, async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, drains the invocations in flight (see [`serve`]) and says how it went.
    pub async fn stop(mut self) -> Result<Drained, WorkerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(WorkerError::Io {
                what: "the worker task failed".to_string(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
