//! How a confined child ended, told the way AWS Lambda tells it: an out-of-memory kill
//! ("Runtime exited with error: signal: killed" with the memory size and the memory used),
//! another signal, or an exit code.

use std::fmt;
use std::process::ExitStatus;

const MIB: u64 = 1024 * 1024;

/// How a confined child process ended. Build it with [`classify`] or
/// [`Sandbox::outcome`](crate::Sandbox::outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Exit code 0.
    Success,
    /// The kernel killed a process in the sandbox for exceeding the memory limit, and the
    /// child did not end cleanly.
    OutOfMemory {
        /// The signal that ended the child (`SIGKILL` normally), if a signal did.
        signal: Option<i32>,
        /// The memory limit, in bytes.
        limit_bytes: u64,
        /// The most memory the sandbox used, in bytes, if the mechanism measures it.
        peak_bytes: Option<u64>,
    },
    /// Ended by a signal, with no out-of-memory kill recorded.
    Signal(i32),
    /// A non-zero exit code.
    Exit(i32),
}

/// Classifies a child's exit status. `oom_kills` is the sandbox's count of out-of-memory kills
/// ([`Sandbox::oom_kills`](crate::Sandbox::oom_kills)); any kill with a child that did not
/// exit 0 makes the outcome [`Outcome::OutOfMemory`], since a worker whose helper process was
/// killed failed for lack of memory too.
pub fn classify(
    status: ExitStatus,
    oom_kills: u64,
    limit_bytes: u64,
    peak_bytes: Option<u64>,
) -> Outcome {
    let signal = signal_of(status);
    if status.success() {
        Outcome::Success
    } else if oom_kills > 0 {
        Outcome::OutOfMemory {
            signal,
            limit_bytes,
            peak_bytes,
        }
    } else if let Some(s) = signal {
        Outcome::Signal(s)
    } else {
        // Not success and no signal: there is an exit code (-1 cannot happen on Unix).
        Outcome::Exit(status.code().unwrap_or(-1))
    }
}

#[cfg(unix)]
fn signal_of(status: ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&status)
}

#[cfg(not(unix))]
fn signal_of(_status: ExitStatus) -> Option<i32> {
    None
}

impl Outcome {
    /// True for [`Outcome::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }

    /// True for [`Outcome::OutOfMemory`].
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Outcome::OutOfMemory { .. })
    }

    /// Lambda's error type for this outcome: `Runtime.OutOfMemory` for a memory kill,
    /// `Runtime.ExitError` for any other failure, `None` for success.
    pub fn error_type(&self) -> Option<&'static str> {
        match self {
            Outcome::Success => None,
            Outcome::OutOfMemory { .. } => Some("Runtime.OutOfMemory"),
            Outcome::Signal(_) | Outcome::Exit(_) => Some("Runtime.ExitError"),
        }
    }
}

/// Lambda's wording, e.g. `Runtime exited with error: signal: killed (out of memory:
/// Memory Size: 64 MB, Max Memory Used: 64 MB)`.
impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Success => f.write_str("Runtime exited with status 0"),
            Outcome::OutOfMemory {
                signal,
                limit_bytes,
                peak_bytes,
            } => {
                f.write_str("Runtime exited with error: ")?;
                match signal {
                    Some(s) => write!(f, "signal: {}", signal_name(*s))?,
                    None => f.write_str("out of memory")?,
                }
                write!(f, " (out of memory: Memory Size: {} MB", limit_bytes / MIB)?;
                if let Some(peak) = peak_bytes {
                    write!(f, ", Max Memory Used: {} MB", peak.div_ceil(MIB))?;
                }
                f.write_str(")")
            }
            Outcome::Signal(s) => {
                write!(f, "Runtime exited with error: signal: {}", signal_name(*s))
            }
            Outcome::Exit(code) => write!(f, "Runtime exited with error: exit status {code}"),
        }
    }
}

/// Go's names for signals, which Lambda's messages use ("signal: killed").
fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGKILL => "killed",
        libc::SIGABRT => "aborted",
        libc::SIGSEGV => "segmentation fault",
        libc::SIGBUS => "bus error",
        libc::SIGILL => "illegal instruction",
        libc::SIGFPE => "floating point exception",
        libc::SIGTERM => "terminated",
        libc::SIGINT => "interrupt",
        libc::SIGHUP => "hangup",
        libc::SIGPIPE => "broken pipe",
        libc::SIGXCPU => "CPU time limit exceeded",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn a_kill_with_an_oom_count_is_out_of_memory() {
        let status = ExitStatus::from_raw(libc::SIGKILL);
        let o = classify(status, 1, 64 * MIB, Some(64 * MIB));
        assert!(o.is_out_of_memory());
        assert_eq!(o.error_type(), Some("Runtime.OutOfMemory"));
        assert_eq!(
            o.to_string(),
            "Runtime exited with error: signal: killed \
             (out of memory: Memory Size: 64 MB, Max Memory Used: 64 MB)"
        );
    }

    #[test]
    fn a_kill_without_an_oom_count_is_a_signal() {
        let o = classify(ExitStatus::from_raw(libc::SIGKILL), 0, 64 * MIB, None);
        assert_eq!(o, Outcome::Signal(libc::SIGKILL));
        assert_eq!(o.to_string(), "Runtime exited with error: signal: killed");
    }

    #[test]
    fn exit_codes_and_success() {
        assert_eq!(
            classify(ExitStatus::from_raw(3 << 8), 0, 1, None),
            Outcome::Exit(3)
        );
        assert_eq!(
            classify(ExitStatus::from_raw(0), 5, 1, None),
            Outcome::Success
        );
        assert_eq!(
            Outcome::Exit(3).to_string(),
            "Runtime exited with error: exit status 3"
        );
    }
}
