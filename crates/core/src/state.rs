//! The state store: a key-value interface with counters, f32 vectors and compare-and-set, as
//! parameter servers and reducers need it. [`EmbeddedState`] keeps it in process; remote
//! backends (Redis) implement the same trait.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;

/// What went wrong in a state store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The value under `key` has the wrong shape for the operation.
    #[error("state key '{key}': {reason}")]
    WrongType {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The backend failed or could not be reached.
    #[error("state store {url}: {reason}")]
    Backend {
        /// The store URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// A key-value state store shared by the functions of a run.
#[async_trait]
pub trait StateStore: Send + Sync + fmt::Debug {
    /// The URL the store was opened from, for messages.
    fn url(&self) -> &str;
    /// The value under `key`.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StateError>;
    /// Sets `key` to `value`.
    async fn put(&self, key: &str, value: Bytes) -> Result<(), StateError>;
    /// Removes `key`; returns whether it existed.
    async fn delete(&self, key: &str) -> Result<bool, StateError>;
    /// Atomically adds `by` to the integer counter under `key` (missing = 0); returns the new value.
    async fn incr(&self, key: &str, by: i64) -> Result<i64, StateError>;
    /// Atomically adds `delta` element-wise to the f32 vector under `key` (missing = zeros).
    async fn add_f32(&self, key: &str, delta: &[f32]) -> Result<(), StateError>;
    /// The f32 vector under `key`.
    async fn get_f32(&self, key: &str) -> Result<Option<Vec<f32>>, StateError>;
    /// Sets `key` to `new` only if its current value is `expected` (`None` = absent).
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
    ) -> Result<bool, StateError>;
}

/// An in-process [`StateStore`].
#[derive(Debug, Default)]
pub struct EmbeddedState {
    values: Mutex<HashMap<String, Bytes>>,
}

impl EmbeddedState {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bytes>> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn decode_f32(key: &str, bytes: &[u8]) -> Result<Vec<f32>, StateError> {
    if bytes.len() % 4 != 0 {
        return Err(StateError::WrongType {
            key: key.to_string(),
            reason: format!("{} bytes is not a whole number of f32s", bytes.len()),
        });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn encode_f32(values: &[f32]) -> Bytes {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[async_trait]
impl StateStore for EmbeddedState {
    fn url(&self) -> &str {
        "embedded://"
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StateError> {
        Ok(self.lock().get(key).cloned())
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<(), StateError> {
        self.lock().insert(key.to_string(), value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, StateError> {
        Ok(self.lock().remove(key).is_some())
    }

    async fn incr(&self, key: &str, by: i64) -> Result<i64, StateError> {
        let mut values = self.lock();
        let current = match values.get(key) {
            None => 0,
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| StateError::WrongType {
                    key: key.to_string(),
                    reason: "value is not an integer counter".to_string(),
                })?,
        };
        let next = current
            .checked_add(by)
            .ok_or_else(|| StateError::WrongType {
                key: key.to_string(),
                reason: "counter overflow".to_string(),
            })?;
        values.insert(key.to_string(), Bytes::from(next.to_string()));
        Ok(next)
    }

    async fn add_f32(&self, key: &str, delta: &[f32]) -> Result<(), StateError> {
        let mut values = self.lock();
        let mut current = match values.get(key) {
            None => vec![0.0; delta.len()],
            Some(bytes) => decode_f32(key, bytes)?,
        };
        if current.len() != delta.len() {
            return Err(StateError::WrongType {
                key: key.to_string(),
                reason: format!(
                    "vector has {} elements, update has {}",
                    current.len(),
                    delta.len()
                ),
            });
        }
        current.iter_mut().zip(delta).for_each(|(c, d)| *c += d);
        values.insert(key.to_string(), encode_f32(&current));
        Ok(())
    }

    async fn get_f32(&self, key: &str) -> Result<Option<Vec<f32>>, StateError> {
        match self.lock().get(key) {
            None => Ok(None),
            Some(bytes) => decode_f32(key, bytes).map(Some),
        }
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
    ) -> Result<bool, StateError> {
        let mut values = self.lock();
        if values.get(key).map(|b| &b[..]) != expected {
            return Ok(false);
        }
        values.insert(key.to_string(), new);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn counters_vectors_and_cas_behave() {
        let state = EmbeddedState::new();
        assert_eq!(state.incr("c", 2).await.unwrap(), 2);
        assert_eq!(state.incr("c", -5).await.unwrap(), -3);
        state.add_f32("w", &[1.0, 2.0]).await.unwrap();
        state.add_f32("w", &[0.5, -2.0]).await.unwrap();
        assert_eq!(state.get_f32("w").await.unwrap().unwrap(), vec![1.5, 0.0]);
        assert!(state.add_f32("w", &[1.0]).await.is_err());
        assert!(state.incr("w", 1).await.is_err());
        assert!(
            state
                .compare_and_swap("k", None, Bytes::from("a"))
                .await
                .unwrap()
        );
        assert!(
            !state
                .compare_and_swap("k", None, Bytes::from("b"))
                .await
                .unwrap()
        );
        assert!(
            state
                .compare_and_swap("k", Some(b"a"), Bytes::from("b"))
                .await
                .unwrap()
        );
        assert_eq!(state.get("k").await.unwrap().unwrap(), Bytes::from("b"));
        assert!(state.delete("k").await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_adds_lose_no_update() {
        let state = Arc::new(EmbeddedState::new());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    for _ in 0..100 {
                        state.add_f32("p", &[1.0, 1.0, 1.0]).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(state.get_f32("p").await.unwrap().unwrap(), vec![1600.0; 3]);
    }
}
