//! The bag-of-words vectoriser against scikit-learn 1.9.1's `CountVectorizer` /
//! `TfidfVectorizer` (known values copied from `data/reference/classic-ml.json` and from the
//! Python one-liners quoted per test), and its stored form against corruption.

use faasml_ml::persist::{ModelTensors, Persist, Tensor};
use faasml_ml::text::{ENGLISH_STOP_WORDS, Vectorizer};
use faasml_ml::{CsrMatrix, MlError};

/// The dense rows of `x`, as `f64`.
fn dense_rows(x: &CsrMatrix) -> Vec<Vec<f64>> {
    let d = x.to_dense();
    d.data()
        .chunks_exact(x.n_cols().max(1))
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect()
}

#[test]
fn count_vectorizer_example() {
    // Known values from data/reference/classic-ml.json, case `count_vectorizer_example`
    // (scikit-learn 1.9.1, CountVectorizer(stop_words='english')).
    let texts = [
        "The movie was not good, it was great!",
        "Bad acting; a dull, dull plot.",
        "I'd watch it again: 10/10",
    ];
    let vocabulary_sorted = [
        "10", "acting", "bad", "dull", "good", "great", "movie", "plot", "watch",
    ];
    let counts: [[f64; 9]; 3] = [
        [0., 0., 0., 0., 1., 1., 1., 0., 0.],
        [0., 1., 1., 2., 0., 0., 0., 1., 0.],
        [2., 0., 0., 0., 0., 0., 0., 0., 1.],
    ];
    assert_eq!(ENGLISH_STOP_WORDS.len(), 318); // n_english_stop_words
    let (v, x) = Vectorizer::params().fit_transform(&texts).unwrap();
    assert_eq!(v.vocabulary(), vocabulary_sorted);
    assert_eq!(v.n_features(), 9);
    assert_eq!((x.n_rows(), x.n_cols(), x.nnz()), (3, 9, 9));
    assert_eq!(dense_rows(&x), counts.map(|r| r.to_vec()));
    assert_eq!(v.column_of("dull"), Some(3));
    assert_eq!(v.column_of("the"), None);
    assert_eq!(v.column_of("Dull"), None);
    assert_eq!(v.term_counts(), [2, 1, 1, 2, 1, 1, 1, 1, 1]);
    // Largest corpus counts first, ties by column: "10" and "dull" (2 each), then "acting".
    assert_eq!(v.top_columns(3), [0, 3, 1]);
    assert_eq!(v.top_columns(100).len(), 9);
    // Unknown words are ignored; an empty text is an empty row.
    let y = v.transform(&["", "dull DULL plot zebra", "the and of"]);
    assert_eq!(y.n_rows(), 3);
    assert_eq!(y.row(0).nnz(), 0);
    assert_eq!(y.row(1).indices, [3, 7]);
    assert_eq!(y.row(1).values, [2.0, 1.0]);
    assert_eq!(y.row(2).nnz(), 0);
}

/// Six short texts for the TF-IDF and `max_features` cases.
const ANIMALS: [&str; 6] = [
    "The cat sat on the mat.",
    "The dog ate my homework!",
    "Cats and dogs: cats, dogs, CATS.",
    "A mat, a hat, a bat.",
    "Dogs chase cats; cats chase mice.",
    "Nothing here but the bat bat bat.",
];

#[test]
fn max_features_keeps_the_most_frequent_words() {
    // python3 -c "from sklearn.feature_extraction.text import CountVectorizer as C;
    //   v=C(stop_words='english',max_features=3); X=v.fit_transform(T);
    //   print(v.get_feature_names_out().tolist(), X.toarray().tolist())"   (T = ANIMALS)
    // -> ['bat', 'cats', 'dogs'] [[0,0,0],[0,0,0],[0,3,2],[1,0,0],[0,2,1],[3,0,0]]
    let (v, x) = Vectorizer::params()
        .max_features(Some(3))
        .fit_transform(&ANIMALS)
        .unwrap();
    assert_eq!(v.vocabulary(), ["bat", "cats", "dogs"]);
    let want = [
        [0., 0., 0.],
        [0., 0., 0.],
        [0., 3., 2.],
        [1., 0., 0.],
        [0., 2., 1.],
        [3., 0., 0.],
    ];
    assert_eq!(dense_rows(&x), want.map(|r| r.to_vec()));
    // Without the limit: 12 words, corpus counts as scikit-learn's X.sum(0):
    // ate 1, bat 4, cat 1, cats 5, chase 2, dog 1, dogs 3, hat 1, homework 1, mat 2, mice 1,
    // sat 1.
    let all = Vectorizer::params().fit(&ANIMALS).unwrap();
    assert_eq!(all.n_features(), 12);
    assert_eq!(all.term_counts(), [1, 4, 1, 5, 2, 1, 3, 1, 1, 2, 1, 1]);
    assert_eq!(all.top_columns(3), [3, 1, 6]);
    // A limit that cuts through equal counts keeps them alphabetically here (chase and mat
    // both have 2; scikit-learn's unstable argsort leaves that order unspecified).
    let four = Vectorizer::params()
        .max_features(Some(4))
        .fit(&ANIMALS)
        .unwrap();
    assert_eq!(four.vocabulary(), ["bat", "cats", "chase", "dogs"]);
}

#[test]
fn tfidf_matches_scikit_learn() {
    // python3 -c "from sklearn.feature_extraction.text import TfidfVectorizer as T;
    //   v=T(stop_words='english'); X=v.fit_transform(A); print(v.idf_.tolist());
    //   print(X.toarray().round(8).tolist())"   (A = ANIMALS)
    let (v, x) = Vectorizer::params()
        .tfidf(true)
        .fit_transform(&ANIMALS)
        .unwrap();
    let (hi, lo) = (2.252762968495368, 1.8472978603872037);
    let want_idf = [hi, lo, hi, lo, hi, hi, lo, hi, hi, lo, hi, hi];
    let idf = v.idf().unwrap();
    for (g, w) in idf.iter().zip(want_idf) {
        assert!((f64::from(*g) - w).abs() < 1e-6, "{idf:?}");
    }
    let want: [[f64; 12]; 6] = [
        [
            0.0, 0.0, 0.61171251, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.50161301, 0.0, 0.61171251,
        ],
        [
            0.57735027, 0.0, 0.0, 0.0, 0.0, 0.57735027, 0.0, 0.0, 0.57735027, 0.0, 0.0, 0.0,
        ],
        [
            0.0, 0.0, 0.0, 0.83205029, 0.0, 0.0, 0.5547002, 0.0, 0.0, 0.0, 0.0, 0.0,
        ],
        [
            0.0, 0.5355058, 0.0, 0.0, 0.0, 0.0, 0.0, 0.65304446, 0.0, 0.5355058, 0.0, 0.0,
        ],
        [
            0.0, 0.0, 0.0, 0.56714394, 0.69162689, 0.0, 0.28357197, 0.0, 0.0, 0.0, 0.34581344, 0.0,
        ],
        [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ];
    let got = dense_rows(&x);
    let err = got
        .iter()
        .flatten()
        .zip(want.iter().flatten())
        .map(|(g, w)| (g - w).abs())
        .fold(0f64, f64::max);
    assert!(err < 1e-6, "max abs err {err}: {got:?}");
    // An empty text stays an empty row (not NaN).
    assert_eq!(v.transform(&["nothing known here"]).row(0).nnz(), 0);
}

#[test]
fn unicode_text_tokenises_as_python() {
    // python3 -c "from sklearn.feature_extraction.text import CountVectorizer as C;
    //   print(C().build_analyzer()('Ünïcode naïve café ÉCOLE_42 x ß İstanbul'))"
    // -> ['ünïcode', 'naïve', 'café', 'école_42', 'stanbul']
    let v = Vectorizer::params()
        .fit(&["Ünïcode naïve café ÉCOLE_42 x ß İstanbul"])
        .unwrap();
    assert_eq!(
        v.vocabulary(),
        ["café", "naïve", "stanbul", "école_42", "ünïcode"]
    );
    // Without lowercasing or stop words.
    let v = Vectorizer::params()
        .lowercase(false)
        .stop_words(false)
        .fit(&["The Café the"])
        .unwrap();
    assert_eq!(v.vocabulary(), ["Café", "The", "the"]);
}

#[test]
fn bad_input_is_an_error() {
    assert!(matches!(
        Vectorizer::params().fit(&["the and of", "", "a"]),
        Err(MlError::EmptyInput(_))
    ));
    assert!(matches!(
        Vectorizer::params().fit(&[]),
        Err(MlError::EmptyInput(_))
    ));
    assert!(matches!(
        Vectorizer::params()
            .max_features(Some(0))
            .fit(&["words here"]),
        Err(MlError::InvalidParameter { .. })
    ));
    let p: faasml_ml::text::VectorizerParams =
        serde_json::from_str(r#"{"max_features": 5, "tfidf": true}"#).unwrap();
    assert_eq!(p, Vectorizer::params().max_features(Some(5)).tfidf(true));
}

#[test]
fn stored_vectorizer_round_trips() {
    for tfidf in [false, true] {
        let v = Vectorizer::params()
            .tfidf(tfidf)
            .max_features(Some(10))
            .fit(&ANIMALS)
            .unwrap();
        let t = v.to_tensors();
        assert_eq!(t.kind(), Some("count-vectorizer"));
        let back = Vectorizer::from_tensors(&t).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.transform(&ANIMALS), v.transform(&ANIMALS));
    }
}

#[test]
fn corrupt_stored_vectorizers_are_errors_not_panics() {
    let v = Vectorizer::params()
        .tfidf(true)
        .fit(&["alpha beta gamma", "beta gamma", "gamma"])
        .unwrap();
    let good = v.to_tensors();
    let check = |t: &ModelTensors, what: &str| match Vectorizer::from_tensors(t) {
        Err(MlError::CorruptModel(msg)) => println!("{what}: {msg}"),
        other => panic!("{what}: expected CorruptModel, got {other:?}"),
    };
    let with = |name: &str, tensor: Tensor| {
        let mut t = good.clone();
        t.insert(name, tensor);
        t
    };
    // vocab "alpha" "beta" "gamma": bytes alphabetagamma, offsets 0 5 9 14.
    check(
        &with("vocab_offsets", Tensor::u32_vector(vec![0, 5, 9])),
        "offsets too short",
    );
    check(
        &with("vocab_offsets", Tensor::u32_vector(vec![0, 9, 5, 14])),
        "offsets decrease",
    );
    check(
        &with("vocab_offsets", Tensor::u32_vector(vec![0, 5, 5, 14])),
        "empty word",
    );
    check(
        &with("vocab_offsets", Tensor::u32_vector(vec![0, 5, 9, u32::MAX])),
        "offset past the bytes",
    );
    check(
        &with("vocab_offsets", Tensor::u32_vector(vec![1, 5, 9, 14])),
        "offsets not from 0",
    );
    check(
        &with("vocab_bytes", Tensor::u8_vector(b"gammabetaalpha".to_vec())),
        "words descending",
    );
    check(
        &with("vocab_bytes", Tensor::u8_vector(b"betabetagamma".to_vec()))
            .tap_offsets(vec![0, 4, 8, 13], 3),
        "duplicate word",
    );
    let mut bad_utf8 = b"alphabetagamma".to_vec();
    bad_utf8[6] = 0xff;
    check(
        &with("vocab_bytes", Tensor::u8_vector(bad_utf8)),
        "bad UTF-8",
    );
    // A multi-byte character split by an offset.
    let e = "é".as_bytes();
    check(
        &with("vocab_bytes", Tensor::u8_vector(vec![b'a', e[0], e[1]]))
            .clone()
            .tap_offsets(vec![0, 2, 3], 2),
        "offset inside a character",
    );
    check(
        &with("vocab_bytes", Tensor::u32_vector(vec![1, 2])),
        "bytes of the wrong dtype",
    );
    check(
        &with("term_counts", Tensor::u32_vector(vec![1, 2])),
        "term counts of the wrong length",
    );
    check(
        &with("idf", Tensor::f32_vector(vec![1.0, 2.0])),
        "idf too short",
    );
    check(
        &with("idf", Tensor::f32_vector(vec![1.0, f32::NAN, 1.5])),
        "idf NaN",
    );
    check(
        &with("idf", Tensor::f32_vector(vec![1.0, 0.5, 1.5])),
        "idf below 1",
    );
    let mut t = good.clone();
    t.tensors.remove("idf");
    check(&t, "idf missing");
    let mut t = good.clone();
    t.set_meta("tfidf", "false");
    check(&t, "idf present without tfidf");
    let mut t = good.clone();
    t.set_meta("lowercase", "yes");
    check(&t, "bad bool");
    let mut t = good.clone();
    t.set_meta("max_features", "2");
    check(&t, "more words than max_features");
    let mut t = good.clone();
    t.set_meta("max_features", "0");
    check(&t, "max_features 0");
    let mut t = good.clone();
    t.meta.remove("stop_words");
    check(&t, "missing metadata");
    let mut t = good.clone();
    t.set_meta("kind", "k-means");
    check(&t, "wrong kind");
    let empty = with("vocab_bytes", Tensor::u8_vector(vec![])).tap_offsets(vec![0], 0);
    check(&empty, "empty vocabulary");
    assert_eq!(Vectorizer::from_tensors(&good).unwrap(), v);
}

/// Replaces the offsets and the term counts (with `n` ones) of a stored vectoriser, keeping
/// the idf tensor's length in step, to build corruptions that need all three to agree.
trait TapOffsets {
    fn tap_offsets(self, offsets: Vec<u32>, n: usize) -> Self;
}

impl TapOffsets for ModelTensors {
    fn tap_offsets(mut self, offsets: Vec<u32>, n: usize) -> Self {
        self.insert("vocab_offsets", Tensor::u32_vector(offsets));
        self.insert("term_counts", Tensor::u32_vector(vec![1; n]));
        self.insert("idf", Tensor::f32_vector(vec![1.5; n]));
        self
    }
}
