//! The record every invocation leaves: who ran, where, when, cold or warm, bytes moved, outcome.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One invocation attempt, as measured by the platform that ran it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Its index in the fan-out that made it (which forest, which worker), if it was one of a
    /// [`crate::Ctx::map`].
    #[serde(default)]
    pub task: Option<u32>,
    /// When the caller submitted it, in microseconds since the Unix epoch; `start_us - submit_us`
    /// is the time it queued (for a slot, a connection, a cold start). 0 when unknown.
    #[serde(default)]
    pub submit_us: u64,
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
    /// CPU time (user + system) the process running the instance used during the attempt, in
    /// microseconds: the instance's own where it runs alone in its process (a worker serving one
    /// request at a time, Lambda), an upper bound where invocations share a process.
    #[serde(default)]
    pub cpu_us: u64,
    /// Peak resident memory of the process running the instance at the end of the attempt, in
    /// bytes (Lambda's "max memory used" where an instance has its own process). 0 when unknown.
    #[serde(default)]
    pub peak_rss_bytes: u64,
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

    /// Microseconds between submission and start (0 when the submit time is unknown).
    pub fn queued_us(&self) -> u64 {
        if self.submit_us == 0 {
            0
        } else {
            self.start_us.saturating_sub(self.submit_us)
        }
    }
}

/// CPU time and peak memory of this process, as the kernel counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessUsage {
    /// User plus system CPU time, in microseconds.
    pub cpu_us: u64,
    /// Peak resident set size, in bytes (`ru_maxrss`: on Linux it survives `exec`, so a process
    /// started by a larger one reports at least that one's size; see [`Self::peak_rss_own_bytes`]).
    pub peak_rss_bytes: u64,
}

impl ProcessUsage {
    /// The usage of this process now (zeros where the platform cannot tell).
    pub fn now() -> Self {
        #[cfg(unix)]
        {
            // SAFETY: getrusage writes into the zeroed struct we own and reads nothing else.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
                let micros = |t: libc::timeval| {
                    (t.tv_sec.max(0) as u64) * 1_000_000 + t.tv_usec.max(0) as u64
                };
                // ru_maxrss is in kilobytes on Linux and in bytes on macOS.
                let unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
                return Self {
                    cpu_us: micros(usage.ru_utime) + micros(usage.ru_stime),
                    peak_rss_bytes: (usage.ru_maxrss.max(0) as u64) * unit,
                };
            }
        }
        Self::default()
    }

    /// Peak resident set size of this program alone, in bytes: `VmHWM` of `/proc/self/status`
    /// where there is one (the peak of the current address space, reset by `exec`), else
    /// [`Self::now`]'s `ru_maxrss`. Reading `/proc` costs microseconds, so invocation records
    /// keep `ru_maxrss`; a function that reports Lambda's "max memory used" from a worker
    /// spawned by a larger process (the inference benchmark's) needs this one.
    pub fn peak_rss_own_bytes() -> u64 {
        let hwm_kb = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status.lines().find_map(|line| {
                    line.strip_prefix("VmHWM:")?
                        .trim()
                        .strip_suffix("kB")?
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
            });
        match hwm_kb {
            Some(kb) => kb * 1024,
            None => Self::now().peak_rss_bytes,
        }
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    /// The function returned an output.
    #[default]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_own_peak_is_known_and_never_above_the_inherited_one() {
        let own = ProcessUsage::peak_rss_own_bytes();
        assert!(own > 0);
        // ru_maxrss is at least the peak of the current address space.
        assert!(own <= ProcessUsage::now().peak_rss_bytes, "{own}");
    }
}
