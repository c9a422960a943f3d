//! The `mllib.worker` stage: one function's share of a Spark example — the partial
//! statistics of its shard of the rows, or its share of a forest's trees.
//!
//! The shard travels as the run's transfer mode says (by key through the object store by
//! default), written once by the driver and read again at every k-means step; the statistics
//! come back inline (they are `k x d` or `d x d` numbers, not rows).

use std::time::Instant;

use faasml_core::Ctx;
use faasml_ml::Persist as _;
use faasml_ml::mllib::{
    Centers, ClusterStats, ForestExampleParams, LloydSums, PreparedSplit, Rows, SilhouetteSum,
    SufficientStats,
};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};
use crate::kit::transfer::Transfer;
use crate::kit::{limits, persist, wire};

/// A shard of the rows and their labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shard {
    /// The rows.
    pub x: Rows,
    /// One label per row (ignored by k-means).
    pub y: Vec<f64>,
}

/// What the driver asks of a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "kebab-case")]
pub enum Task {
    /// A k-means Lloyd step's sums under `centers`.
    Lloyd {
        /// The shard.
        shard: Transfer<Shard>,
        /// The current centres.
        centers: Centers,
    },
    /// The cost and per-cluster sums under the final `centers` (for the silhouette).
    Clusters {
        /// The shard.
        shard: Transfer<Shard>,
        /// The final centres.
        centers: Centers,
    },
    /// The summed silhouettes of the shard's rows against the whole clustering's `stats`.
    Silhouette {
        /// The shard.
        shard: Transfer<Shard>,
        /// The final centres.
        centers: Centers,
        /// The per-cluster sums over every shard.
        stats: ClusterStats,
    },
    /// Linear regression's sufficient statistics of the shard.
    Stats {
        /// The shard.
        shard: Transfer<Shard>,
    },
    /// Trees `from..to` of the forest, trained on the whole (prepared) training split.
    Trees {
        /// The prepared split (only its training rows are read).
        split: Transfer<PreparedSplit>,
        /// The example's settings.
        params: ForestExampleParams,
        /// The first tree.
        from: usize,
        /// One past the last tree.
        to: usize,
    },
}

/// A forest as safetensors bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedForest(#[serde(with = "wire::bytes")] pub Vec<u8>);

/// What a worker hands back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Partial {
    /// A Lloyd step's sums.
    Lloyd {
        /// The sums.
        sums: LloydSums,
    },
    /// The cost and per-cluster sums under the final centres.
    Clusters {
        /// The Lloyd sums (for the cost).
        sums: LloydSums,
        /// The per-cluster sums.
        stats: ClusterStats,
    },
    /// The summed silhouettes.
    Silhouette {
        /// The sum.
        sum: SilhouetteSum,
    },
    /// Sufficient statistics.
    Stats {
        /// The statistics.
        stats: SufficientStats,
    },
    /// A forest of the trees asked for.
    Trees {
        /// The forest.
        forest: EncodedForest,
    },
}

/// Output of `mllib.worker`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerOutput {
    /// The partial result.
    pub partial: Partial,
    /// Seconds of computing (the shard's transfer excluded).
    pub compute_s: f64,
}

/// Runs `work` on the compute pool, mapping its error.
async fn compute<T: Send + 'static>(
    ctx: &Ctx,
    work: impl FnOnce() -> faasml_ml::Result<T> + Send + 'static,
) -> Result<T> {
    Ok(ctx.compute(work).await.map_err(WorkflowError::Compute)??)
}

/// The `mllib.worker` function.
pub async fn run(task: Task, ctx: Ctx) -> Result<WorkerOutput> {
    let (partial, compute_s) = match task {
        Task::Lloyd { shard, centers } => {
            let shard = shard.receive(&ctx).await?;
            let started = Instant::now();
            let sums = compute(&ctx, move || LloydSums::of_rows(&shard.x, &centers)).await?;
            (Partial::Lloyd { sums }, started.elapsed())
        }
        Task::Clusters { shard, centers } => {
            let shard = shard.receive(&ctx).await?;
            let started = Instant::now();
            let (sums, stats) = compute(&ctx, move || {
                let labels = labels_of(&shard.x, &centers)?;
                Ok((
                    LloydSums::of_rows(&shard.x, &centers)?,
                    ClusterStats::of_rows(&shard.x, &labels, centers.k())?,
                ))
            })
            .await?;
            (Partial::Clusters { sums, stats }, started.elapsed())
        }
        Task::Silhouette {
            shard,
            centers,
            stats,
        } => {
            let shard = shard.receive(&ctx).await?;
            let started = Instant::now();
            let sum = compute(&ctx, move || {
                let labels = labels_of(&shard.x, &centers)?;
                SilhouetteSum::of_rows(&shard.x, &labels, &stats)
            })
            .await?;
            (Partial::Silhouette { sum }, started.elapsed())
        }
        Task::Stats { shard } => {
            let shard = shard.receive(&ctx).await?;
            let started = Instant::now();
            let stats = compute(&ctx, move || SufficientStats::of_rows(&shard.x, &shard.y)).await?;
            (Partial::Stats { stats }, started.elapsed())
        }
        Task::Trees {
            split,
            params,
            from,
            to,
        } => {
            // A stage checks its own input: it can be invoked directly.
            limits::at_most("trees", params.n_trees, limits::TREES)?;
            if from >= to || to > params.n_trees {
                return Err(WorkflowError::InvalidParams(format!(
                    "trees {from}..{to} are not a range of the forest's {} trees",
                    params.n_trees
                )));
            }
            let split = split.receive(&ctx).await?;
            let started = Instant::now();
            let forest = compute(&ctx, move || {
                params
                    .check()?
                    .fit_trees(&split.train_x, &split.train_y, split.n_classes, from..to)
            })
            .await?;
            let bytes = persist::to_bytes(forest.to_tensors())?;
            (
                Partial::Trees {
                    forest: EncodedForest(bytes),
                },
                started.elapsed(),
            )
        }
    };
    Ok(WorkerOutput {
        partial,
        compute_s: compute_s.as_secs_f64(),
    })
}

/// The nearest of `centers` for every row of `x`.
fn labels_of(x: &Rows, centers: &Centers) -> faasml_ml::Result<Vec<u32>> {
    Ok(centers.assign(x)?.into_iter().map(|(j, _)| j).collect())
}
