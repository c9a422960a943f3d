//! [`ConfinedState`]: a [`StateStore`] decorator that confines its user to the keys under one
//! prefix, so that nothing a request says (a key, a namespace to clear) reaches outside its run.
//!
//! Keys are opaque strings to every backend (`runs/r-1/../r-2/x` is a key under `runs/r-1/`,
//! not a path into `runs/r-2/`), so a plain prefix test is the whole check. The prefix must end
//! with `/`: `runs/r-1` would also admit `runs/r-10/...`, the keys of another run.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{StateError, StateStore};

/// A [`StateStore`] that passes every operation on a key under `prefix` to `inner` unchanged and
/// refuses every other one with [`StateError::Denied`], touching nothing.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use faasml_state::{ConfinedState, EmbeddedState, StateError, StateStore};
/// let state = ConfinedState::new(
///     Arc::new(EmbeddedState::new()),
///     "runs/r-1/",
///     "function 'downpour.train' of run 'r-1'",
/// )
/// .unwrap();
/// state.incr("runs/r-1/step", 1).await.unwrap();
/// let err = state.incr("runs/r-2/step", 1).await.unwrap_err();
/// assert!(matches!(err, StateError::Denied { .. }));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct ConfinedState {
    inner: Arc<dyn StateStore>,
    prefix: String,
    who: String,
}

impl ConfinedState {
    /// Confines `who` (named in refusals, e.g. "function 'downpour.train' of run 'r-1'") to the
    /// keys of `inner` under `prefix` (e.g. `runs/r-1/`).
    ///
    /// Fails with [`StateError::BadPrefix`] when `prefix` is empty or does not end with `/`.
    pub fn new(
        inner: Arc<dyn StateStore>,
        prefix: impl Into<String>,
        who: impl Into<String>,
    ) -> Result<Self, StateError> {
        let prefix = prefix.into();
        if prefix.is_empty() || !prefix.ends_with('/') {
            return Err(StateError::BadPrefix {
                reason: format!(
                    "must be non-empty and end with '/' (a prefix '{prefix}' would also \
                     admit the keys of its siblings)"
                ),
                prefix,
            });
        }
        Ok(Self {
            inner,
            prefix,
            who: who.into(),
        })
    }

    /// The prefix every key must start with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The store the permitted operations go to.
    pub fn inner(&self) -> &Arc<dyn StateStore> {
        &self.inner
    }

    /// Refuses `key` unless it is under the prefix.
    fn check(&self, key: &str) -> Result<(), StateError> {
        if key.starts_with(&self.prefix) {
            return Ok(());
        }
        Err(StateError::Denied {
            key: key.to_string(),
            reason: format!(
                "{} may not touch state key '{key}' (only keys under {})",
                self.who, self.prefix
            ),
        })
    }
}

#[async_trait]
impl StateStore for ConfinedState {
    fn url(&self) -> &str {
        self.inner.url()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StateError> {
        self.check(key)?;
        self.inner.get(key).await
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<(), StateError> {
        self.check(key)?;
        self.inner.put(key, value).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StateError> {
        self.check(key)?;
        self.inner.delete(key).await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StateError> {
        // A prefix under ours selects only keys under ours; any other (`runs/`, `runs/r-1`)
        // selects keys outside too, so it is refused rather than narrowed.
        if !prefix.starts_with(&self.prefix) {
            return Err(StateError::Denied {
                key: prefix.to_string(),
                reason: format!(
                    "{} may not delete the state keys under '{prefix}' (only keys under {})",
                    self.who, self.prefix
                ),
            });
        }
        self.inner.delete_prefix(prefix).await
    }

    async fn incr(&self, key: &str, by: i64) -> Result<i64, StateError> {
        self.check(key)?;
        self.inner.incr(key, by).await
    }

    async fn add_f32(&self, key: &str, delta: &[f32]) -> Result<(), StateError> {
        self.check(key)?;
        self.inner.add_f32(key, delta).await
    }

    fn notifies_writes(&self) -> bool {
        self.inner.notifies_writes()
    }

    fn is_local(&self) -> bool {
        self.inner.is_local()
    }

    async fn wait_get(
        &self,
        key: &str,
        timeout: std::time::Duration,
    ) -> Result<Option<Bytes>, StateError> {
        self.check(key)?;
        self.inner.wait_get(key, timeout).await
    }

    async fn get_f32(&self, key: &str) -> Result<Option<Vec<f32>>, StateError> {
        self.check(key)?;
        self.inner.get_f32(key).await
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
    ) -> Result<bool, StateError> {
        self.check(key)?;
        self.inner.compare_and_swap(key, expected, new).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmbeddedState;

    const WHO: &str = "function 'downpour.train' of run 'r-1'";

    /// A confined view of a fresh embedded store, and the store itself.
    fn confined() -> (ConfinedState, Arc<dyn StateStore>) {
        let inner: Arc<dyn StateStore> = Arc::new(EmbeddedState::new());
        let state = ConfinedState::new(Arc::clone(&inner), "runs/r-1/", WHO).unwrap();
        (state, inner)
    }

    /// Every operation on `key`, in order; the results as text, for comparing two stores.
    async fn every_op(state: &dyn StateStore, key: &str) -> Vec<String> {
        vec![
            format!("{:?}", state.put(key, Bytes::from_static(b"v")).await),
            format!("{:?}", state.get(key).await),
            format!("{:?}", state.delete(key).await),
            format!("{:?}", state.incr(key, 3).await),
            format!("{:?}", state.delete(key).await),
            format!("{:?}", state.add_f32(key, &[1.0, 2.0]).await),
            format!("{:?}", state.get_f32(key).await),
            format!(
                "{:?}",
                state
                    .compare_and_swap(key, None, Bytes::from_static(b"x"))
                    .await
            ),
            format!("{:?}", state.delete_prefix(key).await),
        ]
    }

    #[tokio::test]
    async fn keys_under_the_prefix_pass_through_unchanged() {
        let (state, _) = confined();
        let plain = EmbeddedState::new();
        for key in ["runs/r-1/x", "runs/r-1/downpour/w/0", "runs/r-1/../r-2/x"] {
            assert_eq!(every_op(&state, key).await, every_op(&plain, key).await);
        }
        state.add_f32("runs/r-1/w", &[0.5]).await.unwrap();
        assert_eq!(state.get_f32("runs/r-1/w").await.unwrap(), Some(vec![0.5]));
        assert_eq!(state.delete_prefix("runs/r-1/").await.unwrap(), 1);
        assert_eq!(state.url(), "embedded://");
    }

    #[tokio::test]
    async fn keys_outside_are_refused_and_nothing_changes() {
        let (state, inner) = confined();
        for key in [
            "runs/r-2/x",
            "runs/r-1",
            "runs/",
            "",
            "other/runs/r-1/x",
            "runs/r-10/x",
        ] {
            inner.put(key, Bytes::from_static(b"before")).await.unwrap();
            let results = every_op(&state, key).await;
            for result in &results {
                assert!(result.starts_with("Err(Denied"), "{key}: {result}");
            }
            assert_eq!(
                inner.get(key).await.unwrap(),
                Some(Bytes::from_static(b"before")),
                "{key}"
            );
        }
        let err = state.get("runs/r-2/x").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "function 'downpour.train' of run 'r-1' may not touch state key 'runs/r-2/x' \
             (only keys under runs/r-1/)"
        );
        let err = state.delete_prefix("runs/").await.unwrap_err();
        assert!(
            matches!(&err, StateError::Denied { key, .. } if key == "runs/"),
            "{err}"
        );
        assert!(err.to_string().starts_with(WHO), "{err}");
    }

    #[tokio::test]
    async fn a_sibling_run_sharing_the_name_prefix_is_not_reachable() {
        let (state, inner) = confined();
        inner.incr("runs/r-10/step", 7).await.unwrap();
        assert!(state.get("runs/r-10/step").await.is_err());
        assert!(state.incr("runs/r-10/step", 1).await.is_err());
        assert!(state.delete_prefix("runs/r-1").await.is_err());
        assert_eq!(inner.incr("runs/r-10/step", 0).await.unwrap(), 7);
        // The prefix itself must end with '/', else it would admit runs/r-10/.
        for prefix in ["runs/r-1", ""] {
            let err = ConfinedState::new(Arc::clone(&inner), prefix, WHO).unwrap_err();
            assert!(matches!(err, StateError::BadPrefix { .. }), "{err}");
            assert!(err.to_string().contains("end with '/'"), "{err}");
        }
    }
}
