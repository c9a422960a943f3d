//! The record every invocation leaves: who ran, where, when, cold or warm, bytes moved, outcome.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One invocation attempt, as measured by the platform that ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationRecord {
    /// The function name.
    pub function: String,
    /// The instance that ran it (an embedded instance id, a worker id, a Lambda request id).
    pub instance: String,
    /// The instance of the caller, if the caller was a function.
    pub parent: Option<String>,
    /// 1 for the first attempt, 2 for the first retry, and so on.
    pub attempt: u32,
    /// Whether this invocation started a new instance.
    pub cold: bool,
    /// Start, in microseconds since the Unix epoch.
    pub start_us: u64,
    /// End, in microseconds since the Unix epoch.
    pub end_us: u64,
    /// Bytes read from the object store.
    pub bytes_read: u64,
    /// Bytes written to the object store.
    pub bytes_written: u64,
    /// Size of the JSON input.
    pub payload_in: u64,
    /// Size of the JSON output (0 on failure).
    pub payload_out: u64,
    /// Success, or the error.
    pub outcome: Outcome,
}

impl InvocationRecord {
    /// Wall time of the invocation in microseconds.
    pub fn duration_us(&self) -> u64 {
        self.end_us.saturating_sub(self.start_us)
    }

    /// Whether the invocation succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok)
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    /// The function returned an output.
    Ok,
    /// The function, or its delivery, failed.
    Error {
        /// The kind of error.
        error_type: String,
        /// The message.
        error_message: String,
    },
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
