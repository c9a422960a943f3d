//! [`VectorizerParams`] and the fitted [`Vectorizer`]: scikit-learn's
//! `CountVectorizer(stop_words='english')`, optionally followed by `TfidfTransformer()`.
//!
//! Fitting lowercases each text, finds its tokens (see [`super::tokenize`]), drops English
//! stop words, and counts every remaining word over the corpus (occurrences and documents).
//! With `max_features` only the words with the largest corpus counts are kept (scikit-learn's
//! `_limit_features`). The vocabulary is then sorted (by code point, as Python sorts strings)
//! and word `i` of it is column `i`.
//!
//! Transforming builds each row straight into CSR: the row's known words are looked up in a
//! hash map, their columns sorted and runs summed into counts, so a row costs its token count
//! (a log factor for the sort), never the vocabulary size. Unknown words are ignored.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::english_stop_words::ENGLISH_STOP_WORDS;
use super::tokenize::{for_each_token, lowercase_into};
use crate::persist::{ModelTensors, Persist, Tensor};
use crate::{CsrMatrix, MlError, Result};

/// Vectoriser settings (serde fields default to [`Vectorizer::params`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct VectorizerParams {
    /// Keep only the words with the largest corpus counts (at least 1); `None` keeps all.
    pub max_features: Option<usize>,
    /// Weight counts by TF-IDF and L2-normalise each row (scikit-learn's `TfidfTransformer`
    /// defaults); otherwise the values are raw counts.
    pub tfidf: bool,
    /// Drop scikit-learn's English stop words ([`super::ENGLISH_STOP_WORDS`]).
    pub stop_words: bool,
    /// Lowercase texts before tokenising.
    pub lowercase: bool,
}

impl Default for VectorizerParams {
    fn default() -> Self {
        Self {
            max_features: None,
            tfidf: false,
            stop_words: true,
            lowercase: true,
        }
    }
}

/// A fitted vectoriser: a sorted vocabulary, its per-word corpus counts and (for TF-IDF) its
/// inverse document frequencies.
#[derive(Debug, Clone, PartialEq)]
pub struct Vectorizer {
    params: VectorizerParams,
    /// Sorted ascending, unique, non-empty; word `i` is column `i`.
    vocabulary: Vec<String>,
    /// Word to column.
    /// Word to column. foldhash (per-process random seed) instead of SipHash: a lookup per
    /// token is the vectoriser's hot path, and the keys are the trained vocabulary.
    index: HashMap<String, u32, foldhash::fast::RandomState>,
    /// Occurrences of each word in the fitting corpus (saturating at `u32::MAX`).
    term_counts: Vec<u32>,
    /// `ln((1 + n) / (1 + df)) + 1` per word, when `params.tfidf`.
    idf: Option<Vec<f32>>,
}

/// Whether `word` is one of the English stop words (binary search of the sorted list).
fn is_stop_word(word: &str) -> bool {
    ENGLISH_STOP_WORDS.binary_search(&word).is_ok()
}

/// Corpus statistics of one word while fitting.
struct WordStats {
    term_count: u64,
    doc_count: u64,
    /// The last document that counted towards `doc_count`, plus one (0: none yet).
    last_doc: usize,
}

impl WordStats {
    /// The statistics of a word first seen in document `doc`.
    fn first(doc: usize) -> Self {
        Self {
            term_count: 1,
            doc_count: 1,
            last_doc: doc + 1,
        }
    }

    /// Counts one more occurrence, in document `doc`.
    fn count(&mut self, doc: usize) {
        self.term_count += 1;
        if self.last_doc != doc + 1 {
            self.last_doc = doc + 1;
            self.doc_count += 1;
        }
    }
}

impl VectorizerParams {
    /// Keep at most `v` words (>= 1).
    pub fn max_features(mut self, v: Option<usize>) -> Self {
        self.max_features = v;
        self
    }
    /// TF-IDF weighting with L2-normalised rows.
    pub fn tfidf(mut self, v: bool) -> Self {
        self.tfidf = v;
        self
    }
    /// Drop English stop words.
    pub fn stop_words(mut self, v: bool) -> Self {
        self.stop_words = v;
        self
    }
    /// Lowercase texts first.
    pub fn lowercase(mut self, v: bool) -> Self {
        self.lowercase = v;
        self
    }

    /// Calls `f` with every token of `text` (lowercased into `buf` if asked), stop words
    /// left out if asked and `drop_stop_words`.
    fn tokens<'b>(
        &self,
        text: &'b str,
        buf: &'b mut String,
        drop_stop_words: bool,
        mut f: impl FnMut(&'b str),
    ) {
        let source: &'b str = if self.lowercase {
            lowercase_into(text, buf);
            buf
        } else {
            text
        };
        let stop = self.stop_words && drop_stop_words;
        for_each_token(source, |t| {
            if !(stop && is_stop_word(t)) {
                f(t);
            }
        });
    }

    /// Learns the vocabulary (and document frequencies) of `texts`.
    ///
    /// `max_features` of 0 is [`MlError::InvalidParameter`]; a corpus with no words left
    /// (empty, or only stop words) is [`MlError::EmptyInput`], as scikit-learn's "empty
    /// vocabulary" error.
    pub fn fit(&self, texts: &[&str]) -> Result<Vectorizer> {
        if self.max_features == Some(0) {
            return Err(MlError::InvalidParameter {
                name: "max_features",
                reason: "must be at least 1 (or none)".into(),
            });
        }
        let mut stats: HashMap<String, WordStats> = HashMap::new();
        let mut buf = String::new();
        for (doc, text) in texts.iter().enumerate() {
            self.tokens(text, &mut buf, true, |t| {
                // Look up by `&str` first so that a known word allocates nothing.
                if let Some(s) = stats.get_mut(t) {
                    s.count(doc);
                } else {
                    stats.insert(t.to_string(), WordStats::first(doc));
                }
            });
        }
        if stats.is_empty() {
            return Err(MlError::EmptyInput(
                "empty vocabulary: the texts contain no words (or only stop words)".into(),
            ));
        }
        let mut words: Vec<(String, WordStats)> = stats.into_iter().collect();
        if let Some(limit) = self.max_features.filter(|&m| m < words.len()) {
            // scikit-learn keeps `(-tfs).argsort()[:limit]` over the alphabetical vocabulary;
            // numpy's default argsort is not stable, so its order among equal counts is
            // unspecified. Here equal counts go alphabetically.
            words.sort_unstable_by(|a, b| b.1.term_count.cmp(&a.1.term_count).then(a.0.cmp(&b.0)));
            words.truncate(limit);
        }
        words.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let n_docs = texts.len() as f64;
        let idf = self.tfidf.then(|| {
            words
                .iter()
                .map(|(_, s)| (((1.0 + n_docs) / (1.0 + s.doc_count as f64)).ln() + 1.0) as f32)
                .collect()
        });
        let term_counts = words
            .iter()
            .map(|(_, s)| u32::try_from(s.term_count).unwrap_or(u32::MAX))
            .collect();
        let vocabulary: Vec<String> = words.into_iter().map(|(w, _)| w).collect();
        Vectorizer::from_parts(self.clone(), vocabulary, term_counts, idf)
    }

    /// [`Self::fit`] then [`Vectorizer::transform`] of the same texts.
    pub fn fit_transform(&self, texts: &[&str]) -> Result<(Vectorizer, CsrMatrix)> {
        let v = self.fit(texts)?;
        let x = v.transform(texts);
        Ok((v, x))
    }
}

impl Vectorizer {
    /// Default settings: all words, raw counts, English stop words dropped, lowercased
    /// (scikit-learn's `CountVectorizer(stop_words='english')`).
    pub fn params() -> VectorizerParams {
        VectorizerParams::default()
    }

    /// A vectoriser over a sorted vocabulary; the vocabulary's concatenated bytes and its
    /// length must fit `u32` offsets and indices (checked, [`MlError::InvalidParameter`]).
    fn from_parts(
        params: VectorizerParams,
        vocabulary: Vec<String>,
        term_counts: Vec<u32>,
        idf: Option<Vec<f32>>,
    ) -> Result<Self> {
        let bytes: usize = vocabulary.iter().map(String::len).sum();
        if u32::try_from(bytes).is_err() || u32::try_from(vocabulary.len()).is_err() {
            return Err(MlError::InvalidParameter {
                name: "texts",
                reason: format!(
                    "a vocabulary of {} words and {bytes} bytes exceeds u32 offsets",
                    vocabulary.len()
                ),
            });
        }
        let index = vocabulary
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Ok(Self {
            params,
            vocabulary,
            index,
            term_counts,
            idf,
        })
    }

    /// The settings it was fitted with.
    pub fn settings(&self) -> &VectorizerParams {
        &self.params
    }

    /// The vocabulary, sorted; word `i` is column `i`.
    pub fn vocabulary(&self) -> &[String] {
        &self.vocabulary
    }

    /// Number of columns (the vocabulary size).
    pub fn n_features(&self) -> usize {
        self.vocabulary.len()
    }

    /// The column of `word` (as stored: lowercased if the vectoriser lowercases), if known.
    pub fn column_of(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    /// Occurrences of each word in the fitting corpus, by column (saturating at `u32::MAX`).
    pub fn term_counts(&self) -> &[u32] {
        &self.term_counts
    }

    /// The inverse document frequencies by column, when fitted for TF-IDF.
    pub fn idf(&self) -> Option<&[f32]> {
        self.idf.as_deref()
    }

    /// The `k` columns (all if fewer) with the largest corpus counts at fit time, largest
    /// first; equal counts in column (alphabetical) order.
    pub fn top_columns(&self, k: usize) -> Vec<u32> {
        let mut cols: Vec<u32> = (0..self.term_counts.len() as u32).collect();
        cols.sort_by(|&a, &b| {
            self.term_counts[b as usize]
                .cmp(&self.term_counts[a as usize])
                .then(a.cmp(&b))
        });
        cols.truncate(k);
        cols
    }

    /// One row per text: the counts of the known words (`f32`), or their TF-IDF weights with
    /// each row L2-normalised. A text without known words is an empty row.
    pub fn transform(&self, texts: &[&str]) -> CsrMatrix {
        let mut indptr = Vec::with_capacity(texts.len() + 1);
        indptr.push(0);
        let mut indices: Vec<u32> = Vec::new();
        let mut values: Vec<f32> = Vec::new();
        let mut buf = String::new();
        let mut cols: Vec<u32> = Vec::new();
        for text in texts {
            cols.clear();
            // No stop word is in the vocabulary, so the lookup alone leaves them out.
            self.params.tokens(text, &mut buf, false, |t| {
                if let Some(&j) = self.index.get(t) {
                    cols.push(j);
                }
            });
            cols.sort_unstable();
            let row_start = indices.len();
            let mut run = 0usize;
            while run < cols.len() {
                let j = cols[run];
                let mut end = run + 1;
                while end < cols.len() && cols[end] == j {
                    end += 1;
                }
                indices.push(j);
                values.push((end - run) as f32);
                run = end;
            }
            if let Some(idf) = &self.idf {
                let row = &mut values[row_start..];
                let mut norm2 = 0f64;
                for (v, &j) in row.iter_mut().zip(&indices[row_start..]) {
                    let w = f64::from(*v) * f64::from(idf[j as usize]);
                    *v = w as f32;
                    norm2 += w * w;
                }
                if norm2 > 0.0 {
                    let inv = 1.0 / norm2.sqrt();
                    for v in row {
                        *v = (f64::from(*v) * inv) as f32;
                    }
                }
            }
            indptr.push(indices.len());
        }
        CsrMatrix::from_valid_parts(self.vocabulary.len(), indptr, indices, values)
    }
}

fn corrupt<T>(msg: String) -> Result<T> {
    Err(MlError::CorruptModel(msg))
}

fn meta_bool(t: &ModelTensors, key: &str) -> Result<bool> {
    match t.meta_str(key)? {
        "true" => Ok(true),
        "false" => Ok(false),
        other => corrupt(format!(
            "metadata `{key}` is `{other}`, expected true or false"
        )),
    }
}

/// Stored as `vocab_bytes` (`u8`, the words' UTF-8 concatenated in column order),
/// `vocab_offsets` (`u32`, `n + 1` byte offsets: word `i` is `bytes[offsets[i]..offsets[i+1]]`),
/// `term_counts` (`u32`, `n`), `idf` (`f32`, `n`, only with TF-IDF), and metadata
/// `max_features` (a number or `none`), `tfidf`, `stop_words`, `lowercase` (`true`/`false`).
impl Persist for Vectorizer {
    const KIND: &'static str = "count-vectorizer";

    fn to_tensors(&self) -> ModelTensors {
        let mut t = ModelTensors::new(Self::KIND);
        let mut bytes = Vec::with_capacity(self.vocabulary.iter().map(String::len).sum());
        let mut offsets = Vec::with_capacity(self.vocabulary.len() + 1);
        offsets.push(0u32);
        for w in &self.vocabulary {
            bytes.extend_from_slice(w.as_bytes());
            // Fits: `from_parts` checked the total against u32.
            offsets.push(bytes.len() as u32);
        }
        t.insert("vocab_bytes", Tensor::u8_vector(bytes));
        t.insert("vocab_offsets", Tensor::u32_vector(offsets));
        t.insert("term_counts", Tensor::u32_vector(self.term_counts.clone()));
        if let Some(idf) = &self.idf {
            t.insert("idf", Tensor::f32_vector(idf.clone()));
        }
        let p = &self.params;
        t.set_meta(
            "max_features",
            p.max_features.map_or("none".to_string(), |m| m.to_string()),
        );
        t.set_meta("tfidf", p.tfidf.to_string());
        t.set_meta("stop_words", p.stop_words.to_string());
        t.set_meta("lowercase", p.lowercase.to_string());
        t
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        let max_features = match t.meta_str("max_features")? {
            "none" => None,
            s => match s.parse::<usize>() {
                Ok(m) if m >= 1 => Some(m),
                _ => return corrupt(format!("metadata `max_features` is `{s}`")),
            },
        };
        let params = VectorizerParams {
            max_features,
            tfidf: meta_bool(t, "tfidf")?,
            stop_words: meta_bool(t, "stop_words")?,
            lowercase: meta_bool(t, "lowercase")?,
        };
        let (shape, bytes) = t.u8_tensor("vocab_bytes")?;
        if shape.len() != 1 {
            return corrupt(format!(
                "tensor `vocab_bytes` has shape {shape:?}, expected 1 dimension"
            ));
        }
        let offsets = t.u32_vec("vocab_offsets")?;
        let term_counts = t.u32_vec("term_counts")?;
        let n = term_counts.len();
        if offsets.len() != n + 1 {
            return corrupt(format!(
                "`vocab_offsets` has {} entries for {n} words, expected {}",
                offsets.len(),
                n + 1
            ));
        }
        if n == 0 {
            return corrupt("empty vocabulary".into());
        }
        if let Some(m) = max_features
            && n > m
        {
            return corrupt(format!("{n} words exceed max_features {m}"));
        }
        if offsets[0] != 0 || offsets[n] as usize != bytes.len() {
            return corrupt(format!(
                "`vocab_offsets` runs from {} to {}, expected 0 to {} (the bytes)",
                offsets[0],
                offsets[n],
                bytes.len()
            ));
        }
        // Every pair is checked before its slice is taken, so nothing indexes past the bytes.
        let mut vocabulary: Vec<String> = Vec::with_capacity(n);
        for (i, w) in offsets.windows(2).enumerate() {
            let (a, b) = (w[0] as usize, w[1] as usize);
            if b <= a || b > bytes.len() {
                return corrupt(format!(
                    "word {i} spans bytes {a}..{b} of {}: offsets must strictly increase",
                    bytes.len()
                ));
            }
            let word = match std::str::from_utf8(&bytes[a..b]) {
                Ok(s) => s,
                Err(e) => return corrupt(format!("word {i} is not UTF-8: {e}")),
            };
            if let Some(prev) = vocabulary.last()
                && prev.as_str() >= word
            {
                return corrupt(format!(
                    "vocabulary not strictly ascending at word {i} (`{prev}` then `{word}`)"
                ));
            }
            vocabulary.push(word.to_string());
        }
        let idf = match (params.tfidf, t.tensors.contains_key("idf")) {
            (false, false) => None,
            (false, true) => return corrupt("an `idf` tensor but tfidf is false".into()),
            (true, _) => {
                let idf = t.f32_vec("idf")?;
                if idf.len() != n {
                    return corrupt(format!("`idf` has {} entries for {n} words", idf.len()));
                }
                if let Some(i) = idf.iter().position(|v| !(v.is_finite() && *v >= 1.0)) {
                    return corrupt(format!(
                        "idf of word {i} is {}, expected finite and at least 1",
                        idf[i]
                    ));
                }
                Some(idf.to_vec())
            }
        };
        Vectorizer::from_parts(params, vocabulary, term_counts.to_vec(), idf)
            .map_err(|e| MlError::CorruptModel(e.to_string()))
    }
}
