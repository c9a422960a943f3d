//! `faasml run downpour`: options, running, and the summary it prints.

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use faasml_core::{RunReport, human_bytes};
use faasml_datasets::bundled;
use faasml_ml::mlp::Activation;
use faasml_workflows::downpour::{self, DownpourParams, DownpourResult, InjectedFailure, Mode};

use crate::PlatformArgs;
use crate::run::{execute, open_store, prepare_data};

/// Execution modes of `run downpour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModeArg {
    /// One function loads the data, initialises and trains (one worker).
    Single,
    /// One invocation per worker and epoch, each invoking the next.
    PerEpoch,
    /// A setup function starts one long-running train function per worker.
    Loop,
}

impl From<ModeArg> for Mode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Single => Self::Single,
            ModeArg::PerEpoch => Self::PerEpoch,
            ModeArg::Loop => Self::Loop,
        }
    }
}

/// The test set of the bundled family `data` belongs to (MNIST's when it is not bundled).
pub(crate) fn default_test(data: &str) -> String {
    let name = data.rsplit('/').next().unwrap_or(data);
    bundled::test_set_name(name)
        .unwrap_or("mnist-test")
        .to_string()
}

/// Hidden-layer activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ActivationArg {
    /// Hyperbolic tangent (the seed's).
    Tanh,
    /// Rectified linear unit.
    Relu,
}

/// Options of `run downpour`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DownpourArgs {
    /// Prefix of the training images; the bundled mnist, mnist-10k, fashion-mnist... are
    /// imported on first use (EMNIST: `data import` its IDX files, then name the prefix).
    #[arg(long, default_value = "mnist")]
    pub(crate) data: String,
    /// Prefix of the held-out test images (default: the test set of the bundled family).
    #[arg(long)]
    pub(crate) test: Option<String>,
    /// Use only the first N training images.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// Workers, each training on its own slice of the data.
    #[arg(long, default_value_t = 1)]
    pub(crate) workers: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 32)]
    pub(crate) batch_size: usize,
    /// Minibatches between two pulls of the parameters from the parameter server.
    #[arg(long, default_value_t = 10)]
    pub(crate) n_fetch: usize,
    /// Minibatches between two pushes of the accumulated update.
    #[arg(long, default_value_t = 1)]
    pub(crate) n_push: usize,
    /// Stop when the test accuracy reaches this (0: train until --max-epochs).
    #[arg(long, default_value_t = 0.75)]
    pub(crate) target_accuracy: f64,
    /// Most epochs per worker.
    #[arg(long, default_value_t = 10)]
    pub(crate) max_epochs: usize,
    /// Test-set evaluations per epoch.
    #[arg(long, default_value_t = 1)]
    pub(crate) evals_per_epoch: usize,
    /// How the training is laid out over functions.
    #[arg(long, value_enum, default_value = "loop")]
    pub(crate) mode: ModeArg,
    /// Hidden layer sizes, comma-separated (e.g. 100 or 256,128).
    #[arg(long, value_delimiter = ',', default_value = "100")]
    pub(crate) hidden: Vec<usize>,
    /// Output classes (default: the largest test label + 1; the seed used 47 for EMNIST).
    #[arg(long, default_value_t = 0)]
    pub(crate) classes: usize,
    /// Activation of the hidden layers.
    #[arg(long, value_enum, default_value = "tanh")]
    pub(crate) activation: ActivationArg,
    /// Dropout probability of the hidden layers.
    #[arg(long, default_value_t = 0.2)]
    pub(crate) dropout: f32,
    /// SGD learning rate.
    #[arg(long = "lr", default_value_t = 0.1)]
    pub(crate) learning_rate: f32,
    /// Floats per parameter-server key.
    #[arg(long, default_value_t = 16384)]
    pub(crate) chunk: usize,
    /// Push only the chunks whose update is not all zeros.
    #[arg(long)]
    pub(crate) changed_only: bool,
    /// Seed of the initial weights, shuffles and dropout masks.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Name to publish the model under (models/<name>/mlp.safetensors).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// Leave the run's keys in the state store.
    #[arg(long)]
    pub(crate) keep_state: bool,
    /// Make worker W fail once after N minibatches (W:N), to see it replaced.
    #[arg(long, value_name = "W:N", value_parser = parse_failure)]
    pub(crate) inject_failure: Option<InjectedFailure>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) platform: PlatformArgs,
}

fn parse_failure(s: &str) -> std::result::Result<InjectedFailure, String> {
    let (w, n) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not W:N (worker:minibatches)"))?;
    Ok(InjectedFailure {
        worker: w.trim().parse().map_err(|e| format!("worker '{w}': {e}"))?,
        iteration: n
            .trim()
            .parse()
            .map_err(|e| format!("minibatches '{n}': {e}"))?,
    })
}

impl DownpourArgs {
    /// The workflow parameters these options describe.
    pub(crate) fn params(&self) -> DownpourParams {
        let data = self.data.trim_matches('/').to_string();
        let test = self.test.clone().unwrap_or_else(|| default_test(&data));
        let model = self.model.clone().unwrap_or_else(|| {
            let family = data.rsplit('/').next().unwrap_or("data");
            format!("{}-mlp", family.split('-').next().unwrap_or(family))
        });
        DownpourParams {
            data,
            test: test.trim_matches('/').to_string(),
            limit: self.limit,
            hidden: self.hidden.clone(),
            classes: self.classes,
            activation: match self.activation {
                ActivationArg::Tanh => Activation::Tanh,
                ActivationArg::Relu => Activation::Relu,
            },
            dropout: self.dropout,
            learning_rate: self.learning_rate,
            batch_size: self.batch_size,
            workers: self.workers,
            n_fetch: self.n_fetch,
            n_push: self.n_push,
            target_accuracy: self.target_accuracy,
            max_epochs: self.max_epochs,
            evals_per_epoch: self.evals_per_epoch,
            mode: self.mode.into(),
            chunk: self.chunk,
            changed_only: self.changed_only,
            seed: self.seed,
            model,
            keep_state: self.keep_state,
            inject_failure: self.inject_failure,
        }
    }
}

/// Runs downpour with `params`; the embedded platform gets enough instances for every worker to
/// run at once (the workers' computation still shares the cores).
pub(crate) async fn train(
    args: &PlatformArgs,
    params: &DownpourParams,
    write_report: bool,
) -> Result<(DownpourResult, RunReport)> {
    params.validate().map_err(anyhow::Error::new)?;
    let mut args = args.clone();
    let needed = params.workers + 2;
    match args.concurrency {
        None => args.concurrency = Some(needed.max(num_cores())),
        Some(n) if n < needed && params.mode != Mode::Single => bail!(
            "--concurrency {n} is too low for {} downpour workers: they run at once, so at \
             least {needed} instances are needed",
            params.workers
        ),
        Some(_) => {}
    }
    let store = open_store(&args)?;
    prepare_data(&store, &params.data, args.quiet).await?;
    prepare_data(&store, &params.test, args.quiet).await?;
    let expected = match params.mode {
        Mode::Single => Some(2),
        Mode::Loop => Some(2 + params.workers as u64),
        Mode::PerEpoch => None,
    };
    execute(
        &args,
        store,
        downpour::DRIVER,
        params.clone(),
        "downpour",
        expected,
        write_report,
    )
    .await
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `run downpour`.
pub(crate) async fn run(args: DownpourArgs) -> Result<()> {
    let params = args.params();
    let (result, report) = train(&args.platform, &params, true).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    if !args.platform.quiet {
        eprintln!(
            "{} run {} on {} with store {} and state {}",
            report.workflow,
            report.run_id,
            report.platform,
            args.platform.store,
            args.platform.state
        );
        eprintln!("{}", report.stage_table());
    }
    print_summary(&params, &result);
    Ok(())
}

/// The layers as `784-100-10`.
pub(crate) fn layers_text(layers: &[usize]) -> String {
    layers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

fn print_summary(params: &DownpourParams, result: &DownpourResult) {
    println!(
        "downpour ({}): {} worker(s), batch {}, n_fetch {}, n_push {}, MLP {} ({} parameters), {} training images",
        result.mode.as_str(),
        params.workers,
        params.batch_size,
        params.n_fetch,
        params.n_push,
        layers_text(&result.layers),
        result.n_params,
        result.n_train
    );
    println!("  epoch   time (s)  test accuracy  test loss");
    for e in &result.evals {
        println!(
            "  {:>5.2}  {:>9.3}  {:>13.4}  {:>9.4}",
            e.epoch, e.elapsed_s, e.accuracy, e.loss
        );
    }
    match (result.time_to_target_s, result.epochs_to_target) {
        (Some(t), Some(e)) => println!(
            "reached {:.2} test accuracy in {t:.3} s ({e:.2} epochs)",
            params.target_accuracy
        ),
        _ if params.target_accuracy > 0.0 => println!(
            "did not reach {:.2} test accuracy in {} epochs",
            params.target_accuracy, params.max_epochs
        ),
        _ => {}
    }
    let restarts: u64 = result.workers.iter().map(|w| w.progress.restarts).sum();
    println!(
        "final accuracy {:.4} on {} test images; {:.0} minibatches per worker, {:.0} samples/s, \
         {restarts} worker restart(s)",
        result.accuracy, result.n_test, result.iterations_per_worker, result.samples_per_second
    );
    println!(
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
}
