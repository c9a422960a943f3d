//! The `validate` stage: measure the forests' soft vote on the held-out test set and publish the
//! model.

use faasml_core::Ctx;
use faasml_ml::metrics;
use faasml_store::Path;
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

struct Scored {
    accuracy: f64,
    forest_accuracy: Vec<f64>,
    confusion: Vec<Vec<u64>>,
}

fn score(model: &EnsembleModel, test: &faasml_datasets::ImageSet) -> Result<Scored> {
    let x = pixels_matrix(test)?;
    let member_probs = model.member_probas(x.view())?;
    let forest_accuracy = member_probs
        .iter()
        .map(|p| metrics::accuracy(&model::argmax_rows(p), &test.labels))
        .collect();
    let mut sum = vec![0.0f32; test.len() * model.n_classes];
    for probs in &member_probs {
        sum.iter_mut().zip(probs.data()).for_each(|(s, p)| *s += p);
    }
    let sum = faasml_ml::Matrix::new(test.len(), model.n_classes, sum)?;
    let predicted = model::argmax_rows(&sum);
    let n_classes = model.n_classes.max(test.n_classes());
    Ok(Scored {
        accuracy: metrics::accuracy(&predicted, &test.labels),
        forest_accuracy,
        confusion: metrics::confusion_matrix(&predicted, &test.labels, n_classes),
    })
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
    let test_sources = images::list(store, &input.test).await?;
    let test = images::load(store, &test_sources).await?;
    if test.pixels_per_image() != ensemble.n_pixels {
        return Err(WorkflowError::InvalidParams(format!(
            "test images under '{}' have {} pixels, the model was trained on {}",
            input.test,
            test.pixels_per_image(),
            ensemble.n_pixels
        )));
    }
    let n_test = test.len();
    let (rows, cols) = (test.rows, test.cols);
    let (ensemble, scored) = ctx
        .compute(move || score(&ensemble, &test).map(|s| (ensemble, s)))
        .await
        .map_err(WorkflowError::Compute)??;
    let tensors = ensemble.to_tensors(&[
        ("run_id", ctx.run_id().to_string()),
        ("accuracy", format!("{:.6}", scored.accuracy)),
        ("test", input.test.clone()),
        ("dataset", input.dataset.clone()),
        ("image_rows", rows.to_string()),
        ("image_cols", cols.to_string()),
        ("params", input.params.to_string()),
    ]);
    persist::put(store, &input.model_key, tensors).await?;
    Ok(ValidateOutput {
        accuracy: scored.accuracy,
        forest_accuracy: scored.forest_accuracy,
        n_test,
        confusion: scored.confusion,
        model_key: input.model_key,
    })
}
