//! faasml over the wire: the HTTP protocol, the worker that serves functions with it
//! (`faasml serve`), the `http` platform that calls workers, and the AWS Lambda adapter.
//!
//! ```text
//! faasml run --platform http --gateway URL[,URL...]|http://{function}.ns.example.com
//!   └─ HttpPlatform ── POST /function/<name>, x-faasml-* headers, JSON input ──▶ Worker (serve)
//!                   ◀── Envelope {output | error, record, nested} ─────────────  └─ EmbeddedPlatform
//!                                                                                    └─ nested: HttpPlatform(gateway)
//! ```
//!
//! - [`protocol`]: headers, the [`Envelope`], the Lambda event, DNS-safe names, instance ids.
//! - [`Worker`]: the axum routes (`POST /function/<name>`, `GET /healthz`, `GET /readyz`) over
//!   an [`EmbeddedPlatform`](faasml_core::EmbeddedPlatform); [`serve`] with a header read
//!   timeout and a drain with a deadline.
//! - [`limits`]: the [`WorkerLimits`] that bound what requests can make a worker hold and do.
//! - [`HttpPlatform`]: a [`Platform`](faasml_core::Platform) sending invocations to workers
//!   (one URL, a round-robin list, or a Knative `{function}` template).
//! - [`lambda`]: the same functions behind the Lambda runtime API.
//! - [`auth`]: the shared [`Key`], request signatures and the worker's [`Verifier`].

pub mod auth;
mod client;
mod error;
pub mod lambda;
pub mod limits;
pub mod protocol;
mod server;

pub use auth::{AuthError, Key, Signature, Verifier};
pub use client::{Gateway, HttpConfig, HttpPlatform};
pub use error::WorkerError;
pub use limits::WorkerLimits;
pub use protocol::{Envelope, LambdaRequest, RequestMeta, dns_name};
pub use server::{Delivery, Drained, Executed, RunningWorker, Worker, serve, shutdown_signal};
