//! Bag-of-words features from text: [`Vectorizer`], scikit-learn 1.9.1's
//! `CountVectorizer(stop_words='english')` with TF-IDF (`TfidfTransformer()`) as an option,
//! producing a [`crate::CsrMatrix`].
//!
//! - Tokens: the text lowercased ([`str::to_lowercase`], Python's `str.lower` mapping), then
//!   scikit-learn's default token pattern `(?u)\b\w\w+\b` — every maximal run of two or more
//!   word characters (`_` or alphanumeric, as Python's `\w`) — found by a hand-written scan.
//! - Stop words: scikit-learn's [`ENGLISH_STOP_WORDS`] (318 words), dropped after
//!   tokenising.
//! - Vocabulary: every remaining word of the fitting texts, or the `max_features` with the
//!   largest corpus counts (ties alphabetically; scikit-learn leaves their order unspecified),
//!   sorted; word `i` is column `i`.
//! - Values: counts, or with `tfidf` the counts times `idf = ln((1 + n) / (1 + df)) + 1`
//!   (smoothed, `n` fitting texts, `df` texts containing the word), each row scaled to unit
//!   L2 norm (an empty row stays empty).
//!
//! ```
//! use faasml_ml::text::Vectorizer;
//!
//! let texts = ["The movie was not good, it was great!", "Bad acting; a dull, dull plot."];
//! let (v, x) = Vectorizer::params().fit_transform(&texts)?;
//! assert_eq!(v.vocabulary(), ["acting", "bad", "dull", "good", "great", "movie", "plot"]);
//! let dull = v.column_of("dull").unwrap();
//! assert_eq!(x.row(1).indices, [0, 1, dull, 6]);
//! assert_eq!(x.row(1).values, [1.0, 1.0, 2.0, 1.0]);
//! # Ok::<(), faasml_ml::MlError>(())
//! ```
//!
//! Where Unicode makes Rust and Python disagree on a word character, see [`tokenize`]'s notes.

mod alphabetic_non_word;
mod english_stop_words;
pub mod tokenize;
mod vectorizer;

pub use english_stop_words::ENGLISH_STOP_WORDS;
pub use vectorizer::{Vectorizer, VectorizerParams};
