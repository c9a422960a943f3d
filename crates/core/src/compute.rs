//! Running CPU-heavy work on the shared rayon pool from async code.
//!
//! All heavy computation of all concurrently running functions goes through one rayon pool sized
//! to the machine's cores, so functions running at once share the cores instead of
//! oversubscribing them, and a function that runs alone can still use every core (rayon's
//! `par_iter` inside the closure runs on the same pool).

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::FunctionError;

/// Runs `work` on the rayon pool and awaits its result; a panic becomes a [`FunctionError`].
pub async fn compute<T, F>(work: F) -> Result<T, FunctionError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(work));
        // The receiver is gone only if the invocation was cancelled; nothing to report then.
        let _ = tx.send(result);
    });
    match rx.await {
        Ok(Ok(value)) => Ok(value),
        // As a function's panic (see the embedded platform), a computation's is not retried.
        Ok(Err(panic)) => Err(FunctionError::permanent(
            "panic",
            format!("computation panicked: {}", panic_message(&*panic)),
        )),
        Err(_) => Err(FunctionError::new(
            "cancelled",
            "the computation was dropped before it finished",
        )),
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_value_and_turns_panics_into_errors() {
        assert_eq!(compute(|| 6 * 7).await.unwrap(), 42);
        let err = compute(|| -> u32 { panic!("kaboom") }).await.unwrap_err();
        assert_eq!(err.error_type, "panic");
        assert!(err.error_message.contains("kaboom"));
    }
}
