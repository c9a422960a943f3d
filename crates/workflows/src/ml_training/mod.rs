//! The ml-training workflow: `partition -> pca -> rf -> validate`, as in the TLess / Orion
//! serverless ML-training benchmark, with real labels and real validation.
//!
//! - `partition` lists the images under a prefix and deals them into `n_pca` shards, one shard
//!   file each, under the run's scratch prefix;
//! - `pca` (one per shard) loads its images, fits a PCA, projects them, and writes one slice per
//!   random-forest function it feeds (`n_rf / n_pca`);
//! - `rf` (one per slice) trains a random forest and stores it together with the PCA basis it
//!   was trained in, so that inference projects new images exactly as training did;
//! - `validate` loads every forest, measures the accuracy of their soft vote on the held-out
//!   test set, and publishes the model for ml-inference.
//!
//! `--pipeline orion` is the Orion variant of the benchmark: `partition` with one shard, one
//! `pca` on every training image (100 components by default), then a grid of gradient-boosted
//! models (`gbdt`, one function per grid point: feature fraction {0.25, 0.5, 0.75, 0.95} x
//! boosting iterations {5, 10, 15, 20}) chosen among by their accuracy on held-out training rows,
//! and `orion-combine`, which averages the best `--keep` models' softmax probabilities, scores
//! them on the test set and publishes them (`models/<name>/orion.safetensors`, see [`orion`]).
//!
//! The kit deletes the run's scratch objects when the driver ends (always on failure; on success
//! unless `--keep-intermediate`), so a failed run leaves nothing half-written.

mod gbdt;
pub mod orion;
mod partition;
pub(crate) mod pca;
mod rf;
mod validate;

use faasml_core::{Ctx, FunctionRef, Registry};
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use crate::data::{self, images};
use crate::error::{Result, WorkflowError};
use crate::kit::layout::Scratch;
use crate::kit::{BenchSpec, Metric, Peer, Workflow, layout, limits};
pub use gbdt::{GbdtInput, GbdtOutput, is_validation_row};
pub use orion::{OrionCombineInput, OrionCombineOutput, OrionModel};
pub use partition::{PartitionInput, PartitionOutput};
pub use pca::{PcaInput, PcaOutput};
pub use rf::{RfInput, RfOutput};
pub use validate::{ValidateInput, ValidateOutput};

/// The driver: runs the whole workflow.
pub const DRIVER: FunctionRef<TrainingParams, TrainingResult> =
    FunctionRef::new("ml-training.driver");
/// Lists and deals the images.
pub const PARTITION: FunctionRef<PartitionInput, PartitionOutput> =
    FunctionRef::new("ml-training.partition");
/// Fits a PCA on a shard and writes the projected slices.
pub const PCA: FunctionRef<PcaInput, PcaOutput> = FunctionRef::new("ml-training.pca");
/// Trains a random forest on a slice.
pub const RF: FunctionRef<RfInput, RfOutput> = FunctionRef::new("ml-training.rf");
/// Validates on the test set and publishes the model.
pub const VALIDATE: FunctionRef<ValidateInput, ValidateOutput> =
    FunctionRef::new("ml-training.validate");
/// Orion: fits one gradient-boosted model of the grid.
pub const GBDT: FunctionRef<GbdtInput, GbdtOutput> = FunctionRef::new("ml-training.gbdt");
/// Orion: combines the best grid models, validates them on the test set and publishes them.
pub const ORION_COMBINE: FunctionRef<OrionCombineInput, OrionCombineOutput> =
    FunctionRef::new("ml-training.orion-combine");

/// Orion's grid: the feature fractions...
pub const ORION_FEATURE_FRACTIONS: [f64; 4] = [0.25, 0.5, 0.75, 0.95];
/// ...times the boosting iterations (trees per class).
pub const ORION_TREES: [usize; 4] = [5, 10, 15, 20];
/// PCA components of an Orion run when `--components` is left at the rf default.
pub const ORION_COMPONENTS: usize = 100;

/// The points of Orion's grid, `(feature_fraction, trees)`, feature-fraction-major.
pub fn orion_grid() -> Vec<(f64, usize)> {
    ORION_FEATURE_FRACTIONS
        .iter()
        .flat_map(|&f| ORION_TREES.iter().map(move |&t| (f, t)))
        .collect()
}

/// Which pipeline an ml-training run follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Pipeline {
    /// PCA per shard, one random forest per slice, soft vote of every forest.
    #[default]
    Rf,
    /// One PCA, a grid of gradient-boosted models, the best `--keep` averaged.
    Orion,
}

/// The ml-training workflow.
#[derive(Debug, Clone, Copy)]
pub struct MlTraining;

/// The parameters of an ml-training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(default)]
pub struct TrainingParams {
    /// Prefix of the training images in the store; the bundled mnist-2k, mnist-10k, mnist,
    /// fashion-mnist... are imported on first use.
    #[cfg_attr(feature = "cli", arg(long = "train", default_value_t = TrainingParams::default().data))]
    pub data: String,
    /// Prefix of the held-out test images (default: the test set of the training data's bundled
    /// family).
    #[cfg_attr(feature = "cli", arg(long))]
    pub test: Option<String>,
    /// Number of PCA functions (shards).
    #[cfg_attr(feature = "cli", arg(long = "pca", default_value_t = TrainingParams::default().n_pca))]
    pub n_pca: usize,
    /// Number of random-forest functions (a multiple of --pca).
    #[cfg_attr(feature = "cli", arg(long = "rf", default_value_t = TrainingParams::default().n_rf))]
    pub n_rf: usize,
    /// PCA components.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TrainingParams::default().components))]
    pub components: usize,
    /// Trees per forest.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TrainingParams::default().trees))]
    pub trees: usize,
    /// Maximum tree depth.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TrainingParams::default().depth))]
    pub depth: usize,
    /// Minimum samples to split a node.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TrainingParams::default().min_samples_split))]
    pub min_samples_split: usize,
    /// Seed of every random choice; a run is deterministic for a fixed seed.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TrainingParams::default().seed))]
    pub seed: u64,
    /// Name to publish the model under, models/<name>/model.safetensors (default: the training
    /// data's family followed by -rf, e.g. mnist-rf).
    #[cfg_attr(feature = "cli", arg(long))]
    pub model: Option<String>,
    /// Keep the intermediate objects (shards, slices, forests) under runs/<run id>/ in the store.
    #[cfg_attr(feature = "cli", arg(long))]
    pub keep_intermediate: bool,
    /// The pipeline: rf (PCA shards, random forests, soft vote), or orion (one PCA, 100
    /// components unless --components is set to other than 10, a 4x4 grid of gradient-boosted
    /// models, the best --keep averaged; --pca, --rf, --trees, --depth and --min-samples-split
    /// do not apply).
    #[cfg_attr(feature = "cli", arg(long, value_enum, default_value_t = Pipeline::default()))]
    pub pipeline: Pipeline,
    /// Orion: share of the training images held out to choose the grid's best models.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TrainingParams::default().validation))]
    pub validation: f64,
    /// Orion: grid models kept and averaged (1 to 16).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TrainingParams::default().keep))]
    pub keep: usize,
}

impl Default for TrainingParams {
    /// The seed's `mnist-2k 2 8` with its forest settings (100 trees, depth 10, 5 samples) and 10
    /// PCA components.
    fn default() -> Self {
        Self {
            data: "mnist-2k".to_string(),
            test: None,
            n_pca: 2,
            n_rf: 8,
            components: 10,
            trees: 100,
            depth: 10,
            min_samples_split: 5,
            seed: 42,
            model: None,
            keep_intermediate: false,
            pipeline: Pipeline::Rf,
            validation: 0.2,
            keep: 10,
        }
    }
}

impl TrainingParams {
    /// The test prefix: the one given, or the test set of the training data's family.
    pub fn test_prefix(&self) -> String {
        data::test_prefix(&self.data, self.test.as_deref())
    }

    /// The model name: the one given, or `<family>-rf` (`<family>-orion` for Orion).
    pub fn model_name(&self) -> String {
        let suffix = match self.pipeline {
            Pipeline::Rf => "rf",
            Pipeline::Orion => "orion",
        };
        data::model_name(&self.data, self.model.as_deref(), suffix)
    }

    /// Where the model is published: `models/<name>/model.safetensors`, or
    /// `models/<name>/orion.safetensors` for Orion.
    pub fn model_key(&self) -> Path {
        match self.pipeline {
            Pipeline::Rf => model_key(&self.model_name()),
            Pipeline::Orion => layout::model_key(&self.model_name(), orion::ORION_FILE),
        }
    }

    fn check(&self) -> Result<()> {
        let fail = |m: String| Err(WorkflowError::InvalidParams(m));
        if self.pipeline == Pipeline::Orion {
            let grid = ORION_FEATURE_FRACTIONS.len() * ORION_TREES.len();
            if self.keep == 0 || self.keep > grid {
                return fail(format!(
                    "--keep must be between 1 and {grid} (the Orion grid's size), got {}",
                    self.keep
                ));
            }
            if !(self.validation > 0.0 && self.validation < 1.0) {
                return fail(format!(
                    "--validation must be between 0 and 1 (exclusive), got {}",
                    self.validation
                ));
            }
        }
        if self.n_pca == 0 || self.n_rf == 0 {
            return fail("n_pca and n_rf must be at least 1".into());
        }
        if !self.n_rf.is_multiple_of(self.n_pca) {
            return fail(format!(
                "n_rf ({}) must be a multiple of n_pca ({}): each PCA function feeds n_rf / n_pca \
                 forests",
                self.n_rf, self.n_pca
            ));
        }
        if self.components == 0 {
            return fail("components must be at least 1".into());
        }
        if self.trees == 0 || self.depth == 0 {
            return fail("trees and depth must be at least 1".into());
        }
        if self.min_samples_split < 2 {
            return fail("min_samples_split must be at least 2".into());
        }
        limits::at_most("n_pca", self.n_pca, limits::PCA_FUNCTIONS)?;
        limits::at_most("n_rf", self.n_rf, limits::FORESTS)?;
        limits::at_most("components", self.components, limits::COMPONENTS)?;
        limits::at_most("trees", self.trees, limits::TREES)?;
        limits::at_most("depth", self.depth, limits::DEPTH)?;
        limits::product_at_most("trees x n_rf", self.trees, self.n_rf, limits::TOTAL_TREES)?;
        if data::clean_prefix(&self.data).is_empty() || self.test_prefix().is_empty() {
            return fail("the data and test prefixes must not be empty".into());
        }
        data::check_name("model", &self.model_name())
    }
}

/// The key of the published ml-training model called `name`.
pub fn model_key(name: &str) -> Path {
    crate::model::ensemble_key(name)
}

/// What an ml-training run produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingResult {
    /// Accuracy of the ensemble on the test set.
    pub accuracy: f64,
    /// Training images used.
    pub n_train: usize,
    /// Test images evaluated.
    pub n_test: usize,
    /// The test prefix.
    #[serde(default)]
    pub test: String,
    /// Accuracy of each forest alone on the test set.
    pub forest_accuracy: Vec<f64>,
    /// Fraction of the variance each shard's PCA kept.
    pub pca_variance_kept: Vec<f64>,
    /// Confusion matrix, rows = true class, columns = predicted class.
    pub confusion: Vec<Vec<u64>>,
    /// Key of the published model.
    pub model_key: String,
    /// The pipeline that produced this result.
    #[serde(default)]
    pub pipeline: Pipeline,
    /// Orion: every grid point, in grid order.
    #[serde(default)]
    pub grid: Vec<GridPoint>,
    /// Orion: training images held out for validation.
    #[serde(default)]
    pub n_validation: usize,
}

/// One point of Orion's grid and how its model did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridPoint {
    /// Share of the features each tree may split on.
    pub feature_fraction: f64,
    /// Boosting iterations.
    pub trees: usize,
    /// Accuracy on the held-out training images.
    pub validation_accuracy: f64,
    /// Seconds its fit took.
    pub fit_s: f64,
    /// Whether it is one of the combined models.
    pub kept: bool,
    /// Its own accuracy on the test set, when kept.
    pub test_accuracy: Option<f64>,
}

impl Workflow for MlTraining {
    const NAME: &'static str = "ml-training";
    const ABOUT: &'static str = "partition -> PCA -> random forests -> validation on the test set; publishes a model \
         (--pipeline orion: one PCA -> a grid of boosted trees -> the best averaged).";
    type Params = TrainingParams;
    type Output = TrainingResult;
    const DRIVER: FunctionRef<TrainingParams, TrainingResult> = DRIVER;

    async fn drive(params: TrainingParams, ctx: Ctx) -> Result<TrainingResult> {
        stages(&params, &ctx).await
    }

    fn register(registry: &mut Registry) {
        registry.register(PARTITION, partition::run);
        registry.register(PCA, pca::run);
        registry.register(RF, rf::run);
        registry.register(VALIDATE, validate::run).publishes();
        registry.register(GBDT, gbdt::run);
        registry.register(ORION_COMBINE, orion::run).publishes();
    }

    /// For Orion, components left at the rf default (10) become 100, Orion's; any other value
    /// given with --components is kept.
    fn resolve(params: &mut TrainingParams) {
        if params.pipeline == Pipeline::Orion
            && params.components == TrainingParams::default().components
        {
            params.components = ORION_COMPONENTS;
        }
        params.data = data::clean_prefix(&params.data);
        params.test = Some(params.test_prefix());
        params.model = Some(params.model_name());
    }

    fn validate(params: &TrainingParams) -> Result<()> {
        params.check()
    }

    fn model(params: &TrainingParams) -> Option<String> {
        Some(params.model_name())
    }

    fn datasets(params: &TrainingParams) -> Vec<String> {
        vec![params.data.clone(), params.test_prefix()]
    }

    fn expected_invocations(params: &TrainingParams) -> Option<u64> {
        Some(match params.pipeline {
            Pipeline::Rf => (3 + params.n_pca + params.n_rf) as u64,
            // Driver, partition, one pca, the grid, orion-combine.
            Pipeline::Orion => (4 + orion_grid().len()) as u64,
        })
    }

    fn keep_scratch(params: &TrainingParams) -> bool {
        params.keep_intermediate
    }

    fn summary(_params: &TrainingParams, result: &TrainingResult) -> String {
        if result.pipeline == Pipeline::Orion {
            return orion_summary(result);
        }
        let (lo, hi) = result
            .forest_accuracy
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &a| (lo.min(a), hi.max(a)));
        format!(
            "accuracy {:.4} on {} test images ('{}'), {} training images, {} forests (alone \
             {lo:.3}..{hi:.3})\nmodel published to {}",
            result.accuracy,
            result.n_test,
            result.test,
            result.n_train,
            result.forest_accuracy.len(),
            result.model_key,
        )
    }

    fn bench() -> BenchSpec<TrainingResult> {
        BenchSpec {
            cases: vec![
                vec![("train", "mnist-2k")],
                vec![("train", "mnist-10k")],
                vec![("train", "mnist"), ("components", "50")],
            ],
            fixed: vec![("model", "bench-rf")],
            metrics: vec![
                Metric {
                    name: "accuracy",
                    unit: "",
                    value: |r| Some(r.accuracy),
                },
                Metric {
                    name: "images",
                    unit: "",
                    value: |r| Some(r.n_train as f64),
                },
            ],
            peers: vec![Peer {
                name: "sklearn",
                needs: "python3 with numpy and scikit-learn (pip install numpy scikit-learn)",
                probe: &["python3", "-c", "import numpy, sklearn"],
                command: sklearn_command,
                parse: sklearn_parse,
            }],
            ..BenchSpec::basic()
        }
    }
}

/// `python3 bench/sklearn_pipeline.py N COMPONENTS SEED N_PCA N_RF TREES DEPTH MIN_SPLIT` for the
/// bundled MNIST training sets: the same stages, the same dealing and the same forest settings in
/// numpy + scikit-learn.
fn sklearn_command(params: &serde_json::Value) -> Option<Vec<String>> {
    let data = params.get("data")?.as_str()?;
    let n = match data::family_member(data)? {
        ("mnist", Some(limit)) => limit,
        ("mnist", None) => 60_000,
        _ => return None,
    };
    let number = |key: &str| params.get(key).and_then(serde_json::Value::as_u64);
    Some(vec![
        "python3".to_string(),
        "{bench}/sklearn_pipeline.py".to_string(),
        n.to_string(),
        number("components")?.to_string(),
        number("seed")?.to_string(),
        number("n_pca")?.to_string(),
        number("n_rf")?.to_string(),
        number("trees")?.to_string(),
        number("depth")?.to_string(),
        number("min_samples_split")?.to_string(),
    ])
}

/// Reads `accuracy soft=0.8050 ... total=2.75s` from the pipeline's output.
fn sklearn_parse(stdout: &str) -> Vec<(&'static str, f64)> {
    let field = |name: &str| {
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.trim_end_matches('s').parse::<f64>().ok())
    };
    let mut out = Vec::new();
    if let Some(total) = field("total=") {
        out.push((crate::kit::bench::END_TO_END, total));
    }
    if let Some(accuracy) = field("soft=") {
        out.push(("accuracy", accuracy));
    }
    out
}

/// The Orion summary: the grid, the kept models and the combined accuracy.
fn orion_summary(result: &TrainingResult) -> String {
    let mut out = format!(
        "grid of {} gradient-boosted models ({} training images, {} held out for validation):\n  \
         feature_fraction  trees  validation  fit_s  kept  test\n",
        result.grid.len(),
        result.n_train - result.n_validation.min(result.n_train),
        result.n_validation
    );
    for p in &result.grid {
        out.push_str(&format!(
            "  {:>16}  {:>5}  {:>10.4}  {:>5.2}  {:>4}  {}\n",
            p.feature_fraction,
            p.trees,
            p.validation_accuracy,
            p.fit_s,
            if p.kept { "yes" } else { "" },
            p.test_accuracy.map_or(String::new(), |a| format!("{a:.4}")),
        ));
    }
    let kept = result.grid.iter().filter(|p| p.kept).count();
    out.push_str(&format!(
        "accuracy {:.4} on {} test images ('{}'), softmax average of the best {kept} by \
         validation accuracy\nmodel published to {}",
        result.accuracy, result.n_test, result.test, result.model_key
    ));
    out
}

/// Fails before any training when the test set, needed only at the end, is not there.
async fn check_test_set(ctx: &Ctx, test: &str) -> Result<()> {
    if images::list(ctx.store(), test).await?.is_empty() {
        return Err(WorkflowError::NoData {
            store: ctx.store().url().to_string(),
            prefix: format!("{test} (the test set, --test)"),
            bundled: images::bundled_names(),
        });
    }
    Ok(())
}

async fn stages(params: &TrainingParams, ctx: &Ctx) -> Result<TrainingResult> {
    if params.pipeline == Pipeline::Orion {
        return orion_stages(params, ctx).await;
    }
    let scratch = Scratch::of_run(ctx.run_id());
    let test = params.test_prefix();
    check_test_set(ctx, &test).await?;
    let partition = ctx
        .invoke(
            PARTITION,
            &PartitionInput {
                data: params.data.clone(),
                n_pca: params.n_pca,
                n_rf: params.n_rf,
                components: params.components,
                out: scratch.key("partition"),
            },
        )
        .await?;
    let slices_per_pca = params.n_rf / params.n_pca;
    let pca_inputs = partition
        .shards
        .iter()
        .enumerate()
        .map(|(i, shard)| PcaInput {
            shard: shard.clone(),
            components: params.components,
            slices: slices_per_pca,
            out: scratch.key(&format!("pca-{i}")),
        })
        .collect();
    let pcas = ctx.map(PCA, pca_inputs).await?;
    let n_classes = pcas.iter().map(|p| p.n_classes).max().unwrap_or(0);
    let rf_inputs: Vec<RfInput> = pcas
        .iter()
        .flat_map(|p| p.slices.iter().map(move |s| (p, s)))
        .enumerate()
        .map(|(k, (p, slice))| RfInput {
            slice: slice.clone(),
            basis: p.basis.clone(),
            n_classes,
            trees: params.trees,
            depth: params.depth,
            min_samples_split: params.min_samples_split,
            seed: params.seed.wrapping_add(k as u64),
            out: scratch.key(&format!("rf/forest-{k}.safetensors")),
        })
        .collect();
    let forests = ctx.map(RF, rf_inputs).await?;
    let validation = ctx
        .invoke(
            VALIDATE,
            &ValidateInput {
                forests: forests.iter().map(|f| f.forest.clone()).collect(),
                test: test.clone(),
                model_key: params.model_key(),
                dataset: data::family(&params.data),
                params: serde_json::to_value(params).unwrap_or_default(),
            },
        )
        .await?;
    Ok(TrainingResult {
        accuracy: validation.accuracy,
        n_train: partition.total,
        n_test: validation.n_test,
        test,
        forest_accuracy: validation.forest_accuracy,
        pca_variance_kept: pcas.iter().map(|p| p.variance_kept).collect(),
        confusion: validation.confusion,
        model_key: validation.model_key.to_string(),
        pipeline: Pipeline::Rf,
        grid: Vec::new(),
        n_validation: 0,
    })
}

/// Orion: one PCA on every training image, the grid of boosted models in parallel, the best
/// `keep` combined.
async fn orion_stages(params: &TrainingParams, ctx: &Ctx) -> Result<TrainingResult> {
    let scratch = Scratch::of_run(ctx.run_id());
    let test = params.test_prefix();
    check_test_set(ctx, &test).await?;
    let partition = ctx
        .invoke(
            PARTITION,
            &PartitionInput {
                data: params.data.clone(),
                n_pca: 1,
                n_rf: 1,
                components: params.components,
                out: scratch.key("partition"),
            },
        )
        .await?;
    let shard = partition.shards.first().cloned().ok_or_else(|| {
        WorkflowError::Coordination("partition returned no shard for one PCA".into())
    })?;
    let pca = ctx
        .invoke(
            PCA,
            &PcaInput {
                shard,
                components: params.components,
                slices: 1,
                out: scratch.key("pca-0"),
            },
        )
        .await?;
    let slice =
        pca.slices.first().cloned().ok_or_else(|| {
            WorkflowError::Coordination("pca returned no slice for the grid".into())
        })?;
    let grid = orion_grid();
    let inputs = grid
        .iter()
        .enumerate()
        .map(|(g, &(feature_fraction, trees))| GbdtInput {
            slice: slice.clone(),
            n_classes: pca.n_classes,
            feature_fraction,
            trees,
            validation: params.validation,
            // One seed for every point: the same validation rows, so the accuracies compare.
            seed: params.seed,
            out: scratch.key(&format!("orion/gbdt-{g}.safetensors")),
        })
        .collect();
    let fits = ctx.map(GBDT, inputs).await?;
    let accuracies: Vec<f64> = fits.iter().map(|f| f.validation_accuracy).collect();
    let kept = orion::best(&accuracies, params.keep);
    let combined = ctx
        .invoke(
            ORION_COMBINE,
            &OrionCombineInput {
                members: kept.iter().map(|&i| fits[i].model.clone()).collect(),
                basis: pca.basis.clone(),
                test: test.clone(),
                model_key: params.model_key(),
                dataset: data::family(&params.data),
                params: serde_json::to_value(params).unwrap_or_default(),
            },
        )
        .await?;
    let mut points: Vec<GridPoint> = fits
        .iter()
        .map(|f| GridPoint {
            feature_fraction: f.feature_fraction,
            trees: f.trees,
            validation_accuracy: f.validation_accuracy,
            fit_s: f.fit_s,
            kept: false,
            test_accuracy: None,
        })
        .collect();
    for (&i, &a) in kept.iter().zip(&combined.member_accuracy) {
        points[i].kept = true;
        points[i].test_accuracy = Some(a);
    }
    Ok(TrainingResult {
        accuracy: combined.accuracy,
        n_train: partition.total,
        n_test: combined.n_test,
        test,
        forest_accuracy: Vec::new(),
        pca_variance_kept: vec![pca.variance_kept],
        confusion: combined.confusion,
        model_key: combined.model_key.to_string(),
        pipeline: Pipeline::Orion,
        grid: points,
        n_validation: fits.first().map_or(0, |f| f.n_validation),
    })
}
