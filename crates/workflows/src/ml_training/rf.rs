//! The `rf` stage: train a random forest on one slice of PCA features, and store it together
//! with the PCA basis its features came from.

use faasml_core::Ctx;
use faasml_ml::MatrixView;
use faasml_ml::forest::RandomForest;
use faasml_store::{ArrayFile, Path};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};
use crate::model::{self, Member};

/// Input of `rf`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfInput {
    /// Key of the slice (features and labels).
    #[serde(with = "faasml_store::serde_path")]
    pub slice: Path,
    /// Key of the PCA basis the features were projected with.
    #[serde(with = "faasml_store::serde_path")]
    pub basis: Path,
    /// Number of classes of the whole dataset.
    pub n_classes: usize,
    /// Trees in the forest.
    pub trees: usize,
    /// Maximum depth.
    pub depth: usize,
    /// Minimum samples to split a node.
    pub min_samples_split: usize,
    /// Seed of the forest.
    pub seed: u64,
    /// Key to write the forest to.
    #[serde(with = "faasml_store::serde_path")]
    pub out: Path,
}

/// Output of `rf`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfOutput {
    /// Key of the forest (with its basis).
    #[serde(with = "faasml_store::serde_path")]
    pub forest: Path,
    /// Rows it was trained on.
    pub rows: usize,
}

pub(super) async fn run(input: RfInput, ctx: Ctx) -> Result<RfOutput> {
    let store = ctx.store();
    let (slice_key, basis_key) = (&input.slice, &input.basis);
    let (slice, basis) =
        futures::try_join!(store.get_arrays(slice_key), store.get_arrays(basis_key))?;
    let pca = model::read_pca(&basis, "pca").map_err(|reason| store.corrupt(basis_key, reason))?;
    let (shape, features) = slice
        .f32("features")
        .map_err(|reason| store.corrupt(slice_key, reason))?;
    let (_, labels) = slice
        .u8("labels")
        .map_err(|reason| store.corrupt(slice_key, reason))?;
    let (rows, cols) = match shape {
        [rows, cols] => (*rows, *cols),
        other => {
            return Err(store
                .corrupt(
                    slice_key,
                    format!("features have shape {other:?}, expected 2-D"),
                )
                .into());
        }
    };
    let features = features.to_vec();
    let labels = labels.to_vec();
    let params = RandomForest::params()
        .n_trees(input.trees)
        .max_depth(input.depth)
        .min_samples_split(input.min_samples_split)
        .seed(input.seed)
        .check()?;
    let n_classes = input.n_classes;
    let forest = ctx
        .compute(move || {
            let x = MatrixView::new(rows, cols, &features)?;
            params.fit(x, &labels, n_classes)
        })
        .await
        .map_err(WorkflowError::Compute)??;
    let mut arrays = ArrayFile::new();
    for (k, v) in basis.metadata() {
        arrays.set_meta(k.clone(), v.clone());
    }
    model::write_member(&mut arrays, "", &Member { pca, forest })?;
    store.put_arrays(&input.out, &arrays).await?;
    Ok(RfOutput {
        forest: input.out,
        rows,
    })
}
