//! The worker's bounds: how much a worker admits at once, how its retry policy is clamped, and
//! how long it waits for slow clients and for its own drain.
//!
//! A worker is shared by every caller that can reach it, so nothing a request says may make it
//! hold unbounded memory or work. [`WorkerLimits`] holds the numbers, all with defaults that
//! `faasml serve` exposes as options:
//!
//! | limit | default | beyond it |
//! | --- | --- | --- |
//! | `max_in_flight` | 256 invocations delivered over HTTP | 503 `overloaded`, `Retry-After` |
//! | `max_body_bytes_in_flight` | 256 MiB of request bodies | 503 `overloaded`, `Retry-After` |
//! | `max_body_bytes` | 32 MiB per request | 413 `too-large` |
//! | `max_attempts` | 3 (at most [`MAX_ATTEMPTS_CAP`]) | clamped |
//! | backoff | 50 ms to 30 s | clamped |
//! | `max_timeout` | 15 min, or the function's own spec timeout if shorter | clamped |
//! | `header_read_timeout` | 10 s to send the request headers | connection closed |
//! | `drain_timeout` | 30 s after SIGTERM (Knative's default grace) | invocations cancelled |
//!
//! The two admission caps count only requests delivered over HTTP (the worker's admission gauges):
//! invocations a function makes that stay in the worker (no gateway) go straight to its embedded
//! platform and are bounded by its concurrency slots instead, so a driver fanning out to its own
//! worker cannot be refused by the caps its own request holds. A request refused at a cap is
//! answered at once, never queued, so a worker fanning out to itself through a gateway cannot
//! deadlock on them either: its children are refused and retried after `Retry-After`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use faasml_core::RetryPolicy;

use crate::error::WorkerError;

/// The most attempts per invocation a worker can be configured to allow.
pub const MAX_ATTEMPTS_CAP: u32 = 10;

/// The bounds of a worker (see the [module documentation](self) for the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerLimits {
    /// Most invocations delivered over HTTP in flight at once; more are answered 503.
    pub max_in_flight: usize,
    /// Largest request body, in bytes; a larger one is answered 413.
    pub max_body_bytes: usize,
    /// Most request body bytes held by the requests in flight; more are answered 503. A request
    /// without a `Content-Length` reserves `max_body_bytes`.
    pub max_body_bytes_in_flight: usize,
    /// Most attempts per invocation made by the worker's functions (1 to [`MAX_ATTEMPTS_CAP`]).
    pub max_attempts: u32,
    /// Shortest first backoff between attempts.
    pub min_backoff: Duration,
    /// Longest first backoff between attempts.
    pub max_backoff: Duration,
    /// Longest time limit of one attempt (and of the invocation itself).
    pub max_timeout: Duration,
    /// Time a connection has to send a request's headers before it is closed.
    pub header_read_timeout: Duration,
    /// Time the invocations in flight get to finish after shutdown begins before they are
    /// cancelled.
    pub drain_timeout: Duration,
    /// The `Retry-After` an overloaded worker sends.
    pub retry_after: Duration,
}

impl Default for WorkerLimits {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            max_body_bytes: 32 * 1024 * 1024,
            max_body_bytes_in_flight: 256 * 1024 * 1024,
            max_attempts: 3,
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(30),
            max_timeout: Duration::from_secs(15 * 60),
            header_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            retry_after: Duration::from_secs(1),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl WorkerLimits {
    /// The default limits (the same as [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the most invocations delivered over HTTP in flight at once.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets the most request body bytes held by the requests in flight.
    pub fn max_body_bytes_in_flight(mut self, bytes: usize) -> Self {
        self.max_body_bytes_in_flight = bytes;
        self
    }

    /// Sets the largest request body.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets the most attempts per invocation.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Sets the longest time limit of one attempt.
    pub fn max_timeout(mut self, timeout: Duration) -> Self {
        self.max_timeout = timeout;
        self
    }

    /// Sets the time a connection has to send its request headers.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets the time in-flight invocations get after shutdown begins.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// The same limits if they are consistent, else which one is not.
    pub fn check(self) -> Result<Self, WorkerError> {
        let bad = |reason: String| Err(WorkerError::BadLimits { reason });
        if self.max_in_flight == 0 {
            return bad("the most invocations in flight must be at least 1".into());
        }
        if self.max_body_bytes == 0 {
            return bad("the largest request body must be at least 1 byte".into());
        }
        if self.max_body_bytes_in_flight < self.max_body_bytes {
            return bad(format!(
                "the body bytes in flight ({}) must allow one request of the largest size ({})",
                self.max_body_bytes_in_flight, self.max_body_bytes
            ));
        }
        if !(1..=MAX_ATTEMPTS_CAP).contains(&self.max_attempts) {
            return bad(format!(
                "the most attempts must be 1 to {MAX_ATTEMPTS_CAP}, not {}",
                self.max_attempts
            ));
        }
        if self.min_backoff > self.max_backoff {
            return bad("the shortest backoff exceeds the longest".into());
        }
        if self.max_timeout.is_zero() || self.header_read_timeout.is_zero() {
            return bad("timeouts must be longer than zero".into());
        }
        Ok(self)
    }

    /// The retry policy a worker applies to an invocation whose caller asked for `requested`:
    /// at most `max_attempts` attempts, a first backoff between `min_backoff` and
    /// `max_backoff`, and always a timeout, no longer than `max_timeout` nor the function's own
    /// `function_timeout`. The invocation runs under that timeout too, and the invocations it
    /// makes inherit the clamped policy.
    pub fn clamp_retry(
        &self,
        requested: RetryPolicy,
        function_timeout: Option<Duration>,
    ) -> RetryPolicy {
        let ceiling =
            millis(function_timeout.map_or(self.max_timeout, |t| t.min(self.max_timeout)));
        RetryPolicy {
            max_attempts: requested.max_attempts.clamp(1, self.max_attempts),
            backoff_ms: requested
                .backoff_ms
                .clamp(millis(self.min_backoff), millis(self.max_backoff)),
            timeout_ms: Some(requested.timeout_ms.map_or(ceiling, |t| t.min(ceiling))),
        }
    }
}

/// What a worker holds for the requests delivered to it over HTTP: requests in flight and their
/// body bytes.
#[derive(Debug, Default)]
pub(crate) struct Admission {
    requests: AtomicUsize,
    body_bytes: AtomicUsize,
}

/// A request's share of the [`Admission`] gauges, given back when dropped.
#[derive(Debug)]
pub(crate) struct Admitted<'a> {
    admission: &'a Admission,
    body_bytes: usize,
}

/// Which cap refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `max_in_flight`.
    InFlight,
    /// `max_body_bytes_in_flight`.
    BodyBytes,
}

/// Adds `n` to `counter` unless the sum would exceed `max`.
fn try_add(counter: &AtomicUsize, n: usize, max: usize) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
            now.checked_add(n).filter(|&sum| sum <= max)
        })
        .is_ok()
}

impl Admission {
    /// Admits one request reserving `body_bytes`, or says which cap of `limits` refuses it.
    pub(crate) fn admit(
        &self,
        body_bytes: usize,
        limits: &WorkerLimits,
    ) -> Result<Admitted<'_>, Refusal> {
        if !try_add(&self.requests, 1, limits.max_in_flight) {
            return Err(Refusal::InFlight);
        }
        if !try_add(
            &self.body_bytes,
            body_bytes,
            limits.max_body_bytes_in_flight,
        ) {
            self.requests.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::BodyBytes);
        }
        Ok(Admitted {
            admission: self,
            body_bytes,
        })
    }

    /// Requests admitted and not yet answered.
    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::Acquire)
    }

    /// Body bytes reserved by those requests.
    pub(crate) fn body_bytes(&self) -> usize {
        self.body_bytes.load(Ordering::Acquire)
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.admission
            .body_bytes
            .fetch_sub(self.body_bytes, Ordering::AcqRel);
        self.admission.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_policies_are_clamped_to_the_workers() {
        let limits = WorkerLimits::default();
        let greedy = RetryPolicy {
            max_attempts: 1000,
            backoff_ms: 0,
            timeout_ms: None,
        };
        let clamped = limits.clamp_retry(greedy, None);
        assert_eq!(clamped.max_attempts, 3);
        assert_eq!(clamped.backoff_ms, 50);
        assert_eq!(clamped.timeout_ms, Some(15 * 60 * 1000));
        let slow = RetryPolicy {
            max_attempts: 0,
            backoff_ms: u64::MAX,
            timeout_ms: Some(u64::MAX),
        };
        let clamped = limits.clamp_retry(slow, Some(Duration::from_secs(42)));
        assert_eq!(clamped.max_attempts, 1);
        assert_eq!(clamped.backoff_ms, 30_000);
        assert_eq!(clamped.timeout_ms, Some(42_000));
        let modest = RetryPolicy {
            max_attempts: 2,
            backoff_ms: 200,
            timeout_ms: Some(5_000),
        };
        assert_eq!(limits.clamp_retry(modest, None), modest);
    }

    #[test]
    fn inconsistent_limits_are_refused() {
        assert!(WorkerLimits::default().check().is_ok());
        assert!(WorkerLimits::default().max_attempts(11).check().is_err());
        assert!(WorkerLimits::default().max_attempts(0).check().is_err());
        assert!(WorkerLimits::default().max_in_flight(0).check().is_err());
        let err = WorkerLimits::default()
            .max_body_bytes_in_flight(1024)
            .check()
            .unwrap_err();
        assert!(err.to_string().contains("largest size"), "{err}");
    }

    #[test]
    fn admission_refuses_beyond_either_cap_and_gives_back_on_drop() {
        let limits = WorkerLimits::default()
            .max_in_flight(2)
            .max_body_bytes(10)
            .max_body_bytes_in_flight(15);
        let admission = Admission::default();
        let a = admission.admit(10, &limits).unwrap();
        assert_eq!(
            admission.admit(10, &limits).unwrap_err(),
            Refusal::BodyBytes
        );
        assert_eq!(admission.requests(), 1, "a refusal holds nothing");
        let b = admission.admit(5, &limits).unwrap();
        assert_eq!(admission.admit(0, &limits).unwrap_err(), Refusal::InFlight);
        assert_eq!((admission.requests(), admission.body_bytes()), (2, 15));
        drop((a, b));
        assert_eq!((admission.requests(), admission.body_bytes()), (0, 0));
    }
}
