//! The `metatrainer` stage: the meta-model (logistic regression by default) on the stacked
//! out-of-fold scores — its own out-of-fold probabilities give the run's ROC-AUC, as the seed
//! reports it (but on probabilities, with the arguments in the right order) — then fitted on
//! all rows, scored on the held-out rows, and published with the base models as one
//! [`StackedModel`].

use faasml_core::{Ctx, now_micros};
use faasml_ml::{Algorithm, Persist as _, Task, metrics, model_selection};
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use super::reducer::MetaFeatures;
use super::stacked::StackedModel;
use super::trainer::EncodedModel;
use crate::error::{Result, WorkflowError};
use crate::kit::transfer::Transfer;
use crate::kit::{limits, persist};

/// Input of `metatrainer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetatrainerInput {
    /// The meta-features.
    pub meta: Transfer<MetaFeatures>,
    /// The base models fitted on all training rows, in trainer order.
    pub models: Vec<Transfer<EncodedModel>>,
    /// The meta-model (a binary classifier).
    pub algorithm: Algorithm,
    /// Folds of its out-of-fold probabilities.
    pub folds: usize,
    /// Where to publish the stacked model.
    #[serde(with = "faasml_store::serde_path")]
    pub model_key: Path,
    /// Metadata recorded with the model (data, parameters).
    pub about: Vec<(String, String)>,
}

/// Output of `metatrainer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetatrainerOutput {
    /// ROC-AUC of the meta-model's out-of-fold probabilities on the training rows.
    pub meta_oof_auc: f64,
    /// ROC-AUC of the stacked model on the held-out rows.
    pub holdout_auc: Option<f64>,
    /// Accuracy (threshold 0.5) of the stacked model on the held-out rows.
    pub holdout_accuracy: Option<f64>,
    /// Each base model's ROC-AUC alone on the held-out rows.
    pub base_holdout_auc: Vec<f64>,
    /// Where the stacked model was published.
    #[serde(with = "faasml_store::serde_path")]
    pub model_key: Path,
    /// The published object's version (ETag, size, time).
    pub model_version: String,
    /// Size of the published object.
    pub model_bytes: u64,
}

struct Trained {
    meta_oof_auc: f64,
    holdout_auc: Option<f64>,
    holdout_accuracy: Option<f64>,
    base_holdout_auc: Vec<f64>,
    meta: Box<dyn faasml_ml::Model>,
}

fn train(algorithm: &Algorithm, folds: usize, meta: &MetaFeatures) -> Result<Trained> {
    let data = meta.train.dataset(true)?;
    let oof = model_selection::cross_val_predict(algorithm, &data, folds)?;
    let meta_oof_auc = metrics::roc_auc(&meta.train.labels, &oof)?;
    let model = algorithm.fit(&data)?;
    let (mut holdout_auc, mut holdout_accuracy, mut base_holdout_auc) = (None, None, Vec::new());
    if let Some(test) = &meta.test {
        let p = model_selection::score(&model.predict(test.matrix()?.view())?)?;
        let both = test.class_counts().iter().all(|&n| n > 0);
        if both {
            holdout_auc = Some(metrics::roc_auc(&test.labels, &p)?);
            for c in 0..test.cols {
                let column: Vec<f64> = (0..test.rows)
                    .map(|r| f64::from(test.features[r * test.cols + c]))
                    .collect();
                base_holdout_auc.push(metrics::roc_auc(&test.labels, &column)?);
            }
        }
        let predicted: Vec<u8> = p.iter().map(|&p| u8::from(p >= 0.5)).collect();
        holdout_accuracy = Some(metrics::try_accuracy(&predicted, &test.labels)?);
    }
    Ok(Trained {
        meta_oof_auc,
        holdout_auc,
        holdout_accuracy,
        base_holdout_auc,
        meta: model,
    })
}

pub(super) async fn run(input: MetatrainerInput, ctx: Ctx) -> Result<MetatrainerOutput> {
    limits::at_most("folds", input.folds, limits::FOLDS)?;
    limits::at_most("base models", input.models.len(), limits::WORKERS)?;
    super::models::check_received(&input.algorithm)?;
    if input.algorithm.task() != Task::Classification || input.algorithm.name() == "linear-svc" {
        return Err(WorkflowError::InvalidParams(format!(
            "the meta-model must be a binary classifier that predicts probabilities, not {}",
            input.algorithm.name()
        )));
    }
    let meta = input.meta.receive(&ctx).await?;
    meta.train.check()?;
    if let Some(test) = &meta.test {
        test.check()?;
        if test.cols != meta.train.cols {
            return Err(WorkflowError::InvalidParams(format!(
                "held-out meta-features have {} columns, the training ones {}",
                test.cols, meta.train.cols
            )));
        }
    }
    if meta.train.cols != input.models.len() {
        return Err(WorkflowError::InvalidParams(format!(
            "{} meta-feature columns for {} base models",
            meta.train.cols,
            input.models.len()
        )));
    }
    let encoded =
        futures::future::try_join_all(input.models.into_iter().map(|m| m.receive(&ctx))).await?;
    let mut bases = Vec::with_capacity(encoded.len());
    for (i, EncodedModel(bytes)) in encoded.iter().enumerate() {
        let tensors = persist::from_bytes(bytes, &format!("base model {i}"))?;
        bases.push(
            Algorithm::load(&tensors).map_err(|e| WorkflowError::CorruptModel {
                store: "payload".into(),
                key: format!("base model {i}"),
                reason: e.to_string(),
            })?,
        );
    }
    let algorithm = input.algorithm.clone();
    let folds = input.folds;
    let trained = ctx
        .compute(move || train(&algorithm, folds, &meta))
        .await
        .map_err(WorkflowError::Compute)??;
    let stacked = StackedModel {
        bases,
        meta: trained.meta,
    };
    let mut tensors = stacked.to_tensors();
    for (k, v) in &input.about {
        tensors.set_meta(format!("stacking_{k}"), v.clone());
    }
    tensors.set_meta("run_id", ctx.run_id().to_string());
    tensors.set_meta("created_us", now_micros().to_string());
    persist::put(ctx.store(), &input.model_key, tensors).await?;
    let model_version = ctx.store().version(&input.model_key).await?;
    let model_bytes = model_version
        .split(':')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(MetatrainerOutput {
        meta_oof_auc: trained.meta_oof_auc,
        holdout_auc: trained.holdout_auc,
        holdout_accuracy: trained.holdout_accuracy,
        base_holdout_auc: trained.base_holdout_auc,
        model_key: input.model_key,
        model_version,
        model_bytes,
    })
}
