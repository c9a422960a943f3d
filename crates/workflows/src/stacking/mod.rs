//! The stacking workflow: `driver -> N x trainer -> reducer -> metatrainer`, vSwarm's
//! stacking-training benchmark done correctly on every platform.
//!
//! - the driver makes the seed's synthetic data (scikit-learn's `make_classification` process,
//!   300 x 1024, 90/10 classes, 10% label noise) or reads a table from the store, makes its
//!   target binary, holds out a stratified test split, and hands the rows to the trainers;
//! - trainer `i` fits base model `i mod M` of the models list (the seed's LinearSVR, Lasso,
//!   random-forest regressor and k-nearest neighbours by default): 5-fold out-of-fold
//!   predictions as scikit-learn's `cross_val_predict`, then a fit on all training rows and
//!   its predictions for the held-out rows;
//! - the reducer stacks the out-of-fold predictions into an n x N meta-feature matrix;
//! - the metatrainer fits the meta-model (logistic regression) out of fold for the run's
//!   ROC-AUC, then on all rows, scores the held-out rows, and publishes the stacked model
//!   (base models + meta-model, one object) under `models/<name>/`.
//!
//! Bulk data (rows, predictions, fitted base models) travels as `--transfer` says: inline in the
//! payloads, through the object store or through the state store ([`crate::kit::transfer`]).
//! Inline data larger than the platform's payload limit fails before any trainer is invoked.
//! [`inference`] holds the `stacking-inference` workflow, which scores a table with a published
//! stacked model.

pub mod inference;
pub mod metatrainer;
pub mod models;
pub mod reducer;
pub mod stacked;
pub mod table;
pub mod trainer;

use std::time::Instant;

use faasml_core::{Ctx, FunctionRef, Registry};
use faasml_ml::{Algorithm, Persist as _};
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use crate::data::{self, tables};
use crate::error::{Result, WorkflowError};
use crate::kit::layout::{Scratch, model_key};
use crate::kit::transfer::{Transfer, TransferMode};
use crate::kit::{BenchSpec, Metric, Peer, Workflow, limits, persist};
pub use metatrainer::{MetatrainerInput, MetatrainerOutput};
pub use reducer::{Labels, ReducerInput, ReducerOutput};
pub use stacked::StackedModel;
pub use table::LabelledRows;
pub use trainer::{TrainerInput, TrainerOutput};

/// The driver.
pub const DRIVER: FunctionRef<StackingParams, StackingResult> = FunctionRef::new("stacking.driver");
/// Fits one base model.
pub const TRAINER: FunctionRef<TrainerInput, TrainerOutput> = FunctionRef::new("stacking.trainer");
/// Stacks the base models' out-of-fold predictions.
pub const REDUCER: FunctionRef<ReducerInput, ReducerOutput> = FunctionRef::new("stacking.reducer");
/// Fits the meta-model and publishes the stacked model.
pub const METATRAINER: FunctionRef<MetatrainerInput, MetatrainerOutput> =
    FunctionRef::new("stacking.metatrainer");

/// The file of a published stacked model.
pub const MODEL_FILE: &str = "stacking.safetensors";

/// The key of the published stacked model called `name`.
pub fn stacked_model_key(name: &str) -> Path {
    model_key(name, MODEL_FILE)
}

/// The name of a stacked model: `model` when given, else `<data name>-stacking`, or
/// `synthetic-stacking` for the synthetic data.
pub fn model_name(model: Option<&str>, data: Option<&str>) -> String {
    match (model, data) {
        (Some(model), _) => model.to_string(),
        (None, Some(data)) => data::model_name(data, None, "stacking"),
        (None, None) => "synthetic-stacking".to_string(),
    }
}

/// The rows of the table under `prefix` (CSV with `target`, or LIBSVM), its target made binary.
pub(crate) async fn table_rows(
    ctx: &Ctx,
    prefix: &str,
    target: Option<&str>,
) -> Result<LabelledRows> {
    let sources = tables::list(ctx.store(), prefix, target).await?;
    let all = tables::deal(&sources, 1);
    let data = tables::load(ctx.store(), &all[0], tables::TargetKind::Real).await?;
    let source = prefix.to_string();
    ctx.compute(move || table::binary(data, &source))
        .await
        .map_err(WorkflowError::Compute)?
}

/// The stacking workflow.
#[derive(Debug, Clone, Copy)]
pub struct Stacking;

/// How the driver invokes the trainers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum TrainingMode {
    /// One trainer after another (the seed's default).
    #[default]
    Sequential,
    /// All trainers at once.
    Concurrent,
}

impl TrainingMode {
    /// The mode's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sequential => "sequential",
            Self::Concurrent => "concurrent",
        }
    }
}

/// The parameters of a stacking run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(default)]
pub struct StackingParams {
    /// Prefix of a table in the store (CSV with --target, or LIBSVM) to train on; the bundled
    /// tabular/breast_cancer, tabular/iris... are imported on first use. Default: the seed's
    /// synthetic data.
    #[cfg_attr(feature = "cli", arg(long))]
    pub data: Option<String>,
    /// Target column of a CSV table (two distinct values; the lower is class 0).
    #[cfg_attr(feature = "cli", arg(long))]
    pub target: Option<String>,
    /// Rows of the synthetic data.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = StackingParams::default().samples))]
    pub samples: usize,
    /// Features of the synthetic data.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = StackingParams::default().features))]
    pub features: usize,
    /// Fraction of the rows held out (stratified) for held-out ROC-AUC and accuracy; 0 trains
    /// on every row and reports the out-of-fold AUC only, as the seed does.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = StackingParams::default().holdout))]
    pub holdout: f64,
    /// Trainer functions; trainer i fits base model i mod (number of --models).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = StackingParams::default().trainers))]
    pub trainers: usize,
    /// Whether the trainers run one after another or all at once.
    #[cfg_attr(feature = "cli", arg(long, value_enum, default_value_t = TrainingMode::default()))]
    pub mode: TrainingMode,
    /// How rows, predictions and models travel between the stages: inside the invocation
    /// payloads, through the object store, or through the state store (--state).
    #[cfg_attr(feature = "cli", arg(long, value_enum, default_value_t = TransferMode::default()))]
    pub transfer: TransferMode,
    /// Folds of the out-of-fold predictions (KFold for regressors, StratifiedKFold for
    /// classifiers, unshuffled, as scikit-learn's cross_val_predict).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = StackingParams::default().folds))]
    pub folds: usize,
    /// Seed of the synthetic data and the held-out split.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = StackingParams::default().seed))]
    pub seed: u64,
    /// Base models, comma-separated, each `name[:key=value]...`, e.g.
    /// `lasso:alpha=0.05,knn-regressor:k=10,random-forest:n_trees=50` (default: the seed's
    /// linear-svr, lasso, random-forest-regressor, knn-regressor).
    #[cfg_attr(feature = "cli", arg(long))]
    pub models: Option<String>,
    /// The meta-model, a binary classifier in the same form.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = StackingParams::default().meta))]
    pub meta: String,
    /// Name to publish the stacked model under, models/<name>/stacking.safetensors (default:
    /// the data's name followed by -stacking, e.g. synthetic-stacking).
    #[cfg_attr(feature = "cli", arg(long))]
    pub model: Option<String>,
}

impl Default for StackingParams {
    /// The seed: synthetic 300 x 1024, its four base models on 4 trainers one after another,
    /// 5 folds, data through the object store; plus a 20% stratified held-out split.
    fn default() -> Self {
        Self {
            data: None,
            target: None,
            samples: 300,
            features: 1024,
            holdout: 0.2,
            trainers: 4,
            mode: TrainingMode::Sequential,
            transfer: TransferMode::Store,
            folds: 5,
            seed: 42,
            models: None,
            meta: "logistic-regression:c=1".to_string(),
            model: None,
        }
    }
}

impl StackingParams {
    /// The models list: the one given, or the seed's.
    pub fn models_list(&self) -> &str {
        self.models.as_deref().unwrap_or(models::SEED_MODELS)
    }

    /// The model name: the one given, or `<data name>-stacking`.
    pub fn model_name(&self) -> String {
        model_name(self.model.as_deref(), self.data.as_deref())
    }

    /// The base models, trainer by trainer.
    pub fn trainer_models(&self) -> Result<Vec<Algorithm>> {
        let list = models::parse(self.models_list())?;
        Ok((0..self.trainers)
            .map(|i| list[i % list.len()].clone())
            .collect())
    }

    /// The meta-model.
    pub fn meta_model(&self) -> Result<Algorithm> {
        let mut meta = models::parse(&self.meta).map_err(|e| {
            WorkflowError::InvalidParams(e.to_string().replace("--models", "--meta"))
        })?;
        if meta.len() != 1 {
            return Err(WorkflowError::InvalidParams(format!(
                "--meta names {} models; give one binary classifier",
                meta.len()
            )));
        }
        let meta = meta.remove(0);
        if meta.name() == "linear-svc" {
            return Err(WorkflowError::InvalidParams(
                "--meta linear-svc predicts classes, not probabilities, and the meta-model's \
                 ROC-AUC ranks by probability (the seed's mistake was scoring hard \
                 predictions): use logistic-regression or another probabilistic classifier"
                    .into(),
            ));
        }
        if meta.task() != faasml_ml::Task::Classification {
            return Err(WorkflowError::InvalidParams(format!(
                "--meta {} is a regressor; the meta-model must be a binary classifier (e.g. \
                 logistic-regression)",
                meta.name()
            )));
        }
        Ok(meta)
    }

    pub(crate) fn check(&self) -> Result<()> {
        let fail = |m: String| Err(WorkflowError::InvalidParams(m));
        if self.trainers == 0 {
            return fail("--trainers must be at least 1".into());
        }
        limits::at_most("trainers", self.trainers, limits::WORKERS)?;
        if self.folds < 2 {
            return fail(format!(
                "--folds is {}: cross-validation needs at least 2",
                self.folds
            ));
        }
        limits::at_most("folds", self.folds, limits::FOLDS)?;
        if !(0.0..0.9).contains(&self.holdout) {
            return fail(format!(
                "--holdout is {}: a fraction in [0, 0.9) (0 holds nothing out)",
                self.holdout
            ));
        }
        if self.data.is_none() {
            if self.samples == 0 || self.features < 2 {
                return fail("--samples must be at least 1 and --features at least 2".into());
            }
            limits::at_most("samples", self.samples, limits::SAMPLES)?;
            limits::at_most("features", self.features, limits::FEATURES)?;
            limits::product_at_most(
                "samples x features",
                self.samples,
                self.features,
                limits::CELLS,
            )?;
        } else if data::clean_prefix(self.data.as_deref().unwrap_or_default()).is_empty() {
            return fail("--data must not be empty".into());
        } else if (self.samples, self.features)
            != (Self::default().samples, Self::default().features)
        {
            return fail(
                "--samples and --features shape the synthetic data; with --data the table's own \
                 rows and columns are used (leave them out)"
                    .into(),
            );
        }
        self.trainer_models()?;
        self.meta_model()?;
        data::check_name("model", &self.model_name())
    }
}

/// Seconds the driver spent on each of its own steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriverTimes {
    /// Making or reading the data, splitting it, handing it on.
    pub data_s: f64,
    /// From the first trainer invoked to the last one finished.
    pub trainers_s: f64,
    /// The reducer invocation.
    pub reducer_s: f64,
    /// The metatrainer invocation.
    pub metatrainer_s: f64,
    /// Fetching and checking the published model.
    pub fetch_s: f64,
    /// The trainers' seconds of fitting (out of fold and on all rows), summed over trainers.
    #[serde(default)]
    pub trainers_compute_s: f64,
    /// The trainers' seconds of receiving rows and handing results on, summed over trainers.
    #[serde(default)]
    pub trainers_transfer_s: f64,
}

/// What a stacking run produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackingResult {
    /// Where the rows came from (`synthetic 300 x 1024` or the table's prefix).
    pub data: String,
    /// Training rows.
    pub n_train: usize,
    /// Held-out rows.
    pub n_test: usize,
    /// Features per row.
    pub n_features: usize,
    /// Trainers.
    pub trainers: usize,
    /// Training mode.
    pub mode: TrainingMode,
    /// Transfer mode.
    pub transfer: TransferMode,
    /// The base model of each trainer.
    pub models: Vec<String>,
    /// Each base model's out-of-fold ROC-AUC.
    pub base_oof_auc: Vec<f64>,
    /// Each base model's held-out ROC-AUC (empty without a held-out split).
    pub base_holdout_auc: Vec<f64>,
    /// The meta-model's out-of-fold ROC-AUC on the training rows (the seed's figure).
    pub meta_oof_auc: f64,
    /// The stacked model's ROC-AUC on the held-out rows.
    pub holdout_auc: Option<f64>,
    /// The stacked model's accuracy on the held-out rows.
    pub holdout_accuracy: Option<f64>,
    /// Bytes of one trainer's input payload.
    pub trainer_payload_bytes: u64,
    /// Where the stacked model was published.
    pub model_key: String,
    /// Its version (ETag, size, time).
    pub model_version: String,
    /// Its size.
    pub model_bytes: u64,
    /// The driver's own timings.
    pub times: DriverTimes,
}

impl Workflow for Stacking {
    const NAME: &'static str = "stacking";
    const ABOUT: &'static str = "driver -> N trainers (base models, out-of-fold) -> reducer -> \
                                 metatrainer; publishes a stacked model.";
    type Params = StackingParams;
    type Output = StackingResult;
    const DRIVER: FunctionRef<StackingParams, StackingResult> = DRIVER;

    async fn drive(params: StackingParams, ctx: Ctx) -> Result<StackingResult> {
        stages(&params, &ctx).await
    }

    fn register(registry: &mut Registry) {
        registry.register(TRAINER, trainer::run);
        registry.register(REDUCER, reducer::run);
        registry.register(METATRAINER, metatrainer::run).publishes();
    }

    fn resolve(params: &mut StackingParams) {
        params.data = params.data.take().map(|d| data::clean_prefix(&d));
        params.models = Some(params.models_list().to_string());
        params.model = Some(params.model_name());
    }

    fn validate(params: &StackingParams) -> Result<()> {
        params.check()
    }

    fn model(params: &StackingParams) -> Option<String> {
        Some(params.model_name())
    }

    fn datasets(params: &StackingParams) -> Vec<String> {
        params.data.iter().cloned().collect()
    }

    fn expected_invocations(params: &StackingParams) -> Option<u64> {
        Some(3 + params.trainers as u64)
    }

    fn summary(_params: &StackingParams, r: &StackingResult) -> String {
        let mut out = format!(
            "meta-model ROC-AUC {:.4} out of fold on {} training rows",
            r.meta_oof_auc, r.n_train
        );
        if let (Some(auc), Some(acc)) = (r.holdout_auc, r.holdout_accuracy) {
            out.push_str(&format!(
                "; held out: ROC-AUC {auc:.4}, accuracy {acc:.4} on {} rows",
                r.n_test
            ));
        }
        if r.data.starts_with("synthetic") {
            out.push_str(&format!("\ndata: {}\n", r.data));
        } else {
            out.push_str(&format!("\ndata: {}, {} features\n", r.data, r.n_features));
        }
        out.push_str("base models (out-of-fold ROC-AUC");
        if !r.base_holdout_auc.is_empty() {
            out.push_str(" / held out");
        }
        out.push_str("): ");
        let bases: Vec<String> = r
            .models
            .iter()
            .enumerate()
            .map(|(i, m)| match r.base_holdout_auc.get(i) {
                Some(h) => format!("{m} {:.3} / {h:.3}", r.base_oof_auc[i]),
                None => format!(
                    "{m} {:.3}",
                    r.base_oof_auc.get(i).copied().unwrap_or(f64::NAN)
                ),
            })
            .collect();
        out.push_str(&bases.join(", "));
        let t = &r.times;
        out.push_str(&format!(
            "\n{} trainers {}, transfer {} ({} bytes per trainer payload): data {:.3} s, \
             trainers {:.3} s ({:.3} s fitting and {:.3} s moving data, summed over trainers), \
             reducer {:.3} s, metatrainer {:.3} s\nmodel published to {} ({} bytes)",
            r.trainers,
            r.mode.as_str(),
            r.transfer.as_str(),
            r.trainer_payload_bytes,
            t.data_s,
            t.trainers_s,
            t.trainers_compute_s,
            t.trainers_transfer_s,
            t.reducer_s,
            t.metatrainer_s,
            r.model_key,
            r.model_bytes
        ));
        out
    }

    fn warnings(r: &StackingResult) -> Vec<String> {
        let distinct: std::collections::BTreeSet<&String> = r.models.iter().collect();
        if distinct.len() < r.models.len() {
            vec![format!(
                "{} trainers fit {} distinct base models: the repeated ones give identical \
                 meta-features (the seed does the same); give --models a longer list to make \
                 every trainer count",
                r.trainers,
                distinct.len()
            )]
        } else {
            Vec::new()
        }
    }

    fn bench() -> BenchSpec<StackingResult> {
        BenchSpec {
            axes: vec![
                ("trainers", "4,16"),
                ("mode", "sequential,concurrent"),
                ("transfer", "inline,store,state"),
            ],
            fixed: vec![("model", "bench-stacking")],
            metrics: vec![
                Metric {
                    name: "meta_oof_auc",
                    unit: "",
                    value: |r| Some(r.meta_oof_auc),
                },
                Metric {
                    name: "holdout_auc",
                    unit: "",
                    value: |r| r.holdout_auc,
                },
                Metric {
                    name: "trainer_payload",
                    unit: "B",
                    value: |r| Some(r.trainer_payload_bytes as f64),
                },
                Metric {
                    name: "trainers_transfer_s",
                    unit: "s",
                    value: |r| Some(r.times.trainers_transfer_s),
                },
            ],
            peers: vec![Peer {
                name: "sklearn",
                needs: "python3 with numpy and scikit-learn (pip install numpy scikit-learn)",
                probe: &["python3", "-c", "import numpy, sklearn"],
                command: sklearn_command,
                parse: sklearn_parse,
            }],
            stage_charts: true,
            ..BenchSpec::basic()
        }
    }
}

/// `python3 bench/stacking_sklearn.py ...`: the seed's stages in scikit-learn with the same
/// trainers, mode, data size, folds and held-out fraction (synthetic data, or a bundled table).
fn sklearn_command(params: &serde_json::Value) -> Option<Vec<String>> {
    let number = |key: &str| params.get(key).and_then(serde_json::Value::as_u64);
    let text = |key: &str| params.get(key).and_then(serde_json::Value::as_str);
    // The peer knows the seed's four models only.
    if text("models").is_some_and(|m| m != models::SEED_MODELS) {
        return None;
    }
    let mut command = vec![
        "python3".to_string(),
        "{bench}/stacking_sklearn.py".to_string(),
        "--trainers".into(),
        number("trainers")?.to_string(),
        "--mode".into(),
        text("mode")?.to_string(),
        "--folds".into(),
        number("folds")?.to_string(),
        "--seed".into(),
        number("seed")?.to_string(),
        "--holdout".into(),
        params.get("holdout")?.as_f64()?.to_string(),
    ];
    match text("data") {
        None => command.extend([
            "--samples".into(),
            number("samples")?.to_string(),
            "--features".into(),
            number("features")?.to_string(),
        ]),
        Some(prefix) => {
            let name = prefix.strip_prefix("tabular/")?;
            command.extend([
                "--data".into(),
                format!("{{bench}}/../data/tabular/{name}.csv"),
                "--target".into(),
                text("target").unwrap_or("target").to_string(),
            ]);
        }
    }
    Some(command)
}

/// Reads the `key=value` tokens of the peer's last line.
fn sklearn_parse(stdout: &str) -> Vec<(&'static str, f64)> {
    let field = |name: &str| {
        stdout
            .split_whitespace()
            .filter_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .next_back()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    [
        (crate::kit::bench::END_TO_END, "end_to_end_s"),
        ("meta_oof_auc", "meta_oof_auc"),
        ("holdout_auc", "holdout_auc"),
    ]
    .into_iter()
    .filter_map(|(metric, key)| field(key).map(|v| (metric, v)))
    .collect()
}

/// The rows of the run: synthetic or a table's, target binary.
pub(crate) async fn rows(params: &StackingParams, ctx: &Ctx) -> Result<(String, LabelledRows)> {
    match &params.data {
        None => {
            let (samples, features, seed) = (params.samples, params.features, params.seed);
            let rows = ctx
                .compute(move || table::synthetic(samples, features, seed))
                .await
                .map_err(WorkflowError::Compute)??;
            Ok((format!("synthetic {samples} x {features}"), rows))
        }
        Some(prefix) => Ok((
            prefix.clone(),
            table_rows(ctx, prefix, params.target.as_deref()).await?,
        )),
    }
}

/// Fails unless `payload` fits the platform's payload limit, saying what to do instead.
fn check_payload(ctx: &Ctx, what: &str, bytes: usize) -> Result<()> {
    match ctx.payload_limit() {
        Some(limit) if bytes as u64 > limit => Err(WorkflowError::InvalidParams(format!(
            "--transfer inline puts {what} in every payload: {bytes} bytes, above the platform's \
             payload limit of {limit} bytes (--payload-limit); use --transfer store (the object \
             store) or --transfer state (the state store) for data this size"
        ))),
        _ => Ok(()),
    }
}

async fn stages(params: &StackingParams, ctx: &Ctx) -> Result<StackingResult> {
    let started = Instant::now();
    if params.transfer == TransferMode::State
        && ctx.fans_out_remotely()
        && ctx.state().url().starts_with("embedded")
    {
        return Err(WorkflowError::InvalidParams(
            "--transfer state passes data through the state store, and the functions run in \
             other processes here, so the in-process state store cannot carry it: start the \
             workers and the run with --state redis://HOST:PORT (FAASML_STATE), or use \
             --transfer store"
                .into(),
        ));
    }
    let mut times = DriverTimes::default();
    let models = params.trainer_models()?;
    let meta = params.meta_model()?;
    let (source, all) = rows(params, ctx).await?;
    let (train, test) = table::holdout_split(&all, params.holdout, params.seed)?;
    drop(all);
    table::check_folds(&train, params.folds, "training rows")?;
    let n_features = train.cols;
    let (n_train, n_test) = (train.rows, test.as_ref().map_or(0, |t| t.rows));
    let labels = Labels {
        train: train.labels.clone(),
        test: test.as_ref().map(|t| t.labels.clone()).unwrap_or_default(),
    };
    let scratch = Scratch::of_run(ctx.run_id());
    let mode = params.transfer;
    // Inline: measure one trainer's payload and refuse before sending anything too big.
    let train = Transfer::send(ctx, mode, scratch.key("data/train.json"), train).await?;
    let test = match test {
        Some(t) => Some(Transfer::send(ctx, mode, scratch.key("data/test.json"), t).await?),
        None => None,
    };
    let inputs: Vec<TrainerInput> = models
        .iter()
        .enumerate()
        .map(|(index, algorithm)| TrainerInput {
            index,
            algorithm: algorithm.clone(),
            folds: params.folds,
            train: train.clone(),
            test: test.clone(),
            transfer: mode,
        })
        .collect();
    let trainer_payload_bytes = serde_json::to_vec(&inputs[0]).map(|b| b.len()).unwrap_or(0);
    check_payload(ctx, "the training and held-out rows", trainer_payload_bytes)?;
    drop((train, test));
    let labels = Transfer::send(ctx, mode, scratch.key("data/labels.json"), labels).await?;
    times.data_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let trained = match params.mode {
        TrainingMode::Concurrent => ctx.map(TRAINER, inputs).await?,
        TrainingMode::Sequential => {
            let mut outputs = Vec::with_capacity(inputs.len());
            for input in &inputs {
                outputs.push(ctx.invoke(TRAINER, input).await?);
            }
            outputs
        }
    };
    times.trainers_s = started.elapsed().as_secs_f64();
    times.trainers_compute_s = trained.iter().map(|t| t.cv_s + t.fit_s).sum();
    times.trainers_transfer_s = trained.iter().map(|t| t.transfer_s).sum();

    let started = Instant::now();
    let reduced = ctx
        .invoke(
            REDUCER,
            &ReducerInput {
                oof: trained.iter().map(|t| t.oof.clone()).collect(),
                holdout: trained.iter().map(|t| t.holdout.clone()).collect(),
                labels,
                transfer: mode,
            },
        )
        .await?;
    times.reducer_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let key = stacked_model_key(&params.model_name());
    let about = vec![
        ("data".to_string(), source.clone()),
        (
            "params".to_string(),
            serde_json::to_string(params).unwrap_or_default(),
        ),
    ];
    let published = ctx
        .invoke(
            METATRAINER,
            &MetatrainerInput {
                meta: reduced.meta,
                models: trained.iter().map(|t| t.model.clone()).collect(),
                algorithm: meta,
                folds: params.folds,
                model_key: key.clone(),
                about,
            },
        )
        .await?;
    times.metatrainer_s = started.elapsed().as_secs_f64();

    // The seed's driver collects the final model: fetch it and check that it loads whole.
    let started = Instant::now();
    let tensors = persist::get(ctx.store(), &published.model_key).await?;
    let stacked = StackedModel::from_tensors(&tensors)
        .map_err(|e| persist::corrupt(ctx.store(), &published.model_key, e.to_string()))?;
    if stacked.bases.len() != params.trainers {
        return Err(persist::corrupt(
            ctx.store(),
            &published.model_key,
            format!(
                "{} base models, expected {}",
                stacked.bases.len(),
                params.trainers
            ),
        ));
    }
    times.fetch_s = started.elapsed().as_secs_f64();

    Ok(StackingResult {
        data: source,
        n_train,
        n_test,
        n_features,
        trainers: params.trainers,
        mode: params.mode,
        transfer: mode,
        models: trained.iter().map(|t| t.algorithm.clone()).collect(),
        base_oof_auc: trained.iter().map(|t| t.oof_auc).collect(),
        base_holdout_auc: published.base_holdout_auc,
        meta_oof_auc: published.meta_oof_auc,
        holdout_auc: published.holdout_auc,
        holdout_accuracy: published.holdout_accuracy,
        trainer_payload_bytes: trainer_payload_bytes as u64,
        model_key: published.model_key.to_string(),
        model_version: published.model_version,
        model_bytes: published.model_bytes,
        times,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_fail_with_one_clear_message() {
        let ok = StackingParams::default();
        let err = |p: StackingParams| p.check().unwrap_err().to_string();
        assert!(
            err(StackingParams {
                trainers: 0,
                ..ok.clone()
            })
            .contains("--trainers")
        );
        assert!(
            err(StackingParams {
                folds: 1,
                ..ok.clone()
            })
            .contains("--folds")
        );
        assert!(
            err(StackingParams {
                holdout: 1.5,
                ..ok.clone()
            })
            .contains("--holdout")
        );
        assert!(
            err(StackingParams {
                samples: 100_000,
                features: 100_000,
                ..ok.clone()
            })
            .contains("above the limit")
        );
        let e = err(StackingParams {
            models: Some("lasso:alpha=-1".into()),
            ..ok.clone()
        });
        assert!(e.contains("lasso:alpha=-1"), "{e}");
        let e = err(StackingParams {
            meta: "linear-svc".into(),
            ..ok.clone()
        });
        assert!(e.contains("not probabilities"), "{e}");
        let e = err(StackingParams {
            meta: "lasso".into(),
            ..ok.clone()
        });
        assert!(e.contains("binary classifier"), "{e}");
        let e = err(StackingParams {
            data: Some("tabular/iris".into()),
            samples: 1000,
            ..ok.clone()
        });
        assert!(e.contains("--samples and --features"), "{e}");
        assert!(
            err(StackingParams {
                model: Some("a/b".into()),
                ..ok
            })
            .contains("model name")
        );
    }

    #[test]
    fn the_peer_gets_the_same_point() {
        let mut params = StackingParams::default();
        Stacking::resolve(&mut params);
        let json = serde_json::to_value(&params).unwrap();
        let command = sklearn_command(&json).unwrap().join(" ");
        assert!(
            command.contains("--trainers 4 --mode sequential --folds 5 --seed 42 --holdout 0.2")
                && command.contains("--samples 300 --features 1024"),
            "{command}"
        );
        let parsed = sklearn_parse("noise\nend_to_end_s=1.25 meta_oof_auc=0.786 holdout_auc=nan\n");
        assert_eq!(
            parsed,
            vec![
                (crate::kit::bench::END_TO_END, 1.25),
                ("meta_oof_auc", 0.786)
            ]
        );
    }
}
