//! The error type of the workflows, and how each kind maps to a retryable or permanent failure.

use faasml_core::{FunctionError, InvokeError, StateError};
use faasml_datasets::DatasetError;
use faasml_ml::MlError;
use faasml_store::StoreError;

/// What went wrong in a workflow stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The workflow's parameters are invalid.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// Nothing usable was found under a data prefix.
    #[error(
        "no images under '{prefix}' in {store} (expected PNG objects '<prefix>/<class>/<name>.png' \
         or IDX files '*images-idx3-ubyte' + '*labels-idx1-ubyte'; bundled datasets: {bundled})"
    )]
    NoData {
        /// The store URL.
        store: String,
        /// The prefix that was listed.
        prefix: String,
        /// Names of the bundled datasets, which are imported on first use.
        bundled: String,
    },
    /// The dataset has no images, or too few for the requested parallelism.
    #[error("dataset '{prefix}' is too small: {reason}")]
    TooSmall {
        /// The data prefix.
        prefix: String,
        /// Why.
        reason: String,
    },
    /// An object could not be decoded as the dataset format it claims to be.
    #[error("object '{key}' in {store} is corrupt: {source}")]
    CorruptData {
        /// The store URL.
        store: String,
        /// The key of the object.
        key: String,
        /// The decoding error.
        #[source]
        source: DatasetError,
    },
    /// A stored model could not be read.
    #[error("model '{key}' in {store} is corrupt: {reason}")]
    CorruptModel {
        /// The store URL.
        store: String,
        /// The model key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An algorithm rejected its input.
    #[error(transparent)]
    Ml(#[from] MlError),
    /// An invocation of another function failed.
    #[error(transparent)]
    Invoke(#[from] InvokeError),
    /// A computation panicked or was cancelled.
    #[error("{0}")]
    Compute(FunctionError),
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The parameter server's state is missing or inconsistent.
    #[error("parameter server: {0}")]
    ParameterServer(String),
    /// State shared by the functions of a run is missing or inconsistent.
    #[error("coordination: {0}")]
    Coordination(String),
    /// Another run with the same id is running (its driver's record is in the store).
    #[error(
        "run id '{run_id}' is in use by a {workflow} run started {started_s_ago} s ago (last \
         heartbeat {heartbeat_s_ago} s ago): choose another run id, or leave it out for a \
         generated one"
    )]
    RunInUse {
        /// The run id.
        run_id: String,
        /// The workflow of the run holding it.
        workflow: String,
        /// Seconds since that run started.
        started_s_ago: u64,
        /// Seconds since that run's last heartbeat.
        heartbeat_s_ago: u64,
    },
    /// A failure injected on purpose (to test fault tolerance).
    #[error("injected failure: {0}")]
    Injected(String),
}

impl WorkflowError {
    /// Whether running the stage again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(StoreError::Backend { .. }) => true,
            Self::State(StateError::Backend { .. }) => true,
            Self::Injected(_) => true,
            Self::Compute(e) => e.retryable,
            _ => false,
        }
    }
}

impl From<WorkflowError> for FunctionError {
    fn from(err: WorkflowError) -> Self {
        let retryable = err.is_retryable();
        let kind = match &err {
            WorkflowError::InvalidParams(_) => "invalid-params",
            WorkflowError::NoData { .. } => "no-data",
            WorkflowError::TooSmall { .. } => "too-small",
            WorkflowError::CorruptData { .. } => "corrupt-data",
            WorkflowError::CorruptModel { .. } => "corrupt-model",
            WorkflowError::Store(_) => "store",
            WorkflowError::Ml(_) => "ml",
            WorkflowError::Invoke(_) => "invoke",
            WorkflowError::State(_) => "state",
            WorkflowError::ParameterServer(_) => "parameter-server",
            WorkflowError::Coordination(_) => "coordination",
            WorkflowError::RunInUse { .. } => "run-in-use",
            WorkflowError::Injected(_) => "injected",
            WorkflowError::Compute(e) => return e.clone(),
        };
        let message = faasml_core::error_chain(&err);
        FunctionError {
            error_type: kind.to_string(),
            error_message: message,
            retryable,
        }
    }
}

/// Result type of the workflows.
pub type Result<T, E = WorkflowError> = std::result::Result<T, E>;
