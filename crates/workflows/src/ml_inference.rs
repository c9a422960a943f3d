//! The ml-inference workflow: predict a set of images with a published ml-training model.
//!
//! The driver deals the images into batches and fans out one `predict` invocation per batch.
//! A `predict` instance loads the model once and keeps it while warm, so only cold invocations
//! pay for the model download.

use std::sync::Arc;

use faasml_core::{Ctx, FunctionRef, Registry};
use faasml_ml::metrics;
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};
use crate::images::{self, ImageSource};
use crate::ml_training::model_key;
use crate::model::{self, EnsembleModel};

/// The driver.
pub const DRIVER: FunctionRef<InferenceParams, InferenceResult> =
    FunctionRef::new("ml-inference.driver");
/// Predicts one batch.
pub const PREDICT: FunctionRef<PredictInput, PredictOutput> =
    FunctionRef::new("ml-inference.predict");

/// Registers the ml-inference functions.
pub fn register(registry: &mut Registry) {
    registry.register(DRIVER, |p, ctx| async move { Ok(driver(p, ctx).await?) });
    registry.register(PREDICT, |i, ctx| async move { Ok(predict(i, ctx).await?) });
}

/// The parameters of an ml-inference run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InferenceParams {
    /// The published model's name.
    pub model: String,
    /// Prefix of the images to predict.
    pub data: String,
    /// Images per `predict` invocation.
    pub batch_size: usize,
}

impl Default for InferenceParams {
    /// The model `mnist-rf` on the MNIST test images, 1000 per batch.
    fn default() -> Self {
        Self {
            model: "mnist-rf".to_string(),
            data: "mnist-test".to_string(),
            batch_size: 1000,
        }
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
}

/// Input of `predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictInput {
    /// Key of the model.
    pub model_key: String,
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
}

async fn driver(params: InferenceParams, ctx: Ctx) -> Result<InferenceResult> {
    if params.batch_size == 0 {
        return Err(WorkflowError::InvalidParams(
            "batch_size must be at least 1".into(),
        ));
    }
    let store = ctx.store();
    let key = model_key(&params.model);
    if !store.exists(&Path::from(key.as_str())).await? {
        return Err(WorkflowError::InvalidParams(format!(
            "no model '{}' in {} (looked for '{key}'); run ml-training first",
            params.model,
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
    let mut counts = vec![0u64; predicted.iter().map(|&p| p as usize + 1).max().unwrap_or(0)];
    let mut csv = String::from("index,label,predicted\n");
    for (i, (&p, &l)) in predicted.iter().zip(&labels).enumerate() {
        counts[p as usize] += 1;
        csv.push_str(&format!("{i},{l},{p}\n"));
    }
    let predictions_key = format!("runs/{}/predictions.csv", ctx.run_id());
    store
        .put(&Path::from(predictions_key.as_str()), csv.into_bytes())
        .await?;
    Ok(InferenceResult {
        n: predicted.len(),
        accuracy: metrics::accuracy(&predicted, &labels),
        predicted_counts: counts,
        predictions_key,
        model_key: key,
    })
}

/// The model under `key`, kept by a warm `predict` instance.
async fn load_model(ctx: &Ctx, key: &str) -> Result<Arc<EnsembleModel>> {
    ctx.instance_state()
        .get_or_load(key, || async {
            let store = ctx.store();
            let arrays = store.get_arrays(&Path::from(key)).await?;
            EnsembleModel::from_arrays(&arrays).map_err(|reason| WorkflowError::CorruptModel {
                store: store.url().to_string(),
                key: key.to_string(),
                reason,
            })
        })
        .await
}

async fn predict(input: PredictInput, ctx: Ctx) -> Result<PredictOutput> {
    let model = load_model(&ctx, &input.model_key).await?;
    let set = images::load(ctx.store(), &input.sources).await?;
    if set.pixels_per_image() != model.n_pixels {
        return Err(WorkflowError::InvalidParams(format!(
            "images have {} pixels, the model expects {}",
            set.pixels_per_image(),
            model.n_pixels
        )));
    }
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
    })
}
