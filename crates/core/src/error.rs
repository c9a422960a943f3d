//! Errors of functions and of invocations.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a function invocation failed, in the `{error_type, error_message}` shape that travels on
/// the wire.
///
/// Any `std::error::Error` converts into it with `?`, keeping the whole `source` chain in the
/// message. A failure is retried by default; [`FunctionError::permanent`] marks one that a retry
/// cannot fix (bad input, corrupt data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionError {
    /// A short machine-readable kind, e.g. `corrupt-input` or the Rust type of the cause.
    pub error_type: String,
    /// The full human-readable message.
    pub error_message: String,
    /// Whether a retry may succeed.
    #[serde(default = "default_true")]
    pub retryable: bool,
}

fn default_true() -> bool {
    true
}

impl FunctionError {
    /// A retryable error of the given kind.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            error_message: message.into(),
            retryable: true,
        }
    }

    /// An error that retrying cannot fix, such as invalid input.
    pub fn permanent(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            ..Self::new(error_type, message)
        }
    }

    /// The same error, marked as not worth retrying.
    pub fn into_permanent(mut self) -> Self {
        self.retryable = false;
        self
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error_message)
    }
}

/// Renders an error and its `source` chain as one line.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

impl FunctionError {
    /// A retryable error carrying `err`'s whole `source` chain, of the given kind.
    pub fn from_error(error_type: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        Self::new(error_type, error_chain(err))
    }
}

impl From<InvokeError> for FunctionError {
    /// A failed child invocation was already retried by the invoker that reported it.
    fn from(err: InvokeError) -> Self {
        Self::from_error("invoke", &err).into_permanent()
    }
}

impl From<faasml_store::StoreError> for FunctionError {
    /// Backend failures may pass; a missing or corrupt object stays missing or corrupt.
    fn from(err: faasml_store::StoreError) -> Self {
        let retryable = matches!(err, faasml_store::StoreError::Backend { .. });
        Self {
            retryable,
            ..Self::from_error("store", &err)
        }
    }
}

impl From<faasml_state::StateError> for FunctionError {
    fn from(err: faasml_state::StateError) -> Self {
        Self::from_error("state", &err)
    }
}

/// Why an invocation made through an [`Invoker`](crate::Invoker) did not return an output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvokeError {
    /// The function ran and failed on its last attempt.
    #[error("function '{function}' failed after {attempts} attempt(s): {error}")]
    Failed {
        /// The function name.
        function: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        error: FunctionError,
    },
    /// No function of that name is registered on the platform.
    #[error("no function named '{function}' is registered (known: {known})")]
    UnknownFunction {
        /// The requested name.
        function: String,
        /// The registered names.
        known: String,
    },
    /// The request itself is invalid (a run id outside the rule, say): not retried.
    #[error("invalid invocation of '{function}': {reason}")]
    BadRequest {
        /// The function name.
        function: String,
        /// What is wrong.
        reason: String,
    },
    /// The platform could not deliver the invocation.
    #[error("platform could not invoke '{function}': {reason}")]
    Platform {
        /// The function name.
        function: String,
        /// What went wrong.
        reason: String,
    },
    /// The platform refused the invocation for now (an overloaded or draining worker): nothing
    /// ran, and the [`Invoker`](crate::Invoker) retries it no sooner than `retry_after` (bounded
    /// by its own limit) when the platform names a wait.
    #[error("platform could not invoke '{function}' now: {reason}")]
    Unavailable {
        /// The function name.
        function: String,
        /// Why, as the platform said.
        reason: String,
        /// How long the platform asked callers to wait before trying again, if it said.
        retry_after: Option<std::time::Duration>,
    },
    /// The input could not be serialised or the output could not be parsed.
    #[error("bad payload for '{function}': {reason}")]
    Payload {
        /// The function name.
        function: String,
        /// What went wrong.
        reason: String,
    },
    /// The invocation did not finish within the configured timeout.
    #[error("function '{function}' timed out after {seconds:.1} s")]
    Timeout {
        /// The function name.
        function: String,
        /// The timeout in seconds.
        seconds: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn conversion_keeps_the_source_chain() {
        let err = FunctionError::from_error("x", &Outer(std::io::Error::other("disk on fire")));
        assert_eq!(err.error_type, "x");
        assert_eq!(err.error_message, "outer: disk on fire");
        assert!(err.retryable);
    }

    #[test]
    fn failed_children_are_not_retried_again_by_the_parent() {
        let child = InvokeError::Failed {
            function: "f".into(),
            attempts: 3,
            error: FunctionError::new("x", "boom"),
        };
        let err: FunctionError = child.into();
        assert!(!err.retryable);
        assert!(
            err.error_message
                .contains("'f' failed after 3 attempt(s): boom")
        );
    }
}
