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
//! points and publishes that model; the kit removes the run's keys from the state store.
//!
//! The time to accuracy is the time from initialisation to the first evaluation at or above the
//! target, so its resolution is one segment: by default a run that aims at a target evaluates
//! ten times per epoch (a 60k-image epoch takes about a second here), and one that trains to the
//! epoch limit once per epoch.
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

use std::str::FromStr;
use std::sync::Arc;

use faasml_core::{Ctx, FunctionRef, Registry, human_bytes, now_micros};
use faasml_ml::Persist;
use faasml_ml::mlp::{Activation, Mlp};
use serde::{Deserialize, Serialize};

use crate::data::images::ImageSource;
use crate::data::{self, images};
use crate::error::{Result, WorkflowError};
use crate::kit::{BenchSpec, Metric, Series, Workflow, limits};
use crate::kit::{layout, persist};
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

/// The file name of a downpour model in its `models/<name>/` prefix.
pub const MODEL_FILE: &str = "mlp.safetensors";

/// The downpour workflow.
#[derive(Debug, Clone, Copy)]
pub struct Downpour;

/// How the training is laid out over functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One function loads the data, initialises and trains (one worker).
    Single,
    /// One invocation per worker and epoch, each invoking the next.
    PerEpoch,
    /// A setup function starts one long-running train function per worker.
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

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure injected on purpose, to test that a dying worker is replaced (`W:N` on the command
/// line: worker W fails once after N minibatches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectedFailure {
    /// The worker that fails.
    pub worker: usize,
    /// It fails (on its first attempt only) after this many minibatches.
    pub iteration: u64,
}

impl FromStr for InjectedFailure {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (w, n) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not W:N (worker:minibatches)"))?;
        Ok(Self {
            worker: w.trim().parse().map_err(|e| format!("worker '{w}': {e}"))?,
            iteration: n
                .trim()
                .parse()
                .map_err(|e| format!("minibatches '{n}': {e}"))?,
        })
    }
}

/// The parameters of a downpour run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(default)]
pub struct DownpourParams {
    /// Prefix of the training images; the bundled mnist, mnist-10k, fashion-mnist... are
    /// imported on first use (EMNIST: `data import` its IDX files, then name the prefix).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().data))]
    pub data: String,
    /// Prefix of the held-out test images (default: the test set of the bundled family).
    #[cfg_attr(feature = "cli", arg(long))]
    pub test: Option<String>,
    /// Use only the first N training images.
    #[cfg_attr(feature = "cli", arg(long))]
    pub limit: Option<usize>,
    /// Hidden layer sizes, comma-separated (e.g. 100 or 256,128).
    #[cfg_attr(feature = "cli", arg(long, value_delimiter = ',', default_values_t = DownpourParams::default().hidden))]
    pub hidden: Vec<usize>,
    /// Output classes (default 0: the largest test label + 1; the seed used 47 for EMNIST).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().classes))]
    pub classes: usize,
    /// Activation of the hidden layers.
    #[cfg_attr(feature = "cli", arg(long, value_enum, default_value_t = DownpourParams::default().activation))]
    pub activation: Activation,
    /// Dropout probability of the hidden layers.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().dropout))]
    pub dropout: f32,
    /// SGD learning rate.
    #[cfg_attr(feature = "cli", arg(long = "lr", default_value_t = DownpourParams::default().learning_rate))]
    pub learning_rate: f32,
    /// Minibatch size.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().batch_size))]
    pub batch_size: usize,
    /// Workers, each training on its own slice of the data.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().workers))]
    pub workers: usize,
    /// Minibatches between two pulls of the parameters from the parameter server.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().n_fetch))]
    pub n_fetch: usize,
    /// Minibatches between two pushes of the accumulated update.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().n_push))]
    pub n_push: usize,
    /// Stop when the test accuracy reaches this (0: train until --max-epochs).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().target_accuracy))]
    pub target_accuracy: f64,
    /// Most epochs per worker.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().max_epochs))]
    pub max_epochs: usize,
    /// Keep training to --max-epochs after reaching the target (whole accuracy curves); the time
    /// to target is still the first evaluation at or above it.
    #[cfg_attr(feature = "cli", arg(long))]
    pub past_target: bool,
    /// Test-set evaluations per epoch: the resolution of the time to accuracy (default: 10 when
    /// aiming at a target, else 1).
    #[cfg_attr(feature = "cli", arg(long))]
    pub evals_per_epoch: Option<usize>,
    /// How the training is laid out over functions.
    #[cfg_attr(feature = "cli", arg(long, value_enum, default_value_t = DownpourParams::default().mode))]
    pub mode: Mode,
    /// Floats per parameter-server key (parameters are stored as a few chunks, not one key per
    /// weight).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().chunk))]
    pub chunk: usize,
    /// Push only the chunks whose update is not all zeros.
    #[cfg_attr(feature = "cli", arg(long))]
    pub changed_only: bool,
    /// Seed of the initial weights, shuffles and dropout masks.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DownpourParams::default().seed))]
    pub seed: u64,
    /// Name to publish the model under, models/<name>/mlp.safetensors (default: the training
    /// data's family followed by -mlp, e.g. mnist-mlp).
    #[cfg_attr(feature = "cli", arg(long))]
    pub model: Option<String>,
    /// Leave the run's keys in the state store (under runs/<run id>/downpour/).
    #[cfg_attr(feature = "cli", arg(long))]
    pub keep_state: bool,
    /// Make worker W fail once after N minibatches (W:N), to see it replaced.
    #[cfg_attr(feature = "cli", arg(long, value_name = "W:N"))]
    pub inject_failure: Option<InjectedFailure>,
}

impl Default for DownpourParams {
    /// The seed's network (one hidden layer of 100 tanh units, dropout 0.2, learning rate 0.1,
    /// batch 32, n_fetch 10) on MNIST, one worker, target accuracy 0.75.
    fn default() -> Self {
        Self {
            data: "mnist".to_string(),
            test: None,
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
            past_target: false,
            evals_per_epoch: None,
            mode: Mode::Loop,
            chunk: 16384,
            changed_only: false,
            seed: 42,
            model: None,
            keep_state: false,
            inject_failure: None,
        }
    }
}

impl DownpourParams {
    /// The test prefix: the one given, or the test set of the training data's family.
    pub fn test_prefix(&self) -> String {
        data::test_prefix(&self.data, self.test.as_deref())
    }

    /// The model name: the one given, or `<family>-mlp`.
    pub fn model_name(&self) -> String {
        data::model_name(&self.data, self.model.as_deref(), "mlp")
    }

    /// Evaluations per epoch: the one given, or 10 when aiming at a target and 1 otherwise.
    pub fn evals(&self) -> usize {
        self.evals_per_epoch
            .unwrap_or(if self.target_accuracy > 0.0 { 10 } else { 1 })
    }

    /// Checks the parameters before anything runs (the driver) and where a stage receives them.
    pub(crate) fn check(&self) -> Result<()> {
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
        if self.max_epochs == 0 || self.evals() == 0 {
            return fail("max epochs and evals per epoch must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.target_accuracy) {
            return fail("the target accuracy is a fraction between 0 and 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return fail("the learning rate must be a positive number");
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return fail("dropout is a probability in [0, 1)");
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
        if data::clean_prefix(&self.data).is_empty() || self.test_prefix().is_empty() {
            return fail("the data and test prefixes must not be empty");
        }
        limits::at_most("workers", self.workers, limits::WORKERS)?;
        limits::at_most("max epochs", self.max_epochs, limits::EPOCHS)?;
        limits::at_most("evals per epoch", self.evals(), limits::EVALS_PER_EPOCH)?;
        limits::product_at_most(
            "max epochs x evals per epoch",
            self.max_epochs,
            self.evals(),
            limits::SEGMENTS,
        )?;
        limits::at_most("batch size", self.batch_size, limits::BATCH)?;
        limits::at_most("n_fetch", self.n_fetch, limits::BATCH)?;
        limits::at_most("n_push", self.n_push, limits::BATCH)?;
        for &width in &self.hidden {
            limits::at_most("a hidden layer's width", width, limits::LAYER_WIDTH)?;
        }
        // 784 inputs and 256 classes at most: the network's size from its widest case.
        let layers: Vec<usize> = std::iter::once(784)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(256))
            .collect();
        let params = checked_n_params(&layers).unwrap_or(usize::MAX);
        limits::at_most("the network's parameters", params, limits::NETWORK_PARAMS)?;
        data::check_name("model", &self.model_name())
    }

    /// Total number of evaluation segments the run may have.
    pub fn segments(&self) -> usize {
        self.max_epochs * self.evals()
    }
}

/// [`n_params`], or `None` when it overflows (layer sizes from a request are untrusted).
fn checked_n_params(layers: &[usize]) -> Option<usize> {
    layers.windows(2).try_fold(0usize, |sum, w| {
        w[0].checked_add(1)?
            .checked_mul(w[1])
            .and_then(|n| sum.checked_add(n))
    })
}

/// The number of parameters of an MLP with `layers` (weights and biases).
pub fn n_params(layers: &[usize]) -> usize {
    layers.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
}

/// What every worker of a run shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
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
    /// Checks what a stage receives: the run's parameters and layer sizes within their limits.
    pub fn check(&self) -> Result<()> {
        self.params.check()?;
        limits::at_most("layers", self.layers.len(), 64)?;
        for &width in &self.layers {
            limits::at_most("a layer's width", width, limits::LAYER_WIDTH)?;
        }
        let params = checked_n_params(&self.layers).unwrap_or(usize::MAX);
        limits::at_most("the network's parameters", params, limits::NETWORK_PARAMS)
    }

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

    /// The number of parameters, from the layer sizes (no network is built to learn it).
    pub fn n_params(&self) -> usize {
        n_params(&self.layers)
    }

    /// The run's parameter server in `ctx`'s state store.
    pub fn server(&self, ctx: &Ctx) -> ParameterServer {
        ParameterServer::new(
            Arc::clone(ctx.state()),
            // The invocation's own run, never one its input names.
            ctx.run_id(),
            self.n_params(),
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
    /// Test-set evaluations per epoch (the resolution of the time to target).
    #[serde(default)]
    pub evals_per_epoch: usize,
    /// The target accuracy.
    #[serde(default)]
    pub target_accuracy: f64,
}

impl Workflow for Downpour {
    const NAME: &'static str = "downpour";
    const ABOUT: &'static str =
        "Train an MLP by Downpour SGD: workers share a parameter server in the state store.";
    type Params = DownpourParams;
    type Output = DownpourResult;
    const DRIVER: FunctionRef<DownpourParams, DownpourResult> = DRIVER;

    async fn drive(params: DownpourParams, ctx: Ctx) -> Result<DownpourResult> {
        driver(params, ctx).await
    }

    fn register(registry: &mut Registry) {
        // Setup waits for its workers, and the workers train until the run stops: all of them
        // run as long as the whole training.
        registry.register(SETUP, setup).long_running();
        registry.register(SINGLE, single).long_running();
        registry
            .register(TRAIN, |input: TrainInput, ctx: Ctx| async move {
                train::train(&ctx, &input, train::Scope::AllEpochs).await
            })
            .long_running();
        registry.register(EPOCH, epoch).long_running();
    }

    fn resolve(params: &mut DownpourParams) {
        params.data = data::clean_prefix(&params.data);
        params.test = Some(params.test_prefix());
        params.model = Some(params.model_name());
        params.evals_per_epoch = Some(params.evals());
    }

    fn validate(params: &DownpourParams) -> Result<()> {
        params.check()
    }

    fn model(params: &DownpourParams) -> Option<String> {
        Some(params.model_name())
    }

    fn datasets(params: &DownpourParams) -> Vec<String> {
        vec![params.data.clone(), params.test_prefix()]
    }

    fn expected_invocations(params: &DownpourParams) -> Option<u64> {
        match params.mode {
            Mode::Single => Some(2),
            Mode::Loop => Some(2 + params.workers as u64),
            Mode::PerEpoch => None,
        }
    }

    fn min_concurrency(params: &DownpourParams) -> usize {
        // The driver, setup and every worker wait on each other.
        match params.mode {
            Mode::Single => 1,
            Mode::PerEpoch | Mode::Loop => params.workers + 2,
        }
    }

    fn shared_state() -> bool {
        true
    }

    fn keep_scratch(params: &DownpourParams) -> bool {
        params.keep_state
    }

    fn summary(params: &DownpourParams, result: &DownpourResult) -> String {
        summary(params, result)
    }

    fn bench() -> BenchSpec<DownpourResult> {
        BenchSpec {
            axes: vec![
                ("batch-size", "16,32,64,128"),
                ("workers", "1,3,6"),
                ("n-fetch", "1,10"),
            ],
            fixed: vec![
                ("max-epochs", "5"),
                ("evals-per-epoch", "10"),
                ("model", "bench-mlp"),
            ],
            repeats: 1,
            primary: "time_to_target_s",
            metrics: vec![
                Metric {
                    name: "time_to_target_s",
                    unit: "s",
                    value: |r| r.time_to_target_s,
                },
                Metric {
                    name: "epochs_to_target",
                    unit: "",
                    value: |r| r.epochs_to_target,
                },
                Metric {
                    name: "iterations_per_worker",
                    unit: "",
                    value: |r| Some(r.iterations_per_worker),
                },
                Metric {
                    name: "samples_per_second",
                    unit: "",
                    value: |r| Some(r.samples_per_second),
                },
                Metric {
                    name: "bytes_pulled",
                    unit: "B",
                    value: |r| Some(r.bytes_pulled as f64),
                },
                Metric {
                    name: "bytes_pushed",
                    unit: "B",
                    value: |r| Some(r.bytes_pushed as f64),
                },
                Metric {
                    name: "accuracy",
                    unit: "",
                    value: |r| Some(r.accuracy),
                },
            ],
            series: Some(Series {
                title: "Downpour SGD: test accuracy over time",
                x_label: "seconds since initialisation",
                y_label: "test accuracy",
                columns: ("elapsed_s", "accuracy"),
                reference_flag: Some("target-accuracy"),
                points: |r| r.evals.iter().map(|e| (e.elapsed_s, e.accuracy)).collect(),
            }),
            ..BenchSpec::basic()
        }
    }
}

/// The layers as `784-100-10`.
pub fn layers_text(layers: &[usize]) -> String {
    layers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

fn summary(params: &DownpourParams, result: &DownpourResult) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "downpour ({}): {} worker(s), batch {}, n_fetch {}, n_push {}, MLP {} ({} parameters), \
         {} training images",
        result.mode.as_str(),
        params.workers,
        params.batch_size,
        params.n_fetch,
        params.n_push,
        layers_text(&result.layers),
        result.n_params,
        result.n_train
    );
    let _ = writeln!(out, "  epoch   time (s)  test accuracy  test loss");
    for e in &result.evals {
        let _ = writeln!(
            out,
            "  {:>5.2}  {:>9.3}  {:>13.4}  {:>9.4}",
            e.epoch, e.elapsed_s, e.accuracy, e.loss
        );
    }
    let per_epoch = result.evals_per_epoch.max(1);
    match (result.time_to_target_s, result.epochs_to_target) {
        (Some(t), Some(e)) => {
            let _ = writeln!(
                out,
                "reached {:.2} test accuracy in {t:.3} s ({e:.2} epochs): time from \
                 initialisation to the first of {per_epoch} test-set evaluation(s) per epoch at \
                 or above the target",
                params.target_accuracy
            );
        }
        _ if params.target_accuracy > 0.0 => {
            let _ = writeln!(
                out,
                "did not reach {:.2} test accuracy in {} epochs",
                params.target_accuracy, params.max_epochs
            );
        }
        _ => {}
    }
    let restarts: u64 = result.workers.iter().map(|w| w.progress.restarts).sum();
    let _ = writeln!(
        out,
        "final accuracy {:.4} on {} test images; {:.0} minibatches per worker, {:.0} samples/s, \
         {restarts} worker restart(s)",
        result.accuracy, result.n_test, result.iterations_per_worker, result.samples_per_second
    );
    let _ = write!(
        out,
        "parameter server: pulled {}, pushed {}{}; model published to {} ({:.3} s of training)",
        human_bytes(result.bytes_pulled),
        human_bytes(result.bytes_pushed),
        if params.changed_only {
            format!(
                " (skipped {} of unchanged chunks)",
                human_bytes(result.bytes_skipped)
            )
        } else {
            String::new()
        },
        result.model_key,
        result.train_seconds
    );
    out
}

fn seconds_since(t0_us: u64) -> f64 {
    now_micros().saturating_sub(t0_us) as f64 / 1e6
}

async fn driver(params: DownpourParams, ctx: Ctx) -> Result<DownpourResult> {
    let t0_us = now_micros();
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
    let test_sources = images::list(store, &params.test_prefix()).await?;
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
        layers,
        params: params.clone(),
        test: test_sources,
        t0_us,
    };
    let n_params = spec.n_params();
    let ps = spec.server(&ctx);
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
        evals_per_epoch: params.evals(),
        target_accuracy: params.target_accuracy,
    })
}

/// Writes the trained network to `models/<name>/mlp.safetensors` (the MLP's own tensors, with
/// the run's accuracy, id and dataset family in the metadata).
async fn publish(ctx: &Ctx, spec: &RunSpec, network: &Mlp, accuracy: f64) -> Result<String> {
    let key = layout::model_key(&spec.params.model_name(), MODEL_FILE);
    let mut tensors = Persist::to_tensors(network);
    tensors.set_meta("accuracy", format!("{accuracy}"));
    tensors.set_meta("run_id", ctx.run_id().to_string());
    tensors.set_meta("dataset", data::family(&spec.params.data));
    persist::put(ctx.store(), &key, tensors).await?;
    Ok(key.to_string())
}

/// Initialises the parameter server unless it already is (a re-invoked setup keeps the trained
/// parameters).
async fn initialise(ctx: &Ctx, spec: &RunSpec) -> Result<ParameterServer> {
    spec.check()?;
    let network = spec.network()?;
    let ps = spec.server(ctx);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the parameter count used to be learnt by building a whole network (six times
    /// per run); it is arithmetic on the layer sizes, and agrees with the network's.
    #[test]
    fn the_parameter_count_comes_from_the_layers() {
        for layers in [vec![784, 100, 10], vec![784, 256, 128, 47], vec![2, 2]] {
            let network = Mlp::params().layers(&layers).check().unwrap().build();
            assert_eq!(n_params(&layers), network.n_params(), "{layers:?}");
        }
    }

    #[test]
    fn defaults_resolve_from_the_data_and_the_target() {
        let mut p = DownpourParams {
            data: "fashion-mnist-10k/".into(),
            ..DownpourParams::default()
        };
        <Downpour as Workflow>::resolve(&mut p);
        assert_eq!(p.data, "fashion-mnist-10k");
        assert_eq!(p.test.as_deref(), Some("fashion-mnist-test"));
        assert_eq!(p.model.as_deref(), Some("fashion-mnist-mlp"));
        assert_eq!(
            p.evals_per_epoch,
            Some(10),
            "aiming at a target: 10 evaluations an epoch"
        );
        let mut p = DownpourParams {
            target_accuracy: 0.0,
            ..DownpourParams::default()
        };
        <Downpour as Workflow>::resolve(&mut p);
        assert_eq!(p.evals_per_epoch, Some(1));
    }
}
