//! The faasml state store: the key-value interface that parameter servers and reducers use
//! (get/put, atomic counters, atomic element-wise add of f32 vectors, compare-and-set), with the
//! in-process [`EmbeddedState`] as the default backend and [`RedisState`] on a Redis server
//! (`redis://host:port[/db][?ttl=SECONDS]`, every key written with a time-to-live, 24 h by
//! default) for functions that run in separate processes. [`ConfinedState`] wraps either so that
//! a function can touch only the keys of its own run.
//!
//! Values are bytes; f32 vectors are stored as little-endian bytes and counters as decimal
//! strings, the same encoding a Redis backend uses, so data written by one backend reads the same
//! through another.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use faasml_state::{EmbeddedState, StateStore};
//! let state = EmbeddedState::new();
//! state.add_f32("weights", &[0.5, 1.0]).await.unwrap();
//! state.add_f32("weights", &[0.5, 1.0]).await.unwrap();
//! assert_eq!(state.get_f32("weights").await.unwrap(), Some(vec![1.0, 2.0]));
//! # });
//! ```

mod confined;
pub mod coord;
mod embedded;
mod redis_state;

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

pub use confined::ConfinedState;
pub use embedded::EmbeddedState;
pub use redis_state::RedisState;

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
    /// A [`ConfinedState`] refused an operation on a key outside its prefix; nothing was done.
    /// `reason` is the whole message: who may touch only which keys.
    #[error("{reason}")]
    Denied {
        /// The key (or, for `delete_prefix`, the prefix) that was refused.
        key: String,
        /// Who was refused and which keys they may touch.
        reason: String,
    },
    /// A [`ConfinedState`] was asked to confine to an unusable prefix.
    #[error("state confinement prefix '{prefix}': {reason}")]
    BadPrefix {
        /// The prefix.
        prefix: String,
        /// What is wrong with it.
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
    /// Removes every key that starts with `prefix` (a run's namespace, say); returns how many.
    /// Keys written while it runs may survive; callers clear a namespace once its users stopped.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StateError>;
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

    /// Whether the store lives in this process: a value written is handed over, not copied or
    /// sent, so its size costs nothing (and encoding it smaller only costs CPU).
    fn is_local(&self) -> bool {
        false
    }

    /// Whether [`StateStore::wait_get`] waits for a write (the store hears of its writes)
    /// rather than returning at once.
    fn notifies_writes(&self) -> bool {
        false
    }

    /// The value under `key`, waiting up to `timeout` for it to be written when the store
    /// [notifies writes](StateStore::notifies_writes); otherwise the same as `get`.
    async fn wait_get(
        &self,
        key: &str,
        timeout: std::time::Duration,
    ) -> Result<Option<Bytes>, StateError> {
        let _ = timeout;
        self.get(key).await
    }
}

/// Checks that `len` bytes are a whole number of f32s.
fn check_whole_f32s(key: &str, len: usize) -> Result<(), StateError> {
    if !len.is_multiple_of(4) {
        return Err(StateError::WrongType {
            key: key.to_string(),
            reason: format!("{len} bytes is not a whole number of f32s"),
        });
    }
    Ok(())
}

/// Checks that a stored value of `len` bytes can take an update of `n` f32s.
pub(crate) fn check_update_len(key: &str, len: usize, n: usize) -> Result<(), StateError> {
    check_whole_f32s(key, len)?;
    if len != 4 * n {
        return Err(StateError::WrongType {
            key: key.to_string(),
            reason: format!("vector has {} elements, update has {n}", len / 4),
        });
    }
    Ok(())
}

/// Adds `delta` element-wise, in f32, to the little-endian f32s in `bytes` (of the same length,
/// see [`check_update_len`]): the one definition of `add_f32` every backend stores.
pub(crate) fn add_le_in_place(bytes: &mut [u8], delta: &[f32]) {
    for (c, d) in bytes.chunks_exact_mut(4).zip(delta) {
        let sum = f32::from_le_bytes([c[0], c[1], c[2], c[3]]) + d;
        c.copy_from_slice(&sum.to_le_bytes());
    }
}

pub(crate) fn decode_f32(key: &str, bytes: &[u8]) -> Result<Vec<f32>, StateError> {
    check_whole_f32s(key, bytes.len())?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Opens the state store a URL names: `embedded://` (a new in-process store) or
/// `redis://host:port[/db][?ttl=SECONDS]` (a [`RedisState`]; fails within seconds if the server
/// does not answer).
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn StateStore>, StateError> {
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("embedded") => Ok(std::sync::Arc::new(EmbeddedState::new())),
        Some("redis") => Ok(std::sync::Arc::new(RedisState::connect(url).await?)),
        _ => Err(StateError::Backend {
            url: url.to_string(),
            reason: "unsupported state URL (supported: embedded://, redis://host:port[/db])"
                .to_string(),
        }),
    }
}
