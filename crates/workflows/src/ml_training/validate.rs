//! The `validate` stage: measure the forests' soft vote on the held-out test set and publish the
//! model.

use faasml_core::Ctx;
use faasml_datasets::ImageSet;
use faasml_ml::{Matrix, metrics};
use faasml_store::{Path, Store};
use serde::{Deserialize, Serialize};

use crate::data::images::{self, pixels_matrix};
use crate::error::{Result, WorkflowError};
use crate::kit::limits;
use crate::kit::persist;
use crate::model::{self, EnsembleModel, Member};

/// Input of `validate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidateInput {
    /// Keys of the forests (each with its basis).
    #[serde(with = "faasml_store::serde_path::vec")]
    pub forests: Vec<Path>,
    /// Prefix of the test images.
    pub test: String,
    /// Key to publish the model under.
    #[serde(with = "faasml_store::serde_path")]
    pub model_key: Path,
    /// The family of the training data (e.g. `mnist`), recorded in the model so that inference
    /// can tell when it is given other data.
    #[serde(default)]
    pub dataset: String,
    /// The run's parameters, recorded in the model's metadata.
    pub params: serde_json::Value,
}

/// Output of `validate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidateOutput {
    /// Accuracy of the ensemble.
    pub accuracy: f64,
    /// Accuracy of each forest alone.
    pub forest_accuracy: Vec<f64>,
    /// Test images.
    pub n_test: usize,
    /// Confusion matrix (rows: true class).
    pub confusion: Vec<Vec<u64>>,
    /// Where the model was published.
    #[serde(with = "faasml_store::serde_path")]
    pub model_key: Path,
}

/// How a soft-voting ensemble did on the test images.
pub(super) struct Scored {
    pub(super) accuracy: f64,
    /// Each member alone, in the members' order.
    pub(super) member_accuracy: Vec<f64>,
    pub(super) confusion: Vec<Vec<u64>>,
}

/// Scores the members' class probabilities `member_probs` one by one and their combination
/// `combined` on `test`'s labels, over `n_classes` classes (the model's or the test's, more).
pub(super) fn score_votes(
    member_probs: &[Matrix],
    combined: &Matrix,
    test: &ImageSet,
    n_classes: usize,
) -> Scored {
    let member_accuracy = member_probs
        .iter()
        .map(|p| metrics::accuracy(&model::argmax_rows(p), &test.labels))
        .collect();
    let predicted = model::argmax_rows(combined);
    let n_classes = n_classes.max(test.n_classes());
    Scored {
        accuracy: metrics::accuracy(&predicted, &test.labels),
        member_accuracy,
        confusion: metrics::confusion_matrix(&predicted, &test.labels, n_classes),
    }
}

/// The test images under `prefix`, refused unless they have the `n_pixels` the model was
/// trained on.
pub(super) async fn load_test(store: &Store, prefix: &str, n_pixels: usize) -> Result<ImageSet> {
    let test_sources = images::list(store, prefix).await?;
    let test = images::load(store, &test_sources).await?;
    if test.pixels_per_image() != n_pixels {
        return Err(WorkflowError::InvalidParams(format!(
            "test images under '{prefix}' have {} pixels, the model was trained on {n_pixels}",
            test.pixels_per_image(),
        )));
    }
    Ok(test)
}

/// The metadata a published ensemble records: its run, its test accuracy and images, the
/// training data's family, the image shape and the run's parameters.
pub(super) fn model_metadata(
    ctx: &Ctx,
    accuracy: f64,
    test: &str,
    dataset: &str,
    (rows, cols): (u32, u32),
    params: &serde_json::Value,
) -> Vec<(&'static str, String)> {
    vec![
        ("run_id", ctx.run_id().to_string()),
        ("accuracy", format!("{accuracy:.6}")),
        ("test", test.to_string()),
        ("dataset", dataset.to_string()),
        ("image_rows", rows.to_string()),
        ("image_cols", cols.to_string()),
        ("params", params.to_string()),
    ]
}

fn score(model: &EnsembleModel, test: &ImageSet) -> Result<Scored> {
    let x = pixels_matrix(test)?;
    let member_probs = model.member_probas(x.view())?;
    let mut sum = vec![0.0f32; test.len() * model.n_classes];
    for probs in &member_probs {
        sum.iter_mut().zip(probs.data()).for_each(|(s, p)| *s += p);
    }
    let sum = Matrix::new(test.len(), model.n_classes, sum)?;
    Ok(score_votes(&member_probs, &sum, test, model.n_classes))
}

pub(super) async fn run(input: ValidateInput, ctx: Ctx) -> Result<ValidateOutput> {
    limits::at_most("forests", input.forests.len(), limits::FORESTS)?;
    let store = ctx.store();
    let loads = input.forests.iter().map(|key| async move {
        let tensors = persist::get(store, key).await?;
        Member::from_tensors(&tensors).map_err(|reason| persist::corrupt(store, key, reason))
    });
    let members = futures::future::try_join_all(loads).await?;
    let ensemble = EnsembleModel::new(members).map_err(|reason| WorkflowError::CorruptModel {
        store: store.url().to_string(),
        key: input
            .forests
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        reason,
    })?;
    let test = load_test(store, &input.test, ensemble.n_pixels).await?;
    let n_test = test.len();
    let (rows, cols) = (test.rows, test.cols);
    let (ensemble, scored) = ctx
        .compute(move || score(&ensemble, &test).map(|s| (ensemble, s)))
        .await
        .map_err(WorkflowError::Compute)??;
    let tensors = ensemble.to_tensors(&model_metadata(
        &ctx,
        scored.accuracy,
        &input.test,
        &input.dataset,
        (rows, cols),
        &input.params,
    ));
    persist::put(store, &input.model_key, tensors).await?;
    Ok(ValidateOutput {
        accuracy: scored.accuracy,
        forest_accuracy: scored.member_accuracy,
        n_test,
        confusion: scored.confusion,
        model_key: input.model_key,
    })
}
