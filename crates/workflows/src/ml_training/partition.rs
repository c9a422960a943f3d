//! The `partition` stage: list the images under the data prefix and deal them into shards.

use faasml_core::Ctx;
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use crate::data::images;
use crate::error::{Result, WorkflowError};
use crate::kit::limits;

/// Input of `partition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionInput {
    /// The data prefix.
    pub data: String,
    /// Number of shards (PCA functions).
    pub n_pca: usize,
    /// Number of forests the shards will feed, to check there are enough images.
    pub n_rf: usize,
    /// PCA components, to check each shard can support them.
    pub components: usize,
    /// Prefix to write the shard files under.
    #[serde(with = "faasml_store::serde_path")]
    pub out: Path,
}

/// Output of `partition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionOutput {
    /// One key per shard; each object lists the image sources of that shard.
    #[serde(with = "faasml_store::serde_path::vec")]
    pub shards: Vec<Path>,
    /// Images in each shard.
    pub sizes: Vec<usize>,
    /// Images in all.
    pub total: usize,
}

pub(super) async fn run(input: PartitionInput, ctx: Ctx) -> Result<PartitionOutput> {
    limits::at_most("n_pca", input.n_pca, limits::PCA_FUNCTIONS)?;
    limits::at_most("n_rf", input.n_rf, limits::FORESTS)?;
    limits::at_most("components", input.components, limits::COMPONENTS)?;
    let store = ctx.store();
    let sources = images::list(store, &input.data).await?;
    let total = images::count(&sources);
    // Each PCA shard needs more images than components, each forest at least two images.
    let per_shard = total / input.n_pca.max(1);
    if per_shard <= input.components || total < 2 * input.n_rf {
        return Err(WorkflowError::TooSmall {
            prefix: input.data,
            reason: format!(
                "{total} images cannot feed {} PCA functions of {} components and {} forests",
                input.n_pca, input.components, input.n_rf
            ),
        });
    }
    let shards = images::deal(&sources, input.n_pca);
    let mut keys = Vec::with_capacity(shards.len());
    let mut sizes = Vec::with_capacity(shards.len());
    for (i, shard) in shards.iter().enumerate() {
        let key = input.out.clone().join(format!("shard-{i}.json"));
        store.put_json(&key, shard).await?;
        keys.push(key);
        sizes.push(images::count(shard));
    }
    Ok(PartitionOutput {
        shards: keys,
        sizes,
        total,
    })
}
