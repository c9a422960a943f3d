//! `faasml run <workflow>`: run a workflow on the embedded platform and report on it.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use faasml_core::{FunctionRef, RetryPolicy, RunOptions, RunReport};
use faasml_datasets::bundled;
use faasml_store::Store;
use faasml_workflows::images;
use faasml_workflows::ml_inference::{self, InferenceParams, InferenceResult};
use faasml_workflows::ml_training::{self, TrainingParams, TrainingResult};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PlatformArgs;
use crate::progress::RunProgress;

/// The workflows `faasml run` knows.
#[derive(Debug, Subcommand)]
pub(crate) enum Workflow {
    /// partition -> PCA -> random forests -> validation on the test set; publishes a model.
    MlTraining(TrainingArgs),
    /// Predict images with a model published by ml-training.
    MlInference(InferenceArgs),
    /// Train an MLP by Downpour SGD: workers share a parameter server in the state store.
    Downpour(crate::downpour::DownpourArgs),
}

/// Options of `run ml-training`.
#[derive(Debug, Args)]
pub(crate) struct TrainingArgs {
    /// Prefix of the training images in the store; the bundled mnist-2k, mnist-10k, mnist,
    /// fashion-mnist... are imported on first use.
    #[arg(long, default_value = "mnist-2k")]
    pub(crate) train: String,
    /// Prefix of the held-out test images (default: the test set of the bundled family).
    #[arg(long)]
    pub(crate) test: Option<String>,
    /// Number of PCA functions.
    #[arg(long = "pca", default_value_t = 2)]
    pub(crate) n_pca: usize,
    /// Number of random-forest functions (a multiple of --pca).
    #[arg(long = "rf", default_value_t = 8)]
    pub(crate) n_rf: usize,
    /// PCA components.
    #[arg(long, default_value_t = 10)]
    pub(crate) components: usize,
    /// Trees per forest.
    #[arg(long, default_value_t = 100)]
    pub(crate) trees: usize,
    /// Maximum tree depth.
    #[arg(long, default_value_t = 10)]
    pub(crate) depth: usize,
    /// Minimum samples to split a node.
    #[arg(long, default_value_t = 5)]
    pub(crate) min_samples_split: usize,
    /// Seed of every random choice; a run is deterministic for a fixed seed.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Name to publish the model under.
    #[arg(long, default_value = "mnist-rf")]
    pub(crate) model: String,
    /// Keep the intermediate objects (shards, slices, forests) under runs/<run id>/ in the store.
    #[arg(long)]
    pub(crate) keep_intermediate: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) platform: PlatformArgs,
}

impl TrainingArgs {
    /// The workflow parameters these options describe.
    pub(crate) fn params(&self) -> TrainingParams {
        let test = self.test.clone().unwrap_or_else(|| {
            let name = self.train.rsplit('/').next().unwrap_or(&self.train);
            bundled::test_set_name(name)
                .unwrap_or("mnist-test")
                .to_string()
        });
        TrainingParams {
            data: self.train.trim_matches('/').to_string(),
            test: test.trim_matches('/').to_string(),
            n_pca: self.n_pca,
            n_rf: self.n_rf,
            components: self.components,
            trees: self.trees,
            depth: self.depth,
            min_samples_split: self.min_samples_split,
            seed: self.seed,
            model: self.model.clone(),
            keep_intermediate: self.keep_intermediate,
        }
    }
}

/// Options of `run ml-inference`.
#[derive(Debug, Args)]
pub(crate) struct InferenceArgs {
    /// Name of the published model.
    #[arg(long, default_value = "mnist-rf")]
    model: String,
    /// Prefix of the images to predict (a bundled name is imported on first use).
    #[arg(long, default_value = "mnist-test")]
    data: String,
    /// Images per predict invocation.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    platform: PlatformArgs,
}

pub(crate) async fn run(workflow: Workflow) -> Result<()> {
    match workflow {
        Workflow::Downpour(args) => crate::downpour::run(args).await,
        Workflow::MlTraining(args) => {
            let params = args.params();
            let (result, report) = train(&args.platform, &params, true).await?;
            print_training(&args.platform, &params, &result, &report, args.json)
        }
        Workflow::MlInference(args) => {
            let params = InferenceParams {
                model: args.model.clone(),
                data: args.data.trim_matches('/').to_string(),
                batch_size: args.batch_size,
            };
            let store = open_store(&args.platform)?;
            prepare_data(&store, &params.data, args.platform.quiet).await?;
            let (result, report) = execute(
                &args.platform,
                store,
                ml_inference::DRIVER,
                params.clone(),
                "ml-inference",
                None,
                true,
            )
            .await?;
            print_inference(&args.platform, &result, &report, args.json)
        }
    }
}

/// Runs ml-training with `params`, importing bundled data first if needed.
pub(crate) async fn train(
    args: &PlatformArgs,
    params: &TrainingParams,
    write_report: bool,
) -> Result<(TrainingResult, RunReport)> {
    params.validate().map_err(anyhow::Error::new)?;
    let store = open_store(args)?;
    prepare_data(&store, &params.data, args.quiet).await?;
    prepare_data(&store, &params.test, args.quiet).await?;
    let expected = (3 + params.n_pca + params.n_rf) as u64;
    execute(
        args,
        store,
        ml_training::DRIVER,
        params.clone(),
        "ml-training",
        Some(expected),
        write_report,
    )
    .await
}

pub(crate) fn open_store(args: &PlatformArgs) -> Result<Store> {
    Store::open(&args.store).with_context(|| format!("cannot open the store {}", args.store))
}

/// Imports a bundled dataset into the store if `prefix` names one and is empty.
pub(crate) async fn prepare_data(store: &Store, prefix: &str, quiet: bool) -> Result<()> {
    let imported = images::ensure_bundled(store, prefix)
        .await
        .with_context(|| format!("cannot prepare the dataset '{prefix}'"))?;
    if let (Some(n), false) = (imported, quiet) {
        eprintln!(
            "imported the bundled dataset '{prefix}' ({n} images) into {}",
            store.url()
        );
    }
    Ok(())
}

/// Runs `driver` on a fresh embedded platform; returns its output and the run report.
pub(crate) async fn execute<I: Serialize, O: Serialize + DeserializeOwned>(
    args: &PlatformArgs,
    store: Store,
    driver: FunctionRef<I, O>,
    input: I,
    workflow: &str,
    expected_invocations: Option<u64>,
    write_report: bool,
) -> Result<(O, RunReport)> {
    let trace = args
        .trace
        .as_deref()
        .map(crate::trace::TraceTarget::parse)
        .transpose()?;
    let progress = RunProgress::new(expected_invocations, args.quiet);
    let platform = crate::platform::build(args, store, Some(progress.observer())).await?;
    let options = RunOptions::new(workflow)
        .with_params(serde_json::to_value(&input)?)
        .with_retry(RetryPolicy {
            max_attempts: args.attempts.max(1),
            ..RetryPolicy::default()
        });
    let outcome = faasml_core::run(platform, driver, input, options).await;
    progress.finish();
    let mut report = outcome.report;
    if let Ok(output) = &outcome.output {
        report.result = serde_json::to_value(output)?;
    }
    if let Some(target) = &trace {
        let spans = crate::trace::export(target, &report).await?;
        if !args.quiet {
            eprintln!("trace {}: {spans} spans exported", report.trace_id);
        }
    }
    if write_report {
        let dir = report.write_to_dir(&args.report_dir).with_context(|| {
            format!(
                "cannot write the run report under {}",
                args.report_dir.display()
            )
        })?;
        if !args.quiet {
            eprintln!("report: {}", dir.display());
        }
    }
    match outcome.output {
        Ok(output) => Ok((output, report)),
        Err(e) => {
            if !args.quiet {
                eprintln!("{}", report.stage_table());
            }
            Err(anyhow::Error::new(e).context(format!("{workflow} run {} failed", report.run_id)))
        }
    }
}

fn print_header(args: &PlatformArgs, report: &RunReport) {
    if !args.quiet {
        eprintln!(
            "{} run {} on {} with store {}",
            report.workflow, report.run_id, report.platform, args.store
        );
        eprintln!("{}", report.stage_table());
    }
}

/// Prints `result` as JSON, or the run's header and table followed by `summary`.
fn print_result<T: Serialize>(
    args: &PlatformArgs,
    result: &T,
    report: &RunReport,
    json: bool,
    summary: impl FnOnce(),
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(result)?);
    } else {
        print_header(args, report);
        summary();
    }
    Ok(())
}

fn print_training(
    args: &PlatformArgs,
    params: &TrainingParams,
    result: &TrainingResult,
    report: &RunReport,
    json: bool,
) -> Result<()> {
    print_result(args, result, report, json, || {
        print_training_summary(args, params, result, report)
    })
}

fn print_training_summary(
    args: &PlatformArgs,
    params: &TrainingParams,
    result: &TrainingResult,
    report: &RunReport,
) {
    let (lo, hi) = result
        .forest_accuracy
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &a| (lo.min(a), hi.max(a)));
    println!(
        "accuracy {:.4} on {} test images ('{}'), {} training images, {} forests (alone {:.3}..{:.3})",
        result.accuracy,
        result.n_test,
        params.test,
        result.n_train,
        result.forest_accuracy.len(),
        lo,
        hi
    );
    println!(
        "model published to {} in {}; end to end {:.3} s",
        result.model_key, args.store, report.wall_seconds
    );
}

fn print_inference(
    args: &PlatformArgs,
    result: &InferenceResult,
    report: &RunReport,
    json: bool,
) -> Result<()> {
    print_result(args, result, report, json, || {
        println!(
            "predicted {} images with {}: accuracy {:.4}; predictions in {} ({:.3} s)",
            result.n,
            result.model_key,
            result.accuracy,
            result.predictions_key,
            report.wall_seconds
        );
    })
}
