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
//! The driver runs the stages, and deletes the run's scratch objects when it finishes (always on
//! failure; on success unless asked to keep them), so a failed run leaves nothing half-written.

mod partition;
pub(crate) mod pca;
mod rf;
mod validate;

use faasml_core::{Ctx, FunctionRef, Registry};
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};
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

/// Registers the ml-training functions.
pub fn register(registry: &mut Registry) {
    registry.register(DRIVER, |p, ctx| async move { Ok(driver(p, ctx).await?) });
    registry.register(PARTITION, |i, ctx| async move {
        Ok(partition::run(i, ctx).await?)
    });
    registry.register(PCA, |i, ctx| async move { Ok(pca::run(i, ctx).await?) });
    registry.register(RF, |i, ctx| async move { Ok(rf::run(i, ctx).await?) });
    registry.register(VALIDATE, |i, ctx| async move {
        Ok(validate::run(i, ctx).await?)
    });
}

/// The parameters of an ml-training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainingParams {
    /// Prefix of the training images in the store (a bundled name such as `mnist-2k` is
    /// imported on first use).
    pub data: String,
    /// Prefix of the held-out test images.
    pub test: String,
    /// Number of PCA functions (shards).
    pub n_pca: usize,
    /// Number of random-forest functions; a multiple of `n_pca`.
    pub n_rf: usize,
    /// PCA components.
    pub components: usize,
    /// Trees per forest.
    pub trees: usize,
    /// Maximum tree depth.
    pub depth: usize,
    /// Minimum samples to split a node.
    pub min_samples_split: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Name the model is published under (`models/<name>/model.safetensors`).
    pub model: String,
    /// Keep the intermediate objects of a successful run under `runs/<run id>/`.
    pub keep_intermediate: bool,
}

impl Default for TrainingParams {
    /// The seed's `mnist-2k 2 8` with its forest settings (100 trees, depth 10, 5 samples) and 10
    /// PCA components.
    fn default() -> Self {
        Self {
            data: "mnist-2k".to_string(),
            test: "mnist-test".to_string(),
            n_pca: 2,
            n_rf: 8,
            components: 10,
            trees: 100,
            depth: 10,
            min_samples_split: 5,
            seed: 42,
            model: "mnist-rf".to_string(),
            keep_intermediate: false,
        }
    }
}

impl TrainingParams {
    /// Checks the parameters before anything runs.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(WorkflowError::InvalidParams(m));
        if self.n_pca == 0 || self.n_rf == 0 {
            return fail("n_pca and n_rf must be at least 1".into());
        }
        if self.n_rf % self.n_pca != 0 {
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
        if self.data.trim_matches('/').is_empty() || self.test.trim_matches('/').is_empty() {
            return fail("the data and test prefixes must not be empty".into());
        }
        if self.model.is_empty() || self.model.contains(['/', ' ']) {
            return fail(format!(
                "model name '{}' must be non-empty, without '/' or spaces",
                self.model
            ));
        }
        Ok(())
    }

    /// Where the model is published.
    pub fn model_key(&self) -> String {
        model_key(&self.model)
    }
}

/// The key of the published model called `name`.
pub fn model_key(name: &str) -> String {
    format!("models/{name}/model.safetensors")
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
    /// Accuracy of each forest alone on the test set.
    pub forest_accuracy: Vec<f64>,
    /// Fraction of the variance each shard's PCA kept.
    pub pca_variance_kept: Vec<f64>,
    /// Confusion matrix, rows = true class, columns = predicted class.
    pub confusion: Vec<Vec<u64>>,
    /// Key of the published model.
    pub model_key: String,
}

async fn driver(params: TrainingParams, ctx: Ctx) -> Result<TrainingResult> {
    params.validate()?;
    let scratch = format!("runs/{}", ctx.run_id());
    let result = stages(&params, &ctx, &scratch).await;
    if result.is_err() || !params.keep_intermediate {
        // Cleaning up is best effort: the run's outcome stands either way.
        let _ = ctx
            .store()
            .delete_prefix(&Path::from(scratch.as_str()))
            .await;
    }
    result
}

async fn stages(params: &TrainingParams, ctx: &Ctx, scratch: &str) -> Result<TrainingResult> {
    let partition = ctx
        .invoke(
            PARTITION,
            &PartitionInput {
                data: params.data.clone(),
                n_pca: params.n_pca,
                n_rf: params.n_rf,
                components: params.components,
                out: format!("{scratch}/partition"),
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
            out: format!("{scratch}/pca-{i}"),
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
            out: format!("{scratch}/rf/forest-{k}.safetensors"),
        })
        .collect();
    let forests = ctx.map(RF, rf_inputs).await?;
    let validation = ctx
        .invoke(
            VALIDATE,
            &ValidateInput {
                forests: forests.iter().map(|f| f.forest.clone()).collect(),
                test: params.test.clone(),
                model_key: params.model_key(),
                params: serde_json::to_value(params).unwrap_or_default(),
            },
        )
        .await?;
    Ok(TrainingResult {
        accuracy: validation.accuracy,
        n_train: partition.total,
        n_test: validation.n_test,
        forest_accuracy: validation.forest_accuracy,
        pca_variance_kept: pcas.iter().map(|p| p.variance_kept).collect(),
        confusion: validation.confusion,
        model_key: validation.model_key,
    })
}
