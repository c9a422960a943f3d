//! The parameter server of a downpour run, kept in the state store.
//!
//! Every key of a run lives under `downpour/<run id>/`:
//!
//! | key | value |
//! | --- | --- |
//! | `p/<i>` | chunk `i` of the flat parameters, little-endian f32 (`chunk` floats, the last shorter) |
//! | `stop` | present once the run should stop; holds the reason |
//! | `final` | the parameters measured by the evaluation that stopped the run (the published model) |
//! | `seg/<s>` | how many workers finished segment `s` (an epoch has `evals_per_epoch` segments) |
//! | `seg/<s>/<w>` | marks that worker `w` counted segment `s`, so a re-invoked worker counts it once |
//! | `eval/<s>` | the [`EvalPoint`] measured when the last worker finished segment `s` |
//! | `w/<w>/gen` | generation of worker `w`: each (re-)invocation takes the next, and an older one stops |
//! | `w/<w>/progress` | where worker `w` is ([`Progress`]), saved at every fetch, so a re-invoked worker resumes |
//!
//! A push adds `-lr * gradient` to each chunk with the store's atomic `add_f32`, so concurrent
//! pushes never lose an update; chunks whose update is all zeros are skipped when pushing only
//! changed parameters. A pull reads every chunk; a chunk that has disappeared (a server that
//! restarted empty) is an error, never a silent restart from zeros.

use std::sync::Arc;

use bytes::Bytes;
use faasml_core::{StateError, StateStore};
use futures::future::try_join_all;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};

/// Where a worker is in its training, saved so that a re-invoked worker resumes there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epoch the worker is in (0-based).
    pub epoch: usize,
    /// Next minibatch of that epoch.
    pub batch: usize,
    /// Minibatches trained so far (over all epochs).
    pub iterations: u64,
    /// Pulls of the parameters.
    pub pulls: u64,
    /// Pushes of updates.
    pub pushes: u64,
    /// Bytes of parameters pulled.
    pub bytes_pulled: u64,
    /// Bytes of updates pushed.
    pub bytes_pushed: u64,
    /// Bytes not pushed because their chunk's update was all zeros.
    pub bytes_skipped: u64,
    /// Times the worker was re-invoked after a failure.
    pub restarts: u64,
    /// Seconds spent loading the slice (every invocation's load counts).
    pub load_seconds: f64,
    /// Seconds spent in the training loop.
    pub train_seconds: f64,
}

/// A test-set accuracy measured during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    /// Segment index (epoch * evals_per_epoch + k).
    pub segment: usize,
    /// Epochs of training behind this measurement (fractional between epoch ends).
    pub epoch: f64,
    /// Seconds since the parameters were initialised.
    pub elapsed_s: f64,
    /// Accuracy on the test set.
    pub accuracy: f64,
    /// Mean cross-entropy on the test set.
    pub loss: f64,
}

/// `values` as little-endian bytes, the state store's f32 encoding.
fn le_bytes(values: &[f32]) -> Bytes {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The parameter server of one run: a handle on its keys in the state store.
#[derive(Debug, Clone)]
pub struct ParameterServer {
    state: Arc<dyn StateStore>,
    prefix: String,
    n_params: usize,
    chunk: usize,
}

/// Bytes moved by one pull or push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transfer {
    /// Bytes sent or received.
    pub bytes: u64,
    /// Bytes left out (chunks with an all-zero update).
    pub skipped: u64,
}

impl ParameterServer {
    /// The server of run `run_id` holding `n_params` floats in chunks of `chunk`.
    pub fn new(state: Arc<dyn StateStore>, run_id: &str, n_params: usize, chunk: usize) -> Self {
        Self {
            state,
            prefix: format!("downpour/{run_id}"),
            n_params,
            chunk: chunk.max(1),
        }
    }

    /// The state store's URL.
    pub fn url(&self) -> &str {
        self.state.url()
    }

    /// Number of parameter chunks.
    pub fn n_chunks(&self) -> usize {
        self.n_params.div_ceil(self.chunk)
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}/{suffix}", self.prefix)
    }

    fn chunk_range(&self, i: usize) -> std::ops::Range<usize> {
        let start = i * self.chunk;
        start..(start + self.chunk).min(self.n_params)
    }

    fn state_error(&self, err: StateError) -> WorkflowError {
        WorkflowError::State(err)
    }

    /// Writes the initial parameters (overwriting any earlier ones).
    pub async fn init(&self, params: &[f32]) -> Result<()> {
        self.write_chunks(params, false).await
    }

    /// Writes the initial parameters of every chunk that is absent, keeping any that exist (so a
    /// re-invoked setup never overwrites trained parameters).
    pub async fn init_if_absent(&self, params: &[f32]) -> Result<()> {
        self.write_chunks(params, true).await
    }

    async fn write_chunks(&self, params: &[f32], only_absent: bool) -> Result<()> {
        self.check_len(params.len())?;
        try_join_all((0..self.n_chunks()).map(|i| {
            let bytes = le_bytes(&params[self.chunk_range(i)]);
            let key = self.key(&format!("p/{i}"));
            async move {
                if only_absent {
                    self.state
                        .compare_and_swap(&key, None, bytes)
                        .await
                        .map(|_| ())
                } else {
                    self.state.put(&key, bytes).await
                }
            }
        }))
        .await
        .map_err(|e| self.state_error(e))?;
        Ok(())
    }

    fn check_len(&self, len: usize) -> Result<()> {
        if len != self.n_params {
            return Err(WorkflowError::InvalidParams(format!(
                "the parameter server holds {} parameters, got {len}",
                self.n_params
            )));
        }
        Ok(())
    }

    /// Reads every chunk into `params`.
    pub async fn pull(&self, params: &mut [f32]) -> Result<Transfer> {
        self.check_len(params.len())?;
        let chunks = try_join_all((0..self.n_chunks()).map(|i| {
            let key = self.key(&format!("p/{i}"));
            async move { self.state.get(&key).await.map(|v| (key, v)) }
        }))
        .await
        .map_err(|e| self.state_error(e))?;
        let mut bytes = 0;
        for (i, (key, value)) in chunks.into_iter().enumerate() {
            let range = self.chunk_range(i);
            let Some(value) = value else {
                return Err(WorkflowError::ParameterServer(format!(
                    "parameter chunk '{key}' is missing from {} (the server lost its state, or \
                     the run was cleaned up); refusing to train on stale weights",
                    self.url()
                )));
            };
            if value.len() != 4 * range.len() {
                return Err(WorkflowError::ParameterServer(format!(
                    "parameter chunk '{key}' in {} has {} bytes, expected {}",
                    self.url(),
                    value.len(),
                    4 * range.len()
                )));
            }
            for (p, b) in params[range].iter_mut().zip(value.chunks_exact(4)) {
                *p = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            bytes += value.len() as u64;
        }
        Ok(Transfer { bytes, skipped: 0 })
    }

    /// Adds `update` to the parameters, chunk by chunk; with `changed_only`, chunks whose update
    /// is all zeros are not sent.
    pub async fn push(&self, update: &[f32], changed_only: bool) -> Result<Transfer> {
        self.check_len(update.len())?;
        let mut transfer = Transfer::default();
        let mut sends = Vec::with_capacity(self.n_chunks());
        for i in 0..self.n_chunks() {
            let part = &update[self.chunk_range(i)];
            let bytes = 4 * part.len() as u64;
            if changed_only && part.iter().all(|&v| v == 0.0) {
                transfer.skipped += bytes;
                continue;
            }
            transfer.bytes += bytes;
            sends.push((self.key(&format!("p/{i}")), part));
        }
        try_join_all(
            sends
                .into_iter()
                .map(|(key, part)| async move { self.state.add_f32(&key, part).await }),
        )
        .await
        .map_err(|e| self.state_error(e))?;
        Ok(transfer)
    }

    /// The reason the run should stop, once one worker decided it.
    pub async fn stop_reason(&self) -> Result<Option<String>> {
        let value = self
            .state
            .get(&self.key("stop"))
            .await
            .map_err(|e| self.state_error(e))?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Tells every worker to stop, recording why.
    pub async fn stop(&self, reason: &str) -> Result<()> {
        self.state
            .put(&self.key("stop"), Bytes::from(reason.to_string()))
            .await
            .map_err(|e| self.state_error(e))
    }

    /// Keeps `params` as the run's result: the parameters the stopping evaluation measured.
    pub async fn save_final(&self, params: &[f32]) -> Result<()> {
        self.check_len(params.len())?;
        let bytes = le_bytes(params);
        self.state
            .put(&self.key("final"), bytes)
            .await
            .map_err(|e| self.state_error(e))
    }

    /// The parameters saved by [`Self::save_final`], if the run stopped by an evaluation.
    pub async fn final_params(&self) -> Result<Option<Vec<f32>>> {
        let key = self.key("final");
        let Some(values) = self
            .state
            .get_f32(&key)
            .await
            .map_err(|e| self.state_error(e))?
        else {
            return Ok(None);
        };
        if values.len() != self.n_params {
            return Err(WorkflowError::ParameterServer(format!(
                "'{key}' in {} holds {} parameters, expected {}",
                self.url(),
                values.len(),
                self.n_params
            )));
        }
        Ok(Some(values))
    }

    /// Takes the next generation of worker `w` (each invocation of a worker takes one).
    pub async fn next_generation(&self, worker: usize) -> Result<i64> {
        self.state
            .incr(&self.key(&format!("w/{worker}/gen")), 1)
            .await
            .map_err(|e| self.state_error(e))
    }

    /// The current generation of worker `w`.
    pub async fn generation(&self, worker: usize) -> Result<i64> {
        self.state
            .incr(&self.key(&format!("w/{worker}/gen")), 0)
            .await
            .map_err(|e| self.state_error(e))
    }

    /// Where worker `w` was when it last saved its progress.
    pub async fn progress(&self, worker: usize) -> Result<Option<Progress>> {
        self.get_json(&self.key(&format!("w/{worker}/progress")))
            .await
    }

    /// Saves where worker `w` is.
    pub async fn save_progress(&self, worker: usize, progress: &Progress) -> Result<()> {
        self.put_json(&self.key(&format!("w/{worker}/progress")), progress)
            .await
    }

    /// Counts worker `w` as done with segment `s` (once, however often it is called); returns
    /// whether this made it the last of `workers` to finish it.
    pub async fn finish_segment(
        &self,
        segment: usize,
        worker: usize,
        workers: usize,
    ) -> Result<bool> {
        let first = self
            .state
            .compare_and_swap(
                &self.key(&format!("seg/{segment}/{worker}")),
                None,
                Bytes::from_static(b"1"),
            )
            .await
            .map_err(|e| self.state_error(e))?;
        if !first {
            return Ok(false);
        }
        let done = self
            .state
            .incr(&self.key(&format!("seg/{segment}")), 1)
            .await
            .map_err(|e| self.state_error(e))?;
        Ok(done == workers as i64)
    }

    /// Records the accuracy measured at the end of a segment.
    pub async fn record_eval(&self, point: &EvalPoint) -> Result<()> {
        self.put_json(&self.key(&format!("eval/{}", point.segment)), point)
            .await
    }

    /// The accuracies recorded for segments `0..segments`, in order (missing ones left out).
    pub async fn evals(&self, segments: usize) -> Result<Vec<EvalPoint>> {
        let points = try_join_all((0..segments).map(|s| {
            let key = self.key(&format!("eval/{s}"));
            async move { self.get_json::<EvalPoint>(&key).await }
        }))
        .await?;
        Ok(points.into_iter().flatten().collect())
    }

    /// Removes every key of the run (`workers` workers, `segments` segments).
    pub async fn clear(&self, workers: usize, segments: usize) -> Result<()> {
        let mut keys = vec![self.key("stop"), self.key("final")];
        keys.extend((0..self.n_chunks()).map(|i| self.key(&format!("p/{i}"))));
        for w in 0..workers {
            keys.push(self.key(&format!("w/{w}/gen")));
            keys.push(self.key(&format!("w/{w}/progress")));
        }
        for s in 0..segments {
            keys.push(self.key(&format!("seg/{s}")));
            keys.push(self.key(&format!("eval/{s}")));
            keys.extend((0..workers).map(|w| self.key(&format!("seg/{s}/{w}"))));
        }
        for batch in keys.chunks(64) {
            try_join_all(batch.iter().map(|k| self.state.delete(k)))
                .await
                .map_err(|e| self.state_error(e))?;
        }
        Ok(())
    }

    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let Some(bytes) = self.state.get(key).await.map_err(|e| self.state_error(e))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            WorkflowError::ParameterServer(format!(
                "state key '{key}' in {} is corrupt: {e}",
                self.url()
            ))
        })
    }

    async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            WorkflowError::ParameterServer(format!("cannot encode state key '{key}': {e}"))
        })?;
        self.state
            .put(key, Bytes::from(bytes))
            .await
            .map_err(|e| self.state_error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faasml_core::EmbeddedState;

    fn server(n: usize, chunk: usize) -> ParameterServer {
        ParameterServer::new(Arc::new(EmbeddedState::new()), "t", n, chunk)
    }

    #[tokio::test]
    async fn push_adds_and_pull_reads_every_chunk() {
        let ps = server(10, 4);
        assert_eq!(ps.n_chunks(), 3);
        let init: Vec<f32> = (0..10).map(|i| i as f32).collect();
        ps.init(&init).await.unwrap();
        let mut update = vec![0.0; 10];
        update[9] = 1.0;
        let t = ps.push(&update, true).await.unwrap();
        assert_eq!((t.bytes, t.skipped), (8, 32), "only the last chunk is sent");
        let t = ps.push(&update, false).await.unwrap();
        assert_eq!((t.bytes, t.skipped), (40, 0));
        let mut got = vec![0.0; 10];
        assert_eq!(ps.pull(&mut got).await.unwrap().bytes, 40);
        assert_eq!(got[9], 11.0);
        assert_eq!(&got[..9], &init[..9]);
    }

    #[tokio::test]
    async fn a_lost_chunk_is_an_error_not_zeros() {
        let ps = server(10, 4);
        ps.init(&[1.0; 10]).await.unwrap();
        ps.state.delete("downpour/t/p/1").await.unwrap();
        let err = ps.pull(&mut [0.0; 10]).await.unwrap_err().to_string();
        assert!(err.contains("p/1") && err.contains("stale"), "{err}");
    }

    #[tokio::test]
    async fn a_segment_counts_each_worker_once() {
        let ps = server(1, 1);
        assert!(!ps.finish_segment(0, 0, 2).await.unwrap());
        assert!(
            !ps.finish_segment(0, 0, 2).await.unwrap(),
            "a repeat is not counted"
        );
        assert!(ps.finish_segment(0, 1, 2).await.unwrap());
    }
}
