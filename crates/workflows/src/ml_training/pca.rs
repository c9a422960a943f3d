//! The `pca` stage: fit a PCA on one shard of images, project them, and write one slice of the
//! projected rows per forest this shard feeds.

use faasml_core::Ctx;
use faasml_datasets::ImageSet;
use faasml_ml::pca::{Pca, PcaModel};
use faasml_ml::{ModelTensors, Persist};
use faasml_store::{ArrayFile, Path};
use serde::{Deserialize, Serialize};

use crate::data::images::{self, ImageSource, pixels_matrix};
use crate::error::{Result, WorkflowError};
use crate::kit::limits;
use crate::kit::persist;

/// Input of `pca`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaInput {
    /// Key of the shard file written by `partition`.
    #[serde(with = "faasml_store::serde_path")]
    pub shard: Path,
    /// PCA components.
    pub components: usize,
    /// Number of slices to write (forests fed by this shard).
    pub slices: usize,
    /// Prefix for the basis and the slices.
    #[serde(with = "faasml_store::serde_path")]
    pub out: Path,
}

/// Output of `pca`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaOutput {
    /// Key of the fitted basis (mean, components, explained variance).
    #[serde(with = "faasml_store::serde_path")]
    pub basis: Path,
    /// Keys of the slices: projected features and labels.
    #[serde(with = "faasml_store::serde_path::vec")]
    pub slices: Vec<Path>,
    /// Images in the shard.
    pub rows: usize,
    /// Number of classes seen (largest label + 1).
    pub n_classes: usize,
    /// Fraction of the shard's variance the components keep.
    pub variance_kept: f64,
}

struct Fitted {
    basis: ModelTensors,
    slices: Vec<ArrayFile>,
    n_classes: usize,
    variance_kept: f64,
}

fn fit(set: ImageSet, components: usize, n_slices: usize) -> Result<Fitted> {
    let x = pixels_matrix(&set)?;
    let pca: PcaModel = Pca::params()
        .n_components(components)
        .check()?
        .fit(x.view())?;
    let projected = pca.transform(x.view())?;
    let mut basis = ModelTensors::default();
    basis.insert_nested("pca", pca.to_tensors());
    basis.set_meta("image_rows", set.rows.to_string());
    basis.set_meta("image_cols", set.cols.to_string());
    // Rows are dealt round-robin so every slice sees the shard's class mix.
    let k = projected.cols();
    let mut slices = Vec::with_capacity(n_slices);
    for s in 0..n_slices {
        let rows: Vec<usize> = (s..set.len()).step_by(n_slices).collect();
        let mut features = Vec::with_capacity(rows.len() * k);
        let mut labels = Vec::with_capacity(rows.len());
        for &r in &rows {
            features.extend_from_slice(projected.row(r));
            labels.push(set.labels[r]);
        }
        let mut slice = ArrayFile::new();
        slice.insert_f32("features", vec![rows.len(), k], features)?;
        slice.insert_u8("labels", vec![rows.len()], labels)?;
        slices.push(slice);
    }
    let variance_kept = pca
        .explained_variance_ratio()
        .iter()
        .map(|&v| f64::from(v))
        .sum();
    Ok(Fitted {
        basis,
        slices,
        n_classes: set.n_classes(),
        variance_kept,
    })
}

pub(super) async fn run(input: PcaInput, ctx: Ctx) -> Result<PcaOutput> {
    limits::at_most("components", input.components, limits::COMPONENTS)?;
    limits::at_most("slices", input.slices, limits::FORESTS)?;
    let store = ctx.store();
    let sources: Vec<ImageSource> = store.get_json(&input.shard).await?;
    let set = images::load(store, &sources).await?;
    let rows = set.len();
    if input.slices == 0 || rows < 2 * input.slices {
        return Err(WorkflowError::TooSmall {
            prefix: input.shard.to_string(),
            reason: format!("{rows} images cannot be split into {} slices", input.slices),
        });
    }
    let (components, n_slices) = (input.components, input.slices);
    let fitted = ctx
        .compute(move || fit(set, components, n_slices))
        .await
        .map_err(WorkflowError::Compute)??;
    let basis = input.out.clone().join("basis.safetensors");
    persist::put(store, &basis, fitted.basis).await?;
    let mut slices = Vec::with_capacity(fitted.slices.len());
    for (s, arrays) in fitted.slices.iter().enumerate() {
        let key = input.out.clone().join(format!("slice-{s}.safetensors"));
        store.put_arrays(&key, arrays).await?;
        slices.push(key);
    }
    Ok(PcaOutput {
        basis,
        slices,
        rows,
        n_classes: fitted.n_classes,
        variance_kept: fitted.variance_kept,
    })
}
