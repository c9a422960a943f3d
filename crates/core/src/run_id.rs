//! Run ids: the one rule for what a run id may be, and the generator of unique ones.
//!
//! A run id names the run's scratch prefix (`runs/<run id>/` in the object store and the state
//! store), its results (`results/<run id>/`) and its trace, so it reaches store keys: it is
//! checked wherever one enters the system (the command line, a worker's request headers, a
//! Lambda event) before anything uses it. The rule: 1 to 96 characters of `A-Z a-z 0-9 . _ -`,
//! starting with a letter or a digit. That excludes `/`, `..`, empty ids, spaces and control
//! characters, so `runs/<run id>/` is always exactly one run's prefix.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::record::now_micros;
use crate::run::UtcTime;

/// The longest run id accepted.
pub const MAX_RUN_ID_LEN: usize = 96;

/// Why a string is not a run id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid run id '{shown}': {reason} (a run id is 1 to {MAX_RUN_ID_LEN} characters of A-Z a-z 0-9 . _ -, starting with a letter or digit)"
)]
pub struct RunIdError {
    /// The offending id, truncated and with control characters escaped for display.
    pub shown: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Checks `id` against the run-id rule (see the module docs).
pub fn check_run_id(id: &str) -> Result<(), RunIdError> {
    let fail = |reason| {
        let mut shown: String = id
            .chars()
            .take(40)
            .collect::<String>()
            .escape_debug()
            .collect();
        if id.chars().count() > 40 {
            shown.push('…');
        }
        Err(RunIdError { shown, reason })
    };
    if id.is_empty() {
        return fail("it is empty");
    }
    if id.len() > MAX_RUN_ID_LEN {
        return fail("it is too long");
    }
    if !id.as_bytes()[0].is_ascii_alphanumeric() {
        return fail("it must start with a letter or a digit");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return fail("it contains a character outside A-Z a-z 0-9 . _ -");
    }
    Ok(())
}

/// A new run id, `<prefix>-YYYYMMDD-HHMMSS-<16 hex digits>` in UTC, unique across processes and
/// calls: the suffix mixes the clock's microseconds, the process id, a per-process counter and a
/// per-process random key. `prefix` is reduced to the run-id alphabet (`run` when nothing is
/// left), so the result always passes [`check_run_id`].
pub fn new_run_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let micros = now_micros();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(micros);
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let suffix = hasher.finish();
    let mut clean: String = prefix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(48)
        .collect();
    while clean.starts_with(['.', '_', '-']) {
        clean.remove(0);
    }
    if clean.is_empty() {
        clean.push_str("run");
    }
    let t = UtcTime::from_micros(micros);
    let mut id = clean;
    let _ = write!(
        id,
        "-{:04}{:02}{:02}-{:02}{:02}{:02}-{suffix:016x}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_leave_their_prefix_are_refused() {
        for good in ["r-1", "ml-training-20261205-101010-0a1b", "A.b_c-9", "x"] {
            assert!(check_run_id(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_RUN_ID_LEN + 1);
        for bad in [
            "", "/", "..", ".", "a/b", "../x", "-x", ".hidden", "a b", "a\nb", "é", "a*", &long,
        ] {
            let err = check_run_id(bad).unwrap_err();
            assert!(err.to_string().contains("invalid run id"), "{bad:?}: {err}");
        }
        assert!(
            check_run_id("a\u{0}")
                .unwrap_err()
                .to_string()
                .contains("\\0")
        );
    }

    #[test]
    fn generated_ids_are_valid_and_unique() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| new_run_id("ml-training")).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            check_run_id(id).unwrap();
            assert!(id.starts_with("ml-training-"), "{id}");
        }
        check_run_id(&new_run_id("../..")).unwrap();
        check_run_id(&new_run_id("")).unwrap();
        assert!(new_run_id("").starts_with("run-"));
    }
}
