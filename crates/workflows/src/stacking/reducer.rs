//! The `reducer` stage: stacks the trainers' out-of-fold scores into the n x N meta-feature
//! matrix the meta-model trains on (column i is trainer i's), and their held-out scores into
//! the held-out meta-features, each with its labels.

use faasml_core::Ctx;
use serde::{Deserialize, Serialize};

use super::table::LabelledRows;
use super::trainer::Scores;
use crate::error::{Result, WorkflowError};
use crate::kit::layout::Scratch;
use crate::kit::transfer::{Transfer, TransferMode};
use crate::kit::{limits, wire};

/// The labels of the training rows and of the held-out rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    /// Labels of the training rows.
    #[serde(with = "wire::bytes")]
    pub train: Vec<u8>,
    /// Labels of the held-out rows (empty when none are held out).
    #[serde(with = "wire::bytes")]
    pub test: Vec<u8>,
}

/// Input of `reducer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReducerInput {
    /// Each trainer's out-of-fold scores, in trainer order.
    pub oof: Vec<Transfer<Scores>>,
    /// Each trainer's held-out scores (all `Some` or all `None`).
    pub holdout: Vec<Option<Transfer<Scores>>>,
    /// The labels.
    pub labels: Transfer<Labels>,
    /// How to hand the meta-features on.
    pub transfer: TransferMode,
}

/// The meta-features: one column per trainer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaFeatures {
    /// Out-of-fold scores of the training rows, with their labels.
    pub train: LabelledRows,
    /// Held-out scores, with their labels.
    pub test: Option<LabelledRows>,
}

/// Output of `reducer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReducerOutput {
    /// The meta-features.
    pub meta: Transfer<MetaFeatures>,
    /// Rows x columns of the training meta-features.
    pub shape: (usize, usize),
}

/// Stacks `columns` (each one score per row) beside each other, row-major.
fn stack(columns: &[Vec<f64>], labels: Vec<u8>, what: &str) -> Result<LabelledRows> {
    let rows = labels.len();
    if let Some((i, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != rows) {
        return Err(WorkflowError::InvalidParams(format!(
            "trainer {i} sent {} {what} scores for {rows} rows",
            c.len()
        )));
    }
    Ok(LabelledRows {
        rows,
        cols: columns.len(),
        features: super::table::interleave(columns, rows),
        labels,
    })
}

pub(super) async fn run(input: ReducerInput, ctx: Ctx) -> Result<ReducerOutput> {
    limits::at_most("trainers", input.oof.len(), limits::WORKERS)?;
    if input.oof.is_empty() || input.holdout.len() != input.oof.len() {
        return Err(WorkflowError::InvalidParams(format!(
            "the reducer needs the scores of at least one trainer, held-out ones for each or \
             for none: got {} out-of-fold and {} held-out",
            input.oof.len(),
            input.holdout.len()
        )));
    }
    let labels = input.labels.receive(&ctx).await?;
    let oof = futures::future::try_join_all(input.oof.into_iter().map(|t| t.receive(&ctx)))
        .await?
        .into_iter()
        .map(|s| s.0)
        .collect::<Vec<_>>();
    let holdout = match input.holdout.iter().all(Option::is_some) {
        true => Some(
            futures::future::try_join_all(
                input.holdout.into_iter().flatten().map(|t| t.receive(&ctx)),
            )
            .await?
            .into_iter()
            .map(|s| s.0)
            .collect::<Vec<_>>(),
        ),
        false if input.holdout.iter().all(Option::is_none) => None,
        false => {
            return Err(WorkflowError::InvalidParams(
                "some trainers sent held-out scores and some did not".into(),
            ));
        }
    };
    let train = stack(&oof, labels.train, "out-of-fold")?;
    let test = match holdout {
        Some(columns) => Some(stack(&columns, labels.test, "held-out")?),
        None => None,
    };
    let shape = (train.rows, train.cols);
    let key = Scratch::of_run(ctx.run_id()).key("reducer/meta.json");
    let meta = Transfer::send(&ctx, input.transfer, key, MetaFeatures { train, test }).await?;
    Ok(ReducerOutput { meta, shape })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_stack_row_major_and_lengths_are_checked() {
        let rows = stack(&[vec![1.0, 2.0], vec![3.0, 4.0]], vec![0, 1], "x").unwrap();
        assert_eq!((rows.rows, rows.cols), (2, 2));
        assert_eq!(rows.features, vec![1.0, 3.0, 2.0, 4.0]);
        let err = stack(&[vec![1.0], vec![3.0, 4.0]], vec![0, 1], "x").unwrap_err();
        assert!(
            err.to_string()
                .contains("trainer 0 sent 1 x scores for 2 rows")
        );
    }
}
