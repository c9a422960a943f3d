//! The gbdt workflow: gradient-boosted trees trained data-parallel by `W` long-running worker
//! functions, LightGBM's `tree_learner=data` as functions.
//!
//! The driver reads the data's shape (an image set, or CSV/LIBSVM tables), decides the objective
//! and the held-out rows, and starts `W` `gbdt.worker` functions, each with its shard: a
//! contiguous slice of the images, or every `W`-th training row of the tables. The workers agree
//! on bins and starting scores, then sum every histogram through the state store
//! ([`crate::kit::collective`]) and grow the same trees; each ends with the same model, whose digest it
//! reports, and the driver refuses a run whose workers disagree. Rank 0 checkpoints the model
//! after every iteration; a worker that fails is re-invoked by the invoker's retries, reads the
//! checkpoint, recomputes its scores and rejoins at the next iteration, and the run ends with the
//! model it would have had without the fault. The driver measures the model on the held-out
//! rows and publishes it as `models/<name>/gbdt.safetensors`.

mod worker;

use std::str::FromStr;

use faasml_core::{Ctx, FunctionRef, Registry};
use faasml_ml::gbdt::{GbdtParams, Objective};
use serde::{Deserialize, Serialize};

use crate::data::images::ImageSource;
use crate::data::tables::TableSource;
use crate::data::{self, bundled};
use crate::error::{Result, WorkflowError};
use crate::kit::{BenchSpec, Metric, Peer, Workflow, layout, persist};

/// The driver.
pub const DRIVER: FunctionRef<GbdtRunParams, GbdtResult> = FunctionRef::new("gbdt.driver");
/// A long-running worker holding one shard.
pub const WORKER: FunctionRef<WorkerInput, WorkerReport> = FunctionRef::new("gbdt.worker");
/// The published model's file under `models/<name>/`.
pub const MODEL_FILE: &str = "gbdt.safetensors";

/// The gbdt workflow.
#[derive(Debug, Clone, Copy)]
pub struct Gbdt;

/// A failure injected into one worker on its first attempt, at an iteration: `W:IT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectedFailure {
    /// The worker's rank.
    pub worker: usize,
    /// The iteration it fails after.
    pub iteration: usize,
}

impl FromStr for InjectedFailure {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (w, n) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not W:IT (worker:iteration)"))?;
        Ok(Self {
            worker: w.trim().parse().map_err(|e| format!("worker '{w}': {e}"))?,
            iteration: n
                .trim()
                .parse()
                .map_err(|e| format!("iteration '{n}': {e}"))?,
        })
    }
}

impl std::fmt::Display for InjectedFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.worker, self.iteration)
    }
}

/// Parameters of a gbdt run (LightGBM's names and defaults where it has them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(default)]
pub struct GbdtRunParams {
    /// Training data: an image set (`mnist-10k`), or CSV/LIBSVM tables (`tabular/breast_cancer`).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().data))]
    pub data: String,
    /// Held-out data; default: the image family's test set, or `--holdout` of the table's rows.
    #[cfg_attr(feature = "cli", arg(long))]
    pub test: Option<String>,
    /// The target column of CSV tables.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().target))]
    pub target: String,
    /// Share of a table's rows held out when no `--test` is given.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().holdout))]
    pub holdout: f64,
    /// Use at most this many training rows.
    #[cfg_attr(feature = "cli", arg(long))]
    pub limit: Option<usize>,
    /// `binary`, `multiclass`, `regression`, or `auto` (from the labels).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().objective))]
    pub objective: String,
    /// Worker functions, one shard each.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().workers))]
    pub workers: usize,
    /// Boosting iterations.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().iterations))]
    pub iterations: usize,
    /// Most leaves per tree.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().leaves))]
    pub leaves: usize,
    /// Deepest leaf (no limit by default).
    #[cfg_attr(feature = "cli", arg(long))]
    pub max_depth: Option<usize>,
    /// Shrinkage.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().learning_rate))]
    pub learning_rate: f64,
    /// Most bins per feature.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().max_bin))]
    pub max_bin: usize,
    /// Fewest rows in a bin (rarer values share one; 0.0 always has its own).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().min_data_in_bin))]
    pub min_data_in_bin: usize,
    /// Fewest rows in a leaf.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().min_data_in_leaf))]
    pub min_data_in_leaf: usize,
    /// Smallest hessian sum in a leaf.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().min_sum_hessian_in_leaf))]
    pub min_sum_hessian_in_leaf: f64,
    /// L2 penalty on leaf outputs.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().lambda_l2))]
    pub lambda_l2: f64,
    /// Share of features per tree.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().feature_fraction))]
    pub feature_fraction: f64,
    /// Share of rows per bag.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().bagging_fraction))]
    pub bagging_fraction: f64,
    /// New bag every this many iterations (0: no bagging).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().bagging_freq))]
    pub bagging_freq: usize,
    /// Seed of the feature draws, bags and held-out rows.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().seed))]
    pub seed: u64,
    /// The published model's name (default `<family>-gbdt`).
    #[cfg_attr(feature = "cli", arg(long))]
    pub model: Option<String>,
    /// Seconds a worker waits for another's contribution before failing the run.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = GbdtRunParams::default().collective_timeout_s))]
    pub collective_timeout_s: u64,
    /// Make worker W fail once after iteration IT (tests fault tolerance).
    #[cfg_attr(feature = "cli", arg(long, value_name = "W:IT"))]
    pub inject_failure: Option<InjectedFailure>,
}

impl Default for GbdtRunParams {
    fn default() -> Self {
        let p = GbdtParams::default();
        Self {
            data: "mnist-10k".into(),
            test: None,
            target: "target".into(),
            holdout: 0.2,
            limit: None,
            objective: "auto".into(),
            workers: 2,
            iterations: p.n_iterations,
            leaves: p.num_leaves,
            max_depth: None,
            learning_rate: p.learning_rate,
            max_bin: p.max_bin,
            min_data_in_bin: p.min_data_in_bin,
            min_data_in_leaf: p.min_data_in_leaf,
            min_sum_hessian_in_leaf: p.min_sum_hessian_in_leaf,
            lambda_l2: p.lambda_l2,
            feature_fraction: p.feature_fraction,
            bagging_fraction: p.bagging_fraction,
            bagging_freq: p.bagging_freq,
            seed: 0,
            model: None,
            collective_timeout_s: 600,
            inject_failure: None,
        }
    }
}

impl GbdtRunParams {
    /// The booster's settings for `objective`.
    pub fn booster(&self, objective: Objective) -> GbdtParams {
        GbdtParams {
            objective,
            n_iterations: self.iterations,
            num_leaves: self.leaves,
            max_depth: self.max_depth,
            learning_rate: self.learning_rate,
            max_bin: self.max_bin,
            min_data_in_bin: self.min_data_in_bin,
            min_data_in_leaf: self.min_data_in_leaf,
            min_sum_hessian_in_leaf: self.min_sum_hessian_in_leaf,
            lambda_l2: self.lambda_l2,
            min_gain_to_split: 0.0,
            feature_fraction: self.feature_fraction,
            bagging_fraction: self.bagging_fraction,
            bagging_freq: self.bagging_freq,
            seed: self.seed,
        }
    }

    /// The model name: the one given, or `<family>-gbdt`.
    pub fn model_name(&self) -> String {
        data::model_name(&self.data, self.model.as_deref(), "gbdt")
    }

    /// Checks everything that does not need the data.
    pub fn check(&self) -> Result<()> {
        let invalid = |m: String| Err(WorkflowError::InvalidParams(m));
        if self.workers == 0 {
            return invalid("--workers must be at least 1".into());
        }
        if self.workers > 64 {
            return invalid(format!("--workers {} is more than 64", self.workers));
        }
        if !(0.0..0.9).contains(&self.holdout) {
            return invalid(format!(
                "--holdout must be in [0, 0.9), got {}",
                self.holdout
            ));
        }
        if !["auto", "binary", "multiclass", "regression"].contains(&self.objective.as_str()) {
            return invalid(format!(
                "--objective '{}' is not one of auto, binary, multiclass, regression",
                self.objective
            ));
        }
        if self.collective_timeout_s == 0 {
            return invalid("--collective-timeout-s must be at least 1".into());
        }
        if let Some(f) = self.inject_failure
            && f.worker >= self.workers
        {
            return invalid(format!(
                "--inject-failure names worker {} of {}",
                f.worker, self.workers
            ));
        }
        data::check_name("--model", &self.model_name())?;
        // The booster's own checks, with a stand-in objective.
        self.booster(Objective::Binary).check()?;
        Ok(())
    }
}

/// Where a worker's rows come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Shard {
    /// A slice of an image set.
    Images {
        /// The slice.
        sources: Vec<ImageSource>,
    },
    /// Every `of`-th training row of tables, from row `part` (held-out rows skipped).
    Tables {
        /// The tables.
        sources: Vec<TableSource>,
        /// This shard's index.
        part: usize,
        /// The number of shards.
        of: usize,
        /// The held-out share (0 when a test set is given).
        holdout: f64,
        /// Seed of the held-out rows.
        seed: u64,
        /// At most this many training rows in all.
        limit: Option<usize>,
    },
}

/// What a worker is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInput {
    /// The run's parameters.
    pub params: GbdtRunParams,
    /// The objective the driver decided.
    pub objective: ObjectiveSpec,
    /// This worker's rank.
    pub rank: usize,
    /// Its rows.
    pub shard: Shard,
}

/// A serialisable objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectiveSpec {
    /// LightGBM's name.
    pub name: ObjectiveName,
    /// Classes (softmax).
    pub n_classes: usize,
}

/// The objectives by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectiveName {
    /// Squared error.
    Regression,
    /// Log-loss.
    Binary,
    /// Softmax.
    Multiclass,
}

impl ObjectiveSpec {
    /// The booster's objective.
    pub fn objective(self) -> Objective {
        match self.name {
            ObjectiveName::Regression => Objective::Regression,
            ObjectiveName::Binary => Objective::Binary,
            ObjectiveName::Multiclass => Objective::Multiclass {
                n_classes: self.n_classes,
            },
        }
    }
}

/// What one worker did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Its rank.
    pub rank: usize,
    /// Rows in its shard.
    pub rows: usize,
    /// The iteration it started at (0, or where a re-invoked worker rejoined).
    pub started_at: usize,
    /// Seconds computing.
    pub compute_s: f64,
    /// Seconds in collective operations (waiting included).
    pub collective_s: f64,
    /// Bytes it wrote to the state store.
    pub bytes_sent: u64,
    /// Bytes it read from the other workers.
    pub bytes_received: u64,
    /// Collective operations.
    pub operations: u64,
    /// Seconds loading its shard.
    pub load_s: f64,
    /// Seconds from loaded to trained.
    pub train_s: f64,
    /// SHA-256 of the model's bytes (hex).
    pub model_digest: String,
}

/// The outcome of a gbdt run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GbdtResult {
    /// The objective.
    pub objective: String,
    /// Held-out accuracy (classification).
    pub accuracy: Option<f64>,
    /// Held-out log-loss (classification).
    pub logloss: Option<f64>,
    /// Held-out AUC (binary).
    pub auc: Option<f64>,
    /// Held-out RMSE (regression).
    pub rmse: Option<f64>,
    /// Workers.
    pub workers: usize,
    /// Training rows.
    pub n_train: usize,
    /// Held-out rows.
    pub n_test: usize,
    /// Iterations.
    pub iterations: usize,
    /// Trees.
    pub trees: usize,
    /// Seconds from the workers' start to the last one trained (loading excluded).
    pub train_seconds: f64,
    /// Mean seconds per worker computing.
    pub compute_s: f64,
    /// Mean seconds per worker in collective operations.
    pub collective_s: f64,
    /// Mean bytes each worker read from the others per iteration.
    pub bytes_per_iteration: f64,
    /// Workers that were re-invoked and rejoined.
    pub rejoined: usize,
    /// The digest every worker's model has.
    pub model_digest: String,
    /// Where the model was published.
    pub model_key: String,
    /// Per worker.
    pub worker_reports: Vec<WorkerReport>,
}

impl Workflow for Gbdt {
    const NAME: &'static str = "gbdt";
    const ABOUT: &'static str = "Gradient-boosted trees, data-parallel: workers hold shards and \
                                 all-reduce histograms through the state store.";
    type Params = GbdtRunParams;
    type Output = GbdtResult;
    const DRIVER: FunctionRef<GbdtRunParams, GbdtResult> = DRIVER;

    async fn drive(params: GbdtRunParams, ctx: Ctx) -> Result<GbdtResult> {
        driver(params, ctx).await
    }

    fn register(registry: &mut Registry) {
        registry
            .register(WORKER, |input: WorkerInput, ctx: Ctx| async move {
                worker::run(input, ctx).await
            })
            .long_running();
    }

    fn resolve(params: &mut GbdtRunParams) {
        params.data = data::clean_prefix(&params.data);
        params.test = params.test.as_deref().map(data::clean_prefix);
        params.model = Some(params.model_name());
    }

    fn validate(params: &GbdtRunParams) -> Result<()> {
        params.check()
    }

    fn datasets(params: &GbdtRunParams) -> Vec<String> {
        let mut d = vec![params.data.clone()];
        if let Some(t) = &params.test {
            d.push(t.clone());
        } else if is_image_set(&params.data) {
            d.push(data::test_set_for(&params.data));
        }
        d
    }

    fn model(params: &GbdtRunParams) -> Option<String> {
        Some(params.model_name())
    }

    fn expected_invocations(params: &GbdtRunParams) -> Option<u64> {
        Some(1 + params.workers as u64)
    }

    fn min_concurrency(params: &GbdtRunParams) -> usize {
        params.workers + 1
    }

    fn shared_state() -> bool {
        true
    }

    fn summary(params: &GbdtRunParams, r: &GbdtResult) -> String {
        let mut s = format!(
            "gbdt ({}): {} worker(s), {} iterations x {} leaves, {} training rows, {} held out\n",
            r.objective, r.workers, r.iterations, params.leaves, r.n_train, r.n_test
        );
        let fig = |name: &str, v: Option<f64>| v.map(|v| format!("{name} {v:.4}"));
        let figs: Vec<String> = [
            fig("accuracy", r.accuracy),
            fig("log-loss", r.logloss),
            fig("AUC", r.auc),
            fig("RMSE", r.rmse),
        ]
        .into_iter()
        .flatten()
        .collect();
        s += &format!("held out: {}\n", figs.join(", "));
        s += &format!(
            "training {:.2} s per worker: compute {:.2} s, allreduce {:.2} s; {} read per worker per \
             iteration; {} worker(s) rejoined\n",
            r.train_seconds,
            r.compute_s,
            r.collective_s,
            faasml_core::human_bytes(r.bytes_per_iteration as u64),
            r.rejoined
        );
        s += &format!(
            "every worker's model: sha256 {}; published {}",
            &r.model_digest[..16.min(r.model_digest.len())],
            r.model_key
        );
        s
    }

    fn bench() -> BenchSpec<GbdtResult> {
        BenchSpec {
            axes: vec![("workers", "1,2,4"), ("data", "mnist-2k,mnist-10k")],
            fixed: vec![("iterations", "100"), ("model", "bench-gbdt")],
            repeats: 1,
            primary: "train_seconds",
            metrics: vec![
                Metric {
                    name: "train_seconds",
                    unit: "s",
                    value: |r| Some(r.train_seconds),
                },
                Metric {
                    name: "collective_s",
                    unit: "s",
                    value: |r| Some(r.collective_s),
                },
                Metric {
                    name: "bytes_per_iteration",
                    unit: "B",
                    value: |r| Some(r.bytes_per_iteration),
                },
                Metric {
                    name: "accuracy",
                    unit: "",
                    value: |r| r.accuracy,
                },
            ],
            peers: vec![Peer {
                name: "lightgbm",
                needs: "python3 with numpy and lightgbm 4.7.0 (bench/peers-install.sh)",
                probe: &["python3", "-c", "import numpy, lightgbm"],
                command: lightgbm_command,
                parse: lightgbm_parse,
            }],
            ..BenchSpec::basic()
        }
    }
}

/// LightGBM on the same MNIST rows and settings: one process with as many threads as faasml's
/// workers (at most 2), or its own data-parallel mode for 2 workers.
fn lightgbm_command(params: &serde_json::Value) -> Option<Vec<String>> {
    let rows = match data::family_member(params.get("data")?.as_str()?)? {
        ("mnist", Some(limit)) => limit,
        ("mnist", None) => 60_000,
        _ => return None,
    };
    let number = |key: &str| params.get(key).and_then(serde_json::Value::as_u64);
    let threads = number("workers")?.clamp(1, 2);
    Some(vec![
        "python3".into(),
        "{bench}/gbdt_lightgbm.py".into(),
        "--train-rows".into(),
        rows.to_string(),
        "--iterations".into(),
        number("iterations")?.to_string(),
        "--leaves".into(),
        number("leaves")?.to_string(),
        "--threads".into(),
        threads.to_string(),
        "--mode".into(),
        "single".into(),
        "--repeats".into(),
        "1".into(),
    ])
}

/// Reads the peer's JSON line: its fit time (binning included) and test accuracy.
fn lightgbm_parse(stdout: &str) -> Vec<(&'static str, f64)> {
    let Some(v) = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(fit) = v.get("fit_s").and_then(serde_json::Value::as_f64) {
        out.push(("train_seconds", fit));
    }
    if let Some(acc) = v.get("accuracy").and_then(serde_json::Value::as_f64) {
        out.push(("accuracy", acc));
    }
    out
}

/// Whether `prefix` names a bundled image set.
fn is_image_set(prefix: &str) -> bool {
    matches!(bundled::lookup(prefix), Some(bundled::Bundled::Images(_)))
}

async fn driver(params: GbdtRunParams, ctx: Ctx) -> Result<GbdtResult> {
    let plan = worker::plan(&params, &ctx).await?;
    let inputs: Vec<WorkerInput> = plan
        .shards
        .iter()
        .enumerate()
        .map(|(rank, shard)| WorkerInput {
            params: params.clone(),
            objective: plan.objective,
            rank,
            shard: shard.clone(),
        })
        .collect();
    let reports = ctx.map(WORKER, inputs).await?;
    let digest = reports[0].model_digest.clone();
    if let Some(r) = reports.iter().find(|r| r.model_digest != digest) {
        return Err(WorkflowError::Coordination(format!(
            "worker {} ended with model {} but worker 0 with {}: the shards diverged",
            r.rank, r.model_digest, digest
        )));
    }
    let scratch = layout::Scratch::of_run(ctx.run_id());
    let model: faasml_ml::gbdt::GbdtModel =
        persist::load(ctx.store(), &scratch.key(worker::MODEL_SCRATCH)).await?;
    let test = plan.test;
    let metrics = ctx
        .compute(move || test.evaluate(&model).map(|m| (m, model)))
        .await
        .map_err(WorkflowError::Compute)??;
    let (m, model) = metrics;
    let model_key = layout::model_key(&params.model_name(), MODEL_FILE);
    persist::put(
        ctx.store(),
        &model_key,
        faasml_ml::Persist::to_tensors(&model),
    )
    .await?;
    let w = reports.len() as f64;
    let mean = |f: fn(&WorkerReport) -> f64| reports.iter().map(f).sum::<f64>() / w;
    let iterations = model.n_iterations();
    Ok(GbdtResult {
        objective: plan.objective.objective().name().to_string(),
        accuracy: m.accuracy,
        logloss: m.logloss,
        auc: m.auc,
        rmse: m.rmse,
        workers: reports.len(),
        n_train: reports.iter().map(|r| r.rows).sum(),
        n_test: plan.n_test,
        iterations,
        trees: model.trees().len(),
        train_seconds: reports.iter().map(|r| r.train_s).fold(0.0, f64::max),
        compute_s: mean(|r| r.compute_s),
        collective_s: mean(|r| r.collective_s),
        bytes_per_iteration: mean(|r| r.bytes_received as f64) / iterations.max(1) as f64,
        rejoined: reports.iter().filter(|r| r.started_at > 0).count(),
        model_digest: digest,
        model_key: model_key.to_string(),
        worker_reports: reports,
    })
}
