//! Tokens as scikit-learn's default `token_pattern` finds them, `(?u)\b\w\w+\b`: the maximal
//! runs of two or more word characters, scanned by hand (no regex).
//!
//! A word character is what Python's `\w` matches: `_` or `str.isalnum()` (general
//! categories `L*` and the numeric types). Rust's [`char::is_alphanumeric`] (the derived
//! `Alphabetic` property or a numeric category) also holds for the combining marks and
//! symbols Unicode makes `Other_Alphabetic` (Arabic harakat, Indic vowel signs, the circled
//! letters `Ⓐ`–`ⓩ`); those are taken out by a generated table of 234 ranges, after which the
//! two agree on every code point assigned in Unicode 14.0 (Python 3.11's tables). Code points
//! assigned later follow Rust's newer tables, where Python 3.11 sees unassigned characters.

use super::alphabetic_non_word::ALPHABETIC_NON_WORD;

/// Whether `c` is a word character (`_` or alphanumeric), as in `\w`.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        c.is_alphanumeric() && !is_alphabetic_non_word(c)
    }
}

/// Whether `c` is in [`ALPHABETIC_NON_WORD`] (binary search of the ranges).
fn is_alphabetic_non_word(c: char) -> bool {
    let u = c as u32;
    let i = ALPHABETIC_NON_WORD.partition_point(|&(_, hi)| hi < u);
    ALPHABETIC_NON_WORD.get(i).is_some_and(|&(lo, _)| lo <= u)
}

/// Calls `f` with every token of `text` in order: each maximal run of word characters that is
/// at least two characters long.
#[inline]
pub fn for_each_token<'a>(text: &'a str, mut f: impl FnMut(&'a str)) {
    // Start byte of the current run and its length in characters so far.
    let mut start = 0usize;
    let mut chars = 0usize;
    for (i, c) in text.char_indices() {
        if is_word_char(c) {
            if chars == 0 {
                start = i;
            }
            chars += 1;
        } else {
            if chars >= 2 {
                f(&text[start..i]);
            }
            chars = 0;
        }
    }
    if chars >= 2 {
        f(&text[start..]);
    }
}

/// `text` lowercased into `buf` (cleared first), with Rust's full Unicode lowercase mapping
/// ([`char::to_lowercase`], Python's `str.lower` mapping, final sigma included via
/// [`str::to_lowercase`]); ASCII text takes a byte-wise fast path.
pub fn lowercase_into(text: &str, buf: &mut String) {
    buf.clear();
    if text.is_ascii() {
        buf.push_str(text);
        buf.make_ascii_lowercase();
    } else {
        buf.push_str(&text.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        let mut buf = String::new();
        lowercase_into(text, &mut buf);
        let mut out = Vec::new();
        for_each_token(&buf, |t| out.push(t.to_string()));
        out
    }

    #[test]
    fn tokens_follow_the_default_token_pattern() {
        assert_eq!(
            tokens("The movie wasn't good, it was great! 10/10 a_b _ x"),
            [
                "the", "movie", "wasn", "good", "it", "was", "great", "10", "10", "a_b"
            ]
        );
        assert_eq!(tokens(""), Vec::<String>::new());
        assert_eq!(tokens("a b c !!"), Vec::<String>::new());
        assert_eq!(tokens("ab"), ["ab"]);
        assert_eq!(tokens("€ab€"), ["ab"]);
    }

    #[test]
    fn unicode_tokens_as_python() {
        // scikit-learn 1.9.1: CountVectorizer().build_analyzer()(
        //   'Ünïcode naïve café ÉCOLE_42 x ß İstanbul')
        // == ['ünïcode', 'naïve', 'café', 'école_42', 'stanbul']
        // ('İ' lowercases to 'i' + U+0307 COMBINING DOT ABOVE, not a word character, so a
        // one-letter 'i' is dropped; 'ß' alone is one character).
        assert_eq!(
            tokens("Ünïcode naïve café ÉCOLE_42 x ß İstanbul"),
            ["ünïcode", "naïve", "café", "école_42", "stanbul"]
        );
        // Final sigma, as Python's str.lower: 'ΟΔΟΣ' -> 'οδος'.
        assert_eq!(tokens("ΟΔΟΣ"), ["οδος"]);
        // Python splits at marks that are Alphabetic in Unicode but not `\w`:
        // re.findall(r'(?u)\b\w\w+\b', s.lower()) for each of these strings gives
        assert_eq!(tokens("नमस्ते दुनिया"), ["नमस"]);
        assert_eq!(tokens("مَرْحَبًا بالعالم"), ["بالعالم"]);
        assert_eq!(tokens("Ⓐⓑⓒ abc"), ["abc"]);
        assert_eq!(tokens("ǅungla"), ["ǆungla"]);
        // Emoji and punctuation separate tokens.
        assert_eq!(tokens("good😀day—ok"), ["good", "day", "ok"]);
    }

    #[test]
    fn non_word_table_is_ascending_and_disjoint() {
        assert!(ALPHABETIC_NON_WORD.iter().all(|&(lo, hi)| lo <= hi));
        assert!(ALPHABETIC_NON_WORD.windows(2).all(|w| w[0].1 < w[1].0));
        // Its ends and a point outside it.
        assert!(!is_word_char('\u{345}'));
        assert!(!is_word_char('\u{24E9}'));
        assert!(is_word_char('\u{24EA}')); // ⓪ CIRCLED DIGIT ZERO, numeric in both
        assert!(is_word_char('\u{344}') || !'\u{344}'.is_alphanumeric());
    }
}
