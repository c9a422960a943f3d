//! The parameter server of a downpour run, kept in the state store with the kit's coordination
//! primitives ([`faasml_state::coord`]).
//!
//! Every key of a run lives under `runs/<run id>/downpour/`, which the kit clears when the run
//! ends (unless it keeps its scratch):
//!
//! | key | value |
//! | --- | --- |
//! | `p/<i>` | chunk `i` of the flat parameters ([`ChunkedVector`]), little-endian f32 (`chunk` floats, the last shorter) |
//! | `stop` | present once the run should stop; holds the reason |
//! | `final/<i>` | the parameters measured by the evaluation that stopped the run (the published model) |
//! | `seg/<s>` | how many workers finished segment `s` (an epoch has `evals_per_epoch` segments; a [`Barrier`]) |
//! | `seg/<s>/<w>` | marks that worker `w` counted segment `s`, so a re-invoked worker counts it once |
//! | `eval/<s>` | the [`EvalPoint`] measured when the last worker finished segment `s` |
//! | `gen/<w>` | generation of worker `w` ([`Fence`]): each (re-)invocation takes the next, and an older one stops |
//! | `w/<w>/progress` | where worker `w` is ([`Progress`]), saved at every fetch, so a re-invoked worker resumes |
//!
//! A push adds `-lr * gradient` to each chunk with the store's atomic `add_f32`, so concurrent
//! pushes never lose an update; chunks whose update is all zeros are skipped when pushing only
//! changed parameters. A pull reads every chunk; a chunk that has disappeared (a server that
//! restarted empty) is an error, never a silent restart from zeros.

use std::sync::Arc;

use faasml_core::StateStore;
use faasml_state::coord::{Barrier, ChunkedVector, CoordError, Fence, Namespace};
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
    /// Minibatches already trained (over all epochs) when the latest re-invocation took over:
    /// where it resumed. `None` for a worker that never failed; `Some(0)` would mean it started
    /// over. Work done after the last saved position and lost with the failed instance is redone
    /// and not counted twice in `iterations`.
    #[serde(default)]
    pub resumed_at: Option<u64>,
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

pub use faasml_state::coord::Transfer;

/// The parameter server of one run: its parameter vector, stop flag, segment barrier, worker
/// fences, progress and evaluation records in the run's namespace.
#[derive(Debug, Clone)]
pub struct ParameterServer {
    ns: Namespace,
    params: ChunkedVector,
    final_params: ChunkedVector,
    segments: Barrier,
    generations: Fence,
}

/// A coordination failure as a workflow error: a missing or corrupt key says the parameter
/// server lost its state.
fn ps_error(err: CoordError) -> WorkflowError {
    match err {
        CoordError::State(e) => WorkflowError::State(e),
        CoordError::Missing { key, url, .. } => WorkflowError::ParameterServer(format!(
            "parameter chunk '{key}' is missing from {url} (the server lost its state, or the \
             run was cleaned up); refusing to train on stale weights"
        )),
        other => WorkflowError::ParameterServer(other.to_string()),
    }
}

impl ParameterServer {
    /// The server of run `run_id` holding `n_params` floats in chunks of `chunk`.
    pub fn new(state: Arc<dyn StateStore>, run_id: &str, n_params: usize, chunk: usize) -> Self {
        let ns = Namespace::new(state, format!("runs/{run_id}/downpour"));
        Self {
            params: ns.vector("p", n_params, chunk),
            final_params: ns.vector("final", n_params, chunk),
            segments: ns.barrier("seg"),
            generations: ns.fence("gen"),
            ns,
        }
    }

    /// The state store's URL.
    pub fn url(&self) -> &str {
        self.ns.url()
    }

    /// Number of parameter chunks.
    pub fn n_chunks(&self) -> usize {
        self.params.n_chunks()
    }

    /// Writes the initial parameters (overwriting any earlier ones).
    pub async fn init(&self, params: &[f32]) -> Result<()> {
        self.params.init(params).await.map_err(ps_error)
    }

    /// Writes the initial parameters of every chunk that is absent, keeping any that exist (so a
    /// re-invoked setup never overwrites trained parameters).
    pub async fn init_if_absent(&self, params: &[f32]) -> Result<()> {
        self.params.init_if_absent(params).await.map_err(ps_error)
    }

    /// Reads every chunk into `params`.
    pub async fn pull(&self, params: &mut [f32]) -> Result<Transfer> {
        self.params.pull(params).await.map_err(ps_error)
    }

    /// Adds `update` to the parameters, chunk by chunk; with `changed_only`, chunks whose update
    /// is all zeros are not sent.
    pub async fn push(&self, update: &[f32], changed_only: bool) -> Result<Transfer> {
        self.params
            .push(update, changed_only)
            .await
            .map_err(ps_error)
    }

    /// The reason the run should stop, once one worker decided it.
    pub async fn stop_reason(&self) -> Result<Option<String>> {
        self.ns.get_text("stop").await.map_err(ps_error)
    }

    /// Tells every worker to stop, recording why.
    pub async fn stop(&self, reason: &str) -> Result<()> {
        self.ns.put_text("stop", reason).await.map_err(ps_error)
    }

    /// Keeps `params` as the run's result: the parameters the stopping evaluation measured.
    pub async fn save_final(&self, params: &[f32]) -> Result<()> {
        self.final_params.init(params).await.map_err(ps_error)
    }

    /// The parameters saved by [`Self::save_final`], if the run stopped by an evaluation.
    pub async fn final_params(&self) -> Result<Option<Vec<f32>>> {
        let mut values = vec![0.0; self.final_params.len()];
        match self.final_params.pull(&mut values).await {
            Ok(_) => Ok(Some(values)),
            Err(CoordError::Missing { .. }) => Ok(None),
            Err(e) => Err(ps_error(e)),
        }
    }

    /// Takes the next generation of worker `w` (each invocation of a worker takes one).
    pub async fn next_generation(&self, worker: usize) -> Result<i64> {
        self.generations.next(worker).await.map_err(ps_error)
    }

    /// The current generation of worker `w`.
    pub async fn generation(&self, worker: usize) -> Result<i64> {
        self.generations.current(worker).await.map_err(ps_error)
    }

    /// Where worker `w` was when it last saved its progress.
    pub async fn progress(&self, worker: usize) -> Result<Option<Progress>> {
        self.ns
            .get_json(&format!("w/{worker}/progress"))
            .await
            .map_err(ps_error)
    }

    /// Saves where worker `w` is.
    pub async fn save_progress(&self, worker: usize, progress: &Progress) -> Result<()> {
        self.ns
            .put_json(&format!("w/{worker}/progress"), progress)
            .await
            .map_err(ps_error)
    }

    /// Counts worker `w` as done with segment `s` (once, however often it is called); returns
    /// whether this made it the last of `workers` to finish it.
    pub async fn finish_segment(
        &self,
        segment: usize,
        worker: usize,
        workers: usize,
    ) -> Result<bool> {
        self.segments
            .arrive(segment, worker, workers)
            .await
            .map_err(ps_error)
    }

    /// Records the accuracy measured at the end of a segment.
    pub async fn record_eval(&self, point: &EvalPoint) -> Result<()> {
        self.ns
            .put_json(&format!("eval/{}", point.segment), point)
            .await
            .map_err(ps_error)
    }

    /// The accuracies recorded for segments `0..segments`, in order (missing ones left out).
    pub async fn evals(&self, segments: usize) -> Result<Vec<EvalPoint>> {
        let points = futures::future::try_join_all(
            (0..segments).map(|s| async move { self.ns.get_json(&format!("eval/{s}")).await }),
        )
        .await
        .map_err(ps_error)?;
        Ok(points.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faasml_core::EmbeddedState;

    #[tokio::test]
    async fn a_lost_chunk_is_an_error_not_zeros() {
        let state: Arc<dyn StateStore> = Arc::new(EmbeddedState::new());
        let ps = ParameterServer::new(Arc::clone(&state), "t", 10, 4);
        ps.init(&[1.0; 10]).await.unwrap();
        assert_eq!(ps.final_params().await.unwrap(), None);
        state.delete("runs/t/downpour/p/1").await.unwrap();
        let err = ps.pull(&mut [0.0; 10]).await.unwrap_err().to_string();
        assert!(err.contains("p/1") && err.contains("stale"), "{err}");
        ps.save_final(&[2.0; 10]).await.unwrap();
        assert_eq!(ps.final_params().await.unwrap(), Some(vec![2.0; 10]));
    }
}
