//! The ml-inference workflow: predict a set of images with a published ml-training model.
//!
//! The driver deals the images into batches and fans out one `predict` invocation per batch.
//! A `predict` instance loads the model once and keeps it while warm, so only cold invocations
//! pay for the model download; it reloads when the model object changed (republished under the
//! same name). The predictions are written as CSV to `results/<run id>/predictions.csv`.
//!
//! A model records the dataset family it was trained on; predicting another family's images is
//! allowed (a user's own data, say) but comes with a warning, since a digit model labelling
//! clothes reports a meaningless accuracy. Images of another size are refused.

use std::sync::Arc;

use faasml_core::{Ctx, FunctionRef, Registry};
use faasml_ml::metrics;
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use crate::data::images::ImageSource;
use crate::data::{self, images};
use crate::error::{Result, WorkflowError};
use crate::kit::{BenchSpec, Metric, Workflow};
use crate::kit::{layout, persist};
use crate::model::{self, EnsembleModel};

/// The driver.
pub const DRIVER: FunctionRef<InferenceParams, InferenceResult> =
    FunctionRef::new("ml-inference.driver");
/// Predicts one batch.
pub const PREDICT: FunctionRef<PredictInput, PredictOutput> =
    FunctionRef::new("ml-inference.predict");

/// The ml-inference workflow.
#[derive(Debug, Clone, Copy)]
pub struct MlInference;

/// The parameters of an ml-inference run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(default)]
pub struct InferenceParams {
    /// Name of the published model (default: the data's family followed by -rf, e.g. mnist-rf).
    #[cfg_attr(feature = "cli", arg(long))]
    pub model: Option<String>,
    /// Prefix of the images to predict (a bundled name is imported on first use).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = InferenceParams::default().data))]
    pub data: String,
    /// Images per predict invocation.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = InferenceParams::default().batch_size))]
    pub batch_size: usize,
}

impl Default for InferenceParams {
    /// The MNIST test images, 1000 per batch, with the model trained on MNIST.
    fn default() -> Self {
        Self {
            model: None,
            data: "mnist-test".to_string(),
            batch_size: 1000,
        }
    }
}

impl InferenceParams {
    /// The model name: the one given, or `<family of the data>-rf`.
    pub fn model_name(&self) -> String {
        data::model_name(&self.data, self.model.as_deref(), "rf")
    }
}

/// What an ml-inference run produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferenceResult {
    /// Images predicted.
    pub n: usize,
    /// Accuracy against the labels the images carry.
    pub accuracy: f64,
    /// How many images were predicted as each class.
    pub predicted_counts: Vec<u64>,
    /// Key of the CSV of predictions (`index,label,predicted`).
    pub predictions_key: String,
    /// The model used.
    pub model_key: String,
    /// The dataset family the model was trained on, as it records it.
    #[serde(default)]
    pub model_dataset: Option<String>,
    /// Why the result may not mean what it seems (e.g. images of another family than the
    /// model's).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Input of `predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictInput {
    /// Key of the model.
    #[serde(with = "faasml_store::serde_path")]
    pub model_key: Path,
    /// The images.
    pub sources: Vec<ImageSource>,
}

/// Output of `predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictOutput {
    /// Predicted class per image.
    pub predicted: Vec<u8>,
    /// The label each image carries.
    pub labels: Vec<u8>,
    /// The dataset family the model records, if it records one.
    #[serde(default)]
    pub model_dataset: Option<String>,
}

impl Workflow for MlInference {
    const NAME: &'static str = "ml-inference";
    const ABOUT: &'static str = "Predict images with a model published by ml-training.";
    type Params = InferenceParams;
    type Output = InferenceResult;
    const DRIVER: FunctionRef<InferenceParams, InferenceResult> = DRIVER;

    async fn drive(params: InferenceParams, ctx: Ctx) -> Result<InferenceResult> {
        driver(params, ctx).await
    }

    fn register(registry: &mut Registry) {
        registry.register(PREDICT, predict);
    }

    fn resolve(params: &mut InferenceParams) {
        params.data = data::clean_prefix(&params.data);
        params.model = Some(params.model_name());
    }

    fn validate(params: &InferenceParams) -> Result<()> {
        if params.batch_size == 0 {
            return Err(WorkflowError::InvalidParams(
                "batch_size must be at least 1".into(),
            ));
        }
        crate::kit::limits::at_most("batch size", params.batch_size, crate::kit::limits::BATCH)?;
        if params.data.is_empty() {
            return Err(WorkflowError::InvalidParams(
                "the data prefix must not be empty".into(),
            ));
        }
        data::check_name("model", &params.model_name())
    }

    fn datasets(params: &InferenceParams) -> Vec<String> {
        vec![params.data.clone()]
    }

    fn summary(_params: &InferenceParams, result: &InferenceResult) -> String {
        format!(
            "predicted {} images with {}: accuracy {:.4}; predictions in {}",
            result.n, result.model_key, result.accuracy, result.predictions_key
        )
    }

    fn warnings(result: &InferenceResult) -> Vec<String> {
        result.warnings.clone()
    }

    fn bench() -> BenchSpec<InferenceResult> {
        BenchSpec {
            metrics: vec![Metric {
                name: "accuracy",
                unit: "",
                value: |r| Some(r.accuracy),
            }],
            ..BenchSpec::basic()
        }
    }
}

async fn driver(params: InferenceParams, ctx: Ctx) -> Result<InferenceResult> {
    let store = ctx.store();
    let name = params.model_name();
    let key = model::ensemble_key(&name);
    if !store.exists(&key).await? {
        return Err(WorkflowError::InvalidParams(format!(
            "no model '{name}' in {} (looked for '{key}'); run ml-training first, or name the \
             model with --model",
            store.url()
        )));
    }
    let sources = images::list(store, &params.data).await?;
    let n = images::count(&sources);
    let batches = n.div_ceil(params.batch_size);
    let inputs = images::deal_contiguous(&sources, batches)
        .into_iter()
        .map(|sources| PredictInput {
            model_key: key.clone(),
            sources,
        })
        .collect();
    let outputs = ctx.map(PREDICT, inputs).await?;
    let predicted: Vec<u8> = outputs.iter().flat_map(|o| o.predicted.clone()).collect();
    let labels: Vec<u8> = outputs.iter().flat_map(|o| o.labels.clone()).collect();
    let model_dataset = outputs.iter().find_map(|o| o.model_dataset.clone());
    let mut counts = vec![0u64; predicted.iter().map(|&p| p as usize + 1).max().unwrap_or(0)];
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["index", "label", "predicted"])
        .map_err(|e| WorkflowError::InvalidParams(format!("cannot write the CSV: {e}")))?;
    for (i, (&p, &l)) in predicted.iter().zip(&labels).enumerate() {
        counts[p as usize] += 1;
        csv.write_record([i.to_string(), l.to_string(), p.to_string()])
            .map_err(|e| WorkflowError::InvalidParams(format!("cannot write the CSV: {e}")))?;
    }
    let csv = csv
        .into_inner()
        .map_err(|e| WorkflowError::InvalidParams(format!("cannot write the CSV: {e}")))?;
    let predictions_key = layout::result_key(ctx.run_id(), "predictions.csv");
    store.put(&predictions_key, csv).await?;
    // Families are compared only when both are known ones: a prefix of the user's own naming
    // says nothing about what its images are.
    let mut warnings = Vec::new();
    if let (Some((family, _)), Some(trained)) =
        (data::family_member(&params.data), model_dataset.as_deref())
        && data::is_bundled_family(trained)
        && trained != family
    {
        warnings.push(format!(
            "model '{name}' was trained on {trained} images, but '{}' holds {family} \
                 images: its accuracy on them says little (pick the model with --model)",
            params.data
        ));
    }
    Ok(InferenceResult {
        n: predicted.len(),
        accuracy: metrics::accuracy(&predicted, &labels),
        predicted_counts: counts,
        predictions_key: predictions_key.to_string(),
        model_key: key.to_string(),
        model_dataset,
        warnings,
    })
}

/// The model under `key` as a warm `predict` instance keeps it: reloaded when the stored object
/// changed since it was loaded (its ETag or size and time), so a republished model is used.
async fn load_model(ctx: &Ctx, key: &Path) -> Result<Arc<EnsembleModel>> {
    let store = ctx.store();
    let version = format!("{key}@{}", store.version(key).await?);
    ctx.instance_state()
        .get_or_load(&version, || async {
            let tensors = persist::get(store, key).await?;
            EnsembleModel::from_tensors(&tensors)
                .map_err(|reason| persist::corrupt(store, key, reason))
        })
        .await
}

async fn predict(input: PredictInput, ctx: Ctx) -> Result<PredictOutput> {
    let model = load_model(&ctx, &input.model_key).await?;
    let set = images::load(ctx.store(), &input.sources).await?;
    if set.pixels_per_image() != model.n_pixels {
        return Err(WorkflowError::InvalidParams(format!(
            "images are {}x{} ({} pixels), the model '{}' expects {} pixels",
            set.rows,
            set.cols,
            set.pixels_per_image(),
            input.model_key,
            model.n_pixels
        )));
    }
    let model_dataset = model.dataset.clone();
    let (predicted, set) = ctx
        .compute(move || {
            let probs = model.predict_proba_pixels(&set.pixels, set.len())?;
            Ok::<_, WorkflowError>((model::argmax_rows(&probs), set))
        })
        .await
        .map_err(WorkflowError::Compute)??;
    Ok(PredictOutput {
        predicted,
        labels: set.labels,
        model_dataset,
    })
}
