//! The faasml runtime: the function model, the invocation context, platforms, and run records.
//!
//! A *function* is a plain `async fn(Input, Ctx) -> Result<Output, FunctionError>` with serde
//! input and output, registered under a name with [`Registry::register`]. A function reaches
//! everything else through its [`Ctx`]: the object store (bulk data goes there, by key), the
//! state store, and the invoker it uses to fan work out to other functions. A driver is itself a
//! function. A [`Platform`] runs invocations: [`EmbeddedPlatform`] runs them in-process with a
//! concurrency limit; other platforms (HTTP workers, AWS Lambda) implement the same trait.
//!
//! The key design decision: every invocation, even in-process, passes its input and output as
//! JSON bytes, exactly as it would over the wire. A workflow that runs embedded therefore runs
//! unchanged on a remote platform, and the payload sizes in the run report are the real ones.
//!
//! ```
//! use faasml_core::{
//!     EmbeddedConfig, EmbeddedPlatform, FunctionError, FunctionRef, Registry, RunOptions, run,
//! };
//! use faasml_store::Store;
//!
//! const DOUBLE: FunctionRef<u32, u32> = FunctionRef::new("doc.double");
//! const SUM: FunctionRef<Vec<u32>, u32> = FunctionRef::new("doc.sum");
//!
//! let mut registry = Registry::new();
//! // A handler returns any error that converts into a FunctionError (a workflow's own error
//! // type, say); these closures name FunctionError itself.
//! registry.register(DOUBLE, |x: u32, _ctx| async move { Ok::<_, FunctionError>(2 * x) });
//! registry.register(SUM, |xs: Vec<u32>, ctx| async move {
//!     let doubled = ctx.map(DOUBLE, xs).await?;
//!     Ok::<_, FunctionError>(doubled.into_iter().sum())
//! });
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let store = Store::open("memory://doc").unwrap();
//!     let platform = EmbeddedPlatform::new(registry, store, EmbeddedConfig::default());
//!     let outcome = run(platform, SUM, vec![1, 2, 3], RunOptions::new("doc")).await;
//!     assert_eq!(outcome.output.unwrap(), 12);
//!     assert_eq!(outcome.report.invocations.len(), 4);
//! });
//! ```

mod compute;
pub mod confine;
mod context;
mod embedded;
mod error;
mod function;
mod invoker;
pub mod otlp;
mod platform;
mod record;
mod report;
mod run;
mod run_id;

pub use compute::compute;
pub use confine::{RunRecord, StoreAccess};
pub use context::{Ctx, InstanceState};
pub use embedded::{EmbeddedConfig, EmbeddedPlatform};
pub use error::{FunctionError, InvokeError, error_chain};
pub use faasml_state::{EmbeddedState, StateError, StateStore};
pub use function::{FunctionRef, FunctionSpec, Handler, Registry, dns_name};
pub use invoker::{Invoker, RetryPolicy};
pub use platform::{Event, InvocationRequest, InvocationResponse, Observer, Platform};
pub use record::{InvocationRecord, Outcome, ProcessUsage, now_micros};
pub use report::{HostInfo, RunMeta, RunReport, StageSummary, human_bytes};
pub use run::{RunOptions, RunOutcome, UtcTime, run};
pub use run_id::{MAX_RUN_ID_LEN, RunIdError, check_run_id, new_run_id};
