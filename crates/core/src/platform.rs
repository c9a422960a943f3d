//! The platform trait: what runs an invocation, whether in-process, over HTTP or on Lambda.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{FunctionError, InvokeError};
use crate::invoker::RetryPolicy;
use crate::record::InvocationRecord;

/// One attempt to run a function.
#[derive(Debug, Clone)]
pub struct InvocationRequest {
    /// The run this invocation belongs to.
    pub run_id: String,
    /// The function name.
    pub function: String,
    /// The JSON-encoded input.
    pub payload: Bytes,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The calling instance, if any.
    pub parent: Option<String>,
    /// The invocation's index in the fan-out that made it, if any.
    pub task: Option<u32>,
    /// The retry policy of the run, inherited by the invocations this one makes.
    pub retry: RetryPolicy,
}

/// What a platform reports back for one attempt.
#[derive(Debug)]
pub struct InvocationResponse {
    /// The JSON-encoded output, or the function's error.
    pub result: Result<Bytes, FunctionError>,
    /// The platform's measurement of this attempt.
    pub record: InvocationRecord,
    /// Records of the invocations this one made, transitively.
    pub nested: Vec<InvocationRecord>,
}

/// Runs invocations. Implemented by the embedded platform here and by remote platforms elsewhere.
#[async_trait]
pub trait Platform: Send + Sync + fmt::Debug {
    /// A short name for reports, e.g. `embedded`.
    fn name(&self) -> &str;

    /// Runs one attempt. An `Err` means the platform could not run it at all; a function that
    /// ran and failed is an `Ok` response with an `Err` result.
    async fn invoke(&self, request: InvocationRequest) -> Result<InvocationResponse, InvokeError>;

    /// The largest invocation payload, in bytes, this platform delivers (`None`: no limit, as
    /// in-process). An invocation with a larger payload fails before it is sent.
    fn payload_limit(&self) -> Option<u64> {
        None
    }
}

/// Something that happened on a platform, for live progress displays.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// An invocation started on an instance.
    Started {
        /// The function name.
        function: &'a str,
        /// The instance id.
        instance: &'a str,
    },
    /// An invocation finished.
    Finished(&'a InvocationRecord),
}

/// A callback that receives platform [`Event`]s.
pub type Observer = Arc<dyn Fn(&Event<'_>) + Send + Sync>;
