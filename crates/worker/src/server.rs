//! The worker: every function of a [`Registry`] behind HTTP, as `faasml serve` runs it.
//!
//! Routes:
//!
//! - `POST /function/<name>`: runs `<name>` on the worker's [`EmbeddedPlatform`] with the body
//!   as its JSON input and the [`RequestMeta`] from the `x-faasml-*` headers, and answers with an
//!   [`Envelope`] (see [`crate::protocol`] for the status codes). The embedded platform's warm
//!   instances are the worker's: the first invocation of a function in a worker is cold, later
//!   ones reuse an idle instance. Instance ids in the records are qualified with the worker id.
//! - `GET /healthz`: 200 while the process serves requests (liveness), with the worker id and
//!   the number of invocations in flight: `{"status": "ok", "worker": ..., "in_flight": 1}`.
//! - `GET /readyz`: 200 when the object store and the state store answer, else 503 (readiness).
//!
//! A worker made [`Worker::with_auth`] a [`Verifier`] checks the signature of every `POST
//! /function/<name>` before its headers or body are parsed, and answers 401 with an
//! `unauthorized` envelope when it fails (see [`crate::auth`]); the health routes stay open.
//!
//! Invocations made by functions (a driver's fan-out) go where the embedded platform's
//! [`EmbeddedConfig::nested`] points: to the gateway through an
//! [`HttpPlatform`](crate::HttpPlatform) when one is configured, so fan-out spreads over every
//! worker, or to this same worker otherwise. A panicking function fails its invocation with an
//! error of type `panic`; the worker keeps serving. [`serve`] stops accepting on the shutdown
//! future (SIGTERM or Ctrl-C with [`shutdown_signal`], as Knative sends) and lets requests in
//! flight finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use faasml_core::{
    EmbeddedConfig, EmbeddedPlatform, FunctionError, InvocationRequest, InvokeError, Platform,
    Registry, StateStore,
};
use faasml_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{self, Verifier};
use crate::error::WorkerError;
use crate::protocol::{Envelope, HEADER_FUNCTION_ERROR, RequestMeta};

/// Largest request body accepted (inputs are small JSON messages; bulk data goes by store key).
const BODY_LIMIT: usize = 32 * 1024 * 1024;
/// How long a readiness probe waits for the stores.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// How an invocation was delivered on a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The function ran (and succeeded or failed, as the envelope says).
    Ran,
    /// No function of that name is served here.
    UnknownFunction,
    /// The worker could not run it (e.g. it is shutting down).
    Unavailable,
}

/// The result of [`Worker::execute`]: how it was delivered and the envelope to send back.
#[derive(Debug)]
pub struct Executed {
    /// How it was delivered.
    pub delivery: Delivery,
    /// The response body.
    pub envelope: Envelope,
}

/// A worker: the functions of a registry on an embedded platform, under a worker id.
#[derive(Debug)]
pub struct Worker {
    id: String,
    platform: Arc<EmbeddedPlatform>,
    state: Arc<dyn StateStore>,
    in_flight: AtomicUsize,
    /// Checks request signatures; `None` runs unsigned requests (see [`crate::auth`]).
    auth: Option<Verifier>,
}

/// Counts an invocation as in flight until dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Worker {
    /// A worker `id` running the functions of `registry` against `store` with `config`
    /// (whose `nested` decides where the functions' own invocations go).
    pub fn new(
        registry: Registry,
        store: Store,
        config: EmbeddedConfig,
        id: impl Into<String>,
    ) -> Arc<Self> {
        Self::with_auth(registry, store, config, id, None)
    }

    /// As [`Worker::new`], running only requests that `auth` verifies when it is given.
    pub fn with_auth(
        registry: Registry,
        store: Store,
        mut config: EmbeddedConfig,
        id: impl Into<String>,
        auth: Option<Verifier>,
    ) -> Arc<Self> {
        let id = id.into();
        // Instance ids carry the worker id from creation, so the records of this worker's
        // instances, and the parents of the invocations they make, are unique across workers.
        config.worker_id = Some(id.clone());
        Arc::new(Self {
            id,
            state: Arc::clone(&config.state),
            in_flight: AtomicUsize::new(0),
            platform: EmbeddedPlatform::new(registry, store, config),
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

    /// Invocations running now (requests received and not yet answered).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The embedded platform running the functions.
    pub fn platform(&self) -> &Arc<EmbeddedPlatform> {
        &self.platform
    }

    /// Runs one attempt of `function` on `payload`; the transport-independent core of the
    /// HTTP route and the Lambda handler.
    pub async fn execute(&self, function: &str, payload: Bytes, meta: RequestMeta) -> Executed {
        let request = InvocationRequest {
            run_id: meta.run_id,
            function: function.to_string(),
            payload,
            attempt: meta.attempt,
            parent: meta.parent,
            task: meta.task,
            retry: meta.retry,
        };
        let _in_flight = InFlight::enter(&self.in_flight);
        match self.platform.invoke(request).await {
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
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(Arc::clone(self))
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

async fn invoke(
    State(worker): State<Arc<Worker>>,
    Path(function): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // On a keyed worker nothing is parsed or run before the signature checks.
    if let Some(verifier) = &worker.auth
        && let Some(refused) = auth::refusal_of(verifier, &method, &uri, &headers, &body)
    {
        return refused;
    }
    let meta =
        match RequestMeta::from_headers(|name| headers.get(name).and_then(|v| v.to_str().ok())) {
            Ok(meta) => meta,
            Err(e) => {
                let envelope =
                    Envelope::failure(FunctionError::permanent("bad-request", e.to_string()));
                return json(StatusCode::BAD_REQUEST, envelope.to_bytes());
            }
        };
    let executed = worker.execute(&function, body, meta).await;
    let status = match executed.delivery {
        Delivery::Ran => StatusCode::OK,
        Delivery::UnknownFunction => StatusCode::NOT_FOUND,
        Delivery::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
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
    let body = serde_json::json!({
        "status": "ok",
        "worker": worker.id,
        "in_flight": worker.in_flight(),
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

/// Serves `worker` on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    worker: Arc<Worker>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        // Small request/response pairs: never wait for Nagle.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, worker.router())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| WorkerError::Io {
            what: format!("worker {} stopped serving", worker.id()),
            source,
        })
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
    task: JoinHandle<Result<(), WorkerError>>,
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

    /// Stops accepting, waits for requests in flight, and returns how serving ended.
    pub async fn stop(mut self) -> Result<(), WorkerError> {
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
