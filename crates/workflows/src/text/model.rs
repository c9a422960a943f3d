//! The published text model: what turns texts into features (a bag-of-words vectoriser giving
//! sparse rows, or the MiniLM sentence encoder) plus the fitted head,
//! as ONE versioned object, `models/<model>/<algorithm>.safetensors`.
//!
//! Stored tensors: `vectorizer.*` (the vectoriser's own tensors), `encoder.*` (the sentence encoder's weights and vocabulary, for the neural
//! row), `head.*` (the model, any `faasml-ml` kind); metadata says which algorithm, what it was
//! trained on and how well it did. Loading checks that the head reads exactly as many features as
//! the front gives, so a model whose vocabulary does not match its vectoriser is refused at load
//! time, never mispredicted.

use std::sync::Arc;

use faasml_ml::text::Vectorizer;
use faasml_ml::{Algorithm, Model, ModelTensors, Persist, Prediction};
use serde::{Deserialize, Serialize};

use super::algorithms::{self, FeatureKind, Features, TextAlgorithm};
use super::encoder::SentenceEncoder;
use crate::error::{Result, WorkflowError};

/// The `kind` of a stored text model.
pub const KIND: &str = "text-model";

/// What a text model records about its training.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrainingFacts {
    /// The data prefix it was trained on.
    pub dataset: String,
    /// Training rows.
    pub n_train: usize,
    /// Held-out rows.
    pub n_test: usize,
    /// Number of classes of the labels.
    pub n_classes: usize,
    /// Held-out accuracy, for a supervised model.
    pub accuracy: Option<f64>,
    /// Words in the vocabulary (0 for the encoder).
    pub vocabulary: usize,
    /// Features the head reads.
    pub n_features: usize,
    /// Seconds the fit took (features and head).
    pub fit_seconds: f64,
}

/// What turns texts into features.
#[derive(Debug, Clone)]
pub enum Front {
    /// Word counts, sparse rows (a model that reads dense rows densifies them itself).
    Bag {
        /// The vectoriser.
        vectorizer: Arc<Vectorizer>,
    },
    /// Sentence embeddings.
    Encoder(Arc<SentenceEncoder>),
}

impl Front {
    /// The features of `texts`.
    pub fn features(&self, texts: &[&str]) -> Result<Features> {
        match self {
            Front::Bag { vectorizer } => Ok(Features::Sparse(vectorizer.transform(texts))),
            Front::Encoder(encoder) => Ok(Features::Dense(encoder.embed(texts)?)),
        }
    }

    /// Number of features it gives.
    pub fn n_features(&self) -> usize {
        match self {
            Front::Bag { vectorizer } => vectorizer.n_features(),
            Front::Encoder(e) => e.dimension(),
        }
    }
}

/// A text model: front, head, and what it knows about its training.
#[derive(Debug)]
pub struct TextModel {
    /// The algorithm.
    pub algorithm: &'static TextAlgorithm,
    /// Texts to features.
    pub front: Front,
    /// The fitted model.
    pub head: Box<dyn Model>,
    /// Training facts.
    pub facts: TrainingFacts,
}

/// Predictions for a batch: a class (or cluster, or mixture component) per text, or for PCA the
/// components.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TextPrediction {
    /// Class, cluster or component per text (empty for a transform).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<u32>,
    /// Projected values per text, row-major (PCA), `width` per text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<f32>,
    /// Values per text in `values` (0 without).
    #[serde(default)]
    pub width: usize,
}

impl TextModel {
    /// Predicts `texts`.
    pub fn predict(&self, texts: &[&str]) -> Result<TextPrediction> {
        let features = self.front.features(texts)?;
        let prediction = predict_features(self.head.as_ref(), &features)?;
        Ok(to_text_prediction(prediction))
    }

    /// The stored form.
    pub fn to_tensors(&self) -> Result<ModelTensors> {
        let mut t = ModelTensors::new(KIND);
        t.set_meta("algorithm", self.algorithm.name);
        t.set_meta(
            "facts",
            serde_json::to_string(&self.facts)
                .map_err(|e| WorkflowError::InvalidParams(format!("model facts: {e}")))?,
        );
        match &self.front {
            Front::Bag { vectorizer } => t.insert_nested("vectorizer", vectorizer.to_tensors()),
            Front::Encoder(encoder) => {
                let stored = encoder.to_tensors().ok_or_else(|| {
                    WorkflowError::InvalidParams(
                        "this encoder was loaded for inference and cannot be stored again".into(),
                    )
                })?;
                t.insert_nested("encoder", stored);
            }
        }
        t.insert_nested("head", self.head.to_tensors());
        Ok(t)
    }

    /// The model from its stored form, checked: a known algorithm, a front of the kind the
    /// algorithm reads, and a head reading exactly as many features as the front gives.
    pub fn from_tensors(t: &ModelTensors) -> std::result::Result<TextModel, String> {
        t.check_kind(KIND).map_err(|e| e.to_string())?;
        let name = t.meta_str("algorithm").map_err(|e| e.to_string())?;
        let algorithm = algorithms::lookup(name).map_err(|e| e.to_string())?;
        let facts: TrainingFacts =
            serde_json::from_str(t.meta_str("facts").map_err(|e| e.to_string())?)
                .map_err(|e| format!("metadata 'facts': {e}"))?;
        let front = match algorithm.features {
            FeatureKind::Counts | FeatureKind::TopCounts(_) => {
                let vectorizer = Vectorizer::from_tensors(&t.nested("vectorizer"))
                    .map_err(|e| format!("vectorizer: {e}"))?;
                Front::Bag {
                    vectorizer: Arc::new(vectorizer),
                }
            }
            FeatureKind::Embedding => Front::Encoder(Arc::new(
                SentenceEncoder::from_tensors(t.nested("encoder"), false)
                    .map_err(|e| format!("encoder: {e}"))?,
            )),
        };
        let head = Algorithm::load(&t.nested("head")).map_err(|e| format!("head: {e}"))?;
        if head.n_features() != front.n_features() {
            return Err(format!(
                "the {} model reads {} features but its {} gives {}: the vocabulary does not \
                 match the vectoriser",
                head.kind(),
                head.n_features(),
                match front {
                    Front::Bag { .. } => "vectoriser",
                    Front::Encoder(_) => "encoder",
                },
                front.n_features()
            ));
        }
        Ok(TextModel {
            algorithm,
            front,
            head,
            facts,
        })
    }
}

/// `head`'s prediction for `features` (sparse rows go to the model's sparse path).
pub fn predict_features(head: &dyn Model, features: &Features) -> Result<Prediction> {
    Ok(match features {
        Features::Sparse(x) => head.predict_sparse(x)?,
        Features::Dense(x) => head.predict(x.view())?,
    })
}

/// Classes (argmax) for probabilities and one-hot clusters, values for a transform.
pub fn to_text_prediction(prediction: Prediction) -> TextPrediction {
    match prediction {
        Prediction::Transformed(m) => TextPrediction {
            labels: Vec::new(),
            width: m.cols(),
            values: m.into_data(),
        },
        Prediction::Real(v) => TextPrediction {
            labels: Vec::new(),
            width: 1,
            values: v,
        },
        p @ Prediction::Proba(_) => TextPrediction {
            labels: p.classes().unwrap_or_default(),
            values: Vec::new(),
            width: 0,
        },
    }
}
