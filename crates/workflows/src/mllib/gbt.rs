//! The `mllib.gbt` stage: one long-running worker of Spark's `GBTClassifierExample`, fitting
//! the gradient-boosted trees data-parallel with the other workers.
//!
//! Each worker holds a shard of the training rows (handed out like the other examples'
//! shards) and runs [`faasml_ml::gbdt::train`] with Spark's settings mapped to the booster
//! ([`booster_params`]); the workers all-reduce their histograms through the state store
//! ([`crate::kit::collective::StateCollective`] under the run's scratch), so every one ends
//! with the same model. Rank 0 stores it in the run's scratch ([`MODEL_SCRATCH`]); every
//! worker returns the model's digest for the driver to compare.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faasml_core::Ctx;
use faasml_ml::Persist as _;
use faasml_ml::gbdt::{self, Features, GbdtParams, Objective};
use serde::{Deserialize, Serialize};

use super::worker::Shard;
use crate::error::{Result, WorkflowError};
use crate::kit::collective::StateCollective;
use crate::kit::transfer::Transfer;
use crate::kit::{layout, limits, persist};

/// Where rank 0 leaves the model in the run's scratch.
pub const MODEL_SCRATCH: &str = "mllib/gbt-model.safetensors";

/// How long a worker waits for another's contribution before giving up.
const COLLECTIVE_TIMEOUT: Duration = Duration::from_secs(600);

/// Spark's `GBTClassifier` settings of the example mapped to the booster: `maxIter` 10
/// iterations, `maxDepth` 5 (at most 32 leaves), `stepSize` 0.1, `minInstancesPerNode` 1, no
/// hessian floor, no L2 penalty, every feature per tree (`featureSubsetStrategy` all) and no
/// row sampling (`subsamplingRate` 1.0). Features are ordinal: the example's
/// `VectorIndexer` categorical handling is not applied.
pub fn booster_params() -> GbdtParams {
    GbdtParams {
        objective: Objective::Binary,
        n_iterations: 10,
        max_depth: Some(5),
        num_leaves: 32,
        learning_rate: 0.1,
        min_data_in_leaf: 1,
        min_sum_hessian_in_leaf: 0.0,
        lambda_l2: 0.0,
        feature_fraction: 1.0,
        bagging_fraction: 1.0,
        bagging_freq: 0,
        ..GbdtParams::default()
    }
}

/// What the driver asks of a `mllib.gbt` worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbtTask {
    /// This worker's shard of the training rows (labels 0 or 1).
    pub shard: Transfer<Shard>,
    /// This worker's rank.
    pub rank: usize,
    /// Workers in the run.
    pub workers: usize,
}

/// What a `mllib.gbt` worker hands back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbtReport {
    /// The worker's rank.
    pub rank: usize,
    /// Training rows in its shard.
    pub rows: usize,
    /// SHA-256 of the model it ended with.
    pub model_digest: String,
    /// Seconds of training (the collective's waits included).
    pub compute_s: f64,
}

/// The `mllib.gbt` function.
pub async fn run(task: GbtTask, ctx: Ctx) -> Result<GbtReport> {
    // A stage checks its own input: it can be invoked directly.
    limits::at_most("workers", task.workers, limits::WORKERS)?;
    let (rank, workers) = (task.rank, task.workers);
    if rank >= workers {
        return Err(WorkflowError::InvalidParams(format!(
            "worker rank {rank} is not below --workers {workers}"
        )));
    }
    let shard = task.shard.receive(&ctx).await?;
    if shard.x.n() != shard.y.len() {
        return Err(WorkflowError::InvalidParams(format!(
            "a shard of {} rows carries {} labels",
            shard.x.n(),
            shard.y.len()
        )));
    }
    let x = shard.x.to_matrix()?;
    let y: Vec<f32> = shard.y.iter().map(|&v| v as f32).collect();
    let rows = y.len();
    let scratch = layout::Scratch::of_run(ctx.run_id());
    let prefix = format!("{}mllib-gbt", scratch.state_prefix());
    let handle = tokio::runtime::Handle::current();
    let mut collective = StateCollective::new(
        Arc::clone(ctx.state()),
        prefix,
        rank,
        workers,
        COLLECTIVE_TIMEOUT,
        handle,
    );
    let started = Instant::now();
    let fit = tokio::task::spawn_blocking(move || {
        gbdt::train(
            &booster_params(),
            Features::Dense(x.view()),
            &y,
            &mut collective,
            None,
            &mut |_, _| Ok(()),
        )
    })
    .await
    .map_err(|e| WorkflowError::Coordination(format!("worker {rank} panicked: {e}")))?;
    let model = fit?;
    let compute_s = started.elapsed().as_secs_f64();
    let tensors = model.to_tensors();
    let model_digest = persist::digest(&tensors);
    if rank == 0 {
        persist::put(ctx.store(), &scratch.key(MODEL_SCRATCH), tensors).await?;
    }
    Ok(GbtReport {
        rank,
        rows,
        model_digest,
        compute_s,
    })
}
