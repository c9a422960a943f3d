//! Coordination primitives over a [`StateStore`]: what the functions of one run use to share
//! work without a coordinator process.
//!
//! - [`Namespace`]: a run's key prefix, with JSON values and a `clear` that removes everything
//!   under it;
//! - [`ChunkedVector`]: an `f32` vector kept as a few chunk keys, read whole and updated by
//!   atomic element-wise adds (a parameter server; the sum of an allreduce);
//! - [`Barrier`]: counts each participant once per round and tells the last one to arrive;
//! - [`Fence`]: generations per member, so that an older invocation of a re-invoked worker can
//!   tell it was superseded and stop.
//!
//! Every operation is safe to repeat (a retried function repeats it): initialisation can keep
//! existing chunks, a barrier counts a participant once however often it arrives, a fence only
//! moves forward.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use faasml_state::{EmbeddedState, coord::Namespace};
//! let ns = Namespace::new(Arc::new(EmbeddedState::new()), "run-1");
//! let v = ns.vector("p", 10, 4);
//! v.init(&[1.0; 10]).await.unwrap();
//! v.push(&[0.5; 10], false).await.unwrap();
//! let mut got = [0.0; 10];
//! v.pull(&mut got).await.unwrap();
//! assert_eq!(got, [1.5; 10]);
//! assert_eq!(ns.clear().await.unwrap(), 3);
//! # });
//! ```

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{StateError, StateStore};

/// What went wrong while coordinating.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoordError {
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A key that must exist is missing (the store lost its state, or the run was cleared).
    #[error("'{key}' is missing from {url} ({context})")]
    Missing {
        /// The key.
        key: String,
        /// The store URL.
        url: String,
        /// What this means for the caller.
        context: String,
    },
    /// A value has the wrong size or cannot be decoded.
    #[error("'{key}' in {url} is corrupt: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// The store URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The caller passed a vector of the wrong length.
    #[error("'{key}' holds {expected} values, got {got}")]
    Length {
        /// The vector's key prefix.
        key: String,
        /// Its length.
        expected: usize,
        /// The length passed.
        got: usize,
    },
}

/// Result type of this module.
pub type Result<T, E = CoordError> = std::result::Result<T, E>;

/// A run's keys: everything under `<prefix>/`.
#[derive(Debug, Clone)]
pub struct Namespace {
    state: Arc<dyn StateStore>,
    prefix: String,
}

impl Namespace {
    /// The keys under `prefix` (without a trailing `/`) in `state`.
    pub fn new(state: Arc<dyn StateStore>, prefix: impl Into<String>) -> Self {
        Self {
            state,
            prefix: prefix.into().trim_end_matches('/').to_string(),
        }
    }

    /// The state store.
    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.state
    }

    /// The state store's URL.
    pub fn url(&self) -> &str {
        self.state.url()
    }

    /// The prefix, without a trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The full key of `suffix` in this namespace.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}/{suffix}", self.prefix)
    }

    /// The namespace nested under `suffix`.
    pub fn child(&self, suffix: &str) -> Self {
        Self::new(Arc::clone(&self.state), self.key(suffix))
    }

    /// The JSON value under `suffix`, if any.
    pub async fn get_json<T: DeserializeOwned>(&self, suffix: &str) -> Result<Option<T>> {
        let key = self.key(suffix);
        let Some(bytes) = self.state.get(&key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CoordError::Corrupt {
                key,
                url: self.url().to_string(),
                reason: e.to_string(),
            })
    }

    /// Sets `suffix` to `value` as JSON.
    pub async fn put_json<T: Serialize>(&self, suffix: &str, value: &T) -> Result<()> {
        let key = self.key(suffix);
        let bytes = serde_json::to_vec(value).map_err(|e| CoordError::Corrupt {
            key: key.clone(),
            url: self.url().to_string(),
            reason: format!("cannot encode: {e}"),
        })?;
        Ok(self.state.put(&key, Bytes::from(bytes)).await?)
    }

    /// The text under `suffix`, if any.
    pub async fn get_text(&self, suffix: &str) -> Result<Option<String>> {
        let value = self.state.get(&self.key(suffix)).await?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Sets `suffix` to `text`.
    pub async fn put_text(&self, suffix: &str, text: &str) -> Result<()> {
        let bytes = Bytes::from(text.to_string());
        Ok(self.state.put(&self.key(suffix), bytes).await?)
    }

    /// Removes every key of the namespace; returns how many there were.
    pub async fn clear(&self) -> Result<u64> {
        Ok(self
            .state
            .delete_prefix(&format!("{}/", self.prefix))
            .await?)
    }

    /// The chunked vector `name` of `len` floats in chunks of `chunk`.
    pub fn vector(&self, name: &str, len: usize, chunk: usize) -> ChunkedVector {
        ChunkedVector {
            ns: self.child(name),
            len,
            chunk: chunk.max(1),
        }
    }

    /// The barrier `name`.
    pub fn barrier(&self, name: &str) -> Barrier {
        Barrier {
            ns: self.child(name),
        }
    }

    /// The fence `name`.
    pub fn fence(&self, name: &str) -> Fence {
        Fence {
            ns: self.child(name),
        }
    }
}

/// Bytes moved by one pull or push of a [`ChunkedVector`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transfer {
    /// Bytes sent or received.
    pub bytes: u64,
    /// Bytes left out (chunks whose update was all zeros).
    pub skipped: u64,
}

/// `values` as little-endian bytes, the state store's f32 encoding.
fn le_bytes(values: &[f32]) -> Bytes {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// An `f32` vector stored as chunk keys `<name>/<i>`, never one key per value.
///
/// A push is one atomic element-wise add per chunk, so concurrent pushers lose no update, and
/// chunks are independent: a pusher that dies mid-push leaves every chunk a consistent sum.
#[derive(Debug, Clone)]
pub struct ChunkedVector {
    ns: Namespace,
    len: usize,
    chunk: usize,
}

impl ChunkedVector {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the vector has no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of chunk keys.
    pub fn n_chunks(&self) -> usize {
        self.len.div_ceil(self.chunk)
    }

    /// The state store's URL.
    pub fn url(&self) -> &str {
        self.ns.url()
    }

    fn range(&self, i: usize) -> Range<usize> {
        let start = i * self.chunk;
        start..(start + self.chunk).min(self.len)
    }

    fn check_len(&self, got: usize) -> Result<()> {
        if got == self.len {
            Ok(())
        } else {
            Err(CoordError::Length {
                key: self.ns.prefix().to_string(),
                expected: self.len,
                got,
            })
        }
    }

    /// Writes `values`, overwriting every chunk.
    pub async fn init(&self, values: &[f32]) -> Result<()> {
        self.write(values, false).await
    }

    /// Writes the chunks that are absent, keeping those that exist (so a repeated
    /// initialisation never overwrites what others have added since).
    pub async fn init_if_absent(&self, values: &[f32]) -> Result<()> {
        self.write(values, true).await
    }

    async fn write(&self, values: &[f32], only_absent: bool) -> Result<()> {
        self.check_len(values.len())?;
        let state = self.ns.state();
        futures::future::try_join_all((0..self.n_chunks()).map(|i| {
            let bytes = le_bytes(&values[self.range(i)]);
            let key = self.ns.key(&i.to_string());
            async move {
                if only_absent {
                    state.compare_and_swap(&key, None, bytes).await.map(|_| ())
                } else {
                    state.put(&key, bytes).await
                }
            }
        }))
        .await?;
        Ok(())
    }

    /// Reads every chunk into `out`; a missing chunk is an error, never zeros.
    pub async fn pull(&self, out: &mut [f32]) -> Result<Transfer> {
        self.check_len(out.len())?;
        let state = self.ns.state();
        let chunks = futures::future::try_join_all((0..self.n_chunks()).map(|i| {
            let key = self.ns.key(&i.to_string());
            async move { state.get(&key).await.map(|v| (key, v)) }
        }))
        .await?;
        let mut bytes = 0;
        for (i, (key, value)) in chunks.into_iter().enumerate() {
            let range = self.range(i);
            let Some(value) = value else {
                return Err(CoordError::Missing {
                    key,
                    url: self.url().to_string(),
                    context: "the store lost its state, or the run was cleared".to_string(),
                });
            };
            if value.len() != 4 * range.len() {
                return Err(CoordError::Corrupt {
                    key,
                    url: self.url().to_string(),
                    reason: format!("{} bytes, expected {}", value.len(), 4 * range.len()),
                });
            }
            for (v, b) in out[range].iter_mut().zip(value.chunks_exact(4)) {
                *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            bytes += value.len() as u64;
        }
        Ok(Transfer { bytes, skipped: 0 })
    }

    /// Adds `update` element-wise, chunk by chunk; with `changed_only`, chunks whose update is
    /// all zeros are not sent.
    pub async fn push(&self, update: &[f32], changed_only: bool) -> Result<Transfer> {
        self.check_len(update.len())?;
        let mut transfer = Transfer::default();
        let mut sends = Vec::with_capacity(self.n_chunks());
        for i in 0..self.n_chunks() {
            let part = &update[self.range(i)];
            let bytes = 4 * part.len() as u64;
            if changed_only && part.iter().all(|&v| v == 0.0) {
                transfer.skipped += bytes;
                continue;
            }
            transfer.bytes += bytes;
            sends.push((self.ns.key(&i.to_string()), part));
        }
        let state = self.ns.state();
        futures::future::try_join_all(
            sends
                .into_iter()
                .map(|(key, part)| async move { state.add_f32(&key, part).await }),
        )
        .await?;
        Ok(transfer)
    }
}

/// Counts participants per round; each counts once however often it arrives.
#[derive(Debug, Clone)]
pub struct Barrier {
    ns: Namespace,
}

impl Barrier {
    /// Records that `participant` finished `round`; returns whether it is the last of
    /// `participants` to do so (exactly one arrival per round returns true).
    pub async fn arrive(
        &self,
        round: usize,
        participant: usize,
        participants: usize,
    ) -> Result<bool> {
        let state = self.ns.state();
        let first = state
            .compare_and_swap(
                &self.ns.key(&format!("{round}/{participant}")),
                None,
                Bytes::from_static(b"1"),
            )
            .await?;
        if !first {
            return Ok(false);
        }
        let arrived = state.incr(&self.ns.key(&round.to_string()), 1).await?;
        Ok(arrived == participants as i64)
    }

    /// How many participants have finished `round`.
    pub async fn arrived(&self, round: usize) -> Result<i64> {
        Ok(self
            .ns
            .state()
            .incr(&self.ns.key(&round.to_string()), 0)
            .await?)
    }
}

/// Generations per member: each invocation of a member takes the next one, and an older
/// invocation that sees a newer generation knows it was superseded.
#[derive(Debug, Clone)]
pub struct Fence {
    ns: Namespace,
}

impl Fence {
    /// Takes the next generation of `member`.
    pub async fn next(&self, member: usize) -> Result<i64> {
        Ok(self
            .ns
            .state()
            .incr(&self.ns.key(&member.to_string()), 1)
            .await?)
    }

    /// The current generation of `member` (0 before the first).
    pub async fn current(&self, member: usize) -> Result<i64> {
        Ok(self
            .ns
            .state()
            .incr(&self.ns.key(&member.to_string()), 0)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmbeddedState;

    fn ns() -> Namespace {
        Namespace::new(Arc::new(EmbeddedState::new()), "t")
    }

    #[tokio::test]
    async fn push_adds_and_pull_reads_every_chunk() {
        let v = ns().vector("p", 10, 4);
        assert_eq!(v.n_chunks(), 3);
        let init: Vec<f32> = (0..10).map(|i| i as f32).collect();
        v.init(&init).await.unwrap();
        let mut update = vec![0.0; 10];
        update[9] = 1.0;
        let t = v.push(&update, true).await.unwrap();
        assert_eq!((t.bytes, t.skipped), (8, 32), "only the last chunk is sent");
        let t = v.push(&update, false).await.unwrap();
        assert_eq!((t.bytes, t.skipped), (40, 0));
        let mut got = vec![0.0; 10];
        assert_eq!(v.pull(&mut got).await.unwrap().bytes, 40);
        assert_eq!(got[9], 11.0);
        assert_eq!(&got[..9], &init[..9]);
        v.init_if_absent(&[7.0; 10]).await.unwrap();
        v.pull(&mut got).await.unwrap();
        assert_eq!(got[9], 11.0, "init_if_absent keeps existing chunks");
        let err = v.push(&[0.0; 3], false).await.unwrap_err().to_string();
        assert!(err.contains("10 values, got 3"), "{err}");
    }

    #[tokio::test]
    async fn a_lost_chunk_is_an_error_not_zeros() {
        let ns = ns();
        let v = ns.vector("p", 10, 4);
        v.init(&[1.0; 10]).await.unwrap();
        ns.state().delete("t/p/1").await.unwrap();
        let err = v.pull(&mut [0.0; 10]).await.unwrap_err().to_string();
        assert!(
            err.contains("t/p/1") && err.contains("lost its state"),
            "{err}"
        );
        ns.state()
            .put("t/p/1", Bytes::from_static(b"abc"))
            .await
            .unwrap();
        let err = v.pull(&mut [0.0; 10]).await.unwrap_err().to_string();
        assert!(err.contains("corrupt") && err.contains("3 bytes"), "{err}");
    }

    #[tokio::test]
    async fn a_barrier_counts_each_participant_once() {
        let b = ns().barrier("seg");
        assert!(!b.arrive(0, 0, 2).await.unwrap());
        assert!(!b.arrive(0, 0, 2).await.unwrap(), "a repeat is not counted");
        assert!(b.arrive(0, 1, 2).await.unwrap());
        assert_eq!(b.arrived(0).await.unwrap(), 2);
        assert_eq!(b.arrived(1).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn fences_move_forward_and_clear_removes_the_namespace() {
        let ns = ns();
        let f = ns.fence("gen");
        assert_eq!(f.current(3).await.unwrap(), 0);
        assert_eq!(f.next(3).await.unwrap(), 1);
        assert_eq!(f.next(3).await.unwrap(), 2);
        assert_eq!(f.current(3).await.unwrap(), 2);
        ns.put_json("progress", &vec![1, 2]).await.unwrap();
        assert_eq!(
            ns.get_json::<Vec<u32>>("progress").await.unwrap(),
            Some(vec![1, 2])
        );
        let other = Namespace::new(Arc::clone(ns.state()), "tt");
        other.put_text("x", "kept").await.unwrap();
        assert_eq!(ns.clear().await.unwrap(), 2);
        assert_eq!(f.current(3).await.unwrap(), 0);
        assert_eq!(other.get_text("x").await.unwrap().as_deref(), Some("kept"));
    }
}
