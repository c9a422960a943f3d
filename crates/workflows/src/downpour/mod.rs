//! The downpour workflow: a multilayer perceptron trained by Downpour SGD across functions that
//! share a parameter server in the state store (embedded, or Redis).
//!
//! `W` workers each own a contiguous slice of the training set. A worker trains on minibatches
//! of its slice, applying each update to its local copy of the parameters and accumulating it;
//! every `n_push` minibatches it pushes the accumulated update to the parameter server (an atomic
//! element-wise add per chunk, see [`server`]), and every `n_fetch` minibatches it replaces its
//! copy with the server's parameters. Workers never wait for each other.
//!
//! Each worker's epoch is cut into `evals_per_epoch` segments (one by default). The last worker to
//! finish a segment measures the server's parameters on the held-out test set and records the
//! point; when the accuracy reaches the target, or the last epoch ends, it keeps the parameters it
//! measured as the run's model and tells every worker to stop. The driver then reads the recorded
//! points, publishes that model, and removes the run's keys from the state store.
//!
//! Execution modes, after the seed (`EMNIST Neural network` on OpenFaaS):
//! - [`Mode::Single`]: one function initialises the parameters and trains, alone (one worker);
//! - [`Mode::PerEpoch`]: `setup` initialises, then starts one `epoch` invocation per worker; each
//!   trains one epoch on its slice and invokes the next epoch itself until the run stops;
//! - [`Mode::Loop`]: `setup` initialises, then starts `W` long-running `train` functions.
//!
//! Fault tolerance: a worker saves where it is at every fetch and takes a new *generation* on each
//! invocation. A worker that fails is re-invoked by the invoker's retries and resumes from its
//! saved position with the server's current parameters; an older invocation of the same worker
//! that is still running notices the newer generation and stops. Initialisation writes a chunk
//! only if it is absent, so a re-invoked `setup` or driver never overwrites trained parameters. A
//! state store that goes away fails the run with its error; a parameter chunk that disappeared
//! is an error too, never a silent restart from stale or zero weights.

pub mod server;
mod train;

use std::sync::Arc;

use faasml_core::{Ctx, FunctionRef, Registry, now_micros};
use faasml_ml::mlp::{Activation, Mlp};
use faasml_store::{ArrayFile, Path};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};
use crate::images::{self, ImageSource};
pub use server::{EvalPoint, ParameterServer, Progress};

/// The driver: runs a whole downpour training.
pub const DRIVER: FunctionRef<DownpourParams, DownpourResult> = FunctionRef::new("downpour.driver");
/// Initialises the parameter server and starts the workers (modes `per-epoch` and `loop`).
pub const SETUP: FunctionRef<SetupInput, Vec<WorkerReport>> = FunctionRef::new("downpour.setup");
/// Initialises and trains in one function (mode `single`).
pub const SINGLE: FunctionRef<SetupInput, Vec<WorkerReport>> = FunctionRef::new("downpour.single");
/// A long-running worker: trains on its slice until the run stops (mode `loop`).
pub const TRAIN: FunctionRef<TrainInput, WorkerReport> = FunctionRef::new("downpour.train");
/// One epoch of one worker, which invokes the next epoch itself (mode `per-epoch`).
pub const EPOCH: FunctionRef<TrainInput, WorkerReport> = FunctionRef::new("downpour.epoch");

/// Registers the downpour functions.
pub fn register(registry: &mut Registry) {
    registry.register(DRIVER, |p, ctx| async move { Ok(driver(p, ctx).await?) });
    registry.register(SETUP, |i, ctx| async move { Ok(setup(i, ctx).await?) });
    registry.register(SINGLE, |i, ctx| async move { Ok(single(i, ctx).await?) });
    registry.register(TRAIN, |i, ctx| async move {
        Ok(train::train(&ctx, &i, train::Scope::AllEpochs).await?)
    });
    registry.register(EPOCH, |i, ctx| async move { Ok(epoch(i, ctx).await?) });
}

/// How the training is laid out over functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One function initialises and trains (one worker).
    Single,
    /// One invocation per worker and epoch, each invoking the next.
    PerEpoch,
    /// A setup function starts one long-running function per worker.
    #[default]
    Loop,
}

impl Mode {
    /// The mode's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::PerEpoch => "per-epoch",
            Self::Loop => "loop",
        }
    }
}

/// A failure injected on purpose, to test that a dying worker is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectedFailure {
    /// The worker that fails.
    pub worker: usize,
    /// It fails (on its first attempt only) after this many minibatches.
    pub iteration: u64,
}

/// The parameters of a downpour run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DownpourParams {
    /// Prefix of the training images (a bundled name such as `mnist` is imported on first use).
    pub data: String,
    /// Prefix of the held-out test images.
    pub test: String,
    /// Use only the first this many training images (all when `None`).
    pub limit: Option<usize>,
    /// Sizes of the hidden layers.
    pub hidden: Vec<usize>,
    /// Output classes; 0 takes the largest test label + 1.
    pub classes: usize,
    /// Activation of the hidden layers.
    pub activation: Activation,
    /// Dropout probability of the hidden layers.
    pub dropout: f32,
    /// SGD learning rate.
    pub learning_rate: f32,
    /// Minibatch size.
    pub batch_size: usize,
    /// Number of workers, each training on its own slice of the data.
    pub workers: usize,
    /// Minibatches between two pulls of the parameters.
    pub n_fetch: usize,
    /// Minibatches between two pushes of the accumulated update.
    pub n_push: usize,
    /// Stop once the test accuracy reaches this (0 = train until the epoch limit).
    pub target_accuracy: f64,
    /// Most epochs each worker trains.
    pub max_epochs: usize,
    /// Test-set evaluations per epoch (the run stops at the first one reaching the target).
    pub evals_per_epoch: usize,
    /// How the training is laid out over functions.
    pub mode: Mode,
    /// Floats per parameter-server key (parameters are stored as a few chunks, not one key per
    /// weight).
    pub chunk: usize,
    /// Push only the chunks whose update is not all zeros.
    pub changed_only: bool,
    /// Seed of the initial weights, the shuffles and the dropout masks.
    pub seed: u64,
    /// Name the trained model is published under (`models/<name>/mlp.safetensors`).
    pub model: String,
    /// Leave the run's keys in the state store instead of removing them at the end.
    pub keep_state: bool,
    /// Make one worker fail once, to exercise fault tolerance.
    pub inject_failure: Option<InjectedFailure>,
}

impl Default for DownpourParams {
    /// The seed's network (one hidden layer of 100 tanh units, dropout 0.2, learning rate 0.1,
    /// batch 32, n_fetch 10) on MNIST, one worker, target accuracy 0.75.
    fn default() -> Self {
        Self {
            data: "mnist".to_string(),
            test: "mnist-test".to_string(),
            limit: None,
            hidden: vec![100],
            classes: 0,
            activation: Activation::Tanh,
            dropout: 0.2,
            learning_rate: 0.1,
            batch_size: 32,
            workers: 1,
            n_fetch: 10,
            n_push: 1,
            target_accuracy: 0.75,
            max_epochs: 10,
            evals_per_epoch: 1,
            mode: Mode::Loop,
            chunk: 16384,
            changed_only: false,
            seed: 42,
            model: "mnist-mlp".to_string(),
            keep_state: false,
            inject_failure: None,
        }
    }
}

impl DownpourParams {
    /// Checks the parameters before anything runs.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: &str| Err(WorkflowError::InvalidParams(m.to_string()));
        if self.workers == 0 {
            return fail("workers must be at least 1");
        }
        if self.mode == Mode::Single && self.workers != 1 {
            return fail("mode single trains in one function: use --workers 1, or mode loop");
        }
        if self.batch_size == 0 || self.n_fetch == 0 || self.n_push == 0 {
            return fail("batch size, n_fetch and n_push must be at least 1");
        }
        if self.max_epochs == 0 || self.evals_per_epoch == 0 {
            return fail("max epochs and evals per epoch must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.target_accuracy) {
            return fail("the target accuracy is a fraction between 0 and 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return fail("the learning rate must be a positive number");
        }
        if self.chunk == 0 {
            return fail("chunk must be at least 1 float");
        }
        if self.hidden.contains(&0) {
            return fail("hidden layer sizes must be at least 1");
        }
        if self.classes == 1 || self.classes > 256 {
            return fail("classes must be between 2 and 256 (or 0 to take them from the test set)");
        }
        if self.limit == Some(0) {
            return fail("limit must be at least 1 image");
        }
        Ok(())
    }

    /// Total number of evaluation segments the run may have.
    pub fn segments(&self) -> usize {
        self.max_epochs * self.evals_per_epoch
    }
}

/// What every worker of a run shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The run whose parameter server this is.
    pub run_id: String,
    /// Layer sizes, input first.
    pub layers: Vec<usize>,
    /// The run's parameters.
    pub params: DownpourParams,
    /// Test images, for the evaluations.
    pub test: Vec<ImageSource>,
    /// When the run started (microseconds since the Unix epoch).
    pub t0_us: u64,
}

impl RunSpec {
    /// The network with these layers and the run's seed (initial weights).
    pub fn network(&self) -> Result<Mlp> {
        Ok(Mlp::params()
            .layers(&self.layers)
            .activation(self.params.activation)
            .dropout(self.params.dropout)
            .seed(self.params.seed)
            .check()?
            .build())
    }

    /// The run's parameter server in `ctx`'s state store.
    pub fn server(&self, ctx: &Ctx, n_params: usize) -> ParameterServer {
        ParameterServer::new(
            Arc::clone(ctx.state()),
            &self.run_id,
            n_params,
            self.params.chunk,
        )
    }
}

/// Input of `setup` and `single`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetupInput {
    /// The run.
    pub spec: RunSpec,
    /// Each worker's slice of the training set.
    pub slices: Vec<Vec<ImageSource>>,
}

/// Input of `train` and `epoch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainInput {
    /// The run.
    pub spec: RunSpec,
    /// This worker's index.
    pub worker: usize,
    /// This worker's slice of the training set.
    pub sources: Vec<ImageSource>,
    /// The epoch to train (mode `per-epoch`; a `train` starts at 0 or where it left off).
    pub epoch: usize,
}

/// What one worker did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// The worker's index.
    pub worker: usize,
    /// Training images in its slice.
    pub n_train: usize,
    /// Counters: iterations, pulls, pushes, bytes, restarts.
    pub progress: Progress,
    /// Why it stopped: "target", "epoch limit" or "superseded".
    pub stopped: String,
}

/// The outcome of a downpour run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownpourResult {
    /// Whether the target accuracy was reached.
    pub reached_target: bool,
    /// Seconds from the start of the run to the first evaluation at or above the target.
    pub time_to_target_s: Option<f64>,
    /// Epochs of training behind that evaluation.
    pub epochs_to_target: Option<f64>,
    /// Test accuracy of the published parameters: those the evaluation that stopped the run
    /// measured.
    pub accuracy: f64,
    /// Every evaluation during training.
    pub evals: Vec<EvalPoint>,
    /// Per worker counters.
    pub workers: Vec<WorkerReport>,
    /// Mean minibatches per worker.
    pub iterations_per_worker: f64,
    /// Training samples per second of the workers' training loops (data loading excluded),
    /// summed over the workers.
    pub samples_per_second: f64,
    /// Bytes of parameters pulled, all workers.
    pub bytes_pulled: u64,
    /// Bytes of updates pushed, all workers.
    pub bytes_pushed: u64,
    /// Bytes of updates not pushed (all-zero chunks, with changed-only pushes).
    pub bytes_skipped: u64,
    /// Seconds from the start of the run until every worker stopped.
    pub train_seconds: f64,
    /// Layer sizes, input first.
    pub layers: Vec<usize>,
    /// Number of parameters.
    pub n_params: usize,
    /// Training images used.
    pub n_train: usize,
    /// Test images.
    pub n_test: usize,
    /// Where the model was published.
    pub model_key: String,
    /// The execution mode.
    pub mode: Mode,
}

fn seconds_since(t0_us: u64) -> f64 {
    now_micros().saturating_sub(t0_us) as f64 / 1e6
}

async fn driver(params: DownpourParams, ctx: Ctx) -> Result<DownpourResult> {
    let t0_us = now_micros();
    params.validate()?;
    let store = ctx.store();
    let mut train_sources = images::list(store, &params.data).await?;
    if let Some(limit) = params.limit {
        train_sources = images::take(&train_sources, limit);
    }
    let n_train = images::count(&train_sources);
    if n_train < params.workers {
        return Err(WorkflowError::TooSmall {
            prefix: params.data.clone(),
            reason: format!("{n_train} images for {} workers", params.workers),
        });
    }
    let test_sources = images::list(store, &params.test).await?;
    let test = train::load_test(&ctx, &test_sources).await?;
    let n_classes = if params.classes == 0 {
        test.y
            .iter()
            .copied()
            .max()
            .map_or(2, |m| usize::from(m) + 1)
            .max(2)
    } else {
        params.classes
    };
    let mut layers = vec![test.x.cols()];
    layers.extend(&params.hidden);
    layers.push(n_classes);
    let spec = RunSpec {
        run_id: ctx.run_id().to_string(),
        layers,
        params: params.clone(),
        test: test_sources,
        t0_us,
    };
    let n_params = spec.network()?.n_params();
    let ps = spec.server(&ctx, n_params);
    let input = SetupInput {
        slices: images::deal_contiguous(&train_sources, params.workers),
        spec: spec.clone(),
    };
    let trained = match params.mode {
        Mode::Single => ctx.invoke(SINGLE, &input).await,
        Mode::PerEpoch | Mode::Loop => ctx.invoke(SETUP, &input).await,
    };
    let finished = async {
        let workers = trained?;
        let train_seconds = seconds_since(spec.t0_us);
        let evals = ps.evals(params.segments()).await?;
        let mut network = spec.network()?;
        match ps.final_params().await? {
            Some(measured) => network.set_params(&measured)?,
            None => {
                ps.pull(network.params_mut()).await?;
            }
        }
        let network = Arc::new(network);
        let (accuracy, _) = train::evaluate(&ctx, Arc::clone(&network), Arc::clone(&test)).await?;
        let model_key = publish(&ctx, &spec, &network, accuracy).await?;
        Ok::<_, WorkflowError>((workers, evals, accuracy, model_key, train_seconds))
    }
    .await;
    if !params.keep_state {
        // Best effort: the run's outcome matters more than leftover keys.
        let _ = ps.clear(params.workers, params.segments()).await;
    }
    let (workers, evals, accuracy, model_key, train_seconds) = finished?;
    let hit = evals
        .iter()
        .find(|e| params.target_accuracy > 0.0 && e.accuracy >= params.target_accuracy);
    let total = |f: fn(&Progress) -> u64| workers.iter().map(|w| f(&w.progress)).sum::<u64>();
    let iterations = total(|p| p.iterations);
    let samples_per_second = workers
        .iter()
        .filter(|w| w.progress.train_seconds > 0.0)
        .map(|w| {
            (w.progress.iterations * params.batch_size as u64) as f64 / w.progress.train_seconds
        })
        .sum();
    Ok(DownpourResult {
        reached_target: hit.is_some(),
        time_to_target_s: hit.map(|e| e.elapsed_s),
        epochs_to_target: hit.map(|e| e.epoch),
        accuracy,
        iterations_per_worker: iterations as f64 / params.workers as f64,
        samples_per_second,
        bytes_pulled: total(|p| p.bytes_pulled),
        bytes_pushed: total(|p| p.bytes_pushed),
        bytes_skipped: total(|p| p.bytes_skipped),
        train_seconds,
        evals,
        workers,
        layers: spec.layers.clone(),
        n_params,
        n_train,
        n_test: test.y.len(),
        model_key,
        mode: params.mode,
    })
}

/// Writes the trained network to `models/<name>/mlp.safetensors`.
async fn publish(ctx: &Ctx, spec: &RunSpec, network: &Mlp, accuracy: f64) -> Result<String> {
    let key = format!("models/{}/mlp.safetensors", spec.params.model);
    let mut file = ArrayFile::new();
    file.set_meta("format", "faasml.mlp");
    file.set_meta("version", "1");
    file.set_meta(
        "layers",
        serde_json::to_string(&spec.layers).unwrap_or_default(),
    );
    file.set_meta(
        "activation",
        serde_json::to_string(&spec.params.activation).unwrap_or_default(),
    );
    file.set_meta("accuracy", format!("{accuracy}"));
    file.set_meta("run_id", spec.run_id.clone());
    file.insert_f32(
        "params",
        vec![network.n_params()],
        network.flat_params().to_vec(),
    )?;
    ctx.store()
        .put_arrays(&Path::from(key.as_str()), &file)
        .await?;
    Ok(key)
}

/// Initialises the parameter server unless it already is (a re-invoked setup keeps the trained
/// parameters).
async fn initialise(ctx: &Ctx, spec: &RunSpec) -> Result<ParameterServer> {
    let network = spec.network()?;
    let ps = spec.server(ctx, network.n_params());
    ps.init_if_absent(network.flat_params()).await?;
    Ok(ps)
}

fn train_inputs(input: &SetupInput) -> Vec<TrainInput> {
    input
        .slices
        .iter()
        .enumerate()
        .map(|(worker, sources)| TrainInput {
            spec: input.spec.clone(),
            worker,
            sources: sources.clone(),
            epoch: 0,
        })
        .collect()
}

async fn setup(input: SetupInput, ctx: Ctx) -> Result<Vec<WorkerReport>> {
    initialise(&ctx, &input.spec).await?;
    let inputs = train_inputs(&input);
    let function = match input.spec.params.mode {
        Mode::PerEpoch => EPOCH,
        Mode::Loop | Mode::Single => TRAIN,
    };
    Ok(ctx.map(function, inputs).await?)
}

async fn single(input: SetupInput, ctx: Ctx) -> Result<Vec<WorkerReport>> {
    initialise(&ctx, &input.spec).await?;
    let mut reports = Vec::new();
    for train_input in train_inputs(&input) {
        reports.push(train::train(&ctx, &train_input, train::Scope::AllEpochs).await?);
    }
    Ok(reports)
}

async fn epoch(input: TrainInput, ctx: Ctx) -> Result<WorkerReport> {
    let report = train::train(&ctx, &input, train::Scope::OneEpoch).await?;
    let next = report.progress.epoch;
    if !report.stopped.is_empty() || next >= input.spec.params.max_epochs {
        return Ok(report);
    }
    Ok(ctx
        .invoke(
            EPOCH,
            &TrainInput {
                epoch: next,
                ..input
            },
        )
        .await?)
}
