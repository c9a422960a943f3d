//! Sentence embeddings with a BERT encoder in pure Rust: all-MiniLM-L6-v2
//! (sentence-transformers) — its uncased WordPiece tokenizer ([`WordPiece`]) and the
//! encoder with mean pooling and L2 normalisation ([`BertEncoder`]) over faer GEMMs.
//!
//! No IO: the caller reads `vocab.txt` into a string and `model.safetensors` into named
//! `f32` tensors ([`NamedTensors`], or a [`crate::ModelTensors`]).
//!
//! ```no_run
//! # fn load() -> (String, faasml_ml::bert::NamedTensors) { unimplemented!() }
//! use faasml_ml::bert::{BertConfig, BertEncoder, WordPiece};
//!
//! let (vocab_txt, tensors) = load(); // vocab.txt and model.safetensors, read by the caller
//! let tokenizer = WordPiece::from_vocab(&vocab_txt, 256)?;
//! let encoder = BertEncoder::new(BertConfig::minilm_l6(), tokenizer, tensors)?;
//! let e = encoder.embed(&["A man is eating food.", "A man is riding a horse."])?;
//! assert_eq!((e.rows(), e.cols()), (2, 384));
//! # Ok::<(), faasml_ml::MlError>(())
//! ```

mod model;
mod tables;
mod wordpiece;

pub use model::{BertConfig, BertEncoder, NamedTensors};
pub use wordpiece::{MAX_CHARS_PER_WORD, WordPiece};
