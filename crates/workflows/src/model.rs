//! The stored form of PCA bases, forests and the published ensemble model (safetensors arrays
//! plus a versioned format tag), and prediction with the ensemble.
//!
//! A published model holds every forest together with the PCA basis its training features came
//! from: `m<i>.pca.*` and `m<i>.forest.*`. Prediction projects the images with each member's own
//! basis and averages the members' class probabilities (soft vote).

use faasml_ml::forest::{ForestParts, RandomForest};
use faasml_ml::pca::PcaModel;
use faasml_ml::{Matrix, MatrixView};
use faasml_store::ArrayFile;

use crate::error::Result;

/// The file name of a published ensemble in its `models/<name>/` prefix.
pub const ENSEMBLE_FILE: &str = "model.safetensors";

/// The key of the published ensemble model called `name` (written by ml-training, read by
/// ml-inference).
pub fn ensemble_key(name: &str) -> faasml_store::Path {
    crate::kit::layout::model_key(name, ENSEMBLE_FILE)
}

/// The format tag of a published model.
pub const MODEL_FORMAT: &str = "faasml.pca-forest-ensemble";
/// The version of the model format this build writes and reads.
pub const MODEL_VERSION: u32 = 1;

/// A forest and the PCA basis its features were projected with.
#[derive(Debug, Clone)]
pub struct Member {
    /// The projection.
    pub pca: PcaModel,
    /// The forest trained on the projected features.
    pub forest: RandomForest,
}

fn name(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

/// Adds a PCA basis to `arrays` under `prefix`.
pub fn write_pca(arrays: &mut ArrayFile, prefix: &str, pca: &PcaModel) -> Result<()> {
    let (k, d) = (pca.n_components(), pca.n_features());
    arrays.insert_f32(&name(prefix, "mean"), vec![d], pca.mean().to_vec())?;
    arrays.insert_f32(
        &name(prefix, "components"),
        vec![k, d],
        pca.components().data().to_vec(),
    )?;
    arrays.insert_f32(
        &name(prefix, "explained_variance"),
        vec![k],
        pca.explained_variance().to_vec(),
    )?;
    arrays.insert_f32(
        &name(prefix, "explained_variance_ratio"),
        vec![k],
        pca.explained_variance_ratio().to_vec(),
    )?;
    Ok(())
}

/// Reads the PCA basis stored under `prefix`; the error says what is missing or wrong.
pub fn read_pca(arrays: &ArrayFile, prefix: &str) -> std::result::Result<PcaModel, String> {
    let (_, mean) = arrays.f32(&name(prefix, "mean"))?;
    let (shape, components) = arrays.f32(&name(prefix, "components"))?;
    let (_, variance) = arrays.f32(&name(prefix, "explained_variance"))?;
    let (_, ratio) = arrays.f32(&name(prefix, "explained_variance_ratio"))?;
    let [k, d] = shape else {
        return Err(format!("PCA components have shape {shape:?}, expected 2-D"));
    };
    let components = Matrix::new(*k, *d, components.to_vec()).map_err(|e| e.to_string())?;
    PcaModel::from_parts_with_ratio(mean.to_vec(), components, variance.to_vec(), ratio.to_vec())
        .map_err(|e| e.to_string())
}

/// Adds a forest to `arrays` under `prefix`.
pub fn write_forest(arrays: &mut ArrayFile, prefix: &str, forest: &RandomForest) -> Result<()> {
    let parts = forest.to_parts();
    let n = parts.feature.len();
    arrays.insert_u32(
        &name(prefix, "shape"),
        vec![2],
        vec![parts.n_features, parts.n_classes],
    )?;
    arrays.insert_u32(
        &name(prefix, "tree_offsets"),
        vec![parts.tree_offsets.len()],
        parts.tree_offsets,
    )?;
    arrays.insert_u32(&name(prefix, "feature"), vec![n], parts.feature)?;
    arrays.insert_f32(&name(prefix, "threshold"), vec![n], parts.threshold)?;
    arrays.insert_u32(&name(prefix, "left"), vec![n], parts.left)?;
    arrays.insert_u32(&name(prefix, "right"), vec![n], parts.right)?;
    let classes = parts.n_classes as usize;
    arrays.insert_f32(&name(prefix, "values"), vec![n, classes], parts.values)?;
    Ok(())
}

/// Reads the forest stored under `prefix`; the error says what is missing or wrong.
pub fn read_forest(arrays: &ArrayFile, prefix: &str) -> std::result::Result<RandomForest, String> {
    let (_, shape) = arrays.u32(&name(prefix, "shape"))?;
    let [n_features, n_classes] = shape else {
        return Err(format!(
            "forest shape has {} entries, expected 2",
            shape.len()
        ));
    };
    let parts = ForestParts {
        n_features: *n_features,
        n_classes: *n_classes,
        tree_offsets: arrays.u32(&name(prefix, "tree_offsets"))?.1.to_vec(),
        feature: arrays.u32(&name(prefix, "feature"))?.1.to_vec(),
        threshold: arrays.f32(&name(prefix, "threshold"))?.1.to_vec(),
        left: arrays.u32(&name(prefix, "left"))?.1.to_vec(),
        right: arrays.u32(&name(prefix, "right"))?.1.to_vec(),
        values: arrays.f32(&name(prefix, "values"))?.1.to_vec(),
    };
    RandomForest::from_parts(parts).map_err(|e| e.to_string())
}

/// Adds a member (basis + forest) to `arrays` under `prefix`.
pub fn write_member(arrays: &mut ArrayFile, prefix: &str, member: &Member) -> Result<()> {
    write_pca(arrays, &name(prefix, "pca"), &member.pca)?;
    write_forest(arrays, &name(prefix, "forest"), &member.forest)
}

/// Reads the member stored under `prefix`, checking that basis and forest fit together.
pub fn read_member(arrays: &ArrayFile, prefix: &str) -> std::result::Result<Member, String> {
    let pca = read_pca(arrays, &name(prefix, "pca"))?;
    let forest = read_forest(arrays, &name(prefix, "forest"))?;
    if forest.n_features() != pca.n_components() {
        return Err(format!(
            "member '{prefix}': forest expects {} features but its PCA gives {}",
            forest.n_features(),
            pca.n_components()
        ));
    }
    Ok(Member { pca, forest })
}

/// The published model: forests with their PCA bases, voting together.
#[derive(Debug, Clone)]
pub struct EnsembleModel {
    /// The members.
    pub members: Vec<Member>,
    /// Number of classes.
    pub n_classes: usize,
    /// Pixels per image the model expects.
    pub n_pixels: usize,
    /// The dataset family the model was trained on, as its metadata records it.
    pub dataset: Option<String>,
}

impl EnsembleModel {
    /// An ensemble of `members`; they must agree on classes and input size.
    pub fn new(members: Vec<Member>) -> std::result::Result<Self, String> {
        let first = members
            .first()
            .ok_or("an ensemble needs at least one member")?;
        let n_classes = first.forest.n_classes();
        let n_pixels = first.pca.n_features();
        for (i, m) in members.iter().enumerate() {
            if m.forest.n_classes() != n_classes || m.pca.n_features() != n_pixels {
                return Err(format!(
                    "member {i} has {} classes and {} inputs, member 0 has {n_classes} and {n_pixels}",
                    m.forest.n_classes(),
                    m.pca.n_features()
                ));
            }
        }
        Ok(Self {
            members,
            n_classes,
            n_pixels,
            dataset: None,
        })
    }

    /// The model as arrays with its format tag and `metadata`.
    pub fn to_arrays(&self, metadata: &[(&str, String)]) -> Result<ArrayFile> {
        let mut arrays = ArrayFile::new();
        arrays.set_meta("format", MODEL_FORMAT);
        arrays.set_meta("version", MODEL_VERSION.to_string());
        arrays.set_meta("members", self.members.len().to_string());
        for (k, v) in metadata {
            arrays.set_meta(*k, v.clone());
        }
        for (i, member) in self.members.iter().enumerate() {
            write_member(&mut arrays, &format!("m{i}"), member)?;
        }
        Ok(arrays)
    }

    /// Reads a published model, checking its format tag and version.
    pub fn from_arrays(arrays: &ArrayFile) -> std::result::Result<Self, String> {
        match arrays.meta("format") {
            Some(MODEL_FORMAT) => {}
            other => {
                return Err(format!(
                    "format tag is {other:?}, expected \"{MODEL_FORMAT}\" (is this a faasml model?)"
                ));
            }
        }
        let version = arrays.meta("version").unwrap_or("?");
        if version != MODEL_VERSION.to_string() {
            return Err(format!(
                "model format version {version}; this build reads version {MODEL_VERSION}"
            ));
        }
        let count: usize = arrays
            .meta("members")
            .and_then(|m| m.parse().ok())
            .ok_or("metadata 'members' is missing or not a number")?;
        let members = (0..count)
            .map(|i| read_member(arrays, &format!("m{i}")))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut model = Self::new(members)?;
        model.dataset = arrays
            .meta("dataset")
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        Ok(model)
    }

    /// Averaged class probabilities of the members for `n` images of raw pixels (row-major).
    pub fn predict_proba_pixels(&self, pixels: &[u8], n: usize) -> Result<Matrix> {
        let data = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
        let x = Matrix::new(n, self.n_pixels, data)?;
        self.predict_proba(x.view())
    }

    /// Averaged class probabilities for scaled pixel rows.
    pub fn predict_proba(&self, x: MatrixView<'_>) -> Result<Matrix> {
        let member_probs = self.member_probas(x)?;
        let mut sum = vec![0.0f32; x.rows() * self.n_classes];
        for probs in &member_probs {
            sum.iter_mut().zip(probs.data()).for_each(|(s, p)| *s += p);
        }
        let scale = 1.0 / self.members.len() as f32;
        sum.iter_mut().for_each(|s| *s *= scale);
        Ok(Matrix::new(x.rows(), self.n_classes, sum)?)
    }

    /// Class probabilities of each member for scaled pixel rows.
    ///
    /// Members trained on the same PCA shard share a basis; each distinct basis projects the
    /// rows once (in ml-training "2 8", 2 projections instead of 8).
    pub fn member_probas(&self, x: MatrixView<'_>) -> Result<Vec<Matrix>> {
        use rayon::prelude::*;
        let mut bases: Vec<&PcaModel> = Vec::new();
        let basis_of: Vec<usize> = self
            .members
            .iter()
            .map(|m| match bases.iter().position(|b| same_basis(b, &m.pca)) {
                Some(i) => i,
                None => {
                    bases.push(&m.pca);
                    bases.len() - 1
                }
            })
            .collect();
        let projected = bases
            .par_iter()
            .map(|b| b.transform(x))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.members
            .par_iter()
            .zip(basis_of)
            .map(|(m, b)| Ok(m.forest.predict_proba(projected[b].view())?))
            .collect()
    }
}

fn same_basis(a: &PcaModel, b: &PcaModel) -> bool {
    a.mean() == b.mean() && a.components().data() == b.components().data()
}

/// The most probable class of each row (ties go to the lower class).
pub fn argmax_rows(probs: &Matrix) -> Vec<u8> {
    (0..probs.rows())
        .map(|r| {
            let row = probs.row(r);
            let mut best = 0;
            for (c, &p) in row.iter().enumerate() {
                if p > row[best] {
                    best = c;
                }
            }
            best as u8
        })
        .collect()
}
