//! Errors of the worker, the `http` platform and the Lambda adapter.

/// What went wrong serving or calling functions over the wire.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// A request header has a value that does not parse.
    #[error("header {header} has the invalid value '{value}'")]
    BadHeader {
        /// The header name.
        header: String,
        /// Its value.
        value: String,
    },
    /// A request names a run id that breaks the run-id rule.
    #[error("{header}: {source}")]
    BadRunId {
        /// The header (or Lambda event field) carrying it.
        header: String,
        /// What is wrong with it.
        #[source]
        source: faasml_core::RunIdError,
    },
    /// A worker answered with a body that is not a valid envelope.
    #[error("bad response envelope for '{function}': {reason}")]
    BadEnvelope {
        /// The function invoked.
        function: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The gateway setting is not a URL, a list of URLs or a `{function}` template.
    #[error("invalid gateway '{gateway}': {reason}")]
    BadGateway {
        /// The setting.
        gateway: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The worker's limits are inconsistent (see
    /// [`WorkerLimits::check`](crate::WorkerLimits::check)).
    #[error("invalid worker limits: {reason}")]
    BadLimits {
        /// Which limit, and why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {reason}")]
    Client {
        /// Why.
        reason: String,
    },
    /// Binding, accepting or serving failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Lambda runtime is missing its environment or failed.
    #[error("lambda runtime: {reason}")]
    Lambda {
        /// Why.
        reason: String,
    },
}
