//! The `rf` stage: train a random forest on one slice of PCA features, and store it together
//! with the PCA basis its features came from.

use faasml_core::Ctx;
use faasml_ml::forest::RandomForest;
use faasml_ml::pca::PcaModel;
use faasml_ml::{Dataset, Fit, Matrix, Persist};
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};
use crate::kit::{limits, persist};
use crate::model::Member;

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
    limits::at_most("trees", input.trees, limits::TREES)?;
    limits::at_most("depth", input.depth, limits::DEPTH)?;
    let store = ctx.store();
    let (slice_key, basis_key) = (&input.slice, &input.basis);
    let (slice, basis) = futures::try_join!(
        async { Ok::<_, WorkflowError>(store.get_arrays(slice_key).await?) },
        persist::get(store, basis_key)
    )?;
    let pca = PcaModel::from_tensors(&basis.nested("pca"))
        .map_err(|e| persist::corrupt(store, basis_key, e.to_string()))?;
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
    let data = Dataset::from_u8_labels(
        Matrix::new(rows, cols, features.to_vec())?,
        labels,
        input.n_classes,
    )?;
    let params = RandomForest::params()
        .n_trees(input.trees)
        .max_depth(input.depth)
        .min_samples_split(input.min_samples_split)
        .seed(input.seed)
        .check()?;
    let forest = ctx
        .compute(move || Fit::fit(&params, &data))
        .await
        .map_err(WorkflowError::Compute)??;
    // The member keeps the basis's metadata (the image size it projects).
    let mut member = Member { pca, forest }.to_tensors();
    for (k, v) in basis.meta.iter().filter(|(k, _)| !k.contains('.')) {
        member.set_meta(k.clone(), v.clone());
    }
    persist::put(store, &input.out, member).await?;
    Ok(RfOutput {
        forest: input.out,
        rows,
    })
}
