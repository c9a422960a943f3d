//! The `mllib` workflow: Spark MLlib's examples with Spark's settings and outputs,
//! data-parallel over `W` worker functions.
//!
//! `faasml run mllib --example kmeans|linear-regression|random-forest|gbt --workers W` reads
//! the example's Spark sample (`libsvm/sample_kmeans_data`,
//! `libsvm/sample_linear_regression_data`, `libsvm/sample_libsvm_data`, imported on first use) or any LIBSVM/CSV table (`--data`), and
//! runs the example the way Spark's driver and executors share it:
//!
//! - **kmeans** (k 2, seed 1, maxIter 20, tol 1e-4): the driver shards the rows into `W`
//!   contiguous parts, stores each once, and seeds the centres (k-means++ over the rows it
//!   read); every Lloyd step invokes the `W` workers, each returning its shard's per-cluster
//!   sums, counts and cost, which the driver adds and moves the centres by. Two more rounds
//!   give the WSSSE and Spark's squared-Euclidean silhouette (per-cluster sums, then per-row
//!   silhouettes against them).
//! - **linear-regression** (regParam 0.3, elasticNetParam 0.8, maxIter 10): one round; each
//!   worker returns its shard's sufficient statistics (`n`, `Σx`, `Σy`, `XᵀX`, `Xᵀy`, `Σy²`),
//!   the driver adds them, fits by coordinate descent on the Gram matrix and reports the
//!   training RMSE and r2 from the same statistics.
//! - **random-forest** (10 trees, `VectorIndexer(maxCategories=4)`, a 70/30 split): the
//!   driver finds the categorical features, splits the rows and ranks the categories (Breiman's
//!   order); each worker trains its share of the trees on the whole training split — tree `t`
//!   seeded by `t`, so the forest does not depend on `W` — and the driver scores the assembled
//!   forest on the test rows.
//! - **gbt** (`GBTClassifierExample`: maxIter 10, maxDepth 5, stepSize 0.1, the same seeded
//!   70/30 split as the random forest): the driver shards the training rows over `W`
//!   long-running `mllib.gbt` workers ([`gbt`]), which fit the gradient-boosted trees
//!   data-parallel through the state store and each return the model's digest; rank 0 stores
//!   the model in the run's scratch, and the driver, once every digest agrees, scores it on the
//!   test rows. Features are ordinal: the example's `VectorIndexer` categorical handling is not
//!   applied for GBT.
//!
//! The figures are Spark's (see `faasml_ml::mllib`): WSSSE 0.12 and silhouette 0.999753;
//! RMSE 10.189077 and r2 0.022861; a test error of 0 (Spark prints 0.0 for its own split).

pub mod gbt;
pub mod worker;

use std::time::Instant;

use faasml_core::{Ctx, FunctionRef, Registry};
use faasml_ml::Persist as _;
use faasml_ml::forest::RandomForest;
use faasml_ml::gbdt::{Features, GbdtModel};
use faasml_ml::mllib::{
    ClusterStats, ForestExample, KMeans, LinearRegression, LloydSums, Rows, SilhouetteSum,
    SufficientStats, class_labels, random_split, test_error,
};
use serde::{Deserialize, Serialize};

use crate::data::{self, tables};
use crate::error::{Result, WorkflowError};
use crate::kit::layout::Scratch;
use crate::kit::transfer::{Transfer, TransferMode};
use crate::kit::{BenchSpec, Metric, Workflow, limits, persist};
pub use gbt::{GbtReport, GbtTask};
pub use worker::{Partial, Shard, Task, WorkerOutput};

/// The driver.
pub const DRIVER: FunctionRef<MllibParams, MllibResult> = FunctionRef::new("mllib.driver");
/// One function's share of an example.
pub const WORKER: FunctionRef<Task, WorkerOutput> = FunctionRef::new("mllib.worker");
/// One long-running worker of the gradient-boosted trees.
pub const GBT: FunctionRef<GbtTask, GbtReport> = FunctionRef::new("mllib.gbt");

/// Which of Spark's examples to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Example {
    /// KMeansExample: k 2, seed 1; WSSSE and silhouette.
    #[default]
    Kmeans,
    /// LinearRegressionWithElasticNetExample: regParam 0.3, elasticNetParam 0.8, maxIter 10;
    /// training RMSE and r2.
    LinearRegression,
    /// RandomForestClassifierExample: 10 trees, maxCategories 4, a 70/30 split; test error.
    RandomForest,
    /// GBTClassifierExample: maxIter 10, maxDepth 5, stepSize 0.1, a 70/30 split; test error
    /// (features ordinal: no VectorIndexer).
    Gbt,
}

impl Example {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kmeans => "kmeans",
            Self::LinearRegression => "linear-regression",
            Self::RandomForest => "random-forest",
            Self::Gbt => "gbt",
        }
    }

    /// Spark's sample data for the example, a bundled data prefix.
    pub fn default_data(self) -> &'static str {
        match self {
            Self::Kmeans => "libsvm/sample_kmeans_data",
            Self::LinearRegression => "libsvm/sample_linear_regression_data",
            Self::RandomForest | Self::Gbt => "libsvm/sample_libsvm_data",
        }
    }
}

/// The parameters of an `mllib` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(default)]
pub struct MllibParams {
    /// Which of Spark's examples to run.
    #[cfg_attr(feature = "cli", arg(long, value_enum, default_value_t = Example::default()))]
    pub example: Example,
    /// Worker functions the rows (or, for the random forest, the trees; for gbt, the
    /// training rows) are shared among.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = MllibParams::default().workers))]
    pub workers: usize,
    /// Prefix of a table in the store (LIBSVM, or CSV with --target); default: the example's
    /// Spark sample (libsvm/sample_kmeans_data, libsvm/sample_linear_regression_data,
    /// libsvm/sample_libsvm_data), imported on first use.
    #[cfg_attr(feature = "cli", arg(long))]
    pub data: Option<String>,
    /// Target column of a CSV table.
    #[cfg_attr(feature = "cli", arg(long))]
    pub target: Option<String>,
    /// How the shards reach the workers: inside the payloads, through the object store, or
    /// through the state store (--state).
    #[cfg_attr(feature = "cli", arg(long, value_enum, default_value_t = TransferMode::default()))]
    pub transfer: TransferMode,
}

impl Default for MllibParams {
    /// k-means on Spark's sample over 2 workers, shards through the object store.
    fn default() -> Self {
        Self {
            example: Example::Kmeans,
            workers: 2,
            data: None,
            target: None,
            transfer: TransferMode::Store,
        }
    }
}

impl MllibParams {
    /// The data prefix: the one given, or the example's Spark sample.
    pub fn data_prefix(&self) -> String {
        self.data
            .clone()
            .unwrap_or_else(|| self.example.default_data().to_string())
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.workers == 0 {
            return Err(WorkflowError::InvalidParams(
                "--workers must be at least 1".into(),
            ));
        }
        limits::at_most("workers", self.workers, limits::WORKERS)?;
        if data::clean_prefix(&self.data_prefix()).is_empty() {
            return Err(WorkflowError::InvalidParams(
                "--data must not be empty".into(),
            ));
        }
        if self.example == Example::RandomForest {
            let trees = ForestExample::params().n_trees;
            if self.workers > trees {
                return Err(WorkflowError::InvalidParams(format!(
                    "--workers {} is more than the forest's {trees} trees: each worker trains \
                     a share of the trees",
                    self.workers
                )));
            }
        }
        Ok(())
    }
}

/// k-means figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansFigures {
    /// Within-cluster sum of squared errors under the final centres.
    pub wssse: f64,
    /// Spark's squared-Euclidean silhouette.
    pub silhouette: f64,
    /// Lloyd steps taken.
    pub iterations: usize,
    /// The centres, one row each.
    pub centers: Vec<Vec<f64>>,
}

/// Linear regression figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearFigures {
    /// Training root mean squared error.
    pub rmse: f64,
    /// Training r2.
    pub r2: f64,
    /// The coefficients.
    pub coefficients: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
    /// Epochs of coordinate descent.
    pub epochs: usize,
    /// Whether coordinate descent converged within Spark's maxIter (10) epochs.
    pub converged: bool,
}

/// Random forest figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestFigures {
    /// Share of the test rows misclassified.
    pub test_error: f64,
    /// Training rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// Trees.
    pub trees: usize,
    /// Features found categorical.
    pub categorical: usize,
}

/// Gradient-boosted trees figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbtFigures {
    /// Share of the test rows misclassified.
    pub test_error: f64,
    /// Training rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// Boosting iterations (one tree each).
    pub iterations: usize,
    /// SHA-256 of the model every worker ended with.
    pub model_digest: String,
}

/// What an `mllib` run produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MllibResult {
    /// The example.
    pub example: Example,
    /// The data prefix.
    pub data: String,
    /// Worker functions.
    pub workers: usize,
    /// Rows read.
    pub rows: usize,
    /// Features per row.
    pub features: usize,
    /// Seconds reading the data and handing the shards out.
    pub data_s: f64,
    /// Seconds from the first worker invoked to the fitted model (and, for the forest, the
    /// scored test rows): the fit time.
    pub fit_s: f64,
    /// The workers' seconds of computing, summed.
    pub workers_compute_s: f64,
    /// Worker invocations.
    pub invocations: usize,
    /// k-means figures.
    pub kmeans: Option<KMeansFigures>,
    /// Linear regression figures.
    pub linear_regression: Option<LinearFigures>,
    /// Random forest figures.
    pub random_forest: Option<ForestFigures>,
    /// Gradient-boosted trees figures.
    #[serde(default)]
    pub gbt: Option<GbtFigures>,
}

/// The `mllib` workflow.
#[derive(Debug, Clone, Copy)]
pub struct Mllib;

impl Workflow for Mllib {
    const NAME: &'static str = "mllib";
    const ABOUT: &'static str = "Spark MLlib's examples (k-means, elastic-net linear regression, \
                                 random forest, gradient-boosted trees) with Spark's settings and outputs, over W \
                                 worker functions.";
    type Params = MllibParams;
    type Output = MllibResult;
    const DRIVER: FunctionRef<MllibParams, MllibResult> = DRIVER;

    async fn drive(params: MllibParams, ctx: Ctx) -> Result<MllibResult> {
        drive(&params, &ctx).await
    }

    fn register(registry: &mut Registry) {
        registry.register(WORKER, worker::run);
        registry.register(GBT, gbt::run).long_running();
    }

    fn resolve(params: &mut MllibParams) {
        params.data = Some(data::clean_prefix(&params.data_prefix()));
    }

    fn validate(params: &MllibParams) -> Result<()> {
        params.check()
    }

    fn datasets(params: &MllibParams) -> Vec<String> {
        vec![params.data_prefix()]
    }

    fn min_concurrency(params: &MllibParams) -> usize {
        // The gbt workers wait for each other, the driver for them.
        if params.example == Example::Gbt {
            params.workers + 1
        } else {
            1
        }
    }

    fn shared_state() -> bool {
        // The gbt workers all-reduce through the state store.
        true
    }

    fn summary(_params: &MllibParams, r: &MllibResult) -> String {
        let mut out = match (&r.kmeans, &r.linear_regression, &r.random_forest) {
            (Some(k), _, _) => format!(
                "k-means: WSSSE {:.6}, silhouette (squared Euclidean) {:.6} after {} steps",
                k.wssse, k.silhouette, k.iterations
            ),
            (_, Some(l), _) => format!(
                "linear regression: training RMSE {:.6}, r2 {:.6} ({} epochs of coordinate \
                 descent)",
                l.rmse, l.r2, l.epochs
            ),
            (_, _, Some(f)) => format!(
                "random forest: test error {:.4} on {} test rows ({} training rows, {} trees, \
                 {} categorical features)",
                f.test_error, f.n_test, f.n_train, f.trees, f.categorical
            ),
            _ => match &r.gbt {
                Some(g) => format!(
                    "gradient-boosted trees: test error {:.4} on {} test rows ({} training \
                     rows, {} iterations, model {})",
                    g.test_error,
                    g.n_test,
                    g.n_train,
                    g.iterations,
                    &g.model_digest[..16.min(g.model_digest.len())]
                ),
                None => String::new(),
            },
        };
        out.push_str(&format!(
            "\ndata: {}, {} rows x {} features; {} workers, {} invocations: data {:.3} s, fit \
             {:.3} s ({:.3} s computing, summed over workers)",
            r.data,
            r.rows,
            r.features,
            r.workers,
            r.invocations,
            r.data_s,
            r.fit_s,
            r.workers_compute_s
        ));
        out
    }

    fn warnings(r: &MllibResult) -> Vec<String> {
        match &r.linear_regression {
            Some(l) if !l.converged => vec![format!(
                "coordinate descent stopped after Spark's maxIter of {} epochs before its \
                 duality gap fell below 1e-12: the figures are those of the last epoch",
                l.epochs
            )],
            _ => Vec::new(),
        }
    }

    fn bench() -> BenchSpec<MllibResult> {
        BenchSpec {
            axes: vec![
                ("example", "kmeans,linear-regression,random-forest,gbt"),
                ("workers", "1,2,4"),
            ],
            metrics: vec![Metric {
                name: "fit_s",
                unit: "s",
                value: |r| Some(r.fit_s),
            }],
            ..BenchSpec::basic()
        }
    }
}

/// Bookkeeping of the worker rounds.
#[derive(Default)]
struct Rounds {
    invocations: usize,
    compute_s: f64,
}

impl Rounds {
    /// Invokes the workers on `tasks` and returns their partial results.
    async fn run(&mut self, ctx: &Ctx, tasks: Vec<Task>) -> Result<Vec<Partial>> {
        self.invocations += tasks.len();
        let outputs = ctx.map(WORKER, tasks).await?;
        self.compute_s += outputs.iter().map(|o| o.compute_s).sum::<f64>();
        Ok(outputs.into_iter().map(|o| o.partial).collect())
    }
}

fn unexpected(what: &str) -> WorkflowError {
    WorkflowError::Coordination(format!(
        "a worker answered a {what} task with another result"
    ))
}

async fn drive(params: &MllibParams, ctx: &Ctx) -> Result<MllibResult> {
    let started = Instant::now();
    let prefix = params.data_prefix();
    let sources = tables::list(ctx.store(), &prefix, params.target.as_deref()).await?;
    let table = tables::load_f64(ctx.store(), &sources).await?;
    let (n, d) = (table.n_rows, table.n_cols);
    if n == 0 || d == 0 {
        return Err(WorkflowError::InvalidParams(format!(
            "'{prefix}' holds {n} rows of {d} features: nothing to fit"
        )));
    }
    let x = Rows::new(n, d, table.features)?;
    let y = table.labels;
    let mut result = MllibResult {
        example: params.example,
        data: prefix.clone(),
        workers: params.workers,
        rows: n,
        features: d,
        data_s: 0.0,
        fit_s: 0.0,
        workers_compute_s: 0.0,
        invocations: 0,
        kmeans: None,
        linear_regression: None,
        random_forest: None,
        gbt: None,
    };
    let scratch = Scratch::of_run(ctx.run_id());
    let mut rounds = Rounds::default();
    match params.example {
        Example::Kmeans | Example::LinearRegression => {
            if params.workers > n {
                return Err(WorkflowError::InvalidParams(format!(
                    "--workers {} is more than the {n} rows of '{prefix}': every worker needs \
                     a shard of at least one row",
                    params.workers
                )));
            }
            let mut shards = Vec::with_capacity(params.workers);
            for (i, range) in x.shard_ranges(params.workers)?.into_iter().enumerate() {
                let shard = Shard {
                    y: y[range.clone()].to_vec(),
                    x: x.slice(range)?,
                };
                let key = scratch.key(&format!("mllib/shard-{i}.json"));
                shards.push(Transfer::send(ctx, params.transfer, key, shard).await?);
            }
            result.data_s = started.elapsed().as_secs_f64();
            let started = Instant::now();
            if params.example == Example::Kmeans {
                result.kmeans = Some(kmeans(ctx, &x, &shards, &mut rounds).await?);
            } else {
                result.linear_regression =
                    Some(linear_regression(ctx, &shards, &mut rounds).await?);
            }
            result.fit_s = started.elapsed().as_secs_f64();
        }
        Example::RandomForest => {
            let (labels, n_classes) = class_labels(&y).map_err(|e| {
                WorkflowError::InvalidParams(format!("'{prefix}' cannot train a classifier: {e}"))
            })?;
            let p = ForestExample::params();
            let example = p.clone().check()?;
            let split = example.prepare(&x, &labels, n_classes)?;
            let categorical = split.categorical.len();
            let key = scratch.key("mllib/split.json");
            let shared = Transfer::send(ctx, params.transfer, key, split.clone()).await?;
            result.data_s = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let ranges = tree_ranges(p.n_trees, params.workers);
            let tasks = ranges
                .iter()
                .map(|r| Task::Trees {
                    split: shared.clone(),
                    params: p.clone(),
                    from: r.start,
                    to: r.end,
                })
                .collect();
            let mut parts = Vec::with_capacity(ranges.len());
            for partial in rounds.run(ctx, tasks).await? {
                let Partial::Trees { forest } = partial else {
                    return Err(unexpected("trees"));
                };
                let tensors = persist::from_bytes(&forest.0, "a worker's forest")?;
                parts.push(RandomForest::from_tensors(&tensors)?);
            }
            let forest = RandomForest::concat(parts)?;
            let error = test_error(&forest, &split.test_x, &split.test_y)?;
            result.fit_s = started.elapsed().as_secs_f64();
            result.random_forest = Some(ForestFigures {
                test_error: error,
                n_train: split.train_y.len(),
                n_test: split.test_y.len(),
                trees: forest.n_trees(),
                categorical,
            });
        }
        Example::Gbt => {
            let figures =
                gbt_example(params, ctx, (&x, &y), started, &mut result, &mut rounds).await?;
            result.gbt = Some(figures);
        }
    }
    result.invocations = rounds.invocations;
    result.workers_compute_s = rounds.compute_s;
    Ok(result)
}

/// Spark's GBTClassifierExample: the random forest's seeded 70/30 split, the training rows
/// sharded over the `mllib.gbt` workers, the agreed model scored on the test rows. Sets the
/// result's `data_s` and `fit_s` (timed from the driver's start, `started`), and counts the
/// workers in `rounds`.
async fn gbt_example(
    params: &MllibParams,
    ctx: &Ctx,
    (x, y): (&Rows, &[f64]),
    started: Instant,
    result: &mut MllibResult,
    rounds: &mut Rounds,
) -> Result<GbtFigures> {
    let prefix = params.data_prefix();
    let (labels, n_classes) = class_labels(y).map_err(|e| {
        WorkflowError::InvalidParams(format!("'{prefix}' cannot train a classifier: {e}"))
    })?;
    if n_classes != 2 {
        return Err(WorkflowError::InvalidParams(format!(
            "'{prefix}' has {n_classes} classes: Spark's GBTClassifier takes binary labels 0 \
             and 1 only"
        )));
    }
    let p = ForestExample::params();
    let (train, test) = random_split(x.n(), p.train_fraction, p.seed)?;
    if train.is_empty() || test.is_empty() {
        return Err(WorkflowError::InvalidParams(format!(
            "the 70/30 split of the {} rows of '{prefix}' left one side empty",
            x.n()
        )));
    }
    if params.workers > train.len() {
        return Err(WorkflowError::InvalidParams(format!(
            "--workers {} is more than the {} training rows of '{prefix}': every worker needs \
             a shard of at least one row",
            params.workers,
            train.len()
        )));
    }
    let (train_x, test_x) = (x.select(&train)?, x.select(&test)?);
    let train_y: Vec<f64> = train.iter().map(|&i| f64::from(labels[i])).collect();
    let test_y: Vec<u32> = test.iter().map(|&i| labels[i]).collect();
    let scratch = Scratch::of_run(ctx.run_id());
    let mut tasks = Vec::with_capacity(params.workers);
    for (rank, range) in train_x
        .shard_ranges(params.workers)?
        .into_iter()
        .enumerate()
    {
        let shard = Shard {
            y: train_y[range.clone()].to_vec(),
            x: train_x.slice(range)?,
        };
        let key = scratch.key(&format!("mllib/gbt-shard-{rank}.json"));
        tasks.push(GbtTask {
            shard: Transfer::send(ctx, params.transfer, key, shard).await?,
            rank,
            workers: params.workers,
        });
    }
    result.data_s = started.elapsed().as_secs_f64();
    let fitting = Instant::now();
    rounds.invocations += tasks.len();
    let reports = ctx.map(GBT, tasks).await?;
    rounds.compute_s += reports.iter().map(|r| r.compute_s).sum::<f64>();
    let digest = reports
        .first()
        .map(|r| r.model_digest.clone())
        .ok_or_else(|| WorkflowError::Coordination("no gbt worker answered".into()))?;
    if let Some(r) = reports.iter().find(|r| r.model_digest != digest) {
        return Err(WorkflowError::Coordination(format!(
            "gbt worker {} ended with model {} but worker 0 with {}: the shards diverged",
            r.rank, r.model_digest, digest
        )));
    }
    let model: GbdtModel = persist::load(ctx.store(), &scratch.key(gbt::MODEL_SCRATCH)).await?;
    let test_m = test_x.to_matrix()?;
    let scores = model.predict_raw(Features::Dense(test_m.view()))?;
    let wrong = scores
        .iter()
        .zip(&test_y)
        .filter(|&(&s, &label)| u32::from(s > 0.0) != label)
        .count();
    result.fit_s = fitting.elapsed().as_secs_f64();
    Ok(GbtFigures {
        test_error: wrong as f64 / test_y.len() as f64,
        n_train: train.len(),
        n_test: test.len(),
        iterations: model.n_iterations(),
        model_digest: digest,
    })
}

/// `n_trees` split into `workers` consecutive ranges of near-equal size.
fn tree_ranges(n_trees: usize, workers: usize) -> Vec<std::ops::Range<usize>> {
    let workers = workers.clamp(1, n_trees.max(1));
    let (base, extra) = (n_trees / workers, n_trees % workers);
    let mut start = 0;
    (0..workers)
        .map(|w| {
            let len = base + usize::from(w < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

async fn kmeans(
    ctx: &Ctx,
    x: &Rows,
    shards: &[Transfer<Shard>],
    rounds: &mut Rounds,
) -> Result<KMeansFigures> {
    let p = KMeans::params().check()?;
    let (k, d) = (p.params().k, x.d());
    let mut centers = p.init(x)?;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < p.params().max_iter && !converged {
        let tasks = shards
            .iter()
            .map(|shard| Task::Lloyd {
                shard: shard.clone(),
                centers: centers.clone(),
            })
            .collect();
        let mut total = LloydSums::zeros(k, d);
        for partial in rounds.run(ctx, tasks).await? {
            let Partial::Lloyd { sums } = partial else {
                return Err(unexpected("Lloyd"));
            };
            total.merge(&sums)?;
        }
        (centers, converged) = p.step(&centers, &total)?;
        iterations += 1;
    }
    let tasks = shards
        .iter()
        .map(|shard| Task::Clusters {
            shard: shard.clone(),
            centers: centers.clone(),
        })
        .collect();
    let (mut cost, mut stats) = (LloydSums::zeros(k, d), ClusterStats::zeros(k, d));
    for partial in rounds.run(ctx, tasks).await? {
        let Partial::Clusters { sums, stats: s } = partial else {
            return Err(unexpected("clusters"));
        };
        cost.merge(&sums)?;
        stats.merge(&s)?;
    }
    let tasks = shards
        .iter()
        .map(|shard| Task::Silhouette {
            shard: shard.clone(),
            centers: centers.clone(),
            stats: stats.clone(),
        })
        .collect();
    let mut silhouette = SilhouetteSum::default();
    for partial in rounds.run(ctx, tasks).await? {
        let Partial::Silhouette { sum } = partial else {
            return Err(unexpected("silhouette"));
        };
        silhouette.merge(sum);
    }
    Ok(KMeansFigures {
        wssse: cost.cost(),
        silhouette: silhouette.value(),
        iterations,
        centers: (0..k).map(|j| centers.center(j).to_vec()).collect(),
    })
}

async fn linear_regression(
    ctx: &Ctx,
    shards: &[Transfer<Shard>],
    rounds: &mut Rounds,
) -> Result<LinearFigures> {
    let p = LinearRegression::params()
        .reg_param(0.3)
        .elastic_net_param(0.8)
        .max_iter(10)
        .check()?;
    let tasks = shards
        .iter()
        .map(|shard| Task::Stats {
            shard: shard.clone(),
        })
        .collect();
    let mut total: Option<SufficientStats> = None;
    for partial in rounds.run(ctx, tasks).await? {
        let Partial::Stats { stats } = partial else {
            return Err(unexpected("statistics"));
        };
        match &mut total {
            None => total = Some(stats),
            Some(t) => t.merge(&stats)?,
        }
    }
    let total = total.ok_or_else(|| WorkflowError::Coordination("no worker answered".into()))?;
    let model = p.fit_stats(&total)?;
    let summary = model.summary(&total)?;
    Ok(LinearFigures {
        rmse: summary.rmse,
        r2: summary.r2,
        coefficients: model.coef().to_vec(),
        intercept: model.intercept(),
        epochs: model.n_iter(),
        converged: model.converged(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_fail_with_one_clear_message() {
        let err = |p: MllibParams| p.check().unwrap_err().to_string();
        assert!(
            err(MllibParams {
                workers: 0,
                ..MllibParams::default()
            })
            .contains("--workers")
        );
        assert!(
            err(MllibParams {
                example: Example::RandomForest,
                workers: 11,
                ..MllibParams::default()
            })
            .contains("10 trees")
        );
        assert!(MllibParams::default().check().is_ok());
        assert_eq!(
            MllibParams::default().data_prefix(),
            "libsvm/sample_kmeans_data"
        );
    }

    #[test]
    fn tree_ranges_cover_the_trees_in_order() {
        assert_eq!(tree_ranges(10, 3), vec![0..4, 4..7, 7..10]);
        assert_eq!(tree_ranges(10, 1), vec![0..10]);
        assert_eq!(tree_ranges(10, 10).len(), 10);
    }
}
