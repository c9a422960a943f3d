//! One downpour worker: the training loop over its slice, with pulls, pushes, evaluations and
//! the stop and generation checks; and the loading of its data.

use std::sync::Arc;
use std::time::Instant;

use faasml_core::Ctx;
use faasml_datasets::ImageSet;
use faasml_ml::mlp::{Mlp, Workspace};
use faasml_ml::{Matrix, MatrixView};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{EvalPoint, RunSpec, TrainInput, WorkerReport, seconds_since};
use crate::data::images::{self, ImageSource, pixels_matrix};
use crate::error::{Result, WorkflowError};

/// Why an invocation stopped when a newer invocation of the same worker took over.
const SUPERSEDED: &str = "superseded";

/// How much a `train` invocation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every epoch until the run stops.
    AllEpochs,
    /// One epoch (mode `per-epoch`).
    OneEpoch,
}

/// Images as a scaled matrix and their labels.
#[derive(Debug)]
pub(crate) struct Dataset {
    pub(crate) x: Matrix,
    pub(crate) y: Vec<u8>,
}

/// The cache key of `sources` as this invocation may see them: their keys and the version of
/// the objects behind them. Every key is checked against the invocation's store access first, so
/// a warm instance never hands one run the data another run was allowed to load; a dataset
/// re-imported under the same keys (IDX objects, and a PNG set's first and last object) is
/// loaded afresh.
async fn sources_key(ctx: &Ctx, sources: &[ImageSource]) -> Result<String> {
    let store = ctx.store();
    let mut versions = Vec::new();
    for source in sources {
        match source {
            ImageSource::Idx { images, labels, .. } => {
                versions.push(store.version(images).await?);
                versions.push(store.version(labels).await?);
            }
            ImageSource::Png { keys } => {
                for key in keys {
                    store.check_read(key).await?;
                }
                for key in keys.first().into_iter().chain(keys.last()) {
                    versions.push(store.version(key).await?);
                }
            }
        }
    }
    Ok(format!(
        "{}@{}",
        serde_json::to_string(sources).unwrap_or_default(),
        versions.join(",")
    ))
}

/// The test set, scaled to [0, 1] once and kept by a warm instance.
pub(crate) async fn load_test(ctx: &Ctx, sources: &[ImageSource]) -> Result<Arc<Dataset>> {
    ctx.instance_state()
        .get_or_load(&sources_key(ctx, sources).await?, || async {
            let set = images::load(ctx.store(), sources).await?;
            ctx.compute(move || {
                let x = pixels_matrix(&set)?;
                Ok::<_, WorkflowError>(Dataset { x, y: set.labels })
            })
            .await
            .map_err(WorkflowError::Compute)?
        })
        .await
}

/// A worker's slice of the training set, kept by a warm instance (pixels kept as bytes: a quarter
/// of the memory of floats, and scaled per minibatch).
async fn load_slice(ctx: &Ctx, sources: &[ImageSource]) -> Result<Arc<ImageSet>> {
    ctx.instance_state()
        .get_or_load(&sources_key(ctx, sources).await?, || {
            images::load(ctx.store(), sources)
        })
        .await
}

/// Accuracy and mean cross-entropy of `network` on `test`.
pub(crate) async fn evaluate(
    ctx: &Ctx,
    network: Arc<Mlp>,
    test: Arc<Dataset>,
) -> Result<(f64, f64)> {
    ctx.compute(move || {
        let proba = network.predict_proba(test.x.view())?;
        let k = proba.cols();
        let (mut correct, mut loss) = (0usize, 0f64);
        for (row, &label) in proba.data().chunks_exact(k).zip(&test.y) {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |best, (j, &p)| if p > row[best] { j } else { best });
            correct += usize::from(best == usize::from(label));
            loss -= f64::from(
                row.get(usize::from(label))
                    .copied()
                    .unwrap_or(0.0)
                    .max(1e-12),
            )
            .ln();
        }
        let n = test.y.len().max(1) as f64;
        Ok::<_, WorkflowError>((correct as f64 / n, loss / n))
    })
    .await
    .map_err(WorkflowError::Compute)?
}

/// A worker's local copy of the network, its accumulated update and its minibatch buffers; moved
/// onto the compute pool for each run of minibatches.
struct Replica {
    network: Mlp,
    ws: Workspace,
    /// `-lr * gradient`, summed since the last push.
    update: Vec<f32>,
    data: Arc<ImageSet>,
    order: Vec<u32>,
    xb: Vec<f32>,
    yb: Vec<u8>,
}

impl Replica {
    fn new(network: Mlp, threads: usize, data: Arc<ImageSet>) -> Self {
        let ws = Workspace::new(&network).with_threads(threads);
        let update = vec![0.0; network.n_params()];
        let order = (0..data.len() as u32).collect();
        Self {
            network,
            ws,
            update,
            data,
            order,
            xb: Vec::new(),
            yb: Vec::new(),
        }
    }

    /// Shuffles the slice for `epoch` (the same order for every invocation of this worker).
    fn shuffle(&mut self, seed: u64, worker: usize, epoch: usize) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(seed, worker as u64, epoch as u64));
        for i in (1..self.order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            self.order.swap(i, j);
        }
    }

    /// Trains minibatches `first..first + count` of the epoch's order.
    fn steps(
        &mut self,
        first: usize,
        count: usize,
        batch: usize,
        lr: f32,
        seed: u64,
    ) -> Result<()> {
        let d = self.data.pixels_per_image();
        for b in first..first + count {
            let lo = b * batch;
            let hi = (lo + batch).min(self.order.len());
            self.xb.clear();
            self.yb.clear();
            for &i in &self.order[lo..hi] {
                let i = i as usize;
                let image = &self.data.pixels[i * d..(i + 1) * d];
                self.xb.extend(image.iter().map(|&p| f32::from(p) / 255.0));
                self.yb.push(self.data.labels[i]);
            }
            let x = MatrixView::new(hi - lo, d, &self.xb)?;
            self.network
                .gradient_with(&mut self.ws, x, &self.yb, mix(seed, b as u64, 0x5eed))?;
            let grad = self.ws.grad();
            for ((p, u), &g) in self
                .network
                .params_mut()
                .iter_mut()
                .zip(self.update.iter_mut())
                .zip(grad)
            {
                let step = -lr * g;
                *p += step;
                *u += step;
            }
        }
        Ok(())
    }
}

/// A 64-bit mix of three values (splitmix64 finaliser), for per-worker and per-batch seeds.
fn mix(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ c.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// End (exclusive minibatch index) of segment `k` of an epoch of `n_batches` in `segments` parts.
fn segment_end(k: usize, n_batches: usize, segments: usize) -> usize {
    (n_batches * (k + 1)).div_ceil(segments)
}

/// Trains worker `input.worker` from where it left off, for one epoch or until the run stops.
pub(crate) async fn train(ctx: &Ctx, input: &TrainInput, scope: Scope) -> Result<WorkerReport> {
    input.spec.check()?;
    let spec = &input.spec;
    let p = &spec.params;
    let w = input.worker;
    let network = spec.network()?;
    let ps = spec.server(ctx);
    let generation = ps.next_generation(w).await?;
    let mut progress = ps.progress(w).await?.unwrap_or_default();
    if ctx.attempt() > 1 {
        progress.restarts += 1;
        progress.resumed_at = Some(progress.iterations);
    }
    if progress.epoch < input.epoch {
        progress.epoch = input.epoch;
        progress.batch = 0;
    }
    let mut report = WorkerReport {
        worker: w,
        ..WorkerReport::default()
    };
    if let Some(reason) = ps.stop_reason().await? {
        report.stopped = reason;
        report.progress = progress;
        return Ok(report);
    }
    let loading = Instant::now();
    let data = load_slice(ctx, &input.sources).await?;
    progress.load_seconds += loading.elapsed().as_secs_f64();
    let mut training = Instant::now();
    check_data(spec, &data, w)?;
    report.n_train = data.len();
    let n_batches = data.len().div_ceil(p.batch_size);
    // Cores shared among the workers; below 32 rows splitting a GEMM costs more than it saves
    // (crates/ml/examples/mlp_step.rs: 68k samples/s on 1 thread, 56k on 2 at batch 16).
    let threads = if p.batch_size < 32 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get()) / p.workers
    };
    let mut replica = Replica::new(network, threads.max(1), data);
    let pulled = ps.pull(replica.network.params_mut()).await?;
    progress.pulls += 1;
    progress.bytes_pulled += pulled.bytes;
    let fail_at = p
        .inject_failure
        .filter(|f| f.worker == w && ctx.attempt() == 1)
        .map(|f| f.iteration);
    let segments = p.evals();
    let (mut since_push, mut since_fetch) = (0usize, 0usize);

    while progress.epoch < p.max_epochs {
        replica.shuffle(p.seed, w, progress.epoch);
        while progress.batch < n_batches {
            let k = (0..segments)
                .find(|&k| segment_end(k, n_batches, segments) > progress.batch)
                .unwrap_or(segments - 1);
            let seg_end = segment_end(k, n_batches, segments);
            let mut count = (seg_end - progress.batch)
                .min(p.n_push - since_push)
                .min(p.n_fetch - since_fetch);
            if let Some(at) = fail_at.filter(|&at| at > progress.iterations) {
                count = count.min((at - progress.iterations) as usize);
            }
            let (first, batch, lr) = (progress.batch, p.batch_size, p.learning_rate);
            let seed = mix(p.seed, w as u64, progress.epoch as u64);
            let (back, result) = ctx
                .compute(move || {
                    let result = replica.steps(first, count, batch, lr, seed);
                    (replica, result)
                })
                .await
                .map_err(WorkflowError::Compute)?;
            replica = back;
            result?;
            progress.batch += count;
            progress.iterations += count as u64;
            since_push += count;
            since_fetch += count;
            if fail_at == Some(progress.iterations) {
                return Err(WorkflowError::Injected(format!(
                    "worker {w} killed after {} minibatches",
                    progress.iterations
                )));
            }
            let seg_done = progress.batch == seg_end;
            if since_push >= p.n_push || seg_done {
                let pushed = ps.push(&replica.update, p.changed_only).await?;
                replica.update.fill(0.0);
                progress.pushes += 1;
                progress.bytes_pushed += pushed.bytes;
                progress.bytes_skipped += pushed.skipped;
                since_push = 0;
            }
            if seg_done {
                let segment = progress.epoch * segments + k;
                if ps.finish_segment(segment, w, p.workers).await? {
                    evaluate_segment(ctx, spec, segment).await?;
                }
            }
            if since_fetch >= p.n_fetch || seg_done {
                since_fetch = 0;
                progress.train_seconds += training.elapsed().as_secs_f64();
                training = Instant::now();
                let mut saved = progress.clone();
                if saved.batch == n_batches {
                    saved.epoch += 1;
                    saved.batch = 0;
                }
                let (pulled, stop, current, ()) = futures::try_join!(
                    ps.pull(replica.network.params_mut()),
                    ps.stop_reason(),
                    ps.generation(w),
                    ps.save_progress(w, &saved),
                )?;
                progress.pulls += 1;
                progress.bytes_pulled += pulled.bytes;
                if let Some(reason) = stop {
                    report.stopped = reason;
                    break;
                }
                if current != generation {
                    report.stopped = SUPERSEDED.to_string();
                    break;
                }
            }
        }
        if progress.batch >= n_batches {
            progress.epoch += 1;
            progress.batch = 0;
        }
        if !report.stopped.is_empty() || scope == Scope::OneEpoch {
            break;
        }
    }
    if report.stopped.is_empty() && progress.epoch >= p.max_epochs {
        report.stopped = "epoch limit".to_string();
    }
    progress.train_seconds += training.elapsed().as_secs_f64();
    if report.stopped != SUPERSEDED {
        // A superseded invocation leaves the progress to the newer one.
        ps.save_progress(w, &progress).await?;
    }
    report.progress = progress;
    Ok(report)
}

fn check_data(spec: &RunSpec, data: &ImageSet, worker: usize) -> Result<()> {
    if data.pixels_per_image() != spec.layers[0] {
        return Err(WorkflowError::InvalidParams(format!(
            "worker {worker}'s images have {} pixels, the test images {}",
            data.pixels_per_image(),
            spec.layers[0]
        )));
    }
    let classes = spec.layers[spec.layers.len() - 1];
    if let Some(&label) = data.labels.iter().find(|&&l| usize::from(l) >= classes) {
        return Err(WorkflowError::InvalidParams(format!(
            "training label {label} is not below the {classes} classes of the network (set \
             --classes to at least {})",
            usize::from(label) + 1
        )));
    }
    Ok(())
}

/// Measures the server's parameters on the test set after `segment`, records the point, and
/// stops the run at the target accuracy or after the last segment, keeping the measured
/// parameters as the run's model.
async fn evaluate_segment(ctx: &Ctx, spec: &RunSpec, segment: usize) -> Result<()> {
    let p = &spec.params;
    let test = load_test(ctx, &spec.test).await?;
    let mut network = spec.network()?;
    let ps = spec.server(ctx);
    ps.pull(network.params_mut()).await?;
    let network = Arc::new(network);
    let (accuracy, loss) = evaluate(ctx, Arc::clone(&network), test).await?;
    let point = EvalPoint {
        segment,
        epoch: (segment + 1) as f64 / p.evals() as f64,
        elapsed_s: seconds_since(spec.t0_us),
        accuracy,
        loss,
    };
    ps.record_eval(&point).await?;
    let reason = if p.target_accuracy > 0.0 && accuracy >= p.target_accuracy && !p.past_target {
        "target"
    } else if segment + 1 >= p.segments() {
        "epoch limit"
    } else {
        return Ok(());
    };
    // The model of the run is the one this evaluation measured: the workers still push until
    // they see `stop`, and with asynchronous updates those pushes can lower the accuracy again.
    ps.save_final(network.flat_params()).await?;
    ps.stop(reason).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_epoch() {
        assert_eq!(segment_end(0, 10, 1), 10);
        let ends: Vec<usize> = (0..3).map(|k| segment_end(k, 10, 3)).collect();
        assert_eq!(ends, vec![4, 7, 10]);
        let ends: Vec<usize> = (0..4).map(|k| segment_end(k, 2, 4)).collect();
        assert_eq!(ends, vec![1, 1, 2, 2]);
    }
}
