//! The driver's plan (objective, shards, held-out rows) and the worker function: load the
//! shard, fit with the other shards through the state store, checkpoint, report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faasml_core::Ctx;
use faasml_ml::gbdt::{self, Features, GbdtModel, Metrics, Objective};
use faasml_ml::{Matrix, MlError, Persist};

use super::{GbdtRunParams, ObjectiveName, ObjectiveSpec, Shard, WorkerInput, WorkerReport};
use crate::data::images::{self, pixels_matrix};
use crate::data::tables::{self, TableShard, TableSource, TargetKind};
use crate::data::{self, bundled};
use crate::error::{Result, WorkflowError};
use crate::kit::collective::StateCollective;
use crate::kit::{layout, persist};

/// Where rank 0 leaves the final model in the run's scratch.
pub(crate) const MODEL_SCRATCH: &str = "gbdt/model.safetensors";

/// Held-out rows.
pub(crate) struct TestSet {
    x: Matrix,
    y: Vec<f32>,
}

impl TestSet {
    pub(crate) fn evaluate(&self, model: &GbdtModel) -> faasml_ml::Result<Metrics> {
        model.evaluate(Features::Dense(self.x.view()), &self.y)
    }
}

/// What the driver decided.
pub(crate) struct Plan {
    pub(crate) objective: ObjectiveSpec,
    pub(crate) shards: Vec<Shard>,
    pub(crate) test: TestSet,
    pub(crate) n_test: usize,
}

/// Whether table row `i` is held out.
fn held_out(i: usize, holdout: f64, seed: u64) -> bool {
    let unit = (faasml_ml::tree::splitmix64(seed ^ 0x005E_ED0F_7E57 ^ i as u64) >> 11) as f64
        / ((1u64 << 53) as f64);
    holdout > 0.0 && unit < holdout
}

/// The objective `name` asks for, or the one the labels suggest (`auto`).
fn objective_for(name: &str, labels: &[f32]) -> Result<ObjectiveSpec> {
    let integral = labels
        .iter()
        .all(|&y| y >= 0.0 && y.fract() == 0.0 && y < 65_536.0);
    let max = labels.iter().copied().fold(0.0f32, f32::max) as usize;
    let spec = |name, n_classes| Ok(ObjectiveSpec { name, n_classes });
    match name {
        "binary" => spec(ObjectiveName::Binary, 2),
        "regression" => spec(ObjectiveName::Regression, 1),
        "multiclass" => {
            if !integral {
                return Err(WorkflowError::InvalidParams(
                    "--objective multiclass needs class labels 0, 1, 2, ...; these labels are \
                     not whole numbers (try --objective regression)"
                        .into(),
                ));
            }
            spec(ObjectiveName::Multiclass, (max + 1).max(2))
        }
        _ if integral && max <= 1 => spec(ObjectiveName::Binary, 2),
        _ if integral && max < 1000 => spec(ObjectiveName::Multiclass, max + 1),
        _ => spec(ObjectiveName::Regression, 1),
    }
}

/// Reads the data's shape and plans the shards.
pub(crate) async fn plan(params: &GbdtRunParams, ctx: &Ctx) -> Result<Plan> {
    let store = ctx.store();
    let w = params.workers;
    // Tables when the prefix holds any (listed once: the plan below uses the listing).
    let table_sources = if matches!(
        bundled::lookup(&params.data),
        Some(bundled::Bundled::Images(_))
    ) {
        None
    } else {
        tables::list(store, &params.data, Some(&params.target))
            .await
            .ok()
    };
    let Some(sources) = table_sources else {
        let mut sources = images::list(store, &params.data).await?;
        if let Some(limit) = params.limit {
            sources = images::take(&sources, limit);
        }
        let n = images::count(&sources);
        too_many_workers(w, n)?;
        let test_prefix = data::test_prefix(&params.data, params.test.as_deref());
        let set = images::load(store, &images::list(store, &test_prefix).await?).await?;
        let y: Vec<f32> = set.labels.iter().map(|&l| f32::from(l)).collect();
        let x = pixels_matrix(&set)?;
        let objective = objective_for(&params.objective, &y)?;
        let n_test = y.len();
        return Ok(Plan {
            objective,
            shards: images::deal_contiguous(&sources, w)
                .into_iter()
                .map(|sources| Shard::Images { sources })
                .collect(),
            test: TestSet { x, y },
            n_test,
        });
    };
    let all = load_tables(store, &sources).await?;
    let holdout = if params.test.is_some() {
        0.0
    } else {
        params.holdout
    };
    let (mut train_y, mut test_rows) = (Vec::new(), Vec::new());
    for (i, &y) in all.1.iter().enumerate() {
        if held_out(i, holdout, params.seed) {
            test_rows.push(i);
        } else if params.limit.is_none_or(|l| train_y.len() < l) {
            train_y.push(y);
        }
    }
    too_many_workers(w, train_y.len())?;
    let objective = objective_for(&params.objective, &train_y)?;
    let test = match &params.test {
        Some(prefix) => {
            let s = tables::list(store, prefix, Some(&params.target)).await?;
            let (x, y) = load_tables(store, &s).await?;
            TestSet { x, y }
        }
        None => {
            let d = all.0.cols();
            let mut x = Vec::with_capacity(test_rows.len() * d);
            for &i in &test_rows {
                x.extend_from_slice(all.0.row(i));
            }
            let y = test_rows.iter().map(|&i| all.1[i]).collect();
            TestSet {
                x: Matrix::new(test_rows.len(), d, x)?,
                y,
            }
        }
    };
    if test.y.is_empty() {
        return Err(WorkflowError::InvalidParams(format!(
            "no held-out rows: '{}' has {} rows; raise --holdout or give --test",
            params.data,
            all.1.len()
        )));
    }
    let n_test = test.y.len();
    Ok(Plan {
        objective,
        shards: (0..w)
            .map(|part| Shard::Tables {
                sources: sources.clone(),
                part,
                of: w,
                holdout,
                seed: params.seed,
                limit: params.limit,
            })
            .collect(),
        test,
        n_test,
    })
}

fn too_many_workers(workers: usize, rows: usize) -> Result<()> {
    if workers > rows {
        return Err(WorkflowError::InvalidParams(format!(
            "--workers {workers} is more than the {rows} training rows: every worker needs a \
             row at least"
        )));
    }
    Ok(())
}

/// Every row of `sources`, real-valued targets.
async fn load_tables(
    store: &faasml_store::Store,
    sources: &[TableSource],
) -> Result<(Matrix, Vec<f32>)> {
    let shard = TableShard {
        sources: sources.to_vec(),
        part: 0,
        of: 1,
    };
    let d = tables::load(store, &shard, TargetKind::Real).await?;
    let y = d
        .real_targets()
        .ok_or_else(|| WorkflowError::InvalidParams("the table's targets are not numbers".into()))?
        .to_vec();
    Ok((d.records().clone(), y))
}

/// This worker's rows.
async fn load_shard(ctx: &Ctx, shard: &Shard) -> Result<(Matrix, Vec<f32>)> {
    match shard {
        Shard::Images { sources } => {
            let set = images::load(ctx.store(), sources).await?;
            let y = set.labels.iter().map(|&l| f32::from(l)).collect();
            Ok((pixels_matrix(&set)?, y))
        }
        Shard::Tables {
            sources,
            part,
            of,
            holdout,
            seed,
            limit,
        } => {
            let (x, y) = load_tables(ctx.store(), sources).await?;
            let d = x.cols();
            let (mut xs, mut ys, mut t) = (Vec::new(), Vec::new(), 0usize);
            for (i, &label) in y.iter().enumerate() {
                if held_out(i, *holdout, *seed) {
                    continue;
                }
                if limit.is_some_and(|l| t >= l) {
                    break;
                }
                if t % of.max(&1) == *part {
                    xs.extend_from_slice(x.row(i));
                    ys.push(label);
                }
                t += 1;
            }
            Ok((Matrix::new(ys.len(), d, xs)?, ys))
        }
    }
}

/// The worker function.
pub(crate) async fn run(input: WorkerInput, ctx: Ctx) -> Result<WorkerReport> {
    input.params.check()?;
    let rank = input.rank;
    let workers = input.params.workers;
    if rank >= workers {
        return Err(WorkflowError::InvalidParams(format!(
            "worker rank {rank} is not below --workers {workers}"
        )));
    }
    let loading = Instant::now();
    let (x, y) = load_shard(&ctx, &input.shard).await?;
    let load_s = loading.elapsed().as_secs_f64();
    let objective = input.objective.objective();
    if let Objective::Multiclass { n_classes } = objective
        && n_classes > 65_536
    {
        return Err(WorkflowError::InvalidParams(format!("{n_classes} classes")));
    }
    let booster = input.params.booster(objective);
    let prefix = format!(
        "{}gbdt",
        layout::Scratch::of_run(ctx.run_id()).state_prefix()
    );
    let checkpoint_key = format!("{prefix}/checkpoint");
    let state = Arc::clone(ctx.state());
    // A re-invoked worker rejoins from the last checkpoint.
    let resume = match state.get(&checkpoint_key).await? {
        Some(bytes) => Some(GbdtModel::from_tensors(&persist::from_bytes(
            &bytes,
            &checkpoint_key,
        )?)?),
        None => None,
    };
    let started_at = resume.as_ref().map_or(0, GbdtModel::n_iterations);
    let handle = tokio::runtime::Handle::current();
    let mut collective = StateCollective::new(
        Arc::clone(&state),
        prefix,
        rank,
        workers,
        Duration::from_secs(input.params.collective_timeout_s),
        handle.clone(),
    );
    let inject = input
        .params
        .inject_failure
        .filter(|f| f.worker == rank && ctx.attempt() == 1);
    let training = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let (mut compute, mut waited) = (Duration::ZERO, Duration::ZERO);
        let mut injected = false;
        let fit = gbdt::train(
            &booster,
            Features::Dense(x.view()),
            &y,
            &mut collective,
            resume,
            &mut |report, model| {
                compute += report.compute;
                waited += report.collective;
                if rank == 0 {
                    let bytes = persist::to_bytes(model.to_tensors())
                        .map_err(|e| MlError::Collective(format!("checkpoint: {e}")))?;
                    let state = Arc::clone(&state);
                    let key = checkpoint_key.clone();
                    handle
                        .block_on(async move { state.put(&key, bytes.into()).await })
                        .map_err(|e| MlError::Collective(format!("checkpoint: {e}")))?;
                }
                if inject.is_some_and(|f| f.iteration == report.iteration) {
                    injected = true;
                    return Err(MlError::Collective("injected failure".into()));
                }
                Ok(())
            },
        );
        (fit, compute, waited, injected, collective.traffic, x.rows())
    })
    .await
    .map_err(|e| WorkflowError::Coordination(format!("worker {rank} panicked: {e}")))?;
    let (fit, compute, waited, injected, traffic, rows) = outcome;
    if injected {
        return Err(WorkflowError::Injected(format!(
            "worker {rank} failed on purpose after iteration {}",
            inject.map_or(0, |f| f.iteration)
        )));
    }
    let model = fit?;
    let train_s = training.elapsed().as_secs_f64();
    let model_digest = persist::digest(&model.to_tensors());
    let bytes = persist::to_bytes(model.to_tensors())?;
    if rank == 0 {
        let key = layout::Scratch::of_run(ctx.run_id()).key(MODEL_SCRATCH);
        ctx.store().put(&key, bytes::Bytes::from(bytes)).await?;
    }
    Ok(WorkerReport {
        rank,
        rows,
        started_at,
        compute_s: compute.as_secs_f64(),
        collective_s: waited.as_secs_f64(),
        bytes_sent: traffic.sent,
        bytes_received: traffic.received,
        operations: traffic.operations,
        load_s,
        train_s,
        model_digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_objective_follows_the_labels_unless_named() {
        let o = |name: &str, y: &[f32]| objective_for(name, y).unwrap().objective();
        assert_eq!(o("auto", &[0.0, 1.0, 1.0]), Objective::Binary);
        assert_eq!(
            o("auto", &[0.0, 4.0, 2.0]),
            Objective::Multiclass { n_classes: 5 }
        );
        assert_eq!(o("auto", &[0.5, 4.0]), Objective::Regression);
        assert_eq!(o("binary", &[0.0, 3.0]), Objective::Binary);
        assert!(objective_for("multiclass", &[0.5]).is_err());
        let held = (0..10_000).filter(|&i| held_out(i, 0.2, 3)).count();
        assert!((1_800..2_200).contains(&held), "{held}");
    }
}
