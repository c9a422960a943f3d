//! The Orion `gbdt` stage: one point of the grid. It splits the PCA slice's rows into training
//! and validation rows by a fixed rule (the same for every grid point, so their validation
//! accuracies compare), fits a multiclass gradient-boosted model on the training rows with the
//! point's feature fraction and boosting iterations (LightGBM's defaults otherwise), measures
//! its accuracy on the validation rows, and stores the model.

use std::time::Instant;

use faasml_core::Ctx;
use faasml_ml::gbdt::{self, Features, GbdtModel, GbdtParams, Objective, Solo};
use faasml_ml::tree::splitmix64;
use faasml_ml::{Matrix, Persist};
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};
use crate::kit::{limits, persist};

/// Input of `gbdt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtInput {
    /// Key of the slice (projected features and labels of every training image).
    #[serde(with = "faasml_store::serde_path")]
    pub slice: Path,
    /// Number of classes of the whole dataset.
    pub n_classes: usize,
    /// Share of the features each tree may split on.
    pub feature_fraction: f64,
    /// Boosting iterations (one tree per class each).
    pub trees: usize,
    /// Share of the rows held out for validation.
    pub validation: f64,
    /// Seed of the validation split and of the feature draws.
    pub seed: u64,
    /// Key to write the model to.
    #[serde(with = "faasml_store::serde_path")]
    pub out: Path,
}

/// Output of `gbdt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtOutput {
    /// Key of the stored model.
    #[serde(with = "faasml_store::serde_path")]
    pub model: Path,
    /// The feature fraction it was fitted with.
    pub feature_fraction: f64,
    /// The boosting iterations it was fitted with.
    pub trees: usize,
    /// Accuracy on the validation rows.
    pub validation_accuracy: f64,
    /// Seconds the fit took.
    pub fit_s: f64,
    /// Rows it was fitted on.
    pub n_train: usize,
    /// Rows it was validated on.
    pub n_validation: usize,
}

/// Whether row `i` is a validation row: `splitmix64(seed ^ i)`, read as a number in [0, 1),
/// falls below `share`.
pub fn is_validation_row(seed: u64, i: usize, share: f64) -> bool {
    let u = (splitmix64(seed ^ i as u64) >> 11) as f64 / (1u64 << 53) as f64;
    u < share
}

struct Fitted {
    model: GbdtModel,
    validation_accuracy: f64,
    fit_s: f64,
    n_train: usize,
    n_validation: usize,
}

/// Splits `features` (`rows x cols`) and `labels`, fits on the training rows, scores on the
/// validation rows.
fn fit(input: &GbdtInput, features: &[f32], labels: &[u8], cols: usize) -> Result<Fitted> {
    let mut train = (Vec::new(), Vec::new());
    let mut valid = (Vec::new(), Vec::new());
    for (i, &label) in labels.iter().enumerate() {
        let row = &features[i * cols..(i + 1) * cols];
        let side = if is_validation_row(input.seed, i, input.validation) {
            &mut valid
        } else {
            &mut train
        };
        side.0.extend_from_slice(row);
        side.1.push(f32::from(label));
    }
    let (n_train, n_validation) = (train.1.len(), valid.1.len());
    if n_train == 0 || n_validation == 0 {
        return Err(WorkflowError::TooSmall {
            prefix: input.slice.to_string(),
            reason: format!(
                "{} rows split into {n_train} training and {n_validation} validation rows at \
                 --validation {}; both need at least one",
                labels.len(),
                input.validation
            ),
        });
    }
    let x = Matrix::new(n_train, cols, train.0)?;
    let params = GbdtParams {
        objective: Objective::Multiclass {
            n_classes: input.n_classes,
        },
        n_iterations: input.trees,
        feature_fraction: input.feature_fraction,
        seed: input.seed,
        ..GbdtParams::default()
    };
    let started = Instant::now();
    let model = gbdt::train(
        &params,
        Features::Dense(x.view()),
        &train.1,
        &mut Solo,
        None,
        &mut |_, _| Ok(()),
    )?;
    let fit_s = started.elapsed().as_secs_f64();
    let v = Matrix::new(n_validation, cols, valid.0)?;
    let predicted = model.predict(Features::Dense(v.view()))?;
    let right = predicted
        .iter()
        .zip(&valid.1)
        .filter(|(p, t)| p == t)
        .count();
    Ok(Fitted {
        model,
        validation_accuracy: right as f64 / n_validation as f64,
        fit_s,
        n_train,
        n_validation,
    })
}

pub(super) async fn run(input: GbdtInput, ctx: Ctx) -> Result<GbdtOutput> {
    limits::at_most("trees", input.trees, limits::TREES)?;
    if !(input.validation > 0.0 && input.validation < 1.0) {
        return Err(WorkflowError::InvalidParams(format!(
            "--validation must be between 0 and 1 (exclusive), got {}",
            input.validation
        )));
    }
    let store = ctx.store();
    let slice_key = input.slice.clone();
    let slice = store.get_arrays(&slice_key).await?;
    let (shape, features) = slice
        .f32("features")
        .map_err(|reason| store.corrupt(&slice_key, reason))?;
    let (_, labels) = slice
        .u8("labels")
        .map_err(|reason| store.corrupt(&slice_key, reason))?;
    let cols = match shape {
        [rows, cols] if rows * cols == features.len() && *rows == labels.len() => *cols,
        other => {
            return Err(store
                .corrupt(
                    &slice_key,
                    format!(
                        "features have shape {other:?} for {} labels, expected [{}, columns]",
                        labels.len(),
                        labels.len()
                    ),
                )
                .into());
        }
    };
    let (features, labels) = (features.to_vec(), labels.to_vec());
    let job = input.clone();
    let fitted = ctx
        .compute(move || fit(&job, &features, &labels, cols))
        .await
        .map_err(WorkflowError::Compute)??;
    persist::put(store, &input.out, fitted.model.to_tensors()).await?;
    Ok(GbdtOutput {
        model: input.out,
        feature_fraction: input.feature_fraction,
        trees: input.trees,
        validation_accuracy: fitted.validation_accuracy,
        fit_s: fitted.fit_s,
        n_train: fitted.n_train,
        n_validation: fitted.n_validation,
    })
}
