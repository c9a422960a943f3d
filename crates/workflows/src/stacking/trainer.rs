//! The `trainer` stage: one base model's out-of-fold predictions on the training rows (as
//! scikit-learn's `cross_val_predict`), then the model fitted on all of them, its predictions
//! for the held-out rows, and its own out-of-fold ROC-AUC.
//!
//! Inputs and outputs travel as the run's transfer mode says: the rows inline or by key, the
//! predictions and the fitted model back the same way.

use std::time::Instant;

use faasml_core::Ctx;
use faasml_ml::{Algorithm, Task, metrics, model_selection};
use serde::{Deserialize, Serialize};

use super::table::LabelledRows;
use crate::error::{Result, WorkflowError};
use crate::kit::layout::Scratch;
use crate::kit::transfer::{Transfer, TransferMode};
use crate::kit::{limits, persist, wire};

/// Input of `trainer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerInput {
    /// The trainer's index among the run's trainers.
    pub index: usize,
    /// The base model to fit.
    pub algorithm: Algorithm,
    /// Folds of the out-of-fold predictions.
    pub folds: usize,
    /// The training rows.
    pub train: Transfer<LabelledRows>,
    /// The held-out rows, if the run holds some out.
    pub test: Option<Transfer<LabelledRows>>,
    /// How to hand the predictions and the model on.
    pub transfer: TransferMode,
}

/// Per-row scores (a regressor's prediction, or a classifier's probability of class 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores(#[serde(with = "wire::f64s")] pub Vec<f64>);

/// A fitted model as safetensors bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedModel(#[serde(with = "wire::bytes")] pub Vec<u8>);

/// Output of `trainer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerOutput {
    /// The trainer's index.
    pub index: usize,
    /// The base model's algorithm name.
    pub algorithm: String,
    /// Out-of-fold scores of the training rows.
    pub oof: Transfer<Scores>,
    /// Scores of the held-out rows by the model fitted on all training rows.
    pub holdout: Option<Transfer<Scores>>,
    /// The model fitted on all training rows.
    pub model: Transfer<EncodedModel>,
    /// ROC-AUC of the out-of-fold scores alone.
    pub oof_auc: f64,
    /// Seconds spent on the out-of-fold fits (side by side with the fit on all rows).
    pub cv_s: f64,
    /// Seconds spent on the fit on all rows and the held-out predictions.
    pub fit_s: f64,
    /// Seconds spent receiving the rows and handing the results on (transfer, decoding and
    /// encoding included).
    #[serde(default)]
    pub transfer_s: f64,
}

/// What the compute pool hands back.
struct Fitted {
    oof: Vec<f64>,
    holdout: Option<Vec<f64>>,
    model: faasml_ml::ModelTensors,
    oof_auc: f64,
    cv_s: f64,
    fit_s: f64,
}

fn fit(
    algorithm: &Algorithm,
    folds: usize,
    train: &LabelledRows,
    test: Option<&LabelledRows>,
) -> Result<Fitted> {
    let data = train.dataset(algorithm.task() == Task::Classification)?;
    // The out-of-fold fits and the fit on all rows are independent: run them side by side, so
    // that the last folds and the full fit (often single-threaded) share the cores instead of
    // one waiting for the other.
    let (oof, full) = rayon::join(
        || {
            let started = Instant::now();
            model_selection::cross_val_predict(algorithm, &data, folds)
                .map(|oof| (oof, started.elapsed().as_secs_f64()))
        },
        || {
            let started = Instant::now();
            algorithm
                .fit(&data)
                .map(|model| (model, started.elapsed().as_secs_f64()))
        },
    );
    let ((oof, cv_s), (model, mut fit_s)) = (oof?, full?);
    let started = Instant::now();
    let holdout = match test {
        Some(test) => Some(model_selection::score(
            &model.predict(test.matrix()?.view())?,
        )?),
        None => None,
    };
    fit_s += started.elapsed().as_secs_f64();
    let oof_auc = metrics::roc_auc(&train.labels, &oof)?;
    Ok(Fitted {
        oof,
        holdout,
        model: model.to_tensors(),
        oof_auc,
        cv_s,
        fit_s,
    })
}

pub(super) async fn run(input: TrainerInput, ctx: Ctx) -> Result<TrainerOutput> {
    limits::at_most("folds", input.folds, limits::FOLDS)?;
    let started = Instant::now();
    let (train, test) = futures::try_join!(input.train.receive(&ctx), async {
        match input.test {
            Some(t) => t.receive(&ctx).await.map(Some),
            None => Ok(None),
        }
    })?;
    train.check()?;
    if let Some(test) = &test {
        test.check()?;
        if test.cols != train.cols {
            return Err(WorkflowError::InvalidParams(format!(
                "held-out rows have {} features, training rows {}",
                test.cols, train.cols
            )));
        }
    }
    super::models::check_received(&input.algorithm)?;
    let mut transfer_s = started.elapsed().as_secs_f64();
    let algorithm = input.algorithm.clone();
    let folds = input.folds;
    let fitted = ctx
        .compute(move || fit(&algorithm, folds, &train, test.as_ref()))
        .await
        .map_err(WorkflowError::Compute)??;
    let started = Instant::now();
    let scratch = Scratch::of_run(ctx.run_id());
    let key = |file: &str| scratch.key(&format!("trainer-{}/{file}", input.index));
    let mode = input.transfer;
    let model = EncodedModel(persist::to_bytes(fitted.model)?);
    let holdout = match fitted.holdout {
        Some(h) => Some(Transfer::send(&ctx, mode, key("holdout.json"), Scores(h)).await?),
        None => None,
    };
    let oof = Transfer::send(&ctx, mode, key("oof.json"), Scores(fitted.oof)).await?;
    let model = Transfer::send(&ctx, mode, key("model.json"), model).await?;
    transfer_s += started.elapsed().as_secs_f64();
    Ok(TrainerOutput {
        index: input.index,
        algorithm: input.algorithm.name().to_string(),
        oof,
        holdout,
        model,
        oof_auc: fitted.oof_auc,
        cv_s: fitted.cv_s,
        fit_s: fitted.fit_s,
        transfer_s,
    })
}
