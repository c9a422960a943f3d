//! [`EmbeddedState`]: the in-process state store, the default.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use crate::{StateError, StateStore, add_le_in_place, check_update_len, decode_f32};

/// An in-process [`StateStore`]. It hears of its own writes, so a reader can wait for a key
/// ([`StateStore::wait_get`]) and wake when it is written instead of polling.
#[derive(Debug, Default)]
pub struct EmbeddedState {
    values: Mutex<HashMap<String, Bytes>>,
    written: tokio::sync::Notify,
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
        self.written.notify_waiters();
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, StateError> {
        Ok(self.lock().remove(key).is_some())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StateError> {
        let mut values = self.lock();
        let before = values.len();
        values.retain(|key, _| !key.starts_with(prefix));
        Ok((before - values.len()) as u64)
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
        let Some(current) = values.get_mut(key) else {
            // A missing vector counts as zeros (0.0 + d, so -0.0 is stored as 0.0, as on Redis).
            let mut zeros = BytesMut::zeroed(4 * delta.len());
            add_le_in_place(&mut zeros, delta);
            values.insert(key.to_string(), zeros.freeze());
            return Ok(());
        };
        check_update_len(key, current.len(), delta.len())?;
        // In place when no reader holds the value (the usual case), else on a copy.
        let mut bytes = match std::mem::take(current).try_into_mut() {
            Ok(unique) => unique,
            Err(shared) => BytesMut::from(&shared[..]),
        };
        add_le_in_place(&mut bytes, delta);
        *current = bytes.freeze();
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
        drop(values);
        self.written.notify_waiters();
        Ok(true)
    }

    fn notifies_writes(&self) -> bool {
        true
    }

    fn is_local(&self) -> bool {
        true
    }

    async fn wait_get(
        &self,
        key: &str,
        timeout: std::time::Duration,
    ) -> Result<Option<Bytes>, StateError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the look, so a write between the look and the wait wakes it.
            let written = self.written.notified();
            let mut written = std::pin::pin!(written);
            written.as_mut().enable();
            if let Some(v) = self.lock().get(key).cloned() {
                return Ok(Some(v));
            }
            if tokio::time::timeout_at(deadline, written).await.is_err() {
                return Ok(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_the_write_and_gives_up_after_its_timeout() {
        use std::time::{Duration, Instant};
        let state = Arc::new(EmbeddedState::new());
        assert!(state.notifies_writes());
        let started = Instant::now();
        assert_eq!(
            state
                .wait_get("absent", Duration::from_millis(30))
                .await
                .unwrap(),
            None
        );
        assert!(started.elapsed() >= Duration::from_millis(30));
        let writer = {
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                state.put("other", Bytes::from_static(b"x")).await.unwrap();
                state.put("k", Bytes::from_static(b"v")).await.unwrap();
            })
        };
        let got = state.wait_get("k", Duration::from_secs(30)).await.unwrap();
        assert_eq!(got.as_deref(), Some(&b"v"[..]));
        writer.await.unwrap();
        // A key already there is returned at once.
        let got = state.wait_get("k", Duration::ZERO).await.unwrap();
        assert_eq!(got.as_deref(), Some(&b"v"[..]));
    }

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
