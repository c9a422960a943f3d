//! The published ensemble model of ml-training, read by ml-inference: every forest together
//! with the PCA basis its training features came from, voting together.
//!
//! Stored through the ML vocabulary's persistence ([`Persist`], mapped to safetensors once in
//! [`crate::kit::persist`]): member `i` is nested under `m<i>.`, its basis under `m<i>.pca.` and
//! its forest under `m<i>.forest.`, with a format tag and version in the metadata. Prediction
//! projects the images with each member's own basis and averages the members' class
//! probabilities (soft vote).

use faasml_ml::forest::RandomForest;
use faasml_ml::pca::PcaModel;
use faasml_ml::{Matrix, MatrixView, ModelTensors, Persist};
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

impl Member {
    /// The member as tensors: the basis under `pca.`, the forest under `forest.`.
    pub fn to_tensors(&self) -> ModelTensors {
        let mut tensors = ModelTensors::default();
        tensors.insert_nested("pca", Persist::to_tensors(&self.pca));
        tensors.insert_nested("forest", Persist::to_tensors(&self.forest));
        tensors
    }

    /// The member stored in `tensors`, checking that basis and forest fit together.
    pub fn from_tensors(tensors: &ModelTensors) -> std::result::Result<Self, String> {
        let pca = PcaModel::from_tensors(&tensors.nested("pca")).map_err(|e| e.to_string())?;
        let forest =
            RandomForest::from_tensors(&tensors.nested("forest")).map_err(|e| e.to_string())?;
        if forest.n_features() != pca.n_components() {
            return Err(format!(
                "forest expects {} features but its PCA gives {}",
                forest.n_features(),
                pca.n_components()
            ));
        }
        Ok(Self { pca, forest })
    }
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

    /// The model as tensors (member `i` under `m<i>.`) with its format tag and `metadata`.
    pub fn to_tensors(&self, metadata: &[(&str, String)]) -> ModelTensors {
        let mut tensors = ModelTensors::default();
        tensors.set_meta("format", MODEL_FORMAT);
        tensors.set_meta("version", MODEL_VERSION.to_string());
        tensors.set_meta("members", self.members.len().to_string());
        for (k, v) in metadata {
            tensors.set_meta(*k, v.clone());
        }
        for (i, member) in self.members.iter().enumerate() {
            tensors.insert_nested(&format!("m{i}"), member.to_tensors());
        }
        tensors
    }

    /// Reads a published model, checking its format tag and version.
    pub fn from_tensors(tensors: &ModelTensors) -> std::result::Result<Self, String> {
        let meta = |key: &str| tensors.meta.get(key).map(String::as_str);
        match meta("format") {
            Some(MODEL_FORMAT) => {}
            other => {
                return Err(format!(
                    "format tag is {other:?}, expected \"{MODEL_FORMAT}\" (is this a faasml model?)"
                ));
            }
        }
        let version = meta("version").unwrap_or("?");
        if version != MODEL_VERSION.to_string() {
            return Err(format!(
                "model format version {version}; this build reads version {MODEL_VERSION}"
            ));
        }
        let count: usize = meta("members")
            .and_then(|m| m.parse().ok())
            .ok_or("metadata 'members' is missing or not a number")?;
        // Members are counted against what the file holds before anything is read, so a forged
        // count cannot make the reader loop or allocate.
        let stored = tensors.nested_prefixes();
        if count == 0 || count > stored.len() {
            return Err(format!(
                "metadata says {count} members, the file holds {}",
                stored.len()
            ));
        }
        let members = (0..count)
            .map(|i| {
                Member::from_tensors(&tensors.nested(&format!("m{i}")))
                    .map_err(|e| format!("member m{i}: {e}"))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut model = Self::new(members)?;
        model.dataset = meta("dataset")
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        Ok(model)
    }

    /// [`Self::to_tensors`] as the store's arrays.
    pub fn to_arrays(&self, metadata: &[(&str, String)]) -> Result<ArrayFile> {
        crate::kit::persist::to_array_file(self.to_tensors(metadata))
    }

    /// [`Self::from_tensors`] from the store's arrays.
    pub fn from_arrays(arrays: &ArrayFile) -> std::result::Result<Self, String> {
        Self::from_tensors(&crate::kit::persist::from_array_file(arrays.clone())?)
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
