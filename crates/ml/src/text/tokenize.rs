//! Tokens as scikit-learn's default `token_pattern` finds them, `(?u)\b\w\w+\b`: the maximal
//! runs of two or more word characters, scanned by hand (no regex).
//!
//! A word character is `_` or a Unicode alphanumeric character ([`char::is_alphanumeric`]:
//! the `Alphabetic` property or a numeric general category). Python's `\w` is `_` or
//! `str.isalnum()` (general categories `L*` and the numeric types); the two agree on letters
//! and digits of every script, and differ only on the few combining marks and symbols that
//! Unicode gives the derived `Alphabetic` property without being letters (`Other_Alphabetic`:
//! some Indic vowel signs, the circled letters `Ⓐ`–`ⓩ`), which count as word characters here
//! and not in Python.

/// Whether `c` is a word character (`_` or alphanumeric), as in `\w`.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        c.is_alphanumeric()
    }
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
        // Emoji and punctuation separate tokens.
        assert_eq!(tokens("good😀day—ok"), ["good", "day", "ok"]);
    }
}
