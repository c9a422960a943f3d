//! The `stacking-inference` workflow: scores rows with a published stacked model — a table in
//! the store (its binary target gives ROC-AUC and accuracy), or by default the held-out rows of
//! the data the model was trained on, remade from the parameters the model records — and
//! writes the probabilities to `results/<run id>/predictions.csv`.
//!
//! The driver reads the rows and hands them to one `score` invocation through the object
//! store; `score` loads the model (kept while its instance is warm and the object unchanged),
//! predicts, and writes the CSV.

use std::sync::Arc;

use faasml_core::{Ctx, FunctionRef, Registry};
use faasml_ml::{Persist as _, metrics};
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use super::table::{self, LabelledRows};
use super::trainer::Scores;
use super::{StackedModel, StackingParams, stacked_model_key};
use crate::data;
use crate::error::{Result, WorkflowError};
use crate::kit::layout::{Scratch, result_key};
use crate::kit::transfer::{Transfer, TransferMode};
use crate::kit::{BenchSpec, Metric, Workflow, persist};

/// The driver.
pub const DRIVER: FunctionRef<ScoringParams, ScoringResult> =
    FunctionRef::new("stacking-inference.driver");
/// Scores rows with the model.
pub const SCORE: FunctionRef<ScoreInput, ScoreOutput> =
    FunctionRef::new("stacking-inference.score");

/// The stacking-inference workflow.
#[derive(Debug, Clone, Copy)]
pub struct StackingInference;

/// The parameters of a stacking-inference run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(default)]
pub struct ScoringParams {
    /// Name of the published stacked model (default: the data's name followed by -stacking,
    /// or synthetic-stacking).
    #[cfg_attr(feature = "cli", arg(long))]
    pub model: Option<String>,
    /// Prefix of a table to score (CSV with --target, or LIBSVM). Default: the held-out rows
    /// of the data the model was trained on (synthetic or a table), split as training split
    /// it, so the run reproduces the training run's held-out figures.
    #[cfg_attr(feature = "cli", arg(long))]
    pub data: Option<String>,
    /// Target column of a CSV table.
    #[cfg_attr(feature = "cli", arg(long))]
    pub target: Option<String>,
}

impl ScoringParams {
    /// The model name.
    pub fn model_name(&self) -> String {
        super::model_name(self.model.as_deref(), self.data.as_deref())
    }
}

/// What a stacking-inference run produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringResult {
    /// What was scored.
    pub data: String,
    /// Rows scored.
    pub n: usize,
    /// ROC-AUC against the rows' labels.
    pub auc: f64,
    /// Accuracy at threshold 0.5.
    pub accuracy: f64,
    /// The model's key.
    pub model_key: String,
    /// Key of the CSV of probabilities (`row,label,probability,predicted`).
    pub predictions_key: String,
}

/// Input of `score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreInput {
    /// The stacked model.
    #[serde(with = "faasml_store::serde_path")]
    pub model_key: Path,
    /// The rows.
    pub rows: Transfer<LabelledRows>,
    /// Where to write the scores (under the run's scratch).
    #[serde(with = "faasml_store::serde_path")]
    pub out: Path,
}

/// Output of `score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreOutput {
    /// Rows scored.
    pub n: usize,
    /// ROC-AUC.
    pub auc: f64,
    /// Accuracy at threshold 0.5.
    pub accuracy: f64,
    /// The probability of class 1 for each row.
    pub scores: Transfer<Scores>,
}

/// A loaded model and the object version it came from.
struct Loaded {
    key: Path,
    version: String,
    model: StackedModel,
}

async fn score(input: ScoreInput, ctx: Ctx) -> Result<ScoreOutput> {
    let rows = input.rows.receive(&ctx).await?;
    rows.check()?;
    let store = ctx.store();
    let version = store.version(&input.model_key).await?;
    let cached = ctx.instance_state().get::<Loaded>();
    let loaded = match cached.filter(|l| l.key == input.model_key && l.version == version) {
        Some(loaded) => loaded,
        None => {
            let tensors = persist::get(store, &input.model_key).await?;
            let model = StackedModel::from_tensors(&tensors)
                .map_err(|e| persist::corrupt(store, &input.model_key, e.to_string()))?;
            let loaded = Arc::new(Loaded {
                key: input.model_key.clone(),
                version,
                model,
            });
            ctx.instance_state().insert(loaded.clone());
            loaded
        }
    };
    let n_features = faasml_ml::Predict::n_features(&loaded.model);
    if rows.cols != n_features {
        return Err(WorkflowError::InvalidParams(format!(
            "the rows have {} features, the model '{}' takes {n_features}",
            rows.cols, input.model_key
        )));
    }
    let model = loaded.clone();
    let (scores, auc, accuracy) = ctx
        .compute(move || -> Result<_> {
            let p = model.model.score(rows.matrix()?.view())?;
            let auc = metrics::roc_auc(&rows.labels, &p)?;
            let predicted: Vec<u8> = p.iter().map(|&v| u8::from(v >= 0.5)).collect();
            let accuracy = metrics::try_accuracy(&predicted, &rows.labels)?;
            Ok((p, auc, accuracy))
        })
        .await
        .map_err(WorkflowError::Compute)??;
    let n = scores.len();
    let scores = Transfer::send(&ctx, TransferMode::Store, input.out, Scores(scores)).await?;
    Ok(ScoreOutput {
        n,
        auc,
        accuracy,
        scores,
    })
}

async fn stages(params: &ScoringParams, ctx: &Ctx) -> Result<ScoringResult> {
    let model_key = stacked_model_key(&params.model_name());
    if !ctx.store().exists(&model_key).await? {
        return Err(WorkflowError::InvalidParams(format!(
            "no stacked model '{}' in {} ({model_key} is missing): publish one with `faasml run \
             stacking` (--model NAME) first",
            params.model_name(),
            ctx.store().url()
        )));
    }
    let (data, rows) = match &params.data {
        Some(prefix) => (
            prefix.clone(),
            super::table_rows(ctx, prefix, params.target.as_deref()).await?,
        ),
        None => {
            let tensors = persist::get(ctx.store(), &model_key).await?;
            let trained: StackingParams = tensors
                .meta
                .get("stacking_params")
                .and_then(|p| serde_json::from_str(p).ok())
                .ok_or_else(|| {
                    WorkflowError::InvalidParams(format!(
                        "the model '{}' does not record the data it was trained on: score a \
                         table with --data PREFIX (--target COLUMN)",
                        params.model_name()
                    ))
                })?;
            trained.check()?;
            let (source, all) = super::rows(&trained, ctx).await?;
            match table::holdout_split(&all, trained.holdout, trained.seed)? {
                (_, Some(test)) => (format!("{source}, the held-out rows"), test),
                (train, None) => (
                    format!("{source}, the training rows (the model held none out)"),
                    train,
                ),
            }
        }
    };
    let scratch = Scratch::of_run(ctx.run_id());
    let labels = rows.labels.clone();
    let rows = Transfer::send(ctx, TransferMode::Store, scratch.key("rows.json"), rows).await?;
    let scored = ctx
        .invoke(
            SCORE,
            &ScoreInput {
                model_key: model_key.clone(),
                rows,
                out: scratch.key("scores.json"),
            },
        )
        .await?;
    let Scores(p) = scored.scores.receive(ctx).await?;
    if p.len() != labels.len() {
        return Err(WorkflowError::InvalidParams(format!(
            "score returned {} probabilities for {} rows",
            p.len(),
            labels.len()
        )));
    }
    let mut csv = String::from("row,label,probability,predicted\n");
    for (i, (&label, &prob)) in labels.iter().zip(&p).enumerate() {
        csv.push_str(&format!(
            "{i},{label},{prob:.6},{}\n",
            u8::from(prob >= 0.5)
        ));
    }
    let out = result_key(ctx.run_id(), "predictions.csv");
    ctx.store().put(&out, csv.into_bytes()).await?;
    Ok(ScoringResult {
        data,
        n: scored.n,
        auc: scored.auc,
        accuracy: scored.accuracy,
        model_key: model_key.to_string(),
        predictions_key: out.to_string(),
    })
}

impl Workflow for StackingInference {
    const NAME: &'static str = "stacking-inference";
    const ABOUT: &'static str =
        "scores a table (or synthetic rows) with a published stacked model.";
    type Params = ScoringParams;
    type Output = ScoringResult;
    const DRIVER: FunctionRef<ScoringParams, ScoringResult> = DRIVER;

    async fn drive(params: ScoringParams, ctx: Ctx) -> Result<ScoringResult> {
        stages(&params, &ctx).await
    }

    fn register(registry: &mut Registry) {
        registry.register(SCORE, score);
    }

    fn resolve(params: &mut ScoringParams) {
        params.data = params.data.take().map(|d| data::clean_prefix(&d));
        params.model = Some(params.model_name());
    }

    fn validate(params: &ScoringParams) -> Result<()> {
        if params.data.as_deref() == Some("") {
            return Err(WorkflowError::InvalidParams(
                "--data must not be empty".into(),
            ));
        }
        data::check_name("model", &params.model_name())
    }

    fn datasets(params: &ScoringParams) -> Vec<String> {
        params.data.iter().cloned().collect()
    }

    fn expected_invocations(_params: &ScoringParams) -> Option<u64> {
        Some(2)
    }

    fn summary(_params: &ScoringParams, r: &ScoringResult) -> String {
        format!(
            "ROC-AUC {:.4}, accuracy {:.4} on {} rows ({}) with {}\npredictions written to {}",
            r.auc, r.accuracy, r.n, r.data, r.model_key, r.predictions_key
        )
    }

    fn bench() -> BenchSpec<ScoringResult> {
        BenchSpec {
            metrics: vec![Metric {
                name: "auc",
                unit: "",
                value: |r| Some(r.auc),
            }],
            ..BenchSpec::basic()
        }
    }
}
