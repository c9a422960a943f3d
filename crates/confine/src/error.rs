//! The one error type of this crate: what went wrong, and with which file.

use std::io;
use std::path::PathBuf;

/// Why a sandbox could not be made, used, or removed.
///
/// Setting up a cgroup can fail for ordinary reasons (not root, controllers bound elsewhere);
/// [`Sandbox::new`](crate::Sandbox::new) does not return those, it falls back to the next
/// mechanism and records why. These errors are for bad input and for removal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfineError {
    /// The limits cannot be enforced (zero memory, a CPU share that is not a positive number).
    #[error("invalid limits: {0}")]
    InvalidLimits(String),
    /// The sandbox name cannot become a cgroup directory name.
    #[error("invalid sandbox name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A file or directory operation failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done: "read", "write", "create directory", "remove directory".
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A control file held something this crate does not understand.
    #[error("unexpected content in {path}: {content:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held (trimmed).
        content: String,
    },
    /// Processes were still in the cgroup after they were killed and waited for.
    #[error("processes still in {path} after {waited_ms} ms")]
    Busy {
        /// The cgroup directory.
        path: PathBuf,
        /// How long removal waited.
        waited_ms: u64,
    },
}

impl ConfineError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ConfineError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
