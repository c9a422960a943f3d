//! The Orion combination: the best grid models by validation accuracy, averaged, and the
//! `orion-combine` stage that scores them on the held-out test set and publishes them.
//!
//! The published model is one object, `models/<name>/orion.safetensors`: the PCA basis nested
//! under `pca.` and member `i`'s boosted trees under `member-<i>.`, with a format tag and version
//! in the metadata. Prediction projects the images once and averages the members' softmax
//! probabilities.

use faasml_core::Ctx;
use faasml_ml::gbdt::{Features, GbdtModel, Objective};
use faasml_ml::pca::PcaModel;
use faasml_ml::{Matrix, MatrixView, ModelTensors, Persist};
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use super::validate::{Scored, load_test, model_metadata, score_votes};
use crate::data::images::pixels_matrix;
use crate::error::{Result, WorkflowError};
use crate::kit::{limits, persist};

/// The file name of a published Orion model in its `models/<name>/` prefix.
pub const ORION_FILE: &str = "orion.safetensors";
/// The format tag of a published Orion model.
pub const ORION_FORMAT: &str = "faasml.pca-gbdt-orion";
/// The version of the Orion format this build writes and reads.
pub const ORION_VERSION: u32 = 1;

/// The indices of the `keep` best of `accuracies`, best first; equal accuracies keep their
/// order (the grid's).
pub fn best(accuracies: &[f64], keep: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..accuracies.len()).collect();
    order.sort_by(|&a, &b| accuracies[b].total_cmp(&accuracies[a]));
    order.truncate(keep);
    order
}

/// The combined model: one PCA basis and boosted members averaging their probabilities.
#[derive(Debug, Clone)]
pub struct OrionModel {
    /// The projection every member's features come from.
    pub pca: PcaModel,
    /// The members.
    pub members: Vec<GbdtModel>,
    /// Number of classes.
    pub n_classes: usize,
}

impl OrionModel {
    /// A model of `members` on `pca`; they must be softmax models of the same classes on the
    /// basis's components.
    pub fn new(pca: PcaModel, members: Vec<GbdtModel>) -> std::result::Result<Self, String> {
        let first = members
            .first()
            .ok_or("an Orion model needs at least one member")?;
        let n_classes = match first.objective() {
            Objective::Multiclass { n_classes } => n_classes,
            other => return Err(format!("member 0 has objective {}", other.name())),
        };
        for (i, m) in members.iter().enumerate() {
            if m.objective() != first.objective() || m.n_features() != pca.n_components() {
                return Err(format!(
                    "member {i} is a {} model on {} features; member 0 is multiclass with \
                     {n_classes} classes and the basis gives {} components",
                    m.objective().name(),
                    m.n_features(),
                    pca.n_components()
                ));
            }
        }
        Ok(Self {
            pca,
            members,
            n_classes,
        })
    }

    /// The model as tensors with its format tag and `metadata`.
    pub fn to_tensors(&self, metadata: &[(&str, String)]) -> ModelTensors {
        let mut tensors = ModelTensors::default();
        tensors.set_meta("format", ORION_FORMAT);
        tensors.set_meta("version", ORION_VERSION.to_string());
        tensors.set_meta("members", self.members.len().to_string());
        for (k, v) in metadata {
            tensors.set_meta(*k, v.clone());
        }
        tensors.insert_nested("pca", self.pca.to_tensors());
        for (i, member) in self.members.iter().enumerate() {
            tensors.insert_nested(&format!("member-{i}"), member.to_tensors());
        }
        tensors
    }

    /// Reads a published Orion model, checking its format tag and version.
    pub fn from_tensors(tensors: &ModelTensors) -> std::result::Result<Self, String> {
        let meta = |key: &str| tensors.meta.get(key).map(String::as_str);
        if meta("format") != Some(ORION_FORMAT) {
            return Err(format!(
                "format tag is {:?}, expected \"{ORION_FORMAT}\"",
                meta("format")
            ));
        }
        let version = meta("version").unwrap_or("?");
        if version != ORION_VERSION.to_string() {
            return Err(format!(
                "Orion format version {version}; this build reads version {ORION_VERSION}"
            ));
        }
        let count: usize = meta("members")
            .and_then(|m| m.parse().ok())
            .ok_or("metadata 'members' is missing or not a number")?;
        // Checked against what the file holds before anything is read: a forged count cannot
        // make the reader loop.
        let stored = tensors.nested_prefixes();
        if count == 0 || count >= stored.len() {
            return Err(format!(
                "metadata says {count} members, the file holds {} nested models with the basis",
                stored.len()
            ));
        }
        let pca =
            PcaModel::from_tensors(&tensors.nested("pca")).map_err(|e| format!("pca: {e}"))?;
        let members = (0..count)
            .map(|i| {
                GbdtModel::from_tensors(&tensors.nested(&format!("member-{i}")))
                    .map_err(|e| format!("member-{i}: {e}"))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Self::new(pca, members)
    }

    /// Pixels per image the model expects.
    pub fn n_pixels(&self) -> usize {
        self.pca.n_features()
    }

    /// Each member's class probabilities (softmax of its raw scores) for scaled pixel rows.
    pub fn member_probas(&self, x: MatrixView<'_>) -> Result<Vec<Matrix>> {
        use rayon::prelude::*;
        let projected = self.pca.transform(x)?;
        let k = self.n_classes;
        self.members
            .par_iter()
            .map(|m| {
                let raw = m.predict_raw(Features::Dense(projected.view()))?;
                let mut probs = Vec::with_capacity(raw.len());
                for row in raw.chunks_exact(k) {
                    let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let exp: Vec<f64> = row.iter().map(|&s| (s - top).exp()).collect();
                    let sum: f64 = exp.iter().sum();
                    probs.extend(exp.iter().map(|&e| (e / sum) as f32));
                }
                Ok(Matrix::new(x.rows(), k, probs)?)
            })
            .collect()
    }

    /// The members' averaged class probabilities for scaled pixel rows.
    pub fn predict_proba(&self, x: MatrixView<'_>) -> Result<Matrix> {
        Ok(average(&self.member_probas(x)?, x.rows(), self.n_classes)?)
    }
}

fn average(probs: &[Matrix], rows: usize, k: usize) -> faasml_ml::Result<Matrix> {
    let mut sum = vec![0.0f32; rows * k];
    for p in probs {
        sum.iter_mut().zip(p.data()).for_each(|(s, v)| *s += v);
    }
    let scale = 1.0 / probs.len().max(1) as f32;
    sum.iter_mut().for_each(|s| *s *= scale);
    Matrix::new(rows, k, sum)
}

/// Input of `orion-combine`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrionCombineInput {
    /// Keys of the kept grid models, best first.
    #[serde(with = "faasml_store::serde_path::vec")]
    pub members: Vec<Path>,
    /// Key of the PCA basis their features were projected with.
    #[serde(with = "faasml_store::serde_path")]
    pub basis: Path,
    /// Prefix of the test images.
    pub test: String,
    /// Key to publish the model under.
    #[serde(with = "faasml_store::serde_path")]
    pub model_key: Path,
    /// The family of the training data, recorded in the model.
    #[serde(default)]
    pub dataset: String,
    /// The run's parameters, recorded in the model's metadata.
    pub params: serde_json::Value,
}

/// Output of `orion-combine`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrionCombineOutput {
    /// Accuracy of the combined model on the test set.
    pub accuracy: f64,
    /// Accuracy of each member alone, in the order of the input.
    pub member_accuracy: Vec<f64>,
    /// Test images.
    pub n_test: usize,
    /// Confusion matrix (rows: true class).
    pub confusion: Vec<Vec<u64>>,
    /// Where the model was published.
    #[serde(with = "faasml_store::serde_path")]
    pub model_key: Path,
}

fn score(model: &OrionModel, test: &faasml_datasets::ImageSet) -> Result<Scored> {
    let x = pixels_matrix(test)?;
    let member_probs = model.member_probas(x.view())?;
    let combined = average(&member_probs, test.len(), model.n_classes)?;
    Ok(score_votes(&member_probs, &combined, test, model.n_classes))
}

pub(super) async fn run(input: OrionCombineInput, ctx: Ctx) -> Result<OrionCombineOutput> {
    limits::at_most("members", input.members.len(), limits::FORESTS)?;
    let store = ctx.store();
    let basis = persist::get(store, &input.basis).await?;
    let pca = PcaModel::from_tensors(&basis.nested("pca"))
        .map_err(|e| persist::corrupt(store, &input.basis, e.to_string()))?;
    let loads = input
        .members
        .iter()
        .map(|key| persist::load::<GbdtModel>(store, key));
    let members = futures::future::try_join_all(loads).await?;
    let combined = OrionModel::new(pca, members).map_err(|reason| WorkflowError::CorruptModel {
        store: store.url().to_string(),
        key: input
            .members
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        reason,
    })?;
    let test = load_test(store, &input.test, combined.n_pixels()).await?;
    let n_test = test.len();
    let (rows, cols) = (test.rows, test.cols);
    let (combined, scored) = ctx
        .compute(move || score(&combined, &test).map(|s| (combined, s)))
        .await
        .map_err(WorkflowError::Compute)??;
    let tensors = combined.to_tensors(&model_metadata(
        &ctx,
        scored.accuracy,
        &input.test,
        &input.dataset,
        (rows, cols),
        &input.params,
    ));
    persist::put(store, &input.model_key, tensors).await?;
    Ok(OrionCombineOutput {
        accuracy: scored.accuracy,
        member_accuracy: scored.member_accuracy,
        n_test,
        confusion: scored.confusion,
        model_key: input.model_key,
    })
}

#[cfg(test)]
mod tests {
    use super::best;

    #[test]
    fn the_best_come_first_and_ties_keep_grid_order() {
        assert_eq!(best(&[0.5, 0.9, 0.7, 0.9, 0.1], 3), vec![1, 3, 2]);
        assert_eq!(best(&[0.5, 0.5], 5), vec![0, 1]);
    }
}
