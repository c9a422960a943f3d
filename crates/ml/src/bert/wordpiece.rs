//! BERT's uncased WordPiece tokenizer ([`WordPiece`]), as Hugging Face's `BertTokenizer` and
//! the `tokenizer.json` of all-MiniLM-L6-v2 define it.
//!
//! 1. The literal special tokens `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` in the input are
//!    kept whole (HF's added tokens, matched before normalization).
//! 2. Normalization, one character at a time: NUL, U+FFFD and control characters are dropped,
//!    whitespace becomes a space, CJK ideographs are surrounded by spaces, accents are stripped
//!    (NFD, then nonspacing marks dropped; Hangul syllables stay decomposed into jamo) and
//!    letters are lowercased. The character classes come from [`super::tables`], which
//!    `gen_tables.py` probes from the `tokenizers` library itself, so no Unicode crate is
//!    needed and the classes are exactly the reference's (including its Unicode version).
//! 3. Pre-tokenization: split on whitespace; every punctuation character is a word of its own.
//! 4. WordPiece: greedy longest-match-first against the vocabulary, continuations prefixed
//!    `##`; a word longer than 100 characters, or one with a piece not in the vocabulary, is
//!    `[UNK]`.
//! 5. `[CLS] ... [SEP]`, truncated to at most `max_len` ids in all.

use std::collections::HashMap;

use super::tables::{CJK, MAPPED, PUNCT, REMOVED, SPACE};
use crate::{MlError, Result};

/// Words longer than this many characters become `[UNK]` (HF's `max_input_chars_per_word`).
pub const MAX_CHARS_PER_WORD: usize = 100;

/// The special tokens that are matched literally in the input.
const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// BERT's uncased WordPiece tokenizer over a `vocab.txt` vocabulary.
#[derive(Clone)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    /// Ids of [`SPECIALS`], in that order.
    special_ids: [u32; 5],
    /// Lines in `vocab.txt`: every id is below this.
    lines: usize,
    max_len: usize,
}

impl std::fmt::Debug for WordPiece {
    /// The sizes, not the 30 thousand tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordPiece")
            .field("vocab_size", &self.lines)
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}

fn in_ranges(table: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    // The last range starting at or before `c`.
    let i = table.partition_point(|&(start, _)| start <= c);
    i > 0 && c <= table[i - 1].1
}

/// Appends the normalized form of `c` to `out`.
fn normalize_char(c: char, out: &mut String) {
    if in_ranges(REMOVED, c) {
        return;
    }
    if in_ranges(SPACE, c) {
        out.push(' ');
        return;
    }
    if in_ranges(CJK, c) {
        out.push(' ');
        out.push(c);
        out.push(' ');
        return;
    }
    if let Ok(i) = MAPPED.binary_search_by_key(&(c as u32), |&(k, _)| k) {
        out.push_str(MAPPED[i].1);
        return;
    }
    let s = (c as u32).wrapping_sub(0xAC00);
    if s < 11172 {
        // A Hangul syllable: its canonical decomposition into leading consonant, vowel and
        // (optional) trailing consonant jamo.
        let jamo = [0x1100 + s / 588, 0x1161 + (s % 588) / 28, 0x11A7 + s % 28];
        let n = if s.is_multiple_of(28) { 2 } else { 3 };
        out.extend(jamo[..n].iter().filter_map(|&j| char::from_u32(j)));
        return;
    }
    out.extend(c.to_lowercase());
}

impl WordPiece {
    /// The tokenizer over the text of a `vocab.txt` (one token a line, id = line number),
    /// producing at most `max_len` ids per text (`[CLS]` and `[SEP]` included; 256 for
    /// all-MiniLM-L6-v2, its `max_seq_length`).
    ///
    /// [`MlError::CorruptModel`] if a special token is missing from the vocabulary, the
    /// vocabulary has more than `u32::MAX` entries, or `max_len < 2`.
    pub fn from_vocab(vocab_txt: &str, max_len: usize) -> Result<Self> {
        if max_len < 2 {
            return Err(MlError::InvalidParameter {
                name: "max_len",
                reason: format!("{max_len} leaves no room for [CLS] and [SEP]"),
            });
        }
        let mut vocab = HashMap::new();
        let mut lines = 0;
        for (i, line) in vocab_txt.lines().enumerate() {
            lines = i + 1;
            let id = u32::try_from(i)
                .map_err(|_| MlError::CorruptModel("vocabulary has too many entries".into()))?;
            vocab.insert(line.trim_end_matches(['\r', '\n']).to_string(), id);
        }
        let mut special_ids = [0; 5];
        for (slot, name) in special_ids.iter_mut().zip(SPECIALS) {
            *slot = *vocab
                .get(name)
                .ok_or_else(|| MlError::CorruptModel(format!("vocabulary lacks {name}")))?;
        }
        Ok(Self {
            vocab,
            special_ids,
            lines,
            max_len,
        })
    }

    /// Number of lines in the vocabulary: every id is below it (a repeated line keeps the
    /// id of its last occurrence, as in HF).
    pub fn vocab_size(&self) -> usize {
        self.lines
    }

    /// The most ids [`Self::encode`] returns.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The id of a token, if it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    fn cls(&self) -> u32 {
        self.special_ids[2]
    }

    fn sep(&self) -> u32 {
        self.special_ids[3]
    }

    fn unk(&self) -> u32 {
        self.special_ids[1]
    }

    /// The ids of `text`: `[CLS]`, its WordPiece tokens (truncated), `[SEP]`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let budget = self.max_len - 2;
        let mut ids = vec![self.cls()];
        let mut rest = text;
        let mut normalized = String::new();
        while ids.len() <= budget && !rest.is_empty() {
            // The leftmost special token in `rest`, if any.
            let next = SPECIALS
                .iter()
                .enumerate()
                .filter_map(|(k, s)| rest.find(s).map(|at| (at, k)))
                .min();
            let (plain, special) = match next {
                Some((at, k)) => (&rest[..at], Some(k)),
                None => (rest, None),
            };
            normalized.clear();
            for c in plain.chars() {
                normalize_char(c, &mut normalized);
            }
            self.push_words(&normalized, &mut ids, budget + 1);
            match special {
                Some(k) => {
                    if ids.len() <= budget {
                        ids.push(self.special_ids[k]);
                    }
                    rest = &rest[plain.len() + SPECIALS[k].len()..];
                }
                None => rest = "",
            }
        }
        ids.truncate(budget + 1);
        ids.push(self.sep());
        ids
    }

    /// Pre-tokenizes normalized text and appends each word's pieces, up to `cap` ids.
    fn push_words(&self, text: &str, ids: &mut Vec<u32>, cap: usize) {
        let mut start = None;
        for (i, c) in text.char_indices() {
            if ids.len() >= cap {
                return;
            }
            let punct = in_ranges(PUNCT, c);
            if c.is_whitespace() || punct {
                if let Some(s) = start.take() {
                    self.push_pieces(&text[s..i], ids);
                }
                if punct {
                    self.push_pieces(&text[i..i + c.len_utf8()], ids);
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            self.push_pieces(&text[s..], ids);
        }
    }

    /// Appends the WordPiece ids of one word (`[UNK]` if it cannot be split).
    fn push_pieces(&self, word: &str, ids: &mut Vec<u32>) {
        if word.chars().nth(MAX_CHARS_PER_WORD).is_some() {
            ids.push(self.unk());
            return;
        }
        let first = ids.len();
        let mut piece = String::with_capacity(word.len() + 2);
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while end > start {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(piece.as_str()) {
                    found = Some(id);
                    break;
                }
                // Back off one character.
                end = word[..end]
                    .char_indices()
                    .next_back()
                    .map_or(start, |(i, _)| i);
            }
            match found {
                Some(id) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    ids.truncate(first);
                    ids.push(self.unk());
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> WordPiece {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\nhello\n!\ncafe\n";
        WordPiece::from_vocab(vocab, 8).unwrap()
    }

    #[test]
    fn splits_words_into_pieces_and_marks_unknown() {
        let t = tiny();
        assert_eq!(t.encode("Unaffable!"), vec![2, 5, 6, 7, 9, 3]);
        assert_eq!(t.encode("Café hello xyz"), vec![2, 10, 8, 1, 3]);
        assert_eq!(t.encode(""), vec![2, 3]);
        assert_eq!(t.encode("hello[SEP]hello"), vec![2, 8, 3, 8, 3]);
    }

    #[test]
    fn truncates_to_max_len() {
        let t = tiny();
        let ids = t.encode("hello hello hello hello hello hello hello hello");
        assert_eq!(ids, vec![2, 8, 8, 8, 8, 8, 8, 3]);
    }

    #[test]
    fn normalizes_like_bert() {
        let mut s = String::new();
        for c in "A\u{0}\u{fffd}\tÉ中한".chars() {
            normalize_char(c, &mut s);
        }
        assert_eq!(s, "a e 中 \u{1112}\u{1161}\u{11AB}");
    }

    #[test]
    fn rejects_a_vocabulary_without_specials() {
        assert!(matches!(
            WordPiece::from_vocab("a\nb\n", 8),
            Err(MlError::CorruptModel(_))
        ));
    }
}
